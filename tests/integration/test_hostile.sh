#!/bin/bash
# Hostile directory values never reach a table: newlines trying to add a line
# for another user's address, tabs, commas, long labels, bad ports, unknown
# security, colons in usernames, half credentials, malformed addresses, and a
# case-only conflict. Each yields exactly its reason code and no table line.
. "$(dirname "$0")/../lib.sh"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
ldap_load "$TOP/tests/fixtures/hostile.ldif"
expect_eq "the hostile fixture loads into slapd (schema syntaxes allow it)" 0 "$?"
MAP_DIR=$T/postfix/relaysync
write_config "$T/rs.yaml"
mkdir -p "$T/state"

rs --config "$T/rs.yaml" sync --format json
expect_eq "sync over the hostile directory exits 0" 0 "$RC"
/usr/bin/python3 - "$T/out" >"$T/reasons" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
for x in sorted(r["rejected"], key=lambda x: x["address"] or ""):
    a = x["address"] or ""
    if "hostile" in a.lower():
        print(a.replace("\n", "\\u000a"), x["reason"])
PY
LC_ALL=C sort "$T/reasons" -o "$T/reasons"
LC_ALL=C sort "$TOP/tests/fixtures/hostile.expected" >"$T/expected"
expect_file "every hostile entry has exactly its reason code" "$T/expected" "$T/reasons"
expect_eq "each hostile entry is reported exactly once" \
    "$(wc -l <"$T/expected")" "$(grep -c . "$T/reasons")"

for t in sender_relay sender_transport sasl_passwd tls_policy; do
	f=$MAP_DIR/$t
	expect_no_grep "$t: no hostile value reached the table" 'evil|hostile|injected|mallory|trudy' "$f"
	check "$t: every line is exactly 'key value' with printable bytes" \
	    awk -v t="$t" '
	        /[^ -~]/ { bad = 1 }
	        t != "sasl_passwd" && NF != 2 { bad = 1 }
	        t == "sasl_passwd" && !/^[^ ]+ [^ :]+:[^\t]+$/ { bad = 1 }
	        END { exit bad }' "$f"
done
expect_eq "victim's route is the only line for victim@partner.example" \
    "victim@partner.example [smtp.partner.example]:587" \
    "$(grep '^victim@partner.example ' "$MAP_DIR/sender_relay")"
expect_eq "victim's credentials are their own" "victim@partner.example victim:victim-gw-SECRET-8" \
    "$(grep '^victim@partner.example ' "$MAP_DIR/sasl_passwd")"
expect_eq "postmap -q for victim gives victim's gateway" "[smtp.partner.example]:587" \
    "$(postmap -q victim@partner.example "lmdb:$MAP_DIR/sender_relay")"
rs --config "$T/rs.yaml" sync
expect_grep "the text report shows a hostile address with escapes" \
    'rejected  nl@hostile.example\\x0avictim@partner.example: bad_address' "$T/out"
expect_no_grep "the text report has no raw control characters" $'[\t\r]' "$T/out"
expect_no_grep "no fixture password in any output" 'SECRET' "$T/all-output.log"
finish
