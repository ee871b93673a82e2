/*
 * libFuzzer target: directory values through policy and render. The input
 * is a list of send-as entries, fields separated by 0x1f and entries by
 * 0x1e: owner (0 allowed, 1 forbidden, 2 disabled), address, host, port,
 * security, username, password. The tables must hold exactly one line per
 * accepted route, each "key value" of printable bytes, whatever the input.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dn.h"
#include "policy.h"
#include "render.h"

static struct rs_config cfg;
static const char *owners[] = {
	"uid=a,ou=allowed,dc=x", "uid=b,ou=denied,dc=x", "uid=c,ou=allowed,dc=x"
};

static void
init(void)
{
	static char *domains[] = { "example.com" };

	cfg.policy.internal_domains = domains;
	cfg.policy.n_internal_domains = 1;
	cfg.policy.allow_insecure = 1;
}

static void
add_entry(struct rs_model *m, const char *rec, size_t len)
{
	static const enum rs_field order[] = { RS_F_ADDRESS, RS_F_HOST,
	    RS_F_PORT, RS_F_SECURITY, RS_F_USERNAME, RS_F_PASSWORD };
	const char *p = rec, *end = rec + len, *sep;
	struct rs_sendas *s;
	size_t i;

	if (len == 0)
		return;
	s = model_add_sendas(m, "cn=entry", owners[(unsigned char)*p++ % 3]);
	for (i = 0; i < 6 && p <= end; i++) {
		sep = memchr(p, 0x1f, (size_t)(end - p));
		if (sep == NULL)
			sep = end;
		if (sep > p || i == 0)
			model_set_field(m, s, order[i], p, (size_t)(sep - p), 1);
		p = sep + 1;
	}
}

/* Every line: printable, one space between key and value, key unique. */
static size_t
check_table(const struct buf *b, int sasl)
{
	size_t lines = 0, i, start = 0, spaces = 0;

	for (i = 0; i < b->len; i++) {
		unsigned char c = (unsigned char)b->data[i];

		if (c == '\n') {
			if ((!sasl && spaces != 1) || (sasl && spaces < 1) ||
			    i == start || b->data[start] == ' ')
				abort();
			lines++;
			spaces = 0;
			start = i + 1;
		} else if (c < 0x20 || c == 0x7f)
			abort();
		else if (c == ' ')
			spaces++;
	}
	if (start != b->len)
		abort();
	return lines;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data, *end = p + size, *sep;
	struct rs_keyring keys = { NULL, 0, 0 };
	struct rs_decision d;
	struct rs_tables t;
	struct rs_model m;

	if (cfg.policy.internal_domains == NULL)
		init();
	model_init(&m);
	model_add_policy(&m, "ou=allowed,dc=x", RS_YES);
	model_add_policy(&m, "ou=denied,dc=x", RS_NO);
	model_add_user(&m, owners[0], "a@example.com");
	model_add_user(&m, owners[1], "b@example.com");
	model_add_user(&m, owners[2], "c@example.com");
	model_set_disabled(&m, owners[2]);
	while (p < end) {
		sep = memchr(p, 0x1e, (size_t)(end - p));
		if (sep == NULL)
			sep = end;
		add_entry(&m, p, (size_t)(sep - p));
		p = sep + 1;
	}
	policy_decide(&m, &cfg, &keys, NULL, &d);
	render_tables(&d, "secure", &t);
	if (check_table(&t.t[RS_T_SENDER_RELAY], 0) +
	    check_table(&t.t[RS_T_SENDER_TRANSPORT], 0) != d.nroutes)
		abort();
	(void)check_table(&t.t[RS_T_SASL_PASSWD], 1);
	(void)check_table(&t.t[RS_T_TLS_POLICY], 0);
	render_free(&t);
	policy_free(&d);
	model_free(&m);
	return 0;
}
