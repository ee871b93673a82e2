#!/bin/bash
# Runs last: no fixture password and no bind password appears in anything the
# suite saw: every relaysync output (stdout and stderr of every run), the
# suites' own logs, and the servers' logs (Postfix maillog, slapd, LDAP tools).
# Every fixture password contains "SECRET".
. "$(dirname "$0")/../lib.sh"

LOGS=$TOP/build/test-logs
check "relaysync's outputs of this suite were collected" test -s "$LOGS/relaysync-output.log"
for f in "$LOGS"/*.log; do
	expect_no_grep "no password in $(basename "$f")" "SECRET|$SVC_PW|$ADMIN_PW" "$f"
done
finish
