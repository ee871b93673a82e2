#!/bin/bash
# relaysync against a real Samba AD DC (provisioned once into
# build/samba-ad-cache, copied per run, run inside a private network and
# mount namespace): schema/relaysync-ad.ldf imported, OUs with the
# relaysyncPolicy auxiliary class, users (one disabled, one locked out by
# failed binds) with several relaysyncSendAs children, the shipped
# mappings/active-directory.yaml at the domain root over ldaps: exact
# tables and reason codes; check-config's schema and visibility checks;
# the TLS name mismatch; DirSync change tracking (incremental runs equal
# full reads; a flag flipped in AD is live with watch, latency measured);
# the attribute-layout profile on stock attributes.
. "$(dirname "$0")/../lib.sh"
in_netns "$@"

touch "$T/start-stamp"
start_samba_ad || { not_ok "the Samba AD DC starts"; finish; exit 1; }
ok "the Samba AD DC answers on ldaps://$AD_HOST"

# -- the schema, as an AD admin imports it --
sed "s/DC=X/$AD_BASE/g" "$TOP/schema/relaysync-ad.ldf" >"$T/relaysync-corp.ldf"
check "schema/relaysync-ad.ldf (DC=X replaced) imports with ldapmodify" ad_modify -f "$T/relaysync-corp.ldf"
[ "$FAIL" -eq 0 ] || { tail -20 "$T/ad-modify.log"; finish; exit 1; }
: >"$T/ad-modify.log"

# -- the directory --
SVC_PW='Svc-relaysync-SECRET-1'
pw() { printf '"%s"' "$1" | iconv -t UTF-16LE | base64 -w0; }
ad_modify <<LDIF
dn: OU=Corp,$AD_BASE
changetype: add
objectClass: organizationalUnit
objectClass: relaysyncPolicy
relaysyncAllowUserGateways: TRUE

dn: OU=Sales,OU=Corp,$AD_BASE
changetype: add
objectClass: organizationalUnit

dn: OU=Interns,OU=Sales,OU=Corp,$AD_BASE
changetype: add
objectClass: organizationalUnit

dn: OU=Services,$AD_BASE
changetype: add
objectClass: organizationalUnit

dn: CN=relaysync,OU=Services,$AD_BASE
changetype: add
objectClass: user
sAMAccountName: relaysync
unicodePwd:: $(pw "$SVC_PW")
userAccountControl: 66048

dn: CN=nosee,OU=Services,$AD_BASE
changetype: add
objectClass: user
sAMAccountName: nosee
unicodePwd:: $(pw "$SVC_PW")
userAccountControl: 66048
LDIF
# the policy class added to an existing OU afterwards (dynamic auxiliary)
ad_modify <<LDIF
dn: OU=Interns,OU=Sales,OU=Corp,$AD_BASE
changetype: modify
add: objectClass
objectClass: relaysyncPolicy
-
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: FALSE
LDIF
check "the relaysyncPolicy auxiliary class and the flag are added to an existing OU in one modify" test $? -eq 0

# user NAME OU [UAC]: a user with a password, mail NAME@corp.test.
user() {
	ad_modify <<LDIF
dn: CN=$1,$2
changetype: add
objectClass: user
sAMAccountName: $1
userPrincipalName: $1@$AD_REALM
mail: $1@$AD_REALM
unicodePwd:: $(pw "User-Pass-$1-1")
userAccountControl: ${3:-512}
LDIF
}
# sendas OWNER_DN ADDRESS HOST [PORT SECURITY]: a relaysyncSendAs child.
sendas() {
	ad_modify <<LDIF
dn: CN=$2,$1
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: $2
relaysyncSmtpHost: $3
relaysyncSmtpUsername: $2
relaysyncSmtpPassword: gw-$2-SECRET
relaysyncVerified: TRUE${4:+
relaysyncSmtpPort: $4}${5:+
relaysyncSmtpSecurity: $5}
LDIF
}
SALES="OU=Sales,OU=Corp,$AD_BASE"
INTERNS="OU=Interns,$SALES"
user alice "$SALES" && user bob "$INTERNS" && user carol "$SALES" 514 &&
    user dave "$SALES" && user erin "$SALES" ||
    { not_ok "users created" "$(tail -5 "$T/ad-modify.log")"; finish; exit 1; }
