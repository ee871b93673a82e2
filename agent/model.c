/*
 * model - what relaysync knows about the directory, as plain C structs.
 * See model.h for the contract.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dn.h"
#include "model.h"
#include "secret.h"

void
model_init(struct rs_model *m)
{
	memset(m, 0, sizeof(*m));
}

static void
interned_grow(struct rs_model *m)
{
	struct rs_interned *old = m->strs;
	size_t oldcap = m->capstrs, i, j;

	m->capstrs = oldcap ? oldcap * 2 : 64;
	m->strs = xcalloc(m->capstrs, sizeof(*m->strs));
	for (i = 0; i < oldcap; i++) {
		if (old[i].p == NULL)
			continue;
		for (j = old[i].hash & (m->capstrs - 1); m->strs[j].p != NULL;
		    j = (j + 1) & (m->capstrs - 1))
			;
		m->strs[j] = old[i];
	}
	free(old);
}

/* The arena's one copy of a repeated string (or value of len bytes). */
static char *
intern(struct rs_model *m, const char *s, size_t len)
{
	uint32_t h = (uint32_t)hash_bytes(s, len);
	struct rs_interned *x;
	size_t j;

	if (len > UINT32_MAX)
		return arena_copy(&m->arena, s, len);
	if ((m->nstrs + 1) * 2 > m->capstrs)
		interned_grow(m);
	for (j = h & (m->capstrs - 1); (x = &m->strs[j])->p != NULL;
	    j = (j + 1) & (m->capstrs - 1))
		if (x->hash == h && x->len == len && memcmp(x->p, s, len) == 0)
			return x->p;
	x->p = arena_copy(&m->arena, s, len);
	x->len = (uint32_t)len;
	x->hash = h;
	m->nstrs++;
	return x->p;
}

/* The DN indexes hold entry numbers; the keys are the entries' DNs. */
static const char *
index_key(const struct rs_model *m, const struct rs_dn_index *ix, size_t i)
{
	return ix == &m->pol_by_dn ? m->pol[i].dn : m->users[i].dn;
}

static int
same_key(const char *key, const char *ndn, size_t len)
{
	return strncmp(key, ndn, len) == 0 && key[len] == '\0';
}

/* The slot of the len bytes at ndn, or the empty slot where it goes. */
static uint64_t *
index_find(const struct rs_model *m, const struct rs_dn_index *ix,
    const char *ndn, size_t len, uint32_t h)
{
	uint64_t *s;
	size_t j;

	for (j = h & (ix->cap - 1); *(s = &ix->slots[j]) != 0;
	    j = (j + 1) & (ix->cap - 1))
		if ((uint32_t)(*s >> 32) == h && same_key(index_key(m, ix,
		    (size_t)(uint32_t)*s - 1), ndn, len))
			break;
	return s;
}

static void
index_grow(struct rs_dn_index *ix)
{
	struct rs_dn_index old = *ix;
	size_t i, j;

	ix->cap = old.cap ? old.cap * 2 : 64;
	ix->slots = xcalloc(ix->cap, sizeof(*ix->slots));
	for (i = 0; i < old.cap; i++) {
		if (old.slots[i] == 0)
			continue;
		for (j = (old.slots[i] >> 32) & (ix->cap - 1);
		    ix->slots[j] != 0; j = (j + 1) & (ix->cap - 1))
			;
		ix->slots[j] = old.slots[i];
	}
	free(old.slots);
}

/* Entry i (whose DN is ndn) now wins the index for ndn. */
static void
index_put(struct rs_model *m, struct rs_dn_index *ix, const char *ndn,
    size_t i)
{
	size_t len = strlen(ndn);
	uint32_t h = (uint32_t)hash_bytes(ndn, len);
	uint64_t *s;

	if ((ix->count + 1) * 2 > ix->cap)
		index_grow(ix);
	s = index_find(m, ix, ndn, len, h);
	if (*s == 0)
		ix->count++;
	*s = (uint64_t)h << 32 | (uint64_t)(i + 1);
}

static size_t
index_get(const struct rs_model *m, const struct rs_dn_index *ix,
    const char *ndn, size_t len)
{
	if (ix->count == 0)
		return 0;
	return (size_t)(uint32_t)*index_find(m, ix, ndn, len,
	    (uint32_t)hash_bytes(ndn, len));
}

static void
index_free(struct rs_dn_index *ix)
{
	free(ix->slots);
	memset(ix, 0, sizeof(*ix));
}

