/*
 * explain - why one user or address does or does not get a gateway.
 * See explain.h for the contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "apply.h"
#include "dn.h"
#include "explain.h"
#include "render.h"
#include "secret.h"

struct ex {
	FILE *fp;
	int json;
	const struct rs_config *c;
	const struct rs_model *m;
	const struct rs_decision *d;
	const char *only_dn;	/* show only this send-as entry (normalized) */
	int shown;
	struct buf live[RS_T_COUNT];	/* the live tables' text */
	int has_live;
	unsigned long generation;
};

static const char *
allow_word(const struct rs_model *m, const char *ndn)
{
	const struct rs_ou_policy *p = model_policy(m, ndn);

	return p == NULL ? "-" : p->allow ? "TRUE" : "FALSE";
}

/* The DNs from the base down to ndn, as pointers into ndn. */
static size_t
chain(const struct rs_config *c, const char *ndn, const char **out, size_t max)
{
	char *base = dn_norm(c->ldap.base_dn);
	const char *p;
	size_t n = 0, i;

	for (p = ndn; p && n < max; p = dn_parent(p)) {
		out[n++] = p;
		if (strcmp(p, base) == 0)
			break;
	}
	free(base);
	for (i = 0; i < n / 2; i++) {
		p = out[i];
		out[i] = out[n - 1 - i];
		out[n - 1 - i] = p;
	}
	return n;
}

/* The lines keyed by address in a table set (text in t[i]), each as
 * "table line" with the password masked, into out; returns how many. */
static size_t
address_lines(const char *address, const struct buf *t, struct strmap *out,
    struct buf *raw)
{
	const char *line;
	struct buf l;
	size_t n = 0, alen = strlen(address);
	int i;

	buf_init(&l);
	for (i = 0; i < RS_T_COUNT; i++)
		for (line = t[i].data; line && *line;
		    line = table_next_line(line)) {
			if (table_key_len(line) != alen ||
			    strncasecmp(line, address, alen) != 0)
				continue;
			buf_reset(&l);
			buf_printf(&l, "%-17s ", rs_table_info[i].name);
			table_masked(&l, i, line);
			*strmap_slot(out, l.data) = (void *)(uintptr_t)++n;
			buf_printf(raw, "%d %.*s\n", i,
			    (int)strcspn(line, "\n"), line);
		}
	buf_free(&l);
	return n;
}

static void
print_line(struct ex *x, const char *line, const char *indent)
{
	if (x->json) {
		fputs(x->shown++ ? "," : "", x->fp);
		json_str(x->fp, line, strlen(line));
	} else
		fprintf(x->fp, "%s%s\n", indent, line);
}

/* Print the lines of a table set that an address has, in table order. */
static void
print_lines(struct ex *x, const struct strmap *lines, size_t n,
    const char *indent)
{
	size_t i, k;

	for (k = 1; k <= n; k++)
		for (i = 0; i < lines->cap; i++)
			if (lines->slots[i].key && (uintptr_t)lines->slots[i].val
			    == k)
				print_line(x, lines->slots[i].key, indent);
}

/* The lines a verdict gives an address; into out and raw. */
static size_t
verdict_lines(struct ex *x, const struct rs_verdict *v, struct strmap *out,
    struct buf *raw)
{
	const struct rs_verdict *one[1] = { v };
	struct rs_decision d = { NULL, 0, one, 1, { NULL, 0 }, { NULL, 0 } };
	struct rs_tables t;
	size_t n;

	if (v->reason != RS_R_NONE)
		return 0;
	render_tables(&d, x->c->postfix.tls_level, &t);
	n = address_lines(v->route.address, t.t, out, raw);
	render_free(&t);
	return n;
}

/* The table lines of an accepted route, the password shown as ********. */
static void
route_lines(struct ex *x, const struct rs_verdict *v, const char *indent)
{
	struct strmap lines;
	struct buf raw;
	size_t n;

	strmap_init(&lines);
	buf_init(&raw);
	n = verdict_lines(x, v, &lines, &raw);
	print_lines(x, &lines, n, indent);
	strmap_free(&lines);
	buf_wipe(&raw);
}

