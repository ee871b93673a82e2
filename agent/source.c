/*
 * source - read policy, users and send-as entries from LDAP.
 * See source.h for the contract.
 */
#include <ldap.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "secret.h"
#include "source.h"
#include "validate.h"

struct rs_source {
	const struct rs_config *c;
	LDAP *ld;
	ldap_sync_t *ls;	/* the watch search, when started */
	size_t changes;		/* announced since the last wait */
	int ended;		/* the server ended the watch search */
};

typedef void (*entry_fn)(struct rs_source *, LDAPMessage *, void *);

static int
ldap_fail(struct rs_source *s, int rc, const char *what, struct rs_err *err)
{
	char *diag = NULL;
	int code = rc == LDAP_FILTER_ERROR ? RS_EX_CONFIG : RS_EX_UNAVAILABLE;

	if (s->ld)
		ldap_get_option(s->ld, LDAP_OPT_DIAGNOSTIC_MESSAGE, &diag);
	rs_err_set(err, code, "ldap %s: %s: %s%s%s%s", s->c->ldap.uri, what,
	    ldap_err2string(rc), diag && *diag ? " (" : "",
	    diag && *diag ? diag : "", diag && *diag ? ")" : "");
	ldap_memfree(diag);
	return -1;
}

static int
set_options(struct rs_source *s, struct rs_err *err)
{
	const struct rs_config *c = s->c;
	struct timeval tv = { c->ldap.timeout, 0 };
	int v3 = LDAP_VERSION3, demand = LDAP_OPT_X_TLS_DEMAND, zero = 0;

	if (ldap_set_option(s->ld, LDAP_OPT_PROTOCOL_VERSION, &v3) ||
	    ldap_set_option(s->ld, LDAP_OPT_REFERRALS, LDAP_OPT_OFF) ||
	    ldap_set_option(s->ld, LDAP_OPT_NETWORK_TIMEOUT, &tv) ||
	    ldap_set_option(s->ld, LDAP_OPT_TIMEOUT, &tv) ||
	    ldap_set_option(s->ld, LDAP_OPT_X_TLS_REQUIRE_CERT, &demand))
		return rs_err_set(err, RS_EX_CONFIG, "ldap %s: cannot set "
		    "connection options", c->ldap.uri);
	if (*c->ldap.ca_file && ldap_set_option(s->ld,
	    LDAP_OPT_X_TLS_CACERTFILE, c->ldap.ca_file))
		return rs_err_set(err, RS_EX_CONFIG, "ldap.ca_file %s: cannot "
		    "be used", c->ldap.ca_file);
	if (ldap_set_option(s->ld, LDAP_OPT_X_TLS_NEWCTX, &zero))
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: cannot "
		    "set up TLS with ldap.ca_file %s; check that it is a PEM "
		    "file of CA certificates", c->ldap.uri, c->ldap.ca_file);
	return 0;
}

static int
sasl_quiet(LDAP *ld, unsigned flags, void *defaults, void *in)
{
	sasl_interact_t *i;

	(void)ld;
	(void)flags;
	(void)defaults;
	for (i = in; i->id != SASL_CB_LIST_END; i++) {
		i->result = i->defresult ? i->defresult : "";
		i->len = (unsigned)strlen(i->result);
	}
	return LDAP_SUCCESS;
}