sendas "CN=alice,$SALES" alice@partner.example smtp.partner.example &&
    sendas "CN=alice,$SALES" alice@partner2.example smtp.partner2.example 465 ssl &&
    sendas "CN=alice,$SALES" alice.a@partner.example smtp.partner.example &&
    sendas "CN=bob,$INTERNS" bob@partner.example smtp.partner.example &&
    sendas "CN=carol,$SALES" carol@partner.example smtp.partner.example &&
    sendas "CN=dave,$SALES" dave@partner.example smtp.partner.example &&
    sendas "CN=erin,$SALES" erin@corp.test smtp.partner.example
check "relaysyncSendAs entries are created below users (possSuperiors: user)" test $? -eq 0

# dave is locked out for real: three failed binds against a threshold of 3
ad_tool domain passwordsettings set --account-lockout-threshold=3
for i in 1 2 3; do
	LDAPTLS_CACERT=$AD_CA ldapwhoami -x -H "ldaps://$AD_HOST" -D "dave@$AD_REALM" -w wrong >/dev/null 2>&1
done
LDAPTLS_CACERT=$AD_CA ldapsearch -LLL -x -H "ldaps://$AD_HOST" -D "Administrator@$AD_REALM" \
    -w "$AD_ADMIN_PW" -b "CN=dave,$SALES" -s base lockoutTime >"$T/dave.ldif"
expect_grep "dave is locked out (lockoutTime set by the DC)" '^lockoutTime: [1-9]' "$T/dave.ldif"

SVC_SID=$(samba-tool user show relaysync -s "$SAMBA_CONF" -H "$SAMBA_DIR/private/sam.ldb" \
    --attributes=objectSid 2>/dev/null | sed -n 's/^objectSid: //p')
# the grants of README's "Active Directory" section
ad_tool dsacl set --objectdn="$AD_BASE" --sddl="(A;CI;RPLCLORC;;;$SVC_SID)" &&
    ad_tool dsacl set --objectdn="$AD_BASE" --car=get-changes --action=allow \
    --trusteedn="CN=relaysync,OU=Services,$AD_BASE"
check "the service account is granted read access and Replicating Directory Changes" test $? -eq 0

# -- relaysync with the shipped profile at the domain root --
RELAY_PORT=$(free_port)
start_postfix
SVC_DN="CN=relaysync,OU=Services,$AD_BASE"

ad_config() {	# ad_config FILE MAPPING [URI] [BIND_DN]
	mkdir -p "$T/etc" "$T/state"
	printf '%s\n' "$SVC_PW" >"$T/etc/bind.password"
	chmod 600 "$T/etc/bind.password"
	cat >"$1" <<YAML
ldap:
  uri: ${3:-ldaps://$AD_HOST}
  ca_file: $AD_CA
  bind_dn: ${4:-$SVC_DN}
  bind_password_file: $T/etc/bind.password
  base_dn: $AD_BASE
  timeout: 10
mapping: $2
policy:
  internal_domains: [corp.test]
  allow_private_gateways: true
postfix:
  map_dir: ${MAP_DIR:-$T/postfix/relaysync}
  map_type: lmdb
  config_dir: $POSTFIX_DIR
  tls_ca_file: $AD_CA
secrets:
  key_file: $T/etc/secret.key
state_dir: ${STATE:-$T/state}
YAML
}
MAP_DIR=$T/postfix/relaysync
ad_config "$T/ad.yaml" "$TOP/mappings/active-directory.yaml"
printf 'k1 %s\n' "$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"

SUBMIT_SERVICE=submission/inet
postconf -c "$POSTFIX_DIR" -M "submission/inet=submission inet n - n - - smtpd -o smtpd_sasl_auth_enable=yes"
apply_postfix_config "$T/ad.yaml" >/dev/null
rs --config "$T/ad.yaml" check-config
expect_eq "check-config against the DC exits 0" 0 "$RC"
expect_grep "check-config: every mapped attribute and class is in the DC's schema" \
    'schema: .*ok' "$T/out"
cp "$T/out" "$T/check-config.out"

t0=$SECONDS
rs --config "$T/ad.yaml" --verbose sync --format json
expect_eq "sync at the domain root exits 0 (references to other partitions are no error)" 0 "$RC"
check "... in less than ldap.timeout: nothing waits on a control the DC lacks ($((SECONDS - t0)) s)" \
    [ $((SECONDS - t0)) -lt 10 ]
expect_grep "the rootDSE says: no RFC 4533, DirSync" "rootDSE: no RFC 4533, DirSync offered" "$T/err"
cp "$T/out" "$T/first.json"; cp "$T/err" "$T/first.err"
reasons() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = [x["address"] + "=" + x["reason"] for x in r["rejected"]]
v += [x["address"] + "=route" for x in r["added"]]
print(" ".join(sorted(v)))' "$1"
}
expect_eq "reason codes: several addresses per user, disabled, locked out, forbidden OU, internal domain" \
    "alice.a@partner.example=route alice@partner.example=route alice@partner2.example=route bob@partner.example=policy_forbidden carol@partner.example=user_disabled dave@partner.example=user_disabled erin@corp.test=internal_domain" \
    "$(reasons "$T/first.json")"
