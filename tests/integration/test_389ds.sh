#!/bin/bash
# A real 389 Directory Server: an instance made by dscreate (no systemd,
# loopback only, everything below $T), schema/60relaysync.ldif loaded
# unmodified (over LDAP, and as a file in the schema directory), the
# example ACI schema/relaysync-aci.ldif, mappings/389ds.yaml unmodified:
# exact tables and reason codes with locks by nsAccountLock and by a
# locked role; incremental runs (RFC 4533 through the Content
# Synchronization plugin) after a deletion and two modifications equal a
# full read; the random churn with incremental reads after every step; the
# certificate-name hint on dscreate's self-signed certificate; watch
# applying a flag flip within 2 s.
. "$(dirname "$0")/../lib.sh"

init_389ds || exit 1
run_389ds || exit 1
DSH=ldap://127.0.0.1:$DS_PORT
dsq() {	# dsq ARGS...: ldapsearch as Directory Manager, unwrapped
	ldapsearch -x -LLL -o ldif-wrap=no -H "$DSH" -D "$DS_ADMIN_DN" -w "$ADMIN_PW" "$@"
}
# the relaysync definitions the server holds: "OID NAME X-ORIGIN" lines
schema_held() {
	dsq -b cn=schema -s base attributeTypes objectClasses |
	    sed -n "s/^[a-zA-Z]*: ( \(2\.25\.170760265247376371297465360434784693002\.[0-9.]*\) NAME '\([A-Za-z]*\)'.*X-ORIGIN \(.*\) )$/\1 \2 \3/p" | sort
}
OIDS=$(sed ':a;N;$!ba;s/\n  / /g' "$TOP/schema/60relaysync.ldif" |
    sed -n "s/^[a-zA-Z]*: ( \(2\.25\.[0-9.]*\) NAME '\([A-Za-z]*\)'.*/\1 \2/p" | sort)
NAMES=$(grep -o "NAME '[A-Za-z]*'" "$TOP/schema/relaysync.schema" | sort)
expect_eq "60relaysync.ldif: the names of relaysync.schema, in full" "$NAMES" \
    "$(echo "$OIDS" | awk '{print "NAME '\''" $2 "'\''"}' | sort)"

cp "$DS_CONF/schema/99user.ldif" "$T/99user.ldif"
awk -f "$TOP/schema/389ds-ldapmodify.awk" "$TOP/schema/60relaysync.ldif" |
    ldapmodify -x -H "$DSH" -D "$DS_ADMIN_DN" -w "$ADMIN_PW" >"$T/schema-ldap.log" 2>&1
expect_eq "schema over LDAP (389ds-ldapmodify.awk | ldapmodify): accepted" 0 "$?"
expect_eq "schema over LDAP: every name with its numeric OID" "$OIDS" \
    "$(schema_held | awk '{print $1, $2}')"
stop_389ds
cp "$T/99user.ldif" "$DS_CONF/schema/99user.ldif"
install -m 644 -o dirsrv -g dirsrv "$TOP/schema/60relaysync.ldif" "$DS_CONF/schema/"
run_389ds || exit 1
expect_eq "schema as a file in the schema directory: every name with its OID, from the file" \
    "$(echo "$OIDS" | sed "s/$/ 'relaysync'/")" "$(schema_held)"

fill "$TOP/tests/fixtures/389ds-real.ldif" |
    ldapadd -x -H "$DSH" -D "$DS_ADMIN_DN" -w "$ADMIN_PW" >"$T/ds-add.log" 2>&1
check "the fixture loads (schema in use)" [ $? -eq 0 ]
ldapmodify -x -H "$DSH" -D "$DS_ADMIN_DN" -w "$ADMIN_PW" -f "$TOP/schema/relaysync-aci.ldif" \
    >"$T/aci.log" 2>&1
