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
 *	model: policy entries, users, disabled users, send-as entries.
 *	source_close() unbinds.
 *	Every entry read carries its entryUUID (on Active Directory its
 *	objectGUID, in the same 8-4-4-4-12 form).
 *	source_open() also reads the rootDSE: supportedControl (which way
 *	of following changes the server offers: source_tracking()),
 *	namingContexts (the one that holds ldap.base_dn; continuation
 *	references to the server's other naming contexts, such as AD's
 *	CN=Configuration and DomainDnsZones below a domain root, are
 *	skipped) and subschemaSubentry. A rootDSE that lists no
 *	supportedControl at all leaves RFC 4533 to be tried.
 *	Each @NOW_FILETIME@ in users.disabled_filter becomes the current
 *	time in AD's units (100 ns since 1601).
 *	source_fetch() reads again, with the same searches, what
 *	model_reads() listed: each entry by itself (base scope) or with its
 *	subtree; a base that no longer exists reads as nothing.
 *
 *	RFC 4533 (the server needs the syncprov overlay; its session log
 *	lets it name deleted entries instead of listing every present one):
 *	every sync search runs over the whole base with (objectClass=*) and
 *	only reports which entries changed (their DN and hasSubordinates);
 *	source_fetch() then reads them with the mapping's filters, so that
 *	an entry that stopped matching a filter is seen too.
 *	source_cookie() takes a fresh sync cookie (a refreshOnly search that
 *	matches nothing); a full read takes one before it starts, so that
 *	nothing changed during the read is missed afterwards.
 *	source_changes() runs a refreshOnly search from a cookie and returns
 *	what changed since, and the cookie to keep (the old one when the
 *	server sent none).
 *	source_watch_start() starts a refreshAndPersist search from a cookie;
 *	it returns when the refresh phase is over, with what changed since
 *	the cookie pending. source_watch_wait() waits up to the given
 *	milliseconds and returns the number of changes announced (0 on time
 *	out or signal); source_watch_take() hands over the pending changes.
 *	source_watch_cookie() copies the latest sync cookie.
 *
 *	Active Directory (DirSync, 1.2.840.113556.1.4.841, when the rootDSE
 *	lists it and not RFC 4533): the same functions search the naming
 *	context of the base DN with the DirSync control from the cookie
 *	(kept as "dirsync:" and hexadecimal digits); the entries it returns
 *	are the changed ones (created, renamed or moved ones with entries
 *	below them are read with their subtree), tombstones the deleted
 *	ones. Since tombstones are shown only to privileged accounts, each
 *	DirSync run of source_changes() also lists the UUIDs of every entry
 *	the profile reads (a present phase); source_watch_wait() asks
 *	DirSync again after each wait and repeats that list every five
 *	seconds at least (twenty times as long as it took), announcing it
 *	only when it differs from the previous one. Entries that moved out
 *	of ldap.base_dn read as gone.
 *	source_tracking() says which way the server offers;
 *	source_can_follow() fails with RS_EX_UNAVAILABLE and a message
 *	naming the controls the rootDSE lacks when there is none.
 *	source_check_mapping() (check-config) reads the server's schema
 *	and writes to the given stream every attribute and object class of
 *	the mapping (its attributes and the attributes and objectClass
 *	values of its filters) the server does not know, and a warning for
 *	each of users.filter, policy.filter and sendas.filter (child
 *	layout) that matches no entry the bind account can see.
 *
 * Diagnostics
 *	Anything short of a complete answer is an error with RS_EX_UNAVAILABLE
 *	(69): connection or TLS failure, bind failure, a search error, a
 *	timeout, a size or time limit, a referral or a continuation
 *	reference to anything but the server's other naming contexts, a
 *	connection lost between pages. A failed ldaps:// connection names
 *	its TLS cause when there is one: a certificate not trusted by
 *	ldap.ca_file, or a host name mismatch with the names the
 *	certificate carries. DirSync refused for lack of rights names the
 *	"Replicating Directory Changes" right. source_check_mapping()
 *	returns RS_EX_CONFIG when the schema lacks a name. A filter the
 *	client library rejects is RS_EX_CONFIG (78). Messages name the URI,
 *	the base DN, the filter and the server's diagnostic; never the bind
 *	password.
 *	source_changes() and source_watch_start() fail with RS_EX_TEMPFAIL
 *	when the server answers a search from a cookie with an error
 *	(e-syncRefreshRequired, or a cookie from its future: read everything);
 *	a server without RFC 4533 fails them with RS_EX_UNAVAILABLE;
 *	source_watch_wait() returns -1 when the connection is lost or the
 *	server ends the search.
 */
#ifndef RS_SOURCE_H
#define RS_SOURCE_H

#include <stdio.h>

#include "config.h"
#include "model.h"

struct rs_source;

/* How a server lets relaysync follow changes. */
enum rs_tracking {
	RS_TRACK_NONE,		/* it does not: every run reads everything */
	RS_TRACK_SYNC,		/* RFC 4533 (OpenLDAP syncprov, 389-ds) */
	RS_TRACK_DIRSYNC	/* AD DirSync (Windows, Samba) */
};

/* What the rootDSE says. */
struct rs_caps {
	int known;		/* it listed supportedControl */
	int sync;		/* RFC 4533 */
	int dirsync;		/* AD DirSync, 1.2.840.113556.1.4.841 */
	int notify;		/* AD change notification, .528 */
	int show_deleted;	/* AD show deleted objects, .417 */
	char *subschema;	/* subschemaSubentry */
};

int source_open(const struct rs_config *, struct rs_source **,
    struct rs_err *);
int source_load(struct rs_source *, struct rs_model *, struct rs_err *);
void source_close(struct rs_source *);
int source_fetch(struct rs_source *, const struct rs_reads *,
    struct rs_model *, struct rs_err *);
int source_cookie(struct rs_source *, struct buf *, struct rs_err *);
int source_changes(struct rs_source *, const struct buf *,
    struct rs_changes *, struct buf *, struct rs_err *);
int source_watch_start(struct rs_source *, const struct buf *,
    struct rs_err *);
void source_watch_take(struct rs_source *, struct rs_changes *);
int source_watch_wait(struct rs_source *, int, struct rs_err *);
void source_watch_cookie(struct rs_source *, struct buf *);
enum rs_tracking source_tracking(const struct rs_source *);
int source_can_follow(struct rs_source *, struct rs_err *);
int source_check_mapping(struct rs_source *, FILE *, struct rs_err *);

#endif
