#!/bin/bash
# Incremental sync runs (RFC 4533 refreshOnly from the snapshot's cookie):
# a long random sequence of directory changes, after each of which the
# incremental result must equal a full run byte for byte; and every case
# where a full read must happen instead (--full, full_every, a missing,
# damaged or foreign snapshot, tables changed behind its back, a cookie
# the server refuses).
. "$(dirname "$0")/../lib.sh"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
MAP_DIR=$T/inc/relaysync write_config "$T/inc.yaml"
MAP_DIR=$T/full/relaysync write_config "$T/full.yaml"
sed -i "s|^state_dir: .*|state_dir: $T/state-full|" "$T/full.yaml"
mkdir -p "$T/inc" "$T/full"
SNAP=$T/state/snapshot

rs --config "$T/inc.yaml" --verbose sync
expect_eq "first run: a full read" 0 "$RC"
expect_grep "... its snapshot is written beside apply and kept" \
    "snapshot: snapshot kept \(generation 1 is live\)" "$T/err"
check "... (no snapshot-next left)" test ! -e "$T/state/snapshot-next"
expect_grep "first run: says why it reads everything" "no snapshot of a previous run" "$T/err"
check "the snapshot is saved" test -s "$SNAP"
expect_eq "the snapshot is private (0600)" 600 "$(stat -c %a "$SNAP")"
expect_no_grep "no password in the snapshot's header" "alice-gw-SECRET" <(head -6 "$SNAP")

# the snapshot is written as a stream: a password in clear and no local key
# to seal it stops the stream part way, and neither the snapshot nor its
# temporary file is left
: >"$T/etc/empty.key"
chmod 600 "$T/etc/empty.key"
MAP_DIR=$T/nokey/relaysync STATE_DIR=$T/state-nokey write_config "$T/nokey.yaml"
sed -i "s|^  key_file: .*|  key_file: $T/etc/empty.key|" "$T/nokey.yaml"
mkdir -p "$T/nokey"
rs --config "$T/nokey.yaml" --verbose sync
expect_eq "no local key: the run succeeds" 0 "$RC"
expect_grep "... and says that no snapshot is kept" "no snapshot kept: the directory holds a password in clear" "$T/err"
expect_eq "... and leaves neither a snapshot nor its temporary file" "" \
    "$(ls "$T/state-nokey" | grep snapshot)"

rs --config "$T/inc.yaml" --verbose sync
expect_grep "second run: incremental, nothing changed" \
    "incremental read: 0 changed and 0 deleted" "$T/err"
expect_grep "... and the text report says so in one line" \
    "^read: incremental, 0 changed and 0 deleted entries since the last run$" "$T/out"
rs --config "$T/inc.yaml" sync --format json
expect_eq "... and the JSON report: read incremental" incremental \
    "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["read"])' "$T/out")"
expect_no_grep "a no-op incremental run installs nothing" "installed generation" "$T/err"

# nothing changed: the run answers from the last run's summary, without
# loading the snapshot or deciding, and reports exactly what a run that
# decides again reports (text and JSON)
expect_eq "the summary is private (0600)" 600 "$(stat -c %a "$T/state/summary")"
rm "$T/state/summary"
rs --config "$T/inc.yaml" --verbose sync --format json
expect_no_grep "without a summary: decides again" "decision stands" "$T/err"
cp "$T/out" "$T/decided.json"
rs --config "$T/inc.yaml" --verbose sync --format json
expect_grep "with it: the last run's decision stands" "the last run's decision stands" "$T/err"
expect_grep "... still an incremental read" "incremental read: 0 changed and 0 deleted" "$T/err"
check "... the same JSON report as deciding again" cmp -s "$T/decided.json" "$T/out"
rs --config "$T/inc.yaml" sync
cp "$T/out" "$T/quick.out"
rm "$T/state/summary"
rs --config "$T/inc.yaml" sync
check "... the same text report as deciding again" cmp -s "$T/quick.out" "$T/out"
gen=$(readlink "$T/inc/relaysync")
printf 'x' >>"$T/state/summary-rejected"
rs --config "$T/inc.yaml" --verbose sync
expect_no_grep "rejections edited: not believed" "decision stands" "$T/err"
check "... the same report" cmp -s "$T/quick.out" "$T/out"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "... the run that did not believe them wrote them again: the next one's decision stands" \
    "the last run's decision stands" "$T/err"
