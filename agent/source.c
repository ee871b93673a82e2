/*
 * source - read policy, users and send-as entries from LDAP.
 * See source.h for the contract.
 */
#include <ldap.h>
#include <ctype.h>
#include <poll.h>
#include <sasl/sasl.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "dn.h"
#include "probe.h"
#include "secret.h"
#include "source.h"
#include "validate.h"

#define OID_DIRSYNC		"1.2.840.113556.1.4.841"
#define FALSE_FILTER		"(&(objectClass=*)(!(objectClass=*)))"

struct rs_source {
	const struct rs_config *c;
	LDAP *ld;
	int sync_msgid;		/* the sync search */
	struct buf cookie;	/* the latest sync cookie */
	struct rs_changes pending;	/* announced, not yet taken */
	size_t changes;		/* announced since the last wait */
	int ended;		/* the server ended the sync search */
	int refresh_done;	/* its refresh phase is over */
	int with_cookie;	/* it started from a cookie */
	int inconsistent;	/* its answers contradict each other */
	int caps_known;		/* the rootDSE listed supportedControl: */
	int has_sync;		/* RFC 4533 */
	int has_paged;		/* RFC 2696 */
	int has_dirsync;	/* AD DirSync */
	char **ncs;		/* the rootDSE's namingContexts, normalized */
	char *nc_root;		/* the one that holds ldap.base_dn */
	char *base_norm;	/* ldap.base_dn, normalized */
	double next_scan;	/* DirSync watch: the next present scan */
	double scan_ms;		/* how long the last one took */
	size_t scan_n;		/* how many entries it saw */
	uint64_t scan_sum;	/* and the sum of their UUIDs' hashes */
	int dirsync_refused;	/* for lack of rights */
	const char *reason;	/* why the last sync search failed */
	const char *base;	/* where source_load() or source_fetch() */
	int scope;		/* reads, and whether the base may be gone */
	int missing_ok;
};

/* One entry of a search, read in one pass over its attributes: got[i]
 * holds the values of want[i] (the search's attributes, n of them), NULL
 * when the entry has none; they point into the entry (not
 * NUL-terminated). */
struct entry {
	char *dn;		/* as the server returned it */
	char **want;
	struct berval **got;
	size_t n;
};

typedef void (*entry_fn)(struct rs_source *, const struct entry *, void *);

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

/* A failure to reach the server: libldap says only "Can't contact LDAP
 * server" or "Connect error"; probe names the real cause when it can. */
static int
connect_fail(struct rs_source *s, int rc, const char *what,
    struct rs_err *err)
{
	char why[1536];

	if ((rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT) && probe_ldap(s->c, why, sizeof(why)) == 0 &&
	    *why)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: %s",
		    s->c->ldap.uri, why);
	return ldap_fail(s, rc, what, err);
}

/* The naming contexts of the server's root DSE, for a base_dn that does
 * not exist. */
static void
naming_contexts(struct rs_source *s, struct buf *out)
{
	char *attrs[] = { "namingContexts", NULL };
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	size_t i;

	if (ldap_search_ext_s(s->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, &tv, 1, &res) == LDAP_SUCCESS &&
	    (e = ldap_first_entry(s->ld, res)) != NULL)
		v = ldap_get_values_len(s->ld, e, "namingContexts");
	for (i = 0; v && v[i]; i++)
		buf_printf(out, "%s%.*s", i ? ", " : "", (int)v[i]->bv_len,
		    v[i]->bv_val);
	ldap_value_free_len(v);
	ldap_msgfree(res);
}

static int
no_base(struct rs_source *s, struct rs_err *err)
{
	struct buf nc;

	buf_init(&nc);
	naming_contexts(s, &nc);
	rs_err_set(err, RS_EX_CONFIG, "ldap %s: ldap.base_dn %s does not exist "
	    "on the server (%s:%lu); set ldap.base_dn to an entry that exists"
	    "%s%s", s->c->ldap.uri, s->c->ldap.base_dn, s->c->path,
	    config_line(s->c, "ldap.base_dn"), nc.len ? "; the server holds "
	    : "", nc.len ? nc.data : "");
	buf_free(&nc);
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

/*
 * Read the connection in large chunks: without this liblber reads each
 * message with two read() calls (its header, then its body), 500,000
 * system calls for a directory of 100,000 users. The layer sits below
 * TLS, so it buffers what the server sent as it came. Without it the
 * read is slower, not wrong: a failure is ignored.
 */
static void
read_ahead(struct rs_source *s)
{
	Sockbuf *sb;

	if (ldap_get_option(s->ld, LDAP_OPT_SOCKBUF, &sb) == LDAP_OPT_SUCCESS)
		(void)ber_sockbuf_add_io(sb, &ber_sockbuf_io_readahead,
		    LBER_SBIOD_LEVEL_PROVIDER, NULL);
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
	if (rc == LDAP_SERVER_DOWN || rc == LDAP_CONNECT_ERROR ||
	    rc == LDAP_TIMEOUT)
		return connect_fail(s, rc, "cannot connect (check ldap.uri, "
		    "that the server is running, and for TLS ldap.ca_file)",
		    err);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(s, rc, *c->ldap.bind_dn ? "bind as ldap.bind_dn "
		    "(check the DN and ldap.bind_password_file)" :
		    "anonymous bind", err);
	return 0;
}

static int
bv_is(const struct berval *v, const char *s)
{
	return v->bv_len == strlen(s) && memcmp(v->bv_val, s, v->bv_len) == 0;
}

/* The naming contexts (normalized), and the one that holds the base. */
static void
partitions(struct rs_source *s, struct berval **v)
{
	size_t i, n = v ? (size_t)ldap_count_values_len(v) : 0, best = 0;

	s->ncs = xcalloc(n + 1, sizeof(*s->ncs));
	for (i = 0; i < n; i++) {
		s->ncs[i] = dn_norm(v[i]->bv_val);
		if (dn_within(s->base_norm, s->ncs[i]) &&
		    strlen(s->ncs[i]) >= best) {
			best = strlen(s->ncs[i]);
			free(s->nc_root);
			s->nc_root = xstrndup(v[i]->bv_val, v[i]->bv_len);
		}
	}
}

/* What the server offers, from its rootDSE: a server that lists no
 * supportedControl (or hides its rootDSE) is tried as if it had both
 * RFC 4533 and 2696; AD DirSync only when listed. */
static void
read_caps(struct rs_source *s)
{
	char *attrs[] = { "supportedControl", "namingContexts", NULL };
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *res = NULL, *e = NULL;
	struct berval **v, **nc = NULL;
	size_t i;

	s->base_norm = dn_norm(s->c->ldap.base_dn);
	if (ldap_search_ext_s(s->ld, "", LDAP_SCOPE_BASE, "(objectClass=*)",
	    attrs, 0, NULL, NULL, &tv, 1, &res) == LDAP_SUCCESS &&
	    (e = ldap_first_entry(s->ld, res)) != NULL &&
	    (v = ldap_get_values_len(s->ld, e, "supportedControl")) != NULL) {
		s->caps_known = 1;
		for (i = 0; v[i] != NULL; i++) {
			s->has_sync |= bv_is(v[i], LDAP_CONTROL_SYNC);
			s->has_paged |= bv_is(v[i], LDAP_CONTROL_PAGEDRESULTS);
			s->has_dirsync |= bv_is(v[i], OID_DIRSYNC);
		}
		ldap_value_free_len(v);
	}
	if (e != NULL)
		nc = ldap_get_values_len(s->ld, e, "namingContexts");
	partitions(s, nc);
	ldap_value_free_len(nc);
	ldap_msgfree(res);
	rs_log(RS_LOG_DEBUG, "ldap %s: rootDSE: %s%s; naming context of the "
	    "base: %s", s->c->ldap.uri,
	    !s->caps_known ? "no supportedControl; RFC 4533 and 2696 tried" :
	    s->has_sync ? "RFC 4533 offered" : "no RFC 4533", s->has_dirsync ?
	    ", DirSync offered" : "", s->nc_root ? s->nc_root : "(none listed)");
}

int
source_open(const struct rs_config *c, struct rs_source **out,
    struct rs_err *err)
{
	struct rs_source *s = xcalloc(1, sizeof(*s));
	int rc;

	s->c = c;
	buf_init(&s->cookie);
	model_changes_init(&s->pending);
	*out = s;
	setenv("LDAPNOINIT", "1", 1);
	if ((rc = ldap_initialize(&s->ld, c->ldap.uri)) != LDAP_SUCCESS)
		return ldap_fail(s, rc, "ldap.uri", err);
	if (set_options(s, err) < 0)
		return -1;
	if (c->ldap.starttls &&
	    (rc = ldap_start_tls_s(s->ld, NULL, NULL)) != LDAP_SUCCESS)
		return connect_fail(s, rc, "StartTLS (check ldap.ca_file and "
		    "that the certificate names this host)", err);
	if (do_bind(s, err) < 0)
		return -1;
	read_ahead(s);
	read_caps(s);
	return 0;
}

/* While two connections are open, and while one is closed, SIGPIPE is
 * ignored: when the server has gone away, an abandon or unbind sent on a
 * connection that has not noticed yet must fail with EPIPE, not kill the
 * run. */
static void
sigpipe_ignore(struct sigaction *old)
{
	struct sigaction ignore;

	memset(&ignore, 0, sizeof(ignore));
	ignore.sa_handler = SIG_IGN;
	sigemptyset(&ignore.sa_mask);
	sigaction(SIGPIPE, &ignore, old);
}

void
source_close(struct rs_source *s)
{
	struct sigaction old;
	size_t i;

	if (s == NULL)
		return;
	sigpipe_ignore(&old);
	if (s->ld)
		ldap_unbind_ext_s(s->ld, NULL, NULL);
	sigaction(SIGPIPE, &old, NULL);
	model_changes_free(&s->pending);
	buf_free(&s->cookie);
	for (i = 0; s->ncs != NULL && s->ncs[i] != NULL; i++)
		free(s->ncs[i]);
	free(s->ncs);
	free(s->nc_root);
	free(s->base_norm);
	free(s);
}

/* 32 hexadecimal digits in the 8-4-4-4-12 form of a UUID. */
static void
uuid_form(const char *hex, char *out)
{
	snprintf(out, RS_UUID_LEN + 1, "%.8s-%.4s-%.4s-%.4s-%.12s", hex,
	    hex + 8, hex + 12, hex + 16, hex + 20);
}

/* The string form of a 16-byte syncUUID, as entryUUID shows it. */
static void
uuid_str(const struct berval *u, char *out)
{
	char hex[33];

	out[0] = '\0';
	if (u == NULL || u->bv_len != 16)
		return;
	hex_encode(u->bv_val, 16, hex);
	uuid_form(hex, out);
}

/* A syncUUID announced present or deleted. */
static void
mark(struct rs_source *s, const struct berval *uuid, int present)
{
	char u[RS_UUID_LEN + 1];

	uuid_str(uuid, u);
	model_sync_state(&s->pending, u, present);
}

static void
set_cookie(struct rs_source *s, const struct berval *c)
{
	buf_reset(&s->cookie);
	buf_add(&s->cookie, c->bv_val, c->bv_len);
	buf_str(&s->cookie);
}

static void
set_cookie_buf(struct rs_source *s, const struct buf *c)
{
	struct berval bv = { c->len, c->data };

	set_cookie(s, &bv);
}

/* An optional syncCookie next in a sync control or message: keep it. */
static void
take_cookie(struct rs_source *s, BerElement *ber)
{
	struct berval cookie = { 0, NULL };
	ber_len_t len;

	if (ber_peek_tag(ber, &len) == LDAP_TAG_SYNC_COOKIE &&
	    ber_scanf(ber, "m", &cookie) != LBER_ERROR && cookie.bv_len)
		set_cookie(s, &cookie);
}

/* One entry announced by a sync search (its Sync State control). */
static int
on_sync_entry(struct rs_source *s, LDAPMessage *msg)
{
	LDAPControl **ctrls = NULL, *c;
	struct berval uuid = { 0, NULL };
	char u[RS_UUID_LEN + 1], *dn;
	BerElement *ber = NULL;
	ber_int_t state = -1;
	int rc = -1;

	s->changes++;
	ldap_get_entry_controls(s->ld, msg, &ctrls);
	c = ldap_control_find(LDAP_CONTROL_SYNC_STATE, ctrls, NULL);
	if (c == NULL || (ber = ber_init(&c->ldctl_value)) == NULL ||
	    ber_scanf(ber, "{em", &state, &uuid) == LBER_ERROR)
		goto out;
	take_cookie(s, ber);
	rc = 0;
	if (state == LDAP_SYNC_PRESENT || state == LDAP_SYNC_DELETE)
		mark(s, &uuid, state == LDAP_SYNC_PRESENT);
	else {
		uuid_str(&uuid, u);
		dn = ldap_get_dn(s->ld, msg);
		rs_log(RS_LOG_DEBUG, "ldap sync: %s %s", state ==
		    LDAP_SYNC_ADD ? "added" : "modified", dn ? dn : "?");
		if (*u != '\0' && dn != NULL)
			model_changed(&s->pending, u, dn);
		ldap_memfree(dn);
	}
out:
	ber_free(ber, 1);
	ldap_controls_free(ctrls);
	return rc;
}

/* The end of a refresh phase the server declared a present phase or a
 * delete phase (RFC 4533 section 3.4). */
static void
phase_end(struct rs_source *s, int declared_present)
{
	if (model_phase_end(&s->pending, declared_present) < 0)
		s->inconsistent = 1;
	else if (s->pending.present_as_delete)
		rs_log(RS_LOG_DEBUG, "ldap sync: a present phase that named "
		    "no present entry, read as a delete phase");
}

/* refreshDelete or refreshPresent: the end of a refresh phase. */
static int
on_refresh_end(struct rs_source *s, BerElement *ber, ber_tag_t tag)
{
	ber_int_t done = 1;
	ber_len_t len;

	if (ber_scanf(ber, "{") == LBER_ERROR)
		return -1;
	take_cookie(s, ber);
	if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDONE &&
	    ber_scanf(ber, "b", &done) == LBER_ERROR)
		return -1;
	phase_end(s, tag == LDAP_TAG_SYNC_REFRESH_PRESENT);
	if (done)
		s->refresh_done = 1;
	return 0;
}