/* What the live tables do for the address now, when it differs from the
 * directory's verdict (until the next sync applies that): text or the
 * JSON member "live". */
static void
live_lines(struct ex *x, const struct rs_verdict *v, const char *address)
{
	struct strmap want, have;
	struct buf raw_want, raw_have;
	size_t n;

	strmap_init(&want);
	strmap_init(&have);
	buf_init(&raw_want);
	buf_init(&raw_have);
	(void)verdict_lines(x, v, &want, &raw_want);
	n = address_lines(address, x->live, &have, &raw_have);
	if (x->has_live && (raw_want.len != raw_have.len || (raw_want.len &&
	    memcmp(raw_want.data, raw_have.data, raw_want.len) != 0))) {
		if (x->json) {
			fprintf(x->fp, ",\"live\":{\"generation\":%lu,"
			    "\"lines\":[", x->generation);
			x->shown = 0;
			print_lines(x, &have, n, "");
			fputs("]}", x->fp);
		} else {
			fprintf(x->fp, "    live tables now (generation %lu, "
			    "until the next sync): %s\n", x->generation, n ?
			    "" : "no line: not routed");
			print_lines(x, &have, n, "      ");
		}
	} else if (x->json)
		fputs(",\"live\":null", x->fp);
	strmap_free(&want);
	strmap_free(&have);
	buf_wipe(&raw_want);
	buf_wipe(&raw_have);
}

static void
sendas_text(struct ex *x, const struct rs_verdict *v)
{
	const struct rs_value *a = &v->sa->f[RS_F_ADDRESS];
	struct buf shown, s;

	buf_init(&shown);
	buf_init(&s);
	printable(&shown, a->count ? a->val : "(no address)",
	    a->count ? a->len : 12);
	fprintf(x->fp, "  %s (%s)\n", shown.data, v->sa->dn);
	if (v->reason == RS_R_NONE) {
		fprintf(x->fp, "    verdict: route\n");
		route_lines(x, v, "      ");
	} else
		fprintf(x->fp, "    verdict: %s - %s\n    %s\n",
		    reason_code(v->reason), v->detail,
		    reason_sentence(&s, v->reason, shown.data));
	if (a->count)
		live_lines(x, v, a->val);
	buf_free(&shown);
	buf_free(&s);
}

static void
sendas_json(struct ex *x, const struct rs_verdict *v, int first)
{
	const struct rs_value *a = &v->sa->f[RS_F_ADDRESS];
	struct buf shown, s;

	buf_init(&shown);
	buf_init(&s);
	printable(&shown, a->count ? a->val : "", a->count ? a->len : 0);
	fprintf(x->fp, "%s{\"address\":", first ? "" : ",");
	json_str(x->fp, a->val ? a->val : "", a->len);
	fputs(",\"dn\":", x->fp);
	json_str(x->fp, v->sa->dn, strlen(v->sa->dn));
	fprintf(x->fp, ",\"verdict\":\"%s\",\"detail\":", v->reason ==
	    RS_R_NONE ? "route" : reason_code(v->reason));
	json_str(x->fp, v->reason ? v->detail : "", v->reason ?
	    strlen(v->detail) : 0);
	reason_sentence(&s, v->reason, shown.data);
	fputs(",\"sentence\":", x->fp);
	json_str(x->fp, s.data, s.len);
	fputs(",\"lines\":[", x->fp);
	x->shown = 0;
	if (v->reason == RS_R_NONE)
		route_lines(x, v, "");
	fputs("]", x->fp);
	live_lines(x, v, a->count ? a->val : "");
	fputs("}", x->fp);
	buf_free(&shown);
	buf_free(&s);
}

/* The owner's login names: mail submitted under them may use the
 * gateways (sender_login); an unusable one is shown as such. */
