/*
 * config - load and validate relaysync.yaml and its mapping profile.
 * See config.h for the contract.
 *
 * Both files are read by one table-driven walker: a table of fields per
 * YAML mapping says each key's type, where it is stored and its limits.
 * The line of every key seen is remembered so that checks made after
 * loading (which need several keys at once) can still name a line.
 */
#include <stdarg.h>
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "config.h"

const char *const rs_field_names[RS_F_COUNT] = {
	"address", "host", "port", "security", "username", "password",
	"verified"
};

enum ytype { Y_STR, Y_BOOL, Y_LONG, Y_STRLIST, Y_NAMES, Y_MAP };

/* Y_NAMES: one string, or a list of them. */

struct yfield {
	const char *key;
	enum ytype type;
	size_t off;
	const struct yfield *sub;
	int required;
	long min;
	long max;
};

struct yctx {
	const char *file;
	yaml_document_t doc;
	struct strmap lines;	/* "ldap.uri" -> line number */
	struct rs_err *err;
};

#define STR(s, f)	{ #f, Y_STR, offsetof(s, f), NULL, 0, 0, 0 }
#define BOOL(s, f)	{ #f, Y_BOOL, offsetof(s, f), NULL, 0, 0, 0 }
#define LONG(s, f, lo, hi) { #f, Y_LONG, offsetof(s, f), NULL, 0, lo, hi }
#define END		{ NULL, Y_STR, 0, NULL, 0, 0, 0 }

typedef struct rs_config C;
typedef struct rs_mapping M;

static const struct yfield ldap_fields[] = {
	{ "uri", Y_STR, offsetof(C, ldap.uri), NULL, 1, 0, 0 },
	BOOL(C, ldap.starttls), BOOL(C, ldap.allow_plaintext),
	STR(C, ldap.bind_dn), STR(C, ldap.bind_password_file),
	STR(C, ldap.sasl_mech),
	{ "base_dn", Y_STR, offsetof(C, ldap.base_dn), NULL, 1, 0, 0 },
	STR(C, ldap.ca_file),
	LONG(C, ldap.timeout, 1, 3600), LONG(C, ldap.page_size, 1, 100000),
	END
};

static const struct yfield policy_fields[] = {
	BOOL(C, policy.default_allow),
	{ "internal_domains", Y_STRLIST, offsetof(C, policy.internal_domains),
	    NULL, 0, 0, 0 },
	BOOL(C, policy.require_verified), BOOL(C, policy.allow_insecure),
	BOOL(C, policy.allow_private_gateways),
	BOOL(C, policy.require_gateway_check),
	LONG(C, policy.max_removals, 0, 100000000),
	END
};

static const struct yfield postfix_fields[] = {
	STR(C, postfix.map_dir), STR(C, postfix.map_type),
	STR(C, postfix.config_dir), STR(C, postfix.tls_level),
	STR(C, postfix.tls_ca_file), BOOL(C, postfix.reload),
	END
};

static const struct yfield secrets_fields[] = {
	STR(C, secrets.key_file), END
};

static const struct yfield notify_fields[] = {
	STR(C, notify.webhook_url), END
};

static const struct yfield watch_fields[] = {
	LONG(C, watch.window_ms, 0, 10000), LONG(C, watch.max_backoff, 1, 3600),
	END
};

static const struct yfield config_fields[] = {
	{ "ldap", Y_MAP, 0, ldap_fields, 1, 0, 0 },
	{ "mapping", Y_STR, offsetof(C, mapping_path), NULL, 0, 0, 0 },
	{ "policy", Y_MAP, 0, policy_fields, 0, 0, 0 },
	{ "postfix", Y_MAP, 0, postfix_fields, 0, 0, 0 },
	{ "secrets", Y_MAP, 0, secrets_fields, 0, 0, 0 },
	STR(C, state_dir), LONG(C, full_every, 0, 1000000),
	STR(C, metrics_file),
	{ "notify", Y_MAP, 0, notify_fields, 0, 0, 0 },
	{ "watch", Y_MAP, 0, watch_fields, 0, 0, 0 },
	END
};

static const struct yfield map_policy_fields[] = {
	{ "filter", Y_STR, offsetof(M, policy_filter), NULL, 1, 0, 0 },
	{ "allow_attribute", Y_STR, offsetof(M, policy_allow_attr), NULL, 1,
	    0, 0 },
	END
};

static const struct yfield map_user_fields[] = {
	{ "filter", Y_STR, offsetof(M, user_filter), NULL, 1, 0, 0 },
	{ "mail_attribute", Y_STR, offsetof(M, user_mail_attr), NULL, 0, 0,
	    0 },
	{ "disabled_filter", Y_STR, offsetof(M, user_disabled_filter), NULL,
	    0, 0, 0 },
	{ "login_attribute", Y_NAMES, offsetof(M, login_attrs), NULL, 0, 0,
	    0 },
	END
};