/* syncIdSet: UUIDs present or deleted. */
static int
on_id_set(struct rs_source *s, BerElement *ber)
{
	BerVarray uuids = NULL;
	ber_int_t deletes = 0;
	ber_len_t len;
	size_t i;

	if (ber_scanf(ber, "{") == LBER_ERROR)
		return -1;
	take_cookie(s, ber);
	if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES &&
	    ber_scanf(ber, "b", &deletes) == LBER_ERROR)
		return -1;
	if (ber_scanf(ber, "[W]}", &uuids) == LBER_ERROR)
		return -1;
	for (i = 0; uuids != NULL && uuids[i].bv_val != NULL; i++)
		mark(s, &uuids[i], !deletes);
	ber_bvarray_free(uuids);
	s->changes++;
	return 0;
}

/* A Sync Info message (RFC 4533 section 2.5). */
static int
on_sync_info(struct rs_source *s, LDAPMessage *msg)
{
	struct berval *data = NULL, cookie = { 0, NULL };
	BerElement *ber = NULL;
	char *oid = NULL;
	ber_len_t len;
	ber_tag_t tag;
	int rc = -1;

	if (ldap_parse_intermediate(s->ld, msg, &oid, &data, NULL, 0) !=
	    LDAP_SUCCESS || oid == NULL || strcmp(oid, LDAP_SYNC_INFO) != 0 ||
	    data == NULL || (ber = ber_init(data)) == NULL)
		goto out;
	tag = ber_peek_tag(ber, &len);
	if (tag == LDAP_TAG_SYNC_NEW_COOKIE) {
		if (ber_scanf(ber, "m", &cookie) != LBER_ERROR) {
			set_cookie(s, &cookie);
			rc = 0;
		}
	} else if (tag == LDAP_TAG_SYNC_REFRESH_DELETE ||
	    tag == LDAP_TAG_SYNC_REFRESH_PRESENT)
		rc = on_refresh_end(s, ber, tag);
	else if (tag == LDAP_TAG_SYNC_ID_SET)
		rc = on_id_set(s, ber);
out:
	ber_free(ber, 1);
	ber_bvfree(data);
	ldap_memfree(oid);
	return rc;
}

/* The end of a sync search: its code, and the Sync Done control. */
static int
on_sync_result(struct rs_source *s, LDAPMessage *msg, struct rs_err *err)
{
	LDAPControl **ctrls = NULL, *c;
	BerElement *ber = NULL;
	ber_int_t deletes = 0;
	ber_len_t len;
	char *diag = NULL;
	int code = LDAP_OTHER, rc;

	s->ended = 1;
	rc = ldap_parse_result(s->ld, msg, &code, NULL, &diag, NULL, &ctrls, 0);
	if (rc == LDAP_SUCCESS && (code == LDAP_SYNC_REFRESH_REQUIRED ||
	    (code != LDAP_SUCCESS && s->with_cookie))) {
		s->reason = "cookie_refused";
		rc = rs_err_set(err, RS_EX_TEMPFAIL, "ldap %s: the server no "
		    "longer accepts the saved sync cookie (%s%s%s)",
		    s->c->ldap.uri, ldap_err2string(code), diag && *diag ?
		    ": " : "", diag ? diag : "");
	} else if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		rc = ldap_fail(s, rc != LDAP_SUCCESS ? rc : code, "sync search "
		    "(RFC 4533; OpenLDAP needs the syncprov overlay, 389-ds the "
		    "Content Synchronization and Retro Changelog plugins)", err);
	else {
		if ((c = ldap_control_find(LDAP_CONTROL_SYNC_DONE, ctrls,
		    NULL)) != NULL && (ber = ber_init(&c->ldctl_value)) !=
		    NULL && ber_scanf(ber, "{") != LBER_ERROR) {
			take_cookie(s, ber);
			if (ber_peek_tag(ber, &len) == LDAP_TAG_REFRESHDELETES)
				(void)ber_scanf(ber, "b", &deletes);
		}
		phase_end(s, deletes == 0);
	}
	ber_free(ber, 1);
	ldap_controls_free(ctrls);
	ldap_memfree(diag);
	return rc;
}

/* What handling one message of a sync search came to. */
enum sync_msg {
	MSG_TAKEN,		/* handled */
	MSG_UNPARSABLE,		/* the client cannot parse it */
	MSG_FAILED		/* the search ended in an error (in err) */
};

/* What sync_step() did. */
enum sync_step {
	STEP_ERROR = -1,	/* err says why */
	STEP_IDLE = 0,		/* no message came in time */
	STEP_TOOK = 1		/* one message was handled */
};

