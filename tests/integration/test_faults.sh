#!/bin/bash
# All or nothing under faults. The real binary is killed with SIGKILL at every
# occurrence of every file-system syscall of an apply (strace -e inject, in
# relaysync and in the postmap and postfix it runs), and fed ENOSPC, EIO and
# EXDEV at each occurrence of write, fsync and rename; postmap and the reload
# are made to fail. After each fault the live set must be the previous
# generation or the complete new one, each index agreeing with its text, and
# a following normal run must converge. Also: the delete threshold, --force,
# the empty set, and directory trouble mid-search.
. "$(dirname "$0")/../lib.sh"

BIN=$TOP/build/relaysync
RELAYSYNC=$BIN
TABLES="sender_relay sender_transport sasl_passwd tls_policy"
KILL_SYSCALLS="write close fsync fdatasync pwrite64 rename renameat2 symlink mkdir unlink unlinkat rmdir execve"
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
mkdir -p "$T/state" "$T/maps" "$T/ref"
MAP_DIR=$T/maps/relaysync
write_config "$T/rs.yaml"
MAP_DIR=$T/ref/relaysync write_config "$T/ref.yaml"

# snapshot NAME: the text tables now live in $MAP_DIR, kept as $T/NAME.
snapshot() {
	mkdir -p "$T/$1"
	local t
	for t in $TABLES; do cp "$MAP_DIR/$t" "$T/$1/$t"; done
}

# State A: the installed generation. State B: what the next run installs.
rs --config "$T/rs.yaml" sync
expect_eq "initial sync (state A) exits 0" 0 "$RC"
snapshot A
cp -a "$T/maps" "$T/maps.A"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/ref.yaml" sync
MAP_DIR=$T/ref/relaysync snapshot B
check "states A and B differ" sh -c "! cmp -s $T/A/sasl_passwd $T/B/sasl_passwd"

# A sweep of faults runs in a lane: $L holds its maps directory, its
# configuration (rs.yaml, state_dir $L/state) and its outputs. The main lane
# is $T itself; the conversion sweep runs in a lane of its own beside it.
L=$T

restore() {	# restore SAVED: put a saved maps directory back as the live one
	rm -rf "$L/maps"
	cp -a "$T/$1" "$L/maps"
}

# same_as SET: the live text tables equal snapshot SET, byte for byte.
same_as() {
	local t
	for t in $TABLES; do cmp -s "$MAP_DIR/$t" "$T/$1/$t" || return 1; done
}

# index_agrees: every indexed table holds exactly the lines of its text.
index_agrees() {
	local t
	for t in $TABLES; do
		[ -f "$MAP_DIR/$t.lmdb" ] || return 1
		# files, not <(...): bash 5.2 can hang waiting for a process
		# substitution here (seen once in a few hundred calls)
		postmap -s "lmdb:$MAP_DIR/$t" | tr '\t' ' ' | LC_ALL=C sort >"$L/index.dump"
		LC_ALL=C sort "$MAP_DIR/$t" >"$L/index.text"
		cmp -s "$L/index.dump" "$L/index.text" || return 1
	done
	[ "$(stat -c %a "$MAP_DIR/sasl_passwd")" = 600 ] &&
	    [ "$(stat -c %a "$MAP_DIR/sasl_passwd.lmdb")" = 600 ]
}

# whole: prints A or B when the live set is one of them, complete; else fails.
whole() {
	index_agrees || return 1
	if same_as A; then echo A; elif same_as B; then echo B; else return 1; fi
}

POINTS=0
WHOLE=0
CONVERGED=0
BAD=()

# fault LABEL STRACE_INJECT SAVED: one faulty run from SAVED, then the checks.
fault() {
	local state
	restore "$3"
	# (a subshell: bash's "Killed" notice for strace goes to /dev/null)
	(strace -f --seccomp-bpf -qq -o /dev/null -e trace="${2%%:*}" -e inject="$2" \
	    "$BIN" --config "$L/rs.yaml" --quiet sync >"$L/fault.out" 2>&1; exit $?) 2>/dev/null
	local rc=$?
	POINTS=$((POINTS + 1))
	if state=$(whole); then
		if [ "$state" = A ] && [ "$rc" -eq 0 ]; then
			BAD+=("$1: exit 0 but the old set is live")
		else
			WHOLE=$((WHOLE + 1))
		fi
	else
		BAD+=("$1: live set is not whole (exit $rc)")
	fi
	"$BIN" --config "$L/rs.yaml" --quiet sync >>"$L/fault.out" 2>&1 &&
	    same_as B && index_agrees && CONVERGED=$((CONVERGED + 1)) ||
	    BAD+=("$1: the following run did not converge")
	cat "$L/fault.out" >>"$L/all-output.log"
}