void
model_free(struct rs_model *m)
{
	free(m->pol);
	free(m->users);
	free(m->sendas);
	index_free(&m->pol_by_dn);
	index_free(&m->user_by_dn);
	free(m->strs);
	arena_free(&m->arena);
	model_init(m);
}

static struct rs_sendas *
push_sendas(struct rs_model *m)
{
	struct rs_sendas *s;

	m->sendas = vec_grow(m->sendas, &m->capsendas, m->nsendas,
	    sizeof(*m->sendas));
	s = &m->sendas[m->nsendas++];
	memset(s, 0, sizeof(*s));
	return s;
}

static struct rs_user *
push_user(struct rs_model *m)
{
	struct rs_user *u;

	m->users = vec_grow(m->users, &m->capusers, m->nusers,
	    sizeof(*m->users));
	u = &m->users[m->nusers++];
	memset(u, 0, sizeof(*u));
	return u;
}

static struct rs_ou_policy *
push_policy(struct rs_model *m, const char *ndn, int allow)
{
	struct rs_ou_policy *p;

	m->pol = vec_grow(m->pol, &m->cappol, m->npol, sizeof(*m->pol));
	p = &m->pol[m->npol++];
	p->uuid[0] = '\0';
	p->dn = intern(m, ndn, strlen(ndn));
	p->allow = allow;
	index_put(m, &m->pol_by_dn, p->dn, m->npol - 1);
	return p;
}

struct rs_ou_policy *
model_add_policy(struct rs_model *m, const char *dn, int allow)
{
	char *ndn = dn_norm(dn);
	struct rs_ou_policy *p = push_policy(m, ndn, allow);

	free(ndn);
	return p;
}

/* A user's normalized DN, its DN as returned (often the same bytes). */
static struct rs_user *
push_user_dns(struct rs_model *m, const char *ndn, const char *dn,
    const char *mail)
{
	struct rs_user *u = push_user(m);

	u->dn = arena_copy(&m->arena, ndn, strlen(ndn));
	u->display_dn = strcmp(dn, ndn) == 0 ? u->dn :
	    arena_copy(&m->arena, dn, strlen(dn));
	u->mail = arena_copy(&m->arena, mail, strlen(mail));
	index_put(m, &m->user_by_dn, u->dn, m->nusers - 1);
	return u;
}

struct rs_user *
model_add_user(struct rs_model *m, const char *dn, const char *mail)
{
	char *ndn = dn_norm(dn);
	struct rs_user *u = push_user_dns(m, ndn, dn, mail ? mail : "");

	free(ndn);
	return u;
}

/* A value of an entry of m, in its arena; repeated values (interned)
 * are stored once. */
static void
set_value(struct rs_model *m, struct rs_value *v, const char *val,
    size_t len, unsigned count, int interned)
{
	if (len > UINT32_MAX) {	/* never from LDAP; refused as several */
		len = 0;
		count = 2;
	}
	v->val = interned ? intern(m, val, len) :
	    arena_copy(&m->arena, val, len);
	v->len = (uint32_t)len;
	v->count = count;
}

void
model_add_login(struct rs_model *m, struct rs_user *u, const char *val,
    size_t len)
{
	struct rs_value *old = u->logins;

	u->logins = arena_alloc(&m->arena,
	    (u->nlogins + 1) * sizeof(*u->logins));
	if (u->nlogins > 0)
		memcpy(u->logins, old, u->nlogins * sizeof(*u->logins));
	memset(&u->logins[u->nlogins], 0, sizeof(*u->logins));
	set_value(m, &u->logins[u->nlogins++], val, len, 1, 0);
}

/* A send-as entry's owner (len bytes): its user's DN string when the
 * model has the user, else the arena's one copy of it. */
static char *
owner_dn(struct rs_model *m, const char *ndn, size_t len)
{
	size_t i = index_get(m, &m->user_by_dn, ndn, len);

	return i ? m->users[i - 1].dn : intern(m, ndn, len);
}

struct rs_sendas *
model_add_sendas(struct rs_model *m, const char *dn, const char *owner)
{
	struct rs_sendas *s = push_sendas(m);
	char *norm;
	const char *parent;

	s->dn = arena_copy(&m->arena, dn, strlen(dn));
	if (owner)
		norm = dn_norm(owner);
	else
		norm = dn_norm(dn);
	parent = owner ? norm : dn_parent(norm);
	s->owner = owner_dn(m, parent ? parent : "", parent ? strlen(parent) :
	    0);
	free(norm);
	return s;
}

