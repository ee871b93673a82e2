/*
 * config - load and validate relaysync.yaml and its mapping profile.
 * See config.h for the contract.
 *
 * One table per YAML mapping is the only description of the keys: each
 * entry gives a key's type, where it is stored, its limits, its default,
 * whether it decides what is read from the directory (F_SOURCE: it goes
 * into config_source(), so a snapshot taken under another value is not
 * used) and how config_print() shows it. Loading, defaults, freeing,
 * printing, config_source() and config_key() all walk these tables; no
 * other list of keys exists. The line of every key seen is remembered so
 * that checks made after loading (which need several keys at once) can
 * still name a line.
 */
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

const char *const rs_field_names[RS_F_COUNT] = {
	"address", "host", "port", "security", "username", "password",
	"verified"
};

/* Y_NAMES: one string, or a list of them; Y_STRLIST: a list. */
enum ytype { Y_STR, Y_BOOL, Y_LONG, Y_STRLIST, Y_NAMES, Y_MAP };

enum yshow {			/* how config_print() shows a value */
	SHOW_VALUE,		/* as it is */
	SHOW_URL,		/* credentials and query redacted */
	SHOW_OR_POSTCONF,	/* "(from postconf)" when empty */
	SHOW_PROFILE		/* the path, then "(profile name)" */
};

#define F_REQUIRED	1	/* the key must be given */
#define F_SOURCE	2	/* decides what is read: config_source() */

struct yfield {
	const char *key;	/* C member path; users see the last part */
	enum ytype type;
	size_t off;		/* of the value (lists: of the array) */
	size_t n_off;		/* lists: of the size_t count */
	const struct yfield *sub;	/* Y_MAP: the keys inside */
	unsigned flags;
	long min;		/* Y_LONG: the bounds */
	long max;
	const char *def;	/* Y_STR: NULL or a copy of this; lists: */
				/* empty or a list of this one name */
	long ldef;		/* Y_BOOL, Y_LONG */
	enum yshow show;	/* relaysync.yaml only: the profile's keys */
				/* are not printed */
};

struct yctx {
	const char *file;
	yaml_document_t doc;
	struct strmap lines;	/* "ldap.uri" -> line number */
	struct rs_err *err;
};

/* offsetof(s, f), refusing to compile unless member f has type t. */
#define OFF(s, f, t)	(offsetof(s, f) + 0 * sizeof(struct { \
	_Static_assert(_Generic(((s *)0)->f, t: 1, default: 0), \
	    #s "." #f " is not of type " #t " as its table entry says"); \
	char c; }))

#define STR(s, f, d, ...) { .key = #f, .type = Y_STR, \
	.off = OFF(s, f, char *), .def = d, __VA_ARGS__ }
#define BOOL(s, f, d)	{ .key = #f, .type = Y_BOOL, \
	.off = OFF(s, f, int), .ldef = d }
#define LONG(s, f, d, lo, hi) { .key = #f, .type = Y_LONG, \
	.off = OFF(s, f, long), .ldef = d, .min = lo, .max = hi }
#define LIST(s, f, n, ty, d, ...) { .key = #f, .type = ty, \
	.off = OFF(s, f, char **), .n_off = OFF(s, n, size_t), .def = d, \
	__VA_ARGS__ }
#define MAP(k, t, ...)	{ .key = k, .type = Y_MAP, .sub = t, __VA_ARGS__ }
#define END		{ .key = NULL }

/* load_map() notes in a fixed array which keys of a mapping it saw. */
#define MAX_KEYS	32
#define FITS(t)	_Static_assert(sizeof(t) / sizeof(t[0]) - 1 <= MAX_KEYS, \
	#t " has more keys than load_map() can track; raise MAX_KEYS")

typedef struct rs_config C;
typedef struct rs_mapping M;

#define CA_BUNDLE	"/etc/ssl/certs/ca-certificates.crt"

static const struct yfield ldap_fields[] = {
	STR(C, ldap.uri, NULL, .flags = F_REQUIRED | F_SOURCE),
	BOOL(C, ldap.starttls, 0), BOOL(C, ldap.allow_plaintext, 0),
	STR(C, ldap.bind_dn, ""), STR(C, ldap.bind_password_file, ""),
	STR(C, ldap.sasl_mech, ""),
	STR(C, ldap.base_dn, NULL, .flags = F_REQUIRED | F_SOURCE),
	STR(C, ldap.ca_file, CA_BUNDLE),
	LONG(C, ldap.timeout, 10, 1, 3600),
	LONG(C, ldap.page_size, 500, 1, 100000),
	END
};

