/*
 * checkconf - relaysync check-config: both sides, before the first sync.
 * See checkconf.h for the contract.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "checkconf.h"
#include "pipeline.h"
#include "postconf.h"
#include "source.h"

struct checks {
	const struct rs_config *c;
	FILE *fp;
	int problems;
	int config;		/* a finding is a configuration error */
};

static void finding(struct checks *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

/* A finding from an error of the run itself; a configuration error
 * (RS_EX_CONFIG) makes check-config exit 78 as sync would. */
static void
finding_err(struct checks *k, const char *area, const struct rs_err *err)
{
	finding(k, "%s%s", area, err->msg);
	k->config |= err->code == RS_EX_CONFIG;
}

static void
finding(struct checks *k, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfprintf(k->fp, fmt, ap);
	va_end(ap);
	fputc('\n', k->fp);
	k->problems++;
}

/* "file:line" of a key of the configuration (line 0: not given). */
static const char *
where(const struct rs_config *c, const char *key, struct buf *b)
{
	unsigned long line = config_line(c, key);

	buf_reset(b);
	if (line)
		buf_printf(b, "%s:%lu", c->path, line);
	else
		buf_printf(b, "%s, not set: the default", c->path);
	return buf_str(b);
}

/* Schema: one name the mapping uses, looked up case-insensitively. */
static void
need(struct checks *k, const struct strmap *have, const char *kind,
    const char *name, size_t len, const char *key, const char *subschema)
{
	const struct rs_mapping *m = &k->c->mapping;
	char *lc = xstrndup(name, len);

	str_lower(lc);
	if (*lc && strmap_get(have, lc) == NULL)
		finding(k, "schema: %s %.*s (mapping %s, %s:%lu) is not in the "
		    "server's schema (%s); load relaysync's schema into the "
		    "directory (schema/ in /usr/share/relaysync) or correct the "
		    "mapping", kind, (int)len, name, key, m->path,
		    mapping_line(m, key), subschema);
	free(lc);
}

/* Every attribute of a filter, and the value of each objectClass=X. */
static void
need_filter(struct checks *k, const struct strmap *attrs,
    const struct strmap *classes, const char *f, const char *key,
    const char *subschema, size_t *n)
{
	const char *p, *v;
	size_t len;

	for (p = f; (p = strchr(p, '(')) != NULL; p += len) {
		p += strspn(p, "(&|!");
		len = strcspn(p, "=~<>:()");
		if (len == 0)
			continue;
		(*n)++;
		need(k, attrs, "attribute", p, len, key, subschema);
		v = p + len + 1;
		if (len == 11 && strncasecmp(p, "objectClass", 11) == 0 &&
		    p[len] == '=' && *v != '*')
			need(k, classes, "object class", v, strcspn(v, ")"), key,
			    subschema);
	}
}

static void
check_schema(struct checks *k, struct rs_source *src)
{
	const struct rs_mapping *m = &k->c->mapping;
	struct strmap attrs, classes;
	struct rs_err err;
	char *sub = NULL, key[64];
	size_t i, n = 0;
	int before = k->problems;

	strmap_init(&attrs);
	strmap_init(&classes);
	if (source_schema(src, &attrs, &classes, &sub, &err) < 0) {
		finding(k, "schema: %s; check that the account may read the "
		    "subschema entry", err.msg);
		goto out;
	}
	need_filter(k, &attrs, &classes, m->policy_filter, "policy.filter",
	    sub, &n);
	need_filter(k, &attrs, &classes, m->user_filter, "users.filter", sub,
	    &n);
	need_filter(k, &attrs, &classes, m->user_disabled_filter,
	    "users.disabled_filter", sub, &n);
	need_filter(k, &attrs, &classes, m->sendas_filter, "sendas.filter",
	    sub, &n);
	need(k, &attrs, "attribute", m->policy_allow_attr,
	    strlen(m->policy_allow_attr), "policy.allow_attribute", sub);
	need(k, &attrs, "attribute", m->user_mail_attr,
	    strlen(m->user_mail_attr), "users.mail_attribute", sub);
	for (i = 0; i < m->n_login_attrs; i++)
		need(k, &attrs, "attribute", m->login_attrs[i],
		    strlen(m->login_attrs[i]), "users.login_attribute", sub);
	for (i = 0; i < RS_F_COUNT; i++) {
		snprintf(key, sizeof(key), "sendas.attributes.%s",
		    rs_field_names[i]);
		need(k, &attrs, "attribute", m->attr[i], strlen(m->attr[i]),
		    key, sub);
	}
	if (k->problems == before)
		fprintf(k->fp, "schema: every class and attribute of mapping %s "
		    "is in the server's schema (%s): ok\n", m->path, sub);
out:
	free(sub);
	strmap_free(&attrs);
	strmap_free(&classes);
}

/* What the account sees below the base, and whether the keys cover the
 * encrypted passwords it sees. */
static void
check_entries(struct checks *k, struct rs_source *src,
    const struct rs_keyring *keys)
{
	const struct rs_config *c = k->c;
	struct rs_model m;
	struct rs_err err;

	model_init(&m);
	if (source_load(src, &m, &err) < 0)
		finding_err(k, "ldap: reading below the base: ", &err);
	else if (m.nusers == 0)
		finding(k, "ldap: %s sees no user below %s with users.filter "
		    "%s (mapping %s); correct users.filter, or let the account "
		    "read the users (see the ACL in README)", *c->ldap.bind_dn ?
		    c->ldap.bind_dn : "the anonymous account", c->ldap.base_dn,
		    c->mapping.user_filter, c->mapping.path);
	else
		fprintf(k->fp, "ldap: the account sees %zu policy entries, %zu "
		    "users and %zu send-as entries below %s: ok\n", m.npol,
		    m.nusers, m.nsendas, c->ldap.base_dn);
	if (m.nusers > 0 && m.nsendas == 0)
		fprintf(k->fp, "warning: %s sees no send-as entry below %s "
		    "(sendas.filter %s, mapping %s): nothing will be routed; "
		    "if there are some, let the account read them (on Active "
		    "Directory: README, \"Active Directory\")\n",
		    *c->ldap.bind_dn ? c->ldap.bind_dn : "the anonymous account",
		    c->ldap.base_dn, *c->mapping.sendas_filter ?
		    c->mapping.sendas_filter : "(attribute layout)",
		    c->mapping.path);
	if (pipeline_keys_cover(c, keys, &m, &err) < 0)
		finding_err(k, "secrets: ", &err);
	model_free(&m);
}

static void
check_ldap(struct checks *k, const struct rs_keyring *keys)
{
	const struct rs_config *c = k->c;
	struct rs_source *src = NULL;
	struct rs_err err;
	struct buf b;

	buf_init(&b);
	if (source_open(c, &src, &err) < 0) {
		finding_err(k, "", &err);
		fprintf(k->fp, "ldap: the other LDAP checks are skipped (ldap.uri "
		    "%s, %s)\n", c->ldap.uri, where(c, "ldap.uri", &b));
	} else {
		fprintf(k->fp, "ldap: connected to %s and bound%s%s: ok\n",
		    c->ldap.uri, *c->ldap.bind_dn ? " as " : " anonymously",
		    c->ldap.bind_dn);
		if (source_base_exists(src, &err) < 0)
			finding_err(k, "", &err);
		else {
			fprintf(k->fp, "ldap.base_dn: %s exists: ok\n",
			    c->ldap.base_dn);
			check_schema(k, src);
			check_entries(k, src, keys);
		}
	}
	source_close(src);
	buf_free(&b);
}

/* postconf -m: the lookup table types this Postfix supports. */
static void
check_map_type(struct checks *k)
{
	const struct rs_config *c = k->c;
	struct buf b;

	buf_init(&b);
	if (postconf_has_map_type(c, c->postfix.map_type))
		fprintf(k->fp, "postfix.map_type: %s is supported (postconf "
		    "-m): ok\n", c->postfix.map_type);
	else
		finding(k, "postfix.map_type: %s is not a lookup table type "
		    "this Postfix supports (postconf -m) (%s); install its "
		    "package (apt install postfix-%s) or choose one that "
		    "postconf -m lists", c->postfix.map_type,
		    where(c, "postfix.map_type", &b), c->postfix.map_type);
	buf_free(&b);
}

/* config_dir and main.cf; 0 when the other Postfix checks can run. */
static int
check_config_dir(struct checks *k)
{
	const struct rs_config *c = k->c;
	struct buf path, b;
	struct stat st;
	int rc = -1;

	buf_init(&path);
	buf_init(&b);
	buf_printf(&path, "%s/main.cf", c->postfix.config_dir);
	if (stat(c->postfix.config_dir, &st) < 0 || !S_ISDIR(st.st_mode))
		finding(k, "postfix.config_dir: %s is not a directory (%s) "
		    "(%s); set it to Postfix's configuration directory "
		    "(postconf -h config_directory); the other Postfix checks "
		    "are skipped", c->postfix.config_dir, strerror(errno ?
		    errno : ENOTDIR), where(c, "postfix.config_dir", &b));
	else if (stat(path.data, &st) < 0)
		finding(k, "postfix.config_dir: %s holds no main.cf (%s); set "
		    "it to Postfix's configuration directory (postconf -h "
		    "config_directory); the other Postfix checks are skipped",
		    c->postfix.config_dir, where(c, "postfix.config_dir", &b));
	else {
		fprintf(k->fp, "postfix.config_dir: %s holds main.cf: ok\n",
		    c->postfix.config_dir);
		rc = 0;
	}
	buf_free(&path);
	buf_free(&b);
	return rc;
}

int
checkconf_postfix_live(const struct rs_config *c, const char *service,
    FILE *fp)
{
	struct rs_pf_set set;
	struct rs_err err;
	int n;

	if ((n = postconf_prescribe(c, service, &set, &err)) < 0)
		fprintf(fp, "postfix: %s\n", err.msg);
	else if ((n = postconf_check(&set, c, fp)) == 0)
		fprintf(fp, "postfix: %s holds what relaysync postfix-config "
		    "prescribes for %s: ok\n", c->postfix.config_dir,
		    set.service);
	postconf_set_free(&set);
	return n;
}

static void
check_keys(struct checks *k, struct rs_keyring *keys)
{
	struct rs_err err;

	if (keyring_load(k->c->secrets.key_file, 1, keys, &err) < 0)
		finding_err(k, "secrets: ", &err);
	else
		fprintf(k->fp, "secrets: %zu key(s) in %s%s: ok\n", keys->n,
		    k->c->secrets.key_file, keys->n ? "" : " (none: fine while "
		    "the directory holds no {AES256-GCM} value)");
}

int
checkconf_run(const struct rs_config *c, const char *service, FILE *fp)
{
	struct checks k = { c, fp, 0, 0 };
	struct rs_keyring keys;
	int n;

	memset(&keys, 0, sizeof(keys));
	check_keys(&k, &keys);
	check_ldap(&k, &keys);
	if (check_config_dir(&k) == 0) {
		check_map_type(&k);
		if ((n = checkconf_postfix_live(c, service, fp)) != 0)
			k.problems += n > 0 ? n : 1;
	}
	keyring_free(&keys);
	if (k.problems)
		fprintf(fp, "check-config: %d problem%s found\n", k.problems,
		    k.problems == 1 ? "" : "s");
	else
		fputs("check-config: ok\n", fp);
	return k.config ? RS_EX_CONFIG : k.problems ? RS_EX_FAIL : RS_EX_OK;
}