#define ATTR(k, i, req) { k, Y_STR, offsetof(M, attr[i]), NULL, req, 0, 0 }

static const struct yfield map_attr_fields[] = {
	ATTR("address", RS_F_ADDRESS, 1), ATTR("host", RS_F_HOST, 1),
	ATTR("port", RS_F_PORT, 0), ATTR("security", RS_F_SECURITY, 0),
	ATTR("username", RS_F_USERNAME, 0), ATTR("password", RS_F_PASSWORD, 0),
	ATTR("verified", RS_F_VERIFIED, 0),
	END
};

static const struct yfield map_sendas_fields[] = {
	{ "layout", Y_STR, offsetof(M, sendas_layout), NULL, 0, 0, 0 },
	{ "filter", Y_STR, offsetof(M, sendas_filter), NULL, 0, 0, 0 },
	{ "attributes", Y_MAP, 0, map_attr_fields, 1, 0, 0 },
	END
};

static const struct yfield mapping_fields[] = {
	STR(M, name),
	{ "uuid_attribute", Y_STR, offsetof(M, uuid_attr), NULL, 0, 0, 0 },
	{ "policy", Y_MAP, 0, map_policy_fields, 1, 0, 0 },
	{ "users", Y_MAP, 0, map_user_fields, 1, 0, 0 },
	{ "sendas", Y_MAP, 0, map_sendas_fields, 1, 0, 0 },
	END
};

/* Keys are written as C member paths ("ldap.uri"); users see the last
 * component. */
static const char *
field_key(const struct yfield *f)
{
	const char *dot = strrchr(f->key, '.');

	return dot ? dot + 1 : f->key;
}

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

