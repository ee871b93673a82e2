/*
 * source - read policy, users and send-as entries from LDAP.
 *
 * The only module that talks to the directory. libldap's own
 * configuration files are ignored (LDAPNOINIT): what relaysync.yaml says
 * is what happens. TLS is verified against ldap.ca_file; referrals are
 * never followed.
 *
 * Functions
 *	source_open() connects (ldaps://, ldap:// with StartTLS, ldapi://),
 *	and binds: SASL (ldap.sasl_mech, e.g. EXTERNAL), simple with the
 *	password from ldap.bind_password_file, or anonymous when neither a
 *	bind DN nor a mechanism is configured.
 *	source_load() runs the paged searches (RFC 2696, ldap.page_size per
 *	page, ldap.timeout per page) of the mapping profile and fills the
 *	model: policy entries, users, disabled users, send-as entries. It
 *	opens a second connection (bound as the first) for the time of the
 *	read, so that the server works on two searches at once: policy and
 *	users on one, disabled users and send-as entries on the other (a
 *	server pages one search at a time per connection); without it (the
 *	second connection fails: logged with --verbose) the four run one
 *	after the other. Each page's successor is asked for before its
 *	entries are handled, and each entry is read in one pass over its
 *	attributes.
 *	source_close() unbinds. Both ignore SIGPIPE while they run (a write
 *	to a server that went away fails instead of killing the run). source_open() also reads the rootDSE's
 *	supportedControl: source_sync_offered() is 0 when the server lists
 *	controls but not RFC 4533's (then no sync search is ever sent), 1
 *	otherwise.
 *	source_base_exists() reads the entry of ldap.base_dn (check-config).
 *	source_schema() reads the subschema entry that governs the base
 *	(subschemaSubentry of the base entry, else of the root DSE) and puts
 *	the lower-case NAMEs of every attribute type and object class in
 *	attrs and classes; *where is that entry's DN (to be freed).
 *	Every entry read carries its sync UUID, from the mapping's
 *	uuid_attribute (model.h).
 *	source_fetch() reads again, with the same searches, what
 *	model_reads() listed: each entry by itself (base scope; many such
 *	requests under way at once on the connection, their answers taken
 *	in order) or with its subtree; a base that no longer exists reads
 *	as nothing.
 *
 *	RFC 4533 (OpenLDAP: the syncprov overlay, with a session log so that
 *	it can name deleted entries; 389-ds: the Content Synchronization and
 *	Retro Changelog plugins): every sync search is the same search, over
 *	the whole base with (objectClass=*) and no attributes, so that a
 *	cookie is only used with the search it came from; it only reports
 *	which entries changed (their DN), were deleted or are present, and
 *	where a refresh phase ends and what the server declares it (present
 *	or delete: model_phase_end()); source_fetch() then reads them with
 *	the mapping's filters, so that an entry that stopped matching a
 *	filter is seen too.
 *	source_cookie() takes a fresh sync cookie: that search in
 *	refreshOnly mode without a cookie, one entry per page (RFC 2696)
 *	when the server pages, so that neither the whole content is sent nor
 *	a size limit reached (the entries are ignored); a full read takes one
 *	before it starts, so that nothing changed during the read is missed
 *	afterwards.
 *	source_changes() runs a refreshOnly search from a cookie and returns
 *	what changed since, and the cookie to keep (the old one when the
 *	server sent none).
 *	source_watch_start() starts a refreshAndPersist search from a cookie;
 *	it returns when the refresh phase is over, with what changed since
 *	the cookie pending. source_watch_wait() waits up to the given
 *	milliseconds and returns the number of changes announced (0 on time
 *	out or signal); source_watch_take() hands over the pending changes.
 *	source_watch_cookie() copies the latest sync cookie.
 *	source_sync_reason() names why the last sync search failed:
 *	no_rfc4533, cookie_refused, inconsistent_sync or sync_failed.
 *
 *	Active Directory (DirSync, 1.2.840.113556.1.4.841, when the rootDSE
 *	lists it and not RFC 4533): the same functions search the naming
 *	context of the base DN (from the rootDSE's namingContexts) with the
 *	DirSync control from the cookie (kept as "dirsync:" and hexadecimal
 *	digits); the entries it returns are the changed ones, tombstones the
 *	deleted ones. Since tombstones are shown only to privileged accounts
 *	(Samba 4.17: administrators), each DirSync run of source_changes()
 *	also lists the UUIDs of every entry the profile reads (a present
 *	phase); source_watch_wait() asks DirSync again after each wait and
 *	repeats that list every five seconds at least (twenty times as long
 *	as it took), announcing it only when it differs from the previous
 *	one. Changed entries outside ldap.base_dn read as gone.
 *	source_tracking() says which way the server offers;
 *	source_can_follow() fails with RS_EX_UNAVAILABLE and a message
 *	naming what the rootDSE lacks, or the "Replicating Directory
 *	Changes" right when DirSync was refused, when there is none.
 *	Continuation references to the server's other naming contexts (AD's
 *	CN=Configuration, DomainDnsZones, ForestDnsZones below a domain
 *	root) are skipped; any other reference is an error. Each
 *	@NOW_FILETIME@ in users.disabled_filter becomes the time of the
 *	read in AD's units (100 ns since 1601). An AD objectGUID (16 bytes)
 *	as uuid_attribute is taken in the form of a syncUUID.
 *
 *	struct rs_directory is the seam at this I/O boundary (the installer,
 *	installer.h, is the other): pipeline and watch reach the directory
 *	only through one, so that unit tests can give them a fake
 *	(tests/unit/fake.h). source_ldap is the real one, these functions:
 *	open (source_open), read (source_load), fetch, cookie, changes,
 *	reason (source_sync_reason), tracking, can_follow, follow
 *	(source_watch_start), wait, take and position (source_watch_wait,
 *	_take, _cookie), close.
 *
 * Diagnostics
 *	Anything short of a complete answer is an error with RS_EX_UNAVAILABLE
 *	(69): connection or TLS failure (with its cause: probe.h), bind
 *	failure, a search error, a timeout, a size or time limit, a referral
 *	or a continuation reference (but to the server's other naming
 *	contexts), a connection lost between pages. A filter the client library rejects
 *	is RS_EX_CONFIG (78), and so is an ldap.base_dn that does not exist
 *	(the message names the key, its line and the server's naming
 *	contexts). Messages name the URI, the base DN, the filter
 *	and the server's diagnostic; never the bind password.
 *	source_changes() and source_watch_start() fail with RS_EX_TEMPFAIL
 *	when the server answers a search from a cookie with an error
 *	(e-syncRefreshRequired, or a cookie from its future: read everything)
 *	or when its answer contradicts itself (a present phase that also
 *	names deleted entries); a server without RFC 4533 fails them, and
 *	source_cookie(), with RS_EX_UNAVAILABLE. A connection that fails
 *	says why (probe.h): name not found, refused, no answer, StartTLS
 *	refused, or which certificate problem (a second connection, sending
 *	no credentials, fetches the certificate);
 *	source_watch_wait() returns -1 when the connection is lost or the
 *	server ends the search.
 */
