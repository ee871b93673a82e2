#!/bin/bash
# An administrator's first day: every usual mistake answered with its real
# cause and the setting that fixes it (exact messages), a key file that
# cannot decrypt the directory's passwords refused before anything is
# planned, what a dry run has pending, sync --diff with passwords masked,
# status, rollback with its hold, and resume.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert ldap ldap.test 127.0.0.1
RELAY_PORT=$(free_port)
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
enable_slapd_tls || exit 1
start_postfix
CFG=$T/rs.yaml
write_config "$CFG"
mkdir -p "$T/state"
SYSCA=/etc/ssl/certs/ca-certificates.crt
U=ldap://127.0.0.1:$SLAPD_PORT

# message DESCRIPTION EXPECTED_RC EXPECTED_TEXT: the last run's exit code
# and its error, which must contain the text exactly.
message() {
	expect_eq "$1: exit $2" "$2" "$RC"
	if grep -qF -- "$3" "$T/err"; then ok "$1: the message"; else
		not_ok "$1: the message" "expected: $3" "actual:   $(cat "$T/err")"
	fi
}

# line_of FILE KEY: the line of a top-level or ldap key in a test config.
line_of() { grep -n "^ *$2:" "$1" | head -1 | cut -d: -f1; }

# --- the command line ---
rs rollbak
expect_eq "an unknown command exits 64" 64 "$RC"
expect_grep "an unknown command is named and the commands are listed" \
    "^relaysync: unknown command 'rollbak'; the commands are: sync, verify, explain, watch, check-config, postfix-config, encrypt-secret, status, rollback, resume$" "$T/err"
rs sync --diff --format json
expect_eq "--diff with --format json is a usage error" 64 "$RC"

# --- connection failures, each with its cause ---
closed=$(free_port)
LDAP_URI=ldap://127.0.0.1:$closed LDAP_STARTTLS=true LDAP_PLAIN=false write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "LDAP down with StartTLS" 69 "ldap ldap://127.0.0.1:$closed: 127.0.0.1 port $closed refuses the connection: no LDAP server listens there; check the host and port in ldap.uri and that the server is running"
expect_no_grep "LDAP down is not blamed on TLS" 'ca_file|certificate' "$T/err"

LDAP_URI=ldaps://ldap.nonexistent.invalid LDAP_PLAIN=false write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "an unknown host" 69 "ldap ldaps://ldap.nonexistent.invalid: the host name ldap.nonexistent.invalid is not found ("
expect_grep "an unknown host names ldap.uri" 'check the host in ldap.uri$' "$T/err"

silent=$(free_port)
/usr/bin/python3 "$TOP/tests/tools/silent.py" "$silent" >/dev/null &
PIDS+=("$!")
wait_port "$silent"
LDAP_URI=ldap://127.0.0.1:$silent write_config "$T/c.yaml"
sed -i 's/^  timeout: 5$/  timeout: 1/' "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "a server that never answers" 69 "ldap ldap://127.0.0.1:$silent: 127.0.0.1 port $silent accepted the connection but did not answer a bind request within 1 s (ldap.timeout)"

LDAP_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT LDAP_PLAIN=false LDAP_CA=$SYSCA write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "ldaps with a CA that did not issue the certificate" 69 "ldap ldaps://127.0.0.1:$SLAPD_LDAPS_PORT: TLS: the server's certificate is not trusted: subject \"CN=ldap.test\", issued by \"CN=relaysync test CA\", which is not a CA in ldap.ca_file $SYSCA; set ldap.ca_file to a file holding the certificate of \"CN=relaysync test CA\""
LDAP_URI=$U LDAP_STARTTLS=true LDAP_PLAIN=false LDAP_CA=$SYSCA write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "StartTLS with a CA that did not issue the certificate" 69 "ldap $U: TLS: the server's certificate is not trusted: subject \"CN=ldap.test\", issued by \"CN=relaysync test CA\""
LDAP_URI=ldaps://localhost:$SLAPD_LDAPS_PORT LDAP_PLAIN=false LDAP_CA=$CA/ca.crt write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "a host name the certificate does not carry" 69 "ldap ldaps://localhost:$SLAPD_LDAPS_PORT: TLS: the server's certificate (/CN=ldap.test) does not name $(hostname), this machine's name, which libldap checks for localhost; it names DNS:ldap.test, IP:127.0.0.1; use one of those names in ldap.uri, or give the server a certificate for $(hostname)"

