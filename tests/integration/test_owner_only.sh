#!/bin/bash
# A gateway serves its owner only, against a real Postfix configured with
# what relaysync postfix-config prints: the owner's authenticated submission
# leaves through the owner's gateway with the owner's stored login over
# TLS; another user using the owner's address (any case, an address
# extension, a quoted local part) is refused at SMTP time; mail with the
# owner's address arriving on port 25, from mynetworks or from local
# sendmail is delivered through the default relay; a route aimed at the
# default relay leaves the organisation's other mail alone; gateways inside
# the organisation are internal_gateway; a moved ciphertext does not open;
# a verified claim wins; revocations apply at once while vanishing entries
# are still held back.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert gateway localhost
GW_PORT=$(free_port)
GW_SSL_PORT=$(free_port)
RELAY_PORT=$(free_port)
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
start_postfix
postconf -c "$POSTFIX_DIR" -e 'recipient_delimiter = +'
write_config "$T/rs.yaml"
mkdir -p "$T/state"
printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
sasl_user alice alice-login-SECRET
sasl_user bob bob-login-SECRET
sasl_user mallory mallory-login-SECRET

start_sink gateway "$GW_PORT" --user alice@partner.example --password alice-gw-SECRET-1 \
    --cert "$CA/gateway.crt" --key "$CA/gateway.key" --starttls
start_sink smtps "$GW_SSL_PORT" --user frank.login --password frank-gw-SECRET-2 \
    --cert "$CA/gateway.crt" --key "$CA/gateway.key" --implicit-tls
start_sink relay "$RELAY_PORT"

rs --config "$T/rs.yaml" sync
expect_eq "first sync exits 0" 0 "$RC"
expect_eq "sender_login binds alice's address to her login" \
    "alice@partner.example alice" "$(grep '^alice@' "$MAP_DIR/sender_login")"
check "private Postfix starts with postfix-config applied" run_postfix

# --- the owner, logged in: her gateway, her stored login, TLS ---
check "alice's own submission is accepted" \
    send_auth alice alice-login-SECRET alice@partner.example someone@elsewhere.example own-1
check "alice's message reaches her gateway" wait_for_subject gateway own-1
expect_eq "the gateway saw alice's stored login" alice@partner.example "$(record gateway own-1 auth_login)"
expect_eq "the gateway session was encrypted" True "$(record gateway own-1 tls)"
expect_grep "Postfix logs the delivery through relaysync_smtp to the gateway" \
    "postfix/relaysync_smtp/smtp\[[0-9]+\]: .*relay=localhost\[127.0.0.1\]:$GW_PORT.*status=sent" "$POSTFIX_DIR/maillog"

# --- another user with alice's address: refused at SMTP time ---
for from in alice@partner.example ALICE@Partner.Example alice+x@partner.example \
    '"alice"@partner.example'; do
	out=$(send_auth bob bob-login-SECRET "$from" someone@elsewhere.example "bob-as-$from")
	expect_eq "bob sending as $from is refused" 1 "$?"
	case $out in
	*"5.7.1"*"not owned by user bob"*) ok "the refusal for $from is a 5.7.1 that says why" ;;
	*) not_ok "the refusal for $from is a 5.7.1 that says why" "$out" ;;
	esac
done
expect_grep "Postfix logs the refusal" \
    'NOQUEUE: reject: RCPT from .*553 5.7.1 <alice@partner.example>: Sender address rejected: not owned by user bob' \
    "$POSTFIX_DIR/maillog"

# --- unauthenticated mail with alice's address: delivered the normal way ---
send alice@partner.example someone@elsewhere.example port25-1
check "port-25 mail from alice's address reaches the default relay" wait_for_subject relay port25-1
expect_eq "the default relay saw no login" None "$(record relay port25-1 auth_login)"
sendmail -C "$POSTFIX_DIR" -f alice@partner.example someone@elsewhere.example <<EOF
From: alice@partner.example
Subject: sendmail-1

local submission
EOF
check "local sendmail -f alice's address reaches the default relay" wait_for_subject relay sendmail-1
check "alice's gateway received only alice's own message" \
    test "$(grep -c . "$T/gateway.jsonl")" = 1

