/*
 * plan - what a run would change, compared with the installed tables.
 * See plan.h for the contract.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <sys/stat.h>

#include "plan.h"
#include "secret.h"
#include "stamp.h"

/* One route as the installed tables describe it. */
struct old_route {
	char *gateway;		/* "[host]:port mode" */
	char *user;		/* sasl_passwd's username, or NULL */
	char *password;		/* its password: NULL when the line has none */
	char *logins;		/* the owner's login names (sender_login) */
	char *owner;
	int seen;		/* matched by a new route */
};

/*
 * The installed tables. Unless every address is compared (all), each
 * text is in strictly ascending order of keys, and it and the new text
 * of its table share whole lines: head bytes at the start and tail bytes
 * at the end, the same in both; only the lines between can differ.
 */
struct installed {
	struct buf text[RS_T_SET];
	const struct rs_tables *nt;	/* the new tables */
	size_t head[RS_T_SET];
	size_t tail[RS_T_SET];
	struct strmap routes;	/* address -> struct old_route */
	struct strmap tls;	/* next hop -> level */
	struct strmap touched;	/* addresses whose lines differ */
	struct strmap gateways;	/* a change's gateway text -> its copy */
	int all;		/* compare every address (touched unknown) */
	size_t lines;		/* installed routes */
};

static int
read_installed_file(const char *dir, const char *name, struct buf *b,
    int *present, struct rs_err *err)
{
	struct buf path;
	struct stat st;
	int rc = 0;

	buf_init(&path);
	buf_printf(&path, "%s/%s", dir, name);
	buf_reset(b);
	if (stat(path.data, &st) < 0 && errno == ENOENT)
		;
	else if (read_file(path.data, b, err) < 0)
		rc = rs_err_set(err, RS_EX_FAIL, "cannot read the installed "
		    "table: %s; fix its permissions or remove it", err->msg);
	else
		*present = 1;
	buf_str(b);
	buf_free(&path);
	return rc;
}

static struct old_route *
old_route(struct installed *in, const char *address)
{
	void **slot = strmap_slot(&in->routes, address);

	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(struct old_route));
	return *slot;
}

/* The next hop -> TLS level of the installed tls_policy. */
static void
read_levels(struct installed *in)
{
	const char *cur = in->text[RS_T_TLS_POLICY].data;
	struct rs_line l;
	struct buf hop;
	void **slot;

	buf_init(&hop);
	while (table_next(RS_T_TLS_POLICY, &cur, &l)) {
		buf_reset(&hop);
		buf_add(&hop, l.hop, l.hop_len);
		slot = strmap_slot(&in->tls, buf_str(&hop));
		free(*slot);
		*slot = xstrndup(l.value, l.value_len);
	}
	buf_free(&hop);
}

/* The "[host]:port security" of the route of line l of gateway table t. */
static void
read_gateway(struct installed *in, enum rs_table t, const struct rs_line *l,
    struct buf *gw)
{
	const char *level, *sec;
	struct old_route *r;

	buf_reset(gw);
	buf_add(gw, l->hop, l->hop_len);
	level = strmap_get(&in->tls, buf_str(gw));
	sec = rs_table_info[t].security ? rs_table_info[t].security :
	    level && strcmp(level, "none") == 0 ? "none" : "starttls";
	buf_addc(gw, ' ');
	buf_adds(gw, sec);
	buf_reset(gw + 1);
	buf_add(gw + 1, l->key, l->key_len);
	r = old_route(in, buf_str(gw + 1));
	free(r->gateway);
	r->gateway = xstrdup(gw->data);
}

/* How many lines of table t's form text holds between from and to. */
static size_t
count_lines(enum rs_table t, const char *from, const char *to)
{
	char *part = xstrndup(from, (size_t)(to - from));
	const char *cur = part;
	struct rs_line l;
	size_t n = 0;

	while (table_next(t, &cur, &l))
		n++;
	free(part);
	return n;
}

/* How many lines end between from and to (one without its newline at the
 * end counts). */
