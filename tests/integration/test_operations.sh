#!/bin/bash
# Operating relaysync: explain (text and JSON, by address and by DN), the
# Prometheus metrics file, the webhook (on change and on failure, never
# failing the sync), and syslog lines (facility mail, ident relaysync).
. "$(dirname "$0")/../lib.sh"

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
HOOK_PORT=$(free_port)
/usr/bin/python3 "$TOP/tests/tools/webhook.py" "$HOOK_PORT" "$T/hook.log" >/dev/null 2>&1 &
PIDS+=("$!")
wait_port "$HOOK_PORT"
MAP_DIR=$T/postfix/relaysync
write_config "$T/rs.yaml" "metrics_file: $T/metrics/relaysync.prom
notify:
  webhook_url: http://127.0.0.1:$HOOK_PORT/relaysync"
mkdir -p "$T/state" "$T/metrics"

# --- explain ---
rs --config "$T/rs.yaml" explain bob@partner.example
expect_eq "explain of a known address exits 0" 0 "$RC"
expect_grep "explain shows the deciding OU" '^  FALSE  ou=interns,ou=sales,ou=people,dc=example,dc=com   <- decides$' "$T/out"
expect_grep "explain says how it was decided" '^per-user gateways: forbidden, inherited from ou=interns' "$T/out"
expect_grep "explain gives the reason and a sentence with the fix" \
    'bob@partner.example is not routed because per-user gateways are forbidden .*relaysyncAllowUserGateways: TRUE' "$T/out"
rs --config "$T/rs.yaml" explain uid=erin,ou=interns,ou=sales,ou=people,$BASE_DN
expect_grep "explain of a user DN: the user's own value decides" '^per-user gateways: allowed, by the user.s own value$' "$T/out"
expect_grep "explain shows the route lines" '^      sender_relay +erin@nologin.example \[mx.nologin.example\]:25$' "$T/out"
rs --config "$T/rs.yaml" explain alice@partner.example
expect_grep "explain masks the password" '^      sasl_passwd +alice@partner.example alice@partner.example:\*\*\*\*\*\*\*\*$' "$T/out"
expect_grep "explain of an internal address gives the sentence" \
    'alice@example.com is in an internal domain \(policy.internal_domains\); internal addresses always leave through the default relay' "$T/out"
rs --config "$T/rs.yaml" explain "relaysyncSendAsAddress=carol@nogw.example,uid=carol,ou=it,ou=people,$BASE_DN"
expect_grep "explain of a send-as DN shows that entry" 'verdict: no_gateway' "$T/out"
check "and only that entry" sh -c "! grep -q insecure $T/out"
rs --config "$T/rs.yaml" explain --format json gina@partner.example
expect_eq "explain JSON: the default decided gina's permission" "default False policy_forbidden" \
    "$(/usr/bin/python3 -c 'import json,sys; m=json.load(open(sys.argv[1]))["matches"][0]; print(m["decision"], m["allowed"], m["sendas"][0]["verdict"])' "$T/out")"
rs --config "$T/rs.yaml" explain nobody@nowhere.example
expect_eq "explain of an unknown address exits 1" 1 "$RC"
expect_grep "and says so" 'nobody@nowhere.example: no user, send-as entry or address' "$T/err"
expect_no_grep "explain never prints a password" 'SECRET' "$T/all-output.log"

# --- syslog (when no syslog daemon owns /dev/log, the test listens there) ---
SYSLOG_OWN=0
if [ ! -e /dev/log ]; then
	/usr/bin/python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind("/dev/log")
print("ready", flush=True)
with open(sys.argv[1], "ab") as f:
    while True:
        f.write(s.recv(65536) + b"\n")
        f.flush()' "$T/syslog" >/dev/null 2>&1 &
	PIDS+=("$!")
	CLEANUP_FILES+=(/dev/log)
	SYSLOG_OWN=1
	for i in $(seq 1 50); do [ -S /dev/log ] && break; sleep 0.1; done
fi

