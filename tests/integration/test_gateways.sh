#!/bin/bash
# Gateways that really work: STARTTLS and implicit TLS proven end to end with
# passwords encrypted at rest, a gateway with a wrong certificate refused by
# Postfix under "secure" (deferred, never sent in clear), relaysync verify
# against good, wrong-password, wrong-certificate, closed and silent
# gateways, and policy.require_gateway_check with sync --verify.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert gateway localhost
make_cert wrong wrong.example
GOOD=$(free_port)
SSL=$(free_port)
BADCERT=$(free_port)
CLOSED=$(free_port)
SILENT=$(free_port)
RELAY_PORT=$(free_port)
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
start_postfix
MAP_DIR=$T/postfix/relaysync
write_config "$T/rs.yaml"
mkdir -p "$T/state"
printf '# test keys\nk2 %s\nk1 %s\n' "$(openssl rand -hex 32)" "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"

enc() { "$RELAYSYNC" --config "$T/rs.yaml" encrypt-secret "$1" <<<"$2"; }
GOOD_ENC=$(enc good@gw.example good-gw-SECRET)
SSL_ENC=$(enc smtps@gw.example ssl-gw-SECRET)
check "encrypt-secret uses the first key (k2)" test "${GOOD_ENC#\{AES256-GCM\}k2:}" != "$GOOD_ENC"
check "the encrypted value does not contain the password" sh -c "! echo '$GOOD_ENC' | grep -q good-gw"

# sendas ADDRESS PORT SECURITY USER PASSWORD: an entry below uid=gw.
sendas() {
	printf 'dn: relaysyncSendAsAddress=%s,uid=gw,ou=sales,ou=people,%s\n' "$1" "$BASE_DN"
	printf 'objectClass: relaysyncSendAs\nrelaysyncSendAsAddress: %s\n' "$1"
	printf 'relaysyncSmtpHost: localhost\nrelaysyncSmtpPort: %s\nrelaysyncSmtpSecurity: %s\n' "$2" "$3"
	printf 'relaysyncSmtpUsername: %s\nrelaysyncSmtpPassword: %s\n\n' "$4" "$5"
}
{
	printf 'dn: uid=gw,ou=sales,ou=people,%s\nobjectClass: inetOrgPerson\nuid: gw\ncn: gw\nsn: gw\n\n' "$BASE_DN"
	sendas good@gw.example "$GOOD" starttls good "$GOOD_ENC"
	sendas smtps@gw.example "$SSL" ssl ssluser "$SSL_ENC"
	sendas wrongpw@gw.example "$GOOD" starttls good wrong-gw-SECRET
	sendas badcert@gw.example "$BADCERT" starttls good good-gw-SECRET
	sendas closed@gw.example "$CLOSED" starttls good good-gw-SECRET
	sendas silent@gw.example "$SILENT" starttls good good-gw-SECRET
	sendas undecryptable@gw.example "$GOOD" starttls good "{AES256-GCM}k9:${GOOD_ENC#*:}"
	sendas tampered@gw.example "$GOOD" starttls good "${GOOD_ENC%????}AAA="
} >"$T/gw.ldif"
ldap_load "$T/gw.ldif" || exit 1

start_sink good "$GOOD" --user good --password good-gw-SECRET --cert "$CA/gateway.crt" \
    --key "$CA/gateway.key" --starttls
start_sink ssl "$SSL" --user ssluser --password ssl-gw-SECRET --cert "$CA/gateway.crt" \
    --key "$CA/gateway.key" --implicit-tls
start_sink badcert "$BADCERT" --user good --password good-gw-SECRET --cert "$CA/wrong.crt" \
    --key "$CA/wrong.key" --starttls
start_sink relay "$RELAY_PORT"
/usr/bin/python3 "$TOP/tests/tools/silent.py" "$SILENT" >/dev/null 2>&1 &
PIDS+=("$!")
wait_port "$SILENT"

# --- encrypted secrets through sync ---
rs --config "$T/rs.yaml" sync --format json
expect_eq "sync with encrypted passwords exits 0" 0 "$RC"
expect_eq "sasl_passwd holds the decrypted password for good@" \
    "good@gw.example good:good-gw-SECRET" "$(grep '^good@gw.example ' "$MAP_DIR/sasl_passwd")"
expect_eq "sasl_passwd holds the decrypted password for smtps@" \
    "smtps@gw.example ssluser:ssl-gw-SECRET" "$(grep '^smtps@gw.example ' "$MAP_DIR/sasl_passwd")"
reasons=$(/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(sorted(x["address"] + "=" + x["reason"] for x in r["rejected"] if x["address"].endswith("@gw.example"))))' "$T/out")
expect_eq "an unknown key id and a tampered value are secret_undecryptable" \
    "tampered@gw.example=secret_undecryptable undecryptable@gw.example=secret_undecryptable" "$reasons"
