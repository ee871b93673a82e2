/* Unit tests: config - defaults, errors that name file, line and key, and
 * the key tables: every key of relaysync.yaml is printed, every key that
 * decides what is read (and no other) changes snapshot_source(). */
#include "unit.h"
#include "snapshot.h"

/* snapshot_source() of the variant-0 files below, as computed by the code
 * before the key tables existed (commit 070e2f7). */
#define SOURCE_HASH \
	"6f3603550aee21e4973fcaf84f9d645fbf8d979fc9f45bd9f48d78c48f7ff115"

/* Load text as a whole configuration file; expect failure with 78. */
static const char *
load_error(const char *text, struct rs_err *err)
{
	struct rs_config c;
	char *path = write_tmp(text);
	int rc = config_load(path, &c, err);

	unlink(path);
	free(path);
	config_free(&c);
	assert_int_equal(rc, -1);
	assert_int_equal(err->code, 78);
	return err->msg;
}

static void
test_defaults(void **state)
{
	struct rs_config c;
	struct rs_err err;

	(void)state;
	assert_int_equal(test_config(&c, "", &err), 0);
	assert_int_equal(c.ldap.timeout, 10);
	assert_int_equal(c.ldap.page_size, 500);
	assert_int_equal(c.ldap.starttls, 0);
	assert_string_equal(c.ldap.ca_file, "/etc/ssl/certs/ca-certificates.crt");
	assert_int_equal(c.policy.default_allow, 0);
	assert_int_equal(c.policy.require_verified, 1);
	assert_int_equal(c.policy.allow_private_gateways, 0);
	assert_int_equal(c.mapping.n_login_attrs, 1);
	assert_string_equal(c.mapping.login_attrs[0], "uid");
	assert_int_equal(c.policy.allow_insecure, 0);
	assert_int_equal(c.policy.max_removals, 500);
	assert_string_equal(c.postfix.map_dir, "/etc/postfix/relaysync");
	assert_string_equal(c.postfix.map_type, "lmdb");
	assert_string_equal(c.postfix.config_dir, "/etc/postfix");
	assert_string_equal(c.postfix.tls_level, "secure");
	assert_int_equal(c.postfix.reload, 1);
	assert_string_equal(c.secrets.key_file, "/etc/relaysync/secret.key");
	assert_string_equal(c.state_dir, "/var/lib/relaysync");
	assert_int_equal(c.full_every, 288);
	assert_int_equal(c.watch.window_ms, 200);
	assert_int_equal(c.watch.max_backoff, 60);
	assert_int_equal(c.policy.require_gateway_check, 0);
	assert_string_equal(c.mapping.sendas_layout, "child");
	assert_string_equal(c.mapping.attr[RS_F_HOST], "relaysyncSmtpHost");
	assert_string_equal(c.mapping.user_filter, "(objectClass=inetOrgPerson)");
	config_free(&c);
}

static void
test_every_key(void **state)
{
	struct rs_config c;
	struct rs_err err;

	(void)state;
	assert_int_equal(test_config(&c,
	    "policy:\n  default_allow: true\n"
	    "  internal_domains: [Example.COM, corp.example]\n"
	    "  require_verified: yes\n  allow_insecure: on\n"
	    "  max_removals: 7\n"
	    "postfix:\n  map_dir: /srv/maps\n  map_type: cdb\n"
	    "  config_dir: /srv/pf\n  tls_level: verify\n"
	    "  tls_ca_file: /srv/ca.pem\n  reload: false\n"
	    "secrets:\n  key_file: /srv/key\n"
	    "state_dir: /srv/state\nfull_every: 3\n"
	    "metrics_file: /srv/m.prom\n"
	    "notify:\n  webhook_url: http://127.0.0.1:1/hook\n"
	    "watch:\n  window_ms: 50\n  max_backoff: 5\n", &err), 0);
	assert_int_equal(c.policy.default_allow, 1);
	assert_int_equal(c.policy.n_internal_domains, 2);
	assert_string_equal(c.policy.internal_domains[0], "example.com");
	assert_int_equal(c.policy.require_verified, 1);
	assert_int_equal(c.policy.allow_insecure, 1);
	assert_int_equal(c.policy.max_removals, 7);
	assert_string_equal(c.postfix.map_type, "cdb");
	assert_string_equal(c.postfix.tls_level, "verify");
	assert_int_equal(c.postfix.reload, 0);
	assert_int_equal(c.full_every, 3);
	assert_string_equal(c.notify.webhook_url, "http://127.0.0.1:1/hook");
	assert_int_equal(c.watch.window_ms, 50);
	assert_int_equal(c.watch.max_backoff, 5);
	config_free(&c);
}

