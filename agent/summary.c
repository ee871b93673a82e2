/*
 * summary - what the last run decided, in brief.
 * See summary.h for the contract.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "secret.h"
#include "snapshot.h"
#include "stamp.h"
#include "summary.h"
#include "table.h"
#include "verify.h"

#define MAGIC	"relaysync-summary 1\n"

void
summary_init(struct rs_summary *s)
{
	memset(s, 0, sizeof(*s));
	buf_init(&s->cookie);
	buf_init(&s->files);
}

void
summary_free(struct rs_summary *s)
{
	buf_free(&s->cookie);
	buf_free(&s->files);
	summary_init(s);
}

#define INPUT_FILES	4

void
summary_inputs(const struct rs_config *c, char *const *own_hops,
    size_t n_own_hops, char *out)
{
	const char *files[INPUT_FILES] = { c->path, c->mapping_path,
	    c->secrets.key_file, NULL };
	const char **parts = xcalloc(1 + INPUT_FILES + n_own_hops,
	    sizeof(*parts));
	size_t *lens = xcalloc(1 + INPUT_FILES + n_own_hops, sizeof(*lens));
	struct buf text[INPUT_FILES], path;
	struct rs_err ignored;
	size_t n = 0, i;

	buf_init(&path);
	buf_printf(&path, "%s/%s", c->state_dir, RS_VERIFY_STATE);
	if (c->policy.require_gateway_check)
		files[3] = path.data;
	parts[n] = RELAYSYNC_VERSION;
	lens[n++] = strlen(RELAYSYNC_VERSION);
	for (i = 0; i < INPUT_FILES; i++, n++) {
		buf_init(&text[i]);
		if (files[i] == NULL || !*files[i] ||
		    read_file(files[i], &text[i], &ignored) < 0) {
			buf_reset(&text[i]);
			buf_adds(&text[i], "-");	/* none */
		}
		parts[n] = text[i].data;
		lens[n] = text[i].len;
	}
	for (i = 0; i < n_own_hops; i++, n++) {
		parts[n] = own_hops[i];
		lens[n] = strlen(own_hops[i]);
	}
	sha256_parts_hex(parts, lens, n, out);
	secret_keyed_hex(out);	/* it covers the key file */
	for (i = 0; i < INPUT_FILES; i++)
		buf_wipe(&text[i]);
	buf_free(&path);
	free(parts);
	free(lens);
}

/* One line for a file; nothing when it does not exist. */
static void
file_line(const char *dir, const char *name, const char *suffix,
    struct buf *path, struct buf *out)
{
	size_t len = out->len;

	buf_reset(path);
	buf_printf(path, "%s/%s%s", dir, name, suffix);
	buf_printf(out, "file %s%s ", name, suffix);
	if (file_identity(path->data, out) == 0)
		buf_addc(out, '\n');
	else
		out->len = len;
}

void
summary_files(const struct rs_config *c, struct buf *out)
{
	const char *suffix = map_suffix(c->postfix.map_type);
	struct buf path;
	int i;

	buf_init(&path);
	buf_reset(out);
	for (i = 0; i < RS_T_SET; i++) {
		file_line(c->postfix.map_dir, rs_table_info[i].name, "", &path,
		    out);
		if (suffix != NULL && rs_table_info[i].postfix)
			file_line(c->postfix.map_dir, rs_table_info[i].name,
			    suffix, &path, out);
	}
	file_line(c->state_dir, RS_SNAPSHOT_FILE, "", &path, out);
	file_line(c->state_dir, RS_JOURNAL_FILE, "", &path, out);
	file_line(c->state_dir, RS_REJECTED_FILE, "", &path, out);
	buf_str(out);
	buf_free(&path);
}