# an expired certificate: slapd restarted with one
openssl req -newkey rsa:2048 -nodes -subj "/CN=ldap.test" -keyout "$CA/old.key" \
    -out "$CA/old.csr" 2>/dev/null
printf 'subjectAltName=DNS:ldap.test,IP:127.0.0.1\n' >"$CA/old.ext"
openssl x509 -req -in "$CA/old.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" -CAcreateserial \
    -days -1 -extfile "$CA/old.ext" -out "$CA/old.crt" 2>/dev/null
chmod 644 "$CA/old.key"
cp "$CA/old.crt" "$CA/ldap.crt"
cp "$CA/old.key" "$CA/ldap.key"
stop_slapd
run_slapd && wait_port "$SLAPD_LDAPS_PORT"
LDAP_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT LDAP_PLAIN=false LDAP_CA=$CA/ca.crt write_config "$T/c.yaml"
rs --config "$T/c.yaml" sync
message "an expired certificate" 69 "ldap ldaps://127.0.0.1:$SLAPD_LDAPS_PORT: TLS: the server's certificate (subject \"CN=ldap.test\", issuer \"CN=relaysync test CA\") expired on $(openssl x509 -in "$CA/old.crt" -noout -enddate | cut -d= -f2); renew it on the server"

# --- settings that point at nothing ---
sed 's/^  base_dn: .*/  base_dn: dc=exmple,dc=com/' "$CFG" >"$T/c.yaml"
rs --config "$T/c.yaml" sync
message "a base_dn that does not exist" 78 "ldap $U: ldap.base_dn dc=exmple,dc=com does not exist on the server ($T/c.yaml:$(line_of "$T/c.yaml" base_dn)); set ldap.base_dn to an entry that exists; the server holds dc=example,dc=com"
mkdir -p "$T/etc2"
sed 's|^mapping: .*|mapping: mappings/openldap.yaml|' "$CFG" >"$T/etc2/rs.yaml"
rs --config "$T/etc2/rs.yaml" sync
message "a relative mapping path that is wrong" 78 "$T/etc2/rs.yaml:$(line_of "$T/etc2/rs.yaml" mapping): mapping: cannot open the mapping profile $T/etc2/mappings/openldap.yaml: No such file or directory; give its path (a relative path is taken from $T/etc2/), for example /usr/share/relaysync/mappings/openldap.yaml"

# --- encrypted passwords and the key file ---
printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
printf 'alice-enc-SECRET\n' | $RELAYSYNC --config "$CFG" encrypt-secret alice@partner.example >"$T/enc"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: $(cat "$T/enc")
LDIF
rs --config "$CFG" sync --dry-run
expect_eq "the first dry run has changes pending" 2 "$RC"
expect_grep "the first dry run says the table set would be created" \
    "^pending   creating the table set in $MAP_DIR \\(no tables are installed yet\\)$" "$T/out"
rs --config "$CFG" sync
expect_eq "a sync with the key file installs the encrypted route" 0 "$RC"
check "alice's encrypted route is live" grep -q '^alice@partner.example alice@partner.example:alice-enc-SECRET$' "$MAP_DIR/sasl_passwd"
gen1=$(readlink "$MAP_DIR")
cp "$MAP_DIR/sasl_passwd" "$T/sasl.gen1"
before=$(tree_sum "$T/postfix")
keyline=$(line_of "$CFG" key_file)