check "no part of an encrypted value is in the report" sh -c "! grep -q '${GOOD_ENC#*:}' $T/out"

# --- mail through the TLS gateways with the decrypted logins ---
sasl_user gw gw-login-SECRET
check "private Postfix starts" run_postfix
send_auth gw gw-login-SECRET good@gw.example someone@elsewhere.example gw-good-1
send_auth gw gw-login-SECRET smtps@gw.example someone@elsewhere.example gw-smtps-1
send_auth gw gw-login-SECRET badcert@gw.example someone@elsewhere.example gw-badcert-1
check "STARTTLS gateway received the message" wait_for_subject good gw-good-1
expect_eq "STARTTLS gateway: session encrypted" True "$(record good gw-good-1 tls)"
expect_eq "STARTTLS gateway: login from the encrypted secret" good "$(record good gw-good-1 auth_login)"
check "implicit-TLS gateway received the message" wait_for_subject ssl gw-smtps-1
expect_eq "implicit-TLS gateway: session encrypted" True "$(record ssl gw-smtps-1 tls)"
expect_eq "implicit-TLS gateway: login from the encrypted secret" ssluser "$(record ssl gw-smtps-1 auth_login)"
for i in $(seq 1 50); do
	grep -q 'badcert@gw.example' "$POSTFIX_DIR/maillog" && grep -q 'status=deferred' "$POSTFIX_DIR/maillog" && break
	sleep 0.2
done
expect_grep "the wrong-certificate gateway's message is deferred" 'status=deferred.*(certificate|TLS|verif)' "$POSTFIX_DIR/maillog"
check "the wrong-certificate gateway received nothing" test ! -s "$T/badcert.jsonl"
check "the message was not sent in clear to the default relay either" sh -c "! grep -q gw-badcert-1 $T/relay.jsonl"
expect_grep "the message is still in the queue" 'badcert@gw.example' <(postqueue -c "$POSTFIX_DIR" -p)

# --- relaysync verify ---
rs --config "$T/rs.yaml" verify --timeout 3 --format json
expect_eq "verify with failing gateways exits 1" 1 "$RC"
results=$(/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(x["address"] + "=" + x["result"] for x in r["results"] if x["address"].endswith("@gw.example")))' "$T/out")
expect_eq "each gateway gets its result" \
    "badcert@gw.example=tls_failed closed@gw.example=unreachable good@gw.example=ok silent@gw.example=timeout smtps@gw.example=ok wrongpw@gw.example=auth_failed" \
    "$results"
rs --config "$T/rs.yaml" verify good@gw.example
expect_eq "verify of one good gateway exits 0" 0 "$RC"
expect_grep "the text result names the route and the time" '^ok +good@gw.example via \[localhost\]:[0-9]+ starttls \([0-9]+ ms\)$' "$T/out"
rs --config "$T/rs.yaml" verify nobody@gw.example
expect_eq "verify of an address without a route exits 1" 1 "$RC"
expect_no_grep "verify output holds no password" 'SECRET' "$T/all-output.log"

# --- policy.require_gateway_check ---
write_config "$T/req.yaml" "$(printf 'verify_placeholder: x\n')"
sed -i '/^verify_placeholder/d; s/^  max_removals:/  require_gateway_check: true\n  max_removals:/' "$T/req.yaml"
rs --config "$T/req.yaml" sync --force --format json
expect_eq "sync with require_gateway_check exits 0" 0 "$RC"
gw_routes() { grep -ho '^[a-z]*@gw.example' "$MAP_DIR/sender_relay" "$MAP_DIR/sender_transport" | sort | tr '\n' ' '; }
expect_eq "only gateways that passed verify are routes" "good@gw.example smtps@gw.example " "$(gw_routes)"
expect_grep "the others are gateway_check_failed" '"address":"wrongpw@gw.example".*"reason":"gateway_check_failed"' "$T/out"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=wrongpw@gw.example,uid=gw,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: good-gw-SECRET
LDIF
rs --config "$T/req.yaml" sync
expect_eq "a corrected login is still not routed before a new check" "good@gw.example smtps@gw.example " "$(gw_routes)"
rs --config "$T/req.yaml" sync --verify --timeout 3
expect_eq "sync --verify exits 0" 0 "$RC"
expect_eq "sync --verify checks first and routes the corrected gateway" \
    "good@gw.example smtps@gw.example wrongpw@gw.example " "$(gw_routes)"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=good@gw.example,uid=gw,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPort
relaysyncSmtpPort: $CLOSED
LDIF
rs --config "$T/req.yaml" sync
expect_eq "a gateway that moved needs a new check: its route goes" "smtps@gw.example wrongpw@gw.example " "$(gw_routes)"
expect_no_grep "no fixture password in any output" 'SECRET' "$T/all-output.log"
finish