python3 - "$T/state/summary" <<'PY'
import sys
p = sys.argv[1]
b = open(p, "rb").read().replace(b"routes ", b"routes 1", 1)
open(p, "wb").write(b)
PY
rs --config "$T/inc.yaml" --verbose sync
expect_no_grep "a summary edited: not believed" "decision stands" "$T/err"
check "... the same report" cmp -s "$T/quick.out" "$T/out"
expect_eq "... and nothing installed" "$gen" "$(readlink "$T/inc/relaysync")"
# a change that leaves the rejections as they were: summary-rejected
# (~9 MB at 100k users) is not written again, the summary is; twice
rejected_ino=$(stat -c %i "$T/state/summary-rejected")
n=0
for pw in alice-gw-SECRET-2 alice-gw-SECRET-1; do
	n=$((n + 1))
	summary_ino=$(stat -c %i "$T/state/summary")
	ldap_modify <<LDIF
dn: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: $pw
LDIF
	rs --config "$T/inc.yaml" --verbose sync
	expect_grep "password change $n: one changed entry read" \
	    "incremental read: 1 changed and 0 deleted" "$T/err"
	expect_grep "... the same rejections: summary-rejected not rewritten" \
	    "summary-rejected unchanged, not rewritten" "$T/err"
	expect_eq "... (the same file)" "$rejected_ino" "$(stat -c %i "$T/state/summary-rejected")"
	check "... the summary is rewritten" test "$summary_ino" != "$(stat -c %i "$T/state/summary")"
	rs --config "$T/inc.yaml" --verbose sync
	expect_grep "... and the next run's decision stands" \
	    "the last run's decision stands" "$T/err"
done
# a setting that changes decisions, with nothing changed in the directory
routes_before=$(wc -l <"$T/inc/relaysync/sender_relay")
sed -i 's/^  require_verified: false$/  require_verified: true/' "$T/inc.yaml"
rs --config "$T/inc.yaml" --verbose sync
expect_no_grep "policy.require_verified changed: decided again" "decision stands" "$T/err"
expect_grep "... which revokes the unverified routes" "revoked, unverified" "$T/out"
sed -i 's/^  require_verified: true$/  require_verified: false/' "$T/inc.yaml"
rs --config "$T/inc.yaml" --verbose sync
expect_eq "... and changed back: the routes are back" "$routes_before" "$(wc -l <"$T/inc/relaysync/sender_relay")"

set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/inc.yaml" --verbose sync
expect_grep "one OU flag flipped: one changed entry read" \
    "incremental read: 1 changed and 0 deleted" "$T/err"
expect_eq "bob's route appears (postmap -q)" "[localhost]:2525" \
    "$(postmap -q bob@partner.example "lmdb:$T/inc/relaysync/sender_relay")"

rs --config "$T/inc.yaml" --verbose sync --full
expect_grep "--full reads everything" "ldap search base=$BASE_DN filter=\(objectClass=inetOrgPerson\)" "$T/err"
expect_no_grep "--full: no incremental read" "incremental read" "$T/err"

# a full read that finds the very model the last run decided from (the
# snapshot holds it, the summary vouches for settings, inputs and live
# files): reported from the summary, without deciding, planning or
# writing anything, and exactly as deciding again reports it
gen=$(readlink "$T/inc/relaysync")
snap_id=$(stat -c '%i %Y' "$SNAP")
rs --config "$T/inc.yaml" --verbose sync --full --format json
expect_eq "--full, nothing changed: exit 0" 0 "$RC"
expect_grep "... the full read found the snapshot's model" "the full read found the model of $SNAP" "$T/err"
expect_no_grep "... and planned nothing" "debug: plan:" "$T/err"
expect_eq "... nothing installed" "$gen" "$(readlink "$T/inc/relaysync")"
expect_eq "... the snapshot not rewritten" "$snap_id" "$(stat -c '%i %Y' "$SNAP")"
cp "$T/out" "$T/fastfull.json"
rm "$T/state/summary"
rs --config "$T/inc.yaml" --verbose sync --full --format json
expect_no_grep "... without a summary: decided again" "the full read found the model" "$T/err"
check "... the same JSON report as deciding again" cmp -s "$T/fastfull.json" "$T/out"
# a change and its undoing: the model is the snapshot's, the cookie newer
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/inc.yaml" --verbose sync --full
expect_grep "a change undone: the full read finds the snapshot's model" "the full read found the model of" "$T/err"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "a change: the full read decides again" "the full read found the model" "$T/err"
expect_eq "... and bob's route is gone (postmap -q)" "" \
    "$(postmap -q bob@partner.example "lmdb:$T/inc/relaysync/sender_relay")"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/inc.yaml" --verbose sync --full
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/inc.yaml" --verbose sync --full
expect_grep "... undone again: the summary takes the newer cookie" "the full read found the model of" "$T/err"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
rs --config "$T/inc.yaml" --verbose sync
expect_grep "... an incremental run after it reads from the snapshot's cookie" \
    "incremental read: 1 changed and 0 deleted" "$T/err"