/* Handle one message of the sync search, by its type. */
static enum sync_msg
sync_message(struct rs_source *s, int type, LDAPMessage *msg,
    struct rs_err *err)
{
	switch (type) {
	case LDAP_RES_SEARCH_ENTRY:
		return on_sync_entry(s, msg) < 0 ? MSG_UNPARSABLE : MSG_TAKEN;
	case LDAP_RES_INTERMEDIATE:
		return on_sync_info(s, msg) < 0 ? MSG_UNPARSABLE : MSG_TAKEN;
	case LDAP_RES_SEARCH_RESULT:
		return on_sync_result(s, msg, err) < 0 ? MSG_FAILED : MSG_TAKEN;
	default:
		rs_log(RS_LOG_DEBUG, "ldap sync: message type 0x%x ignored",
		    type);
		return MSG_TAKEN;
	}
}

/*
 * Handle one message of the sync search, waiting up to ms milliseconds
 * (0: only what has arrived). (libldap's ldap_sync_poll() hands a whole
 * chain of received messages to its handlers as if it were the first
 * one, and so loses an entry that arrives together with another message:
 * relaysync takes them one at a time.)
 */
static enum sync_step
sync_step(struct rs_source *s, int ms, struct rs_err *err)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	LDAPMessage *msg = NULL;
	enum sync_msg got;
	int type;

	type = ldap_result(s->ld, s->sync_msgid, LDAP_MSG_ONE, &tv, &msg);
	if (type == 0)
		return STEP_IDLE;
	if (type < 0) {
		ldap_fail(s, LDAP_SERVER_DOWN, "sync search", err);
		return STEP_ERROR;
	}
	got = sync_message(s, type, msg, err);
	ldap_msgfree(msg);
	if (got == MSG_UNPARSABLE) {
		rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: a sync message "
		    "the client cannot parse", s->c->ldap.uri);
		return STEP_ERROR;
	}
	if (got == MSG_TAKEN && s->inconsistent) {
		s->reason = "inconsistent_sync";
		rs_err_set(err, RS_EX_TEMPFAIL, "ldap %s: the server's sync "
		    "answer contradicts itself (a present phase that also names "
		    "deleted entries)", s->c->ldap.uri);
		return STEP_ERROR;
	}
	return got == MSG_FAILED ? STEP_ERROR : STEP_TOOK;
}

/*
 * Every sync search is this one search: the whole base, subtree scope,
 * (objectClass=*), no attributes. A server may tie a cookie to its
 * search (389-ds does, to the bind DN, base and filter), and RFC 4533
 * defines a cookie's content by its search: a cookie is only ever used
 * with the search it came from.
 */
#define SYNC_FILTER	"(objectClass=*)"

/* The sync control's value (RFC 4533: mode, cookie, reloadHint) into
 * ctrl; -1 when it cannot be encoded. ber is freed by the caller. */
static int
sync_control(BerElement *ber, int mode, const struct buf *cookie,
    LDAPControl *ctrl)
{
	struct berval bv = { 0, NULL };
	int rc;

	memset(ctrl, 0, sizeof(*ctrl));
	if (ber == NULL)
		return -1;
	if (cookie != NULL && cookie->len > 0) {
		bv.bv_val = cookie->data;
		bv.bv_len = cookie->len;
		rc = ber_printf(ber, "{eOb}", mode, &bv, 0);
	} else
		rc = ber_printf(ber, "{eb}", mode, 0);
	if (rc < 0 || ber_flatten2(ber, &ctrl->ldctl_value, 0) != 0)
		return -1;
	ctrl->ldctl_oid = LDAP_CONTROL_SYNC;
	ctrl->ldctl_iscritical = 1;
	return 0;
}

/* Start the sync search; with page, ask for one entry per page (RFC
 * 2696): enough to get a cookie without reading, or exceeding a size
 * limit on, the whole content. Its steps in order: encode the sync
 * control, encode the paged results control, send the search; an error
 * names the step that failed. */
static int
sync_search(struct rs_source *s, int mode, const struct buf *cookie,
    int page, struct rs_err *err)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	LDAPControl ctrl, *pg = NULL, *ctrls[3] = { &ctrl, NULL, NULL };
	BerElement *ber = ber_alloc_t(LBER_USE_DER);
	const char *where = "sync search (RFC 4533)";
	int rc = LDAP_ENCODING_ERROR;

	s->ended = s->refresh_done = s->inconsistent = 0;
	s->reason = "sync_failed";
	s->with_cookie = cookie != NULL && cookie->len > 0;
	if (sync_control(ber, mode, cookie, &ctrl) < 0)
		where = "sync search (RFC 4533): encoding the sync control";
	else if (page && ldap_create_page_control(s->ld, 1, NULL, 0, &pg) !=
	    LDAP_SUCCESS)
		where = "sync search (RFC 4533): encoding the paged results "
		    "control";
	else {
		ctrls[1] = pg;
		rc = ldap_search_ext(s->ld, s->c->ldap.base_dn,
		    LDAP_SCOPE_SUBTREE, SYNC_FILTER, attrs, 0, ctrls, NULL,
		    NULL, LDAP_NO_LIMIT, &s->sync_msgid);
	}
	ldap_control_free(pg);
	ber_free(ber, 1);
	if (rc != LDAP_SUCCESS)
		return ldap_fail(s, rc, where, err);
	if (s->with_cookie)
		set_cookie_buf(s, cookie);
	rs_log(RS_LOG_DEBUG, "ldap sync search (%s%s) base=%s filter=%s from "
	    "cookie %s", mode == LDAP_SYNC_REFRESH_ONLY ? "refreshOnly" :
	    "refreshAndPersist", page ? ", one entry per page" : "",
	    s->c->ldap.base_dn, SYNC_FILTER, s->with_cookie ? cookie->data :
	    "(none)");
	return 0;
}

/* Run the refresh phase to its end: the search result (refreshOnly) or
 * the refreshDone of refreshAndPersist. Each wait is ldap.timeout. */
static int
refresh(struct rs_source *s, struct rs_err *err)
{
	enum sync_step step;

	while (!s->ended && !s->refresh_done) {
		step = sync_step(s, (int)s->c->ldap.timeout * 1000, err);
		if (step == STEP_ERROR)
			return -1;
		if (step == STEP_IDLE) {
			ldap_abandon_ext(s->ld, s->sync_msgid, NULL, NULL);
			return ldap_fail(s, LDAP_TIMEOUT, "sync search", err);
		}
	}
	return 0;
}

/* A refreshOnly search to its end; copy the cookie it ends with (the
 * given one when the server sent none). */
static int
refresh_only(struct rs_source *s, const struct buf *cookie, int page,
    struct buf *out, struct rs_err *err)
{
	int rc;

	buf_reset(&s->cookie);
	rc = sync_search(s, LDAP_SYNC_REFRESH_ONLY, cookie, page, err);
	if (rc == 0)
		rc = refresh(s, err);
	buf_reset(out);
	buf_add(out, s->cookie.data, s->cookie.len);
	buf_str(out);
	return rc;
}

/* The server does not offer RFC 4533 (its rootDSE says so). */
static int
no_sync(struct rs_source *s, struct rs_err *err)
{
	s->reason = "no_rfc4533";
	return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the server does "
	    "not offer RFC 4533 content synchronization (its rootDSE lists no "
	    "supportedControl %s)", s->c->ldap.uri, LDAP_CONTROL_SYNC);
}

enum rs_tracking
source_tracking(const struct rs_source *s)
{
	if (source_sync_offered(s))
		return RS_TRACK_SYNC;
	return s->has_dirsync && s->nc_root ? RS_TRACK_DIRSYNC : RS_TRACK_NONE;
}

int
source_sync_offered(const struct rs_source *s)
{
	return !s->caps_known || s->has_sync;
}

const char *
source_sync_reason(const struct rs_source *s)
{
	return s->reason ? s->reason : "sync_failed";
}

/*
 * AD DirSync (MS-ADTS 3.1.1.3.4.1.3): a search of the whole naming context
 * with a cookie returns the entries changed since that cookie (with the
 * attributes that changed and their objectGUID) and the deleted ones (isDeleted, or no DN
 * when the tombstone is not readable). Like RFC 4533, only which entries
 * changed is taken from it; source_fetch() reads them with the mapping's
 * filters. Cookies are kept as "dirsync:" and hexadecimal digits.
 */
#define DIRSYNC_PREFIX	"dirsync:"
#define DIRSYNC_BYTES	(1024 * 1024)	/* asked per answer */

static void
dirsync_keep(struct rs_source *s, const struct berval *raw)
{
	char *hex = xmalloc(2 * raw->bv_len + 1);

	hex_encode(raw->bv_val, raw->bv_len, hex);
	buf_reset(&s->cookie);
	buf_adds(&s->cookie, DIRSYNC_PREFIX);
	buf_adds(&s->cookie, hex);
	free(hex);
}

/* The raw cookie of a kept one; -1 when it is not a DirSync cookie. */
static int
dirsync_raw(const struct buf *kept, struct buf *raw)
{
	size_t n = strlen(DIRSYNC_PREFIX), len;
	unsigned char *b;
	int rc;

	if (kept->len < n || memcmp(kept->data, DIRSYNC_PREFIX, n) != 0 ||
	    (kept->len - n) % 2 != 0)
		return -1;
	len = (kept->len - n) / 2;
	b = xmalloc(len + 1);
	if ((rc = hex_decode(kept->data + n, len, b)) == 0)
		buf_add(raw, b, len);
	free(b);
	return rc;
}