void
model_set_field(struct rs_model *m, struct rs_sendas *s, enum rs_field f,
    const char *val, size_t len, unsigned count)
{
	/* values that repeat across entries */
	int repeats = f == RS_F_HOST || f == RS_F_PORT ||
	    f == RS_F_SECURITY || f == RS_F_VERIFIED;

	set_value(m, &s->f[f], val, len, count, repeats);
}

struct rs_user *
model_user(const struct rs_model *m, const char *ndn)
{
	size_t i = index_get(m, &m->user_by_dn, ndn, strlen(ndn));

	return i ? &m->users[i - 1] : NULL;
}

const struct rs_ou_policy *
model_policy(const struct rs_model *m, const char *ndn)
{
	size_t i = index_get(m, &m->pol_by_dn, ndn, strlen(ndn));

	return i ? &m->pol[i - 1] : NULL;
}

/* Mark the user with this (server-returned) DN disabled. */
int
model_set_disabled(struct rs_model *m, const char *dn)
{
	char *n = dn_norm(dn);
	struct rs_user *u = model_user(m, n);

	free(n);
	if (u == NULL)
		return -1;
	u->disabled = 1;
	return 0;
}

void
model_changes_init(struct rs_changes *ch)
{
	memset(ch, 0, sizeof(*ch));
	strmap_init(&ch->at);
	strmap_init(&ch->gone);
	strmap_init(&ch->present);
}

void
model_changes_free(struct rs_changes *ch)
{
	size_t i;

	for (i = 0; i < ch->n; i++)
		free(ch->e[i].dn);
	free(ch->e);
	strmap_free(&ch->at);
	strmap_free(&ch->gone);
	strmap_free(&ch->present);
	model_changes_init(ch);
}

/* Record a changed entry; a later change of the same UUID replaces it. */
void
model_changed(struct rs_changes *ch, const char *uuid, const char *dn)
{
	struct rs_changed *e;
	void **at = strmap_slot(&ch->at, uuid);

	if (*at != NULL) {
		e = &ch->e[(uintptr_t)*at - 1];
		free(e->dn);
	} else {
		ch->e = vec_grow(ch->e, &ch->cap, ch->n, sizeof(*ch->e));
		e = &ch->e[ch->n++];
		*at = (void *)(uintptr_t)ch->n;
	}
	snprintf(e->uuid, sizeof(e->uuid), "%s", uuid);
	e->dn = xstrdup(dn);
}

/* A UUID announced present (present != 0) or deleted. */
void
model_sync_state(struct rs_changes *ch, const char *uuid, int present)
{
	if (*uuid == '\0')
		return;
	*strmap_slot(present ? &ch->present : &ch->gone, uuid) = (void *)1;
	if (present)
		ch->phase_present++;
	else
		ch->phase_gone++;
}

/* The server ended a refresh phase, declaring it a present phase or a
 * delete phase; -1 when the phase contradicts that. */
int
model_phase_end(struct rs_changes *ch, int declared_present)
{
	int rc = 0;

	if (declared_present && ch->phase_present > 0 && ch->phase_gone > 0)
		rc = -1;
	else if (declared_present && ch->phase_present > 0)
		ch->present_phase = 1;
	else if (declared_present)
		ch->present_as_delete = 1;
	ch->phase_present = ch->phase_gone = 0;
	return rc;
}

/*
 * A quick "certainly not" before a UUID is looked up in the few UUIDs a
 * change names (changed, deleted, dropped): their first eight bytes in
 * an open-addressing table, so that a walk over the whole model need not
 * hash every entry's UUID. A "maybe" is then looked up for real.
 */
struct heads {
	uint64_t *slot;
	size_t mask;
};

static uint64_t
head_of(const char *uuid)
{
	uint64_t h = 0;

	memcpy(&h, uuid, strnlen(uuid, sizeof(h)));
	return h | 1;		/* never 0, the empty slot */
}

static size_t
head_slot(const struct heads *s, uint64_t h)
{
	return (size_t)((h * 0x9e3779b97f4a7c15ULL) >> 32) & s->mask;
}

static void
heads_add(struct heads *s, const struct strmap *uuids)
{
	uint64_t h;
	size_t i, k;

	for (i = 0; uuids != NULL && i < uuids->cap; i++) {
		if (uuids->slots[i].key == NULL)
			continue;
		h = head_of(uuids->slots[i].key);
		for (k = head_slot(s, h); s->slot[k] != 0 && s->slot[k] != h;
		    k = (k + 1) & s->mask)
			;
		s->slot[k] = h;
	}
}