sed -i 's|^  key_file: .*|  key_file: '"$T"'/etc/secret.kye|' "$CFG"
rs --config "$CFG" sync
message "a mistyped key_file" 78 "secrets.key_file $T/etc/secret.kye ($CFG:$keyline) does not exist, but 1 send-as entries hold {AES256-GCM} passwords (the first: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,dc=example,dc=com); without the key every one of those routes would be revoked. Give the right path in secrets.key_file or restore the file; nothing was changed"
rs --config "$CFG" sync --dry-run
expect_eq "a mistyped key_file stops a dry run too, before planning" 78 "$RC"
expect_no_grep "nothing was planned" '^(removed|summary)' "$T/out"
sed -i 's|^  key_file: .*|  key_file: '"$T"'/etc/secret.key|' "$CFG"
cp "$T/etc/secret.key" "$T/secret.key.saved"
: >"$T/etc/secret.key"
rs --config "$CFG" sync
message "an empty key file" 78 "secrets.key_file $T/etc/secret.key ($CFG:$keyline) holds no key, but 1 send-as entries hold {AES256-GCM} passwords"
chmod 644 "$T/etc/secret.key"
rs --config "$CFG" sync
message "a key file others may read" 78 "$T/etc/secret.key: holds a secret but group or others may read it (mode 644); run: chmod 600 $T/etc/secret.key"
printf 'k2 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
chmod 600 "$T/etc/secret.key"
rs --config "$CFG" sync
message "a key the live generation's run had, gone now" 78 "secrets.key_file $T/etc/secret.key no longer holds key k1, which it held when generation ${gen1##*/} was made live; 1 send-as entries hold {AES256-GCM} passwords made with it (the first: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,dc=example,dc=com). Put the key line back"
expect_eq "none of these runs touched the tables" "$before" "$(tree_sum "$T/postfix")"
cat "$T/secret.key.saved" "$T/etc/secret.key" >"$T/k" && cat "$T/k" >"$T/etc/secret.key"
rs --config "$CFG" sync
expect_eq "with the key back the run works" 0 "$RC"

# --- a dry run with --diff: the table lines that change, passwords masked ---
printf 'alice-new-SECRET\n' | $RELAYSYNC --config "$CFG" encrypt-secret alice@partner.example >"$T/enc"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPassword
relaysyncSmtpPassword: $(cat "$T/enc")
-
replace: relaysyncSmtpPort
relaysyncSmtpPort: 2626
LDIF
rs --config "$CFG" sync --dry-run --diff
expect_eq "dry run --diff with a change exits 2" 2 "$RC"
old_alice=$(grep '^alice@partner.example ' "$MAP_DIR/sender_relay")
cat >"$T/diff.expected" <<EOF
--- $MAP_DIR/sender_relay (live)
+++ sender_relay (new)
-$old_alice
+alice@partner.example [localhost]:2626
--- $MAP_DIR/sasl_passwd (live)
+++ sasl_passwd (new)
-alice@partner.example alice@partner.example:********
+alice@partner.example alice@partner.example:********
EOF
awk '/^--- /{ keep = ($0 ~ /\/(sender_relay|sasl_passwd) \(live\)$/) }
    /^(---|\+\+\+|-|\+)/{ if (keep) print; next } { exit }' "$T/out" >"$T/diff.actual"
expect_file "--diff shows the sender_relay and sasl_passwd lines, passwords masked" "$T/diff.expected" "$T/diff.actual"
expect_no_grep "--diff shows no password" 'SECRET' "$T/out"
expect_grep "--diff is followed by the report" '^changed +alice@partner.example via \[localhost\]:2626 starttls .*credentials changed' "$T/out"
rs --config "$CFG" sync
expect_eq "the change is applied" 0 "$RC"
gen2=$(readlink "$MAP_DIR")
cp "$MAP_DIR/sender_relay" "$T/relay.gen2"

