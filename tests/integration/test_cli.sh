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

# (the Postfix side of check-config is tested below, on a private instance)
rs --config "$CFG" check-config
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

# postfix-config: postconf commands an admin reviews and runs; built from the
# live restriction lists; check-config names what the live Postfix lacks.
RELAY_PORT=$(free_port)
start_postfix
write_config "$CFG"
postconf -c "$POSTFIX_DIR" -e 'smtpd_sender_restrictions = reject_non_fqdn_sender, permit_mynetworks'
rs --config "$CFG" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config before postfix-config is applied exits 1" 1 "$RC"
for s in relaysync_smtp/unix relaysync_smtps/unix smtpd_sender_login_maps smtpd_sender_restrictions; do
	expect_grep "check-config names the missing $s and the command" \
	    "^postfix: $POSTFIX_DIR .*$s: is missing; run: postconf -c '$POSTFIX_DIR' -[MP] " "$T/out"
done
rs --config "$CFG" postfix-config --service "$SUBMIT_SERVICE"
expect_eq "postfix-config exits 0" 0 "$RC"
cp "$T/out" "$T/postfix-config.txt"
expect_eq "postfix-config prints four postconf commands and nothing for main.cf" \
    "2 -M, 2 -P, 0 -e" \
    "$(printf '%s -M, %s -P, %s -e' "$(grep -c "^postconf -c '$POSTFIX_DIR' -M '" "$T/postfix-config.txt")" \
    "$(grep -c "^postconf -c '$POSTFIX_DIR' -P '" "$T/postfix-config.txt")" \
    "$(grep -c '^postconf .*-e ' "$T/postfix-config.txt")")"
expect_grep "the restriction list keeps what the admin had, after relaysync's checks" \
    "^postconf -c '$POSTFIX_DIR' -P '$SUBMIT_SERVICE/smtpd_sender_restrictions=reject_known_sender_login_mismatch,check_sender_access,lmdb:$MAP_DIR/sender_access,reject_non_fqdn_sender,permit_mynetworks'\$" \
    "$T/postfix-config.txt"
expect_grep "the login map is the submission service's" \
    "^postconf -c '$POSTFIX_DIR' -P '$SUBMIT_SERVICE/smtpd_sender_login_maps=lmdb:$MAP_DIR/sender_login'\$" \
    "$T/postfix-config.txt"
expect_grep "postfix-config explains FILTER and content_filter" 'FILTER replaces.*content_filter' "$T/postfix-config.txt"
grep '^postconf ' "$T/postfix-config.txt" | sh
expect_eq "the printed commands run" 0 "$?"
expect_eq "postconf -M sees relaysync_smtps with its own login and TLS tables" \
    "relaysync_smtps unix - - n - - smtp -o syslog_name=postfix/relaysync_smtps -o smtp_sasl_auth_enable=yes -o smtp_sender_dependent_authentication=yes -o smtp_sasl_password_maps=lmdb:$MAP_DIR/sasl_passwd -o smtp_sasl_security_options=noanonymous -o smtp_sasl_tls_security_options=noanonymous -o smtp_tls_security_level=secure -o smtp_tls_policy_maps=lmdb:$MAP_DIR/tls_policy -o smtp_tls_CAfile=$(ca_file) -o smtp_tls_wrappermode=yes" \
    "$(postconf -c "$POSTFIX_DIR" -Mf relaysync_smtps/unix | tr -s ' \n' ' ' | sed 's/ $//')"
expect_eq "main.cf has no relaysync table (the global smtp client never sees them)" "" \
    "$(postconf -c "$POSTFIX_DIR" -n | grep -F "$MAP_DIR")"
cp "$POSTFIX_DIR/master.cf" "$T/master.cf.once"
rs --config "$CFG" postfix-config --service "$SUBMIT_SERVICE"
grep '^postconf ' "$T/out" | sh
expect_file "applying postfix-config twice changes nothing" "$T/master.cf.once" "$POSTFIX_DIR/master.cf"
rs --config "$CFG" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config after postfix-config is applied exits 0" 0 "$RC"
expect_grep "check-config says the Postfix side is ok" \
    "^postfix: $POSTFIX_DIR holds what relaysync postfix-config prescribes for $SUBMIT_SERVICE: ok\$" "$T/out"
postconf -c "$POSTFIX_DIR" -P "$SUBMIT_SERVICE/smtpd_sender_restrictions=permit_mynetworks"
rs --config "$CFG" check-config --service "$SUBMIT_SERVICE"
expect_eq "a changed restriction list fails check-config" 1 "$RC"
expect_grep "check-config says it differs and how to fix it" \
    "smtpd_sender_restrictions: differs from what relaysync prescribes; run: postconf" "$T/out"
rs --config "$CFG" postfix-config
expect_grep "postfix-config warns when submission/inet is not defined" \
    '^# WARNING: submission/inet is not defined in master.cf' "$T/out"
rs --config "$CFG" postfix-config --service nonsense
expect_eq "--service takes NAME/TYPE" 64 "$RC"

# encrypt-secret on a terminal: a prompt, and the password is not echoed
printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
/usr/bin/python3 - "$RELAYSYNC" "$CFG" >"$T/tty.out" 2>&1 <<'PY'
import os, pty, sys, time
pid, fd = pty.fork()
if pid == 0:
    os.execv(sys.argv[1], [sys.argv[1], "--config", sys.argv[2], "encrypt-secret",
        "alice@partner.example"])
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