expect_eq "... and removes bob's route" "" \
    "$(postmap -q bob@partner.example "lmdb:$T/inc/relaysync/sender_relay")"
check "... a journal record was added" test -s "$T/state/snapshot-journal"
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "with a journal: the full read decides again" "the full read found the model" "$T/err"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/inc.yaml" --verbose sync
expect_eq "... bob's route is back" "[localhost]:2525" \
    "$(postmap -q bob@partner.example "lmdb:$T/inc/relaysync/sender_relay")"
rs --config "$T/inc.yaml" sync --full	# no incremental run since

# full_every: 2 -> after a full read, one incremental run, then a full one
cp "$T/inc.yaml" "$T/every.yaml"
echo "full_every: 2" >>"$T/every.yaml"
rs --config "$T/every.yaml" --verbose sync
expect_grep "full_every 2: the run after the full read is incremental" "incremental read" "$T/err"
rs --config "$T/every.yaml" --verbose sync
expect_grep "full_every 2: the next is a full read" "full_every incremental runs" "$T/err"
echo "full_every: 0" >>"$T/every.yaml"
sed -i '/^full_every: 2$/d' "$T/every.yaml"
rs --config "$T/every.yaml" --verbose sync
expect_no_grep "full_every 0: never incremental" "incremental read" "$T/err"