static size_t
count_newlines(const char *from, const char *to)
{
	size_t n = from < to && to[-1] != '\n';

	while (from < to && (from = memchr(from, '\n', (size_t)(to - from)))
	    != NULL) {
		n++;
		from++;
	}
	return n;
}

/* The installed routes of gateway table t: its shared head and tail are
 * lines of the new text (each one route); the lines between are counted
 * one by one. */
static size_t
installed_lines(const struct installed *in, enum rs_table t)
{
	const struct buf *o = &in->text[t];
	const char *head = o->data + in->head[t];
	const char *tail = o->data + o->len - in->tail[t];

	return count_newlines(o->data, head) + count_lines(t, head, tail) +
	    count_newlines(tail, o->data + o->len);
}

/* Are the few addresses that can have changed looked up one by one
 * (bisection), rather than every line read? */
static int
look_up(const struct installed *in)
{
	return !in->all && in->touched.count < in->nt->nroutes / 16 + 16;
}

/* The "[host]:port security" of each route of gateway table t whose
 * address can have changed; every line counts as an installed route. */
static void
read_gateways(struct installed *in, enum rs_table t)
{
	const struct buf *text = &in->text[t];
	const char *cur = text->data;
	struct rs_line l;
	struct buf gw[2];
	size_t i;

	buf_init(&gw[0]);
	buf_init(&gw[1]);
	while (!look_up(in) && table_next(t, &cur, &l)) {
		in->lines++;
		buf_reset(&gw[1]);
		buf_add(&gw[1], l.key, l.key_len);
		if (in->all || strmap_get(&in->touched, buf_str(&gw[1])))
			read_gateway(in, t, &l, gw);
	}
	if (look_up(in)) {
		in->lines += installed_lines(in, t);
		for (i = 0; i < in->touched.cap; i++)
			if (in->touched.slots[i].key != NULL &&
			    (cur = table_find(text->data, text->len,
			    in->touched.slots[i].key)) != NULL &&
			    table_get(t, cur, &l) == 0)
				read_gateway(in, t, &l, gw);
	}
	buf_free(&gw[0]);
	buf_free(&gw[1]);
}

/* Where table t's value goes in a route. */
static char **
route_field(struct old_route *r, enum rs_table t)
{
	return t == RS_T_SASL_PASSWD ? &r->user : t == RS_T_SENDER_LOGIN ?
	    &r->logins : &r->owner;
}

/* Where table t's secret goes in a route (NULL: the table has none). */
static char **
route_secret(struct old_route *r, enum rs_table t)
{
	return t == RS_T_SASL_PASSWD ? &r->password : NULL;
}

/* Route r's value of table t from line l, and its secret (sasl_passwd's
 * password). */
static void
read_value(struct old_route *r, enum rs_table t, const struct rs_line *l)
{
	char **f = route_field(r, t), **s;

	free(*f);
	*f = xstrndup(l->value, l->value_len);
	if ((s = route_secret(r, t)) != NULL) {
		secret_free_str(*s);
		*s = l->secret ? xstrndup(l->secret, l->secret_len) : NULL;
	}
}

/* The value of table t for each route read from the gateway tables. */
static void
read_values(struct installed *in, enum rs_table t)
{
	const struct buf *text = &in->text[t];
	const char *cur = text->data;
	struct old_route *r;
	struct rs_line l;
	struct buf key;
	size_t i;

	buf_init(&key);
	while (!look_up(in) && table_next(t, &cur, &l)) {
		buf_reset(&key);
		buf_add(&key, l.key, l.key_len);
		if ((r = strmap_get(&in->routes, buf_str(&key))) != NULL)
			read_value(r, t, &l);
	}
	for (i = 0; look_up(in) && i < in->routes.cap; i++)
		if (in->routes.slots[i].key != NULL &&
		    (cur = table_find(text->data, text->len,
		    in->routes.slots[i].key)) != NULL &&
		    table_get(t, cur, &l) == 0)
			read_value(in->routes.slots[i].val, t, &l);
	buf_free(&key);
}

/*
 * Which addresses can have changed: those whose line differs in a table
 * or in the owners file, and those routed through a next hop whose
 * tls_policy line differs. Every other route is the same on both sides,
 * and plan need not look at it (a table not in order: look at all).
 */