check "schema/relaysync-aci.ldif applies unmodified" [ $? -eq 0 ]
# what the example ACI lets a user do below their own entry
ANN="uid=ann,ou=people,$BASE_DN"
as_ann() { "$@" -x -H "$DSH" -D "$ANN" -w ann-login-389 >>"$T/ann.log" 2>&1; }
as_ann ldapadd <<LDIF
dn: relaysyncSendAsAddress=own@partner.example,$ANN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: own@partner.example
relaysyncSmtpPassword: own-gw-SECRET-389
LDIF
expect_eq "ACI: a user adds a send-as entry below their own entry" 0 "$?"
as_ann ldapadd <<LDIF
dn: relaysyncSendAsAddress=own2@partner.example,$ANN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: own2@partner.example
relaysyncVerified: TRUE
LDIF
expect_eq "ACI: ... but not one marked verified" 50 "$?"
as_ann ldapmodify <<LDIF
dn: relaysyncSendAsAddress=own@partner.example,$ANN
changetype: modify
replace: relaysyncVerified
relaysyncVerified: TRUE
LDIF
expect_eq "ACI: ... nor mark it verified later" 50 "$?"
as_ann ldapadd <<LDIF
dn: relaysyncSendAsAddress=x@partner.example,uid=eve,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: x@partner.example
LDIF
expect_eq "ACI: ... nor add one below another user" 50 "$?"
expect_eq "ACI: the user cannot read back the gateway password" "" \
    "$(ldapsearch -x -LLL -H "$DSH" -D "$ANN" -w ann-login-389 -b "relaysyncSendAsAddress=own@partner.example,$ANN" \
    -s base relaysyncSmtpPassword | grep -i '^relaysyncSmtpPassword')"
expect_eq "ACI: ... which the service account reads" 1 \
    "$(ldapsearch -x -LLL -H "$DSH" -D "$SVC_DN" -w "$SVC_PW" -b "relaysyncSendAsAddress=own@partner.example,$ANN" \
    -s base relaysyncSmtpPassword | grep -ci '^relaysyncSmtpPassword')"
as_ann ldapdelete "relaysyncSendAsAddress=own@partner.example,$ANN"
expect_eq "ACI: ... and deletes their own send-as entry" 0 "$?"
dsidm -D "$DS_ADMIN_DN" -w "$ADMIN_PW" "$DSH" -b "$BASE_DN" role lock \
    "cn=interns,ou=people,$BASE_DN" >"$T/dsidm.log" 2>&1
check "dsidm role lock: the interns role is locked" [ $? -eq 0 ]