static const struct yfield policy_fields[] = {
	BOOL(C, policy.default_allow, 0),
	LIST(C, policy.internal_domains, policy.n_internal_domains, Y_STRLIST,
	    NULL),
	BOOL(C, policy.require_verified, 1), BOOL(C, policy.allow_insecure, 0),
	BOOL(C, policy.allow_private_gateways, 0),
	BOOL(C, policy.require_gateway_check, 0),
	LONG(C, policy.max_removals, 500, 0, 100000000),
	END
};

static const struct yfield postfix_fields[] = {
	STR(C, postfix.map_dir, "/etc/postfix/relaysync"),
	STR(C, postfix.map_type, "lmdb"),
	STR(C, postfix.config_dir, "/etc/postfix"),
	STR(C, postfix.command_directory, "", .show = SHOW_OR_POSTCONF),
	STR(C, postfix.tls_level, "secure"),
	STR(C, postfix.tls_ca_file, CA_BUNDLE), BOOL(C, postfix.reload, 1),
	END
};

static const struct yfield secrets_fields[] = {
	STR(C, secrets.key_file, "/etc/relaysync/secret.key"), END
};

static const struct yfield notify_fields[] = {
	STR(C, notify.webhook_url, "", .show = SHOW_URL), END
};

static const struct yfield watch_fields[] = {
	LONG(C, watch.window_ms, 200, 0, 10000),
	LONG(C, watch.max_backoff, 60, 1, 3600),
	END
};

static const struct yfield config_fields[] = {
	MAP("ldap", ldap_fields, .flags = F_REQUIRED),
	{ .key = "mapping", .type = Y_STR, .off = OFF(C, mapping_path, char *),
	    .def = "/usr/share/relaysync/mappings/openldap.yaml",
	    .show = SHOW_PROFILE },
	MAP("policy", policy_fields), MAP("postfix", postfix_fields),
	MAP("secrets", secrets_fields),
	STR(C, state_dir, "/var/lib/relaysync"),
	LONG(C, full_every, 288, 0, 1000000), STR(C, metrics_file, ""),
	MAP("notify", notify_fields), MAP("watch", watch_fields),
	END
};

#define MSTR(k, f, d, fl) { .key = k, .type = Y_STR, \
	.off = OFF(M, f, char *), .def = d, .flags = fl }
#define REQ_SOURCE	(F_REQUIRED | F_SOURCE)

static const struct yfield map_policy_fields[] = {
	MSTR("filter", policy_filter, NULL, REQ_SOURCE),
	MSTR("allow_attribute", policy_allow_attr, NULL, REQ_SOURCE),
	END
};

static const struct yfield map_user_fields[] = {
	MSTR("filter", user_filter, NULL, REQ_SOURCE),
	MSTR("mail_attribute", user_mail_attr, "mail", F_SOURCE),
	MSTR("disabled_filter", user_disabled_filter, "", F_SOURCE),
	{ .key = "login_attribute", .type = Y_NAMES,
	    .off = OFF(M, login_attrs, char **),
	    .n_off = OFF(M, n_login_attrs, size_t), .def = "uid",
	    .flags = F_SOURCE },
	END
};

#define ATTR(k, i, fl)	MSTR(k, attr[i], "", (fl) | F_SOURCE)

static const struct yfield map_attr_fields[] = {
	ATTR("address", RS_F_ADDRESS, F_REQUIRED),
	ATTR("host", RS_F_HOST, F_REQUIRED), ATTR("port", RS_F_PORT, 0),
	ATTR("security", RS_F_SECURITY, 0),
	ATTR("username", RS_F_USERNAME, 0),
	ATTR("password", RS_F_PASSWORD, 0),
	ATTR("verified", RS_F_VERIFIED, 0),
	END
};

static const struct yfield map_sendas_fields[] = {
	MSTR("layout", sendas_layout, "child", F_SOURCE),
	MSTR("filter", sendas_filter, "", F_SOURCE),
	MAP("attributes", map_attr_fields, .flags = F_REQUIRED),
	END
};

static const struct yfield mapping_fields[] = {
	MSTR("name", name, "", 0),
	MSTR("uuid_attribute", uuid_attr, "entryUUID", F_SOURCE),
	MAP("policy", map_policy_fields, .flags = F_REQUIRED),
	MAP("users", map_user_fields, .flags = F_REQUIRED),
	MAP("sendas", map_sendas_fields, .flags = F_REQUIRED),
	END
};

FITS(ldap_fields); FITS(policy_fields); FITS(postfix_fields);
FITS(secrets_fields); FITS(notify_fields); FITS(watch_fields);
FITS(config_fields); FITS(map_policy_fields); FITS(map_user_fields);
FITS(map_attr_fields); FITS(map_sendas_fields); FITS(mapping_fields);

