#!/bin/bash
# The main job against a real slapd and a real Postfix: tables byte for byte,
# every reason code, paging, dry run, an admin's change, LDAP unreachable,
# and mail flowing through the right gateway with the right login.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert gateway localhost
GW_PORT=$(free_port)
GW_SSL_PORT=$(free_port)
RELAY_PORT=$(free_port)
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
start_postfix
CFG=$T/relaysync.yaml
write_config "$CFG"

# json_get FILE PYTHON_EXPR: evaluate an expression over the JSON report r.
json_get() {
	/usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($2)" "$1"
}

expected_tables() {
	mkdir -p "$T/expected"
	local t
	for t in sender_relay sender_transport sasl_passwd tls_policy sender_access sender_login; do
		fill "$TOP/tests/fixtures/expected/$t" | LC_ALL=C sort >"$T/expected/$t"
	done
}

# --- dry run on an empty system: changes pending, nothing written ---
mkdir -p "$T/state"
before=$(tree_sum "$T/postfix")
rs --config "$CFG" sync --dry-run
expect_eq "dry run with pending changes exits 2" 2 "$RC"
expect_eq "dry run wrote nothing below the Postfix directory" "$before" "$(tree_sum "$T/postfix")"
check "dry run created no generation" test ! -e "$MAP_DIR"
expect_grep "dry run report lists alice's route as added" '^added +alice@partner.example via \[localhost\]:[0-9]+ starttls login alice@partner.example' "$T/out"

# --- first real sync: the six tables, byte for byte ---
rs --config "$CFG" sync
expect_eq "first sync exits 0" 0 "$RC"
expected_tables
for t in sender_relay sender_transport sasl_passwd tls_policy sender_access sender_login; do
	expect_file "table $t is exactly as expected" "$T/expected/$t" "$MAP_DIR/$t"
	check "table $t has its lmdb index" test -s "$MAP_DIR/$t.lmdb"
done
expect_eq "sasl_passwd is mode 600" 600 "$(stat -c %a "$MAP_DIR/sasl_passwd")"
expect_eq "sasl_passwd.lmdb is mode 600" 600 "$(stat -c %a "$MAP_DIR/sasl_passwd.lmdb")"
for t in sender_relay sender_transport sender_access sender_login tls_policy owners; do
	expect_eq "$t is not world-readable (640)" 640 "$(stat -c %a "$MAP_DIR/$t")"
done
expect_eq "map_dir is a link to generation 1" "relaysync.generations/1" "$(readlink "$MAP_DIR")"
expect_eq "postmap -q finds alice's relay" "[localhost]:$GW_PORT" \
    "$(postmap -c "$POSTFIX_DIR" -q alice@partner.example "lmdb:$MAP_DIR/sender_relay")"
expect_eq "postmap -q finds frank's implicit-TLS transport" "relaysync_smtps:[localhost]:$GW_SSL_PORT" \
    "$(postmap -c "$POSTFIX_DIR" -q frank@smtps.example "lmdb:$MAP_DIR/sender_transport")"
check "the implicit-TLS route is not in sender_relay" \
    sh -c "! grep -q frank $MAP_DIR/sender_relay"

# --- every verdict in the JSON report ---
rs --config "$CFG" sync --dry-run --format json
expect_eq "second dry run: nothing pending, exit 0" 0 "$RC"
cp "$T/out" "$T/report.json"
reasons=$(json_get "$T/report.json" '" ".join(sorted(x["address"]+"="+x["reason"] for x in r["rejected"]))')
expect_eq "every rejection has its reason code" \
    "Shared@Conflict.example=conflict alice@example.com=internal_domain bob@partner.example=policy_forbidden carol@insecure.example=insecure_forbidden carol@nogw.example=no_gateway gina@partner.example=policy_forbidden shared@conflict.example=conflict" \
    "$reasons"
expect_eq "JSON summary counts" "3 7 False" \
    "$(json_get "$T/report.json" 'r["summary"]["routes"], r["summary"]["rejected"], r["changes_pending"]' | tr -d '(),')"