/* A single string where a list of names may stand: a list of one. */
static int
set_one_name(struct yctx *y, yaml_node_t *n, const char *key, char ***dst,
    size_t *count)
{
	if (scalar_is_null(n))
		return yerr(y, n, key, "expected a name or a list of names");
	free_list(dst, count);
	*dst = xcalloc(1, sizeof(char *));
	(*dst)[0] = xstrdup((const char *)n->data.scalar.value);
	*count = 1;
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
	char *p = (char *)base + f->off;

	switch (f->type) {
	case Y_STR:
		return set_str(y, n, key, (char **)(void *)p);
	case Y_BOOL:
		return set_bool(y, n, key, (int *)(void *)p);
	case Y_LONG:
		return set_long(y, n, f, key, (long *)(void *)p);
	case Y_NAMES:
		if (n->type == YAML_SCALAR_NODE)
			return set_one_name(y, n, key, (char ***)(void *)p,
			    (size_t *)(void *)(p + sizeof(char **)));
		/* FALLTHROUGH */
	case Y_STRLIST:		/* the count follows the array pointer */
		return set_list(y, n, key, (char ***)(void *)p,
		    (size_t *)(void *)(p + sizeof(char **)));
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
		if (!f->required || seen[i])
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
	unsigned char seen[32] = { 0 };
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

static void
mapping_defaults(struct rs_mapping *m)
{
	int i;

	memset(m, 0, sizeof(*m));
	m->name = xstrdup("");
	m->uuid_attr = xstrdup("entryUUID");
	m->user_mail_attr = xstrdup("mail");
	m->user_disabled_filter = xstrdup("");
	m->sendas_layout = xstrdup("child");
	m->sendas_filter = xstrdup("");
	m->login_attrs = xcalloc(1, sizeof(char *));
	m->login_attrs[0] = xstrdup("uid");
	m->n_login_attrs = 1;
	for (i = 0; i < RS_F_COUNT; i++)
		m->attr[i] = xstrdup("");
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
	int i;

	free(m->path);
	free(m->name);
	free(m->uuid_attr);
	free(m->policy_filter);
	free(m->policy_allow_attr);
	free(m->user_filter);
	free(m->user_mail_attr);
	free(m->user_disabled_filter);
	free(m->sendas_layout);
	free(m->sendas_filter);
	free_list(&m->login_attrs, &m->n_login_attrs);
	for (i = 0; i < RS_F_COUNT; i++)
		free(m->attr[i]);
	strmap_free(&m->lines);
	memset(m, 0, sizeof(*m));
}

static void
config_defaults(struct rs_config *c)
{
	memset(c, 0, sizeof(*c));
	c->ldap.bind_dn = xstrdup("");
	c->ldap.bind_password_file = xstrdup("");
	c->ldap.sasl_mech = xstrdup("");
	c->ldap.ca_file = xstrdup("/etc/ssl/certs/ca-certificates.crt");
	c->ldap.timeout = 10;
	c->ldap.page_size = 500;
	c->mapping_path = xstrdup("/usr/share/relaysync/mappings/openldap.yaml");
	c->policy.max_removals = 500;
	c->policy.require_verified = 1;
	c->postfix.map_dir = xstrdup("/etc/postfix/relaysync");
	c->postfix.map_type = xstrdup("lmdb");
	c->postfix.config_dir = xstrdup("/etc/postfix");
	c->postfix.tls_level = xstrdup("secure");
	c->postfix.tls_ca_file = xstrdup("/etc/ssl/certs/ca-certificates.crt");
	c->postfix.reload = 1;
	c->secrets.key_file = xstrdup("/etc/relaysync/secret.key");
	c->state_dir = xstrdup("/var/lib/relaysync");
	c->full_every = 288;
	c->metrics_file = xstrdup("");
	c->notify.webhook_url = xstrdup("");
	c->watch.window_ms = 200;
	c->watch.max_backoff = 60;
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
	size_t i;

	free(c->path);
	free(c->ldap.uri);
	free(c->ldap.bind_dn);
	free(c->ldap.bind_password_file);
	free(c->ldap.sasl_mech);
	free(c->ldap.base_dn);
	free(c->ldap.ca_file);
	free(c->mapping_path);
	for (i = 0; i < c->policy.n_internal_domains; i++)
		free(c->policy.internal_domains[i]);
	free(c->policy.internal_domains);
	free(c->postfix.map_dir);
	free(c->postfix.map_type);
	free(c->postfix.config_dir);
	free(c->postfix.tls_level);
	free(c->postfix.tls_ca_file);
	free(c->secrets.key_file);
	free(c->state_dir);
	free(c->metrics_file);
	free(c->notify.webhook_url);
	mapping_free(&c->mapping);
	strmap_free(&c->lines);
	memset(c, 0, sizeof(*c));
}

static const char *
yn(int b)
{
	return b ? "true" : "false";
}

void
config_print(const struct rs_config *c, FILE *fp)
{
	struct buf url;
	size_t i;

	buf_init(&url);
	fprintf(fp, "config: %s\nldap:\n  uri: %s\n  starttls: %s\n"
	    "  allow_plaintext: %s\n  bind_dn: %s\n  bind_password_file: %s\n"
	    "  sasl_mech: %s\n  base_dn: %s\n  ca_file: %s\n  timeout: %ld\n"
	    "  page_size: %ld\n", c->path, c->ldap.uri, yn(c->ldap.starttls),
	    yn(c->ldap.allow_plaintext), c->ldap.bind_dn,
	    c->ldap.bind_password_file, c->ldap.sasl_mech, c->ldap.base_dn,
	    c->ldap.ca_file, c->ldap.timeout, c->ldap.page_size);
	fprintf(fp, "mapping: %s (%s)\npolicy:\n  default_allow: %s\n"
	    "  internal_domains: [", c->mapping_path, c->mapping.name,
	    yn(c->policy.default_allow));
	for (i = 0; i < c->policy.n_internal_domains; i++)
		fprintf(fp, "%s%s", i ? ", " : "",
		    c->policy.internal_domains[i]);
	fprintf(fp, "]\n  require_verified: %s\n  allow_insecure: %s\n"
	    "  allow_private_gateways: %s\n  require_gateway_check: %s\n"
	    "  max_removals: %ld\npostfix:\n  map_dir: %s\n  map_type: %s\n"
	    "  config_dir: %s\n  tls_level: %s\n  tls_ca_file: %s\n"
	    "  reload: %s\nsecrets:\n  key_file: %s\nstate_dir: %s\n"
	    "full_every: %ld\nmetrics_file: %s\nnotify:\n  webhook_url: %s\n"
	    "watch:\n  window_ms: %ld\n  max_backoff: %ld\n",
	    yn(c->policy.require_verified), yn(c->policy.allow_insecure),
	    yn(c->policy.allow_private_gateways),
	    yn(c->policy.require_gateway_check), c->policy.max_removals,
	    c->postfix.map_dir, c->postfix.map_type,
	    c->postfix.config_dir, c->postfix.tls_level,
	    c->postfix.tls_ca_file, yn(c->postfix.reload),
	    c->secrets.key_file, c->state_dir, c->full_every, c->metrics_file,
	    *c->notify.webhook_url ? url_redact(&url, c->notify.webhook_url) :
	    "", c->watch.window_ms, c->watch.max_backoff);
	buf_free(&url);
}

const char *
config_map_path(const struct rs_config *c, const char *table, struct buf *b)
{
	buf_reset(b);
	buf_printf(b, "%s:%s/%s", c->postfix.map_type, c->postfix.map_dir,
	    table);
	return buf_str(b);
}