mkdir -p "$T/inc" "$T/full"
LDAP_URI=$DSH MAPPING=$TOP/mappings/389ds.yaml MAP_DIR=$T/inc/relaysync write_config "$T/inc.yaml"
LDAP_URI=$DSH MAPPING=$TOP/mappings/389ds.yaml MAP_DIR=$T/full/relaysync write_config "$T/full.yaml"
sed -i "s|^state_dir: .*|state_dir: $T/state-full|" "$T/full.yaml"
j() { python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$T/out" "$1"; }
verdicts() { j '" ".join(sorted([x["address"]+"="+x["reason"] for x in r["rejected"]]+[x["address"]+"=route" for x in r["added"]]))'; }

rs --config "$T/inc.yaml" sync --format json
expect_eq "first sync exits 0" 0 "$RC"
expect_eq "verdicts: nsAccountLock TRUE and the locked role disable, FALSE does not, contractors forbidden" \
    "ann@partner.example=route dan@partner.example=user_disabled eve@partner.example=route kim@partner.example=policy_forbidden rob@partner.example=user_disabled" \
    "$(verdicts)"
expect_eq "sender_relay" "$(printf 'ann@partner.example [smtp.partner.example]:587\neve@partner.example [smtp.partner.example]:587')" \
    "$(cat "$T/inc/relaysync/sender_relay")"
expect_eq "sasl_passwd" "$(printf 'ann@partner.example ann:ann-gw-SECRET-389\neve@partner.example eve:eve-gw-SECRET-389')" \
    "$(cat "$T/inc/relaysync/sasl_passwd")"
expect_eq "first run: a full read, no snapshot" "full no_snapshot" "$(j 'r["read"] + " " + r["read_reason"]')"
echo "first run: $(j 'r["summary"]') read=$(j 'r["read"]') ($(j 'r["read_reason"]'))"
rs --config "$T/inc.yaml" sync --format json
expect_eq "second run: incremental (the cookie is used with its own search)" "incremental 0 0" \
    "$(j 'r["read"] + " " + str(r["read_changed"]) + " " + str(r["read_deleted"])')"

# the run that removed live routes before: one deletion, two modifications
ds_modify <<LDIF
dn: relaysyncSendAsAddress=eve@partner.example,uid=eve,ou=people,$BASE_DN
changetype: delete

dn: relaysyncSendAsAddress=ann@partner.example,uid=ann,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpHost
relaysyncSmtpHost: smtp2.partner.example

dn: uid=dan,ou=people,$BASE_DN
changetype: modify
replace: mail
mail: dan2@example.com
LDIF
rs --config "$T/inc.yaml" --verbose sync --format json
expect_eq "a deletion and two modifications: incremental, 2 changed, 1 deleted" "0 incremental 2 1" \
    "$RC $(j 'r["read"] + " " + str(r["read_changed"]) + " " + str(r["read_deleted"])')"
expect_eq "... only eve's route removed, ann's changed, nothing else" "removed=eve@partner.example changed=ann@partner.example" \
    "$(j '" ".join(["removed="+x["address"] for x in r["removed"]]+["changed="+x["address"] for x in r["changed"]])')"
rs --config "$T/full.yaml" sync --full --format json
expect_eq "... a full read: read full, full_requested" "full full_requested" "$(j 'r["read"] + " " + r["read_reason"]')"
expect_file "... incremental sender_relay equals the full read's" "$T/full/relaysync/sender_relay" "$T/inc/relaysync/sender_relay"
expect_file "... incremental sasl_passwd equals the full read's" "$T/full/relaysync/sasl_passwd" "$T/inc/relaysync/sasl_passwd"
rm -f "$T/state/summary"	# this run decides
rs --config "$T/inc.yaml" sync
expect_grep "text report: one line says how it read" "^read: incremental, 0 changed and 0 deleted entries since the last run$" "$T/out"
cp "$T/out" "$T/decided.out"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "nothing changed again: the last run's decision stands (no snapshot loaded)" \
    "the last run's decision stands" "$T/err"
check "... with the same report" cmp -s "$T/decided.out" "$T/out"

snapshot_cookie "$T/state/snapshot" "localhost:$DS_PORT#cn=relaysync,ou=services,$BASE_DN:$BASE_DN:(objectClass=*)#99999"
rs --config "$T/inc.yaml" sync --format json
expect_eq "a cookie from the server's future: refused, a full read, and why" "0 full cookie_refused" \
    "$RC $(j 'r["read"] + " " + r["read_reason"]')"
echo "cookie refused: $(j 'r["read_detail"]')"

# dscreate's self-signed certificate names this machine ($DS_HOST)
sed -e "s|^  uri: .*|  uri: ldaps://127.0.0.1:$DS_TLS_PORT|" -e "s|^  ca_file: .*|  ca_file: $DS_CONF/ca.crt|" \
    "$T/inc.yaml" >"$T/tls.yaml"
rs --config "$T/tls.yaml" sync --dry-run
expect_eq "ldaps to 127.0.0.1: exit 69" 69 "$RC"
expect_grep "... the error says the certificate does not name the host" \
    "certificate \(.*CN=$DS_HOST\) does not name 127.0.0.1, the host in ldap.uri" "$T/err"
head -1 "$T/err"
if [ "$(getent hosts "$DS_HOST" | awk '{print $1; exit}')" = 127.0.0.1 ]; then
	sed -i "s|^  uri: .*|  uri: ldaps://$DS_HOST:$DS_TLS_PORT|" "$T/tls.yaml"
	rs --config "$T/tls.yaml" sync --dry-run
	expect_eq "ldaps to $DS_HOST (the name in the certificate): works" 0 "$RC"
else
	echo "SKIP: $DS_HOST does not resolve to 127.0.0.1; no ldaps run by name"
fi

# the random churn: incremental against full after every step
rs --config "$T/inc.yaml" sync --force
rs --config "$T/full.yaml" sync --full --force
SEED=${CHURN_SEED:-$(date +%s)}
STEPS=${CHURN_STEPS:-40}
CHURN_LOCK=nsAccountLock:TRUE "$TOP/tests/tools/churn.py" "$SEED" "$STEPS" "$DSH" "$DS_ADMIN_DN" "$ADMIN_PW" \
    "$BASE_DN" "$RELAYSYNC" "$T/inc.yaml" "$T/inc/relaysync" "$T/full.yaml" \
    "$T/full/relaysync" "$T/churn.log" >"$T/churn.out" 2>&1
CRC=$?
cat "$T/churn.out"
check "random sequence on 389-ds (seed $SEED, $STEPS steps): incremental tables and reports equal full ones" [ "$CRC" -eq 0 ]
[ "$CRC" -eq 0 ] || grep -B2 -A40 DIFFERENT "$T/churn.log" | head -80
check "random sequence on 389-ds: every run read incrementally" grep -q "incremental=$STEPS " "$T/churn.out"
check "random sequence on 389-ds: the directory really changed" \
    [ "$(grep -c '^# step .*: op_' "$T/churn.log")" -ge "$STEPS" ]

# watch: a flag flip live within 2 s (an OU of its own: the churn may
# have renamed or emptied the others)
ds_modify <<LDIF
dn: ou=watch,$BASE_DN
changetype: add
objectClass: organizationalUnit
objectClass: relaysyncPolicy
ou: watch
relaysyncAllowUserGateways: FALSE

dn: uid=wat,ou=watch,$BASE_DN
changetype: add
objectClass: inetOrgPerson
uid: wat
cn: wat
sn: DS
mail: wat@example.com

dn: relaysyncSendAsAddress=wat@partner.example,uid=wat,ou=watch,$BASE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: wat@partner.example
relaysyncSmtpHost: smtp.watch.example
relaysyncVerified: TRUE

dn: relaysyncSendAsAddress=wat2@partner.example,uid=wat,ou=watch,$BASE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: wat2@partner.example
relaysyncSmtpHost: smtp.watch.example
relaysyncVerified: TRUE
LDIF
"$RELAYSYNC" --config "$T/inc.yaml" --verbose watch >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
for i in $(seq 1 100); do
	grep -q "sync search (refreshAndPersist)" "$T/watch.err" && break
	sleep 0.1
done
sleep 1.5	# started, caught up, idle
ds_modify <<LDIF
dn: ou=watch,$BASE_DN
changetype: modify
replace: relaysyncAllowUserGateways
relaysyncAllowUserGateways: TRUE
LDIF
t0=$(date +%s.%N)
lat=
for i in $(seq 1 250); do
	if [ "$(postmap -q wat@partner.example "lmdb:$T/inc/relaysync/sender_relay" 2>/dev/null)" = "[smtp.watch.example]:587" ]; then
		lat=$(python3 -c "import sys; print(round($(date +%s.%N) - $t0, 3))")
		break
	fi
	sleep 0.02
done
echo "watch latency (ldapmodify returned -> postmap -q shows the route): ${lat:-none} s"
check "watch: the flag flip is live within 2 s (${lat:-never} s)" \
    python3 -c "import sys; sys.exit(0 if '$lat' and float('$lat') <= 2 else 1)"
ds_modify <<LDIF
dn: relaysyncSendAsAddress=wat@partner.example,uid=wat,ou=watch,$BASE_DN
changetype: delete
LDIF
for i in $(seq 1 100); do
	[ -z "$(postmap -q wat@partner.example "lmdb:$T/inc/relaysync/sender_relay" 2>/dev/null)" ] && break
	sleep 0.02
done
expect_eq "watch: a deleted send-as entry (a persist-phase delete, by nsUniqueId): its route is gone" "" \
    "$(postmap -q wat@partner.example "lmdb:$T/inc/relaysync/sender_relay" 2>/dev/null)"
expect_eq "watch: ... and the other route of the same user stays" "[smtp.watch.example]:587" \
    "$(postmap -q wat2@partner.example "lmdb:$T/inc/relaysync/sender_relay" 2>/dev/null)"
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "watch: SIGTERM ends it with 0" 0 "$?"

# a normal account under a size limit smaller than the directory: the
# paged searches and the sync search (its cookie taken one entry per
# page, its changes few) stay below it
ds_modify <<LDIF
dn: cn=config
changetype: modify
replace: nsslapd-sizelimit
nsslapd-sizelimit: 4

dn: cn=relaysync,ou=services,$BASE_DN
changetype: modify
delete: nsSizeLimit
-
delete: nsPagedSizeLimit
LDIF
ldapsearch -x -H "$DSH" -D "$SVC_DN" -w "$SVC_PW" -b "$BASE_DN" "(objectClass=*)" 1.1 >/dev/null 2>&1
expect_eq "nsslapd-sizelimit 4: a plain search by the service account exceeds it" 4 "$?"
mkdir -p "$T/lim"
LDAP_URI=$DSH MAPPING=$TOP/mappings/389ds.yaml MAP_DIR=$T/lim/relaysync PAGE_SIZE=3 write_config "$T/lim.yaml"
sed -i "s|^state_dir: .*|state_dir: $T/state-lim|" "$T/lim.yaml"
rs --config "$T/lim.yaml" sync --format json
expect_eq "nsslapd-sizelimit 4: a full read (paged, and the cookie) succeeds" "0 full" "$RC $(j 'r["read"]')"
ds_modify <<LDIF
dn: relaysyncSendAsAddress=lim@partner.example,uid=wat,ou=watch,$BASE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: lim@partner.example
relaysyncSmtpHost: smtp.lim.example
relaysyncVerified: TRUE
LDIF
rs --config "$T/lim.yaml" sync --format json
expect_eq "nsslapd-sizelimit 4: the next run is incremental and adds the new route" \
    "0 incremental lim@partner.example" "$RC $(j 'r["read"] + " " + " ".join(x["address"] for x in r["added"])')"
finish
