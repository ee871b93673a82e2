/*
 * render - accepted routes as Postfix lookup-table source text.
 * See render.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "secret.h"

const char *const rs_table_names[RS_T_COUNT] = {
	"sender_relay", "sender_transport", "sasl_passwd", "tls_policy",
	"sender_access", "sender_login"
};

const int rs_table_private[RS_T_COUNT] = { 0, 0, 1, 0, 0, 0 };

struct tls_entry {
	char *key;
	int secure;
};

const char *
render_nexthop(struct buf *b, const struct rs_route *r)
{
	buf_reset(b);
	buf_printf(b, "[%s]:%d", r->host, r->port);
	return buf_str(b);
}

/* "key value\n", or "key value:more\n". */
static void
line(struct buf *b, const char *key, const char *value, const char *more)
{
	buf_adds(b, key);
	buf_addc(b, ' ');
	buf_adds(b, value);
	if (more != NULL) {
		buf_addc(b, ':');
		buf_adds(b, more);
	}
	buf_addc(b, '\n');
}

static int
cmp_tls(const void *a, const void *b)
{
	const struct tls_entry *x = a, *y = b;
	int c = strcmp(x->key, y->key);

	/* Equal keys: the TLS entry sorts first and wins. */
	return c ? c : y->secure - x->secure;
}

static void
render_tls_policy(const struct rs_decision *d, const char *level,
    struct buf *out)
{
	struct tls_entry *e = xcalloc(d->nroutes, sizeof(*e));
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < d->nroutes; i++) {
		e[i].key = xstrdup(render_nexthop(&b, &d->routes[i]->route));
		e[i].secure = d->routes[i]->route.sec != RS_SEC_NONE;
	}
	qsort(e, d->nroutes, sizeof(*e), cmp_tls);
	for (i = 0; i < d->nroutes; i++)
		if (i == 0 || strcmp(e[i].key, e[i - 1].key) != 0)
			line(out, e[i].key, e[i].secure ? level : "none",
			    NULL);
	for (i = 0; i < d->nroutes; i++)
		free(e[i].key);
	free(e);
	buf_free(&b);
}

static void
render_route(struct rs_tables *t, const struct rs_verdict *v, struct buf *nh,
    struct buf *dn)
{
	const struct rs_route *r = &v->route;

	render_nexthop(nh, r);
	if (r->sec == RS_SEC_SSL)
		line(&t->t[RS_T_SENDER_TRANSPORT], r->address,
		    RS_SMTPS_TRANSPORT, nh->data);
	else
		line(&t->t[RS_T_SENDER_RELAY], r->address, nh->data, NULL);
	line(&t->t[RS_T_SENDER_ACCESS], r->address, r->sec == RS_SEC_SSL ?
	    "FILTER " RS_SMTPS_TRANSPORT : "FILTER " RS_SMTP_TRANSPORT,
	    nh->data);
	line(&t->t[RS_T_SENDER_LOGIN], r->address, r->logins, NULL);
	if (r->username)
		line(&t->t[RS_T_SASL_PASSWD], r->address, r->username,
		    r->password);
	line(&t->owners, r->address, printable(dn, v->owner_dn,
	    strlen(v->owner_dn)), NULL);
}

void
render_tables(const struct rs_decision *d, const char *tls_level,
    struct rs_tables *t)
{
	struct buf nh, dn;
	size_t i;

	for (i = 0; i < RS_T_COUNT; i++)
		buf_init(&t->t[i]);
	buf_init(&t->owners);
	buf_init(&nh);
	buf_init(&dn);
	for (i = 0; i < d->nroutes; i++)
		render_route(t, d->routes[i], &nh, &dn);
	render_tls_policy(d, tls_level, &t->t[RS_T_TLS_POLICY]);
	t->nroutes = d->nroutes;
	for (i = 0; i < RS_T_COUNT; i++)
		buf_str(&t->t[i]);
	buf_str(&t->owners);
	buf_free(&nh);
	buf_free(&dn);
}

void
render_free(struct rs_tables *t)
{
	size_t i;

	for (i = 0; i < RS_T_COUNT; i++) {
		if (rs_table_private[i])
			buf_wipe(&t->t[i]);
		else
			buf_free(&t->t[i]);
	}
	buf_free(&t->owners);
}

size_t
render_key_len(const char *line)
{
	return strcspn(line, " \t\n");
}

const char *
render_next_line(const char *line)
{
	line += strcspn(line, "\n");
	return *line ? line + 1 : line;
}

void
render_masked(struct buf *out, int table, const char *line)
{
	size_t len = strcspn(line, "\n"), k = render_key_len(line);
	const char *colon = memchr(line + k, ':', len - k);

	if (rs_table_private[table] && colon != NULL) {
		buf_add(out, line, (size_t)(colon - line) + 1);
		buf_adds(out, "********");
	} else
		buf_add(out, line, len);
	buf_str(out);
}

/* Compare the keys of two lines as the tables are sorted. */
static int
cmp_keys(const char *a, const char *b)
{
	size_t ka = render_key_len(a), kb = render_key_len(b);
	int c = strncmp(a, b, ka < kb ? ka : kb);

	return c ? c : ka < kb ? -1 : ka > kb;
}

/* Advance over one line; note when the keys do not ascend. */
static const char *
step(const char *line, const char **prev, int *unsorted)
{
	if (*prev != NULL && cmp_keys(*prev, line) >= 0)
		*unsorted = 1;
	*prev = line;
	return render_next_line(line);
}

int
render_diff(const char *old, const char *new, render_diff_fn fn, void *arg)
{
	const char *po = NULL, *pn = NULL;
	int c, unsorted = 0;
	size_t lo, ln;

	while ((*old || *new) && !unsorted) {
		c = !*old ? 1 : !*new ? -1 : cmp_keys(old, new);
		lo = strcspn(old, "\n");
		ln = strcspn(new, "\n");
		if (c != 0 || lo != ln || memcmp(old, new, lo) != 0)
			fn(arg, c <= 0 ? old : NULL, c >= 0 ? new : NULL);
		if (c <= 0)
			old = step(old, &po, &unsorted);
		if (c >= 0)
			new = step(new, &pn, &unsorted);
	}
	return unsorted ? -1 : 0;
}
