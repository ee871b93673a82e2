/*
 * model - what relaysync knows about the directory, as plain C structs.
 * See model.h for the contract.
 */
#include <ldap.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

void
model_init(struct rs_model *m)
{
	memset(m, 0, sizeof(*m));
	strmap_init(&m->pol_by_dn);
	strmap_init(&m->user_by_dn);
}

void
model_free(struct rs_model *m)
{
	size_t i;
	int j;

	for (i = 0; i < m->npol; i++)
		free(m->pol[i].dn);
	for (i = 0; i < m->nusers; i++) {
		free(m->users[i].dn);
		free(m->users[i].display_dn);
		free(m->users[i].mail);
	}
	for (i = 0; i < m->nsendas; i++) {
		free(m->sendas[i].dn);
		free(m->sendas[i].owner);
		for (j = 0; j < RS_F_COUNT; j++)
			free(m->sendas[i].f[j].val);
	}
	free(m->pol);
	free(m->users);
	free(m->sendas);
	strmap_free(&m->pol_by_dn);
	strmap_free(&m->user_by_dn);
	model_init(m);
}

/*
 * The comparison form of a DN: libldap's LDAPv3 normalization (spacing,
 * escapes), then lower case. Attribute values in the DNs relaysync walks
 * (dc, ou, cn, uid, mail) all compare case-insensitively.
 */
char *
dn_norm(const char *dn)
{
	char *out = NULL, *r;

	if (ldap_dn_normalize(dn, LDAP_DN_FORMAT_LDAP, &out,
	    LDAP_DN_FORMAT_LDAPV3) != LDAP_SUCCESS || out == NULL)
		r = xstrdup(dn);
	else {
		r = xstrdup(out);
		ldap_memfree(out);
	}
	str_lower(r);
	return r;
}

/* The parent of a normalized DN: after the first unescaped comma. */
const char *
dn_parent(const char *dn)
{
	const char *p;

	for (p = dn; *p; p++) {
		if (*p == '\\' && p[1] != '\0')
			p++;
		else if (*p == ',')
			return p + 1;
	}
	return NULL;
}

void
model_add_policy(struct rs_model *m, const char *dn, int allow)
{
	struct rs_ou_policy *p;

	m->pol = vec_grow(m->pol, &m->cappol, m->npol, sizeof(*m->pol));
	p = &m->pol[m->npol++];
	p->dn = dn_norm(dn);
	p->allow = allow;
	*strmap_slot(&m->pol_by_dn, p->dn) = (void *)(uintptr_t)m->npol;
}

void
model_add_user(struct rs_model *m, const char *dn, const char *mail)
{
	struct rs_user *u;

	m->users = vec_grow(m->users, &m->capusers, m->nusers,
	    sizeof(*m->users));
	u = &m->users[m->nusers++];
	u->dn = dn_norm(dn);
	u->display_dn = xstrdup(dn);
	u->mail = xstrdup(mail ? mail : "");
	u->disabled = 0;
	*strmap_slot(&m->user_by_dn, u->dn) = (void *)(uintptr_t)m->nusers;
}

struct rs_sendas *
model_add_sendas(struct rs_model *m, const char *dn, const char *owner)
{
	struct rs_sendas *s;
	char *norm;
	const char *parent;

	m->sendas = vec_grow(m->sendas, &m->capsendas, m->nsendas,
	    sizeof(*m->sendas));
	s = &m->sendas[m->nsendas++];
	memset(s, 0, sizeof(*s));
	s->dn = xstrdup(dn);
	if (owner)
		s->owner = dn_norm(owner);
	else {
		norm = dn_norm(dn);
		parent = dn_parent(norm);
		s->owner = xstrdup(parent ? parent : "");
		free(norm);
	}
	return s;
}

void
model_set_value(struct rs_value *v, const char *val, size_t len,
    unsigned count)
{
	free(v->val);
	v->val = xstrndup(val, len);
	v->len = len;
	v->count = count;
}

struct rs_user *
model_user(const struct rs_model *m, const char *ndn)
{
	uintptr_t i = (uintptr_t)strmap_get(&m->user_by_dn, ndn);

	return i ? &m->users[i - 1] : NULL;
}

const struct rs_ou_policy *
model_policy(const struct rs_model *m, const char *ndn)
{
	uintptr_t i = (uintptr_t)strmap_get(&m->pol_by_dn, ndn);

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