# a damaged snapshot: one byte changed
rs --config "$T/inc.yaml" sync
python3 - "$SNAP" <<'PY'
import sys
p = sys.argv[1]
b = bytearray(open(p, "rb").read())
b[len(b) // 2] ^= 1
open(p, "wb").write(bytes(b))
PY
rs --config "$T/inc.yaml" --verbose sync
expect_eq "a damaged snapshot: the run still succeeds" 0 "$RC"
expect_grep "a damaged snapshot: a full read, and why" "checksum mismatch" "$T/err"

# the live tables changed behind the snapshot's back
echo "intruder@x.example [evil]:25" >>"$T/inc/relaysync/sender_relay"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "tables edited by hand: a full read" "the live tables are not the ones it produced" "$T/err"
expect_no_grep "tables edited by hand: repaired" intruder "$T/inc/relaysync/sender_relay"

# other ldap or mapping settings
sed "s|^  page_size: .*|  page_size: 7|" "$T/inc.yaml" >"$T/page.yaml"
rs --config "$T/page.yaml" --verbose sync
expect_grep "page_size changed: still incremental" "incremental read" "$T/err"
sed "s|^mapping: .*|mapping: $T/m.yaml|" "$T/inc.yaml" >"$T/map.yaml"
sed 's|^  filter: "(objectClass=inetOrgPerson)"|  filter: "(\&(objectClass=inetOrgPerson)(uid=*))"|' \
    "$TOP/mappings/openldap.yaml" >"$T/m.yaml"
rs --config "$T/map.yaml" --verbose sync
expect_grep "a mapping filter changed: a full read" "ldap or mapping settings changed" "$T/err"

rs --config "$T/inc.yaml" sync
snapshot_cookie "$SNAP" "rid=000,csn=29990101000000.000000Z#000000#000#000000"
rs --config "$T/inc.yaml" --verbose sync
expect_eq "a cookie the server refuses: the run still succeeds" 0 "$RC"
expect_grep "a cookie the server refuses (from the future): a full read, and why" "full read \(cookie_refused\): ldap .*consumer state is newer than provider" "$T/err"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "after it: incremental again" "incremental read" "$T/err"
snapshot_cookie "$SNAP" "rid=000,csn=19990101000000.000000Z#000000#000#000000"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "a cookie from 1999: every entry changed since, read as changes" \
    "incremental read: [1-9][0-9] changed" "$T/err"
expect_no_grep "... with the same tables" "installed generation" "$T/err"

# few lines changed in a larger table: the live index is copied and
# patched (postmap -i -r, postmap -d), not rebuilt, and holds exactly the
# lines of its text
ALICE="uid=alice,ou=sales,ou=people,$BASE_DN"
for i in $(seq 1 40); do
	printf 'dn: relaysyncSendAsAddress=bulk%02d@partner.example,%s\nobjectClass: relaysyncSendAs\nrelaysyncSendAsAddress: bulk%02d@partner.example\nrelaysyncSmtpHost: smtp%d.partner.example\nrelaysyncSmtpUsername: bulk%d\nrelaysyncSmtpPassword: bulk-pw-%d\n\n' \
	    "$i" "$ALICE" "$i" "$i" "$i" "$i"
done >"$T/bulk.ldif"
ldap_load "$T/bulk.ldif" || exit 1
rs --config "$T/inc.yaml" sync --force
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=bulk07@partner.example,$ALICE
changetype: modify
replace: relaysyncSmtpHost
relaysyncSmtpHost: moved.partner.example

dn: relaysyncSendAsAddress=bulk09@partner.example,$ALICE
changetype: delete

dn: relaysyncSendAsAddress=bulk99@partner.example,$ALICE
changetype: add
objectClass: relaysyncSendAs
relaysyncSendAsAddress: bulk99@partner.example
relaysyncSmtpHost: new.partner.example
LDIF
rs --config "$T/inc.yaml" --verbose sync
expect_grep "3 changed lines: sender_relay patched, not rebuilt" \
    "sender_relay: 3 changed lines patched into a copy of the live index" "$T/err"
expect_grep "2 changed lines: sasl_passwd patched (a removal, a new password)" \
    "sasl_passwd: 1 changed lines patched" "$T/err"
q() { postmap -q "$1" "lmdb:$T/inc/relaysync/$2"; }
expect_eq "the patched index: the changed route" "[moved.partner.example]:587" "$(q bulk07@partner.example sender_relay)"
expect_eq "the patched index: the new route" "[new.partner.example]:587" "$(q bulk99@partner.example sender_relay)"
expect_eq "the patched index: the deleted route is gone" "" "$(q bulk09@partner.example sender_relay)"
expect_eq "the patched index: the deleted login is gone" "" "$(q bulk09@partner.example sasl_passwd)"
for t in sender_relay sasl_passwd; do
	postmap -s "lmdb:$T/inc/relaysync/$t" | sed 's/\t/ /' | LC_ALL=C sort >"$T/$t.dump"
	LC_ALL=C sort "$T/inc/relaysync/$t" >"$T/$t.sorted"
	expect_file "the patched $t index holds exactly the lines of its text" "$T/$t.sorted" "$T/$t.dump"
done
shared() { [ "$(stat -L -c %h "$1")" -ge 2 ] && [ "$(stat -L -c %h "$1.lmdb")" -ge 2 ]; }
check "an unchanged table and its index are shared with the previous generation (hard links)" \
    shared "$T/inc/relaysync/sender_transport"
check "a changed table is written afresh" [ "$(stat -L -c %h "$T/inc/relaysync/sender_relay")" -eq 1 ]
expect_eq "the patched sasl_passwd index stays private (0600)" 600 \
    "$(stat -L -c %a "$T/inc/relaysync/sasl_passwd.lmdb")"
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "and a full run after it finds nothing to change" "installed generation" "$T/err"

# the long random sequence
rs --config "$T/full.yaml" sync --full
SEED=${CHURN_SEED:-$(date +%s)}
STEPS=${CHURN_STEPS:-80}
"$TOP/tests/tools/churn.py" "$SEED" "$STEPS" "ldap://127.0.0.1:$SLAPD_PORT" "$ADMIN_DN" "$ADMIN_PW" \
    "$BASE_DN" "$RELAYSYNC" "$T/inc.yaml" "$T/inc/relaysync" "$T/full.yaml" \
    "$T/full/relaysync" "$T/churn.log" >"$T/churn.out" 2>&1
CRC=$?
cat "$T/churn.out"
check "random sequence (seed $SEED, $STEPS steps): incremental tables equal full ones after every step" \
    [ "$CRC" -eq 0 ]
[ "$CRC" -eq 0 ] || grep -B2 -A40 DIFFERENT "$T/churn.log" | head -80

# more than 1,000 changed entries (and a tenth of the model): a full read
python3 - "$BASE_DN" >"$T/many.ldif" <<'PY'
import sys
print(f"dn: ou=many,{sys.argv[1]}\nobjectClass: organizationalUnit\nou: many\n")
for i in range(1100):
    print(f"dn: uid=many{i},ou=many,{sys.argv[1]}\nobjectClass: inetOrgPerson\n"
          f"uid: many{i}\ncn: m\nsn: m\nmail: many{i}@example.com\n")
PY
rs --config "$T/inc.yaml" sync --force	# the churn may have left a refused change
ldap_load "$T/many.ldif" || exit 1
rs --config "$T/inc.yaml" --verbose sync --force
expect_grep "1,101 new entries: a full read is cheaper" "full read \(many_changes\): [0-9]+ entries to read again after 1101 changes and 0 deletions since the last run; reading everything is cheaper" "$T/err"
inc=$(sed -n 's/.*incremental=\([0-9]*\).*/\1/p' "$T/churn.out")
check "random sequence: most runs were incremental ($inc of $STEPS)" [ "${inc:-0}" -ge $((STEPS * 3 / 4)) ]
check "random sequence: the directory really changed" \
    [ "$(grep -c '^# step .*: op_' "$T/churn.log")" -ge "$STEPS" ]

# a full read that finds what the snapshot holds does not write it again:
# <state_dir>/snapshot-digest names the file and the keyed digest of its
# entries (the fixture's passwords are in clear: the snapshot seals them,
# the digest is of the model as read)
DIGEST=$T/state/snapshot-digest
snap_id() { stat -c '%i %y' "$SNAP"; }
rs --config "$T/inc.yaml" sync --full
check "a whole snapshot has its digest next to it" test -s "$DIGEST"
expect_eq "... private (0600)" 600 "$(stat -c %a "$DIGEST")"
expect_no_grep "... which holds no password" "SECRET" "$DIGEST"
before=$(snap_id)
rm "$T/state/summary"	# without it a no-op full read decides again
rs --config "$T/inc.yaml" --verbose sync --full
expect_eq "a no-op full read succeeds" 0 "$RC"
expect_grep "... and keeps the snapshot" "snapshot holds this model and cookie already, not rewritten" "$T/err"
expect_eq "... the same file, not rewritten" "$before" "$(snap_id)"
rs --config "$T/inc.yaml" --verbose sync
expect_grep "... from which the next run reads incrementally" "incremental read: 0 changed and 0 deleted" "$T/err"
cp -a "$T/inc" "$T/inc.kept"
rs --config "$T/full.yaml" sync --force
check "... and its tables equal a full run's" diff -r "$T/inc/relaysync/" "$T/full/relaysync/"
before=$(snap_id)
printf 'dn: ou=digest,%s\nobjectClass: organizationalUnit\nobjectClass: relaysyncPolicy\nou: digest\nrelaysyncAllowUserGateways: TRUE\n' \
    "$BASE_DN" | ldap_load /dev/stdin || exit 1
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "a changed directory: the snapshot is written again" "snapshot holds" "$T/err"
check "... a new file" [ "$before" != "$(snap_id)" ]
sed -i "s/^digest .*/digest $(printf '0%.0s' $(seq 64))/" "$DIGEST"
before=$(snap_id)
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "a digest that does not match: the snapshot is written again" "snapshot holds" "$T/err"
check "... a new file" [ "$before" != "$(snap_id)" ]
touch "$SNAP"
rs --config "$T/inc.yaml" --verbose sync --full
expect_no_grep "a snapshot touched behind the digest's back: written again" "snapshot holds" "$T/err"
rm "$T/state/summary"
rs --config "$T/inc.yaml" --verbose sync --full
expect_grep "... after which it is kept again" "snapshot holds" "$T/err"

# a server whose rootDSE offers no RFC 4533 (slapd without syncprov): no
# sync search is sent, every run is a full read, and the report says why
stop_slapd
start_slapd_conf || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
MAP_DIR=$T/nosync/relaysync write_config "$T/nosync.yaml"
sed -i "s|^state_dir: .*|state_dir: $T/state-nosync|" "$T/nosync.yaml"
mkdir -p "$T/nosync"
rs --config "$T/nosync.yaml" sync
rs --config "$T/nosync.yaml" --verbose sync --format json
expect_eq "no RFC 4533 on the server: a full read, reason no_rfc4533" "0 full no_rfc4533" \
    "$RC $(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); print(r["read"], r["read_reason"])' "$T/out")"
expect_no_grep "... and no sync search was sent" "sync search" "$T/err"

finish
