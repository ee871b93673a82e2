/*
 * render - accepted routes as relaysync's table set.
 * See render.h for the contract.
 */
#include <stdlib.h>
#include <string.h>

#include "render.h"
#include "secret.h"

struct tls_entry {
	char *key;
	int secure;
};

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
		e[i].key = xstrdup(table_hop(&b, d->routes[i]->route.host,
		    d->routes[i]->route.port));
		e[i].secure = d->routes[i]->route.sec != RS_SEC_NONE;
	}
	qsort(e, d->nroutes, sizeof(*e), cmp_tls);
	for (i = 0; i < d->nroutes; i++)
		if (i == 0 || strcmp(e[i].key, e[i - 1].key) != 0)
			table_put(out, RS_T_TLS_POLICY, e[i].key,
			    e[i].secure ? level : "none", NULL, NULL);
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
