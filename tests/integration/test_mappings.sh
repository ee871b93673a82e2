#!/bin/bash
# Other directories are mapping profiles, not code: the 389-ds layout
# (nsAccountLock) loaded into the test slapd with a test-only schema for
# its attribute names; and OpenLDAP's own lock (ppolicy
# pwdAccountLockedTime). Active Directory is tested against a real Samba
# AD DC (test_samba_ad.sh).
. "$(dirname "$0")/../lib.sh"

# reasons: "address=reason" of every verdict in the JSON report in $T/out.
reasons() {
	/usr/bin/python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))
v = [x["address"] + "=" + x["reason"] for x in r["rejected"]]
v += [x["address"] + "=route" for x in r["added"]]
print(" ".join(sorted(v)))' "$T/out"
}

run_profile() {	# run_profile NAME FIXTURE
	start_slapd "$TOP/tests/fixtures/foreign-schema.ldif" || return 1
	ldap_load "$TOP/tests/fixtures/$2" || return 1
	rm -rf "$T/postfix" "$T/state"
	mkdir -p "$T/state"
	MAPPING=$TOP/mappings/$1.yaml write_config "$T/$1.yaml"
	rs --config "$T/$1.yaml" sync --format json
}

MAP_DIR=$T/postfix/relaysync
run_profile 389ds 389ds.ldif || exit 1
expect_eq "389ds profile: sync exits 0" 0 "$RC"
expect_eq "389ds profile: verdicts (nsAccountLock TRUE disables, FALSE does not)" \
    "ann@partner.example=route dan@partner.example=user_disabled eve@partner.example=route kim@partner.example=policy_forbidden" \
    "$(reasons)"
expect_eq "389ds profile: sender_relay" \
    "$(printf 'ann@partner.example [smtp.partner.example]:587\neve@partner.example [smtp.partner.example]:587')" \
    "$(cat "$MAP_DIR/sender_relay")"
stop_slapd
rm -rf "$SLAPD_DIR"

# OpenLDAP: a user locked by the ppolicy overlay loses the route.
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
rm -rf "$T/postfix" "$T/state"
mkdir -p "$T/state"
write_config "$T/openldap.yaml"
rs --config "$T/openldap.yaml" sync
ldap_modify <<LDIF
dn: uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
add: pwdAccountLockedTime
pwdAccountLockedTime: 000001010000Z
LDIF
rs --config "$T/openldap.yaml" sync --format json
expect_eq "OpenLDAP profile: a ppolicy-locked user's route is removed as user_disabled" \
    "alice@partner.example:user_disabled" \
    "$(/usr/bin/python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(" ".join(x["address"]+":"+x["reason"] for x in r["removed"]))' "$T/out")"

# A mapping with an unknown layout is a configuration error with its line.
sed 's/^  layout: child$/  layout: sideways/' "$TOP/mappings/openldap.yaml" >"$T/bad-mapping.yaml"
MAPPING=$T/bad-mapping.yaml write_config "$T/bad.yaml"
rs --config "$T/bad.yaml" sync
expect_eq "an unknown sendas.layout exits 78" 78 "$RC"
expect_grep "the error names the mapping file, line and key" "bad-mapping.yaml:[0-9]+: sendas.layout: 'sideways' is not a layout" "$T/err"
finish