int
summary_rejected_kept(const struct rs_config *c, const struct rs_summary *s,
    const char *sum)
{
	struct buf path, line;
	const char *at;
	int kept;

	buf_init(&path);
	buf_init(&line);
	file_line(c->state_dir, RS_REJECTED_FILE, "", &path, &line);
	buf_str(&line);
	at = s->files.data && line.len ? strstr(s->files.data, line.data) : NULL;
	kept = strcmp(s->rejected, sum) == 0 && at != NULL &&
	    (at == s->files.data || at[-1] == '\n');
	buf_free(&path);
	buf_free(&line);
	return kept;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The SHA-256 of a set of strings: sorted, each once. */
static void
set_digest(const char **v, size_t n, char *out)
{
	size_t k, kept = 0;

	qsort(v, n, sizeof(*v), cmp_str);
	for (k = 0; k < n; k++)
		if (kept == 0 || strcmp(v[k], v[kept - 1]) != 0)
			v[kept++] = v[k];
	sha256_parts_hex(v, NULL, kept, out);
}

void
summary_uuids(const struct rs_model *m, char *out)
{
	const char **v = xcalloc(m->npol + m->nusers + m->nsendas + 1,
	    sizeof(*v));
	size_t n = 0, i;

	for (i = 0; i < m->npol; i++)
		if (*m->pol[i].uuid)
			v[n++] = m->pol[i].uuid;
	for (i = 0; i < m->nusers; i++)
		if (*m->users[i].uuid)
			v[n++] = m->users[i].uuid;
	for (i = 0; i < m->nsendas; i++)
		if (*m->sendas[i].uuid)
			v[n++] = m->sendas[i].uuid;
	set_digest(v, n, out);
	free(v);
}

void
summary_present(const struct rs_changes *ch, char *out)
{
	const char **v = xcalloc(ch->present.count + 1, sizeof(*v));
	size_t n = 0, i;

	for (i = 0; i < ch->present.cap; i++)
		if (ch->present.slots[i].key != NULL)
			v[n++] = ch->present.slots[i].key;
	set_digest(v, n, out);
	free(v);
}

/* The keyed SHA-256 of what ctx (sha256_begin()) was given. */
static void
keyed_end(void *ctx, char *out)
{
	sha256_end_hex(ctx, out);
	secret_keyed_hex(out);
}

static void
keyed_sum(const char *p, size_t len, char *out)
{
	void *ctx = sha256_begin();

	sha256_add(ctx, p, len);
	keyed_end(ctx, out);
}

static void
add_field(struct buf *b, const char *p, size_t len)
{
	buf_printf(b, " %zu:", len);
	buf_add(b, p, len);
}

int
summary_rejections(const struct rs_decision *d, struct rs_stream *out,
    char *sum)
{
	const struct rs_verdict *v;
	const struct rs_value *a;
	void *sha = sha256_begin();
	size_t i, from;

	for (i = 0; i < d->n; i++) {
		v = &d->v[i];
		if (v->reason == RS_R_NONE)
			continue;
		a = &v->sa->f[RS_F_ADDRESS];
		from = out->b.len;
		buf_printf(&out->b, "%d %u", (int)v->reason, a->count);
		add_field(&out->b, a->count ? a->val : "", a->count ?
		    a->len : 0);
		add_field(&out->b, v->sa->dn, strlen(v->sa->dn));
		add_field(&out->b, v->owner_dn, strlen(v->owner_dn));
		add_field(&out->b, v->detail, strlen(v->detail));
		buf_addc(&out->b, '\n');
		sha256_add(sha, out->b.data + from, out->b.len - from);
		stream_step(out);
	}
	keyed_end(sha, sum);
	return out->failed ? -1 : 0;
}

void
summary_dump(const struct rs_summary *s, struct buf *out)
{
	char sum[65];

	buf_reset(out);
	buf_printf(out, MAGIC "source %s\ngeneration %lu\ninputs %s\n"
	    "routes %zu %zu\nrejected %s\npresent %s\ncookie %zu:", s->source,
	    s->generation, s->inputs, s->routes, s->relay, s->rejected,
	    *s->present ? s->present : "-", s->cookie.len);
	buf_add(out, s->cookie.data, s->cookie.len);
	buf_addc(out, '\n');
	buf_add(out, s->files.data, s->files.len);
	keyed_sum(out->data, out->len, sum);
	buf_printf(out, "end %s\n", sum);
}

int
summary_parse(const struct buf *text, struct rs_summary *s,
    struct rs_err *err)
{
	const char *p = text->data ? text->data : "", *last;
	char sum[65];
	size_t n;
	int used = 0;

	if (text->len < strlen(MAGIC) + 69 || memcmp(p, MAGIC,
	    strlen(MAGIC)) != 0 || p[text->len - 1] != '\n')
		return rs_err_set(err, RS_EX_FAIL, "not a relaysync summary");
	last = p + text->len - 69;
	keyed_sum(p, (size_t)(last - p), sum);
	if (memcmp(last, "end ", 4) != 0 || memcmp(last + 4, sum, 64) != 0)
		return rs_err_set(err, RS_EX_FAIL, "summary checksum mismatch");
	p += strlen(MAGIC);
	if (sscanf(p, "source %64[0-9a-f]\ngeneration %lu\ninputs "
	    "%64[0-9a-f]\nroutes %zu %zu\nrejected %64[0-9a-f]\npresent "
	    "%64[0-9a-f-]\ncookie %zu:%n", s->source, &s->generation,
	    s->inputs, &s->routes, &s->relay, s->rejected, s->present, &n,
	    &used) != 8 || used == 0 ||
	    (size_t)(last - (p + used)) < n + 1 || p[used + n] != '\n')
		return rs_err_set(err, RS_EX_FAIL, "damaged summary header");
	buf_reset(&s->cookie);
	buf_add(&s->cookie, p + used, n);
	buf_str(&s->cookie);
	p += used + n + 1;
	buf_reset(&s->files);
	buf_add(&s->files, p, (size_t)(last - p));
	buf_str(&s->files);
	return 0;
}

/* A "<length>:<bytes>" field after a space; NUL-terminates it in place.
 * NULL when damaged. */
static char *
take_field(char **cur, const char *end, size_t *len)
{
	char *p = *cur, *colon;
	unsigned long long n;

	if (p >= end || *p != ' ')
		return NULL;
	n = strtoull(p + 1, &colon, 10);
	if (*colon != ':' || n > (size_t)(end - colon - 1))
		return NULL;
	p = colon + 1;
	*cur = p + n;
	if (*cur >= end || (**cur != ' ' && **cur != '\n'))
		return NULL;
	*len = (size_t)n;
	return p;
}

/* One rejection line into sa and v; -1 when damaged. */
static int
take_rejection(char **cur, const char *end, struct rs_sendas *sa,
    struct rs_verdict *v)
{
	char *fields[4], *p = *cur;
	size_t len[4];
	long reason;
	unsigned long count;
	int i;

	reason = strtol(p, &p, 10);
	count = strtoul(p, &p, 10);
	if (reason <= RS_R_NONE || reason >= RS_R_COUNT || count > 1000000)
		return -1;
	for (i = 0; i < 4; i++)
		if ((fields[i] = take_field(&p, end, &len[i])) == NULL)
			return -1;
	if (*p != '\n')
		return -1;
	for (i = 0; i < 4; i++)
		fields[i][len[i]] = '\0';	/* the separator after it */
	sa->f[RS_F_ADDRESS].val = fields[0];
	sa->f[RS_F_ADDRESS].len = len[0];
	sa->f[RS_F_ADDRESS].count = (unsigned)count;
	sa->dn = fields[1];
	v->sa = sa;
	v->owner_dn = fields[2];
	v->detail = fields[3];
	v->reason = (enum rs_reason)reason;
	*cur = p + 1;
	return 0;
}

static size_t
count_lines(const struct buf *b)
{
	const char *p = b->data, *end = b->data + b->len;
	size_t n = 0;

	while (p < end && (p = memchr(p, '\n', (size_t)(end - p))) != NULL) {
		n++;
		p++;
	}
	return n;
}

static const struct rs_verdict relay_route = {
	.route = { .sec = RS_SEC_STARTTLS } };
static const struct rs_verdict ssl_route = { .route = { .sec = RS_SEC_SSL } };

int
summary_decision(const struct rs_summary *s, struct buf *rejected,
    struct rs_decision *d)
{
	char sum[65], *cur = rejected->data, *end = rejected->data +
	    rejected->len;
	size_t most = count_lines(rejected), n;	/* a value may hold \n */
	struct rs_sendas *sa;

	memset(d, 0, sizeof(*d));
	keyed_sum(rejected->data ? rejected->data : "", rejected->len, sum);
	if (strcmp(sum, s->rejected) != 0 || s->relay > s->routes)
		return -1;
	sa = xcalloc(most ? most : 1, sizeof(*sa));
	/* then one verdict (RS_R_NONE) per route: a decision's n counts
	 * both */
	d->v = xcalloc(most + s->routes + 1, sizeof(*d->v));
	for (n = 0; cur < end; n++)
		if (n == most || take_rejection(&cur, end, &sa[n], &d->v[n]) <
		    0) {
			free(sa);
			free(d->v);
			d->v = NULL;
			return -1;
		}
	if (n == 0)
		free(sa);
	d->n = n + s->routes;
	d->nroutes = s->routes;
	d->routes = xcalloc(s->routes ? s->routes : 1, sizeof(*d->routes));
	for (n = 0; n < s->routes; n++)
		d->routes[n] = n < s->relay ? &relay_route : &ssl_route;
	return 0;
}

void
summary_decision_free(struct rs_decision *d)
{
	if (d->n > d->nroutes)
		free((void *)d->v[0].sa);	/* the array of summary_decision() */
	free(d->v);
	free(d->routes);
	memset(d, 0, sizeof(*d));
}
