/*
 * postconf - the Postfix settings relaysync prescribes, and the live ones.
 *
 * relaysync's routes are contained: a route is used only for mail its
 * owner submitted, authenticated, on the service where users log in
 * (submission/inet unless the administrator names another), and its login
 * and TLS policy exist only inside relaysync's own transports:
 *
 *	<service> smtpd_sender_login_maps = TYPE:map_dir/sender_login, (live)
 *	<service> smtpd_sender_restrictions =
 *	    reject_known_sender_login_mismatch,
 *	    check_sender_access,TYPE:map_dir/sender_access, (live)
 *	relaysync_smtp/unix   smtp client, STARTTLS, with -o for its SASL
 *	    password table (looked up by sender), TLS policy table and
 *	    default TLS level (postfix.tls_level) and CA file
 *	relaysync_smtps/unix  the same with smtp_tls_wrappermode=yes
 *
 * reject_known_sender_login_mismatch rejects (553 5.7.1) another user, or
 * an unauthenticated client, that uses an address sender_login knows;
 * check_sender_access then answers FILTER relaysync_smtp:[host]:port for
 * the owner's message, which sends that whole message through the gateway.
 * Nothing is set in main.cf, so mail arriving on port 25, from mynetworks
 * or from local sendmail never meets relaysync's tables.
 *
 * Functions
 *	postconf_prescribe(c, service, set, err) builds the settings above,
 *	each restriction list built from its live value (the service's -o
 *	override, else main.cf) without losing what the administrator had;
 *	service is "name/type" (NULL: submission/inet). postconf_print(set,
 *	config_dir, fp) writes them as postconf commands with notes;
 *	postconf_check(set, c, fp) writes one line per prescribed
 *	setting that the live configuration lacks or holds differently, with
 *	the command that fixes it, and returns how many there were.
 *	postconf_set_free() releases a set.
 *	postconf_own_hops(c, hops, n, err) lists the host names of
 *	the relay's own next hops (relayhost, relay_transport,
 *	default_transport, and the values of transport_maps tables that
 *	postmap can list), lower case, for policy's internal_gateway check.
 *	postconf_free_hops() releases them.
 *	postconf_has_map_type(c, type) is 1 when postconf -m lists the lookup
 *	table type, 0 when it does not or postconf cannot run.
 *
 * Diagnostics
 *	postconf and postmap are run by absolute path (config_postfix_cmd()).
 *	A postconf that cannot run or read config_dir fails with RS_EX_CONFIG
 *	and names postfix.config_dir.
 */
#ifndef RS_POSTCONF_H
#define RS_POSTCONF_H

#include <stdio.h>

#include "config.h"
#include "util.h"

enum rs_pf_kind { RS_PF_SERVICE, RS_PF_MASTER };

struct rs_pf_setting {
	enum rs_pf_kind kind;
	char *name;		/* "smtpd_sender_restrictions", "relaysync_smtp/unix" */
	char *value;
};

struct rs_pf_set {
	char *service;		/* "submission/inet" */
	int service_defined;	/* master.cf has it */
	struct rs_pf_setting s[4];
	size_t n;
};

int postconf_prescribe(const struct rs_config *c, const char *service,
    struct rs_pf_set *set, struct rs_err *err);
void postconf_print(const struct rs_pf_set *set, const char *config_dir,
    FILE *fp);
int postconf_check(const struct rs_pf_set *set, const struct rs_config *c,
    FILE *fp);
void postconf_set_free(struct rs_pf_set *set);
int postconf_own_hops(const struct rs_config *c, char ***hops, size_t *n,
    struct rs_err *err);
void postconf_free_hops(char **hops, size_t n);
int postconf_has_map_type(const struct rs_config *c, const char *type);

#endif