/* Keys are written as C member paths ("ldap.uri"); users see the last
 * component. */
static const char *
field_key(const struct yfield *f)
{
	const char *dot = strrchr(f->key, '.');

	return dot ? dot + 1 : f->key;
}

/* Where field f's value (a list's array) and a list's count are. */
#define AT(base, f, type)	((type *)(void *)((char *)(base) + (f)->off))
#define COUNT(base, f)	((size_t *)(void *)((char *)(base) + (f)->n_off))

static unsigned long
node_line(const yaml_node_t *n)
{
	return (unsigned long)n->start_mark.line + 1;
}

static int yerr(struct yctx *, const yaml_node_t *, const char *,
    const char *, ...) __attribute__((format(printf, 4, 5)));

static int
yerr(struct yctx *y, const yaml_node_t *n, const char *key, const char *fmt,
    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rs_err_set(y->err, RS_EX_CONFIG, "%s:%lu: %s: %s", y->file,
	    n ? node_line(n) : 0UL, key, msg);
}

static int
scalar_is_null(const yaml_node_t *n)
{
	const char *v = (const char *)n->data.scalar.value;

	return n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
	    (strcmp(v, "~") == 0 || strcmp(v, "null") == 0 || *v == '\0');
}

static int
set_str(struct yctx *y, yaml_node_t *n, const char *key, char **dst)
{
	if (n->type != YAML_SCALAR_NODE)
		return yerr(y, n, key, "expected a string");
	free(*dst);
	*dst = xstrdup(scalar_is_null(n) ? "" :
	    (const char *)n->data.scalar.value);
	return 0;
}

static int
parse_bool(const char *v, int *out)
{
	static const char *const yes[] = { "true", "yes", "on" };
	static const char *const no[] = { "false", "no", "off" };
	size_t i;

	for (i = 0; i < 3; i++) {
		if (strcasecmp(v, yes[i]) == 0)
			return *out = 1, 0;
		if (strcasecmp(v, no[i]) == 0)
			return *out = 0, 0;
	}
	return -1;
}

static int
set_bool(struct yctx *y, yaml_node_t *n, const char *key, int *dst)
{
	if (n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE ||
	    parse_bool((const char *)n->data.scalar.value, dst) < 0)
		return yerr(y, n, key, "expected true or false");
	return 0;
}

static int
set_long(struct yctx *y, yaml_node_t *n, const struct yfield *f,
    const char *key, long *dst)
{
	const char *v;
	char *end, range[96];
	long l;

	if (n->type != YAML_SCALAR_NODE)
		return yerr(y, n, key, "expected a whole number");
	v = (const char *)n->data.scalar.value;
	errno = 0;
	l = strtol(v, &end, 10);
	if (*v == '\0' || *end != '\0' || errno != 0)
		return yerr(y, n, key, "expected a whole number, not '%s'", v);
	if (l < f->min || l > f->max) {
		snprintf(range, sizeof(range), "%ld and %ld", f->min, f->max);
		return yerr(y, n, key, "must be between %s", range);
	}
	*dst = l;
	return 0;
}

static void
free_list(char ***dst, size_t *count)
{
	size_t i;

	for (i = 0; i < *count; i++)
		free((*dst)[i]);
	free(*dst);
	*dst = NULL;
	*count = 0;
}

static void
list_of_one(char ***dst, size_t *count, const char *name)
{
	free_list(dst, count);
	*dst = xcalloc(1, sizeof(char *));
	(*dst)[0] = xstrdup(name);
	*count = 1;
}

/* A single string where a list of names may stand: a list of one. */
static int
set_one_name(struct yctx *y, yaml_node_t *n, const char *key, char ***dst,
    size_t *count)
{
	if (scalar_is_null(n))
		return yerr(y, n, key, "expected a name or a list of names");
	list_of_one(dst, count, (const char *)n->data.scalar.value);
	return 0;
}

static int
set_list(struct yctx *y, yaml_node_t *n, const char *key, char ***dst,
    size_t *count)
{
	yaml_node_item_t *it;
	yaml_node_t *v;
	size_t i;

	if (n->type != YAML_SEQUENCE_NODE)
		return yerr(y, n, key,
		    "expected a list, for example [example.com]");
	free_list(dst, count);
	*count = (size_t)(n->data.sequence.items.top -
	    n->data.sequence.items.start);
	*dst = xcalloc(*count ? *count : 1, sizeof(char *));
	for (i = 0, it = n->data.sequence.items.start;
	    it < n->data.sequence.items.top; it++, i++) {
		v = yaml_document_get_node(&y->doc, *it);
		if (v->type != YAML_SCALAR_NODE || scalar_is_null(v))
			return yerr(y, v, key,
			    "list items must be non-empty strings");
		(*dst)[i] = xstrdup((const char *)v->data.scalar.value);
	}
	return 0;
}