#ifndef RS_SOURCE_H
#define RS_SOURCE_H

#include "config.h"
#include "model.h"

struct rs_source;

/* How a server lets relaysync follow changes. */
enum rs_tracking {
	RS_TRACK_NONE,		/* it does not: every run reads everything */
	RS_TRACK_SYNC,		/* RFC 4533 (OpenLDAP syncprov, 389-ds) */
	RS_TRACK_DIRSYNC	/* AD DirSync (Windows, Samba) */
};

int source_open(const struct rs_config *c, struct rs_source **out,
    struct rs_err *err);
int source_load(struct rs_source *s, struct rs_model *model,
    struct rs_err *err);
void source_close(struct rs_source *s);
int source_base_exists(struct rs_source *s, struct rs_err *err);
int source_schema(struct rs_source *s, struct strmap *attrs,
    struct strmap *classes, char **where, struct rs_err *err);
int source_fetch(struct rs_source *s, const struct rs_reads *r,
    struct rs_model *fresh, struct rs_err *err);
int source_sync_offered(const struct rs_source *s);
const char *source_sync_reason(const struct rs_source *s);
int source_cookie(struct rs_source *s, struct buf *cookie, struct rs_err *err);
int source_changes(struct rs_source *s, const struct buf *cookie,
    struct rs_changes *out, struct buf *next, struct rs_err *err);
int source_watch_start(struct rs_source *s, const struct buf *cookie,
    struct rs_err *err);
void source_watch_take(struct rs_source *s, struct rs_changes *out);
int source_watch_wait(struct rs_source *s, int ms, struct rs_err *err);
void source_watch_cookie(struct rs_source *s, struct buf *out);
enum rs_tracking source_tracking(const struct rs_source *s);
int source_can_follow(struct rs_source *s, struct rs_err *err);

/* The directory's operations (see above). */
struct rs_directory {
	int (*open)(const struct rs_config *c, struct rs_source **src,
	    struct rs_err *err);
	int (*read)(struct rs_source *src, struct rs_model *m,
	    struct rs_err *err);
	int (*fetch)(struct rs_source *src, const struct rs_reads *r,
	    struct rs_model *m, struct rs_err *err);
	int (*cookie)(struct rs_source *src, struct buf *cookie,
	    struct rs_err *err);
	int (*changes)(struct rs_source *src, const struct buf *cookie,
	    struct rs_changes *ch, struct buf *next, struct rs_err *err);
	const char *(*reason)(const struct rs_source *src);
	enum rs_tracking (*tracking)(const struct rs_source *src);
	int (*can_follow)(struct rs_source *src, struct rs_err *err);
	int (*follow)(struct rs_source *src, const struct buf *cookie,
	    struct rs_err *err);
	int (*wait)(struct rs_source *src, int ms, struct rs_err *err);
	void (*take)(struct rs_source *src, struct rs_changes *ch);
	void (*position)(struct rs_source *src, struct buf *cookie);
	void (*close)(struct rs_source *src);
};

extern const struct rs_directory source_ldap;

#endif