# --- status: from state_dir and the live generation ---
rs --config "$CFG" status
expect_eq "status exits 0" 0 "$RC"
expect_grep "status shows the last run" '^last run: +[0-9]{4}-[0-9]{2}-[0-9]{2} [0-9:]{8} [A-Z]+ \([0-9]+ s ago\): applied, exit 0, (full|incremental) read' "$T/out"
expect_grep "status shows the live generation and the one kept" "^live generation:  ${gen2##*/} in $MAP_DIR.generations \\(kept for rollback: ${gen1##*/}\\)$" "$T/out"
expect_grep "status counts the live routes" "^routes: +$(grep -c . "$MAP_DIR/owners")$" "$T/out"
expect_grep "status lists rejections by reason" '^rejected: +by the last run: .*conflict 2' "$T/out"
expect_grep "status says when the timer runs next, or that it cannot" '^next timer run: +unknown \(systemctl cannot say' "$T/out"
expect_grep "status shows no hold" '^hold: +none$' "$T/out"
rs --config "$CFG" status --format json
expect_eq "status --format json exits 0" 0 "$RC"
expect_eq "status JSON: result, generations, routes, hold" \
    "applied ${gen2##*/} ${gen1##*/} $(grep -c . "$MAP_DIR/owners") None 2" \
    "$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1])); print(s["last_run"]["result"], s["live_generation"], s["previous_generation"], s["routes"], s["hold"], s["last_run"]["rejected"]["conflict"])' "$T/out")"

# --- rollback: the previous generation, live and reloaded; syncs held ---
run_postfix
rs --config "$CFG" rollback
expect_eq "rollback exits 0" 0 "$RC"
expect_grep "rollback says what it did" "^rolled back $MAP_DIR from generation ${gen2##*/} to generation ${gen1##*/}; Postfix reloaded; syncs are held until relaysync resume$" "$T/out"
expect_eq "the previous generation is live" "$gen1" "$(readlink "$MAP_DIR")"
expect_eq "its sasl_passwd is the one it had" "$(cat "$T/sasl.gen1")" "$(cat "$MAP_DIR/sasl_passwd")"
check "postmap finds alice's old route in the live index" test "$(postmap -c "$POSTFIX_DIR" -q alice@partner.example lmdb:"$MAP_DIR/sender_relay")" = "${old_alice#* }"
rs --config "$CFG" sync
message "a sync during the hold" 75 "syncs are held: relaysync rollback made generation ${gen1##*/} live (was ${gen2##*/}) at "
expect_grep "the held sync names relaysync resume" 'Run relaysync resume to let syncs change the tables again' "$T/err"
expect_eq "the held sync left the rolled-back generation live" "$gen1" "$(readlink "$MAP_DIR")"
rs --config "$CFG" status
expect_grep "status shows the hold" "^hold: +syncs are held since .*: relaysync rollback made generation ${gen1##*/} live \\(was ${gen2##*/}\\); run relaysync resume" "$T/out"
expect_grep "status shows the held run" '^last run: .*: refused, exit 75' "$T/out"
rs --config "$CFG" sync --dry-run
expect_eq "a dry run during the hold still shows what is pending" 2 "$RC"
rs --config "$CFG" resume
expect_eq "resume exits 0" 0 "$RC"
expect_grep "resume says so" '^syncs resumed: the next sync makes the directory' "$T/out"
rs --config "$CFG" sync
expect_eq "after resume a sync runs" 0 "$RC"
expect_file "and makes the directory's tables live again" "$T/relay.gen2" "$MAP_DIR/sender_relay"
gen3=$(readlink "$MAP_DIR")
rs --config "$CFG" resume
expect_grep "resume without a hold says so" '^no hold: syncs were not held' "$T/out"
rs --config "$CFG" status
expect_grep "status shows no hold after resume" '^hold: +none$' "$T/out"
# --- explain: the directory's verdict, and what the live tables do now ---
rs --config "$CFG" explain alice@partner.example
expect_eq "explain of a live route exits 0" 0 "$RC"
expect_no_grep "where directory and live tables agree, explain says nothing more" 'live tables now' "$T/out"
set_allow "ou=people,$BASE_DN" FALSE
rs --config "$CFG" explain alice@partner.example
expect_grep "explain gives the directory's verdict" '^    verdict: policy_forbidden - ' "$T/out"
expect_grep "and says the live tables still route it" "^    live tables now \\(generation ${gen3##*/}, until the next sync\\): \$" "$T/out"
expect_grep "with the live lines" '^      sender_relay +alice@partner.example \[localhost\]:2626$' "$T/out"
expect_grep "passwords masked" '^      sasl_passwd +alice@partner.example alice@partner.example:\*{8}$' "$T/out"
expect_no_grep "explain shows no password" 'SECRET' "$T/out"
rs --config "$CFG" explain alice@partner.example --format json
expect_eq "explain JSON has the live lines" "${gen3##*/} True" \
    "$(python3 -c 'import json,sys; s=[e for e in json.load(open(sys.argv[1]))["matches"][0]["sendas"] if e["address"] == "alice@partner.example"][0]; print(s["live"]["generation"], any(l.startswith("sender_relay") and "2626" in l for l in s["live"]["lines"]))' "$T/out")"
