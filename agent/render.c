/*
 * render - accepted routes as relaysync's table set.
 * See render.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "secret.h"

/* A next hop of tls_policy: where its text starts in the hops buffer. */
struct tls_entry {
	const char *hops;	/* the buffer, for the comparison */
	size_t at;
	int secure;
};

static int
cmp_tls(const void *a, const void *b)
{
	const struct tls_entry *x = a, *y = b;
	int c = strcmp(x->hops + x->at, y->hops + y->at);

	/* Equal keys: the TLS entry sorts first and wins. */
	return c ? c : y->secure - x->secure;
}

/* Every route's next hop, each ended by a NUL, in one buffer. */
static struct tls_entry *
tls_entries(const struct rs_decision *d, struct buf *hops)
{
	struct tls_entry *e = xcalloc(d->nroutes ? d->nroutes : 1, sizeof(*e));
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; i < d->nroutes; i++) {
		table_hop(&b, d->routes[i]->route.host,
		    d->routes[i]->route.port);
		e[i].at = hops->len;
		e[i].secure = d->routes[i]->route.sec != RS_SEC_NONE;
		buf_add(hops, b.data, b.len + 1);
	}
	for (i = 0; i < d->nroutes; i++)
		e[i].hops = hops->data;
	buf_free(&b);
	return e;
}

static void
render_tls_policy(const struct rs_decision *d, const char *level,
    struct buf *out)
{
	struct buf hops;
	struct tls_entry *e;
	size_t i;

	buf_init(&hops);
	e = tls_entries(d, &hops);
	qsort(e, d->nroutes, sizeof(*e), cmp_tls);
	for (i = 0; i < d->nroutes; i++)
		if (i == 0 || strcmp(hops.data + e[i].at,
		    hops.data + e[i - 1].at) != 0)
			table_put(out, RS_T_TLS_POLICY, hops.data + e[i].at,
			    e[i].secure ? level : "none", NULL, NULL);
	free(e);
	buf_free(&hops);
}

static void
render_route(struct rs_tables *t, const struct rs_verdict *v, struct buf *nh,
    struct buf *dn)
{
	const struct rs_route *r = &v->route;
	const char *via = r->sec == RS_SEC_SSL ? RS_SMTPS_TRANSPORT :
	    RS_SMTP_TRANSPORT;
	struct buf *tb = t->t;

	table_hop(nh, r->host, r->port);
	if (r->sec == RS_SEC_SSL)
		table_put(&tb[RS_T_SENDER_TRANSPORT], RS_T_SENDER_TRANSPORT,
		    r->address, via, nh->data, NULL);
	else
		table_put(&tb[RS_T_SENDER_RELAY], RS_T_SENDER_RELAY, r->address,
		    NULL, nh->data, NULL);
	table_put(&tb[RS_T_SENDER_ACCESS], RS_T_SENDER_ACCESS, r->address, via,
	    nh->data, NULL);
	table_put(&tb[RS_T_SENDER_LOGIN], RS_T_SENDER_LOGIN, r->address,
	    r->logins, NULL, NULL);
	if (r->username)
		table_put(&tb[RS_T_SASL_PASSWD], RS_T_SASL_PASSWD, r->address,
		    r->username, NULL, r->password);
	table_put(&tb[RS_T_OWNERS], RS_T_OWNERS, r->address, printable(dn,
	    v->owner_dn, strlen(v->owner_dn)), NULL, NULL);
}

void
render_tables(const struct rs_decision *d, const char *tls_level,
    struct rs_tables *t)
{
	struct buf nh, dn;
	size_t i;

	for (i = 0; i < RS_T_SET; i++)
		buf_init(&t->t[i]);
	buf_init(&nh);
	buf_init(&dn);
	for (i = 0; i < d->nroutes; i++)
		render_route(t, d->routes[i], &nh, &dn);
	render_tls_policy(d, tls_level, &t->t[RS_T_TLS_POLICY]);
	t->nroutes = d->nroutes;
	for (i = 0; i < RS_T_SET; i++)
		buf_str(&t->t[i]);
	buf_free(&nh);
	buf_free(&dn);
}

void
render_free(struct rs_tables *t)
{
	size_t i;

	for (i = 0; i < RS_T_SET; i++) {
		if (rs_table_info[i].mode == 0600)
			buf_wipe(&t->t[i]);
		else
			buf_free(&t->t[i]);
	}
}