/* The heads of the UUIDs of a and b (b may be NULL). */
static void
heads_init(struct heads *s, const struct strmap *a, const struct strmap *b)
{
	size_t n = a->count + (b ? b->count : 0), cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slot = xcalloc(cap, sizeof(*s->slot));
	s->mask = cap - 1;
	heads_add(s, a);
	heads_add(s, b);
}

static int
heads_may(const struct heads *s, const char *uuid)
{
	uint64_t h = head_of(uuid);
	size_t k;

	for (k = head_slot(s, h); s->slot[k] != 0; k = (k + 1) & s->mask)
		if (s->slot[k] == h)
			return 1;
	return 0;
}

/* Does the change set remove this (unchanged) entry? heads, when not
 * NULL, holds those of the changed and the deleted UUIDs. */
static int
said_gone(const struct rs_changes *ch, const struct heads *heads,
    const char *uuid)
{
	if (*uuid == '\0')
		return 0;
	if (heads == NULL || heads_may(heads, uuid)) {
		if (strmap_get(&ch->at, uuid) != NULL)
			return 0;
		if (strmap_get(&ch->gone, uuid) != NULL)
			return 1;
	}
	return ch->present_phase && strmap_get(&ch->present, uuid) == NULL;
}

static void
add_read(struct rs_reads *r, enum rs_read_kind kind, const char *dn,
    const char *ndn)
{
	struct rs_read *x;

	r->r = vec_grow(r->r, &r->cap, r->n, sizeof(*r->r));
	x = &r->r[r->n++];
	x->kind = kind;
	x->dn = xstrdup(dn);
	x->ndn = ndn ? xstrdup(ndn) : dn_norm(dn);
}

void
model_reads_free(struct rs_reads *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->r[i].dn);
		free(r->r[i].ndn);
	}
	free(r->r);
	memset(r, 0, sizeof(*r));
}

/* Note the normalized DN the model has for a changed UUID (first wins). */
static void
note_old(struct strmap *old, const struct strmap *changed,
    const struct heads *heads, const char *uuid, const char *ndn,
    const char *raw)
{
	void **slot;

	if (*uuid == '\0' || !heads_may(heads, uuid) ||
	    strmap_get(changed, uuid) == NULL)
		return;
	slot = strmap_slot(old, uuid);
	if (*slot == NULL)
		*slot = raw ? dn_norm(raw) : xstrdup(ndn);
}

static void
old_dns(const struct rs_model *m, const struct strmap *changed,
    const struct heads *heads, struct strmap *old)
{
	size_t i;

	for (i = 0; i < m->npol; i++)
		note_old(old, changed, heads, m->pol[i].uuid, m->pol[i].dn,
		    NULL);
	for (i = 0; i < m->nusers; i++)
		note_old(old, changed, heads, m->users[i].uuid,
		    m->users[i].dn, NULL);
	for (i = 0; i < m->nsendas; i++)
		note_old(old, changed, heads, m->sendas[i].uuid, NULL,
		    m->sendas[i].dn);
}

/* Is this key (a UUID or a DN) new in seen? (An empty one always is.) */
static int
first(struct strmap *seen, const char *key)
{
	void **slot;

	if (*key == '\0')
		return 1;
	slot = strmap_slot(seen, key);
	if (*slot != NULL)
		return 0;
	*slot = (void *)1;
	return 1;
}

/* Read again, by itself, each entry the change set removes: the merge
 * keeps what the directory still holds (one read per DN). */
static void
verify_reads(const struct rs_model *m, const struct rs_changes *ch,
    const struct heads *heads, struct rs_reads *r)
{
	struct strmap seen;
	size_t i;

	strmap_init(&seen);
	for (i = 0; i < m->npol; i++)
		if (said_gone(ch, heads, m->pol[i].uuid) &&
		    first(&seen, m->pol[i].dn))
			add_read(r, RS_READ_ENTRY, m->pol[i].dn, m->pol[i].dn);
	for (i = 0; i < m->nusers; i++)
		if (said_gone(ch, heads, m->users[i].uuid) &&
		    first(&seen, m->users[i].dn))
			add_read(r, RS_READ_ENTRY, m->users[i].display_dn,
			    m->users[i].dn);
	for (i = 0; i < m->nsendas; i++)
		if (said_gone(ch, heads, m->sendas[i].uuid) &&
		    first(&seen, m->sendas[i].dn))
			add_read(r, RS_READ_ENTRY, m->sendas[i].dn, NULL);
	strmap_free(&seen);
}

void
model_reads(const struct rs_model *m, const struct rs_changes *ch,
    struct rs_reads *r)
{
	const struct rs_changed *e;
	struct heads heads;
	struct strmap old;
	const char *was;
	char *ndn;
	size_t i;