struct touch {
	struct strmap *set;
};

static void
touch_key(void *arg, const char *old, const char *new)
{
	struct touch *t = arg;
	const char *l = old ? old : new;
	char *k = xstrndup(l, table_key_len(l));

	*strmap_slot(t->set, k) = (void *)1;
	free(k);
}

/* Touch the address of line l. */
static void
touch_line(struct strmap *set, const struct rs_line *l, struct buf *b)
{
	buf_reset(b);
	buf_add(b, l->key, l->key_len);
	*strmap_slot(set, buf_str(b)) = (void *)1;
}

/* Touch every address of gateway table t routed through hop: the lines
 * of text (len bytes) where hop's text occurs. */
static void
touch_hop(struct strmap *set, const char *hop, enum rs_table t,
    const char *text, size_t len, struct buf *b)
{
	const char *at = text, *end = text + len, *line;
	size_t n = strlen(hop);
	struct rs_line l;

	while ((at = memmem(at, (size_t)(end - at), hop, n)) != NULL) {
		for (line = at; line > text && line[-1] != '\n'; line--)
			;
		if (table_get(t, line, &l) == 0 && l.hop_len == n &&
		    memcmp(l.hop, hop, n) == 0)
			touch_line(set, &l, b);
		at = table_next_line(at);
	}
}

/* Touch every address of gateway table t routed through one of the next
 * hops in hops: found by their text when they are few, else line by
 * line. */
static void
touch_hops(struct strmap *set, const struct strmap *hops, enum rs_table t,
    const struct buf *text)
{
	const char *cur = text->data;
	struct rs_line l;
	struct buf b;
	size_t i;

	buf_init(&b);
	for (i = 0; hops->count <= 4 && i < hops->cap; i++)
		if (hops->slots[i].key != NULL)
			touch_hop(set, hops->slots[i].key, t, text->data,
			    text->len, &b);
	while (hops->count > 4 && table_next(t, &cur, &l)) {
		buf_reset(&b);
		buf_add(&b, l.hop, l.hop_len);
		if (strmap_get(hops, buf_str(&b)) != NULL)
			touch_line(set, &l, &b);
	}
	buf_free(&b);
}

/* The whole lines that texts a and b (of lengths la and lb) both start
 * with (*head bytes) and, after those, both end with (*tail bytes). */
static void
shared_lines(const char *a, size_t la, const char *b, size_t lb, size_t *head,
    size_t *tail)
{
	size_t h = 0, t = 0, most = la < lb ? la : lb;

	while (h + 4096 <= most && memcmp(a + h, b + h, 4096) == 0)
		h += 4096;	/* whole blocks first: the texts are megabytes */
	while (h < most && a[h] == b[h])
		h++;
	while (h > 0 && a[h - 1] != '\n')
		h--;
	while (t + 4096 <= most - h && memcmp(a + la - t - 4096,
	    b + lb - t - 4096, 4096) == 0)
		t += 4096;
	while (t < most - h && a[la - 1 - t] == b[lb - 1 - t])
		t++;
	while (t > 0 && !((la - t == h || a[la - t - 1] == '\n') &&
	    (lb - t == h || b[lb - t - 1] == '\n')))
		t--;
	*head = h;
	*tail = t;
}

/* table_diff() of the lines of table i that differ, between its shared
 * head and tail; -1 when a text is not in ascending order there or
 * where the shared lines meet the others (the shared lines are the new
 * text's, which render wrote in order). */
static int
diff_between(struct installed *in, int i, table_diff_fn fn, void *arg)
{
	const struct buf *o = &in->text[i], *n = &in->nt->t[i];
	size_t h, t;

	shared_lines(o->data, o->len, n->data, n->len, &h, &t);
	in->head[i] = h;
	in->tail[i] = t;
	if (!table_ascends_at(o->data, o->len, h) ||
	    !table_ascends_at(o->data, o->len, o->len - t) ||
	    !table_ascends_at(n->data, n->len, h) ||
	    !table_ascends_at(n->data, n->len, n->len - t))
		return -1;
	return table_diff(o->data + h, o->len - h - t, n->data + h,
	    n->len - h - t, fn, arg);
}