static int
do_bind(struct rs_source *s, struct rs_err *err)
{
	const struct rs_config *c = s->c;
	struct berval cred = { 0, NULL };
	struct buf pw;
	int rc;

	if (*c->ldap.sasl_mech) {
		rc = ldap_sasl_interactive_bind_s(s->ld, NULL,
		    c->ldap.sasl_mech, NULL, NULL, LDAP_SASL_QUIET, sasl_quiet,
		    NULL);
		return rc == LDAP_SUCCESS ? 0 : ldap_fail(s, rc, "SASL bind",
		    err);
	}
	buf_init(&pw);
	if (*c->ldap.bind_password_file &&
	    private_file_read(c->ldap.bind_password_file, &pw, err) < 0)
		return -1;
	cred.bv_val = pw.data;
	cred.bv_len = pw.len;
	rc = ldap_sasl_bind_s(s->ld, *c->ldap.bind_dn ? c->ldap.bind_dn : NULL,
	    LDAP_SASL_SIMPLE, &cred, NULL, NULL, NULL);
	buf_wipe(&pw);
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR)
		return ldap_fail(s, rc, "cannot connect (check ldap.uri, that "
		    "the server is running, and for TLS ldap.ca_file)", err);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(s, rc, *c->ldap.bind_dn ? "bind as ldap.bind_dn "
		    "(check the DN and ldap.bind_password_file)" :
		    "anonymous bind", err);
	return 0;
}

int
source_open(const struct rs_config *c, struct rs_source **out,
    struct rs_err *err)
{
	struct rs_source *s = xcalloc(1, sizeof(*s));
	int rc;

	s->c = c;
	*out = s;
	setenv("LDAPNOINIT", "1", 1);
	if ((rc = ldap_initialize(&s->ld, c->ldap.uri)) != LDAP_SUCCESS)
		return ldap_fail(s, rc, "ldap.uri", err);
	if (set_options(s, err) < 0)
		return -1;
	if (c->ldap.starttls &&
	    (rc = ldap_start_tls_s(s->ld, NULL, NULL)) != LDAP_SUCCESS)
		return ldap_fail(s, rc, "StartTLS (check ldap.ca_file and that "
		    "the certificate names this host)", err);
	return do_bind(s, err);
}

void
source_close(struct rs_source *s)
{
	if (s == NULL)
		return;
	if (s->ls)
		ldap_sync_destroy(s->ls, 1);	/* unbinds s->ld too */
	else if (s->ld)
		ldap_unbind_ext_s(s->ld, NULL, NULL);
	free(s);
}

static int
on_sync_entry(ldap_sync_t *ls, LDAPMessage *msg, struct berval *uuid,
    ldap_sync_refresh_t phase)
{
	(void)msg;
	(void)uuid;
	(void)phase;
	((struct rs_source *)ls->ls_private)->changes++;
	return LDAP_SUCCESS;
}

static int
on_sync_reference(ldap_sync_t *ls, LDAPMessage *msg)
{
	(void)msg;
	((struct rs_source *)ls->ls_private)->changes++;
	return LDAP_SUCCESS;
}

static int
on_sync_intermediate(ldap_sync_t *ls, LDAPMessage *msg, BerVarray uuids,
    ldap_sync_refresh_t phase)
{
	(void)msg;
	(void)phase;
	if (uuids != NULL)
		((struct rs_source *)ls->ls_private)->changes++;
	return LDAP_SUCCESS;
}

static int
on_sync_result(ldap_sync_t *ls, LDAPMessage *msg, int refresh_deletes)
{
	struct rs_source *s = ls->ls_private;
	char *diag = NULL;
	int code = LDAP_OTHER;

	(void)refresh_deletes;
	ldap_parse_result(s->ld, msg, &code, NULL, &diag, NULL, NULL, 0);
	rs_log(RS_LOG_DEBUG, "ldap sync search ended: %s%s%s",
	    ldap_err2string(code), diag && *diag ? ": " : "",
	    diag ? diag : "");
	ldap_memfree(diag);
	s->ended = 1;
	return LDAP_SUCCESS;
}

static void
set_filter(ldap_sync_t *ls, const char *filter)
{
	ldap_memfree(ls->ls_filter);
	ls->ls_filter = ldap_strdup(filter);
}

int
source_watch_start(struct rs_source *s, const struct buf *cookie,
    struct rs_err *err)
{
	ldap_sync_t *ls = ldap_sync_initialize(NULL);
	int rc;