/* One entry of a DirSync answer. */
static void
on_dirsync_entry(struct rs_source *s, LDAPMessage *e)
{
	struct berval **g = ldap_get_values_len(s->ld, e, "objectGUID");
	struct berval **del = ldap_get_values_len(s->ld, e, "isDeleted");
	char u[RS_UUID_LEN + 1], *dn = ldap_get_dn(s->ld, e);
	int deleted = 0;

	u[0] = '\0';
	if (g != NULL && g[0] != NULL)
		uuid_str(g[0], u);
	if (del != NULL && del[0] != NULL)
		(void)parse_ldap_bool(del[0]->bv_val, del[0]->bv_len, &deleted);
	if (*u != '\0') {
		s->changes++;
		if (deleted || dn == NULL || *dn == '\0') {
			rs_log(RS_LOG_DEBUG, "ldap dirsync: deleted %s", u);
			/* not a sync state: a present list may follow */
			*strmap_slot(&s->pending.gone, u) = (void *)1;
		} else {
			rs_log(RS_LOG_DEBUG, "ldap dirsync: changed %s", dn);
			model_changed(&s->pending, u, dn);
		}
	}
	ldap_memfree(dn);
	ldap_value_free_len(g);
	ldap_value_free_len(del);
}

static int no_tracking(struct rs_source *, struct rs_err *);

/* The end of one DirSync search: its code, and the DirSync control with
 * the next cookie and whether more changes wait. */
static int
dirsync_result(struct rs_source *s, LDAPMessage *res, int *more,
    struct rs_err *err)
{
	LDAPControl **ctrls = NULL, *c;
	BerElement *ber = NULL;
	struct berval cookie = { 0, NULL };
	ber_int_t flag = 0, unused = 0;
	int rc, code = LDAP_OTHER;

	rc = ldap_parse_result(s->ld, res, &code, NULL, NULL, NULL, &ctrls, 0);
	if (rc == LDAP_SUCCESS && code == LDAP_INSUFFICIENT_ACCESS) {
		s->dirsync_refused = 1;
		rc = no_tracking(s, err);
	} else if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		rc = rs_err_set(err, s->with_cookie ? RS_EX_TEMPFAIL :
		    RS_EX_UNAVAILABLE, "ldap %s: DirSync on %s: %s", s->c->ldap.uri,
		    s->nc_root, ldap_err2string(rc != LDAP_SUCCESS ? rc : code));
	else if ((c = ldap_control_find(OID_DIRSYNC, ctrls, NULL)) == NULL ||
	    (ber = ber_init(&c->ldctl_value)) == NULL ||
	    ber_scanf(ber, "{iim}", &flag, &unused, &cookie) == LBER_ERROR)
		rc = rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: DirSync: the "
		    "server sent no cookie", s->c->ldap.uri);
	else {
		dirsync_keep(s, &cookie);
		*more = flag != 0;
	}
	ber_free(ber, 1);
	ldap_controls_free(ctrls);
	return rc;
}

/* Read the messages of one DirSync search to its end. */
static int
dirsync_read(struct rs_source *s, int msgid, int *more, struct rs_err *err)
{
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *msg;
	int type, rc;

	for (;;) {
		type = ldap_result(s->ld, msgid, LDAP_MSG_ONE, &tv, &msg);
		if (type == 0) {
			ldap_abandon_ext(s->ld, msgid, NULL, NULL);
			return ldap_fail(s, LDAP_TIMEOUT, "DirSync", err);
		}
		if (type < 0)
			return ldap_fail(s, LDAP_SERVER_DOWN, "DirSync", err);
		if (type == LDAP_RES_SEARCH_ENTRY)
			on_dirsync_entry(s, msg);
		if (type == LDAP_RES_SEARCH_RESULT)
			break;
		ldap_msgfree(msg);
	}
	rc = dirsync_result(s, msg, more, err);
	ldap_msgfree(msg);
	return rc;
}

/* DirSync searches from the kept cookie (none: from now, with a filter
 * that matches nothing) until the server has no more changes. */
static int
dirsync(struct rs_source *s, const char *filter, struct rs_err *err)
{
	char *attrs[] = { "*", NULL };
	LDAPControl ctrl, *ctrls[2] = { &ctrl, NULL };
	struct berval raw = { 0, NULL };
	BerElement *ber;
	struct buf r;
	int rc, msgid, more = 1;

	buf_init(&r);
	s->with_cookie = s->cookie.len > 0;
	if (s->with_cookie && dirsync_raw(&s->cookie, &r) < 0) {
		buf_free(&r);
		return rs_err_set(err, RS_EX_TEMPFAIL, "ldap %s: the saved "
		    "cookie is not a DirSync cookie", s->c->ldap.uri);
	}
	for (rc = 0; rc == 0 && more; ) {
		raw.bv_val = r.data;
		raw.bv_len = r.len;
		memset(&ctrl, 0, sizeof(ctrl));
		ctrl.ldctl_oid = OID_DIRSYNC;
		ctrl.ldctl_iscritical = 1;
		ber = ber_alloc_t(LBER_USE_DER);
		if (ber == NULL || ber_printf(ber, "{iiO}", 0, DIRSYNC_BYTES,
		    &raw) < 0 || ber_flatten2(ber, &ctrl.ldctl_value, 0) < 0)
			rc = ldap_fail(s, LDAP_ENCODING_ERROR, "DirSync", err);
		else if ((rc = ldap_search_ext(s->ld, s->nc_root,
		    LDAP_SCOPE_SUBTREE, filter, attrs, 0, ctrls, NULL, NULL,
		    LDAP_NO_LIMIT, &msgid)) != LDAP_SUCCESS)
			rc = ldap_fail(s, rc, "DirSync", err);
		else
			rc = dirsync_read(s, msgid, &more, err);
		ber_free(ber, 1);
		buf_reset(&r);
		if (rc == 0)
			(void)dirsync_raw(&s->cookie, &r);
		s->with_cookie = 1;
	}
	buf_free(&r);
	return rc;
}

static int present_scan(struct rs_source *, struct rs_err *);
static double now_ms(void);

/*
 * DirSync shows deletions only to accounts that may read the tombstones
 * (Windows: "Replicating Directory Changes"; Samba 4.17 shows them to
 * administrators only). So a DirSync run also lists the UUIDs of every
 * entry the profile reads (a present phase, UUIDs only): what the model
 * holds and the list lacks is gone. watch repeats that list every
 * twenty times as long as it took, at least every PRESENT_EVERY_MS, and
 * announces it only when the list differs from the previous one.
 */
#define PRESENT_EVERY_MS	5000.0

static int
dirsync_watch_scan(struct rs_source *s, struct rs_err *err)
{
	size_t n = s->scan_n;
	uint64_t sum = s->scan_sum;

	if (now_ms() < s->next_scan)
		return 0;
	if (present_scan(s, err) < 0)
		return -1;
	s->next_scan = now_ms() + (20 * s->scan_ms > PRESENT_EVERY_MS ?
	    20 * s->scan_ms : PRESENT_EVERY_MS);
	if (s->scan_n == n && s->scan_sum == sum && s->changes == 0) {
		model_changes_free(&s->pending);	/* nothing vanished */
		model_changes_init(&s->pending);
	} else
		s->changes++;
	return 0;
}

/* No way to follow changes: say so at once instead of waiting. */
static int
no_tracking(struct rs_source *s, struct rs_err *err)
{
	if (s->dirsync_refused)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: DirSync on "
		    "%s refused: the bind account needs the \"Replicating "
		    "Directory Changes\" right on %s to follow changes (README, "
		    "Active Directory)", s->c->ldap.uri, s->nc_root, s->nc_root);
	return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the server offers "
	    "no way to follow changes: its rootDSE lists neither RFC 4533 "
	    "(%s) nor AD DirSync (%s) in supportedControl%s", s->c->ldap.uri,
	    LDAP_CONTROL_SYNC, OID_DIRSYNC, s->has_dirsync ? ", or no naming "
	    "context holds ldap.base_dn" : "");
}

int
source_can_follow(struct rs_source *s, struct rs_err *err)
{
	return source_tracking(s) == RS_TRACK_NONE || s->dirsync_refused ?
	    no_tracking(s, err) : 0;
}

int
source_cookie(struct rs_source *s, struct buf *cookie, struct rs_err *err)
{
	int page = !s->caps_known || s->has_paged, rc;

	if (source_tracking(s) == RS_TRACK_DIRSYNC) {
		buf_reset(&s->cookie);
		rc = dirsync(s, FALSE_FILTER, err);
		source_watch_cookie(s, cookie);
		model_changes_free(&s->pending);
		return rc;
	}
	if (!source_sync_offered(s))
		return no_sync(s, err);
	rc = refresh_only(s, NULL, page, cookie, err);
	if (page && (rc < 0 || cookie->len == 0))	/* one page refused */
		rc = refresh_only(s, NULL, 0, cookie, err);
	model_changes_free(&s->pending);
	if (rc == 0 && cookie->len == 0)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the sync "
		    "search returned no cookie", s->c->ldap.uri);
	return rc;
}

int
source_changes(struct rs_source *s, const struct buf *cookie,
    struct rs_changes *out, struct buf *next, struct rs_err *err)
{
	int rc;