static int load_map(struct yctx *, yaml_node_t *, const struct yfield *,
    const char *, void *);

static int
load_value(struct yctx *y, yaml_node_t *n, const struct yfield *f,
    const char *key, void *base)
{
	switch (f->type) {
	case Y_STR:
		return set_str(y, n, key, AT(base, f, char *));
	case Y_BOOL:
		return set_bool(y, n, key, AT(base, f, int));
	case Y_LONG:
		return set_long(y, n, f, key, AT(base, f, long));
	case Y_NAMES:
		if (n->type == YAML_SCALAR_NODE)
			return set_one_name(y, n, key, AT(base, f, char **),
			    COUNT(base, f));
		/* FALLTHROUGH */
	case Y_STRLIST:
		return set_list(y, n, key, AT(base, f, char **),
		    COUNT(base, f));
	case Y_MAP:
		return load_map(y, n, f->sub, key, base);
	}
	return -1;
}

static void
valid_keys(const struct yfield *fields, char *out, size_t len)
{
	const struct yfield *f;

	out[0] = '\0';
	for (f = fields; f->key; f++) {
		if (out[0])
			strncat(out, ", ", len - strlen(out) - 1);
		strncat(out, field_key(f), len - strlen(out) - 1);
	}
}

static const struct yfield *
find_field(const struct yfield *fields, const char *key)
{
	const struct yfield *f;

	for (f = fields; f->key; f++)
		if (strcmp(field_key(f), key) == 0)
			return f;
	return NULL;
}

static int
check_required(struct yctx *y, yaml_node_t *map, const struct yfield *fields,
    const char *prefix, const unsigned char *seen)
{
	const struct yfield *f;
	char key[256];
	size_t i;

	for (i = 0, f = fields; f->key; f++, i++) {
		if (!(f->flags & F_REQUIRED) || seen[i])
			continue;
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." :
		    "", field_key(f));
		return yerr(y, map, key, "required key is missing; add "
		    "'%s:' here", field_key(f));
	}
	return 0;
}

static int
load_map(struct yctx *y, yaml_node_t *map, const struct yfield *fields,
    const char *prefix, void *base)
{
	unsigned char seen[MAX_KEYS] = { 0 };
	yaml_node_pair_t *pair;
	yaml_node_t *k, *v;
	const struct yfield *f;
	char key[256], valid[512];

	if (map->type != YAML_MAPPING_NODE)
		return yerr(y, map, *prefix ? prefix : "(top level)",
		    "expected a mapping of keys to values");
	for (pair = map->data.mapping.pairs.start;
	    pair < map->data.mapping.pairs.top; pair++) {
		k = yaml_document_get_node(&y->doc, pair->key);
		v = yaml_document_get_node(&y->doc, pair->value);
		if (k->type != YAML_SCALAR_NODE)
			return yerr(y, k, prefix, "keys must be strings");
		snprintf(key, sizeof(key), "%s%s%s", prefix, *prefix ? "." :
		    "", (const char *)k->data.scalar.value);
		if ((f = find_field(fields, (const char *)k->data.scalar.value))
		    == NULL) {
			valid_keys(fields, valid, sizeof(valid));
			return yerr(y, k, key, "unknown key; the keys allowed "
			    "here are: %s", valid);
		}
		if (seen[f - fields]++)
			return yerr(y, k, key, "key given twice; keep one");
		*strmap_slot(&y->lines, key) = (void *)(uintptr_t)node_line(k);
		if (load_value(y, v, f, key, base) < 0)
			return -1;
	}
	return check_required(y, map, fields, prefix, seen);
}

static int
yaml_open(struct yctx *y, const char *file, struct rs_err *err)
{
	yaml_parser_t parser;
	FILE *fp;
	int ok;

	memset(y, 0, sizeof(*y));
	y->file = file;
	y->err = err;
	strmap_init(&y->lines);
	if ((fp = fopen(file, "r")) == NULL)
		return rs_err_set(err, RS_EX_CONFIG, "%s: cannot open: %s; "
		    "give the right path with --config", file, strerror(errno));
	yaml_parser_initialize(&parser);
	yaml_parser_set_input_file(&parser, fp);
	ok = yaml_parser_load(&parser, &y->doc);
	if (!ok)
		rs_err_set(err, RS_EX_CONFIG, "%s:%lu: YAML syntax error: %s",
		    file, (unsigned long)parser.problem_mark.line + 1,
		    parser.problem ? parser.problem : "unknown");
	yaml_parser_delete(&parser);
	fclose(fp);
	if (ok && yaml_document_get_root_node(&y->doc) == NULL) {
		yaml_document_delete(&y->doc);
		return rs_err_set(err, RS_EX_CONFIG, "%s:1: (top level): the "
		    "file is empty", file);
	}
	return ok ? 0 : -1;
}

