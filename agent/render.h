/*
 * render - accepted routes as Postfix lookup-table source text.
 *
 * Functions
 *	render_tables(decision, tls_level, tables) writes the six tables from
 *	the sorted accepted routes of a decision, byte for byte deterministic:
 *	  sender_access     address FILTER relaysync_smtp:[host]:port
 *	                    (relaysync_smtps: for ssl); the submission
 *	                    service's check_sender_access: the owner's mail
 *	                    leaves through the gateway
 *	  sender_login      address login, login   (the owner's login names;
 *	                    smtpd_sender_login_maps of that service)
 *	  sasl_passwd       address user:password  (routes with a login; only
 *	                    relaysync's transports read it, by sender)
 *	  tls_policy        [host]:port level      (one line per gateway;
 *	                    postfix.tls_level for TLS routes, "none" for an
 *	                    insecure route unless a TLS route shares it; only
 *	                    relaysync's transports read it)
 *	  sender_relay      address [host]:port    (starttls and none) and
 *	  sender_transport  address relaysync_smtps:[host]:port (ssl): the
 *	                    same routes in the sender_dependent_* forms, for
 *	                    monitoring; the prescribed configuration does not
 *	                    use them (postconf.h says why)
 *	and the owners file (address, then the owner DN with non-printable
 *	bytes as \xNN), which is not a Postfix table: plan reads it to say
 *	whose route was removed. Keys are lower case and sorted.
 *	render_nexthop() formats "[host]:port" (IPv6 as "[ipv6:addr]:port").
 *	render_free() releases the buffers.
 *	render_diff() walks two tables in that order (each line "key value",
 *	keys unique and ascending) and calls fn for each key whose line
 *	differs: with the old and the new line, or NULL for the one missing
 *	(lines end at a newline or the end of the text). It returns -1, part
 *	way, when a text is not in strictly ascending order of keys.
 *	render_masked() appends a table line (without its newline) to a
 *	buffer, the password of a private table's "login:password" value
 *	shown as ********.
 *	render_key_len() is the length of a line's key; render_next_line()
 *	points at the line after it (or at the end of the text).
 *	rs_table_names[] are the file names; rs_table_private[] says which
 *	tables hold secrets (mode 0600; the others are 0640: they show who
 *	sends as whom through which gateway).
 *
 * Diagnostics
 *	None: routes were validated by policy.
 */
#ifndef RS_RENDER_H
#define RS_RENDER_H

#include "policy.h"
#include "util.h"

enum rs_table {
	RS_T_SENDER_RELAY,
	RS_T_SENDER_TRANSPORT,
	RS_T_SASL_PASSWD,
	RS_T_TLS_POLICY,
	RS_T_SENDER_ACCESS,
	RS_T_SENDER_LOGIN,
	RS_T_COUNT
};

#define RS_OWNERS_FILE		"owners"
#define RS_SMTP_TRANSPORT	"relaysync_smtp"
#define RS_SMTPS_TRANSPORT	"relaysync_smtps"

extern const char *const rs_table_names[RS_T_COUNT];
extern const int rs_table_private[RS_T_COUNT];

struct rs_tables {
	struct buf t[RS_T_COUNT];
	struct buf owners;
	size_t nroutes;
};

void render_tables(const struct rs_decision *, const char *,
    struct rs_tables *);
void render_free(struct rs_tables *);
const char *render_nexthop(struct buf *, const struct rs_route *);

size_t render_key_len(const char *);
const char *render_next_line(const char *);
void render_masked(struct buf *, int, const char *);
typedef void (*render_diff_fn)(void *, const char *, const char *);
int render_diff(const char *, const char *, render_diff_fn, void *);

#endif