printf '%s\n' "alice.a@partner.example [smtp.partner.example]:587" \
    "alice@partner.example [smtp.partner.example]:587" >"$T/exp.relay"
expect_file "sender_relay" "$T/exp.relay" "$MAP_DIR/sender_relay"
expect_eq "sender_transport: the implicit-TLS address" \
    "alice@partner2.example relaysync_smtps:[smtp.partner2.example]:465" "$(cat "$MAP_DIR/sender_transport")"
expect_grep "sasl_passwd carries each address's own login" \
    '^alice@partner2.example alice@partner2.example:gw-alice@partner2.example-SECRET$' "$MAP_DIR/sasl_passwd"
expect_grep "sender_login: sAMAccountName and userPrincipalName are the owner's logins" \
    '^alice@partner.example alice, ?alice@corp.test$' "$MAP_DIR/sender_login"
expect_no_grep "no referral error" 'refers to' "$T/first.err"
cp "$MAP_DIR/sender_relay" "$T/sender_relay.first"
for f in sender_relay sender_transport sender_access sender_login sasl_passwd tls_policy; do
	echo "--- $f"; cat "$MAP_DIR/$f" 2>/dev/null
done >"$T/tables.first"

# -- check-config: names the server does not know, entries it cannot see --
sed 's/address: relaysyncSendAsAddress/address: extensionAttribute10/' \
    "$TOP/mappings/active-directory.yaml" >"$T/exchange.yaml"
ad_config "$T/exchange-cfg.yaml" "$T/exchange.yaml"
rs --config "$T/exchange-cfg.yaml" check-config
expect_eq "check-config with an attribute the DC lacks exits 1" 1 "$RC"
expect_grep "check-config names the unknown attribute and its key" \
    "schema: attribute extensionAttribute10 \\(mapping sendas.attributes.address, .*\\) is not in the server's schema" "$T/out"
ad_config "$T/nosee.yaml" "$TOP/mappings/active-directory.yaml" "" "CN=nosee,OU=Services,$AD_BASE"
rs --config "$T/nosee.yaml" check-config
expect_grep "check-config warns when the bind account sees no send-as entries (no read grant)" \
    "warning: CN=nosee,OU=Services,$AD_BASE sees no send-as entry below" "$T/out"
STATE=$T/nosee-state ad_config "$T/nosee-watch.yaml" "$TOP/mappings/active-directory.yaml" "" \
    "CN=nosee,OU=Services,$AD_BASE"
MAP_DIR=$T/nosee-map
timeout 30 "$RELAYSYNC" --config "$T/nosee-watch.yaml" watch >"$T/nosee-watch.out" 2>"$T/nosee-watch.err"
expect_eq "watch as an account without Replicating Directory Changes exits 69" 69 "$?"
expect_grep "... naming the right to grant" 'DirSync on DC=corp,DC=test refused: the bind account needs the "Replicating Directory Changes" right' \
    "$T/nosee-watch.err"
MAP_DIR=$T/postfix/relaysync
ad_config "$T/ad.yaml" "$TOP/mappings/active-directory.yaml"

# -- TLS: the DC's certificate names dc1.corp.test, not 127.0.0.1 --
ad_config "$T/by-ip.yaml" "$TOP/mappings/active-directory.yaml" "ldaps://127.0.0.1"
rs --config "$T/by-ip.yaml" sync
expect_eq "ldaps by IP address exits 69" 69 "$RC"
expect_grep "the error names the host name mismatch and the certificate's name" \
    "TLS: the server's certificate .*CN=DC1.corp.test.* does not name 127.0.0.1, the host in ldap.uri" "$T/err"
cp "$T/err" "$T/tls-mismatch.err"
cp /etc/ssl/certs/ca-certificates.crt "$T/other-ca.pem" 2>/dev/null || touch "$T/other-ca.pem"
sed "s|ca_file: .*|ca_file: $T/other-ca.pem|" "$T/ad.yaml" >"$T/untrusted.yaml"
rs --config "$T/untrusted.yaml" sync
expect_grep "the error names a certificate not trusted by ldap.ca_file" \
    "TLS: the server's certificate is not trusted: .*not a CA in ldap.ca_file $T/other-ca.pem" "$T/err"