static void
test_unknown_key(void **state)
{
	struct rs_err err;
	const char *msg;

	(void)state;
	msg = load_error("ldap:\n  uri: ldaps://x\n  base_dn: dc=x\n"
	    "  bind_pasword_file: /x\n", &err);
	assert_non_null(strstr(msg, ":4: ldap.bind_pasword_file: unknown key"));
	assert_non_null(strstr(msg, "bind_password_file"));
	assert_non_null(strstr(msg, "/tmp/relaysync-unit."));
}

static void
test_wrong_types(void **state)
{
	struct rs_err err;

	(void)state;
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\n  starttls: maybe\n", &err),
	    ":4: ldap.starttls: expected true or false"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\n  page_size: 0\n", &err),
	    ":4: ldap.page_size: must be between 1 and 100000"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\n  timeout: ten\n", &err),
	    ":4: ldap.timeout: expected a whole number, not 'ten'"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\npolicy:\n  internal_domains: example.com\n",
	    &err), ":5: policy.internal_domains: expected a list"));
	assert_non_null(strstr(load_error("ldap: [1, 2]\n", &err),
	    ":1: ldap: expected a mapping"));
}

static void
test_missing_and_bad(void **state)
{
	struct rs_err err;

	(void)state;
	assert_non_null(strstr(load_error("ldap:\n  base_dn: dc=x\n", &err),
	    ":2: ldap.uri: required key is missing"));
	assert_non_null(strstr(load_error("policy:\n  default_allow: true\n",
	    &err), ":1: ldap: required key is missing"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldap://x\n"
	    "  base_dn: dc=x\n", &err), ":2: ldap.uri: ldap://x would send "
	    "the bind password in clear text"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  starttls: true\n  base_dn: dc=x\n", &err),
	    ":3: ldap.starttls: StartTLS cannot be used"));
	assert_non_null(strstr(load_error("ldap:\n  uri: http://x\n"
	    "  base_dn: dc=x\n", &err), "ldap.uri: 'http://x' is not"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\npostfix:\n  map_type: dbm\n", &err),
	    ":5: postfix.map_type: 'dbm' is not supported"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\npostfix:\n  tls_level: may\n", &err),
	    ":5: postfix.tls_level: 'may' would allow clear text"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\n  uri: ldaps://y\n", &err),
	    ":4: ldap.uri: key given twice"));
	assert_non_null(strstr(load_error("ldap: {uri: [\n", &err),
	    "YAML syntax error"));
	assert_non_null(strstr(load_error("", &err), "the file is empty"));
	assert_non_null(strstr(load_error("ldap:\n  uri: ldaps://x\n"
	    "  base_dn: dc=x\nmapping: /nonexistent/map.yaml\n", &err),
	    ":4: mapping: cannot open the mapping profile "
	    "/nonexistent/map.yaml: No such file or directory; give its path"));
}

static void
test_mapping_errors(void **state)
{
	struct rs_mapping m;
	struct rs_err err;
	char *path;

	(void)state;
	path = write_tmp("name: x\npolicy:\n  filter: (a=*)\n"
	    "  allow_attribute: a\nusers:\n  filter: objectClass=person\n"
	    "sendas:\n  filter: (o=s)\n  attributes:\n    address: a\n"
	    "    host: h\n");
	assert_int_equal(mapping_load(path, &m, &err), -1);
	assert_int_equal(err.code, 78);
	assert_non_null(strstr(err.msg, ":6: users.filter: 'objectClass=person' "
	    "is not an LDAP filter"));
	mapping_free(&m);
	unlink(path);
	free(path);
	path = write_tmp("policy:\n  filter: (a=*)\n  allow_attribute: a\n"
	    "users:\n  filter: (o=p)\nsendas:\n  filter: (o=s)\n"
	    "  attributes:\n    address: a\n");
	assert_int_equal(mapping_load(path, &m, &err), -1);
	assert_non_null(strstr(err.msg, "sendas.attributes.host: required key "
	    "is missing"));
	mapping_free(&m);
	unlink(path);
	free(path);
}