static void
yaml_close(struct yctx *y)
{
	yaml_document_delete(&y->doc);
	strmap_free(&y->lines);
}

static int
load_file(const char *file, const struct yfield *fields, void *base,
    struct yctx *y, struct rs_err *err)
{
	int rc;

	if (yaml_open(y, file, err) < 0)
		return -1;
	rc = load_map(y, yaml_document_get_root_node(&y->doc), fields, "",
	    base);
	return rc;
}

/* Close the YAML document, keeping the line of every key in lines. */
static void
keep_lines(struct yctx *y, struct strmap *lines)
{
	strmap_free(lines);
	*lines = y->lines;
	strmap_init(&y->lines);
	yaml_close(y);
}

static int key_err(struct yctx *, const char *, const char *, ...)
    __attribute__((format(printf, 3, 4)));

/* Report a problem with a loaded value at the line of its key. */
static int
key_err(struct yctx *y, const char *key, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	return rs_err_set(y->err, RS_EX_CONFIG, "%s:%lu: %s: %s", y->file,
	    (unsigned long)(uintptr_t)strmap_get(&y->lines, key), key, msg);
}

static int
check_filter(struct yctx *y, const char *key, const char *filter)
{
	size_t n = strlen(filter);

	if (n == 0)
		return 0;
	if (filter[0] != '(' || filter[n - 1] != ')')
		return key_err(y, key, "'%s' is not an LDAP filter; write it "
		    "in parentheses, for example (objectClass=person)", filter);
	return 0;
}

static int
mapping_check(struct yctx *y, const struct rs_mapping *m)
{
	if (strcmp(m->sendas_layout, "child") != 0 &&
	    strcmp(m->sendas_layout, "attribute") != 0)
		return key_err(y, "sendas.layout", "'%s' is not a layout; use "
		    "child (send-as entries below the user) or attribute "
		    "(send-as attributes on the user entry)", m->sendas_layout);
	if (strcmp(m->sendas_layout, "child") == 0 && *m->sendas_filter == 0)
		return key_err(y, "sendas.layout", "%s", "the child layout needs "
		    "sendas.filter, the filter of send-as entries");
	if (*m->uuid_attr == '\0' || strspn(m->uuid_attr, "abcdefghijklmnopqrstu"
	    "vwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") !=
	    strlen(m->uuid_attr))
		return key_err(y, "uuid_attribute", "'%s' is not an attribute "
		    "name; use the attribute whose value the server sends as "
		    "the RFC 4533 sync UUID: entryUUID (OpenLDAP) or "
		    "nsUniqueId (389 Directory Server)", m->uuid_attr);
	if (m->n_login_attrs == 0)
		return key_err(y, "users.login_attribute", "%s", "an empty list "
		    "leaves every owner without a login name; name the "
		    "attribute(s) holding the users' SASL login names, for "
		    "example uid");
	if (check_filter(y, "policy.filter", m->policy_filter) < 0 ||
	    check_filter(y, "users.filter", m->user_filter) < 0 ||
	    check_filter(y, "users.disabled_filter",
	    m->user_disabled_filter) < 0 ||
	    check_filter(y, "sendas.filter", m->sendas_filter) < 0)
		return -1;
	return 0;
}

/* The defaults of the table's keys: strings copied, lists of one. */
static void
set_defaults(const struct yfield *fields, void *base)
{
	const struct yfield *f;

	for (f = fields; f->key; f++) {
		switch (f->type) {
		case Y_STR:
			*AT(base, f, char *) = f->def ? xstrdup(f->def) : NULL;
			break;
		case Y_BOOL:
			*AT(base, f, int) = (int)f->ldef;
			break;
		case Y_LONG:
			*AT(base, f, long) = f->ldef;
			break;
		case Y_STRLIST:
		case Y_NAMES:
			if (f->def != NULL)
				list_of_one(AT(base, f, char **),
				    COUNT(base, f), f->def);
			break;
		case Y_MAP:
			set_defaults(f->sub, base);
			break;
		}
	}
}

static void
free_fields(const struct yfield *fields, void *base)
{
	const struct yfield *f;

	for (f = fields; f->key; f++) {
		if (f->type == Y_STR)
			free(*AT(base, f, char *));
		else if (f->type == Y_STRLIST || f->type == Y_NAMES)
			free_list(AT(base, f, char **), COUNT(base, f));
		else if (f->type == Y_MAP)
			free_fields(f->sub, base);
	}
}