expect_no_grep "no secret in the JSON report" 'SECRET' "$T/report.json"

# --- paging: the server allows pages of at most 2 and 5 entries unpaged ---
set_limits() {
	ldapmodify -Y EXTERNAL -H "$SLAPD_LDAPI" >/dev/null 2>&1 <<EOF
dn: olcDatabase={1}mdb,cn=config
changetype: modify
replace: olcLimits
olcLimits: {0}dn.exact="$SVC_DN" $1
EOF
}
set_limits "size.soft=5 size.hard=5 size.pr=2 size.prtotal=unlimited"
PAGE_SIZE=2 write_config "$T/paged.yaml"
rs --config "$T/paged.yaml" --verbose sync --dry-run --full
expect_eq "paged dry run (page size 2, server maximum 2) sees no change" 0 "$RC"
expect_grep "paged search read all 10 send-as entries in 5 pages" \
    'filter=\(objectClass=relaysyncSendAs\): 10 entries in 5 pages' "$T/err"
PAGE_SIZE=50 write_config "$T/bigpage.yaml"
before=$(tree_sum "$T/postfix")
rs --config "$T/bigpage.yaml" sync --full
expect_eq "a page size the server refuses aborts with 69" 69 "$RC"
expect_grep "the error carries the server's reason" 'Administrative limit exceeded' "$T/err"
set_limits "size=5"
rs --config "$T/paged.yaml" sync --full
expect_eq "a size limit hit mid-search aborts with 69" 69 "$RC"
expect_grep "the size-limit error names the filter" 'Size limit exceeded' "$T/err"
expect_eq "the aborted runs left the tables untouched" "$before" "$(tree_sum "$T/postfix")"
set_limits "size=unlimited time=unlimited"

# --- end to end through the private Postfix ---
start_sink gateway "$GW_PORT" --user alice@partner.example --password alice-gw-SECRET-1 \
    --cert "$CA/gateway.crt" --key "$CA/gateway.key" --starttls
start_sink smtps "$GW_SSL_PORT" --user frank.login --password frank-gw-SECRET-2 \
    --cert "$CA/gateway.crt" --key "$CA/gateway.key" --implicit-tls
start_sink relay "$RELAY_PORT"
sasl_user alice alice-login-SECRET
sasl_user frank frank-login-SECRET
sasl_user bob bob-login-SECRET
check "private Postfix starts" run_postfix "$CFG"

# Each owner submits, logged in on the submission service.
send_auth alice alice-login-SECRET alice@partner.example someone@elsewhere.example "e2e-alice-1"
send_auth frank frank-login-SECRET frank@smtps.example someone@elsewhere.example "e2e-frank-1"
send_auth bob bob-login-SECRET bob@partner.example someone@elsewhere.example "e2e-bob-1"
send_auth alice alice-login-SECRET alice@example.com someone@elsewhere.example "e2e-internal-1"
check "allowed STARTTLS address reaches its gateway" wait_for_subject gateway e2e-alice-1
expect_eq "the gateway saw alice's stored login" "alice@partner.example" "$(record gateway e2e-alice-1 auth_login)"
expect_eq "the gateway session was encrypted (STARTTLS)" "True" "$(record gateway e2e-alice-1 tls)"
check "implicit-TLS address reaches its port-465-style gateway" wait_for_subject smtps e2e-frank-1
expect_eq "the implicit-TLS gateway saw frank's login" "frank.login" "$(record smtps e2e-frank-1 auth_login)"
expect_eq "the implicit-TLS session was encrypted" "True" "$(record smtps e2e-frank-1 tls)"
check "forbidden user's address goes to the default relay" wait_for_subject relay e2e-bob-1
expect_eq "the default relay saw no login for bob" "None" "$(record relay e2e-bob-1 auth_login)"
check "internal address goes to the default relay" wait_for_subject relay e2e-internal-1
expect_eq "the default relay saw no login for the internal address" "None" "$(record relay e2e-internal-1 auth_login)"
check "bob's message did not reach the gateway" sh -c "! grep -q e2e-bob-1 $T/gateway.jsonl"

