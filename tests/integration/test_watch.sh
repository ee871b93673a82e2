#!/bin/bash
# relaysync watch against a slapd with syncprov: an OU flag flipped, a
# send-as entry added, modified and deleted, a user moved to another OU
# (modrdn), changes made while slapd was down (slapmodify), the delete
# threshold after a SIGHUP reload, a concurrent sync, and SIGTERM.
. "$(dirname "$0")/../lib.sh"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
MAP_DIR=$T/postfix/relaysync
write_config "$T/rs.yaml"
mkdir -p "$T/state"

q() { postmap -q "$1" "lmdb:$MAP_DIR/$2" 2>/dev/null; }
has() { [ -n "$(q "$1" "$2")" ]; }		# has ADDRESS TABLE
gone() { [ -z "$(q "$1" "$2")" ]; }		# gone ADDRESS TABLE
is() { [ "$(q "$1" "$2")" = "$3" ]; }		# is ADDRESS TABLE VALUE

# until DESCRIPTION SECONDS COMMAND...: passes when the command succeeds in time.
until_ok() {
	local d=$1 n=$(($2 * 20)) i
	shift 2
	for i in $(seq 1 "$n"); do
		if "$@"; then ok "$d"; return; fi
		sleep 0.05
	done
	not_ok "$d" "still failing after ${n} tries: $*"
}

"$RELAYSYNC" --config "$T/rs.yaml" --verbose watch >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
until_ok "watch installs the tables at start" 10 has alice@partner.example sender_relay

set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
until_ok "an OU flag flipped to TRUE: bob's route appears" 5 has bob@partner.example sender_relay

ldap_modify <<LDIF
dn: relaysyncSendAsAddress=erin2@partner.example,uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: erin2@partner.example
relaysyncSmtpHost: smtp.erin.example
LDIF
until_ok "a send-as entry added: its route appears" 5 is erin2@partner.example sender_relay "[smtp.erin.example]:587"

ldap_modify <<LDIF
dn: relaysyncSendAsAddress=erin2@partner.example,uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpHost
relaysyncSmtpHost: smtp2.erin.example
LDIF
until_ok "a send-as entry modified: the new gateway is live" 5 is erin2@partner.example sender_relay "[smtp2.erin.example]:587"

ldap_modify <<LDIF
dn: relaysyncSendAsAddress=frank@smtps.example,uid=frank,ou=sales,ou=people,$BASE_DN
changetype: delete
LDIF
until_ok "a send-as entry deleted: its route is gone" 5 gone frank@smtps.example sender_transport

ldap_modify <<LDIF
dn: uid=gina,ou=partners,$BASE_DN
changetype: modrdn
newrdn: uid=gina
deleteoldrdn: 1
newsuperior: ou=sales,ou=people,$BASE_DN
LDIF
until_ok "a user moved (modrdn) into an allowed OU: her route appears" 5 has gina@partner.example sender_relay

# watch saves its snapshot once idle (a second without changes)
snap_live() { grep -q "^generation $(basename "$(readlink "$MAP_DIR")")\$" "$T/state/snapshot" 2>/dev/null; }
until_ok "watch saves its snapshot of the live generation when idle" 5 snap_live

# a sync from the timer while watch runs: the lock is only held per run
# (75 only while the watcher's own run holds it)
for i in $(seq 1 20); do
	rs --config "$T/rs.yaml" --verbose sync
	[ "$RC" != 75 ] && break
	sleep 0.2
done
expect_eq "a timer sync runs (nothing to do) while watch waits" 0 "$RC"
expect_grep "the timer sync is incremental from the watcher's snapshot" \
    "incremental read: 0 changed" "$T/err"
expect_eq "watch read the whole directory once, at start; since then only what changed" 1 \
    "$(grep -c "ldap search base=$BASE_DN filter=(objectClass=inetOrgPerson):" "$T/watch.err")"

# slapd restarted; a change made while the watcher is still disconnected
# (backing off): it resumes from its cookie and catches up. (slapd's
# session log starts empty, so the server answers with a present phase.)
stop_slapd
until_ok "the watcher notices and backs off" 20 grep -q 'trying the directory again in 4 s' "$T/watch.err"
check "while slapd is down the tables stay" has alice@partner.example sender_relay
run_slapd
ldap_modify <<LDIF
dn: ou=sales,ou=people,$BASE_DN
changetype: modify
add: objectClass
objectClass: relaysyncPolicy
-
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: FALSE

