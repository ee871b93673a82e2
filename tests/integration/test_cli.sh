#!/bin/bash
# The command line: exit codes, configuration errors that name file, line
# and key, check-config against a real slapd, and postfix-config output that
# a real Postfix accepts.
. "$(dirname "$0")/../lib.sh"

rs --version
expect_eq "--version exits 0" 0 "$RC"
expect_grep "--version prints the version" '^relaysync [0-9]+\.[0-9]+\.[0-9]+$' "$T/out"
rs --help
expect_eq "--help exits 0" 0 "$RC"
expect_grep "--help lists the commands" 'check-config' "$T/out"
rs frobnicate
expect_eq "an unknown command exits 64" 64 "$RC"
rs sync --bogus
expect_eq "an unknown option exits 64" 64 "$RC"
rs sync --format xml
expect_eq "a bad --format exits 64" 64 "$RC"
rs check-config --dry-run
expect_eq "--dry-run with check-config exits 64" 64 "$RC"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
CFG=$T/rs.yaml
write_config "$CFG"

printf 'ldap:\n  uri: ldaps://x\n  base_dn: dc=x\n  bogus_key: 1\n' >"$T/bad.yaml"
rs --config "$T/bad.yaml" sync
expect_eq "an unknown key exits 78" 78 "$RC"
expect_grep "the error names file, line and key" "$T/bad.yaml:4: ldap.bogus_key: unknown key" "$T/err"
rs --config "$T/missing.yaml" sync
expect_eq "a missing configuration file exits 78" 78 "$RC"

rs --config "$CFG" check-config
expect_eq "check-config against the test slapd exits 0" 0 "$RC"
expect_grep "check-config reports the bind" "ldap: connected to ldap://127.0.0.1:$SLAPD_PORT and bound as $SVC_DN: ok" "$T/out"
expect_grep "check-config prints effective defaults" '^  tls_level: secure$' "$T/out"
expect_no_grep "check-config never prints the bind password" "$SVC_PW" "$T/out"

chmod 644 "$T/etc/bind.password"
rs --config "$CFG" check-config
expect_eq "a world-readable bind password file exits 78" 78 "$RC"
expect_grep "the finding says how to fix the mode" "chmod 600 $T/etc/bind.password" "$T/out"
printf 'wrong-password\n' >"$T/etc/bind.password"
chmod 600 "$T/etc/bind.password"
rs --config "$CFG" sync
expect_eq "a failed bind exits 69" 69 "$RC"
expect_grep "the bind error names the problem" 'Invalid credentials' "$T/err"
write_config "$CFG"

printf 'k1 0101\n' >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
rs --config "$CFG" sync --dry-run
expect_eq "a malformed key file exits 78" 78 "$RC"
rm "$T/etc/secret.key"

mkdir -p "$T/state"
rs --config "$CFG" --quiet sync
expect_eq "sync --quiet exits 0" 0 "$RC"
check "sync --quiet prints nothing" test ! -s "$T/out" -a ! -s "$T/err"

# postfix-config: a real Postfix instance takes the printed settings
RELAY_PORT=$(free_port)
start_postfix
rs --config "$CFG" postfix-config
expect_eq "postfix-config exits 0" 0 "$RC"
cp "$T/out" "$T/postfix-config.txt"
expect_grep "postfix-config names sender_dependent_relayhost_maps" \
    "^sender_dependent_relayhost_maps = lmdb:$MAP_DIR/sender_relay$" "$T/postfix-config.txt"
expect_grep "postfix-config names the relaysync_smtps wrapper-mode service" \
    '^  -o smtp_tls_wrappermode=yes$' "$T/postfix-config.txt"
expect_grep "postfix-config warns about relay_domains" 'relay_domains' "$T/postfix-config.txt"
PF=$T/pf-fresh
mkdir -p "$PF"
cp /etc/postfix/master.cf "$PF/"
printf 'compatibility_level = 3.6\n' >"$PF/main.cf"
grep -E '^[a-z_]+ = ' "$T/postfix-config.txt" | while read -r line; do
	postconf -c "$PF" -e "$line"
done
sed -n '/^relaysync_smtps/,/^$/p' "$T/postfix-config.txt" >>"$PF/master.cf"
expect_eq "the printed main.cf settings are all in effect" \
    "$(grep -E '^[a-z_]+ = ' "$T/postfix-config.txt" | sort)" \
    "$(postconf -c "$PF" -n | grep -E 'sender_dependent|smtp_sasl|smtp_tls' | sort)"
expect_eq "postconf -M sees the relaysync_smtps service" \
    "relaysync_smtps unix - - n - - smtp -o smtp_tls_wrappermode=yes -o smtp_tls_security_level=encrypt" \
    "$(postconf -c "$PF" -M relaysync_smtps/unix | tr -s ' ')"

# encrypt-secret on a terminal: a prompt, and the password is not echoed
printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
/usr/bin/python3 - "$RELAYSYNC" "$CFG" >"$T/tty.out" 2>&1 <<'PY'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--config", sys.argv[2], "encrypt-secret"])
out = b""
deadline = time.time() + 10
while b"Password:" not in out and time.time() < deadline:
    out += os.read(fd, 1024)
os.write(fd, b"tty-pw-SECRET\n")
while True:
    try:
        chunk = os.read(fd, 1024)
    except OSError:
        break
    if not chunk:
        break
    out += chunk
os.waitpid(pid, 0)
sys.stdout.write(out.decode(errors="replace"))
PY
expect_grep "encrypt-secret prompts on a terminal" 'Password:' "$T/tty.out"
expect_grep "encrypt-secret prints the encrypted value" '\{AES256-GCM\}k1:[A-Za-z0-9+/=]+' "$T/tty.out"
expect_no_grep "the typed password is not echoed" 'tty-pw' "$T/tty.out"
rm "$T/etc/secret.key"

# the lock: a second run while one holds it exits 75 at once
exec 9>"$T/state/relaysync.lock"
flock 9
start=$SECONDS
rs --config "$CFG" sync
expect_eq "a run while another holds the lock exits 75" 75 "$RC"
expect_grep "the lock message says another run holds it" 'another relaysync run holds' "$T/err"
check "the locked-out run returned at once" test $((SECONDS - start)) -lt 3
exec 9>&-
rs --config "$CFG" sync
expect_eq "after the lock is released a run succeeds" 0 "$RC"
finish
