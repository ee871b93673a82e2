/*
 * render - accepted routes as relaysync's table set.
 * See render.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "secret.h"

/* Sort next hops as the table is sorted. */
static int
cmp_hop(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * tls_policy: each next hop once, postfix.tls_level when a TLS route uses
 * it, else "none". The hops are gathered in a map (hop -> 1, or 2 when a
 * route using it is secure) and only the distinct ones are sorted.
 */
static void
render_tls_policy(const struct rs_decision *d, const char *level,
    struct buf *out)
{
	struct strmap hops;
	struct buf b;
	const char **keys;
	size_t i, n = 0;
	void **slot;

	strmap_init(&hops);
	buf_init(&b);
	for (i = 0; i < d->nroutes; i++) {
		slot = strmap_slot(&hops, table_hop(&b, d->routes[i]->route.host,
		    d->routes[i]->route.port));
		if (*slot == NULL || d->routes[i]->route.sec != RS_SEC_NONE)
			*slot = (void *)(d->routes[i]->route.sec != RS_SEC_NONE ?
			    "2" : "1");
	}
	keys = xcalloc(hops.count ? hops.count : 1, sizeof(*keys));
	for (i = 0; i < hops.cap; i++)
		if (hops.slots[i].key != NULL)
			keys[n++] = hops.slots[i].key;
	qsort(keys, n, sizeof(*keys), cmp_hop);
	for (i = 0; i < n; i++)
		table_put(out, RS_T_TLS_POLICY, keys[i],
		    *(const char *)strmap_get(&hops, keys[i]) == '2' ? level :
		    "none", NULL, NULL);
	free(keys);
	strmap_free(&hops);
	buf_free(&b);
}

#define BIT(t)	(1u << (t))

/* The lines of one route in the tables of the set want (bits). */
static void
render_route(struct rs_tables *t, unsigned want, const struct rs_verdict *v,
    struct buf *nh, struct buf *dn)
{
	const struct rs_route *r = &v->route;
	const char *via = r->sec == RS_SEC_SSL ? RS_SMTPS_TRANSPORT :
	    RS_SMTP_TRANSPORT;
	struct buf *tb = t->t;

	table_hop(nh, r->host, r->port);
	if (r->sec == RS_SEC_SSL && (want & BIT(RS_T_SENDER_TRANSPORT)))
		table_put(&tb[RS_T_SENDER_TRANSPORT], RS_T_SENDER_TRANSPORT,
		    r->address, via, nh->data, NULL);
	else if (r->sec != RS_SEC_SSL && (want & BIT(RS_T_SENDER_RELAY)))
		table_put(&tb[RS_T_SENDER_RELAY], RS_T_SENDER_RELAY, r->address,
		    NULL, nh->data, NULL);
	if (want & BIT(RS_T_SENDER_ACCESS))
		table_put(&tb[RS_T_SENDER_ACCESS], RS_T_SENDER_ACCESS,
		    r->address, via, nh->data, NULL);
	if (want & BIT(RS_T_SENDER_LOGIN))
		table_put(&tb[RS_T_SENDER_LOGIN], RS_T_SENDER_LOGIN, r->address,
		    r->logins, NULL, NULL);
	if (r->username && (want & BIT(RS_T_SASL_PASSWD)))
		table_put(&tb[RS_T_SASL_PASSWD], RS_T_SASL_PASSWD, r->address,
		    r->username, NULL, r->password);
	if (want & BIT(RS_T_OWNERS))
		table_put(&tb[RS_T_OWNERS], RS_T_OWNERS, r->address,
		    printable(dn, v->owner_dn, strlen(v->owner_dn)), NULL,
		    NULL);
}

/* Room for the routes still to come at the rate of the first done ones:
 * one growth of each table instead of a copy at every doubling. */
static void
reserve_rest(struct rs_tables *t, unsigned want, size_t done, size_t total)
{
	size_t i;

	for (i = 0; i < RS_T_SET; i++)
		if (want & BIT(i))
			buf_reserve(&t->t[i], t->t[i].len / done *
			    (total - done) / 16 * 17);
}

/*
 * Half of the table set, in a thread of its own while the caller renders
 * the other half: sender_access and the owners file (whose DNs are
 * escaped byte by byte) against the other five, about half of the work
 * each (callgrind at 100,000 users); no buffer is shared.
 */
struct half {
	const struct rs_decision *d;
	const char *tls_level;
	struct rs_tables *t;
	unsigned want;
};

#define FIRST_HALF	(BIT(RS_T_SENDER_ACCESS) | BIT(RS_T_OWNERS))

static void *
render_half(void *arg)
{
	const struct half *h = arg;
	struct buf nh, dn;
	size_t i;

	buf_init(&nh);
	buf_init(&dn);
	for (i = 0; i < h->d->nroutes; i++) {
		if (i == 256)
			reserve_rest(h->t, h->want, i, h->d->nroutes);
		render_route(h->t, h->want, h->d->routes[i], &nh, &dn);
	}
	if (h->want & BIT(RS_T_TLS_POLICY))
		render_tls_policy(h->d, h->tls_level,
		    &h->t->t[RS_T_TLS_POLICY]);
	buf_free(&nh);
	buf_free(&dn);
	return NULL;
}

void
render_tables(const struct rs_decision *d, const char *tls_level,
    struct rs_tables *t)
{
	struct half h[2] = { { d, tls_level, t, FIRST_HALF },
	    { d, tls_level, t, BIT(RS_T_SET) - 1 - FIRST_HALF } };
	size_t i;

	for (i = 0; i < RS_T_SET; i++)
		buf_init(&t->t[i]);
	run_halves(render_half, &h[1], &h[0], 1);
	t->nroutes = d->nroutes;
	for (i = 0; i < RS_T_SET; i++)
		buf_str(&t->t[i]);
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