dn: relaysyncSendAsAddress=carol@insecure.example,uid=carol,ou=it,ou=people,$BASE_DN
changetype: delete
LDIF
until_ok "after slapd is back the watcher catches up (ou=sales forbidden)" 20 \
    gone alice@partner.example sender_relay
check "... and an entry deleted meanwhile is gone from the model" \
    grep -q 'watch: 1 changed, 1 deleted entries\|watch: 1 changed, 0 deleted entries (present phase)' "$T/watch.err"
check "it resumed from its cookie (no second full read)" \
    [ "$(grep -c "ldap search base=$BASE_DN filter=(objectClass=inetOrgPerson):" "$T/watch.err")" = 1 ]

# SIGHUP reloads the configuration: with max_removals 1 two routes whose
# entries vanished are refused, and the tables stay
MAX_REMOVALS=1 write_config "$T/rs.yaml"
kill -HUP "$WATCH"
until_ok "SIGHUP reloads the configuration" 5 grep -q 'configuration reloaded' "$T/watch.err"
before=$(tree_sum "$T/postfix")
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=erin@nologin.example,uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN
changetype: delete

dn: relaysyncSendAsAddress=bob@partner.example,uid=bob,ou=interns,ou=sales,ou=people,$BASE_DN
changetype: delete
LDIF
until_ok "the delete threshold still applies in watch mode (2 vanished > 1)" 5 grep -q 'refusing to remove' "$T/watch.err"
expect_eq "the refused change left the tables untouched" "$before" "$(tree_sum "$T/postfix")"
check "the watcher keeps running after a refusal" kill -0 "$WATCH"

kill -TERM "$WATCH"
for i in $(seq 1 100); do kill -0 "$WATCH" 2>/dev/null || break; sleep 0.05; done
wait "$WATCH"
expect_eq "SIGTERM: watch exits 0" 0 "$?"
check "watch saved its snapshot (model and sync cookie) in state_dir" \
    grep -q '^cookie [1-9]' "$T/state/snapshot"
cat "$T/watch.out" "$T/watch.err" >>"$T/all-output.log"

# a saved cookie the server refuses (one from its future): watch reads
# everything again instead of retrying the same cookie
snapshot_cookie "$T/state/snapshot" "rid=000,csn=29990101000000.000000Z#000000#000#000000"
write_config "$T/rs.yaml"	# max_removals back to 500: the removals go through
"$RELAYSYNC" --config "$T/rs.yaml" --verbose watch >"$T/watch2.out" 2>"$T/watch2.err" &
WATCH=$!
PIDS+=("$WATCH")
until_ok "a refused cookie: watch reads everything again" 10 \
    grep -q 'no longer accepts the saved sync cookie.*reading everything again' "$T/watch2.err"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=again@partner.example,uid=bob,ou=interns,ou=sales,ou=people,$BASE_DN
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: again@partner.example
relaysyncSmtpHost: smtp.again.example
LDIF
until_ok "... and then applies changes" 10 has again@partner.example sender_relay
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "SIGTERM: watch exits 0" 0 "$?"
cat "$T/watch2.out" "$T/watch2.err" >>"$T/all-output.log"

# a server with no way to follow changes (slapd without syncprov, which
# then lists no RFC 4533 control in its rootDSE): watch says so and exits
# 69 at once instead of retrying
stop_slapd
rm -f "$SLAPD_DIR"/slapd.d/cn=config/olcDatabase=\{1\}mdb/olcOverlay=\{1\}syncprov.ldif
sed -i '/^olcModuleLoad: .*syncprov/d' "$SLAPD_DIR"/slapd.d/cn=config/cn=module*.ldif
run_slapd
timeout 20 "$RELAYSYNC" --config "$T/rs.yaml" watch >"$T/watch3.out" 2>"$T/watch3.err"
expect_eq "watch against a server that cannot follow changes exits 69" 69 "$?"
expect_grep "... naming what the server lacks" \
    "watch: ldap .*: the server offers no way to follow changes: its rootDSE lists neither RFC 4533" "$T/watch3.err"
cat "$T/watch3.out" "$T/watch3.err" >>"$T/all-output.log"
expect_no_grep "no fixture password in watch's output" 'SECRET' "$T/all-output.log"
finish