# count_calls SAVED: the most times any one process makes each syscall.
count_calls() {
	restore "$1"
	strace -f --seccomp-bpf -qq -o "$L/count.log" -e trace="$(echo $KILL_SYSCALLS | tr ' ' ,)" \
	    "$BIN" --config "$L/rs.yaml" --quiet sync >/dev/null 2>&1
	awk '{ sub(/\(.*/, "", $2); n[$1 " " $2]++ }
	    END { for (k in n) { split(k, a, " "); if (n[k] > m[a[2]]) m[a[2]] = n[k] }
	          for (s in m) print s, m[s] }' "$L/count.log" | grep -v -e '---' -e '<\.\.\.'
}

kill_everywhere() {	# kill_everywhere SAVED LABEL
	local sc n max
	count_calls "$1" >"$L/counts"
	while read -r sc max; do
		for n in $(seq 1 "$max"); do
			fault "$2 kill at $sc #$n" "$sc:signal=KILL:when=$n" "$1"
		done
	done <"$L/counts"
}

# 2. SIGKILL at every point of the first-run conversion of a plain map_dir,
# in a lane of its own (started first, it runs beside 1: two CPUs).
rm -rf "$T/maps.plain"
mkdir -p "$T/maps.plain/relaysync"
cp -a "$T/maps.A/relaysync/." "$T/maps.plain/relaysync/"
(
	L=$T/conversion
	MAP_DIR=$L/maps/relaysync
	mkdir -p "$L"
	cp -a "$T/state" "$L/state"
	STATE_DIR=$L/state write_config "$L/rs.yaml"
	kill_everywhere maps.plain "conversion:"
	echo "$POINTS $WHOLE $CONVERGED" >"$L/result"
	[ ${#BAD[@]} -eq 0 ] || printf '%s\n' "${BAD[@]}" >"$L/bad"
) &
conversion=$!

# 1. SIGKILL at every point of a normal apply (link to link).
kill_everywhere maps.A "generation switch:"
kill_points_switch=$POINTS

wait "$conversion"
read -r p w c <"$T/conversion/result" || p=-1	# (-1: the lane failed)
POINTS=$((POINTS + p)) WHOLE=$((WHOLE + ${w:-0})) CONVERGED=$((CONVERGED + ${c:-0}))
[ -s "$T/conversion/bad" ] && mapfile -t -O "${#BAD[@]}" BAD <"$T/conversion/bad"
cat "$T/conversion/all-output.log" >>"$T/all-output.log" 2>/dev/null
kill_points=$POINTS

# 3. Errors from the system: a full disk, I/O errors, a cross-device rename.
for spec in "write:error=ENOSPC" "pwrite64:error=ENOSPC" "fsync:error=EIO" \
    "fdatasync:error=EIO" "mkdir:error=ENOSPC" "symlink:error=ENOSPC" \
    "rename:error=EXDEV" "renameat2:error=EXDEV"; do
	sc=${spec%%:*}
	max=$(awk -v s="$sc" '$1 == s { print $2 }' "$L/counts")
	for n in $(seq 1 "${max:-0}"); do
		fault "$spec #$n" "$spec:when=$n" maps.A
	done
done

echo "fault points tried: $POINTS ($kill_points_switch SIGKILLs during a generation switch, $((kill_points - kill_points_switch)) during a first-run conversion, $((POINTS - kill_points)) injected syscall errors); whole states: $WHOLE; converged: $CONVERGED"
check "at least 100 SIGKILL points were tried" test "$kill_points" -ge 100
expect_eq "every fault left a whole state (previous or new set)" "$POINTS" "$WHOLE"
expect_eq "every following run converged to the new set" "$POINTS" "$CONVERGED"
[ ${#BAD[@]} -eq 0 ] || printf '    %s\n' "${BAD[@]}" | head -20

# 4. postmap fails: exit 73, the old set stays, postmap's words are shown.
# (relaysync runs Postfix's programs from postfix.command_directory, never
# through PATH: the fake ones are in a directory of their own.)
mkdir -p "$T/fakebin"
printf '#!/bin/sh\necho "postmap: fatal: simulated failure" >&2\nexit 1\n' >"$T/fakebin/postmap"
chmod +x "$T/fakebin/postmap"
ln -s /usr/sbin/postfix "$T/fakebin/postfix"
COMMAND_DIR=$T/fakebin write_config "$T/fake.yaml"
restore maps.A
rs --config "$T/fake.yaml" --verbose sync
expect_eq "a failing postmap makes sync exit 73" 73 "$RC"
expect_grep "the error carries postmap's message" 'postmap -c .* failed .*simulated failure' "$T/err"
expect_eq "the old set stays live after postmap failed" A "$(whole)"
check "no half-built generation is left behind" \
    test "$(ls "$T/maps/relaysync.generations")" = "$(ls "$T/maps.A/relaysync.generations")"
expect_grep "the snapshot was being written beside apply" "snapshot: written beside apply" "$T/err"
check "... and is not kept: the generation it names never went live" \
    test ! -e "$T/state/snapshot-next"
expect_no_grep "... nor replaced the snapshot" "snapshot: snapshot kept" "$T/err"

# 5. The reload fails after the switch: exit 1, the new set is complete.
rm "$T/fakebin/postfix"
printf '#!/bin/sh\n[ "$3" = status ] && exit 0\necho "postfix: fatal: simulated reload failure" >&2\nexit 1\n' \
    >"$T/fakebin/postfix"
chmod +x "$T/fakebin/postfix"
rm "$T/fakebin/postmap"
ln -s /usr/sbin/postmap "$T/fakebin/postmap"
restore maps.A
rs --config "$T/fake.yaml" sync
expect_eq "a failing reload makes sync exit 1" 1 "$RC"
expect_grep "the error says the tables are installed" 'new tables are installed but postfix .* reload failed' "$T/err"
expect_eq "the complete new set is live after the failed reload" B "$(whole)"
rm "$T/fakebin/postfix"

# 6. A damaged installed index with unchanged text is found and rebuilt.
restore maps.A
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
cp "$MAP_DIR/sender_relay" "$T/saved_relay"
: >"$T/empty"
postmap -c /etc/postfix "lmdb:$T/empty"
cp "$T/empty.lmdb" "$(readlink -f "$MAP_DIR")/sender_relay.lmdb"
rs --config "$T/rs.yaml" sync --dry-run
expect_eq "a damaged index is a pending change (dry run exits 2)" 2 "$RC"
rs --config "$T/rs.yaml" sync
expect_eq "the next sync rebuilds it" 0 "$RC"
expect_eq "after the rebuild the live set is whole" A "$(whole)"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE

# 7. The delete threshold, --force, and the empty set: they count only
#    routes whose entries vanished; revocations always apply.
restore maps.A
MAX_REMOVALS=1 write_config "$T/max1.yaml"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
ldap_delete() {
	ldapdelete -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" "$@"
}
ldap_delete "relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN" \
    "relaysyncSendAsAddress=frank@smtps.example,uid=frank,ou=sales,ou=people,$BASE_DN"
rs --config "$T/max1.yaml" sync --dry-run
expect_eq "a dry run over the threshold exits 75" 75 "$RC"
rs --config "$T/max1.yaml" sync
expect_eq "2 vanished entries with max_removals 1 are refused with 75" 75 "$RC"
expect_grep "the refusal names the count and --force" \
    'refusing to remove 2 routes whose entries vanished from the directory .*max_removals = 1.*--force' "$T/err"
expect_eq "the refused run changed nothing" A "$(whole)"
rs --config "$T/max1.yaml" sync --force
expect_eq "--force applies it" 0 "$RC"
expect_eq "after --force only erin's route is left" "erin@nologin.example [mx.nologin.example]:25" \
    "$(cat "$MAP_DIR/sender_relay")"
set_allow "uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN" FALSE
rs --config "$T/max1.yaml" sync
expect_eq "a revocation that empties the set applies without --force" 0 "$RC"
check "the live sender_relay is now empty" test ! -s "$MAP_DIR/sender_relay"
set_allow "uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/rs.yaml" sync
expect_eq "erin's route is back" "erin@nologin.example [mx.nologin.example]:25" "$(cat "$MAP_DIR/sender_relay")"
ldap_delete "relaysyncSendAsAddress=erin@nologin.example,uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN"
before=$(tree_sum "$T/maps")
rs --config "$T/rs.yaml" sync
expect_eq "emptying a non-empty set through vanished entries is refused with 75" 75 "$RC"
expect_grep "the refusal says the set would be empty" 'refusing to remove all 1 routes' "$T/err"
expect_eq "the refused run left every file alone" "$before" "$(tree_sum "$T/maps")"
rs --config "$T/rs.yaml" sync --force
expect_eq "--force empties it" 0 "$RC"
check "the live sender_relay is empty" test ! -s "$MAP_DIR/sender_relay"
rs --config "$T/rs.yaml" sync
expect_eq "an empty set staying empty is not refused" 0 "$RC"

# 8. Directory trouble mid-search: slapd killed between pages of a large
#    search, and a server that stops answering (timeout).
/usr/bin/python3 - "$BASE_DN" >"$T/big.ldif" <<'PY'
import sys
base = sys.argv[1]
print(f"dn: ou=big,ou=people,{base}\nobjectClass: organizationalUnit\nou: big\n")
for i in range(2000):
    u = f"uid=u{i},ou=big,ou=people,{base}"
    print(f"dn: {u}\nobjectClass: inetOrgPerson\nuid: u{i}\ncn: u{i}\nsn: u\n")
    print(f"dn: relaysyncSendAsAddress=u{i}@big.example,{u}\nobjectClass: relaysyncSendAs\n"
          f"relaysyncSendAsAddress: u{i}@big.example\nrelaysyncSmtpHost: smtp.big.example\n")
PY
ldap_load "$T/big.ldif" || exit 1
restore maps.A
before=$(tree_sum "$T/maps")
PAGE_SIZE=10 write_config "$T/paged.yaml"
strace -f -qq -o /dev/null -e trace=write -e inject=write:delay_enter=20000 \
    "$BIN" --config "$T/paged.yaml" --verbose sync --force --full >"$T/out" 2>"$T/err" &
rs_pid=$!
for i in $(seq 1 100); do
	grep -q 'filter=(objectClass=inetOrgPerson): page' "$T/err" && break
	sleep 0.1
done
kill -9 "$SLAPD_PID"
wait "$rs_pid"
RC=$?
cat "$T/out" "$T/err" >>"$T/all-output.log"
expect_grep "the run had read pages of the user search" 'objectClass=inetOrgPerson\): page [0-9]+' "$T/err"
expect_eq "slapd killed between pages: exit 69" 69 "$RC"
expect_eq "slapd killed between pages: tables untouched" "$before" "$(tree_sum "$T/maps")"
run_slapd
kill -STOP "$SLAPD_PID"
sed -i 's/^  timeout: 5$/  timeout: 1/' "$T/rs.yaml"
start=$SECONDS
rs --config "$T/rs.yaml" sync --force
kill -CONT "$SLAPD_PID"
expect_eq "a server that stops answering: exit 69" 69 "$RC"
check "the timeout came after about ldap.timeout, not later" test $((SECONDS - start)) -le 5
expect_eq "a server that stops answering: tables untouched" "$before" "$(tree_sum "$T/maps")"

# A referral below the base: relaysync never follows one, and an answer that
# points elsewhere is an incomplete search.
ldapadd -M -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" >/dev/null 2>&1 <<EOF
dn: ou=elsewhere,ou=people,$BASE_DN
objectClass: referral
objectClass: extensibleObject
ou: elsewhere
ref: ldap://ldap.elsewhere.example/ou=elsewhere,$BASE_DN
EOF
expect_eq "a referral entry was added" 0 "$?"
rs --config "$T/rs.yaml" sync --force
expect_eq "a search answered with a referral exits 69" 69 "$RC"
expect_grep "the error says referral" '[Rr]eferral' "$T/err"
expect_eq "the referral left the tables untouched" "$before" "$(tree_sum "$T/maps")"
expect_no_grep "no fixture password in any output" 'SECRET' "$T/all-output.log"
finish
