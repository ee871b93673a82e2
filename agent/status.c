/*
 * status - what relaysync did last and what is live now.
 * See status.h for the contract.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "table.h"
#include "status.h"

/* One line's value: newlines become spaces. */
static void
add_value(struct buf *b, const char *key, const char *v)
{
	buf_printf(b, "%s ", key);
	for (; v && *v; v++)
		buf_addc(b, *v == '\n' ? ' ' : *v);
	buf_addc(b, '\n');
}

void
status_record(struct buf *b, const struct rs_run *run, int rc,
    const char *error, const struct rs_how *how)
{
	size_t i, by_reason[RS_R_COUNT] = { 0 };

	buf_reset(b);
	buf_printf(b, "time %lld\nexit_code %d\nresult %s\nread %s\n",
	    (long long)time(NULL), rc, rc == 0 && run && run->applied ?
	    "applied" : rc == 0 ? "no change" : rc == RS_EX_TEMPFAIL ?
	    "refused" : "failed", how == NULL ? "none" : how->incremental ?
	    "incremental" : "full");
	if (how != NULL && !how->incremental && how->reason != NULL) {
		buf_printf(b, "read_reason %s: ", how->reason);
		add_value(b, "", how->detail);
	}
	if (run != NULL) {
		buf_printf(b, "routes %zu\n", run->d->nroutes);
		for (i = 0; i < run->d->n; i++)
			by_reason[run->d->v[i].reason]++;
		for (i = 1; i < RS_R_COUNT; i++)
			if (by_reason[i])
				buf_printf(b, "rejected %s %zu\n",
				    reason_code((enum rs_reason)i), by_reason[i]);
	}
	if (error != NULL)
		add_value(b, "error", error);
	buf_str(b);
}

struct last {
	struct buf text;
	int present;
};

/* The value of "key value" in the record; NULL when absent. */
static const char *
get(struct last *l, const char *key, struct buf *out)
{
	const char *p = l->text.data;
	size_t k = strlen(key);

	for (; l->present && p && *p; p = strchr(p, '\n') ?
	    strchr(p, '\n') + 1 : NULL)
		if (strncmp(p, key, k) == 0 && p[k] == ' ') {
			buf_reset(out);
			buf_add(out, p + k + 1, strcspn(p + k + 1, "\n"));
			return buf_str(out);
		}
	return NULL;
}

static void
when(time_t t, char *out, size_t len)
{
	struct tm tm;
	long ago = (long)(time(NULL) - t);
	size_t n;

	localtime_r(&t, &tm);
	n = strftime(out, len, "%Y-%m-%d %H:%M:%S %Z", &tm);
	snprintf(out + n, len - n, ago < 120 ? " (%ld s ago)" :
	    ago < 7200 ? " (%ld min ago)" : " (%ld h ago)", ago < 120 ? ago :
	    ago < 7200 ? ago / 60 : ago / 3600);
}

/* The routes of the live generation: the lines of its owners file. */
static long
live_routes(const struct rs_config *c)
{
	struct buf path, text;
	struct rs_err err;
	const char *p;
	long n = -1;

	buf_init(&path);
	buf_init(&text);
	buf_printf(&path, "%s/%s", c->postfix.map_dir,
	    rs_table_info[RS_T_OWNERS].name);
	if (read_file(path.data, &text, &err) == 0)
		for (n = 0, p = buf_str(&text); *p; p = table_next_line(p))
			n += *p != '#' && *p != '\n';
	buf_free(&path);
	buf_free(&text);
	return n;
}

/* When relaysync.timer runs next, as systemctl says; into out. Returns 1
 * when known. */
static int
timer_next(struct buf *out)
{
	char *argv[] = { "/bin/systemctl", "show", "relaysync.timer", "-p",
	    "ActiveState", "-p", "NextElapseUSecRealtime", NULL };
	struct buf o;
	const char *next, *active;
	int rc, known = 0;

	buf_init(&o);
	rc = run_cmd(argv, &o);
	next = strstr(buf_str(&o), "NextElapseUSecRealtime=");
	active = strstr(o.data, "ActiveState=");
	buf_reset(out);
	if (rc != 0 || next == NULL || active == NULL)
		buf_printf(out, "unknown (systemctl cannot say%s%.*s)",
		    o.len ? ": " : "", (int)strcspn(o.data, "\n"), o.data);
	else if (strncmp(active + 12, "active\n", 7) != 0 &&
	    strcmp(active + 12, "active") != 0)
		buf_adds(out, "none: relaysync.timer is not active (systemctl "
		    "enable --now relaysync.timer)");
	else {
		next += strlen("NextElapseUSecRealtime=");
		buf_add(out, next, strcspn(next, "\n"));
		known = out->len > 0;
		if (!known)
			buf_adds(out, "unknown (systemctl names no time)");
	}
	buf_str(out);
	buf_free(&o);
	return known;
}

struct view {
	const struct rs_config *c;
	struct last last;
	unsigned long live, prev;
	long routes;
	struct rs_hold hold;
	int held;
	struct buf timer;
	int timer_known;
};

