#!/bin/bash
# make demo: a throwaway slapd with our schema and sample users, one real
# relaysync sync into a private Postfix directory, the report and the tables.
# Everything lives in /tmp/relaysync-demo (kept for a look afterwards).
export RS_WORKDIR=/tmp/relaysync-demo
rm -rf "$RS_WORKDIR"
KEEP=1
. "$(dirname "$0")/lib.sh"
RELAYSYNC=$TOP/build/relaysync
set -e

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@" || printf '(exit status %d)\n' "$?"; }

say "Starting a throwaway slapd with the relaysync schema and sample users"
make_ca
start_slapd
GW_PORT=587 GW_SSL_PORT=465 ldap_load "$TOP/tests/fixtures/directory.ldif"
echo "slapd on ldap://127.0.0.1:$SLAPD_PORT, base $BASE_DN; entries:"
ldapsearch -x -LLL -H "ldap://127.0.0.1:$SLAPD_PORT" -b "$BASE_DN" \
    '(|(objectClass=organizationalUnit)(objectClass=relaysyncSendAs))' dn relaysyncAllowUserGateways |
    grep -v '^$' | sed 's/^/  /'

RELAY_PORT=25
start_postfix
CFG=$T/relaysync.yaml
write_config "$CFG"
say "Configuration ($CFG)"
sed 's/^/  /' "$CFG"

say "Dry run: what would change, and why (exit 2 = changes pending)"
run "$RELAYSYNC" --config "$CFG" sync --dry-run

say "Sync into the private Postfix directory $POSTFIX_DIR"
run "$RELAYSYNC" --config "$CFG" sync

say "The installed tables ($MAP_DIR -> $(readlink "$MAP_DIR"))"
for t in sender_access sender_login tls_policy; do
	echo "--- $t"
	cat "$MAP_DIR/$t"
done
echo "--- sasl_passwd (mode $(stat -c %a "$MAP_DIR/sasl_passwd"); passwords hidden here)"
sed 's/:.*/:********/' "$MAP_DIR/sasl_passwd"
echo "--- Postfix answers from the indexed tables:"
run postmap -c "$POSTFIX_DIR" -q alice@partner.example "lmdb:$MAP_DIR/sender_access"
run postmap -c "$POSTFIX_DIR" -q alice@partner.example "lmdb:$MAP_DIR/sender_login"

say "An LDAP admin allows gateways for ou=interns; the next dry run shows the change"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
run "$RELAYSYNC" --config "$CFG" sync --dry-run

say "Postfix settings to apply once (relaysync postfix-config): only alice, logged in, sends through her gateway"
run "$RELAYSYNC" --config "$CFG" postfix-config --service "$SUBMIT_SERVICE"

say "Done. Files are in $T; slapd is stopped."