# --- a sync that applies changes: metrics, webhook, log lines ---
rs --config "$T/rs.yaml" sync
expect_eq "sync exits 0" 0 "$RC"
M=$T/metrics/relaysync.prom
expect_grep "metrics: last run succeeded" '^relaysync_last_run_success 1$' "$M"
expect_grep "metrics: routes by kind" '^relaysync_routes\{kind="relay"\} 2$' "$M"
expect_grep "metrics: implicit-TLS routes" '^relaysync_routes\{kind="transport"\} 1$' "$M"
expect_grep "metrics: rejected by reason" '^relaysync_rejected\{reason="conflict"\} 2$' "$M"
expect_grep "metrics: changes applied" '^relaysync_changes_applied\{kind="added"\} 3$' "$M"
expect_grep "metrics: a timestamp" '^relaysync_last_run_timestamp_seconds [0-9]{10}$' "$M"
expect_grep "metrics: the first run read everything" '^relaysync_last_run_incremental 0$' "$M"
expect_grep "metrics: HELP and TYPE lines" '^# TYPE relaysync_routes gauge$' "$M"
check "metrics file is world-readable for node_exporter" test "$(stat -c %a "$M")" = 644
check "no temporary metrics file is left" test ! -e "$M.tmp"
for i in $(seq 1 50); do [ -s "$T/hook.log" ] && break; sleep 0.1; done
expect_eq "the webhook got one POST" 1 "$(grep -c . "$T/hook.log")"
expect_grep "the webhook body is the JSON report" '^application/json \{"dry_run":false,.*"added":\[\{"address":"alice@partner.example"' "$T/hook.log"
expect_no_grep "the webhook body holds no password" 'SECRET' "$T/hook.log"
if [ "$SYSLOG_OWN" = 1 ]; then
	for i in $(seq 1 50); do grep -q 'sync applied' "$T/syslog" 2>/dev/null && break; sleep 0.1; done
	expect_grep "syslog: one line per added route, facility mail (<22> = mail.info)" \
	    '^<22>.*relaysync\[[0-9]+\]: info: added route alice@partner.example via \[localhost\]:2525 starttls for uid=alice' "$T/syslog"
	expect_grep "syslog: one summary line" 'relaysync\[[0-9]+\]: info: sync applied: 3 added, 0 changed, 0 removed, 7 rejected; 3 routes' "$T/syslog"
	expect_no_grep "syslog: no password" 'SECRET' "$T/syslog"
	cat "$T/syslog" >>"$T/all-output.log"
else
	echo "SKIP: /dev/log belongs to this machine's syslog; syslog lines not checked here"
fi

# --- a no-op run: no webhook; a failed run: webhook with the error ---
rs --config "$T/rs.yaml" sync
expect_eq "a second sync (no change) exits 0" 0 "$RC"
expect_eq "no webhook for a run that changed nothing" 1 "$(grep -c . "$T/hook.log")"
expect_grep "metrics of the no-op run: nothing applied" '^relaysync_changes_applied\{kind="added"\} 0$' "$M"
stop_slapd
rs --config "$T/rs.yaml" sync
expect_eq "sync with LDAP down exits 69" 69 "$RC"
expect_grep "metrics: the failed run" '^relaysync_last_run_success 0$' "$M"
expect_grep "metrics: its exit code" '^relaysync_last_run_exit_code 69$' "$M"
for i in $(seq 1 50); do [ "$(grep -c . "$T/hook.log")" = 2 ] && break; sleep 0.1; done
expect_grep "the failure is posted with its error and exit code" '"error":"ldap ldap://127.0.0.1:[0-9]+: [0-9.]+ port [0-9]+ refuses the connection.*"exit_code":69' "$T/hook.log"

# --- a webhook that fails never fails the sync ---
run_slapd
write_config "$T/bad-hook.yaml" "notify:
  webhook_url: http://hook-user:hook-pw-SECRET@127.0.0.1:$(free_port)/nothing-listens?token=hook-token-SECRET"
set_allow "ou=interns,ou=sales,ou=people,$BASE_DN" TRUE
rs --config "$T/bad-hook.yaml" sync
expect_eq "a sync whose webhook is down still exits 0" 0 "$RC"
expect_grep "the webhook failure is logged as a warning, without user, password or query" \
    'warning: notify.webhook_url http://\*\*\*@127.0.0.1:[0-9]+/nothing-listens\?\*\*\*: .*the sync itself is not affected' "$T/err"
rs --config "$T/bad-hook.yaml" check-config
expect_grep "check-config shows the webhook URL without its secrets" \
    '^  webhook_url: http://\*\*\*@127.0.0.1:[0-9]+/nothing-listens\?\*\*\*$' "$T/out"
expect_grep "the change was applied" '^bob@partner.example ' "$MAP_DIR/sender_relay"
finish