	if (ls == NULL)
		return rs_err_set(err, RS_EX_FAIL, "out of memory");
	s->ls = ls;
	ls->ls_base = ldap_strdup(s->c->ldap.base_dn);
	ls->ls_scope = LDAP_SCOPE_SUBTREE;
	ls->ls_attrs = ldap_memcalloc(2, sizeof(char *));
	ls->ls_attrs[0] = ldap_strdup(LDAP_NO_ATTRS);
	ls->ls_timeout = 0;
	ls->ls_search_entry = on_sync_entry;
	ls->ls_search_reference = on_sync_reference;
	ls->ls_intermediate = on_sync_intermediate;
	ls->ls_search_result = on_sync_result;
	ls->ls_private = s;
	ls->ls_ld = s->ld;
	if (cookie && cookie->len) {
		ber_str2bv(cookie->data, cookie->len, 1, &ls->ls_cookie);
	} else {
		set_filter(ls, "(&(objectClass=*)(!(objectClass=*)))");
		if ((rc = ldap_sync_init_refresh_only(ls)) != LDAP_SUCCESS)
			return ldap_fail(s, rc, "taking a sync cookie (the "
			    "server needs the syncprov overlay)", err);
		s->ended = 0;	/* that search is done; the next one persists */
	}
	set_filter(ls, "(objectClass=*)");
	rc = ldap_sync_init_refresh_and_persist(ls);
	if (rc == LDAP_SYNC_REFRESH_REQUIRED)
		return rs_err_set(err, RS_EX_TEMPFAIL, "ldap %s: the server no "
		    "longer accepts the saved sync cookie", s->c->ldap.uri);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(s, rc, "persistent search (RFC 4533)", err);
	s->changes = 0;
	return 0;
}

/* Process what libldap has (it may hold messages already read), then
 * wait for the socket when nothing was announced. */
static int
drain(struct rs_source *s, struct rs_err *err)
{
	int rc;

	if ((rc = ldap_sync_poll(s->ls)) != LDAP_SUCCESS)
		return ldap_fail(s, rc < 0 ? LDAP_SERVER_DOWN : rc,
		    "persistent search", err);
	if (s->ended)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the server "
		    "ended the persistent search", s->c->ldap.uri);
	return 0;
}

int
source_watch_wait(struct rs_source *s, int ms, struct rs_err *err)
{
	struct pollfd pfd = { -1, POLLIN, 0 };
	size_t n;

	if (drain(s, err) < 0)
		return -1;
	if (s->changes == 0) {
		ldap_get_option(s->ld, LDAP_OPT_DESC, &pfd.fd);
		if (poll(&pfd, 1, ms) <= 0)
			return 0;
		if (drain(s, err) < 0)
			return -1;
	}
	n = s->changes;
	s->changes = 0;
	return (int)n;
}

void
source_watch_cookie(struct rs_source *s, struct buf *out)
{
	buf_reset(out);
	if (s->ls && s->ls->ls_cookie.bv_len)
		buf_add(out, s->ls->ls_cookie.bv_val, s->ls->ls_cookie.bv_len);
	buf_str(out);
}

static double
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

struct page {
	const char *filter;
	struct berval cookie;	/* empty after the last page */
	size_t entries;
	size_t pages;
};

