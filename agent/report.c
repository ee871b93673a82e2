/*
 * report - what a run did or would do, for people (text) and programs
 * (JSON). See report.h for the contract.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "report.h"

static size_t
count_rejected(const struct rs_decision *d)
{
	return d->n - d->nroutes;
}

static const char *
shown_address(struct buf *b, const struct rs_verdict *v)
{
	const struct rs_value *a = &v->sa->f[RS_F_ADDRESS];

	if (a->count == 0)
		return "(no address)";
	return printable(b, a->val, a->len);
}

/* Text */

/* A removal a decision made (a reason code), not a vanished entry. */
static int
revoked(const struct rs_change *c)
{
	return c->why != NULL && c->why->reason != RS_R_NONE;
}

static int
logins_changed(const struct rs_change *c)
{
	return c->old_logins != NULL && c->new_logins != NULL &&
	    strcmp(c->old_logins, c->new_logins) != 0;
}

static void
text_change(FILE *fp, const struct rs_change *c)
{
	switch (c->kind) {
	case RS_C_ADDED:
		fprintf(fp, "added     %s via %s%s%s (owner %s)\n", c->address,
		    c->new_gateway, c->new_login ? " login " : "",
		    c->new_login ? c->new_login : "", c->owner_dn);
		break;
	case RS_C_CHANGED:
		fprintf(fp, "changed   %s via %s (was %s)%s%s%s (owner %s)\n",
		    c->address, c->new_gateway,
		    c->old_gateway ? c->old_gateway : "none",
		    c->credentials_changed ? "; credentials changed" : "",
		    logins_changed(c) ? "; owner logins now " : "",
		    logins_changed(c) ? c->new_logins : "", c->owner_dn);
		break;
	case RS_C_REMOVED:
		fprintf(fp, "removed   %s was %s: %s%s%s%s (owner %s)\n",
		    c->address, c->old_gateway, revoked(c) ? "revoked, " :
		    "vanished, ",
		    c->why ? reason_code(c->why->reason) : "deleted",
		    c->why ? " - " : "",
		    c->why ? c->why->detail : "the send-as entry is no longer "
		    "in the directory", c->owner_dn ? c->owner_dn : "unknown");
		break;
	}
}

static void
text_read(FILE *fp, const struct rs_how *h)
{
	if (h == NULL)
		return;
	if (h->incremental)
		fprintf(fp, "read: incremental, %zu changed and %zu deleted "
		    "entries since the last run\n", h->changed, h->deleted);
	else
		fprintf(fp, "read: full (%s: %s)\n", h->reason, h->detail);
}

static void
report_text(FILE *fp, const struct rs_run *r)
{
	const struct rs_decision *d = r->d;
	const struct rs_plan *p = r->p;
	struct rs_change_walk w;
	const struct rs_change *c;
	struct buf a, o;
	size_t i;

	buf_init(&a);
	buf_init(&o);
	plan_walk_init(&w, p, d);
	while ((c = plan_next(&w)) != NULL)
		text_change(fp, c);
	plan_walk_free(&w);
	for (i = 0; i < d->n; i++) {
		if (d->v[i].reason == RS_R_NONE)
			continue;
		fprintf(fp, "rejected  %s: %s - %s (owner %s)\n",
		    shown_address(&a, &d->v[i]), reason_code(d->v[i].reason),
		    d->v[i].detail, printable(&o, d->v[i].owner_dn,
		    strlen(d->v[i].owner_dn)));
	}
	text_read(fp, r->how);
	if (r->dry_run && *p->pending)
		fprintf(fp, "pending   %s\n", p->pending);
	fprintf(fp, "summary: %zu added, %zu changed, %zu removed, %zu "
	    "rejected; %zu routes%s%s\n", p->added, p->changed, p->removed,
	    count_rejected(d), d->nroutes,
	    r->dry_run ? (p->apply ? "; dry run, changes pending" :
	    "; dry run, no changes") : r->applied ? "; applied" :
	    "; nothing to apply", r->reloaded ? ", Postfix reloaded" : "");
	if (p->refused)
		fprintf(fp, "refused: %s\n", p->refusal);
	buf_free(&a);
	buf_free(&o);
}

/* JSON */