	model_changes_free(&s->pending);
	if (source_tracking(s) == RS_TRACK_DIRSYNC) {
		buf_reset(&s->cookie);
		buf_add(&s->cookie, cookie->data, cookie->len);
		rc = dirsync(s, "(objectClass=*)", err);
		if (rc == 0)
			rc = present_scan(s, err);
		source_watch_cookie(s, next);
	} else
		rc = source_sync_offered(s) ? refresh_only(s, cookie, 0, next,
		    err) : no_sync(s, err);
	source_watch_take(s, out);
	return rc;
}

int
source_watch_start(struct rs_source *s, const struct buf *cookie,
    struct rs_err *err)
{
	buf_reset(&s->cookie);
	if (source_tracking(s) == RS_TRACK_DIRSYNC) {	/* asked every wait */
		buf_add(&s->cookie, cookie->data, cookie->len);
		s->ended = 0;
		s->next_scan = 0;
		return dirsync(s, "(objectClass=*)", err) < 0 ? -1 :
		    dirsync_watch_scan(s, err);
	}
	if (!source_sync_offered(s))
		return no_sync(s, err);
	if (sync_search(s, LDAP_SYNC_REFRESH_AND_PERSIST, cookie, 0, err) < 0 ||
	    refresh(s, err) < 0)
		return -1;
	if (s->ended)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the server "
		    "ended the persistent search", s->c->ldap.uri);
	return 0;
}

/* Hand over what the server announced since the last call. */
void
source_watch_take(struct rs_source *s, struct rs_changes *out)
{
	*out = s->pending;
	model_changes_init(&s->pending);
	s->changes = 0;
}

/* Handle every message that has arrived. */
static int
drain(struct rs_source *s, struct rs_err *err)
{
	enum sync_step step;

	while ((step = sync_step(s, 0, err)) == STEP_TOOK)
		;
	if (step == STEP_ERROR)
		return -1;
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

	if (source_tracking(s) == RS_TRACK_DIRSYNC) {
		/* DirSync announces nothing: wait, then ask (a signal
		 * ends the wait early) */
		if (s->changes == 0 && poll(NULL, 0, ms) == 0 &&
		    (dirsync(s, "(objectClass=*)", err) < 0 ||
		    dirsync_watch_scan(s, err) < 0))
			return -1;
	} else if (drain(s, err) < 0)
		return -1;
	if (s->changes == 0 && source_tracking(s) == RS_TRACK_SYNC) {
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
	buf_add(out, s->cookie.data, s->cookie.len);
	buf_str(out);
}

static double
now_ms(void)
{
	return monotonic_seconds() * 1e3;
}

struct page {
	const char *filter;
	char **attrs;
	struct berval cookie;	/* empty after the last page */
	LDAPMessage *chain;	/* the page's messages, until handled */
	int msgid;		/* the page under way */
	size_t entries;
	size_t pages;
};

/* The DN a referral URL names (normalized), or NULL. */
static char *
referral_dn(const char *url)
{
	LDAPURLDesc *lud = NULL;
	char *dn = NULL;

	if (ldap_url_parse(url, &lud) == LDAP_URL_SUCCESS && lud->lud_dn)
		dn = dn_norm(lud->lud_dn);
	ldap_free_urldesc(lud);
	return dn;
}

/* Another of the server's own naming contexts (AD's CN=Configuration,
 * DomainDnsZones...), which holds no users or policy? */
static int
other_partition(const struct rs_source *s, const char *ndn)
{
	size_t i;

	for (i = 0; s->ncs != NULL && s->ncs[i] != NULL; i++)
		if (strcmp(s->ncs[i], ndn) == 0)
			return s->nc_root == NULL ||
			    !dn_within(s->base_norm, ndn);
	return 0;
}

/* A continuation reference (RFC 4511 4.5.3): skipped when every URL in
 * it names another partition of the same server, else the search is
 * incomplete. */
static int
reference(struct rs_source *s, LDAPMessage *msg, const char *filter,
    struct rs_err *err)
{
	char **refs = NULL, *dn;
	int i, skip = 1;

	if (ldap_parse_reference(s->ld, msg, &refs, NULL, 0) != LDAP_SUCCESS ||
	    refs == NULL || refs[0] == NULL)
		skip = 0;
	for (i = 0; skip && refs[i] != NULL; i++) {
		dn = referral_dn(refs[i]);
		skip = dn != NULL && other_partition(s, dn);
		free(dn);
	}
	if (skip)
		rs_log(RS_LOG_DEBUG, "ldap search filter=%s: reference to "
		    "another partition skipped: %s", filter, refs[0]);
	else
		rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: %s: the server "
		    "refers to %s for part of the answer; relaysync follows no "
		    "referrals: set ldap.uri to the server that holds that data, "
		    "or ldap.base_dn to a subtree without it", s->c->ldap.uri,
		    filter, refs && refs[0] ? refs[0] : "another server");
	ber_memvfree((void **)refs);
	return skip ? 0 : -1;
}

/* Ask for the page after pg->cookie (the first page when it is empty). */
static int
send_page(struct rs_source *s, struct page *pg, struct rs_err *err)
{
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPControl *ctl, *ctrls[2] = { NULL, NULL };
	int rc;

	rc = ldap_create_page_control(s->ld, (ber_int_t)s->c->ldap.page_size,
	    pg->cookie.bv_len ? &pg->cookie : NULL, 1, &ctl);
	if (rc == LDAP_SUCCESS) {
		ctrls[0] = ctl;
		rc = ldap_search_ext(s->ld, s->base, s->scope, pg->filter,
		    pg->attrs, 0, ctrls, NULL, &tv, LDAP_NO_LIMIT, &pg->msgid);
		ldap_control_free(ctl);
	}
	pg->pages++;
	return rc == LDAP_SUCCESS ? 0 : ldap_fail(s, rc, pg->filter, err);
}

static void
end_of_pages(struct page *pg)
{
	ber_memfree(pg->cookie.bv_val);
	pg->cookie.bv_val = NULL;
	pg->cookie.bv_len = 0;
}

