#!/bin/bash
# Operating it safely as root: a sync in cron's environment (env -i
# PATH=/usr/bin:/bin, no /usr/sbin) that changes the tables exits 0 and runs
# no program found through PATH; a symbolic link planted by nobody in a
# world-writable directory, a group-writable parent, a directory owned by
# another user and a planted lock-file link are refused, naming the path
# and the fix, and nothing behind them is touched; no fixture password is
# left anywhere under state_dir or in any file relaysync writes but
# sasl_passwd and its index; a rotated password is gone from disk at the
# next applied change.
. "$(dirname "$0")/../lib.sh"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
start_postfix
write_config "$T/rs.yaml"

# --- cron's environment; a PATH that would run someone else's postmap ---
mkdir -p "$T/evil"
printf '#!/bin/sh\ntouch %s/evil/ran\nexit 0\n' "$T" >"$T/evil/postmap"
cp "$T/evil/postmap" "$T/evil/postfix"
chmod 755 "$T/evil/postmap" "$T/evil/postfix"
env -i PATH=/usr/bin:/bin "$RELAYSYNC" --config "$T/rs.yaml" --quiet sync >"$T/out" 2>"$T/err"
expect_eq "a sync that changes the tables exits 0 in cron's environment (env -i PATH=/usr/bin:/bin)" 0 "$?"
cat "$T/out" "$T/err" >>"$T/all-output.log"
check "and installed them (sender_relay.lmdb made by the real postmap)" test -s "$MAP_DIR/sender_relay.lmdb"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
env -i PATH="$T/evil:/usr/bin:/bin" "$RELAYSYNC" --config "$T/rs.yaml" --quiet sync >"$T/out" 2>"$T/err"
expect_eq "with a PATH that leads to other programs, the sync exits 0" 0 "$?"
check "and ran none of them" test ! -e "$T/evil/ran"
COMMAND_DIR=/nonexistent write_config "$T/nocmd.yaml"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
rs --config "$T/nocmd.yaml" sync
expect_eq "a wrong postfix.command_directory makes a changing sync exit 73" 73 "$RC"
expect_grep "naming the program it tried" '/nonexistent/postmap -c .* failed' "$T/err"
rs --config "$T/rs.yaml" sync
expect_eq "the right one applies it" 0 "$RC"

# --- a world-writable directory and a link planted by nobody ---
PUB=$T/public
mkdir -p "$PUB" "$T/victim"
chmod 1777 "$PUB"
echo precious >"$T/victim/keep"
setpriv --reuid=nobody --regid=nogroup --clear-groups ln -s "$T/victim" "$PUB/maps.generations"
before=$(tree_sum "$T/victim")
MAP_DIR=$PUB/maps write_config "$T/pub.yaml"
rs --config "$T/pub.yaml" sync
expect_eq "map_dir in a world-writable (1777) directory is refused with 73" 73 "$RC"
expect_grep "the error names the directory and the fix" \
    "refusing to write below $PUB: it is writable by everyone \(mode 1777\).*fix: chmod go-w $PUB" "$T/err"
expect_eq "nothing behind the planted link was touched" "$before" "$(tree_sum "$T/victim")"
check "and nothing was created in the public directory" test ! -e "$PUB/maps" -a ! -e "$PUB/maps.new"

# --- a group-writable parent, further up ---
mkdir -p "$T/grp/sub"
chmod 775 "$T/grp"
MAP_DIR=$T/grp/sub/maps write_config "$T/grp.yaml"
rs --config "$T/grp.yaml" sync
expect_eq "a group-writable directory above map_dir is refused with 73" 73 "$RC"
expect_grep "naming it and the fix" "refusing to write below $T/grp: it is writable by its group \(mode 0775\).*chmod go-w $T/grp" "$T/err"
check "nothing was written below it" test -z "$(ls -A "$T/grp/sub")"

# --- a generations directory that is a link, in a safe directory ---
mkdir -p "$T/safe"
ln -s "$T/victim" "$T/safe/maps.generations"
MAP_DIR=$T/safe/maps write_config "$T/safe.yaml"
rs --config "$T/safe.yaml" sync
expect_eq "a generations directory that is a symbolic link is refused" 73 "$RC"
expect_grep "saying it is a link" "refusing to write below $T/safe/maps.generations: it is a symbolic link" "$T/err"
expect_eq "nothing behind it was touched" "$before" "$(tree_sum "$T/victim")"