static void
rejected_text(struct view *v, FILE *fp, int json)
{
	const char *p = v->last.text.data;
	char reason[64];
	size_t n, total = 0;
	int first = 1;

	for (; v->last.present && p && *p; p = strchr(p, '\n') ?
	    strchr(p, '\n') + 1 : NULL) {
		if (sscanf(p, "rejected %63s %zu", reason, &n) != 2)
			continue;
		total += n;
		if (json)
			fprintf(fp, "%s\"%s\":%zu", first ? "" : ",", reason, n);
		else
			fprintf(fp, "%s%s %zu", first ? ": " : ", ", reason, n);
		first = 0;
	}
	if (!json && first)
		fputs(total ? "" : ": none", fp);
}

static void
show_text(struct view *v, FILE *fp)
{
	struct buf a, b;
	char t[96];

	buf_init(&a);
	buf_init(&b);
	fprintf(fp, "state_dir:        %s\n", v->c->state_dir);
	if (!v->last.present)
		fputs("last run:         never (no record in state_dir)\n", fp);
	else {
		when((time_t)atoll(get(&v->last, "time", &a) ? a.data : "0"),
		    t, sizeof(t));
		fprintf(fp, "last run:         %s: %s, exit %s", t,
		    get(&v->last, "result", &a) ? a.data : "?",
		    get(&v->last, "exit_code", &b) ? b.data : "?");
		if (get(&v->last, "read_reason", &b) == NULL)
			buf_reset(&b);
		if (get(&v->last, "read", &a))
			fprintf(fp, ", %s read%s%s%s", a.data, b.len ? " (" :
			    "", b.len ? buf_str(&b) : "", b.len ? ")" : "");
		fputc('\n', fp);
		if (get(&v->last, "error", &a))
			fprintf(fp, "                  error: %s\n", a.data);
		fprintf(fp, "rejected:         by the last run");
		rejected_text(v, fp, 0);
		fputc('\n', fp);
	}
	buf_reset(&a);
	if (v->prev)
		buf_printf(&a, "%lu", v->prev);
	if (v->live)
		fprintf(fp, "live generation:  %lu in %s.generations (kept for "
		    "rollback: %s)\n", v->live, v->c->postfix.map_dir,
		    v->prev ? buf_str(&a) : "none");
	else
		fprintf(fp, "live generation:  none (%s is not relaysync's "
		    "link yet)\n", v->c->postfix.map_dir);
	if (v->routes >= 0)
		fprintf(fp, "routes:           %ld\n", v->routes);
	fprintf(fp, "next timer run:   %s\n", v->timer.data);
	if (!v->held)
		fputs("hold:             none\n", fp);
	else {
		when(v->hold.since, t, sizeof(t));
		fprintf(fp, "hold:             syncs are held since %s: "
		    "relaysync rollback made generation %lu live (was %lu); "
		    "run relaysync resume to let syncs change the tables "
		    "again\n", t, v->hold.to, v->hold.from);
	}
	buf_free(&a);
	buf_free(&b);
}

static void
show_json(struct view *v, FILE *fp)
{
	struct buf a;

	buf_init(&a);
	fputc('{', fp);
	json_kv(fp, "state_dir", v->c->state_dir, 1);
	fputs("\"last_run\":", fp);
	if (!v->last.present)
		fputs("null,", fp);
	else {
		fprintf(fp, "{\"time\":%s,\"exit_code\":%s,",
		    get(&v->last, "time", &a) ? a.data : "0",
		    get(&v->last, "exit_code", &a) ? a.data : "null");
		json_kv(fp, "result", get(&v->last, "result", &a), 1);
		json_kv(fp, "read", get(&v->last, "read", &a), 1);
		json_kv(fp, "read_reason", get(&v->last, "read_reason", &a),
		    1);
		json_kv(fp, "error", get(&v->last, "error", &a), 1);
		fputs("\"rejected\":{", fp);
		rejected_text(v, fp, 1);
		fputs("}},", fp);
	}
	json_kv(fp, "map_dir", v->c->postfix.map_dir, 1);
	fprintf(fp, "\"live_generation\":%lu,\"previous_generation\":%lu,",
	    v->live, v->prev);
	if (v->routes >= 0)
		fprintf(fp, "\"routes\":%ld,", v->routes);
	else
		fputs("\"routes\":null,", fp);
	json_kv(fp, "timer_next", v->timer_known ? v->timer.data : NULL, 1);
	json_kv(fp, "timer", v->timer.data, 1);
	if (v->held)
		fprintf(fp, "\"hold\":{\"since\":%lld,\"from\":%lu,\"to\":%lu},",
		    (long long)v->hold.since, v->hold.from, v->hold.to);
	else
		fputs("\"hold\":null,", fp);
	fputs("\"version\":1}\n", fp);
	buf_free(&a);
}

int
status_show(const struct rs_config *c, enum rs_format fmt, FILE *fp)
{
	struct view v;
	struct buf path;
	struct rs_err err;

	memset(&v, 0, sizeof(v));
	v.c = c;
	buf_init(&path);
	buf_init(&v.last.text);
	buf_init(&v.timer);
	buf_printf(&path, "%s/%s", c->state_dir, RS_LASTRUN_FILE);
	v.last.present = read_file(path.data, &v.last.text, &err) == 0;
	buf_str(&v.last.text);
	apply_generations(c, &v.live, &v.prev);
	v.routes = live_routes(c);
	v.held = apply_held(c, &v.hold);
	v.timer_known = timer_next(&v.timer);
	if (fmt == RS_FMT_JSON)
		show_json(&v, fp);
	else
		show_text(&v, fp);
	buf_free(&path);
	buf_free(&v.last.text);
	buf_free(&v.timer);
	return RS_EX_OK;
}
