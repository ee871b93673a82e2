#!/bin/bash
# The schema in both forms and the example ACL in both forms, loaded into
# real slapd servers: same definitions, and the ACL lets a user manage send-as
# entries below their own entry only, never the policy or verified flags.
. "$(dirname "$0")/../lib.sh"

ALICE_DN="uid=alice,ou=sales,ou=people,$BASE_DN"
BOB_DN="uid=bob,ou=interns,ou=sales,ou=people,$BASE_DN"

subschema() {
	ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$SLAPD_PORT" -b cn=subschema -s base \
	    attributeTypes objectClasses | grep -i relaysync | sort
}

# as_alice LDIF-on-stdin: ldapmodify bound as alice; sets $MOD_RC.
as_alice() {
	ldapmodify -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ALICE_DN" -w alice-login-SECRET \
	    >"$T/as_alice.log" 2>&1
	MOD_RC=$?
}

acl_checks() {	# acl_checks FORM
	local form=$1
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: alice2@partner.example
relaysyncSmtpHost: smtp.partner.example
relaysyncSmtpUsername: alice2
relaysyncSmtpPassword: alice2-gw-SECRET
LDIF
	expect_eq "$form ACL: alice adds a send-as entry below her own entry" 0 "$MOD_RC"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: modify
replace: relaysyncSmtpPort
relaysyncSmtpPort: 2525
LDIF
	expect_eq "$form ACL: alice modifies her send-as entry" 0 "$MOD_RC"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=evil@partner.example,$BOB_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: evil@partner.example
LDIF
	expect_eq "$form ACL: alice cannot add below bob (insufficient access)" 50 "$MOD_RC"
	as_alice <<LDIF
dn: $ALICE_DN
changetype: modify
add: objectClass
objectClass: relaysyncPolicy
-
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: TRUE
LDIF
	expect_eq "$form ACL: alice cannot set the policy flag on herself" 50 "$MOD_RC"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: modify
replace: relaysyncVerified
relaysyncVerified: TRUE
LDIF
	expect_eq "$form ACL: alice cannot mark her address verified" 50 "$MOD_RC"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice3@partner.example,$ALICE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: alice3@partner.example
relaysyncVerified: TRUE
LDIF
	expect_eq "$form ACL: alice cannot add an entry that is marked verified" 50 "$MOD_RC"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice4@partner.example,$ALICE_DN
changetype: add
objectClass: relaysyncSendAs
objectClass: relaysyncPolicy
relaysyncSendAsAddress: alice4@partner.example
relaysyncAllowUserGateways: TRUE
LDIF
	expect_eq "$form ACL: alice cannot add an entry that carries the policy flag" 50 "$MOD_RC"
	ldap_modify <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: modify
replace: relaysyncVerified
relaysyncVerified: TRUE
LDIF
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: modrdn
newrdn: relaysyncSendAsAddress=ceo@partner.example
deleteoldrdn: 1
LDIF
	expect_eq "$form ACL: alice cannot rename her verified entry to another address" 50 "$MOD_RC"
	local pw
	pw=$(ldapsearch -x -LLL -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$BOB_DN" -w bob-login-SECRET \
	    -b "relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN" -s base relaysyncSmtpPassword 2>&1)
	expect_eq "$form ACL: bob cannot even see alice's send-as entry" "No such object (32)" "$pw"
	pw=$(ldapsearch -x -LLL -o ldif-wrap=no -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$SVC_DN" -w "$SVC_PW" \
	    -b "relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN" -s base relaysyncSmtpPassword |
	    sed -n 's/^relaysyncSmtpPassword: //p')
	expect_eq "$form ACL: the relaysync account reads the gateway password" alice2-gw-SECRET "$pw"
	as_alice <<LDIF
dn: relaysyncSendAsAddress=alice2@partner.example,$ALICE_DN
changetype: delete
LDIF
	expect_eq "$form ACL: alice deletes her send-as entry" 0 "$MOD_RC"
}

# cn=config form of the schema and the ACL
start_slapd || exit 1
ldapmodify -Y EXTERNAL -H "$SLAPD_LDAPI" -f "$TOP/schema/relaysync-acl.ldif" >"$T/acl.log" 2>&1
expect_eq "relaysync-acl.ldif loads into cn=config" 0 "$?"
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
ldappasswd -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" -s bob-login-SECRET "$BOB_DN"
subschema >"$T/subschema-ldif"
expect_eq "cn=config form defines 8 attribute types and 2 classes" 10 "$(wc -l <"$T/subschema-ldif")"
expect_grep "relaysyncAllowUserGateways has its OID" \
    "2\.25\.170760265247376371297465360434784693002\.1\.1 NAME 'relaysyncAllowUserGateways'" "$T/subschema-ldif"
expect_grep "relaysyncSendAs is structural with its OID" \
    "2\.25\.170760265247376371297465360434784693002\.2\.2 NAME 'relaysyncSendAs' .*STRUCTURAL" "$T/subschema-ldif"
acl_checks cn=config
write_config "$T/rs.yaml"
rs --config "$T/rs.yaml" sync --dry-run --format json
expect_eq "relaysync reads everything under the example ACL (cn=config)" 2 "$RC"
expect_grep "all 3 routes and 7 rejections are seen" '"routes":3}' "$T/out"
# slapd does not check a modrdn's new RDN values against the ACL: alice can
# rename her unverified entry to relaysyncVerified=TRUE. relaysync does not
# take a verified flag that names the entry.
as_alice <<LDIF
dn: relaysyncSendAsAddress=alice5@partner.example,$ALICE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: alice5@partner.example
relaysyncSmtpHost: smtp.partner.example
LDIF
as_alice <<LDIF
dn: relaysyncSendAsAddress=alice5@partner.example,$ALICE_DN
changetype: modrdn
newrdn: relaysyncVerified=TRUE
deleteoldrdn: 0
LDIF
expect_eq "slapd lets alice rename her entry to relaysyncVerified=TRUE" 0 "$MOD_RC"
REQUIRE_VERIFIED=true write_config "$T/verified.yaml"
rs --config "$T/verified.yaml" sync --dry-run --format json
expect_grep "relaysync still counts that entry unverified" \
    '"address":"alice5@partner.example","dn":"relaysyncVerified=TRUE,[^"]*","owner_dn":"[^"]*","reason":"unverified"' "$T/out"
stop_slapd

# slapd.conf form of the schema and the ACL
start_slapd_conf || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
ldappasswd -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" -s bob-login-SECRET "$BOB_DN"
subschema >"$T/subschema-conf"
expect_file "slapd.conf and cn=config forms define exactly the same schema" \
    "$T/subschema-ldif" "$T/subschema-conf"
acl_checks slapd.conf
write_config "$T/rs.yaml"
rs --config "$T/rs.yaml" sync --dry-run --format json
expect_grep "relaysync reads everything under the example ACL (slapd.conf)" '"routes":3}' "$T/out"
finish