static void
mapping_defaults(struct rs_mapping *m)
{
	memset(m, 0, sizeof(*m));
	set_defaults(mapping_fields, m);
}

int
mapping_load(const char *file, struct rs_mapping *m, struct rs_err *err)
{
	struct yctx y;
	int rc;

	mapping_defaults(m);
	m->path = xstrdup(file);
	rc = load_file(file, mapping_fields, m, &y, err);
	if (rc == 0)
		rc = mapping_check(&y, m);
	if (y.file)
		keep_lines(&y, &m->lines);
	return rc;
}

void
mapping_free(struct rs_mapping *m)
{
	free_fields(mapping_fields, m);
	free(m->path);
	strmap_free(&m->lines);
	memset(m, 0, sizeof(*m));
}

static void
config_defaults(struct rs_config *c)
{
	memset(c, 0, sizeof(*c));
	set_defaults(config_fields, c);
}

static int
one_of(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return 1;
	return 0;
}

static int
check_uri(struct yctx *y, const struct rs_config *c)
{
	const char *u = c->ldap.uri;

	if (strncmp(u, "ldaps://", 8) == 0) {
		if (c->ldap.starttls)
			return key_err(y, "ldap.starttls", "StartTLS cannot be "
			    "used on an ldaps:// connection (%s); set it to "
			    "false", u);
		return 0;
	}
	if (strncmp(u, "ldapi://", 8) == 0)
		return 0;
	if (strncmp(u, "ldap://", 7) != 0)
		return key_err(y, "ldap.uri", "'%s' is not an LDAP URI; use "
		    "ldaps://host, ldap://host or ldapi:///", u);
	if (!c->ldap.starttls && !c->ldap.allow_plaintext)
		return key_err(y, "ldap.uri", "%s would send the bind password "
		    "in clear text; set ldap.starttls: true (or "
		    "ldap.allow_plaintext: true for loopback tests only)", u);
	return 0;
}

static int
check_postfix(struct yctx *y, const struct rs_config *c)
{
	static const char *const types[] = { "lmdb", "cdb", "hash", "btree",
	    "texthash", NULL };
	static const char *const levels[] = { "encrypt", "verify", "secure",
	    "dane", "dane-only", NULL };
	size_t n = strlen(c->postfix.map_dir);

	if (!one_of(c->postfix.map_type, types))
		return key_err(y, "postfix.map_type", "'%s' is not supported; "
		    "use lmdb, cdb, hash, btree or texthash",
		    c->postfix.map_type);
	if (!one_of(c->postfix.tls_level, levels))
		return key_err(y, "postfix.tls_level", "'%s' would allow clear "
		    "text to a gateway; use encrypt, verify, secure, dane or "
		    "dane-only", c->postfix.tls_level);
	if (c->postfix.map_dir[0] != '/' || n < 2 ||
	    c->postfix.map_dir[n - 1] == '/')
		return key_err(y, "postfix.map_dir", "'%s' must be an absolute "
		    "path without a trailing slash", c->postfix.map_dir);
	if (c->postfix.command_directory[0] != '\0' &&
	    c->postfix.command_directory[0] != '/')
		return key_err(y, "postfix.command_directory", "'%s' must be "
		    "an absolute path (where postmap and postfix are), or "
		    "empty to ask postconf", c->postfix.command_directory);
	return 0;
}

static int
check_domains(struct yctx *y, struct rs_config *c)
{
	size_t i;
	char *d;

	for (i = 0; i < c->policy.n_internal_domains; i++) {
		d = c->policy.internal_domains[i];
		if (strchr(d, '@') || strchr(d, ' ') || *d == '.')
			return key_err(y, "policy.internal_domains", "'%s' is "
			    "not a domain name; write it like example.com", d);
		str_lower(d);
	}
	return 0;
}

static int
config_check(struct yctx *y, struct rs_config *c)
{
	if (check_uri(y, c) < 0 || check_postfix(y, c) < 0 ||
	    check_domains(y, c) < 0)
		return -1;
	if (c->ldap.base_dn[0] == '\0')
		return key_err(y, "ldap.base_dn", "must not be empty; give the "
		    "DN below which users live");
	if (c->state_dir[0] != '/')
		return key_err(y, "state_dir", "'%s' must be an absolute path",
		    c->state_dir);
	return 0;
}