static size_t
utf8_len(const unsigned char *s, size_t n)
{
	size_t len, i;

	if (s[0] < 0x80)
		return 1;
	len = (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3 :
	    (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	if (len == 0 || len > n || s[0] == 0xc0 || s[0] == 0xc1 || s[0] > 0xf4)
		return 0;
	for (i = 1; i < len; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return len;
}

/* How many bytes from s on need no escaping (printable ASCII). */
static size_t
json_plain(const unsigned char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n && s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' &&
	    s[i] != '\\'; i++)
		;
	return i;
}

void
json_str(FILE *fp, const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0, l;

	fputc('"', fp);
	while (i < n) {
		if ((l = json_plain(u + i, n - i)) > 0) {
			fwrite(u + i, 1, l, fp);
			i += l;
		} else if (u[i] == '"' || u[i] == '\\')
			fprintf(fp, "\\%c", u[i++]);
		else if (u[i] < 0x20 || u[i] == 0x7f)
			fprintf(fp, "\\u%04x", u[i++]);
		else if ((l = utf8_len(u + i, n - i)) == 0) {
			fputs("\\ufffd", fp);
			i++;
		} else {
			fwrite(u + i, 1, l, fp);
			i += l;
		}
	}
	fputc('"', fp);
}

void
json_kv(FILE *fp, const char *key, const char *val, int comma)
{
	fprintf(fp, "\"%s\":", key);
	if (val)
		json_str(fp, val, strlen(val));
	else
		fputs("null", fp);
	if (comma)
		fputc(',', fp);
}

static void
json_change(FILE *fp, const struct rs_change *c)
{
	const char *logins = logins_changed(c) ? "true" : "false";

	fputc('{', fp);
	json_kv(fp, "address", c->address, 1);
	json_kv(fp, "owner_dn", c->owner_dn, 1);
	json_kv(fp, "old_gateway", c->old_gateway, 1);
	json_kv(fp, "new_gateway", c->new_gateway, 1);
	json_kv(fp, "old_login", c->old_login, 1);
	json_kv(fp, "new_login", c->new_login, 1);
	if (c->kind == RS_C_REMOVED) {
		json_kv(fp, "reason", c->why ? reason_code(c->why->reason) :
		    "deleted", 1);
		json_kv(fp, "detail", c->why ? c->why->detail :
		    "the send-as entry is no longer in the directory", 1);
		fprintf(fp, "\"revoked\":%s,", revoked(c) ? "true" : "false");
	}
	json_kv(fp, "new_logins", c->new_logins, 1);
	fprintf(fp, "\"logins_changed\":%s,", logins);
	fprintf(fp, "\"credentials_changed\":%s}",
	    c->credentials_changed ? "true" : "false");
}

static void
json_changes(FILE *fp, const struct rs_run *r, enum rs_change_kind kind,
    const char *name)
{
	struct rs_change_walk w;
	const struct rs_change *c;
	int first = 1;

	fprintf(fp, "\"%s\":[", name);
	plan_walk_init(&w, r->p, r->d);
	while ((c = plan_next(&w)) != NULL) {
		if (c->kind != kind)
			continue;
		if (!first)
			fputc(',', fp);
		first = 0;
		json_change(fp, c);
	}
	plan_walk_free(&w);
	fputs("],", fp);
}

static void
json_rejected(FILE *fp, const struct rs_decision *d)
{
	const struct rs_value *a;
	struct buf shown, hint;
	size_t i;
	int first = 1;

	buf_init(&shown);
	buf_init(&hint);
	fputs("\"rejected\":[", fp);
	for (i = 0; i < d->n; i++) {
		if (d->v[i].reason == RS_R_NONE)
			continue;
		fputs(first ? "{" : ",{", fp);
		first = 0;
		a = &d->v[i].sa->f[RS_F_ADDRESS];
		fputs("\"address\":", fp);
		if (a->count)
			json_str(fp, a->val, a->len);
		else
			fputs("null", fp);
		fputc(',', fp);
		json_kv(fp, "dn", d->v[i].sa->dn, 1);
		json_kv(fp, "owner_dn", d->v[i].owner_dn, 1);
		json_kv(fp, "reason", reason_code(d->v[i].reason), 1);
		json_kv(fp, "detail", d->v[i].detail, 1);
		json_kv(fp, "hint", reason_sentence(&hint, d->v[i].reason,
		    shown_address(&shown, &d->v[i])), 0);
		fputc('}', fp);
	}
	fputs("],", fp);
	buf_free(&shown);
	buf_free(&hint);
}

static void
json_read(FILE *fp, const struct rs_how *h)
{
	if (h == NULL)
		return;
	json_kv(fp, "read", h->incremental ? "incremental" : "full", 1);
	if (h->incremental)
		fprintf(fp, "\"read_changed\":%zu,\"read_deleted\":%zu,",
		    h->changed, h->deleted);
	else {
		json_kv(fp, "read_reason", h->reason, 1);
		json_kv(fp, "read_detail", h->detail, 1);
	}
}

static void
report_json(FILE *fp, const struct rs_run *r)
{
	const struct rs_plan *p = r->p;

	fprintf(fp, "{\"dry_run\":%s,\"changes_pending\":%s,\"applied\":%s,"
	    "\"reloaded\":%s,\"refused\":%s,", r->dry_run ? "true" : "false",
	    p->apply && !r->applied ? "true" : "false",
	    r->applied ? "true" : "false", r->reloaded ? "true" : "false",
	    p->refused ? "true" : "false");
	json_kv(fp, "refusal", p->refused ? p->refusal : NULL, 1);
	json_kv(fp, "pending", *p->pending ? p->pending : NULL, 1);
	json_kv(fp, "error", r->error, 1);
	json_read(fp, r->how);
	fprintf(fp, "\"summary\":{\"added\":%zu,\"changed\":%zu,\"removed\":%zu,"
	    "\"revoked\":%zu,\"vanished\":%zu,\"rejected\":%zu,"
	    "\"routes\":%zu},", p->added, p->changed, p->removed,
	    p->removed - p->vanished, p->vanished, count_rejected(r->d),
	    r->d->nroutes);
	json_changes(fp, r, RS_C_ADDED, "added");
	json_changes(fp, r, RS_C_CHANGED, "changed");
	json_changes(fp, r, RS_C_REMOVED, "removed");
	json_rejected(fp, r->d);
	fprintf(fp, "\"exit_code\":%d,\"version\":1}\n", r->exit_code);
}

void
report_write(FILE *fp, enum rs_format fmt, const struct rs_run *r)
{
	if (fmt == RS_FMT_JSON)
		report_json(fp, r);
	else
		report_text(fp, r);
	fflush(fp);
}

/* Render into memory with a FILE * writer. */
static void
to_buf(struct buf *out, void (*fn)(FILE *, const void *, int, const char *),
    const void *arg, int code, const char *error)
{
	char *mem = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&mem, &len);

	buf_reset(out);
	if (fp == NULL)
		return;
	fn(fp, arg, code, error);
	fclose(fp);
	buf_add(out, mem, len);
	free(mem);
}

static void
run_json(FILE *fp, const void *run, int code, const char *error)
{
	(void)code;
	(void)error;
	report_json(fp, run);
}

static void
failure_json(FILE *fp, const void *unused, int code, const char *error)
{
	(void)unused;
	fputs("{\"dry_run\":false,\"applied\":false,", fp);
	json_kv(fp, "error", error, 1);
	fprintf(fp, "\"exit_code\":%d,\"version\":1}\n", code);
}

void
report_json_buf(const struct rs_run *r, struct buf *out)
{
	to_buf(out, run_json, r, 0, NULL);
}

void
report_failure_json(struct buf *out, int code, const char *error)
{
	to_buf(out, failure_json, NULL, code, error);
}

void
report_log(const struct rs_run *r)
{
	struct rs_change_walk w;
	const struct rs_change *c;

	plan_walk_init(&w, r->p, r->d);
	while (r->applied && (c = plan_next(&w)) != NULL) {
		if (c->kind == RS_C_ADDED)
			rs_log(RS_LOG_INFO, "added route %s via %s for %s",
			    c->address, c->new_gateway, c->owner_dn);
		else if (c->kind == RS_C_CHANGED)
			rs_log(RS_LOG_INFO, "changed route %s via %s (was "
			    "%s)%s for %s", c->address, c->new_gateway,
			    c->old_gateway ? c->old_gateway : "none",
			    c->credentials_changed ? ", credentials changed" :
			    "", c->owner_dn);
		else
			rs_log(RS_LOG_INFO, "removed route %s (was %s): %s "
			    "for %s", c->address, c->old_gateway,
			    c->why ? reason_code(c->why->reason) : "deleted",
			    c->owner_dn ? c->owner_dn : "unknown owner");
	}
	plan_walk_free(&w);
	if (r->applied || (!r->p->refused && !r->error))
		rs_log(RS_LOG_INFO, "sync %s: %zu added, %zu changed, %zu "
		    "removed, %zu rejected; %zu routes", !r->applied ?
		    "no change" : r->error ? "applied, but the reload failed" :
		    "applied", r->p->added, r->p->changed,
		    r->p->removed, count_rejected(r->d), r->d->nroutes);
	else	/* nothing of it is live: never word it like a success */
		rs_log(RS_LOG_INFO, "sync %s: nothing applied (%zu additions, "
		    "%zu changes and %zu removals not installed), %zu "
		    "rejected; the installed tables are unchanged",
		    r->p->refused ? "refused" : "failed", r->p->added,
		    r->p->changed, r->p->removed, count_rejected(r->d));
}

static void
metric(struct buf *b, const char *name, const char *help, const char *type)
{
	buf_printf(b, "# HELP relaysync_%s %s\n# TYPE relaysync_%s %s\n", name,
	    help, name, type);
}

static void
metrics_decision(struct buf *b, const struct rs_run *r)
{
	size_t i, relay = 0, by_reason[RS_R_COUNT] = { 0 };

	for (i = 0; i < r->d->n; i++)
		by_reason[r->d->v[i].reason]++;
	for (i = 0; i < r->d->nroutes; i++)
		relay += r->d->routes[i]->route.sec != RS_SEC_SSL;
	metric(b, "routes", "Routes in the tables of the last run, by kind.",
	    "gauge");
	buf_printf(b, "relaysync_routes{kind=\"relay\"} %zu\n"
	    "relaysync_routes{kind=\"transport\"} %zu\n", relay,
	    r->d->nroutes - relay);
	metric(b, "rejected", "Send-as entries rejected by the last run, by "
	    "reason code.", "gauge");
	for (i = 1; i < RS_R_COUNT; i++)
		buf_printf(b, "relaysync_rejected{reason=\"%s\"} %zu\n",
		    reason_code((enum rs_reason)i), by_reason[i]);
	metric(b, "changes_applied", "Route changes applied by the last run.",
	    "gauge");
	buf_printf(b, "relaysync_changes_applied{kind=\"added\"} %zu\n"
	    "relaysync_changes_applied{kind=\"changed\"} %zu\n"
	    "relaysync_changes_applied{kind=\"removed\"} %zu\n",
	    r->applied ? r->p->added : 0, r->applied ? r->p->changed : 0,
	    r->applied ? r->p->removed : 0);
}

void
report_metrics(struct buf *b, const struct rs_run *r, int code, double secs)
{
	buf_reset(b);
	metric(b, "last_run_success", "1 if the last sync run succeeded.",
	    "gauge");
	buf_printf(b, "relaysync_last_run_success %d\n", code == 0);
	metric(b, "last_run_timestamp_seconds", "When the last sync run "
	    "ended, in Unix time.", "gauge");
	buf_printf(b, "relaysync_last_run_timestamp_seconds %lld\n",
	    (long long)time(NULL));
	metric(b, "last_run_duration_seconds", "How long the last sync run "
	    "took.", "gauge");
	buf_printf(b, "relaysync_last_run_duration_seconds %.3f\n", secs);
	metric(b, "last_run_exit_code", "The exit code of the last sync run.",
	    "gauge");
	buf_printf(b, "relaysync_last_run_exit_code %d\n", code);
	if (r && r->how) {
		metric(b, "last_run_incremental", "1 if the last sync run read "
		    "only what changed (RFC 4533), 0 if it read everything.",
		    "gauge");
		buf_printf(b, "relaysync_last_run_incremental %d\n",
		    r->how->incremental);
	}
	if (r)
		metrics_decision(b, r);
}
