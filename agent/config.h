/*
 * config - load and validate relaysync.yaml and its mapping profile.
 *
 * Functions
 *	config_load() reads the YAML configuration file, applies the defaults
 *	of the key tables in config.c (relaysync.yaml(5) states them; a unit
 *	test keeps the two equal), checks every value, then loads the mapping
 *	profile the configuration names (a relative path is taken relative
 *	to the configuration file). config_free() releases both.
 *	mapping_load() reads a mapping profile alone (used by config_load()
 *	and by the tests).
 *	config_print() writes the effective settings (no secrets: the bind
 *	password is only named by its file).
 *	config_map_path() gives "type:map_dir/table" as Postfix wants it.
 *	config_postfix_cmd() gives the absolute path of a Postfix program
 *	(postmap, postfix): in postfix.command_directory when set, else in
 *	the command_directory that "postconf -c <config_dir> -h
 *	command_directory" names (asked once per process; /usr/sbin/postconf
 *	or /usr/local/sbin/postconf, /usr/sbin when neither answers). Once
 *	asked for a config_dir, it may be called from several threads.
 *	config_line() is the line of a key ("ldap.base_dn") in the
 *	configuration file, mapping_line() in the mapping profile (0: the
 *	key was not given, its default applies).
 *	config_source() lists the values of the settings that decide what
 *	is read from the directory (ldap.uri, ldap.base_dn, the profile's
 *	uuid_attribute, filters, attributes, layout and login attributes):
 *	first every such string in the order of the tables in config.c,
 *	then each such list as its key followed by its items. It stores at
 *	most max pointers (into c) in parts and returns how many there are.
 *	config_key() describes the i-th key of relaysync.yaml (profile 0;
 *	each is printed by config_print()) or of a mapping profile
 *	(profile 1), in file order, into *key: -1 past the last one.
 *
 *	The tables in config.c are the only list of keys: loading, the
 *	defaults, config_free(), config_print(), config_source() and
 *	config_key() are all derived from them.
 *
 * Diagnostics
 *	Every error names the file, the line and the key, says what is wrong
 *	and how to fix it, and carries exit code RS_EX_CONFIG (78): unknown
 *	keys, wrong types, values out of range, missing required keys,
 *	contradictory TLS settings.
 */
#ifndef RS_CONFIG_H
#define RS_CONFIG_H

#include <stdio.h>

#include "util.h"

enum rs_field {
	RS_F_ADDRESS,
	RS_F_HOST,
	RS_F_PORT,
	RS_F_SECURITY,
	RS_F_USERNAME,
	RS_F_PASSWORD,
	RS_F_VERIFIED,
	RS_F_COUNT
};

extern const char *const rs_field_names[RS_F_COUNT];

struct rs_mapping {
	char *path;
	char *name;
	char *uuid_attr;	/* the entry's sync UUID (RFC 4533) */
	char *policy_filter;
	char *policy_allow_attr;
	char *user_filter;
	char *user_mail_attr;
	char *user_disabled_filter;
	char **login_attrs;	/* the owner's login names (SASL) */
	size_t n_login_attrs;	/* follows login_attrs (Y_NAMES) */
	char *sendas_layout;	/* "child" or "attribute" */
	char *sendas_filter;
	char *attr[RS_F_COUNT];
	struct strmap lines;	/* "sendas.attributes.host" -> its line */
};

struct rs_config {
	char *path;
	struct {
		char *uri;
		int starttls;
		int allow_plaintext;
		char *bind_dn;
		char *bind_password_file;
		char *sasl_mech;
		char *base_dn;
		char *ca_file;
		long timeout;
		long page_size;
	} ldap;
	char *mapping_path;
	struct {
		int default_allow;
		char **internal_domains;
		size_t n_internal_domains;
		int require_verified;
		int allow_insecure;
		int allow_private_gateways;
		int require_gateway_check;
		long max_removals;
	} policy;
	struct {
		char *map_dir;
		char *map_type;
		char *config_dir;
		char *command_directory;	/* "": postconf's */
		char *tls_level;
		char *tls_ca_file;
		int reload;
	} postfix;
	struct {
		char *key_file;
	} secrets;
	char *state_dir;
	long full_every;
	char *metrics_file;
	struct {
		char *webhook_url;
	} notify;
	struct {
		long window_ms;
		long max_backoff;
	} watch;
	struct rs_mapping mapping;
	struct strmap lines;	/* "ldap.base_dn" -> its line in path */
};

struct rs_config_key {
	char name[64];		/* "ldap.uri", "sendas.attributes.host" */
	char type;		/* 's' string, 'b' true/false, 'n' number, */
				/* 'l' list of strings */
	int required;		/* must be given */
	int source;		/* decides what is read: config_source() */
	long min;		/* 'n': the bounds */
	long max;
	char def[96];		/* the default as YAML writes it ("" when */
				/* empty or when the key is required) */
};

int config_load(const char *file, struct rs_config *c, struct rs_err *err);
void config_free(struct rs_config *c);
int mapping_load(const char *file, struct rs_mapping *m, struct rs_err *err);
void mapping_free(struct rs_mapping *m);
void config_print(const struct rs_config *c, FILE *fp);
unsigned long config_line(const struct rs_config *c, const char *key);
unsigned long mapping_line(const struct rs_mapping *m, const char *key);
const char *config_map_path(const struct rs_config *c, const char *table,
    struct buf *b);
const char *config_postfix_cmd(const struct rs_config *c, const char *name,
    struct buf *b);
size_t config_source(const struct rs_config *c, const char **parts,
    size_t max);
int config_key(int profile, size_t i, struct rs_config_key *key);

#endif