# --- state_dir owned by another user; a lock file that is a link ---
mkdir -p "$T/nobodys"
chown nobody "$T/nobodys"
sed "s|^state_dir: .*|state_dir: $T/nobodys/state|" "$T/rs.yaml" >"$T/st.yaml"
rs --config "$T/st.yaml" sync
expect_eq "a state_dir below a directory owned by another user is refused" 73 "$RC"
expect_grep "naming the owner and the fix" "refusing to write below $T/nobodys: it is owned by uid [0-9]+.*chown root $T/nobodys" "$T/err"
check "nothing was created there" test -z "$(ls -A "$T/nobodys")"
rm "$T/state/relaysync.lock"
ln -s "$T/victim/keep" "$T/state/relaysync.lock"
rs --config "$T/rs.yaml" sync
expect_eq "a lock file that is a symbolic link is refused" 73 "$RC"
expect_grep "saying so" 'cannot create the lock file .*relaysync.lock.*symbolic link' "$T/err"
expect_eq "the file behind it is untouched" precious "$(cat "$T/victim/keep")"
rm "$T/state/relaysync.lock"

# --- secrets at rest ---
# A password is rotated, then a route revoked: the old password stays only
# in the rollback generation's sasl_passwd (0600; a rollback restores it
# whole), and is gone from disk at the next applied change.
ldap_modify <<EOF
dn: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: alice-rotated-SECRET
EOF
rs --config "$T/rs.yaml" sync
expect_eq "a sync after a password rotation exits 0" 0 "$RC"
old=$(grep -rlaF alice-gw-SECRET-1 "$T/postfix" | sed "s|$T/postfix/||" | sort | tr '\n' ' ')
check "the old password is left only in the rollback generation's sasl_passwd and index ($old)" \
    sh -c "echo '$old' | grep -qE '^relaysync.generations/[0-9]+/sasl_passwd relaysync.generations/[0-9]+/sasl_passwd.lmdb \$'"
expect_eq "which is 0600" 600 "$(stat -c %a "$T/postfix/$(echo "$old" | cut -d' ' -f1)")"
ldap_modify <<EOF
dn: uid=frank,ou=sales,ou=people,$BASE_DN
changetype: modify
add: objectClass
objectClass: relaysyncPolicy
-
add: relaysyncAllowUserGateways
relaysyncAllowUserGateways: FALSE
EOF
rs --config "$T/rs.yaml" sync
expect_eq "a sync that revokes frank's route exits 0" 0 "$RC"
expect_eq "at the next applied change the rotated password is gone from disk" "" \
    "$(grep -rlaF alice-gw-SECRET-1 "$T/postfix" "$T/state")"

# Every fixture password the directory holds in clear, anywhere relaysync
# wrote: state_dir, and the table directories except sasl_passwd(.lmdb).
pws=$(sed -n 's/^relaysyncSmtpPassword: \(.*\)/\1/p' "$TOP/tests/fixtures/directory.ldif" | sort -u)
pws="$pws alice-rotated-SECRET $SVC_PW"
check "the snapshot was written (the run is incremental next time)" test -s "$T/state/snapshot"
found=
for pw in $pws; do
	found="$found$(grep -rlaF -- "$pw" "$T/state" "$T/postfix" 2>/dev/null |
	    grep -vE '/sasl_passwd(\.lmdb)?$|/maillog$')"
done
expect_eq "no fixture password under state_dir or in any file relaysync wrote but sasl_passwd and its index" "" "$found"
check "the snapshot holds the clear-text passwords as envelopes" grep -qa '{AES256-GCM}' "$T/state/snapshot"
rs --config "$T/rs.yaml" --verbose sync --dry-run
expect_eq "an incremental run from that snapshot renders the same tables" 0 "$RC"
expect_grep "(it was incremental: the sealed passwords opened)" 'incremental read: 0 changed' "$T/err"

finish
