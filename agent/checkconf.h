/*
 * checkconf - relaysync check-config: both sides, before the first sync.
 *
 * Each check prints one line: "<what>: ok", or a finding
 * "problem: <what> (<where>); <the fix>". The checks, in order:
 *	secrets    the key file can be read (a missing one is a problem only
 *	           when the directory holds {AES256-GCM} values);
 *	ldap       the connection and bind (the cause of a failure, probe.h);
 *	           ldap.base_dn exists; every object class and attribute the
 *	           mapping profile names (in its filters and attribute keys)
 *	           is in the server's schema (subschemaSubentry); the account
 *	           sees policy entries, users and send-as entries below the
 *	           base (no user at all is a problem: a filter or an ACL);
 *	postfix    postfix.config_dir exists and holds main.cf; postconf -m
 *	           lists postfix.map_type; then checkconf_postfix_live(): the
 *	           live configuration holds what relaysync postfix-config
 *	           prescribes (postconf.h).
 * LDAP checks after a failed connection are skipped (said so).
 *
 * Functions
 *	checkconf_run(c, service, fp) runs every check and prints a last
 *	line "check-config: N problem(s) found" or "check-config: ok"; it
 *	returns RS_EX_OK, RS_EX_CONFIG when a finding is a configuration
 *	error that stops sync with the same exit code (a secret file others
 *	may read, a key file that does not cover the directory's encrypted
 *	passwords, an ldap.base_dn that does not exist), else RS_EX_FAIL
 *	when there was a finding.
 *	checkconf_postfix_live(c, service, fp) is the Postfix-side hook for
 *	the prescribed settings; it returns the number of findings it
 *	printed (-1 after printing why it could not check).
 *
 * Diagnostics
 *	Every finding names the setting, the file and line or the DN, and the
 *	fix; nothing else fails.
 */
#ifndef RS_CHECKCONF_H
#define RS_CHECKCONF_H

#include <stdio.h>

#include "config.h"

int checkconf_run(const struct rs_config *c, const char *service, FILE *fp);
int checkconf_postfix_live(const struct rs_config *c, const char *service,
    FILE *fp);

#endif