static void
test_relative_mapping(void **state)
{
	struct rs_config c;
	struct rs_err err;
	char cfg[] = "/tmp/relaysync-unit-dir.XXXXXX";
	char path[256], map[256];
	FILE *fp;

	(void)state;
	assert_non_null(mkdtemp(cfg));
	snprintf(map, sizeof(map), "%s/m.yaml", cfg);
	fp = fopen(map, "w");
	fputs("policy:\n  filter: (a=*)\n  allow_attribute: a\nusers:\n"
	    "  filter: (o=p)\nsendas:\n  filter: (o=s)\n  attributes:\n"
	    "    address: a\n    host: h\n", fp);
	fclose(fp);
	snprintf(path, sizeof(path), "%s/r.yaml", cfg);
	fp = fopen(path, "w");
	fputs("ldap:\n  uri: ldapi:///\n  base_dn: dc=x\nmapping: m.yaml\n", fp);
	fclose(fp);
	assert_int_equal(config_load(path, &c, &err), 0);
	assert_string_equal(c.mapping_path, map);
	assert_string_equal(c.mapping.attr[RS_F_HOST], "h");
	assert_string_equal(c.mapping.attr[RS_F_PORT], "");
	config_free(&c);
	unlink(map);
	unlink(path);
	rmdir(cfg);
}


/*
 * Two values of a key (variant 0 and 1) that pass config_load()'s checks,
 * and how config_print() shows variant 1. Keys not listed here get
 * values by type: see pick().
 */
static const struct {
	const char *key;
	const char *v[2];
	const char *shown;
} picks[] = {
	{ "ldap.uri", { "ldapi:///", "ldaps://ldap.example" }, NULL },
	{ "postfix.map_type", { "lmdb", "cdb" }, NULL },
	{ "postfix.tls_level", { "secure", "dane" }, NULL },
	{ "notify.webhook_url", { "\"\"", "https://u:p@hook.example/x?t=1" },
	    "https://***@hook.example/x?***" },
	{ "uuid_attribute", { "entryUUID", "nsUniqueId" }, NULL },
	{ "sendas.layout", { "child", "attribute" }, NULL },
};

struct kv {
	char key[64];
	char value[192];
	char shown[256];
};

/* The text of variant v of key k (the mapping key is set by the caller). */
static void
pick(const struct rs_config_key *k, int v, struct kv *out)
{
	const char *last = strrchr(k->name, '.');
	size_t i;

	snprintf(out->key, sizeof(out->key), "%s", k->name);
	for (i = 0; i < sizeof(picks) / sizeof(picks[0]); i++)
		if (strcmp(picks[i].key, k->name) == 0) {
			snprintf(out->value, sizeof(out->value), "%s",
			    picks[i].v[v]);
			snprintf(out->shown, sizeof(out->shown), "%s",
			    v && picks[i].shown ? picks[i].shown : out->value);
			return;
		}
	last = last ? last + 1 : k->name;
	if (k->type == 'b')
		snprintf(out->value, sizeof(out->value), v ? "true" : "false");
	else if (k->type == 'n')
		snprintf(out->value, sizeof(out->value), "%ld",
		    v ? k->max : k->min);
	else if (k->type == 'l')
		snprintf(out->value, sizeof(out->value), v ?
		    "[a.example, b-%s]" : "[a.example]", last);
	else if (strstr(last, "filter"))
		snprintf(out->value, sizeof(out->value), "(cn=%c-%s)",
		    v ? 'b' : 'a', k->name);
	else
		snprintf(out->value, sizeof(out->value), "/rt/%c/%s",
		    v ? 'b' : 'a', k->name);
	snprintf(out->shown, sizeof(out->shown), "%s", out->value);
}

/* YAML for keys given as "a.b.c" names, grouped as config_key() lists
 * them: a mapping is opened where a name's prefix changes. */
static void
emit(FILE *fp, const struct kv *kv, size_t n)
{
	const char *prev = "", *p, *q;
	size_t i, depth, common;

	for (i = 0; i < n; prev = kv[i].key, i++) {
		common = 0;
		for (p = kv[i].key, q = prev; ; p++, q++) {
			if (*p != *q || *p == '\0')
				break;
			if (*p == '.')
				common++;
		}
		for (depth = 0, p = kv[i].key; strchr(p, '.'); depth++) {
			q = strchr(p, '.');
			if (depth >= common)
				fprintf(fp, "%*s%.*s:\n", (int)(2 * depth), "",
				    (int)(q - p), p);
			p = q + 1;
		}
		fprintf(fp, "%*s%s: %s\n", (int)(2 * depth), "", p,
		    kv[i].value);
	}
}