	memset(r, 0, sizeof(*r));
	strmap_init(&old);
	heads_init(&heads, &ch->at, &ch->gone);
	old_dns(m, &ch->at, &heads, &old);
	for (i = 0; i < ch->n; i++) {
		e = &ch->e[i];
		ndn = dn_norm(e->dn);
		was = strmap_get(&old, e->uuid);
		if (was != NULL && strcmp(was, ndn) != 0) {
			add_read(r, RS_DROP_SUBTREE, was, was);
			add_read(r, RS_READ_SUBTREE, e->dn, ndn);
		} else if (was == NULL)		/* may have entries below */
			add_read(r, RS_READ_SUBTREE, e->dn, ndn);
		else
			add_read(r, RS_READ_ENTRY, e->dn, ndn);
		free(ndn);
	}
	strmap_free_values(&old);
	verify_reads(m, ch, &heads, r);
	free(heads.slot);
}

/* What model_merge() removes. */
struct doom {
	const struct rs_changes *ch;
	struct strmap kill;	/* UUIDs */
	struct heads heads;	/* theirs */
	struct strmap roots;	/* normalized DNs whose subtrees go */
};

static int
doomed(const struct doom *d, const char *uuid, const char *ndn)
{
	const char *p;

	if (*uuid != '\0' && heads_may(&d->heads, uuid) &&
	    strmap_get(&d->kill, uuid) != NULL)
		return 1;
	if (d->ch->present_phase && (*uuid == '\0' ||
	    (strmap_get(&d->ch->present, uuid) == NULL &&
	    strmap_get(&d->ch->at, uuid) == NULL)))
		return 1;
	for (p = ndn; d->roots.count > 0 && p != NULL; p = dn_parent(p))
		if (strmap_get(&d->roots, p) != NULL)
			return 1;
	return 0;
}

static void
kill_uuid(struct doom *d, const char *uuid)
{
	if (*uuid != '\0')
		*strmap_slot(&d->kill, uuid) = (void *)1;
}

static void
doom_init(struct doom *d, const struct rs_changes *ch,
    const struct rs_reads *r, const struct rs_model *fresh)
{
	size_t i;

	d->ch = ch;
	strmap_init(&d->kill);
	strmap_init(&d->roots);
	for (i = 0; i < ch->gone.cap; i++)
		if (ch->gone.slots[i].key != NULL)
			kill_uuid(d, ch->gone.slots[i].key);
	for (i = 0; i < ch->n; i++)
		kill_uuid(d, ch->e[i].uuid);
	for (i = 0; i < fresh->npol; i++)
		kill_uuid(d, fresh->pol[i].uuid);
	for (i = 0; i < fresh->nusers; i++)
		kill_uuid(d, fresh->users[i].uuid);
	for (i = 0; i < fresh->nsendas; i++)
		kill_uuid(d, fresh->sendas[i].uuid);
	for (i = 0; i < r->n; i++)
		if (r->r[i].kind != RS_READ_ENTRY)
			*strmap_slot(&d->roots, r->r[i].ndn) = (void *)1;
	heads_init(&d->heads, &d->kill, NULL);
}

/* Drop the doomed entries, keeping the order of the others. A send-as
 * entry is below a subtree when its owner is (child layout: its parent;
 * attribute layout: the user it is on). */
static void
compact(struct rs_model *m, const struct doom *d)
{
	size_t i, n;

	for (i = n = 0; i < m->npol; i++)
		if (!doomed(d, m->pol[i].uuid, m->pol[i].dn))
			m->pol[n++] = m->pol[i];
	m->npol = n;
	for (i = n = 0; i < m->nusers; i++)
		if (!doomed(d, m->users[i].uuid, m->users[i].dn))
			m->users[n++] = m->users[i];
	m->nusers = n;
	for (i = n = 0; i < m->nsendas; i++)
		if (!doomed(d, m->sendas[i].uuid, m->sendas[i].owner))
			m->sendas[n++] = m->sendas[i];
	m->nsendas = n;
}

/* Copies of entries of another model, in m's arena (indexed). */
static void
copy_policy(struct rs_model *m, const struct rs_ou_policy *p)
{
	memcpy(push_policy(m, p->dn, p->allow)->uuid, p->uuid,
	    sizeof(p->uuid));
}