/* Wait for the rest of one page; entries go to fn, the result ends it. */
static int
read_page(struct rs_source *s, int msgid, struct page *pg, entry_fn fn,
    void *arg, struct rs_err *err)
{
	double deadline = now_ms() + s->c->ldap.timeout * 1e3;
	LDAPControl **ctrls = NULL, *pr;
	LDAPMessage *res;
	struct timeval tv;
	double left;
	int rc, code;
	ber_int_t est;

	for (;;) {
		left = deadline - now_ms();
		tv.tv_sec = left > 0 ? (time_t)(left / 1e3) : 0;
		tv.tv_usec = left > 0 ? (suseconds_t)((long)left % 1000) * 1000 : 0;
		rc = ldap_result(s->ld, msgid, LDAP_MSG_ONE, &tv, &res);
		if (rc == 0) {
			ldap_abandon_ext(s->ld, msgid, NULL, NULL);
			return ldap_fail(s, LDAP_TIMEOUT, pg->filter, err);
		}
		if (rc < 0) {
			ldap_get_option(s->ld, LDAP_OPT_RESULT_CODE, &code);
			return ldap_fail(s, code, pg->filter, err);
		}
		if (rc == LDAP_RES_SEARCH_ENTRY) {
			fn(s, res, arg);
			pg->entries++;
			ldap_msgfree(res);
			continue;
		}
		if (rc == LDAP_RES_SEARCH_REFERENCE) {
			ldap_msgfree(res);
			ldap_abandon_ext(s->ld, msgid, NULL, NULL);
			return ldap_fail(s, LDAP_REFERRAL, pg->filter, err);
		}
		break;
	}
	rc = ldap_parse_result(s->ld, res, &code, NULL, NULL, NULL, &ctrls, 1);
	if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		return ldap_fail(s, rc != LDAP_SUCCESS ? rc : code, pg->filter,
		    err);
	ber_memfree(pg->cookie.bv_val);
	pg->cookie.bv_val = NULL;
	pg->cookie.bv_len = 0;
	pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL);
	if (pr == NULL || ldap_parse_pageresponse_control(s->ld, pr, &est,
	    &pg->cookie) != LDAP_SUCCESS) {
		ldap_controls_free(ctrls);
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: %s: the "
		    "server did not answer the paged-results control; it must "
		    "support RFC 2696", s->c->ldap.uri, pg->filter);
	}
	ldap_controls_free(ctrls);
	return 0;
}

static int
paged_search(struct rs_source *s, const char *filter, char **attrs,
    entry_fn fn, void *arg, struct rs_err *err)
{
	const struct rs_config *c = s->c;
	struct timeval tv = { c->ldap.timeout, 0 };
	struct page pg = { filter, { 0, NULL }, 0, 0 };
	LDAPControl *ctl, *ctrls[2] = { NULL, NULL };
	double t0 = now_ms();
	int rc, msgid;

	do {
		rc = ldap_create_page_control(s->ld, (ber_int_t)c->ldap.page_size,
		    pg.cookie.bv_len ? &pg.cookie : NULL, 1, &ctl);
		if (rc != LDAP_SUCCESS)
			break;
		ctrls[0] = ctl;
		rc = ldap_search_ext(s->ld, c->ldap.base_dn, LDAP_SCOPE_SUBTREE,
		    filter, attrs, 0, ctrls, NULL, &tv, LDAP_NO_LIMIT, &msgid);
		ldap_control_free(ctl);
		if (rc != LDAP_SUCCESS)
			break;
		pg.pages++;
		if (read_page(s, msgid, &pg, fn, arg, err) < 0) {
			ber_memfree(pg.cookie.bv_val);
			return -1;
		}
		rs_log(RS_LOG_DEBUG, "ldap search filter=%s: page %zu, %zu "
		    "entries so far", filter, pg.pages, pg.entries);
	} while (pg.cookie.bv_len > 0);
	ber_memfree(pg.cookie.bv_val);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(s, rc, filter, err);
	rs_log(RS_LOG_DEBUG, "ldap search base=%s filter=%s: %zu entries in "
	    "%zu pages, %.0f ms", c->ldap.base_dn, filter, pg.entries, pg.pages,
	    now_ms() - t0);
	return 0;
}

static char *
entry_dn(struct rs_source *s, LDAPMessage *e)
{
	char *dn = ldap_get_dn(s->ld, e), *r;

	r = xstrdup(dn ? dn : "");
	ldap_memfree(dn);
	return r;
}

static struct berval **
values(struct rs_source *s, LDAPMessage *e, const char *attr)
{
	return *attr ? ldap_get_values_len(s->ld, e, attr) : NULL;
}