static void
user_logins(struct ex *x, const struct rs_user *u)
{
	struct buf b;
	size_t i;
	int usable = 0;

	buf_init(&b);
	fputs(x->json ? ",\"logins\":[" : "login names:", x->fp);
	for (i = 0; i < u->nlogins; i++) {
		printable(&b, u->logins[i].val, u->logins[i].len);
		if (valid_login(u->logins[i].val, u->logins[i].len, NULL) < 0)
			buf_adds(&b, x->json ? "" : " (unusable)");
		else
			usable++;
		if (x->json) {
			fputs(i ? "," : "", x->fp);
			json_str(x->fp, b.data, b.len);
		} else
			fprintf(x->fp, "%s %s", i ? "," : "", b.data);
	}
	if (x->json)
		fputs("]", x->fp);
	else
		fprintf(x->fp, "%s\n", usable ? "" : " none usable: the "
		    "user's addresses get no route (no_login)");
	buf_free(&b);
}

static void
user_head(struct ex *x, const struct rs_user *u)
{
	const char *dns[64], *by;
	size_t n = chain(x->c, u->dn, dns, 64), i;
	int allowed = policy_resolve(x->m, u->dn, x->c->policy.default_allow,
	    &by);
	const char *how = by == NULL ? "by the default (policy.default_allow)" :
	    strcmp(by, u->dn) == 0 ? "by the user's own value" :
	    "inherited from";

	if (x->json) {
		fputs("{\"user\":", x->fp);
		json_str(x->fp, u->display_dn, strlen(u->display_dn));
		fputs(",\"mail\":", x->fp);
		json_str(x->fp, u->mail, strlen(u->mail));
		fprintf(x->fp, ",\"disabled\":%s,\"allowed\":%s,\"decided_by\":",
		    u->disabled ? "true" : "false", allowed ? "true" : "false");
		if (by)
			json_str(x->fp, by, strlen(by));
		else
			fputs("null", x->fp);
		fprintf(x->fp, ",\"decision\":\"%s\",\"chain\":[", by == NULL ?
		    "default" : strcmp(by, u->dn) == 0 ? "own" : "inherited");
		for (i = 0; i < n; i++) {
			fprintf(x->fp, "%s{\"dn\":", i ? "," : "");
			json_str(x->fp, dns[i], strlen(dns[i]));
			fprintf(x->fp, ",\"allow\":%s}", model_policy(x->m,
			    dns[i]) == NULL ? "null" : model_policy(x->m,
			    dns[i])->allow ? "true" : "false");
		}
		fputs("]", x->fp);
		user_logins(x, u);
		fputs(",\"sendas\":[", x->fp);
		return;
	}
	fprintf(x->fp, "user %s <%s>%s\n", u->display_dn, u->mail,
	    u->disabled ? " (account disabled)" : "");
	user_logins(x, u);
	fputs("policy chain, from the base DN down:\n", x->fp);
	for (i = 0; i < n; i++)
		fprintf(x->fp, "  %-6s %s%s\n", allow_word(x->m, dns[i]), dns[i],
		    by && strcmp(by, dns[i]) == 0 ? "   <- decides" : "");
	fprintf(x->fp, "per-user gateways: %s, %s%s%s\nsend-as entries:\n",
	    allowed ? "allowed" : "forbidden", how, by && strcmp(by, u->dn) ?
	    " " : "", by && strcmp(by, u->dn) ? by : "");
}

static void
show_user(struct ex *x, const struct rs_user *u)
{
	size_t i;
	int first = 1;
	char *n;

	if (x->json && x->shown)
		fputc(',', x->fp);
	user_head(x, u);
	for (i = 0; i < x->d->n; i++) {
		if (strcmp(x->d->v[i].sa->owner, u->dn) != 0)
			continue;
		n = x->only_dn ? dn_norm(x->d->v[i].sa->dn) : NULL;
		if (n == NULL || strcmp(n, x->only_dn) == 0) {
			if (x->json)
				sendas_json(x, &x->d->v[i], first);
			else
				sendas_text(x, &x->d->v[i]);
			first = 0;
		}
		free(n);
	}
	if (x->json)
		fputs("]}", x->fp);
	else if (first)
		fputs("  (none)\n", x->fp);
	x->shown = 1;
}