/* The mapping profile must open: name the key that gives its path. */
static int
check_mapping_path(struct yctx *y, const struct rs_config *c)
{
	const char *dir = strrchr(c->path, '/');
	FILE *fp;

	if ((fp = fopen(c->mapping_path, "r")) != NULL) {
		fclose(fp);
		return 0;
	}
	if (strmap_get(&y->lines, "mapping") == NULL)
		return rs_err_set(y->err, RS_EX_CONFIG, "%s: mapping: not set, "
		    "and the default profile %s cannot be opened: %s; add "
		    "'mapping: PATH' naming one of the profiles (openldap.yaml, "
		    "active-directory.yaml, 389ds.yaml)", y->file,
		    c->mapping_path, strerror(errno));
	return key_err(y, "mapping", "cannot open the mapping profile %s: "
	    "%s; give its path (a relative path is taken from %.*s), for "
	    "example /usr/share/relaysync/mappings/openldap.yaml",
	    c->mapping_path, strerror(errno), dir ? (int)(dir - c->path + 1) :
	    1, dir ? c->path : ".");
}

/* A relative mapping path is relative to the configuration file. */
static char *
resolve_relative(const char *cfgpath, const char *path)
{
	const char *slash = strrchr(cfgpath, '/');
	struct buf b;

	if (path[0] == '/' || slash == NULL)
		return xstrdup(path);
	buf_init(&b);
	buf_add(&b, cfgpath, (size_t)(slash - cfgpath) + 1);
	buf_adds(&b, path);
	return (char *)buf_str(&b);
}

int
config_load(const char *file, struct rs_config *c, struct rs_err *err)
{
	struct yctx y;
	char *mp;
	int rc;

	config_defaults(c);
	c->path = xstrdup(file);
	rc = load_file(file, config_fields, c, &y, err);
	if (rc == 0)
		rc = config_check(&y, c);
	if (rc == 0) {
		mp = resolve_relative(file, c->mapping_path);
		free(c->mapping_path);
		c->mapping_path = mp;
		rc = check_mapping_path(&y, c);
	}
	if (y.file)
		keep_lines(&y, &c->lines);
	if (rc < 0)
		return -1;
	return mapping_load(c->mapping_path, &c->mapping, err);
}

unsigned long
config_line(const struct rs_config *c, const char *key)
{
	return (unsigned long)(uintptr_t)strmap_get(&c->lines, key);
}

unsigned long
mapping_line(const struct rs_mapping *m, const char *key)
{
	return (unsigned long)(uintptr_t)strmap_get(&m->lines, key);
}

void
config_free(struct rs_config *c)
{
	free_fields(config_fields, c);
	free(c->path);
	mapping_free(&c->mapping);
	strmap_free(&c->lines);
	memset(c, 0, sizeof(*c));
}


static void
print_list(char *const *v, size_t n, FILE *fp)
{
	size_t i;

	fputc('[', fp);
	for (i = 0; i < n; i++)
		fprintf(fp, "%s%s", i ? ", " : "", v[i]);
	fputc(']', fp);
}

static void
print_str(const struct yfield *f, const struct rs_config *c, FILE *fp)
{
	const char *s = *AT(c, f, char *);
	struct buf url;

	switch (f->show) {
	case SHOW_VALUE:
		fputs(s, fp);
		break;
	case SHOW_URL:
		buf_init(&url);
		fputs(*s ? url_redact(&url, s) : "", fp);
		buf_free(&url);
		break;
	case SHOW_OR_POSTCONF:
		fputs(*s ? s : "(from postconf)", fp);
		break;
	case SHOW_PROFILE:
		fprintf(fp, "%s (%s)", s, c->mapping.name);
		break;
	}
}

/* "key: value" lines, a mapping's keys indented below "key:". */
static void
print_fields(const struct yfield *fields, const struct rs_config *c,
    int depth, FILE *fp)
{
	const struct yfield *f;

	for (f = fields; f->key; f++) {
		fprintf(fp, "%*s%s:%s", 2 * depth, "", field_key(f),
		    f->type == Y_MAP ? "\n" : " ");
		if (f->type == Y_MAP)
			print_fields(f->sub, c, depth + 1, fp);
		else if (f->type == Y_STR)
			print_str(f, c, fp);
		else if (f->type == Y_BOOL)
			fputs(*AT(c, f, int) ? "true" : "false", fp);
		else if (f->type == Y_LONG)
			fprintf(fp, "%ld", *AT(c, f, long));
		else
			print_list(*AT(c, f, char **), *COUNT(c, f), fp);
		if (f->type != Y_MAP)
			fputc('\n', fp);
	}
}

void
config_print(const struct rs_config *c, FILE *fp)
{
	fprintf(fp, "config: %s\n", c->path);
	print_fields(config_fields, c, 0, fp);
}

struct parts {
	const char **v;
	size_t n;
	size_t max;
};

static void
add_part(struct parts *p, const char *s)
{
	if (p->n < p->max)
		p->v[p->n] = s;
	p->n++;
}