static size_t
keys_of(int profile, struct rs_config_key *keys, size_t max)
{
	size_t n = 0;

	while (n < max && config_key(profile, n, &keys[n]) == 0)
		n++;
	assert_true(n < max);
	return n;
}

/* Write every key of a file in variant 0, key `changed` in variant 1, to
 * path (NULL: a new temporary file); returns the path. */
static char *
write_file(int profile, size_t changed, const char *mapping, struct kv *kv,
    const char *path)
{
	struct rs_config_key keys[64];
	struct kv all[64];
	size_t n = keys_of(profile, keys, 64), i;
	char *text = NULL, *out;
	size_t len = 0;
	FILE *fp = open_memstream(&text, &len);

	for (i = 0; i < n; i++) {
		pick(&keys[i], i == changed, &all[i]);
		if (!profile && strcmp(keys[i].name, "mapping") == 0) {
			snprintf(all[i].value, sizeof(all[i].value), "%s%s",
			    mapping, i == changed ? ".copy" : "");
			snprintf(all[i].shown, sizeof(all[i].shown),
			    "%s (/rt/a/name)", all[i].value);	/* see pick() */
		}
	}
	emit(fp, all, n);
	fclose(fp);
	if (path == NULL)
		out = write_tmp(text);
	else {
		out = strdup(path);
		assert_non_null(fp = fopen(out, "w"));
		fputs(text, fp);
		fclose(fp);
	}
	free(text);
	if (kv != NULL && changed < n)
		*kv = all[changed];
	return out;
}

/* config_print() as "section.key: value" lines (mappings left out). */
static size_t
printed(const struct rs_config *c, char out[][320], size_t max)
{
	char *text = NULL, *line, *save = NULL, sec[4][64];
	size_t len = 0, n = 0, depth;
	FILE *fp = open_memstream(&text, &len);

	config_print(c, fp);
	fclose(fp);
	for (line = strtok_r(text, "\n", &save); line && n < max;
	    line = strtok_r(NULL, "\n", &save)) {
		depth = strspn(line, " ") / 2;
		assert_true(depth < 4);
		line += 2 * depth;
		if (strncmp(line, "config: ", 8) == 0)
			continue;		/* the file's (temporary) name */
		if (strstr(line, ": ") == NULL) {	/* "ldap:" */
			snprintf(sec[depth], sizeof(sec[0]), "%.*s",
			    (int)strcspn(line, ":"), line);
			continue;
		}
		out[n][0] = '\0';
		for (size_t d = 0; d < depth; d++)
			snprintf(out[n] + strlen(out[n]), 320 - strlen(out[n]),
			    "%s.", sec[d]);
		snprintf(out[n] + strlen(out[n]), 320 - strlen(out[n]), "%s",
		    line);
		n++;
	}
	free(text);
	return n;
}

struct loaded {
	struct rs_config c;
	char source[RS_HASH_HEX + 1];
	char lines[64][320];
	size_t nlines;
};

/* Load relaysync.yaml (with `changed` of its keys in variant 1) and a
 * profile (the same for `pchanged`); NULL kv: nothing changed. */
static void
load_variant(size_t changed, size_t pchanged, struct kv *kv,
    struct loaded *l)
{
	struct rs_err err;
	char name[64], copy[80], *profile, *cfg;

	snprintf(name, sizeof(name), "/tmp/relaysync-unit-profile.%d",
	    (int)getpid());
	snprintf(copy, sizeof(copy), "%s.copy", name);
	free(write_file(1, pchanged, NULL, kv, copy));
	profile = write_file(1, pchanged, NULL, kv, name);
	cfg = write_file(0, changed, profile, kv, NULL);
	if (config_load(cfg, &l->c, &err) < 0)
		fail_msg("%s", err.msg);
	snapshot_source(&l->c, l->source);
	l->nlines = printed(&l->c, l->lines, 64);
	config_free(&l->c);
	unlink(cfg);
	unlink(copy);
	unlink(profile);
	free(cfg);
	free(profile);
}

