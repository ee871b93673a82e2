/*
 * verify - check accepted gateways over SMTP before mail depends on them.
 *
 * For each route, libcurl connects to the gateway, negotiates TLS as the
 * route says (STARTTLS, or implicit TLS for ssl), says EHLO, authenticates
 * with the stored login when there is one, and says QUIT. No message is
 * sent. Certificates are verified like Postfix does under postfix.tls_level
 * (encrypt: encryption only; verify, secure, dane, dane-only: the chain
 * against postfix.tls_ca_file and the host name).
 *
 * Functions
 *	verify_routes() checks routes in parallel with curl's multi interface,
 *	at most `parallel` connections at a time, each bounded by `timeout`
 *	seconds, and fills one result per route.
 *	verify_write() prints the results (text or JSON).
 *	verify_state() appends results in the form of the state file that
 *	sync reads when policy.require_gateway_check is set: one line per
 *	route that passed,
 *	"address fingerprint" (policy_fingerprint(): a keyed HMAC), so
 *	a route that changed since needs a new check.
 *	verify_load_ok() reads that file back into a map address ->
 *	fingerprint (a missing file is an empty map).
 *
 * Diagnostics
 *	Per route: ok, unreachable, tls_failed, auth_failed or timeout, with
 *	the elapsed time and libcurl's message (which never holds the password).
 */
#ifndef RS_VERIFY_H
#define RS_VERIFY_H

#include <stdio.h>

#include "config.h"
#include "policy.h"
#include "report.h"

#define RS_VERIFY_STATE	"gateway-checks"

enum rs_check { RS_CK_OK, RS_CK_UNREACHABLE, RS_CK_TLS_FAILED,
	RS_CK_AUTH_FAILED, RS_CK_TIMEOUT };

struct rs_check_result {
	const struct rs_verdict *v;
	enum rs_check result;
	long elapsed_ms;
	char detail[256];
};

int verify_routes(const struct rs_config *c, const struct rs_verdict **routes,
    size_t n, long parallel, long timeout, struct rs_check_result *res,
    struct rs_err *err);
void verify_write(FILE *fp, enum rs_format fmt, const struct rs_check_result *r,
    size_t n);
void verify_state(const struct rs_check_result *r, size_t n, struct buf *out);
int verify_load_ok(const struct rs_config *c, struct strmap *ok,
    struct rs_err *err);
const char *check_name(enum rs_check c);

#endif