# --- an admin forbids ou=sales: exactly alice's and frank's routes go ---
ldap_modify <<EOF
dn: ou=sales,ou=people,$BASE_DN
changetype: modify
add: objectClass
objectClass: relaysyncPolicy
-
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: FALSE
EOF
rs --config "$CFG" sync --dry-run --format json
expect_eq "dry run after the OU flip exits 2" 2 "$RC"
expect_eq "the flip removes exactly alice's and frank's routes" \
    "[] ['alice@partner.example:policy_forbidden', 'frank@smtps.example:policy_forbidden']" \
    "$(json_get "$T/out" '[x["address"] for x in r["added"]], [x["address"]+":"+x["reason"] for x in r["removed"]]')"
rs --config "$CFG" sync
expect_eq "sync after the OU flip exits 0" 0 "$RC"
expect_grep "the sync reloaded Postfix" 'Postfix reloaded' "$T/out"
expect_eq "sender_relay now holds only erin" "erin@nologin.example [mx.nologin.example]:25" "$(cat "$MAP_DIR/sender_relay")"
check "sasl_passwd is now empty" test ! -s "$MAP_DIR/sasl_passwd"
expect_eq "generation 2 is live" "relaysync.generations/2" "$(readlink "$MAP_DIR")"
check "generation 1 is kept for rollback" test -s "$T/postfix/relaysync.generations/1/sender_relay"
send_auth alice alice-login-SECRET alice@partner.example someone@elsewhere.example "e2e-alice-2"
check "after the flip alice's address goes to the default relay" wait_for_subject relay e2e-alice-2
expect_eq "the default relay saw no login for alice" "None" "$(record relay e2e-alice-2 auth_login)"

# --- the admin allows interns again below sales: bob's route appears ---
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$CFG" sync --format json
expect_eq "allowing interns adds exactly bob's route" "['bob@partner.example'] []" \
    "$(json_get "$T/out" '[x["address"] for x in r["added"]], [x["address"] for x in r["removed"]]')"
check "generation 1 was removed after generation 3" test ! -e "$T/postfix/relaysync.generations/1"

# --- map_type cdb: postmap cannot list a cdb index (postmap -s fails), so
# a new index is checked by looking up a sample of its lines ---
mkdir -p "$T/cdb"
MAP_TYPE=cdb MAP_DIR=$T/cdb/relaysync STATE_DIR=$T/cdb-state RELOAD=false \
    write_config "$T/cdb.yaml"
rs --config "$T/cdb.yaml" sync
expect_eq "a sync with map_type cdb exits 0" 0 "$RC"
check "it installed sender_relay.cdb" test -s "$T/cdb/relaysync/sender_relay.cdb"
line=$(grep '^bob@' "$T/cdb/relaysync/sender_relay")
check "bob has a route in the cdb run's sender_relay" test -n "$line"
expect_eq "postmap -q finds bob's route in the cdb index" "${line#* }" \
    "$(postmap -q bob@partner.example "cdb:$T/cdb/relaysync/sender_relay")"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
rs --config "$T/cdb.yaml" sync
expect_eq "the cdb sync after bob lost his route exits 0" 0 "$RC"
postmap -q bob@partner.example "cdb:$T/cdb/relaysync/sender_relay" >/dev/null
expect_eq "bob's route is gone from the rebuilt cdb index" 1 "$?"
check "the cdb index is still there" test -s "$T/cdb/relaysync/sender_relay.cdb"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE

# --- LDAP unreachable: exit 69, tables untouched ---
before=$(tree_sum "$T/postfix")
stop_slapd
rs --config "$CFG" sync
expect_eq "sync with slapd stopped exits 69" 69 "$RC"
expect_grep "the error names the LDAP URI" "ldap ldap://127.0.0.1:$SLAPD_PORT" "$T/err"
expect_eq "tables unchanged while LDAP is down" "$before" "$(tree_sum "$T/postfix")"

expect_no_grep "no fixture password in any output of this test" 'SECRET' "$T/all-output.log"
finish