static void
find_touched(struct installed *in, const struct rs_tables *nt)
{
	struct strmap hops;
	struct touch t;
	int i, rc = 0;

	strmap_init(&hops);
	for (i = 0; i < RS_T_SET && rc == 0; i++) {
		t.set = rs_table_info[i].form == RS_LF_POLICY ? &hops :
		    &in->touched;
		rc = diff_between(in, i, touch_key, &t);
	}
	/* A route whose gateway line differs is touched already; any other
	 * has the same line in both texts: the new ones are enough. */
	for (i = 0; i < RS_T_SET && rc == 0 && hops.count > 0; i++)
		if (rs_table_info[i].gateway)
			touch_hops(&in->touched, &hops, i, &nt->t[i]);
	in->all = rc < 0;
	strmap_free(&hops);
}

static void
parse_installed(struct installed *in)
{
	int i;

	read_levels(in);
	for (i = 0; i < RS_T_SET; i++)
		if (rs_table_info[i].gateway)
			read_gateways(in, i);
	read_values(in, RS_T_SASL_PASSWD);
	read_values(in, RS_T_SENDER_LOGIN);
	read_values(in, RS_T_OWNERS);
}

/* Does installed table i differ from the new one, or its index from its
 * text? */
static void
check_installed(const struct rs_config *c, const struct rs_installer *inst,
    const struct installed *in, const struct rs_tables *nt, int i,
    struct rs_plan *p)
{
	const char *name = rs_table_info[i].name;
	struct buf path;

	if (strcmp(in->text[i].data, nt->t[i].data) != 0) {
		p->reload = 1;
		p->differs |= 1u << i;
		return;
	}
	if (stamp_verified(c, name, &in->text[i]))
		return;
	p->verified++;
	buf_init(&path);
	buf_printf(&path, "%s/%s", c->postfix.map_dir, name);
	if (!inst->verify(c, path.data, &in->text[i])) {
		p->reload = 1;
		p->damaged |= 1u << i;
	}
	buf_free(&path);
}

static int
load_installed(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_tables *nt, struct installed *in, struct rs_plan *p,
    struct rs_err *err)
{
	int i, present = 0;

	for (i = 0; i < RS_T_SET; i++)
		if (read_installed_file(c->postfix.map_dir,
		    rs_table_info[i].name, &in->text[i], &present, err) < 0)
			return -1;
	for (i = 0; i < RS_T_SET; i++)
		if (rs_table_info[i].postfix)
			check_installed(c, inst, in, nt, i, p);
	p->installed = present;
	p->owners_differ = strcmp(in->text[RS_T_OWNERS].data,
	    nt->t[RS_T_OWNERS].data) != 0;
	p->apply = p->reload || !present || p->owners_differ;
	if (!present)
		p->reload = 1;
	in->all = !present;
	if (present)
		find_touched(in, nt);
	parse_installed(in);
	return 0;
}

static void
free_installed(struct installed *in)
{
	struct old_route *r;
	size_t i;

	for (i = 0; i < in->routes.cap; i++) {
		if (in->routes.slots[i].key == NULL)
			continue;
		r = in->routes.slots[i].val;
		free(r->gateway);
		free(r->user);
		secret_free_str(r->password);
		free(r->logins);
		free(r->owner);
		free(r);
	}
	strmap_free(&in->routes);
	strmap_free_values(&in->tls);
	strmap_free(&in->touched);
	strmap_free(&in->gateways);
	for (i = 0; i < RS_T_SET; i++) {
		if (rs_table_info[i].mode == 0600)
			buf_wipe(&in->text[i]);
		else
			buf_free(&in->text[i]);
	}
}