/* The F_SOURCE strings in table order (lists 0), or each F_SOURCE list
 * as its key then its items (lists 1). */
static void
source_parts(const struct yfield *fields, const void *base, int lists,
    struct parts *p)
{
	const struct yfield *f;
	size_t i;

	for (f = fields; f->key; f++) {
		if (f->type == Y_MAP)
			source_parts(f->sub, base, lists, p);
		if (!(f->flags & F_SOURCE))
			continue;
		if (f->type == Y_STR && !lists)
			add_part(p, *AT(base, f, char *));
		if ((f->type == Y_STRLIST || f->type == Y_NAMES) && lists) {
			add_part(p, field_key(f));
			for (i = 0; i < *COUNT(base, f); i++)
				add_part(p, (*AT(base, f, char **))[i]);
		}
	}
}

size_t
config_source(const struct rs_config *c, const char **parts, size_t max)
{
	struct parts p = { parts, 0, max };

	source_parts(config_fields, c, 0, &p);
	source_parts(mapping_fields, &c->mapping, 0, &p);
	source_parts(config_fields, c, 1, &p);
	source_parts(mapping_fields, &c->mapping, 1, &p);
	return p.n;
}

/* A key's default as YAML writes it. */
static void
key_default(const struct yfield *f, char *out, size_t len)
{
	if (f->type == Y_BOOL)
		snprintf(out, len, "%s", f->ldef ? "true" : "false");
	else if (f->type == Y_LONG)
		snprintf(out, len, "%ld", f->ldef);
	else if (f->type == Y_STR || (f->type == Y_NAMES && f->def))
		snprintf(out, len, "%s", f->def ? f->def : "");
	else if (f->def)
		snprintf(out, len, "[%s]", f->def);
	else
		snprintf(out, len, "[]");
}

static int
nth_key(const struct yfield *fields, const char *prefix, size_t *i,
    struct rs_config_key *key)
{
	const struct yfield *f;
	char name[sizeof(key->name)];

	for (f = fields; f->key; f++) {
		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." :
		    "", field_key(f));
		if (f->type == Y_MAP) {
			if (nth_key(f->sub, name, i, key) == 0)
				return 0;
		} else if ((*i)-- == 0) {
			memcpy(key->name, name, sizeof(name));
			key->type = f->type == Y_STR ? 's' : f->type == Y_BOOL ?
			    'b' : f->type == Y_LONG ? 'n' : 'l';
			key->required = (f->flags & F_REQUIRED) != 0;
			key->source = (f->flags & F_SOURCE) != 0;
			key->min = f->min;
			key->max = f->max;
			key_default(f, key->def, sizeof(key->def));
			return 0;
		}
	}
	return -1;
}

int
config_key(int profile, size_t i, struct rs_config_key *key)
{
	return nth_key(profile ? mapping_fields : config_fields, "", &i, key);
}

const char *
config_map_path(const struct rs_config *c, const char *table, struct buf *b)
{
	buf_reset(b);
	buf_printf(b, "%s:%s/%s", c->postfix.map_type, c->postfix.map_dir,
	    table);
	return buf_str(b);
}

/* Postfix's command_directory as postconf names it; "" when no postconf
 * answers with an absolute path. */
static void
ask_postconf(const char *config_dir, struct buf *dir)
{
	static const char *const postconf[] = { "/usr/sbin/postconf",
	    "/usr/local/sbin/postconf" };
	size_t i;

	for (i = 0; i < sizeof(postconf) / sizeof(postconf[0]); i++) {
		char *argv[] = { (char *)postconf[i], "-c", (char *)config_dir,
		    "-h", "command_directory", NULL };

		if (access(postconf[i], X_OK) == 0 && run_cmd(argv, dir) == 0 &&
		    dir->len > 1 && dir->data[0] == '/' &&
		    strchr(dir->data, '\n') == NULL)
			return;
	}
	buf_reset(dir);
}

const char *
config_postfix_cmd(const struct rs_config *c, const char *name, struct buf *b)
{
	static struct buf asked;	/* postconf's answer, per process */
	static char *asked_for;		/* ... for this config_dir */

	buf_reset(b);
	if (c->postfix.command_directory[0] != '\0') {
		buf_printf(b, "%s/%s", c->postfix.command_directory, name);
		return buf_str(b);
	}
	if (asked_for == NULL || strcmp(asked_for, c->postfix.config_dir)) {
		free(asked_for);
		asked_for = xstrdup(c->postfix.config_dir);
		ask_postconf(asked_for, &asked);
		if (asked.len == 0)
			buf_adds(&asked, "/usr/sbin");
		buf_str(&asked);
	}
	buf_printf(b, "%s/%s", asked.data, name);	/* only read here */
	return buf_str(b);
}