static void
copy_user(struct rs_model *m, const struct rs_user *u)
{
	struct rs_user *c = push_user_dns(m, u->dn, u->display_dn, u->mail);
	size_t i;

	memcpy(c->uuid, u->uuid, sizeof(u->uuid));
	c->disabled = u->disabled;
	if (u->nlogins == 0)
		return;
	c->logins = arena_alloc(&m->arena, u->nlogins * sizeof(*c->logins));
	for (i = 0; i < u->nlogins; i++) {
		c->logins[i] = u->logins[i];
		c->logins[i].val = arena_copy(&m->arena, u->logins[i].val,
		    u->logins[i].len);
	}
	c->nlogins = u->nlogins;
}

static void
copy_sendas(struct rs_model *m, const struct rs_sendas *s)
{
	struct rs_sendas *c = push_sendas(m);
	int j;

	memcpy(c->uuid, s->uuid, sizeof(s->uuid));
	c->dn = arena_copy(&m->arena, s->dn, strlen(s->dn));
	c->owner = owner_dn(m, s->owner, strlen(s->owner));
	for (j = 0; j < RS_F_COUNT; j++)
		if (s->f[j].val != NULL)
			model_set_field(m, c, j, s->f[j].val, s->f[j].len,
			    s->f[j].count);
}

/* Copy the fresh entries into m (one per UUID and kind: overlapping
 * reads find an entry twice), and free fresh. */
static void
take(struct rs_model *m, struct rs_model *fresh)
{
	struct strmap seen[3];
	size_t i;
	int k;

	for (k = 0; k < 3; k++)
		strmap_init(&seen[k]);
	for (i = 0; i < fresh->npol; i++)
		if (first(&seen[0], fresh->pol[i].uuid))
			copy_policy(m, &fresh->pol[i]);
	for (i = 0; i < fresh->nusers; i++)
		if (first(&seen[1], fresh->users[i].uuid))
			copy_user(m, &fresh->users[i]);
	for (i = 0; i < fresh->nsendas; i++)
		if (first(&seen[2], fresh->sendas[i].uuid))
			copy_sendas(m, &fresh->sendas[i]);
	for (k = 0; k < 3; k++)
		strmap_free(&seen[k]);
	model_free(fresh);
}

/* Index the entries by DN again (a later entry with the same DN wins):
 * the policy entries, the users, or both. */
static void
reindex_some(struct rs_model *m, int pol, int users)
{
	size_t i;

	if (pol) {
		index_free(&m->pol_by_dn);
		for (i = 0; i < m->npol; i++)
			index_put(m, &m->pol_by_dn, m->pol[i].dn, i);
	}
	if (users) {
		index_free(&m->user_by_dn);
		for (i = 0; i < m->nusers; i++)
			index_put(m, &m->user_by_dn, m->users[i].dn, i);
	}
}

/* Copy the live entries into a fresh arena, dropping the garbage. */
static void
repack(struct rs_model *m)
{
	struct rs_model n;
	size_t i;

	model_init(&n);
	for (i = 0; i < m->npol; i++)
		copy_policy(&n, &m->pol[i]);
	for (i = 0; i < m->nusers; i++)
		copy_user(&n, &m->users[i]);
	for (i = 0; i < m->nsendas; i++)
		copy_sendas(&n, &m->sendas[i]);
	n.live = n.arena.used;
	model_free(m);
	*m = n;
}

/* Does the fresh read hold an entry the change set removes? */
static int
still_held(const struct rs_changes *ch, const struct rs_model *fresh)
{
	size_t i;

	for (i = 0; i < fresh->npol; i++)
		if (said_gone(ch, NULL, fresh->pol[i].uuid))
			return 1;
	for (i = 0; i < fresh->nusers; i++)
		if (said_gone(ch, NULL, fresh->users[i].uuid))
			return 1;
	for (i = 0; i < fresh->nsendas; i++)
		if (said_gone(ch, NULL, fresh->sendas[i].uuid))
			return 1;
	return 0;
}

int
model_merge(struct rs_model *m, const struct rs_changes *ch,
    const struct rs_reads *r, struct rs_model *fresh)
{
	struct doom d;
	size_t npol = m->npol, nusers = m->nusers;

	if (still_held(ch, fresh))
		return -1;
	if (m->live == 0)	/* read or parsed, never merged: no garbage */
		m->live = m->arena.used;
	doom_init(&d, ch, r, fresh);
	compact(m, &d);
	free(d.heads.slot);
	strmap_free(&d.kill);
	strmap_free(&d.roots);
	/* the others kept their places; take() indexes what it adds */
	reindex_some(m, m->npol != npol, m->nusers != nusers);
	take(m, fresh);
	if (m->arena.used > 2 * m->live + RS_ARENA_CHUNK)
		repack(m);
	return 0;
}