# --- a route aimed at the default relay leaves other mail alone ---
ldap_load /dev/stdin <<EOF
dn: uid=dora,ou=sales,ou=people,$BASE_DN
objectClass: inetOrgPerson
uid: dora
cn: Dora
sn: Example

dn: relaysyncSendAsAddress=dora@partner.example,uid=dora,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: dora@partner.example
relaysyncSmtpHost: 127.0.0.1
relaysyncSmtpPort: $RELAY_PORT
relaysyncSmtpUsername: dora
relaysyncSmtpPassword: dora-gw-SECRET
relaysyncVerified: TRUE
EOF
rs --config "$T/rs.yaml" sync
expect_grep "dora's route names the default relay's next hop" "^\[127.0.0.1\]:$RELAY_PORT secure\$" "$MAP_DIR/tls_policy"
send carol@example.com someone@elsewhere.example default-after-dora
check "the organisation's mail still reaches the default relay" wait_for_subject relay default-after-dora
expect_no_grep "nothing was deferred for TLS (dsn=4.7.4)" 'dsn=4\.7\.4' "$POSTFIX_DIR/maillog"

# --- gateways inside the organisation: internal_gateway ---
printf 'partner2.example smtp:[mx.transport.corp.example]:25\n' >"$POSTFIX_DIR/transport"
postmap -c "$POSTFIX_DIR" "lmdb:$POSTFIX_DIR/transport"
postconf -c "$POSTFIX_DIR" -e "transport_maps = lmdb:$POSTFIX_DIR/transport"
ldap_load /dev/stdin <<EOF
dn: relaysyncSendAsAddress=dora@relayhost.example,uid=dora,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: dora@relayhost.example
relaysyncSmtpHost: RELAY.corp.example

dn: relaysyncSendAsAddress=dora@transport.example,uid=dora,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: dora@transport.example
relaysyncSmtpHost: mx.transport.corp.example

dn: relaysyncSendAsAddress=dora@private.example,uid=dora,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: dora@private.example
relaysyncSmtpHost: 192.168.1.20
EOF
ALLOW_PRIVATE=false write_config "$T/strict.yaml"
cp "$POSTFIX_DIR/main.cf" "$T/main.cf.saved"
postconf -c "$POSTFIX_DIR" -e 'relayhost = [relay.corp.example]:587'
rs --config "$T/strict.yaml" sync --dry-run --format json
cp "$T/main.cf.saved" "$POSTFIX_DIR/main.cf"
reasons() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
print(" ".join(sorted(x["address"] + "=" + x["reason"] for x in r["rejected"] if x["address"] in sys.argv[2:])))' "$T/out" "$@"
}
expect_eq "loopback, private, relayhost and transport_maps gateways are internal_gateway" \
    "alice@partner.example=internal_gateway dora@partner.example=internal_gateway dora@private.example=internal_gateway dora@relayhost.example=internal_gateway dora@transport.example=internal_gateway" \
    "$(reasons alice@partner.example dora@partner.example dora@private.example dora@relayhost.example dora@transport.example)"

# --- a ciphertext moved to another entry does not open ---
FRANK_ENC=$("$RELAYSYNC" --config "$T/rs.yaml" encrypt-secret frank@smtps.example <<<"frank-gw-SECRET-2")
ldap_modify <<EOF
dn: relaysyncSendAsAddress=frank@smtps.example,uid=frank,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: $FRANK_ENC
EOF
ldap_load /dev/stdin <<EOF
dn: uid=mallory,ou=sales,ou=people,$BASE_DN
objectClass: inetOrgPerson
uid: mallory
cn: Mallory
sn: Example

dn: relaysyncSendAsAddress=mallory@evil.example,uid=mallory,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: mallory@evil.example
relaysyncSmtpHost: smtp.evil.example
relaysyncSmtpUsername: frank.login
relaysyncSmtpPassword: $FRANK_ENC