/* The result that ends a page: its paged-results cookie into pg. */
static int
page_result(struct rs_source *s, struct page *pg, struct rs_err *err)
{
	LDAPControl **ctrls = NULL, *pr;
	int rc, code;
	ber_int_t est;

	rc = ldap_parse_result(s->ld, pg->chain, &code, NULL, NULL, NULL,
	    &ctrls, 0);
	end_of_pages(pg);
	if (rc == LDAP_SUCCESS && code == LDAP_NO_SUCH_OBJECT &&
	    s->missing_ok) {
		ldap_controls_free(ctrls);	/* gone since it changed */
		return 0;
	}
	if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		ldap_controls_free(ctrls);
	if (rc == LDAP_SUCCESS && code == LDAP_NO_SUCH_OBJECT &&
	    s->base == s->c->ldap.base_dn)
		return no_base(s, err);
	if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		return ldap_fail(s, rc != LDAP_SUCCESS ? rc : code, pg->filter,
		    err);
	pr = ldap_control_find(LDAP_CONTROL_PAGEDRESULTS, ctrls, NULL);
	if (pr == NULL && s->scope == LDAP_SCOPE_BASE) {
		ldap_controls_free(ctrls);	/* 389-ds pages no base search */
		return 0;
	}
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
is_attr(const char *name, const struct berval *attr)
{
	return strlen(name) == attr->bv_len &&
	    strncasecmp(name, attr->bv_val, attr->bv_len) == 0;
}

/* Read msg's DN and, in one pass over its attributes, the values of
 * the attributes e->want into e->got. */
static void
entry_read(struct rs_source *s, LDAPMessage *msg, struct entry *e)
{
	struct berval dn = { 0, NULL }, attr, *vals;
	BerElement *ber = NULL;
	size_t i;
	int rc;

	memset(e->got, 0, e->n * sizeof(*e->got));
	rc = ldap_get_dn_ber(s->ld, msg, &ber, &dn);
	e->dn = xstrndup(dn.bv_val ? dn.bv_val : "", dn.bv_len);
	while (rc == LDAP_SUCCESS) {
		vals = NULL;
		rc = ldap_get_attribute_ber(s->ld, msg, ber, &attr, &vals);
		if (rc != LDAP_SUCCESS || attr.bv_val == NULL)
			break;
		for (i = 0; i < e->n; i++)
			if (e->got[i] == NULL && vals != NULL &&
			    vals[0].bv_val != NULL && is_attr(e->want[i], &attr))
				break;
		if (i < e->n)
			e->got[i] = vals;
		else
			ber_memfree(vals);
	}
	ber_free(ber, 0);
}

static void
entry_release(struct entry *e)
{
	size_t i;

	for (i = 0; i < e->n; i++)
		ber_memfree(e->got[i]);
	free(e->dn);
}

/* A page's entries to fn; its references skipped or refused. */
static int
handle_page(struct rs_source *s, struct page *pg, entry_fn fn, void *arg,
    struct rs_err *err)
{
	struct entry e = { NULL, pg->attrs, NULL, 0 };
	LDAPMessage *m;
	int rc = 0;

	while (e.want[e.n] != NULL)
		e.n++;
	e.got = xcalloc(e.n + 1, sizeof(*e.got));
	for (m = ldap_first_message(s->ld, pg->chain); m != NULL && rc == 0;
	    m = ldap_next_message(s->ld, m)) {
		if (ldap_msgtype(m) == LDAP_RES_SEARCH_ENTRY) {
			entry_read(s, m, &e);
			fn(s, &e, arg);
			entry_release(&e);
			pg->entries++;
		} else if (ldap_msgtype(m) == LDAP_RES_SEARCH_REFERENCE)
			rc = reference(s, m, pg->filter, err);
	}
	free(e.got);
	return rc;
}

/* One search of a lane: its filter, its attributes, who takes its
 * entries. */
struct step {
	const char *filter;
	char **attrs;
	entry_fn fn;
	void *arg;
};

/* The searches of one connection, one after the other (a server pages
 * one search at a time per connection: OpenLDAP keeps one paged-results
 * state per connection), the page under way in pg. */
struct lane {
	struct rs_source *s;
	const struct step *step;
	size_t nsteps;
	struct page pg;
	double t0, deadline;
};

/* Ask for the first page of the lane's next search, if any. */
static int
lane_start(struct lane *l, struct rs_err *err)
{
	if (l->nsteps == 0)
		return 0;
	memset(&l->pg, 0, sizeof(l->pg));
	l->pg.filter = l->step->filter;
	l->pg.attrs = l->step->attrs;
	l->pg.msgid = -1;
	l->t0 = now_ms();
	l->deadline = l->t0 + l->s->c->ldap.timeout * 1e3;
	return send_page(l->s, &l->pg, err);
}

static void
lane_done_log(const struct lane *l)
{
	if (!l->s->missing_ok)
		rs_log(RS_LOG_DEBUG, "ldap search base=%s filter=%s: %zu entries "
		    "in %zu pages, %.0f ms", l->s->base, l->pg.filter,
		    l->pg.entries, l->pg.pages, now_ms() - l->t0);
}

/* A whole page arrived in l->pg.chain: ask for the next page before
 * handing this one's entries over (the server works on it meanwhile),
 * then go on with the lane's next search when this one is over. */
static int
lane_take(struct lane *l, struct rs_err *err)
{
	struct rs_source *s = l->s;
	int rc, more;

	if ((rc = page_result(s, &l->pg, err)) < 0) {
		ldap_msgfree(l->pg.chain);
		return -1;
	}
	more = l->pg.cookie.bv_len > 0;
	if (more && (rc = send_page(s, &l->pg, err)) == 0)
		l->deadline = now_ms() + s->c->ldap.timeout * 1e3;
	if (rc == 0)
		rc = handle_page(s, &l->pg, l->step->fn, l->step->arg, err);
	ldap_msgfree(l->pg.chain);
	if (rc < 0)
		return -1;
	if (!s->missing_ok)
		rs_log(RS_LOG_DEBUG, "ldap search filter=%s: page %zu, %zu "
		    "entries so far", l->pg.filter, l->pg.pages, l->pg.entries);
	if (more)
		return 0;
	lane_done_log(l);
	end_of_pages(&l->pg);
	l->step++;
	l->nsteps--;
	return lane_start(l, err);
}

/* Wait until a socket of the busy lanes has data, or up to 100 ms (TLS
 * may hold decrypted data that poll() does not see: then no wait). */
static void
lanes_wait(struct lane *l, size_t n)
{
	struct pollfd pfd[2];
	Sockbuf *sb;
	size_t i, k = 0;

	for (i = 0; i < n && k < 2; i++) {
		if (l[i].nsteps == 0)
			continue;
		if (ldap_get_option(l[i].s->ld, LDAP_OPT_SOCKBUF, &sb) ==
		    LDAP_OPT_SUCCESS && ber_sockbuf_ctrl(sb,
		    LBER_SB_OPT_DATA_READY, NULL) > 0)
			return;
		pfd[k].fd = -1;
		pfd[k].events = POLLIN;
		ldap_get_option(l[i].s->ld, LDAP_OPT_DESC, &pfd[k].fd);
		k++;
	}
	if (k > 0)
		(void)poll(pfd, k, 100);
}

/* Look once at each busy lane (without waiting when more than one is);
 * -1 on an error or a page past ldap.timeout. */
static int
lanes_step(struct lane *l, size_t n, size_t busy, int *took,
    struct rs_err *err)
{
	struct timeval tv;
	double left;
	size_t i;
	int rc, code;

	for (i = 0; i < n; i++) {
		if (l[i].nsteps == 0)
			continue;
		left = busy > 1 ? 0 : l[i].deadline - now_ms();
		tv.tv_sec = left > 0 ? (time_t)(left / 1e3) : 0;
		tv.tv_usec = left > 0 ? (suseconds_t)((long)left % 1000) *
		    1000 : 0;
		l[i].pg.chain = NULL;
		rc = ldap_result(l[i].s->ld, l[i].pg.msgid, LDAP_MSG_ALL, &tv,
		    &l[i].pg.chain);
		if (rc < 0) {
			ldap_get_option(l[i].s->ld, LDAP_OPT_RESULT_CODE, &code);
			return ldap_fail(l[i].s, code, l[i].pg.filter, err);
		}
		if (rc > 0) {
			*took = 1;
			if (lane_take(&l[i], err) < 0)
				return -1;
		} else if (now_ms() >= l[i].deadline)
			return ldap_fail(l[i].s, LDAP_TIMEOUT, l[i].pg.filter,
			    err);
	}
	return 0;
}

/* Run lanes side by side, each on its own connection, until all their
 * searches are over; on error every search under way is abandoned. */
static int
run_lanes(struct lane *l, size_t n, struct rs_err *err)
{
	size_t i, busy;
	int rc = 0, took;

	for (i = 0; i < n && rc == 0; i++)
		rc = lane_start(&l[i], err);
	while (rc == 0) {
		for (i = busy = 0; i < n; i++)
			busy += l[i].nsteps > 0;
		if (busy == 0)
			break;
		took = 0;
		rc = lanes_step(l, n, busy, &took, err);
		if (rc == 0 && !took && busy > 1)
			lanes_wait(l, n);
	}
	for (i = 0; i < n; i++) {
		if (rc < 0 && l[i].nsteps > 0 && l[i].pg.msgid >= 0)
			ldap_abandon_ext(l[i].s->ld, l[i].pg.msgid, NULL, NULL);
		end_of_pages(&l[i].pg);
	}
	return rc;
}

/* A paged search (RFC 2696) whose entries go to fn. */
static int
paged_search(struct rs_source *s, const char *filter, char **attrs,
    entry_fn fn, void *arg, struct rs_err *err)
{
	struct step step = { filter, attrs, fn, arg };
	struct lane l;

	memset(&l, 0, sizeof(l));
	l.s = s;
	l.step = &step;
	l.nsteps = 1;
	return run_lanes(&l, 1, err);
}

/* The values of attr in an entry read by entry_read(), or NULL. */
static const struct berval *
values(const struct entry *e, const char *attr)
{
	size_t i;

	for (i = 0; *attr && i < e->n; i++)
		if (strcasecmp(e->want[i], attr) == 0)
			return e->got[i];
	return NULL;
}

static unsigned
count_values(const struct berval *v)
{
	unsigned n = 0;

	while (v != NULL && v[n].bv_val != NULL)
		n++;
	return n;
}

/* The entry's sync UUID from the mapping's uuid_attribute, in the
 * 8-4-4-4-12 form: entryUUID is in it already, 389-ds' nsUniqueId
 * groups the same 32 hex digits 8-8-8-8. Empty when absent or not 32
 * hex digits; AD's objectGUID (16 bytes) in the form uuid_str() gives
 * a syncUUID. */
static void
entry_uuid(struct rs_source *s, const struct entry *e, char *out)
{
	const struct berval *v = values(e, s->c->mapping.uuid_attr);
	char hex[33];
	size_t i, n = 0;

	out[0] = '\0';
	for (i = 0; v != NULL && i < v[0].bv_len; i++) {
		if (v[0].bv_val[i] == '-')
			continue;
		if (n == 32 || !isxdigit((unsigned char)v[0].bv_val[i]))
			break;
		hex[n++] = (char)tolower((unsigned char)v[0].bv_val[i]);
	}
	if (v != NULL && i == v[0].bv_len && n == 32)
		uuid_form(hex, out);
	else if (v != NULL && v[0].bv_len == 16)
		uuid_str(v, out);	/* AD's binary objectGUID */
}

static void
on_policy(struct rs_source *s, const struct entry *e, void *arg)
{
	const struct berval *v = values(e, s->c->mapping.policy_allow_attr);
	int allow = 0;

	if (v == NULL)
		return;
	if (count_values(v) != 1 ||
	    parse_ldap_bool(v[0].bv_val, v[0].bv_len, &allow) < 0) {
		rs_log(RS_LOG_WARN, "%s: %s is not a single TRUE or FALSE; "
		    "treated as FALSE", e->dn, s->c->mapping.policy_allow_attr);
		allow = 0;
	}
	entry_uuid(s, e, model_add_policy(arg, e->dn, allow)->uuid);
}

/* Copy the mapped send-as attributes of an entry into sa. */
static void
read_sendas(struct rs_source *s, const struct entry *e,
    struct rs_model *model, struct rs_sendas *sa)
{
	const struct rs_mapping *m = &s->c->mapping;
	const struct berval *v;
	int i;

	for (i = 0; i < RS_F_COUNT; i++)
		if ((v = values(e, m->attr[i])) != NULL)
			model_set_field(model, sa, i, v[0].bv_val,
			    v[0].bv_len, count_values(v));
}

/* Every value of the mapping's login attributes, raw (policy checks). */
static void
read_logins(struct rs_source *s, const struct entry *e,
    struct rs_model *model, struct rs_user *u)
{
	const struct rs_mapping *m = &s->c->mapping;
	const struct berval *v;
	size_t i, j;

	for (i = 0; i < m->n_login_attrs; i++)
		for (v = values(e, m->login_attrs[i]), j = 0;
		    v != NULL && v[j].bv_val != NULL; j++)
			model_add_login(model, u, v[j].bv_val, v[j].bv_len);
}

static void
on_user(struct rs_source *s, const struct entry *e, void *arg)
{
	const struct berval *v = values(e, s->c->mapping.user_mail_attr);
	char *mail = v ? xstrndup(v[0].bv_val, v[0].bv_len) : NULL;
	struct rs_sendas *sa;
	struct rs_user *u;

	u = model_add_user(arg, e->dn, mail ? mail : "");
	free(mail);
	entry_uuid(s, e, u->uuid);
	read_logins(s, e, arg, u);
	if (strcmp(s->c->mapping.sendas_layout, "attribute") == 0 &&
	    values(e, s->c->mapping.attr[RS_F_ADDRESS]) != NULL) {
		sa = model_add_sendas(arg, e->dn, e->dn);
		entry_uuid(s, e, sa->uuid);
		read_sendas(s, e, arg, sa);
	}
}

static void
on_sendas(struct rs_source *s, const struct entry *e, void *arg)
{
	struct rs_sendas *sa = model_add_sendas(arg, e->dn, NULL);

	entry_uuid(s, e, sa->uuid);
	read_sendas(s, e, arg, sa);
}

/* A filter with each @NOW_FILETIME@ replaced by the current time as AD
 * writes it (100 ns units since 1601: accountExpires, lockoutTime). */
static void
add_filter_now(struct buf *b, const char *filter)
{
	static const char tok[] = "@NOW_FILETIME@";
	const char *p;

	while ((p = strstr(filter, tok)) != NULL) {
		buf_add(b, filter, (size_t)(p - filter));
		buf_printf(b, "%llu", ((unsigned long long)time(NULL) +
		    11644473600ULL) * 10000000ULL);
		filter = p + sizeof(tok) - 1;
	}
	buf_add(b, filter, strlen(filter));
}

/* The DNs the disabled-users search found: marked once the users are
 * all in the model (that search may run beside the users' search). */
struct dn_list {
	char **dn;
	size_t n, cap;
};

static void
on_disabled(struct rs_source *s, const struct entry *e, void *arg)
{
	struct dn_list *l = arg;

	(void)s;
	l->dn = vec_grow(l->dn, &l->cap, l->n, sizeof(*l->dn));
	l->dn[l->n++] = xstrdup(e->dn);
}

/* Mark the users of l disabled, and empty l. */
static void
mark_disabled(struct dn_list *l, struct rs_model *model)
{
	size_t i;

	for (i = 0; i < l->n; i++) {
		(void)model_set_disabled(model, l->dn[i]);
		free(l->dn[i]);
	}
	free(l->dn);
	memset(l, 0, sizeof(*l));
}

/* The attribute lists of the profile's searches. */
struct profile_attrs {
	char *pol[3];
	char *none[2];
	char *sendas[RS_F_COUNT + 2];
	char **user;
};

static void
profile_attrs(const struct rs_mapping *m, struct profile_attrs *a)
{
	int child = strcmp(m->sendas_layout, "child") == 0;
	size_t i, n = 0, u = 0;

	a->pol[0] = m->policy_allow_attr;
	a->pol[1] = m->uuid_attr;
	a->pol[2] = NULL;
	a->none[0] = LDAP_NO_ATTRS;
	a->none[1] = NULL;
	a->sendas[n++] = m->uuid_attr;
	for (i = 0; i < RS_F_COUNT; i++)
		if (*m->attr[i])
			a->sendas[n++] = m->attr[i];
	a->sendas[n] = NULL;
	a->user = xcalloc(n + m->n_login_attrs + 3, sizeof(*a->user));
	a->user[u++] = m->user_mail_attr;
	a->user[u++] = m->uuid_attr;
	for (i = 0; i < m->n_login_attrs; i++)
		a->user[u++] = m->login_attrs[i];
	for (i = 1; i < n && !child; i++)	/* attribute layout: on the user */
		a->user[u++] = a->sendas[i];
}

/* The searches of the mapping profile (at most four), into model, the
 * disabled users' DNs into disabled (their filter built in f); *split is
 * where the searches that may run on a second connection begin. */
static size_t
profile_steps(const struct rs_mapping *m, struct profile_attrs *a,
    struct rs_model *model, struct dn_list *disabled, struct buf *f,
    struct step *st, size_t *split)
{
	size_t n = 0;

	st[n++] = (struct step){ m->policy_filter, a->pol, on_policy, model };
	st[n++] = (struct step){ m->user_filter, a->user, on_user, model };
	*split = n;
	if (*m->user_disabled_filter) {
		buf_printf(f, "(&%s", m->user_filter);
		add_filter_now(f, m->user_disabled_filter);
		buf_add(f, ")", 1);
		st[n++] = (struct step){ buf_str(f), a->none, on_disabled,
		    disabled };
	}
	if (strcmp(m->sendas_layout, "child") == 0)
		st[n++] = (struct step){ m->sendas_filter, a->sendas, on_sendas,
		    model };
	return n;
}

/* The searches of the mapping profile below s->base, into model: policy
 * and users on s; disabled users and send-as entries on peer, side by
 * side, when there is one, else on s after the others. */
static int
load(struct rs_source *s, struct rs_source *peer, struct rs_model *model,
    struct rs_err *err)
{
	const struct rs_mapping *m = &s->c->mapping;
	struct dn_list disabled = { NULL, 0, 0 };
	struct profile_attrs a;
	struct step st[4];
	struct lane l[2];
	struct buf f;
	size_t n, split;
	int rc;

	profile_attrs(m, &a);
	buf_init(&f);
	n = profile_steps(m, &a, model, &disabled, &f, st, &split);
	memset(l, 0, sizeof(l));
	l[0].s = s;
	l[0].step = st;
	l[0].nsteps = peer ? split : n;
	l[1].s = peer;
	l[1].step = st + split;
	l[1].nsteps = peer ? n - split : 0;
	rc = run_lanes(l, peer ? 2 : 1, err);
	mark_disabled(&disabled, model);
	buf_free(&f);
	free(a.user);
	return rc;
}

static void
on_present(struct rs_source *s, const struct entry *e, void *arg)
{
	char u[RS_UUID_LEN + 1];
	uint64_t h = 14695981039346656037ULL;
	const char *p;

	(void)arg;
	entry_uuid(s, e, u);
	if (*u == '\0')
		return;
	model_sync_state(&s->pending, u, 1);
	for (p = u; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	s->scan_n++;
	s->scan_sum += h;
}

/* The UUIDs of every entry the profile reads, into the pending change
 * set as a present phase. */
static int
present_scan(struct rs_source *s, struct rs_err *err)
{
	const struct rs_mapping *m = &s->c->mapping;
	char *attrs[] = { m->uuid_attr, NULL };
	double t0 = now_ms();
	int rc;

	s->base = s->c->ldap.base_dn;
	s->scope = LDAP_SCOPE_SUBTREE;
	s->missing_ok = 0;
	s->scan_n = 0;
	s->scan_sum = 0;
	rc = paged_search(s, m->policy_filter, attrs, on_present, NULL, err);
	if (rc == 0)
		rc = paged_search(s, m->user_filter, attrs, on_present, NULL, err);
	if (rc == 0 && strcmp(m->sendas_layout, "child") == 0)
		rc = paged_search(s, m->sendas_filter, attrs, on_present, NULL,
		    err);
	if (model_phase_end(&s->pending, 1) < 0 && rc == 0)
		rc = rs_err_set(err, RS_EX_TEMPFAIL, "ldap %s: the present "
		    "list contradicts itself", s->c->ldap.uri);
	s->scan_ms = now_ms() - t0;
	rs_log(RS_LOG_DEBUG, "ldap: present scan: %zu entries, %.0f ms",
	    s->scan_n, s->scan_ms);
	return rc;
}

/* A second connection for a full read, so that the server works on two
 * searches at once; NULL (the read goes on with one) when it cannot be
 * had. */
static struct rs_source *
open_peer(struct rs_source *s)
{
	struct rs_source *peer = NULL;
	struct rs_err why;

	if (source_open(s->c, &peer, &why) < 0) {
		rs_log(RS_LOG_DEBUG, "ldap %s: no second connection, one search "
		    "at a time: %s", s->c->ldap.uri, why.msg);
		source_close(peer);
		return NULL;
	}
	peer->base = s->base;
	peer->scope = s->scope;
	peer->missing_ok = s->missing_ok;
	return peer;
}

int
source_load(struct rs_source *s, struct rs_model *model, struct rs_err *err)
{
	struct sigaction old;
	struct rs_source *peer;
	int rc;

	s->base = s->c->ldap.base_dn;
	s->scope = LDAP_SCOPE_SUBTREE;
	s->missing_ok = 0;
	sigpipe_ignore(&old);
	peer = open_peer(s);
	rc = load(s, peer, model, err);
	source_close(peer);
	sigaction(SIGPIPE, &old, NULL);
	return rc;
}

/*
 * Entries read again by themselves (base scope), with every search of
 * the profile: request k is the search st[k % nsteps] of dns[k / nsteps].
 * Up to RS_READS_AHEAD requests are under way at once on the connection
 * (no paging: a base search answers one entry at most, and OpenLDAP
 * pages one search at a time per connection), and their answers are
 * taken in the order asked, so the model gets what one entry after the
 * other would give it.
 */
#define RS_READS_AHEAD	32

struct base_reads {
	struct rs_source *s;
	const struct rs_read *r;
	size_t n;		/* entries */
	struct step st[4];
	size_t nsteps;
	int msgid[RS_READS_AHEAD];	/* request k at k % RS_READS_AHEAD */
	size_t sent, taken;
};

static int
reads_send(struct base_reads *b, struct rs_err *err)
{
	struct timeval tv = { b->s->c->ldap.timeout, 0 };
	const struct step *st;
	size_t k;
	int rc;

	while (b->sent < b->n * b->nsteps &&
	    b->sent - b->taken < RS_READS_AHEAD) {
		k = b->sent++;
		st = &b->st[k % b->nsteps];
		rc = ldap_search_ext(b->s->ld, b->r[k / b->nsteps].dn,
		    LDAP_SCOPE_BASE, st->filter, st->attrs, 0, NULL, NULL, &tv,
		    LDAP_NO_LIMIT, &b->msgid[k % RS_READS_AHEAD]);
		if (rc != LDAP_SUCCESS)
			return ldap_fail(b->s, rc, st->filter, err);
	}
	return 0;
}

/* The whole answer to the oldest request, its entries to its search's
 * function; an entry gone since it changed reads as nothing. */
static int
reads_take(struct base_reads *b, struct rs_err *err)
{
	struct rs_source *s = b->s;
	const struct step *st = &b->st[b->taken % b->nsteps];
	struct timeval tv = { s->c->ldap.timeout, 0 };
	struct page pg;
	int rc, code = LDAP_TIMEOUT;

	memset(&pg, 0, sizeof(pg));
	pg.filter = st->filter;
	pg.attrs = st->attrs;
	rc = ldap_result(s->ld, b->msgid[b->taken % RS_READS_AHEAD],
	    LDAP_MSG_ALL, &tv, &pg.chain);
	b->taken++;
	if (rc <= 0) {
		if (rc < 0)
			ldap_get_option(s->ld, LDAP_OPT_RESULT_CODE, &code);
		return ldap_fail(s, code, st->filter, err);
	}
	rc = ldap_parse_result(s->ld, pg.chain, &code, NULL, NULL, NULL, NULL,
	    0);
	if (rc == LDAP_SUCCESS && code == LDAP_NO_SUCH_OBJECT)
		rc = 0;
	else if (rc != LDAP_SUCCESS || code != LDAP_SUCCESS)
		rc = ldap_fail(s, rc != LDAP_SUCCESS ? rc : code, st->filter,
		    err);
	else
		rc = handle_page(s, &pg, st->fn, st->arg, err);
	ldap_msgfree(pg.chain);
	return rc;
}

/* Read the n entries at r[] again, each by itself, into fresh. */
static int
read_bases(struct rs_source *s, const struct rs_read *r, size_t n,
    struct rs_model *fresh, struct rs_err *err)
{
	struct base_reads b;
	struct dn_list disabled = { NULL, 0, 0 };
	struct profile_attrs a;
	struct buf f;
	size_t split;
	int rc = 0;

	memset(&b, 0, sizeof(b));
	b.s = s;
	b.r = r;
	b.n = n;
	profile_attrs(&s->c->mapping, &a);
	buf_init(&f);
	b.nsteps = profile_steps(&s->c->mapping, &a, fresh, &disabled, &f,
	    b.st, &split);
	while (rc == 0 && b.taken < n * b.nsteps) {
		if ((rc = reads_send(&b, err)) == 0)
			rc = reads_take(&b, err);
		if (rc == 0 && b.taken % b.nsteps == 0)
			mark_disabled(&disabled, fresh);	/* this entry's */
	}
	for (; b.taken < b.sent; b.taken++)
		ldap_abandon_ext(s->ld, b.msgid[b.taken % RS_READS_AHEAD], NULL,
		    NULL);
	mark_disabled(&disabled, fresh);
	buf_free(&f);
	free(a.user);
	return rc;
}

/* Is r an entry read by itself (within ldap.base_dn)? */
static int
base_read(const struct rs_source *s, const struct rs_read *r)
{
	return r->kind == RS_READ_ENTRY && dn_within(r->ndn, s->base_norm);
}

int
source_fetch(struct rs_source *s, const struct rs_reads *r,
    struct rs_model *fresh, struct rs_err *err)
{
	double t0 = now_ms();
	size_t i, from, n = 0, subtrees = 0;

	s->missing_ok = 1;
	for (i = 0; i < r->n; i++) {
		for (from = i; i < r->n && base_read(s, &r->r[i]); i++)
			;
		n += i - from;
		if (i > from && read_bases(s, r->r + from, i - from, fresh,
		    err) < 0)
			return -1;
		if (i == r->n || r->r[i].kind == RS_DROP_SUBTREE ||
		    !dn_within(r->r[i].ndn, s->base_norm))
			continue;	/* moved out of ldap.base_dn */
		n++;
		subtrees++;
		s->base = r->r[i].dn;
		s->scope = LDAP_SCOPE_SUBTREE;
		if (load(s, NULL, fresh, err) < 0)
			return -1;
	}
	rs_log(RS_LOG_DEBUG, "ldap: %zu changed entries read again (%zu with "
	    "their subtree), %.0f ms", n, subtrees, now_ms() - t0);
	return 0;
}

int
source_base_exists(struct rs_source *s, struct rs_err *err)
{
	char *attrs[] = { LDAP_NO_ATTRS, NULL };
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *res = NULL;
	int rc;

	rc = ldap_search_ext_s(s->ld, s->c->ldap.base_dn, LDAP_SCOPE_BASE,
	    "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1, &res);
	ldap_msgfree(res);
	if (rc == LDAP_NO_SUCH_OBJECT)
		return no_base(s, err);
	return rc == LDAP_SUCCESS ? 0 : ldap_fail(s, rc, "ldap.base_dn",
	    err);
}

/* The NAMEs of one schema description: "( oid NAME 'a' ..." or
 * "NAME ( 'a' 'b' )", lower case, into names. */
static void
schema_names(const char *v, size_t len, struct strmap *names)
{
	const char *p = v, *end = v + len, *q;
	char *name;
	int list;

	while (p + 5 < end && strncmp(p, " NAME ", 6) != 0)
		p++;
	if (p + 5 >= end)
		return;
	p += 6;
	list = *p == '(';
	do {
		while (p < end && *p != '\'' && *p != ')')
			p++;
		if (p >= end || *p == ')')
			break;
		p++;
		q = memchr(p, '\'', (size_t)(end - p));
		if (q == NULL)
			break;
		name = xstrndup(p, (size_t)(q - p));
		str_lower(name);
		*strmap_slot(names, name) = (void *)1;
		free(name);
		p = q + 1;
	} while (list);
}

static void
schema_values(struct rs_source *s, LDAPMessage *e, const char *attr,
    struct strmap *names)
{
	struct berval **v = ldap_get_values_len(s->ld, e, attr);
	size_t i;

	for (i = 0; v && v[i]; i++)
		schema_names(v[i]->bv_val, v[i]->bv_len, names);
	ldap_value_free_len(v);
}

/* The DN of the subschema entry that governs base_dn. */
static char *
subschema_dn(struct rs_source *s)
{
	char *attrs[] = { "subschemaSubentry", NULL };
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *res = NULL, *e;
	struct berval **v = NULL;
	const char *bases[] = { s->c->ldap.base_dn, "" };
	char *dn = NULL;
	int i;

	for (i = 0; i < 2 && dn == NULL; i++) {
		if (ldap_search_ext_s(s->ld, bases[i], LDAP_SCOPE_BASE,
		    "(objectClass=*)", attrs, 0, NULL, NULL, &tv, 1, &res) ==
		    LDAP_SUCCESS && (e = ldap_first_entry(s->ld, res)) != NULL &&
		    (v = ldap_get_values_len(s->ld, e, attrs[0])) != NULL &&
		    v[0] != NULL)
			dn = xstrndup(v[0]->bv_val, v[0]->bv_len);
		ldap_value_free_len(v);
		v = NULL;
		ldap_msgfree(res);
		res = NULL;
	}
	return dn;
}

int
source_schema(struct rs_source *s, struct strmap *attrs,
    struct strmap *classes, char **where, struct rs_err *err)
{
	char *want[] = { "attributeTypes", "objectClasses", NULL };
	struct timeval tv = { s->c->ldap.timeout, 0 };
	LDAPMessage *res = NULL, *e;
	int rc;

	if ((*where = subschema_dn(s)) == NULL)
		return rs_err_set(err, RS_EX_UNAVAILABLE, "ldap %s: the server "
		    "names no subschemaSubentry for %s (or the account may not "
		    "read it)", s->c->ldap.uri, s->c->ldap.base_dn);
	rc = ldap_search_ext_s(s->ld, *where, LDAP_SCOPE_BASE,
	    "(objectClass=subschema)", want, 0, NULL, NULL, &tv, 1, &res);
	if (rc == LDAP_SUCCESS && (e = ldap_first_entry(s->ld, res)) != NULL) {
		schema_values(s, e, want[0], attrs);
		schema_values(s, e, want[1], classes);
	} else if (rc == LDAP_SUCCESS)
		rc = LDAP_NO_RESULTS_RETURNED;
	ldap_msgfree(res);
	return rc == LDAP_SUCCESS ? 0 : ldap_fail(s, rc, *where, err);
}

const struct rs_directory source_ldap = {
	source_open, source_load, source_fetch, source_cookie, source_changes,
	source_sync_reason, source_tracking, source_can_follow,
	source_watch_start, source_watch_wait, source_watch_take,
	source_watch_cookie, source_close
};