/*
 * The snapshot format: one line per entry, a kind letter ('P' policy,
 * 'U' user, 'S' send-as) and fields, each "<length>:<bytes> " so that
 * any byte survives; a send-as entry's values are "<count>" then the
 * value (count 0: the attribute was absent).
 */
static void
put(struct buf *b, const char *v, size_t len)
{
	char num[24];
	size_t i = sizeof(num), n = len;

	num[--i] = ':';
	do
		num[--i] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	buf_add(b, num + i, sizeof(num) - i);
	buf_add(b, v, len);
	buf_add(b, " ", 1);
}

static void
puts_field(struct buf *b, const char *v)
{
	put(b, v, strlen(v));
}

static void
put_num(struct buf *b, unsigned long n)
{
	char num[24];
	size_t i = sizeof(num);

	do
		num[--i] = (char)('0' + n % 10);
	while ((n /= 10) > 0);
	put(b, num + i, sizeof(num) - i);
}

/* A send-as entry; a plain password goes through seal (when given),
 * which replaces it by what it writes to out, or fails. */
static int
dump_sendas(struct buf *b, const struct rs_sendas *s, rs_seal_fn seal,
    void *arg)
{
	const struct rs_value *v;
	struct buf sealed;
	int j, rc = 0;

	buf_init(&sealed);
	buf_add(b, "S ", 2);
	puts_field(b, s->uuid);
	puts_field(b, s->dn);
	puts_field(b, s->owner);
	for (j = 0; j < RS_F_COUNT; j++) {
		v = &s->f[j];
		put_num(b, v->val ? v->count : 0);
		if (j == RS_F_PASSWORD && v->val && seal != NULL &&
		    !secret_is_encrypted(v->val, v->len)) {
			rc = seal(arg, s, &sealed);
			put(b, sealed.data ? sealed.data : "", sealed.len);
		} else
			put(b, v->val ? v->val : "", v->len);
	}
	buf_add(b, "\n", 1);
	buf_wipe(&sealed);
	return rc;
}

static void
dump_logins(struct buf *b, const struct rs_user *u)
{
	size_t i;

	put_num(b, u->nlogins);
	for (i = 0; i < u->nlogins; i++)
		put(b, u->logins[i].val, u->logins[i].len);
}

void
model_dump(const struct rs_model *m, struct buf *b)
{
	struct rs_stream out;

	stream_init(&out, NULL, NULL);
	out.b = *b;
	(void)model_dump_sealed(m, NULL, NULL, &out);
	*b = out.b;
}

static void
dump_policy(struct buf *b, const struct rs_ou_policy *p)
{
	buf_add(b, "P ", 2);
	puts_field(b, p->uuid);
	puts_field(b, p->dn);
	put_num(b, p->allow == RS_YES);
	buf_add(b, "\n", 1);
}

static void
dump_user(struct buf *b, const struct rs_user *u)
{
	buf_add(b, "U ", 2);
	puts_field(b, u->uuid);
	puts_field(b, u->dn);
	puts_field(b, u->display_dn);
	puts_field(b, u->mail);
	put_num(b, (unsigned long)u->disabled);
	dump_logins(b, u);
	buf_add(b, "\n", 1);
}

int
model_dump_sealed(const struct rs_model *m, rs_seal_fn seal, void *arg,
    struct rs_stream *out)
{
	size_t i;
	int rc = 0;

	for (i = 0; i < m->npol; i++) {
		dump_policy(&out->b, &m->pol[i]);
		stream_step(out);
	}
	for (i = 0; i < m->nusers; i++) {
		dump_user(&out->b, &m->users[i]);
		stream_step(out);
	}
	for (i = 0; i < m->nsendas && rc == 0; i++) {
		rc = dump_sendas(&out->b, &m->sendas[i], seal, arg);
		stream_step(out);
	}
	return rc;
}

struct cursor {
	const char *p, *end;
	int bad;
};

/* The next field: a pointer into the input and its length. */
static const char *
field(struct cursor *c, size_t *len)
{
	const char *v;
	size_t n = 0;

	while (!c->bad && c->p < c->end && *c->p >= '0' && *c->p <= '9' &&
	    n < ((size_t)1 << 40))
		n = n * 10 + (size_t)(*c->p++ - '0');
	if (c->bad || c->p >= c->end || *c->p != ':' ||
	    (size_t)(c->end - c->p) < n + 2 || c->p[n + 1] != ' ') {
		c->bad = 1;
		*len = 0;
		return "";
	}
	v = c->p + 1;
	c->p += n + 2;
	*len = n;
	return v;
}