dn: relaysyncSendAsAddress=ALICE@partner.example,uid=mallory,ou=sales,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: ALICE@partner.example
relaysyncSmtpHost: smtp.evil.example
EOF
rs --config "$T/rs.yaml" sync --format json
expect_eq "frank's own encrypted password opens on his entry" \
    "frank@smtps.example frank.login:frank-gw-SECRET-2" "$(grep '^frank@' "$MAP_DIR/sasl_passwd")"
expect_eq "the same ciphertext on mallory's entry is secret_undecryptable" \
    "mallory@evil.example=secret_undecryptable" "$(reasons mallory@evil.example)"
expect_eq "mallory's unverified claim on alice's address loses (conflict)" \
    "ALICE@partner.example=conflict" "$(reasons ALICE@partner.example)"
expect_eq "alice's verified route stays live" "alice@partner.example FILTER relaysync_smtp:[localhost]:$GW_PORT" \
    "$(grep '^alice@' "$MAP_DIR/sender_access")"
REQUIRE_VERIFIED=true write_config "$T/verified.yaml"
rs --config "$T/verified.yaml" sync --dry-run --format json
expect_eq "with require_verified (the default) mallory's claim is unverified" \
    "ALICE@partner.example=unverified" "$(reasons ALICE@partner.example)"

# --- explain names the owner's login names ---
rs --config "$T/rs.yaml" explain alice@partner.example
expect_grep "explain names alice's login names" 'login names: alice$' "$T/out"

# --- revocations apply at once; vanishing entries are still refused ---
/usr/bin/python3 - "$BASE_DN" >"$T/bulk.ldif" <<'EOF'
import sys
base = sys.argv[1]
print(f"dn: ou=bulk,{base}\nobjectClass: organizationalUnit\nobjectClass: relaysyncPolicy\n"
      f"ou: bulk\nrelaysyncAllowUserGateways: TRUE\n")
for i in range(3000):
    u = f"uid=b{i},ou=bulk,{base}"
    print(f"dn: {u}\nobjectClass: inetOrgPerson\nuid: b{i}\ncn: b{i}\nsn: b\n")
    print(f"dn: relaysyncSendAsAddress=b{i}@bulk.example,{u}\nobjectClass: relaysyncSendAs\n"
          f"relaysyncSendAsAddress: b{i}@bulk.example\nrelaysyncSmtpHost: smtp.bulk.example\n"
          f"relaysyncVerified: TRUE\n")
EOF
ldap_load "$T/bulk.ldif" || exit 1
rs --config "$T/rs.yaml" sync
expect_eq "3,000 bulk routes are added" 3000 "$(grep -c '@bulk.example' "$MAP_DIR/sender_access")"
set_allow "ou=bulk,$BASE_DN" FALSE
rs --config "$T/rs.yaml" sync --format json
expect_eq "forbidding the OU revokes 3,000 routes without --force (exit 0)" 0 "$RC"
expect_eq "the report counts them as revoked, none vanished" "3000 3000 0" \
    "$(/usr/bin/python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["removed"], s["revoked"], s["vanished"])' "$T/out")"
expect_eq "no bulk route is left" 0 "$(grep -c '@bulk.example' "$MAP_DIR/sender_access")"
set_allow "ou=bulk,$BASE_DN" TRUE
rs --config "$T/rs.yaml" sync
expect_eq "allowing the OU again brings the 3,000 routes back" 3000 "$(grep -c '@bulk.example' "$MAP_DIR/sender_access")"
before=$(tree_sum "$T/postfix/relaysync.generations")
ldapdelete -x -r -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" "ou=bulk,$BASE_DN"
rs --config "$T/rs.yaml" sync
expect_eq "3,000 vanished entries are refused (exit 75)" 75 "$RC"
expect_grep "the refusal names the vanished count and --force" \
    'refusing to remove 3000 routes whose entries vanished from the directory.*--force' "$T/err"
expect_eq "the refused run left the tables untouched" "$before" "$(tree_sum "$T/postfix/relaysync.generations")"

expect_no_grep "no fixture password in any output of this test" 'SECRET' "$T/all-output.log"
finish
