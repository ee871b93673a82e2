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
#include <unistd.h>
#include <sys/stat.h>

#include "plan.h"
#include "secret.h"

/* One route as the installed tables describe it. */
struct old_route {
	char *gateway;		/* "[host]:port mode" */
	char *login;		/* "user:password" or NULL */
	char *logins;		/* the owner's login names (sender_login) */
	char *owner;
	int seen;		/* matched by a new route */
};

struct installed {
	struct buf text[RS_T_COUNT];
	struct buf owners;
	struct strmap routes;	/* address -> struct old_route */
	struct strmap tls;	/* nexthop -> level (points into text) */
	struct strmap touched;	/* addresses whose lines differ */
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

/* Split the next "key value" line of a table; NULL at the end. */
static char *
next_line(char **cursor, char **value)
{
	char *line = *cursor, *nl, *sp;

	while (line && *line) {
		if ((nl = strchr(line, '\n')) != NULL)
			*nl = '\0';
		*cursor = nl ? nl + 1 : NULL;
		if (*line != '#' && (sp = strchr(line, ' ')) != NULL) {
			*sp = '\0';
			*value = sp + 1;
			return line;
		}
		line = *cursor;
	}
	return NULL;
}

static struct old_route *
old_route(struct installed *in, const char *address)
{
	void **slot = strmap_slot(&in->routes, address);

	if (*slot == NULL)
		*slot = xcalloc(1, sizeof(struct old_route));
	return *slot;
}

static void
parse_gateways(struct installed *in, enum rs_table t)
{
	static const char smtps[] = RS_SMTPS_TRANSPORT ":";
	char *cur = in->text[t].data, *key, *val, *nh;
	const char *level, *mode;
	struct old_route *r;
	struct buf b;

	buf_init(&b);
	while ((key = next_line(&cur, &val)) != NULL) {
		in->lines++;
		if (!in->all && strmap_get(&in->touched, key) == NULL)
			continue;
		nh = val;
		if (t == RS_T_SENDER_TRANSPORT &&
		    strncmp(val, smtps, sizeof(smtps) - 1) == 0)
			nh = val + sizeof(smtps) - 1;
		level = strmap_get(&in->tls, nh);
		mode = t == RS_T_SENDER_TRANSPORT ? "ssl" :
		    level && strcmp(level, "none") == 0 ? "none" : "starttls";
		buf_reset(&b);
		buf_printf(&b, "%s %s", nh, mode);
		r = old_route(in, key);
		free(r->gateway);
		r->gateway = xstrdup(b.data);
	}
	buf_free(&b);
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
	char *k = xstrndup(l, strcspn(l, " \t\n"));

	*strmap_slot(t->set, k) = (void *)1;
	free(k);
}

/* Touch every address of a relay or transport text routed through one of
 * the next hops in hops. */
static void
touch_hops(struct strmap *set, const struct strmap *hops, const char *text)
{
	static const char smtps[] = RS_SMTPS_TRANSPORT ":";
	const char *l, *v;
	struct buf nh;
	size_t k;

	buf_init(&nh);
	for (l = text; *l; l += strcspn(l, "\n"), l += *l == '\n') {
		k = strcspn(l, " \t\n");
		v = l + k + strspn(l + k, " \t");
		if (strncmp(v, smtps, sizeof(smtps) - 1) == 0)
			v += sizeof(smtps) - 1;
		buf_reset(&nh);
		buf_add(&nh, v, strcspn(v, "\n"));
		if (strmap_get(hops, nh.data) != NULL) {
			buf_reset(&nh);
			buf_add(&nh, l, k);
			*strmap_slot(set, nh.data) = (void *)1;
		}
	}
	buf_free(&nh);
}

static void
find_touched(struct installed *in, const struct rs_tables *nt)
{
	enum rs_table tabs[] = { RS_T_SENDER_RELAY, RS_T_SENDER_TRANSPORT,
	    RS_T_SASL_PASSWD, RS_T_SENDER_ACCESS, RS_T_SENDER_LOGIN };
	struct strmap hops;
	struct touch t = { &hops };
	size_t i;
	int rc;

	strmap_init(&hops);
	rc = render_diff(in->text[RS_T_TLS_POLICY].data,
	    nt->t[RS_T_TLS_POLICY].data, touch_key, &t);
	t.set = &in->touched;
	for (i = 0; i < sizeof(tabs) / sizeof(tabs[0]) && rc == 0; i++)
		rc = render_diff(in->text[tabs[i]].data, nt->t[tabs[i]].data,
		    touch_key, &t);
	if (rc == 0)
		rc = render_diff(in->owners.data, nt->owners.data, touch_key,
		    &t);
	for (i = 0; i < 2 && rc == 0 && hops.count > 0; i++) {
		touch_hops(&in->touched, &hops, in->text[tabs[i]].data);
		touch_hops(&in->touched, &hops, nt->t[tabs[i]].data);
	}
	in->all = rc < 0;
	strmap_free(&hops);
}

static void
parse_installed(struct installed *in)
{
	char *cur, *key, *val;

	cur = in->text[RS_T_TLS_POLICY].data;
	while ((key = next_line(&cur, &val)) != NULL)
		*strmap_slot(&in->tls, key) = val;
	parse_gateways(in, RS_T_SENDER_RELAY);
	parse_gateways(in, RS_T_SENDER_TRANSPORT);
	cur = in->text[RS_T_SASL_PASSWD].data;
	while ((key = next_line(&cur, &val)) != NULL)
		if (strmap_get(&in->routes, key))
			old_route(in, key)->login = xstrdup(val);
	cur = in->text[RS_T_SENDER_LOGIN].data;
	while ((key = next_line(&cur, &val)) != NULL)
		if (strmap_get(&in->routes, key))
			old_route(in, key)->logins = xstrdup(val);
	cur = in->owners.data;
	while ((key = next_line(&cur, &val)) != NULL)
		if (strmap_get(&in->routes, key))
			old_route(in, key)->owner = xstrdup(val);
}

/* "name dev inode size mtime sha256-of-text": what a verified index of
 * table name below map_dir looked like; empty when it cannot be read. */
void
index_stamp(const struct rs_config *c, const char *name,
    const struct buf *text, struct buf *out)
{
	const char *suffix = map_suffix(c->postfix.map_type);
	char sum[65];
	struct buf path;
	struct stat st;

	buf_reset(out);
	buf_init(&path);
	buf_printf(&path, "%s/%s%s", c->postfix.map_dir, name,
	    suffix ? suffix : "");
	if (suffix != NULL && stat(path.data, &st) == 0) {
		sha256_hex(text->data ? text->data : "", text->len, sum);
		secret_keyed_hex(sum);	/* the text may hold passwords */
		buf_printf(out, "%s %ju %ju %jd %jd.%09ld %s\n", name,
		    (uintmax_t)st.st_dev, (uintmax_t)st.st_ino,
		    (intmax_t)st.st_size, (intmax_t)st.st_mtim.tv_sec,
		    st.st_mtim.tv_nsec, sum);
	}
	buf_free(&path);
}

/* Did a run verify this installed index (dump against its text), and
 * is it still the same file? */
static int
index_stamped(const struct rs_config *c, const char *name,
    const struct buf *text, const struct buf *stamps)
{
	struct buf line;
	const char *p;
	int yes = 0;

	buf_init(&line);
	index_stamp(c, name, text, &line);
	for (p = stamps->data; line.len && p != NULL && !yes;
	    p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL)
		yes = strncmp(p, line.data, line.len) == 0;
	buf_free(&line);
	return yes;
}

int
index_verified(const struct rs_config *c, const char *name,
    const struct buf *text)
{
	struct buf path, stamps;
	struct rs_err ignored;
	int yes;

	buf_init(&path);
	buf_init(&stamps);
	buf_printf(&path, "%s/%s", c->state_dir, RS_INDEX_STAMPS);
	yes = read_file(path.data, &stamps, &ignored) == 0 &&
	    index_stamped(c, name, text, &stamps);
	buf_free(&path);
	buf_free(&stamps);
	return yes;
}

static int
load_installed(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_tables *nt, struct installed *in, struct rs_plan *p,
    struct rs_err *err)
{
	struct buf path;
	int i, present = 0;