/* A change of address, which must outlive the plan. */
static struct rs_change *
add_change(struct rs_plan *p, enum rs_change_kind kind, const char *address)
{
	struct rs_change *c;

	p->c = vec_grow(p->c, &p->cap, p->n, sizeof(*p->c));
	c = &p->c[p->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->address = address;
	return c;
}

/* The installed username, as the report names it: none without a
 * password. */
static const char *
login_user(struct rs_plan *p, const struct old_route *o)
{
	return o->password ? arena_strdup(&p->text, o->user) : NULL;
}

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Does the installed sasl_passwd line carry route r's login? */
static int
same_login(const struct old_route *o, const struct rs_route *r)
{
	return same(o->user, r->username) &&
	    same(o->password, r->username ? r->password : NULL);
}

/* The owner's DN as the report shows it: the decision's own string when
 * it is printable as it is. */
static const char *
shown_owner(struct rs_plan *p, const char *dn)
{
	struct buf b;
	const char *shown;

	buf_init(&b);
	shown = printable(&b, dn, strlen(dn));
	shown = strcmp(shown, dn) == 0 ? dn : arena_strdup(&p->text, shown);
	buf_free(&b);
	return shown;
}

/* The text of a gateway, one copy in the plan per distinct gateway (a
 * first sync adds 115,000 routes through a few hundred gateways). */
static const char *
gateway_text(struct rs_plan *p, struct strmap *seen, const struct buf *gw)
{
	void **slot = strmap_slot(seen, gw->data);

	if (*slot == NULL)
		*slot = arena_copy(&p->text, gw->data, gw->len);
	return *slot;
}

/* The gateway of route r as a change shows it: "[host]:port mode". */
static void
gateway_of(struct buf *gw, const struct rs_route *r)
{
	table_hop(gw, r->host, r->port);
	buf_printf(gw, " %s", security_name(r->sec));
}

/* The new side of change c: verdict v's route. */
static void
new_side(struct rs_change *c, const struct rs_verdict *v, const char *owner,
    const char *gateway)
{
	c->address = v->route.address;
	c->owner_dn = owner;
	c->new_gateway = gateway;
	c->new_login = v->route.username;
	c->new_logins = v->route.logins;
}

static void
diff_route(struct rs_plan *p, struct strmap *gateways,
    const struct rs_verdict *v, struct old_route *o)
{
	const struct rs_route *r = &v->route;
	struct rs_change *c;
	struct buf gw;

	buf_init(&gw);
	gateway_of(&gw, r);
	if (o && same(o->gateway, gw.data) && same_login(o, r) &&
	    same(o->logins, r->logins))
		goto out;
	c = add_change(p, o ? RS_C_CHANGED : RS_C_ADDED, r->address);
	new_side(c, v, shown_owner(p, v->owner_dn), gateway_text(p, gateways,
	    &gw));
	if (o) {
		c->old_logins = arena_strdup(&p->text, o->logins);
		c->old_gateway = arena_strdup(&p->text, o->gateway);
		c->old_login = login_user(p, o);
		c->credentials_changed = !same_login(o, r);
	}
	o ? p->changed++ : p->added++;
out:
	buf_free(&gw);
}

/* The sort key of a verdict (policy.h: the decision is sorted by it, in
 * any case, then by DN). */
static const char *
verdict_address(const struct rs_verdict *v)
{
	const struct rs_value *a = &v->sa->f[RS_F_ADDRESS];

	return v->route.address ? v->route.address : a->val ? a->val : "";
}

/* The verdict of the first claim of a lower-case address, for removals:
 * the first of the decision's verdicts with that address. */
static const struct rs_verdict *
first_claim(const struct rs_decision *d, const char *address)
{
	size_t lo = 0, hi = d->n, mid;

	while (lo < hi) {
		mid = lo + (hi - lo) / 2;
		if (strcasecmp(verdict_address(&d->v[mid]), address) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < d->n && d->v[lo].sa->f[RS_F_ADDRESS].count > 0 &&
	    strcasecmp(verdict_address(&d->v[lo]), address) == 0 ? &d->v[lo] :
	    NULL;
}

static void
diff_removed(struct rs_plan *p, const struct rs_decision *d,
    struct installed *in)
{
	struct strmap_slot *s;
	struct old_route *o;
	struct rs_change *c;
	size_t i;

	for (i = 0; i < in->routes.cap; i++) {
		s = &in->routes.slots[i];
		if (s->key == NULL || (o = s->val)->seen || o->gateway == NULL)
			continue;
		c = add_change(p, RS_C_REMOVED, arena_strdup(&p->text,
		    s->key));
		c->owner_dn = arena_strdup(&p->text, o->owner);
		c->old_gateway = arena_strdup(&p->text, o->gateway);
		c->old_login = login_user(p, o);
		c->why = first_claim(d, s->key);
		p->removed++;
		if (c->why == NULL || c->why->reason == RS_R_NONE)
			p->vanished++;
	}
}

static int
cmp_change(const void *a, const void *b)
{
	const struct rs_change *x = a, *y = b;

	return strcmp(x->address, y->address);
}

/*
 * The limits guard against routes whose entries vanished from what the
 * run could read (a wrong base DN, filter or ACL): only those count.
 * A route removed by a decision (policy_forbidden, user_disabled, ...) is
 * a revocation and never held back.
 */
static void
check_limits(const struct rs_config *c, int force, struct rs_plan *p)
{
	if (force || p->vanished == 0)
		return;
	if (p->vanished > (size_t)c->policy.max_removals) {
		p->refused = 1;
		snprintf(p->refusal, sizeof(p->refusal), "refusing to remove "
		    "%zu routes whose entries vanished from the directory "
		    "(more than policy.max_removals = %ld); check "
		    "ldap.base_dn, the mapping filters and the directory ACLs, "
		    "then run again with --force if this is intended",
		    p->vanished, c->policy.max_removals);
	} else if (p->old_routes > 0 && p->new_routes == 0) {
		p->refused = 1;
		snprintf(p->refusal, sizeof(p->refusal), "refusing to remove "
		    "all %zu routes (the new table set would be empty and %zu "
		    "entries vanished from the directory); check "
		    "ldap.base_dn, the mapping filters and the directory ACLs, "
		    "then run again with --force if this is intended",
		    p->old_routes, p->vanished);
	}
}

static void add_words(struct rs_plan *, const char *, ...)
    __attribute__((format(printf, 2, 3)));

static void
add_words(struct rs_plan *p, const char *fmt, ...)
{
	size_t len = strlen(p->pending);
	va_list ap;

	snprintf(p->pending + len, sizeof(p->pending) - len, "%s", len ? "; " :
	    "");
	len = strlen(p->pending);
	va_start(ap, fmt);
	vsnprintf(p->pending + len, sizeof(p->pending) - len, fmt, ap);
	va_end(ap);
}

/* What a run would do besides the route changes, in words. */
static void
pending_words(const struct rs_config *c, struct rs_plan *p)
{
	int i;

	p->pending[0] = '\0';
	if (!p->apply)
		return;
	if (!p->installed) {
		add_words(p, "creating the table set in %s (no tables are "
		    "installed yet)", c->postfix.map_dir);
		return;
	}
	for (i = 0; i < RS_T_COUNT; i++)
		if (p->damaged & (1u << i))
			add_words(p, "repairing the index of %s (it does not "
			    "hold the lines of its text table)",
			    rs_table_info[i].name);
	for (i = 0; p->n == 0 && i < RS_T_COUNT; i++)
		if (p->differs & (1u << i))
			add_words(p, "rewriting %s (its lines change, no route "
			    "does)", rs_table_info[i].name);
	if (p->n == 0 && p->owners_differ)
		add_words(p, "%s", "updating the owners file (the owner of a "
		    "route changed)");
}

/* Append "-old" and "+new" lines, passwords masked. */
struct diffout {
	struct buf *out;
	enum rs_table table;
	int any;
};

static void
diff_line(struct diffout *d, char sign, const char *line)
{
	buf_addc(d->out, sign);
	table_masked(d->out, d->table, line);
	buf_addc(d->out, '\n');
}

static void
on_table_diff(void *arg, const char *old, const char *new)
{
	struct diffout *d = arg;

	d->any = 1;
	if (old)
		diff_line(d, '-', old);
	if (new)
		diff_line(d, '+', new);
}

static void
diff_one(const struct rs_config *c, enum rs_table table, const struct buf *nt,
    struct buf *out)
{
	const char *name = rs_table_info[table].name;
	struct buf old, lines;
	struct rs_err err;
	struct diffout d = { &lines, table, 0 };
	int present = 0;

	buf_init(&old);
	buf_init(&lines);
	if (read_installed_file(c->postfix.map_dir, name, &old, &present,
	    &err) < 0)
		buf_printf(out, "--- %s: %s\n", name, err.msg);
	else if (table_diff(old.data, old.len, nt->data ? nt->data : "",
	    nt->len, on_table_diff, &d) < 0)
		buf_printf(out, "--- %s/%s (live): not sorted by key; every "
		    "line is rewritten\n", c->postfix.map_dir, name);
	else if (d.any)
		buf_printf(out, "--- %s/%s (live)\n+++ %s (new)\n%s",
		    c->postfix.map_dir, name, name, buf_str(&lines));
	buf_wipe(&old);
	buf_wipe(&lines);
}

void
plan_diff(const struct rs_config *c, const struct rs_tables *nt,
    struct buf *out)
{
	int i;

	buf_reset(out);
	for (i = 0; i < RS_T_SET; i++)
		diff_one(c, i, &nt->t[i], out);
	buf_str(out);
}

/* The changes of the routes the installed tables (in) and the decision
 * do not agree on, sorted by address. */
static void
diff_routes(struct rs_plan *p, const struct rs_decision *d,
    struct installed *in)
{
	struct old_route *o;
	size_t i;

	p->old_routes = in->lines;
	for (i = 0; i < d->nroutes; i++) {
		if (!in->all && strmap_get(&in->touched,
		    d->routes[i]->route.address) == NULL)
			continue;
		o = strmap_get(&in->routes, d->routes[i]->route.address);
		if (o && o->gateway == NULL)
			o = NULL;
		if (o)
			o->seen = 1;
		diff_route(p, &in->gateways, d->routes[i], o);
	}
	diff_removed(p, d, in);
	if (p->n)
		qsort(p->c, p->n, sizeof(*p->c), cmp_change);
}

int
plan_build(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_decision *d, const struct rs_tables *nt, int force,
    struct rs_plan *p, struct rs_err *err)
{
	struct installed in;
	int rc;

	memset(p, 0, sizeof(*p));
	memset(&in, 0, sizeof(in));
	in.nt = nt;
	strmap_init(&in.routes);
	strmap_init(&in.tls);
	strmap_init(&in.touched);
	strmap_init(&in.gateways);
	rc = load_installed(c, inst, nt, &in, p, err);
	if (rc == 0 && !p->installed) {
		p->all_added = 1;	/* plan_next() makes each change */
		p->added = d->nroutes;
	} else if (rc == 0)
		diff_routes(p, d, &in);
	if (rc == 0) {
		p->new_routes = d->nroutes;
		check_limits(c, force, p);
		pending_words(c, p);
	}
	free_installed(&in);
	return rc;
}

void
plan_free(struct rs_plan *p)
{
	arena_free(&p->text);
	free(p->c);
	memset(p, 0, sizeof(*p));
}

void
plan_walk_init(struct rs_change_walk *w, const struct rs_plan *p,
    const struct rs_decision *d)
{
	memset(w, 0, sizeof(*w));
	w->p = p;
	w->d = d;
	buf_init(&w->gw);
	buf_init(&w->owner);
}

const struct rs_change *
plan_next(struct rs_change_walk *w)
{
	const struct rs_verdict *v;

	if (!w->p->all_added)
		return w->i < w->p->n ? &w->p->c[w->i++] : NULL;
	if (w->i >= w->d->nroutes)
		return NULL;
	v = w->d->routes[w->i++];
	memset(&w->c, 0, sizeof(w->c));
	w->c.kind = RS_C_ADDED;
	gateway_of(&w->gw, &v->route);
	new_side(&w->c, v, printable(&w->owner, v->owner_dn,
	    strlen(v->owner_dn)), w->gw.data);
	return &w->c;
}

void
plan_walk_free(struct rs_change_walk *w)
{
	buf_free(&w->gw);
	buf_free(&w->owner);
}