set_allow "ou=people,$BASE_DN" TRUE

# --- check-config: both sides, each finding with where and the fix ---
rs --config "$CFG" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config of a working set-up exits 0" 0 "$RC"
expect_grep "check-config: the bind" "^ldap: connected to $U and bound as $SVC_DN: ok$" "$T/out"
expect_grep "check-config: base_dn exists" '^ldap.base_dn: dc=example,dc=com exists: ok$' "$T/out"
expect_grep "check-config: the schema has the mapping's classes and attributes" "^schema: every class and attribute of mapping $TOP/mappings/openldap.yaml is in the server's schema \\(cn=Subschema\\): ok$" "$T/out"
expect_grep "check-config: what the account sees" '^ldap: the account sees [0-9]+ policy entries, [1-9][0-9]* users and [1-9][0-9]* send-as entries below dc=example,dc=com: ok$' "$T/out"
expect_grep "check-config: config_dir" "^postfix.config_dir: $POSTFIX_DIR holds main.cf: ok$" "$T/out"
expect_grep "check-config: the map type" '^postfix.map_type: lmdb is supported \(postconf -m\): ok$' "$T/out"
expect_grep "check-config: the prescribed Postfix settings" "^postfix: $POSTFIX_DIR holds what relaysync postfix-config prescribes" "$T/out"
expect_grep "check-config: the verdict" '^check-config: ok$' "$T/out"

sed 's/^  base_dn: .*/  base_dn: dc=exmple,dc=com/' "$CFG" >"$T/c.yaml"
rs --config "$T/c.yaml" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config with a base_dn that does not exist exits 78, as sync would" 78 "$RC"
expect_grep "check-config names ldap.base_dn, its line and what the server holds" "^ldap $U: ldap.base_dn dc=exmple,dc=com does not exist on the server \\($T/c.yaml:$(line_of "$T/c.yaml" base_dn)\\); set ldap.base_dn to an entry that exists; the server holds dc=example,dc=com$" "$T/out"
expect_grep "check-config counts the problem" '^check-config: 1 problem found$' "$T/out"

sed -e 's/relaysyncSmtpHost/relaysyncSmtpHst/' -e 's/(objectClass=relaysyncSendAs)/(objectClass=relaysyncSendAz)/' \
    "$TOP/mappings/openldap.yaml" >"$T/typo.yaml"
MAPPING=$T/typo.yaml write_config "$T/c.yaml"
rs --config "$T/c.yaml" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config with a mapping the schema does not know exits 1" 1 "$RC"
expect_grep "an attribute the schema lacks, with the mapping key and line" "^schema: attribute relaysyncSmtpHst \\(mapping sendas.attributes.host, $T/typo.yaml:$(grep -n relaysyncSmtpHst "$T/typo.yaml" | cut -d: -f1)\\) is not in the server's schema \\(cn=Subschema\\); load relaysync's schema" "$T/out"
expect_grep "an object class the schema lacks, with the mapping key" "^schema: object class relaysyncSendAz \\(mapping sendas.filter, $T/typo.yaml:[0-9]+\\) is not in the server's schema" "$T/out"

