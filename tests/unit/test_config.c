/* Unit tests: config - defaults, and errors that name file, line and key. */
#include "unit.h"

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
	};

	return cmocka_run_group_tests_name("config", tests, NULL, NULL);
}
