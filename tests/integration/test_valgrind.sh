#!/bin/bash
# The optimised binary under valgrind (memcheck) for real runs against slapd:
# no invalid access, no use of uninitialised memory, no definite leak.
. "$(dirname "$0")/../lib.sh"

VG="valgrind --quiet --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite --track-origins=yes"
RELAYSYNC="$VG $TOP/build/relaysync"

make_ca
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
write_config "$T/rs.yaml"
mkdir -p "$T/state"
printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"

rs --config "$T/rs.yaml" sync --dry-run --format json
expect_eq "dry run under valgrind: exit 2, no memory error" 2 "$RC"
rs --config "$T/rs.yaml" sync
expect_eq "sync under valgrind: exit 0, no memory error" 0 "$RC"
rs --config "$T/rs.yaml" --verbose sync
expect_eq "no-op sync under valgrind: exit 0, no memory error" 0 "$RC"
expect_grep "... an incremental one" "incremental read" "$T/err"
set_allow "ou=people,$BASE_DN" FALSE
rs --config "$T/rs.yaml" sync --force
expect_eq "incremental sync removing routes under valgrind: exit 0, no memory error" 0 "$RC"

# watch: start from the snapshot, apply a change, stop on SIGTERM
$RELAYSYNC --config "$T/rs.yaml" --verbose watch >"$T/watch.out" 2>"$T/watch.err" &
WATCH=$!
PIDS+=("$WATCH")
for i in $(seq 1 100); do grep -q 'watch: 0 changed' "$T/watch.err" && break; sleep 0.1; done
set_allow "ou=people,$BASE_DN" TRUE
for i in $(seq 1 100); do
	[ -n "$(postmap -q alice@partner.example "lmdb:$T/postfix/relaysync/sender_relay" 2>/dev/null)" ] && break
	sleep 0.1
done
check "watch under valgrind applied the change" \
    test -n "$(postmap -q alice@partner.example "lmdb:$T/postfix/relaysync/sender_relay")"
kill -TERM "$WATCH"
wait "$WATCH"
expect_eq "watch under valgrind: SIGTERM, exit 0, no memory error" 0 "$?"
cat "$T/watch.out" "$T/watch.err" >>"$T/all-output.log"
printf 'ldap:\n  uri: ldaps://x\n  bogus: 1\n' >"$T/bad.yaml"
rs --config "$T/bad.yaml" sync
expect_eq "configuration error under valgrind: exit 78, no memory error" 78 "$RC"
rs --config "$T/rs.yaml" encrypt-secret alice@partner.example <<<"pw-SECRET"
expect_eq "encrypt-secret under valgrind: exit 0, no memory error" 0 "$RC"
stop_slapd
rs --config "$T/rs.yaml" sync
expect_eq "LDAP down under valgrind: exit 69, no memory error" 69 "$RC"
grep -h '^==' "$T/all-output.log" | head -20
finish