/* The next field, copied into m's arena. */
static char *
field_copy(struct cursor *c, struct rs_model *m)
{
	size_t len;
	const char *v = field(c, &len);

	return arena_copy(&m->arena, v, len);
}

/* The next field as a decimal number: one to nineteen digits, nothing
 * else (the dump writes no sign, space or leading text). */
static unsigned long
field_num(struct cursor *c)
{
	size_t len, i;
	const char *v = field(c, &len);
	unsigned long n = 0;

	if (len == 0 || len > 19)
		c->bad = 1;
	for (i = 0; i < len && !c->bad; i++) {
		if (v[i] < '0' || v[i] > '9')
			c->bad = 1;
		n = n * 10 + (unsigned long)(v[i] - '0');
	}
	return c->bad ? 0 : n;
}

static void
field_uuid(struct cursor *c, char *uuid)
{
	size_t len;
	const char *v = field(c, &len);

	if (len > RS_UUID_LEN)
		c->bad = 1;
	else {
		memcpy(uuid, v, len);
		uuid[len] = '\0';
	}
}

static void
parse_sendas(struct cursor *c, struct rs_model *m)
{
	struct rs_sendas *s = push_sendas(m);
	unsigned long count;
	const char *v;
	size_t len;
	int j;

	field_uuid(c, s->uuid);
	s->dn = field_copy(c, m);
	v = field(c, &len);			/* stored normalized */
	s->owner = owner_dn(m, v, len);
	for (j = 0; j < RS_F_COUNT && !c->bad; j++) {
		count = field_num(c);
		v = field(c, &len);
		if (count > 0)
			model_set_field(m, s, j, v, len, (unsigned)count);
	}
}

static void
parse_user(struct cursor *c, struct rs_model *m)
{
	struct rs_user *u = push_user(m);
	unsigned long i, n;
	const char *v;
	size_t len;

	field_uuid(c, u->uuid);
	u->dn = field_copy(c, m);		/* stored normalized */
	index_put(m, &m->user_by_dn, u->dn, m->nusers - 1);
	u->display_dn = field_copy(c, m);
	if (strcmp(u->display_dn, u->dn) == 0)
		u->display_dn = u->dn;
	u->mail = field_copy(c, m);
	u->disabled = field_num(c) != 0;
	n = field_num(c);
	for (i = 0; i < n && !c->bad; i++) {
		v = field(c, &len);
		if (!c->bad)
			model_add_login(m, u, v, len);
	}
}

static void
parse_policy(struct cursor *c, struct rs_model *m)
{
	char uuid[RS_UUID_LEN + 1], *dn;
	size_t len;
	const char *v;

	field_uuid(c, uuid);
	v = field(c, &len);
	dn = xstrndup(v, len);
	memcpy(model_add_policy(m, dn, field_num(c) ? RS_YES : RS_NO)->uuid,
	    uuid, sizeof(uuid));
	free(dn);
}

static void
parse_line(struct cursor *c, char kind, struct rs_model *m)
{
	if (kind == 'S')
		parse_sendas(c, m);
	else if (kind == 'U')
		parse_user(c, m);
	else if (kind == 'P')
		parse_policy(c, m);
	else
		c->bad = 1;
}

size_t
model_entry_len(const char *text, size_t len)
{
	const char *p = text + 2, *end = text + len;
	size_t n;

	if (len < 2)
		return 0;
	while (p < end && *p != '\n') {
		for (n = 0; p < end && *p >= '0' && *p <= '9' &&
		    n < ((size_t)1 << 40); p++)
			n = n * 10 + (size_t)(*p - '0');
		if (p < end && *p != ':')
			return (size_t)(p - text) + 1;	/* damaged */
		if ((size_t)(end - p) < n + 2)
			return 0;
		p += n + 2;
	}
	return p < end ? (size_t)(p - text) + 1 : 0;
}

/* Read entries written by model_dump(); -1 if the text is damaged. */
int
model_parse(const char *text, size_t len, struct rs_model *m)
{
	struct cursor c = { text, text + len, 0 };
	char kind;

	while (!c.bad && c.p < c.end) {
		if (c.end - c.p < 3 || c.p[1] != ' ') {
			c.bad = 1;
			break;
		}
		kind = *c.p;
		c.p += 2;
		parse_line(&c, kind, m);
		if (c.bad || c.p >= c.end || *c.p != '\n')
			c.bad = 1;
		else
			c.p++;
	}
	return c.bad ? -1 : 0;
}