	buf_init(&path);
	for (i = 0; i < RS_T_COUNT; i++) {
		if (read_installed_file(c->postfix.map_dir, rs_table_names[i],
		    &in->text[i], &present, err) < 0) {
			buf_free(&path);
			return -1;
		}
		buf_reset(&path);
		buf_printf(&path, "%s/%s", c->postfix.map_dir,
		    rs_table_names[i]);
		if (strcmp(in->text[i].data, nt->t[i].data) != 0) {
			p->reload = 1;
			p->differs |= 1u << i;
		} else if (!index_verified(c, rs_table_names[i],
		    &in->text[i])) {
			p->verified++;
			if (!inst->verify(c, path.data, &in->text[i])) {
				p->reload = 1;
				p->damaged |= 1u << i;
			}
		}
	}
	buf_free(&path);
	if (read_installed_file(c->postfix.map_dir, RS_OWNERS_FILE,
	    &in->owners, &present, err) < 0)
		return -1;
	p->installed = present;
	p->owners_differ = strcmp(in->owners.data, nt->owners.data) != 0;
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
		secret_free_str(r->login);
		free(r->logins);
		free(r->owner);
		free(r);
	}
	strmap_free(&in->routes);
	strmap_free(&in->tls);
	strmap_free(&in->touched);
	for (i = 0; i < RS_T_COUNT; i++)
		buf_wipe(&in->text[i]);
	buf_free(&in->owners);
}

