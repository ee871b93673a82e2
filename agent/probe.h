/*
 * probe - why a connection to the LDAP server failed, in words.
 *
 * libldap reports every failure to reach a server as "Can't contact LDAP
 * server", and a certificate it rejects as "Connect error". When source
 * gets one of those, it asks probe to find the real cause by doing the
 * same steps itself: resolve the host of ldap.uri, open a TCP connection
 * (within ldap.timeout), and for ldaps:// or StartTLS make a TLS handshake
 * with OpenSSL and check the server's certificate against ldap.ca_file
 * the way libldap does (chain, validity, host name). Only source calls it.
 *
 * Functions
 *	probe_ldap(c, msg, len) writes into msg (at most len bytes) the
 *	cause, with the setting that fixes it: the host name is not found;
 *	the connection is refused; no answer within ldap.timeout; the
 *	server refused StartTLS; the certificate is not trusted (its subject
 *	and issuer, and ldap.ca_file); expired or not yet valid (the dates);
 *	it does not name the host of ldap.uri (its subject and the names it
 *	carries; for "localhost", libldap checks this machine's name). It
 *	returns 0 with msg empty when it found nothing wrong (the caller
 *	then reports what libldap said), and never sends credentials.
 *
 * Diagnostics
 *	None besides msg.
 */
#ifndef RS_PROBE_H
#define RS_PROBE_H

#include <stddef.h>

#include "config.h"

int probe_ldap(const struct rs_config *c, char *msg, size_t len);

#endif