/* Users matching an address: owners of that send-as address, else mail. */
static void
by_address(struct ex *x, const char *addr)
{
	const struct rs_value *a;
	const struct rs_user *u, *last = NULL;
	size_t i;

	for (i = 0; i < x->d->n; i++) {
		a = &x->d->v[i].sa->f[RS_F_ADDRESS];
		if (a->count == 0 || strcasecmp(a->val, addr) != 0)
			continue;
		u = model_user(x->m, x->d->v[i].sa->owner);
		if (u && u != last)
			show_user(x, u);
		else if (u == NULL && !x->json) {
			fprintf(x->fp, "send-as entry %s is not below a user "
			    "entry matched by users.filter:\n", x->d->v[i].sa->dn);
			sendas_text(x, &x->d->v[i]);
			x->shown = 1;
		}
		last = u;
	}
	for (i = 0; !x->shown && i < x->m->nusers; i++)
		if (strcasecmp(x->m->users[i].mail, addr) == 0)
			show_user(x, &x->m->users[i]);
}

static void
by_dn(struct ex *x, const char *dn)
{
	char *n = dn_norm(dn);
	const struct rs_user *u = model_user(x->m, n);
	size_t i;

	if (u)
		show_user(x, u);
	for (i = 0; u == NULL && i < x->m->nsendas; i++) {
		char *sn = dn_norm(x->m->sendas[i].dn);

		if (strcmp(sn, n) == 0 &&
		    (u = model_user(x->m, x->m->sendas[i].owner)) != NULL) {
			x->only_dn = n;
			show_user(x, u);
		}
		free(sn);
	}
	free(n);
}

/* The live generation's text tables (x->has_live: map_dir has them). */
static void
load_live(struct ex *x)
{
	struct buf path;
	struct rs_err err;
	int i;

	buf_init(&path);
	for (i = 0; i < RS_T_COUNT; i++) {
		buf_init(&x->live[i]);
		buf_reset(&path);
		buf_printf(&path, "%s/%s", x->c->postfix.map_dir,
		    rs_table_info[i].name);
		if (read_file(path.data, &x->live[i], &err) == 0)
			x->has_live = 1;
		buf_str(&x->live[i]);
	}
	x->generation = apply_generation(x->c);
	buf_free(&path);
}

/* An address the directory no longer has may still be live. */
static void
only_live(struct ex *x, const char *arg)
{
	struct strmap have;
	struct buf raw;
	size_t n;

	strmap_init(&have);
	buf_init(&raw);
	if (!x->json && (n = address_lines(arg, x->live, &have, &raw)) > 0) {
		fprintf(x->fp, "%s: the directory has no send-as entry for it; "
		    "live tables now (generation %lu, until the next sync "
		    "removes them):\n", arg, x->generation);
		print_lines(x, &have, n, "  ");
	}
	strmap_free(&have);
	buf_wipe(&raw);
}

int
explain(FILE *fp, enum rs_format fmt, const struct rs_config *c,
    const struct rs_model *m, const struct rs_decision *d, const char *arg)
{
	struct ex x;
	int i, rc = RS_EX_OK;

	memset(&x, 0, sizeof(x));
	x.fp = fp;
	x.json = fmt == RS_FMT_JSON;
	x.c = c;
	x.m = m;
	x.d = d;
	load_live(&x);
	if (x.json)
		fputs("{\"matches\":[", fp);
	if (strchr(arg, '=') != NULL)
		by_dn(&x, arg);
	else
		by_address(&x, arg);
	if (x.json)
		fputs("]}\n", fp);
	if (!x.shown) {
		only_live(&x, arg);
		rs_log(RS_LOG_ERROR, "%s: no user, send-as entry or address "
		    "below %s matches; check the spelling, ldap.base_dn and the "
		    "mapping's filters", arg, c->ldap.base_dn);
		rc = RS_EX_FAIL;
	}
	for (i = 0; i < RS_T_COUNT; i++)
		buf_wipe(&x.live[i]);
	return rc;
}