static struct rs_change *
add_change(struct rs_plan *p, enum rs_change_kind kind, const char *address)
{
	struct rs_change *c;

	p->c = vec_grow(p->c, &p->cap, p->n, sizeof(*p->c));
	c = &p->c[p->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->address = xstrdup(address);
	return c;
}

static char *
login_user(const char *login)
{
	const char *colon = login ? strchr(login, ':') : NULL;

	return colon ? xstrndup(login, (size_t)(colon - login)) : NULL;
}

static int
same(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

static void
diff_route(struct rs_plan *p, const struct rs_verdict *v, struct old_route *o)
{
	const struct rs_route *r = &v->route;
	struct rs_change *c;
	struct buf gw, login, dn;

	buf_init(&gw);
	buf_init(&login);
	buf_init(&dn);
	render_nexthop(&gw, r);
	buf_printf(&gw, " %s", security_name(r->sec));
	if (r->username)
		buf_printf(&login, "%s:%s", r->username, r->password);
	if (o && same(o->gateway, gw.data) &&
	    same(o->login, r->username ? login.data : NULL) &&
	    same(o->logins, r->logins))
		goto out;
	c = add_change(p, o ? RS_C_CHANGED : RS_C_ADDED, r->address);
	c->owner_dn = xstrdup(printable(&dn, v->owner_dn,
	    strlen(v->owner_dn)));
	c->new_gateway = xstrdup(gw.data);
	c->new_login = r->username ? xstrdup(r->username) : NULL;
	c->new_logins = xstrdup(r->logins);
	if (o) {
		c->old_logins = o->logins ? xstrdup(o->logins) : NULL;
		c->old_gateway = o->gateway ? xstrdup(o->gateway) : NULL;
		c->old_login = login_user(o->login);
		c->credentials_changed = !same(o->login,
		    r->username ? login.data : NULL);
	}
	o ? p->changed++ : p->added++;
out:
	buf_free(&gw);
	buf_wipe(&login);
	buf_free(&dn);
}

/* Lower-case address -> the verdict of its first claim, for removals. */
static void
index_verdicts(const struct rs_decision *d, struct strmap *by_addr)
{
	const struct rs_value *a;
	void **slot;
	size_t i;
	char *lc;

	for (i = 0; i < d->n; i++) {
		a = &d->v[i].sa->f[RS_F_ADDRESS];
		if (a->count == 0)
			continue;
		lc = xstrdup(a->val);
		str_lower(lc);
		slot = strmap_slot(by_addr, lc);
		if (*slot == NULL)
			*slot = &d->v[i];
		free(lc);
	}
}

static void
diff_removed(struct rs_plan *p, const struct rs_decision *d,
    struct installed *in)
{
	struct strmap_slot *s;
	struct strmap by_addr;
	struct old_route *o;
	struct rs_change *c;
	size_t i;

	strmap_init(&by_addr);
	for (i = 0; i < in->routes.cap; i++) {
		s = &in->routes.slots[i];
		if (s->key == NULL || (o = s->val)->seen || o->gateway == NULL)
			continue;
		if (by_addr.count == 0)
			index_verdicts(d, &by_addr);
		c = add_change(p, RS_C_REMOVED, s->key);
		c->owner_dn = o->owner ? xstrdup(o->owner) : NULL;
		c->old_gateway = xstrdup(o->gateway);
		c->old_login = login_user(o->login);
		c->why = strmap_get(&by_addr, s->key);
		p->removed++;
		if (c->why == NULL || c->why->reason == RS_R_NONE)
			p->vanished++;
	}
	strmap_free(&by_addr);
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
			    rs_table_names[i]);
	for (i = 0; p->n == 0 && i < RS_T_COUNT; i++)
		if (p->differs & (1u << i))
			add_words(p, "rewriting %s (its lines change, no route "
			    "does)", rs_table_names[i]);
	if (p->n == 0 && p->owners_differ)
		add_words(p, "%s", "updating the owners file (the owner of a "
		    "route changed)");
}

/* Append "-old" and "+new" lines, passwords masked. */
struct diffout {
	struct buf *out;
	int table;		/* RS_T_*, or -1 for the owners file */
	int any;
};

static void
diff_line(struct diffout *d, char sign, const char *line)
{
	buf_addc(d->out, sign);
	if (d->table >= 0)
		render_masked(d->out, d->table, line);
	else
		buf_add(d->out, line, strcspn(line, "\n"));
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
diff_one(const struct rs_config *c, const char *name, const struct buf *nt,
    int table, struct buf *out)
{
	struct buf old, lines;
	struct rs_err err;
	struct diffout d = { &lines, table, 0 };
	int present = 0;

	buf_init(&old);
	buf_init(&lines);
	if (read_installed_file(c->postfix.map_dir, name, &old, &present,
	    &err) < 0)
		buf_printf(out, "--- %s: %s\n", name, err.msg);
	else if (render_diff(old.data, nt->data ? nt->data : "",
	    on_table_diff, &d) < 0)
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
	for (i = 0; i < RS_T_COUNT; i++)
		diff_one(c, rs_table_names[i], &nt->t[i], i, out);
	diff_one(c, RS_OWNERS_FILE, &nt->owners, -1, out);
	buf_str(out);
}

int
plan_build(const struct rs_config *c, const struct rs_installer *inst,
    const struct rs_decision *d, const struct rs_tables *nt, int force,
    struct rs_plan *p, struct rs_err *err)
{
	struct installed in;
	struct old_route *o;
	size_t i;
	int rc;

	memset(p, 0, sizeof(*p));
	memset(&in, 0, sizeof(in));
	strmap_init(&in.routes);
	strmap_init(&in.tls);
	strmap_init(&in.touched);
	rc = load_installed(c, inst, nt, &in, p, err);
	if (rc == 0) {
		p->old_routes = in.lines;
		for (i = 0; i < d->nroutes; i++) {
			if (!in.all && strmap_get(&in.touched,
			    d->routes[i]->route.address) == NULL)
				continue;
			o = strmap_get(&in.routes, d->routes[i]->route.address);
			if (o && o->gateway == NULL)
				o = NULL;
			if (o)
				o->seen = 1;
			diff_route(p, d->routes[i], o);
		}
		p->new_routes = d->nroutes;
		diff_removed(p, d, &in);
		if (p->n)
			qsort(p->c, p->n, sizeof(*p->c), cmp_change);
		check_limits(c, force, p);
		pending_words(c, p);
	}
	free_installed(&in);
	return rc;
}

void
plan_free(struct rs_plan *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->c[i].address);
		free(p->c[i].owner_dn);
		free(p->c[i].old_gateway);
		free(p->c[i].new_gateway);
		free(p->c[i].old_login);
		free(p->c[i].new_login);
		free(p->c[i].old_logins);
		free(p->c[i].new_logins);
	}
	free(p->c);
	memset(p, 0, sizeof(*p));
}