static void
on_policy(struct rs_source *s, LDAPMessage *e, void *arg)
{
	struct berval **v = values(s, e, s->c->mapping.policy_allow_attr);
	char *dn = entry_dn(s, e);
	int allow = 0;

	if (v == NULL)
		goto out;
	if (ldap_count_values_len(v) != 1 ||
	    parse_ldap_bool(v[0]->bv_val, v[0]->bv_len, &allow) < 0) {
		rs_log(RS_LOG_WARN, "%s: %s is not a single TRUE or FALSE; "
		    "treated as FALSE", dn, s->c->mapping.policy_allow_attr);
		allow = 0;
	}
	model_add_policy(arg, dn, allow);
	ldap_value_free_len(v);
out:
	free(dn);
}

/* Copy the mapped send-as attributes of an entry into s. */
static void
read_sendas(struct rs_source *src, LDAPMessage *e, struct rs_sendas *s)
{
	const struct rs_mapping *m = &src->c->mapping;
	struct berval **v;
	int i;

	for (i = 0; i < RS_F_COUNT; i++) {
		if ((v = values(src, e, m->attr[i])) == NULL)
			continue;
		model_set_value(&s->f[i], v[0]->bv_val, v[0]->bv_len,
		    (unsigned)ldap_count_values_len(v));
		ldap_value_free_len(v);
	}
}

static void
on_user(struct rs_source *s, LDAPMessage *e, void *arg)
{
	struct berval **v = values(s, e, s->c->mapping.user_mail_attr);
	struct berval **a;
	char *dn = entry_dn(s, e);

	model_add_user(arg, dn, v && v[0] ? v[0]->bv_val : "");
	ldap_value_free_len(v);
	if (strcmp(s->c->mapping.sendas_layout, "attribute") == 0 &&
	    (a = values(s, e, s->c->mapping.attr[RS_F_ADDRESS])) != NULL) {
		read_sendas(s, e, model_add_sendas(arg, dn, dn));
		ldap_value_free_len(a);
	}
	free(dn);
}

static void
on_disabled(struct rs_source *s, LDAPMessage *e, void *arg)
{
	char *dn = entry_dn(s, e);

	(void)model_set_disabled(arg, dn);
	free(dn);
}

static void
on_sendas(struct rs_source *s, LDAPMessage *e, void *arg)
{
	char *dn = entry_dn(s, e);

	read_sendas(s, e, model_add_sendas(arg, dn, NULL));
	free(dn);
}

int
source_load(struct rs_source *s, struct rs_model *model, struct rs_err *err)
{
	const struct rs_mapping *m = &s->c->mapping;
	int child = strcmp(m->sendas_layout, "child") == 0;
	char *pol_attrs[] = { m->policy_allow_attr, NULL };
	char *no_attrs[] = { LDAP_NO_ATTRS, NULL };
	char *sa_attrs[RS_F_COUNT + 1], *user_attrs[RS_F_COUNT + 2];
	struct buf f;
	int i, n = 0, rc;

	for (i = 0; i < RS_F_COUNT; i++)
		if (*m->attr[i])
			sa_attrs[n++] = m->attr[i];
	sa_attrs[n] = NULL;
	user_attrs[0] = m->user_mail_attr;
	for (i = 0; i <= n; i++)	/* attribute layout: on the user too */
		user_attrs[i + 1] = child ? NULL : sa_attrs[i];
	if (paged_search(s, m->policy_filter, pol_attrs, on_policy, model,
	    err) < 0 || paged_search(s, m->user_filter, user_attrs, on_user,
	    model, err) < 0)
		return -1;
	if (*m->user_disabled_filter) {
		buf_init(&f);
		buf_printf(&f, "(&%s%s)", m->user_filter,
		    m->user_disabled_filter);
		rc = paged_search(s, f.data, no_attrs, on_disabled, model, err);
		buf_free(&f);
		if (rc < 0)
			return -1;
	}
	return child ? paged_search(s, m->sendas_filter, sa_attrs, on_sendas,
	    model, err) : 0;
}