static void
test_every_key_printed(void **state)
{
	struct rs_config_key k;
	static struct loaded base_, var_;
	struct loaded *base = &base_, *var = &var_;
	struct kv kv;
	char want[400];
	size_t i, j, diff;

	(void)state;
	load_variant(SIZE_MAX, SIZE_MAX, NULL, base);
	for (i = 0; config_key(0, i, &k) == 0; i++) {
		load_variant(i, SIZE_MAX, &kv, var);
		assert_int_equal(var->nlines, base->nlines);
		for (diff = 0, j = 0; j < base->nlines; j++) {
			if (strcmp(base->lines[j], var->lines[j]) == 0)
				continue;
			diff++;
			snprintf(want, sizeof(want), "%s: %s", k.name,
			    kv.shown);
			if (strcmp(var->lines[j], want) != 0)
				fail_msg("%s printed as '%s', want '%s'",
				    k.name, var->lines[j], want);
		}
		if (diff != 1)
			fail_msg("changing %s changed %zu printed lines, not 1",
			    k.name, diff);
		if (strcmp(base->source, var->source) != 0 && !k.source)
			fail_msg("%s changes snapshot_source() but is not "
			    "marked F_SOURCE", k.name);
		if (strcmp(base->source, var->source) == 0 && k.source)
			fail_msg("%s is marked F_SOURCE but does not change "
			    "snapshot_source()", k.name);
	}
	assert_int_equal(base->nlines, i);
}

static void
test_source_keys(void **state)
{
	struct rs_config_key k;
	static struct loaded base_, var_;
	struct loaded *base = &base_, *var = &var_;
	size_t i, n = 0;

	(void)state;
	load_variant(SIZE_MAX, SIZE_MAX, NULL, base);
	for (i = 0; config_key(1, i, &k) == 0; i++) {
		load_variant(SIZE_MAX, i, NULL, var);
		if ((strcmp(base->source, var->source) != 0) != k.source)
			fail_msg("%s: marked F_SOURCE %d, but snapshot_source() "
			    "%s", k.name, k.source, k.source ? "stays the same" :
			    "changes");
		n += k.source;
	}
	assert_int_equal(n, 16);	/* all but the profile's name */
}

/* What snapshot_source() hashes, pinned: a change of order or content
 * would make every installed snapshot stale (one full read each). */
static void
test_source_stable(void **state)
{
	static struct loaded l;

	(void)state;
	load_variant(SIZE_MAX, SIZE_MAX, NULL, &l);
	assert_string_equal(l.source, SOURCE_HASH);
}

/* relaysync.yaml(5) has an ".It Cm KEY Pq DEFAULT" line for every key of
 * relaysync.yaml (KEY as the last part of the name, or the whole name),
 * with the table's default ("required", "empty" or the value). */
static void
test_every_key_documented(void **state)
{
	struct rs_config_key k;
	char line[512], want[256], *p;
	const char *last, *pq;
	size_t i;
	FILE *fp;
	int found;

	(void)state;
	for (i = 0; config_key(0, i, &k) == 0; i++) {
		last = strrchr(k.name, '.') ? strrchr(k.name, '.') + 1 : k.name;
		snprintf(want, sizeof(want), "%s", k.required ? "required" :
		    k.def[0] ? k.def : "empty");
		assert_non_null(fp = fopen(SRCDIR
		    "/packaging/man/relaysync.yaml.5", "r"));
		for (found = 0; !found && fgets(line, sizeof(line), fp); ) {
			line[strcspn(line, "\n")] = '\0';
			if (strncmp(line, ".It Cm ", 7) != 0 ||
			    (pq = strstr(line, " Pq ")) == NULL)
				continue;
			p = line + 7;
			p[pq - p] = '\0';
			if (strcmp(p, last) != 0 && strcmp(p, k.name) != 0)
				continue;
			found = 1;
			if (strcmp(pq + 4, want) != 0)
				fail_msg("relaysync.yaml.5 gives %s's default as "
				    "'%s', the table as '%s'", k.name, pq + 4,
				    want);
		}
		fclose(fp);
		if (!found)
			fail_msg("relaysync.yaml.5 has no '.It Cm %s Pq %s' "
			    "line", last, want);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_key),
		cmocka_unit_test(test_unknown_key),
		cmocka_unit_test(test_wrong_types),
		cmocka_unit_test(test_missing_and_bad),
		cmocka_unit_test(test_mapping_errors),
		cmocka_unit_test(test_relative_mapping),
		cmocka_unit_test(test_every_key_printed),
		cmocka_unit_test(test_source_keys),
		cmocka_unit_test(test_source_stable),
		cmocka_unit_test(test_every_key_documented),
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