cp "$T/err" "$T/tls-untrusted.err"

# -- change tracking: DirSync; an incremental run equals a full read --
# full_side: the same directory read in full into its own map_dir.
full_side() {
	MAP_DIR=$T/full/map STATE=$T/full/state ad_config "$T/full.yaml" "$TOP/mappings/active-directory.yaml"
	mkdir -p "$T/full/state"
	rs --config "$T/full.yaml" sync --full --format json
	cp "$T/out" "$T/full.json"
}
# step DESCRIPTION: after a change, an incremental run and a full read.
step() {
	rs --config "$T/ad.yaml" --verbose sync --format json
	cp "$T/out" "$T/inc.json"; cp "$T/err" "$T/inc.err"
	STEP=$((${STEP:-0} + 1)); cp "$T/err" "$T/inc-$STEP.err"
	local read=full
	grep -q "info: incremental read:" "$T/inc.err" && read=incremental
	full_side
	local same=yes f
	for f in sender_relay sender_transport sender_access sender_login sasl_passwd tls_policy; do
		cmp -s "$T/postfix/relaysync/$f" "$T/full/map/$f" || same="no ($f differs)"
	done
	expect_eq "$1: incremental run ($read) gives the tables of a full read" "incremental yes" "$read $same"
	[ "$same" = yes ] || diff -r "$T/postfix/relaysync/" "$T/full/map/" | head -20
}
step "no change"
rs --config "$T/ad.yaml" --verbose sync
expect_grep "nothing changed again (DirSync named nothing, the present UUIDs are the model's): the last run's decision stands" \
    "the last run's decision stands" "$T/err"
sendas "CN=erin,$SALES" erin@partner.example smtp.erin.example 2525
step "a send-as entry added"
ad_modify <<LDIF
dn: CN=alice@partner.example,CN=alice,$SALES
changetype: modify
replace: relaysyncSmtpHost
relaysyncSmtpHost: smtp3.partner.example
LDIF
step "a send-as entry modified"
ad_modify <<LDIF
dn: CN=alice.a@partner.example,CN=alice,$SALES
changetype: delete
LDIF
step "a send-as entry deleted"
ad_modify <<LDIF
dn: CN=carol,$SALES
changetype: modify
replace: userAccountControl
userAccountControl: 512
LDIF
step "a disabled user enabled"
ad_modify <<LDIF
dn: CN=erin,$SALES
changetype: modrdn
newrdn: CN=erin
deleteoldrdn: 1
newsuperior: $INTERNS
LDIF
step "a user moved into a forbidden OU with her send-as entries"
ad_modify <<LDIF
dn: OU=Sales,OU=Corp,$AD_BASE
changetype: modrdn
newrdn: OU=Sales2
deleteoldrdn: 1
LDIF
SALES="OU=Sales2,OU=Corp,$AD_BASE"; INTERNS="OU=Interns,$SALES"
step "an OU renamed with everything below it"
ad_modify <<LDIF
dn: CN=alice,$SALES
changetype: modify
add: objectClass
objectClass: relaysyncPolicy

dn: CN=alice,$SALES
changetype: modify
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: FALSE
LDIF
step "a user's own flag set (dynamic auxiliary class on a user)"
ad_tool user delete carol
step "a user deleted with her send-as entry"

# -- watch: a flag flipped in AD is live in Postfix --
postfix -c "$POSTFIX_DIR" start >>"$T/postfix-start.log" 2>&1
"$RELAYSYNC" --config "$T/ad.yaml" --verbose watch >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
q() { postmap -q "$1" "lmdb:$T/postfix/relaysync/$2" 2>/dev/null; }
for i in $(seq 1 100); do grep -q "watch: started" "$T/watch.err" && break; sleep 0.1; done
sleep 2
expect_eq "bob's route is absent before the flip" "" "$(q bob@partner.example sender_relay)"
t0=$(date +%s.%N)
ad_modify <<LDIF
dn: $INTERNS
changetype: modify
replace: relaysyncAllowUserGateways
relaysyncAllowUserGateways: TRUE
LDIF
latency=none
for i in $(seq 1 200); do
	if [ -n "$(q bob@partner.example sender_relay)" ]; then
		latency=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break
	fi
	sleep 0.05