sed 's/(objectClass=inetOrgPerson)/(objectClass=posixAccount)/' "$TOP/mappings/openldap.yaml" >"$T/nousers.yaml"
MAPPING=$T/nousers.yaml write_config "$T/c.yaml"
rs --config "$T/c.yaml" check-config --service "$SUBMIT_SERVICE"
expect_grep "check-config says when the account sees no user" "^ldap: $SVC_DN sees no user below dc=example,dc=com with users.filter \\(objectClass=posixAccount\\)" "$T/out"

POSTFIX_DIR=/etc/postfx write_config "$T/c.yaml"
rs --config "$T/c.yaml" check-config
expect_eq "check-config with a config_dir that does not exist exits 1" 1 "$RC"
expect_grep "the config_dir finding names the key and its line" "^postfix.config_dir: /etc/postfx is not a directory \\(No such file or directory\\) \\($T/c.yaml:$(line_of "$T/c.yaml" config_dir)\\); set it to Postfix's configuration directory \\(postconf -h config_directory\\)" "$T/out"

mkdir -p "$T/pfx2/meta"
cp "$POSTFIX_DIR/main.cf" "$POSTFIX_DIR/master.cf" "$T/pfx2/"
postconf -c "$T/pfx2" -e "meta_directory = $T/pfx2/meta"
POSTFIX_DIR=$T/pfx2 MAP_TYPE=cdb write_config "$T/c.yaml"
rs --config "$T/c.yaml" check-config
expect_grep "a map type this Postfix lacks" "^postfix.map_type: cdb is not a lookup table type this Postfix supports \\(postconf -m\\) \\($T/c.yaml:$(line_of "$T/c.yaml" map_type)\\); install its package \\(apt install postfix-cdb\\)" "$T/out"

sed 's|^  key_file: .*|  key_file: '"$T"'/etc/secret.kye|' "$CFG" >"$T/c.yaml"
rs --config "$T/c.yaml" check-config --service "$SUBMIT_SERVICE"
expect_eq "check-config with a mistyped key_file exits 78, as sync would" 78 "$RC"
expect_grep "check-config names the key file that encrypted values need" "^secrets: secrets.key_file $T/etc/secret.kye \\($T/c.yaml:[0-9]+\\) does not exist, but 1 send-as entries hold \\{AES256-GCM\\} passwords" "$T/out"
# --- watch respects the hold, and applies what waited after resume ---
rs --config "$CFG" rollback
expect_eq "a second rollback exits 0" 0 "$RC"
held_gen=$(readlink "$MAP_DIR")
$RELAYSYNC --config "$CFG" watch >"$T/watch.out" 2>"$T/watch.err" &
wpid=$!
PIDS+=("$wpid")
for i in $(seq 1 50); do grep -q 'syncs are held' "$T/watch.err" && break; sleep 0.2; done
expect_grep "watch says that syncs are held" '^relaysync: warning: watch: syncs are held: .*; directory changes wait until then$' "$T/watch.err"
ldap_modify <<LDIF
dn: relaysyncSendAsAddress=alice@partner.example,uid=alice,ou=sales,ou=people,$BASE_DN
changetype: modify
replace: relaysyncSmtpPort
relaysyncSmtpPort: 2727
LDIF
sleep 2
expect_eq "watch changed nothing during the hold" "$held_gen" "$(readlink "$MAP_DIR")"
rs --config "$CFG" resume
for i in $(seq 1 50); do grep -q ':2727$' "$MAP_DIR/sender_relay" 2>/dev/null && break; sleep 0.2; done
check "after resume watch applies what waited" grep -qx 'alice@partner.example \[localhost\]:2727' "$MAP_DIR/sender_relay"
kill -TERM "$wpid"
wait "$wpid"
expect_eq "watch stops with exit 0" 0 "$?"
finish
