/*
 * render - accepted routes as relaysync's table set (table.h owns the
 * line format).
 *
 * Functions
 *	render_tables(decision, tls_level, tables) writes the six tables and
 *	the owners file from the sorted accepted routes of a decision, byte
 *	for byte deterministic, one line per route in each (tls_policy: one
 *	per next hop):
 *	  sender_access     the submission service's check_sender_access:
 *	                    FILTER relaysync_smtp: the route's next hop
 *	                    (relaysync_smtps: for ssl), so the owner's mail
 *	                    leaves through the gateway
 *	  sender_login      the owner's login names (smtpd_sender_login_maps
 *	                    of that service)
 *	  sasl_passwd       user:password (routes with a login; only
 *	                    relaysync's transports read it, by sender)
 *	  tls_policy        next hop -> postfix.tls_level for TLS routes,
 *	                    "none" for an insecure route unless a TLS route
 *	                    shares it; only relaysync's transports read it
 *	  sender_relay      the next hop (starttls and none) and
 *	  sender_transport  relaysync_smtps: the next hop (ssl): the same
 *	                    routes in the sender_dependent_* forms, for
 *	                    monitoring; the prescribed configuration does not
 *	                    use them (postconf.h says why)
 *	  owners            the owner DN, non-printable bytes as \xNN (not a
 *	                    Postfix table: plan reads it to say whose route
 *	                    was removed)
 *	Keys are lower case and sorted.
 *	render_free(tables) releases the buffers, wiping private tables.
 *
 * Diagnostics
 *	None: routes were validated by policy.
 */
#ifndef RS_RENDER_H
#define RS_RENDER_H

#include "policy.h"
#include "table.h"
#include "util.h"

void render_tables(const struct rs_decision *decision, const char *tls_level,
    struct rs_tables *tables);
void render_free(struct rs_tables *tables);

#endif