done
echo "watch latency: $latency s"
check "an OU flag flipped in AD is live in Postfix within 10 s with watch ($latency s)" \
    test "$latency" != none
t0=$(date +%s.%N)
ad_modify <<LDIF
dn: CN=bob@partner.example,CN=bob,$INTERNS
changetype: delete
LDIF
latency=none
for i in $(seq 1 200); do
	if [ -z "$(q bob@partner.example sender_relay)" ]; then
		latency=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'); break
	fi
	sleep 0.05
done
echo "watch deletion latency: $latency s"
check "a send-as entry deleted in AD is gone from Postfix within 10 s with watch ($latency s)" \
    test "$latency" != none
expect_grep "watch installed the changes and reloaded Postfix" "installed generation .*; Postfix reloaded" "$T/watch.err"
kill "$WATCH"; wait "$WATCH" 2>/dev/null
step "after watch (its snapshot)"

# the churn test against the DC: random changes below OU=Corp, each
# followed by an incremental and a full run whose tables must be equal
full_side
SEED=${CHURN_SEED:-$RANDOM}
t0=$SECONDS
LDAPTLS_CACERT=$AD_CA CHURN_DIALECT=ad CHURN_ROOT="OU=Corp,$AD_BASE" \
    "$TOP/tests/tools/churn.py" "$SEED" "${CHURN_STEPS:-40}" "ldaps://$AD_HOST" \
    "Administrator@$AD_REALM" "$AD_ADMIN_PW" "$AD_BASE" "$RELAYSYNC" \
    "$T/ad.yaml" "$T/postfix/relaysync" "$T/full.yaml" "$T/full/map" \
    "$T/churn.log" >"$T/churn.out" 2>&1
CRC=$?
echo "churn (seed $SEED, $((SECONDS - t0)) s): $(cat "$T/churn.out")"
[ "$CRC" -eq 0 ] || grep -B2 -A40 DIFFERENT "$T/churn.log" | head -80
expect_eq "churn against Samba (seed $SEED): every incremental run equals the full read" 0 "$CRC"
inc=$(sed -n 's/.*incremental=\([0-9]*\).*/\1/p' "$T/churn.out")
check "... and the runs were incremental ($inc)" [ "${inc:-0}" -ge "${CHURN_STEPS:-40}" ]
rs --config "$T/ad.yaml" sync --force	# the churn may have left a refused change

# -- the attribute-layout profile on stock attributes --
ad_modify <<LDIF
dn: CN=frank,OU=Services,$AD_BASE
changetype: add
objectClass: user
sAMAccountName: frank
mail: frank@$AD_REALM
userAccountControl: 544
msDS-cloudExtensionAttribute1: frank@partner.example
msDS-cloudExtensionAttribute2: smtp.frank.example
msDS-cloudExtensionAttribute3: 465
msDS-cloudExtensionAttribute4: ssl
msDS-cloudExtensionAttribute5: frank
msDS-cloudExtensionAttribute6: frank-gw-SECRET
msDS-cloudExtensionAttribute7: TRUE
msDS-cloudExtensionAttribute8: TRUE
LDIF
check "a user with msDS-cloudExtensionAttribute1..8 is created" test $? -eq 0
MAP_DIR=$T/attr/map STATE=$T/attr/state ad_config "$T/attr.yaml" "$TOP/mappings/active-directory-attributes.yaml"
mkdir -p "$T/attr/state"
rs --config "$T/attr.yaml" check-config
expect_grep "check-config: the attribute profile's names are all in a stock schema" 'schema: .*ok' "$T/out"
rs --config "$T/attr.yaml" sync --format json
expect_eq "attribute profile: sync exits 0" 0 "$RC"
expect_eq "attribute profile: one address per user, from stock attributes" \
    "frank@partner.example=route" "$(reasons "$T/out")"
expect_eq "attribute profile: sender_transport" \
    "frank@partner.example relaysync_smtps:[smtp.frank.example]:465" "$(cat "$T/attr/map/sender_transport")"
expect_eq "attribute profile: sasl_passwd" "frank@partner.example frank:frank-gw-SECRET" \
    "$(cat "$T/attr/map/sasl_passwd")"
expect_eq "nothing of the system's Samba was touched (/etc/samba, /var/lib/samba, /var/cache/samba, /run/samba, /var/log/samba)" "" \
    "$(find /etc/samba /var/lib/samba /var/cache/samba /run/samba /var/log/samba -newer "$T/start-stamp" 2>/dev/null)"
finish
