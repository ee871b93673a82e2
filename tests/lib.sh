# Shared helpers for relaysync's integration tests (bash).
#
# A test script sources this file, calls the start_* helpers it needs and
# the check/expect helpers for each assertion, and ends with finish. Every
# server runs on loopback on a free port, in a private directory under $T
# that is removed at exit (set KEEP=1 to keep it). Assertions print
# "PASS: ..." or "FAIL: ..."; finish prints "RESULT: N passed, N failed"
# for tests/run to add up.

set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RELAYSYNC=${RELAYSYNC:-$TOP/build/san/relaysync}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
PASS=0
FAIL=0
T=${RS_WORKDIR:-$(mktemp -d "${TMPDIR:-/tmp}/relaysync-test.XXXXXX")}
mkdir -p "$T"
chmod 755 "$T"
PIDS=()
POSTFIX_DIRS=()
CLEANUP_FILES=()	# files outside $T that a test created, removed at exit
BASE_DN="dc=example,dc=com"
ADMIN_DN="cn=admin,$BASE_DN"
ADMIN_PW="admin-secret"
SVC_DN="cn=relaysync,ou=services,$BASE_DN"
SVC_PW="relaysync-bind-SECRET"

cleanup() {
	local d p
	set +e	# a script's set -e must not cut the cleanup short
	for d in "${POSTFIX_DIRS[@]}"; do
		postfix -c "$d" stop >/dev/null 2>&1
	done
	for p in "${PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ ${#CLEANUP_FILES[@]} -eq 0 ] || rm -f "${CLEANUP_FILES[@]}"
	# keep every output for the suite-wide secret check (test_zz_no_secrets)
	mkdir -p "$TOP/build/test-logs"
	cat "$T/all-output.log" >>"$TOP/build/test-logs/relaysync-output.log" 2>/dev/null
	cat "$T"/*.log "$T"/postfix/maillog "$T"/*/slapd.log \
	    >>"$TOP/build/test-logs/servers-output.log" 2>/dev/null
	if [ "${KEEP:-0}" = 1 ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
}
trap cleanup EXIT
trap 'exit 129' HUP PIPE
trap 'exit 130' INT
trap 'exit 143' TERM

ok() { PASS=$((PASS + 1)); echo "PASS: $1"; }

not_ok() {
	FAIL=$((FAIL + 1))
	echo "FAIL: $1"
	shift
	local l
	for l in "$@"; do printf '    %s\n' "$l"; done
}

# check DESCRIPTION COMMAND...: passes when the command succeeds.
check() {
	local d=$1
	shift
	if "$@"; then ok "$d"; else not_ok "$d" "command failed: $*"; fi
}

# expect_eq DESCRIPTION EXPECTED ACTUAL
expect_eq() {
	if [ "$2" = "$3" ]; then
		ok "$1"
	else
		not_ok "$1" "expected: $2" "actual:   $3"
	fi
}

# expect_file DESCRIPTION EXPECTED_FILE ACTUAL_FILE: byte for byte.
expect_file() {
	if cmp -s "$2" "$3"; then
		ok "$1"
	else
		not_ok "$1" "$(diff -u "$2" "$3" 2>&1 | head -40)"
	fi
}

# expect_grep DESCRIPTION PATTERN FILE
expect_grep() {
	if grep -qE -- "$2" "$3"; then ok "$1"; else
		not_ok "$1" "no line matches /$2/ in $3:" "$(head -30 "$3")"
	fi
}

expect_no_grep() {
	if ! grep -qE -- "$2" "$3"; then ok "$1"; else
		not_ok "$1" "unexpected /$2/ in $3:" "$(grep -E -- "$2" "$3" | head)"
	fi
}

finish() {
	echo "RESULT: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	local i
	for i in $(seq 1 100); do
		(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
		sleep 0.1
	done
	echo "port $1 did not open" >&2
	return 1
}

# ---- test CA and certificates (openssl) ----

make_ca() {
	CA=$T/ca
	mkdir -p "$CA"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=relaysync test CA" \
	    -keyout "$CA/ca.key" -out "$CA/ca.crt" 2>/dev/null
}

# make_cert NAME DNSNAME [IP]: $CA/NAME.crt and $CA/NAME.key signed by the
# test CA, valid for DNSNAME (and IP when given).
make_cert() {
	openssl req -newkey rsa:2048 -nodes -subj "/CN=$2" -keyout "$CA/$1.key" \
	    -out "$CA/$1.csr" 2>/dev/null
	printf 'subjectAltName=DNS:%s%s\n' "$2" "${3:+,IP:$3}" >"$CA/$1.ext"
	openssl x509 -req -in "$CA/$1.csr" -CA "$CA/ca.crt" -CAkey "$CA/ca.key" \
	    -CAcreateserial -days 2 -extfile "$CA/$1.ext" -out "$CA/$1.crt" 2>/dev/null
	chmod 644 "$CA/$1.key"
}

# ca_file: the test CA when make_ca ran, else the system bundle.
ca_file() {
	if [ -n "${CA:-}" ]; then echo "$CA/ca.crt"; else echo /etc/ssl/certs/ca-certificates.crt; fi
}

# ---- slapd ----

# start_slapd [EXTRA_CONFIG_LDIF]: a private slapd with our schema (cn=config
# form), the mdb database for $BASE_DN, ppolicy and syncprov, listening on
# ldap://127.0.0.1:$SLAPD_PORT and ldapi in $SLAPD_DIR.
start_slapd() {
	init_slapd "$@" && run_slapd
}

# init_slapd [EXTRA_CONFIG_LDIF]: the configuration of start_slapd, not started
# (bulk data can then go in with slapadd -n1).
init_slapd() {
	SLAPD_DIR=$T/slapd
	SLAPD_PORT=$(free_port)
	mkdir -p "$SLAPD_DIR/db" "$SLAPD_DIR/slapd.d"
	SLAPD_LDAPI="ldapi://$(printf %s "$SLAPD_DIR/ldapi" | sed 's,/,%2F,g')"
	sed -e "s|@DBDIR@|$SLAPD_DIR/db|g" -e "s|@PIDFILE@|$SLAPD_DIR/slapd.pid|g" \
	    -e "s|@SCHEMA@|$TOP/schema/relaysync.ldif|g" \
	    -e "s|@ADMINPW@|$ADMIN_PW|g" "$TOP/tests/fixtures/slapd-config.ldif.in" \
	    >"$SLAPD_DIR/config.ldif"
	[ $# -gt 0 ] && cat "$1" >>"$SLAPD_DIR/config.ldif"
	slapadd -n0 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/config.ldif" >"$SLAPD_DIR/slapadd.log" 2>&1 ||
	    { cat "$SLAPD_DIR/slapadd.log"; return 1; }
}

run_slapd() {
	slapd -h "ldap://127.0.0.1:$SLAPD_PORT/ $SLAPD_LDAPI${SLAPD_LDAPS_PORT:+ ldaps://127.0.0.1:$SLAPD_LDAPS_PORT/}" \
	    -F "$SLAPD_DIR/slapd.d" \
	    -d 0 >>"$SLAPD_DIR/slapd.log" 2>&1 &
	SLAPD_PID=$!
	PIDS+=("$SLAPD_PID")
	wait_port "$SLAPD_PORT"
}

# enable_slapd_tls: give the running slapd the test CA's certificate "ldap"
# (make_cert ldap ...) and restart it with ldaps on $SLAPD_LDAPS_PORT.
enable_slapd_tls() {
	ldapmodify -Y EXTERNAL -H "$SLAPD_LDAPI" >"$T/tls.log" 2>&1 <<LDIF || { cat "$T/tls.log"; return 1; }
dn: cn=config
changetype: modify
replace: olcTLSCACertificateFile
olcTLSCACertificateFile: $CA/ca.crt
-
replace: olcTLSCertificateFile
olcTLSCertificateFile: $CA/ldap.crt
-
replace: olcTLSCertificateKeyFile
olcTLSCertificateKeyFile: $CA/ldap.key
LDIF
	stop_slapd
	SLAPD_LDAPS_PORT=$(free_port)
	run_slapd
	wait_port "$SLAPD_LDAPS_PORT"
}

stop_slapd() {
	kill "$SLAPD_PID" 2>/dev/null
	wait "$SLAPD_PID" 2>/dev/null
}

# ldap_load FILE: add entries as the admin (fixture placeholders replaced).
ldap_load() {
	fill "$1" | ldapadd -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" \
	    -w "$ADMIN_PW" >"$T/ldapadd.log" 2>&1 || { cat "$T/ldapadd.log"; return 1; }
}

ldap_modify() {
	ldapmodify -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" \
	    >>"$T/ldapmodify.log" 2>&1
}

# set_allow DN TRUE|FALSE: an admin sets the allow flag of an entry that has one.
set_allow() {
	ldap_modify <<LDIF
dn: $1
changetype: modify
replace: relaysyncAllowUserGateways
relaysyncAllowUserGateways: $2
LDIF
}

# snapshot_cookie FILE COOKIE: rewrite the sync cookie of a relaysync
# snapshot, with a valid checksum (the SHA-256 of the text and a NUL).
snapshot_cookie() {
	python3 - "$1" "$2" <<'PY'
import hashlib, re, sys
p, cookie = sys.argv[1], sys.argv[2].encode()
b = open(p, "rb").read()
body = b[:b.rindex(b"end ")]
body = re.sub(rb"cookie \d+:[^\n]*\n", b"cookie %d:%s\n" % (len(cookie), cookie), body, count=1)
open(p, "wb").write(body + b"end " + hashlib.sha256(body + b"\0").hexdigest().encode() + b"\n")
PY
}

# fill FILE: substitute the @NAME@ placeholders of a fixture.
fill() {
	sed -e "s|@GW_PORT@|${GW_PORT:-2525}|g" -e "s|@GW_SSL_PORT@|${GW_SSL_PORT:-4465}|g" \
	    -e "s|@SVC_PW@|$SVC_PW|g" "$1"
}

# ---- relaysync configuration ----

# write_config FILE [EXTRA_YAML]: a configuration for the test slapd.
write_config() {
	local f=$1
	mkdir -p "$T/etc"
	printf '%s\n' "$SVC_PW" >"$T/etc/bind.password"
	chmod 600 "$T/etc/bind.password"
	# the local key, as the package makes one at install: it keeps the
	# passwords of the snapshot encrypted
	if [ ! -e "$T/etc/secret.key" ]; then
		printf 'local %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
		chmod 600 "$T/etc/secret.key"
	fi
	cat >"$f" <<EOF
ldap:
  uri: ${LDAP_URI:-ldap://127.0.0.1:$SLAPD_PORT}
  starttls: ${LDAP_STARTTLS:-false}
  allow_plaintext: ${LDAP_PLAIN:-true}
  ca_file: ${LDAP_CA:-/etc/ssl/certs/ca-certificates.crt}
  bind_dn: $SVC_DN
  bind_password_file: $T/etc/bind.password
  base_dn: $BASE_DN
  timeout: 5
  page_size: ${PAGE_SIZE:-500}
mapping: ${MAPPING:-$TOP/mappings/openldap.yaml}
policy:
  internal_domains: [example.com]
  max_removals: ${MAX_REMOVALS:-500}
  require_verified: ${REQUIRE_VERIFIED:-false}
  allow_private_gateways: ${ALLOW_PRIVATE:-true}
postfix:
  map_dir: ${MAP_DIR:-$T/postfix/relaysync}
  map_type: ${MAP_TYPE:-lmdb}
  config_dir: ${POSTFIX_DIR:-/etc/postfix}
  command_directory: ${COMMAND_DIR:-}
  tls_ca_file: $(ca_file)
  reload: ${RELOAD:-true}
secrets:
  key_file: $T/etc/secret.key
state_dir: ${STATE_DIR:-$T/state}
EOF
	[ $# -gt 1 ] && printf '%s\n' "$2" >>"$f"
	return 0
}

# rs ARGS...: run relaysync, output in $T/out, errors in $T/err, status in $RC.
rs() {
	$RELAYSYNC "$@" >"$T/out" 2>"$T/err"
	RC=$?
	cat "$T/out" "$T/err" >>"$T/all-output.log"
	return 0
}

# tree_sum DIR: a checksum of every file, link and mode below DIR.
tree_sum() {
	(cd "$1" 2>/dev/null && find . -printf '%p %y %m %l\n' | sort &&
	    find . -type f -print0 | sort -z | xargs -0r sha256sum) | sha256sum
}

# ---- Postfix ----

# start_postfix: a private Postfix instance in $POSTFIX_DIR whose relayhost is
# the default-relay sink on $RELAY_PORT: smtpd on 127.0.0.1:$SMTPD_PORT plays
# port 25 (no login; mynetworks is loopback), a submission service on
# 127.0.0.1:$SUBMIT_PORT ($SUBMIT_SERVICE in master.cf) takes Cyrus SASL
# logins from $POSTFIX_DIR/sasldb2 (sasl_user). Nothing of relaysync is
# configured: run_postfix applies what relaysync postfix-config prints.
start_postfix() {
	POSTFIX_DIR=$T/postfix
	MAP_DIR=${MAP_DIR:-$POSTFIX_DIR/relaysync}
	SMTPD_PORT=$(free_port)
	SUBMIT_PORT=$(free_port)
	SUBMIT_SERVICE="127.0.0.1:$SUBMIT_PORT/inet"
	mkdir -p "$POSTFIX_DIR/queue" "$POSTFIX_DIR/data" "$POSTFIX_DIR/sasl"
	chown postfix "$POSTFIX_DIR/data"
	cp /etc/postfix/master.cf "$POSTFIX_DIR/master.cf"
	sed -i "s/^smtp      inet/127.0.0.1:$SMTPD_PORT      inet/" "$POSTFIX_DIR/master.cf"
	cat >>"$POSTFIX_DIR/master.cf" <<EOF
127.0.0.1:$SUBMIT_PORT inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nmech_list: PLAIN LOGIN\nsasldb_path: %s\n' \
	    "$POSTFIX_DIR/sasldb2" >"$POSTFIX_DIR/sasl/smtpd.conf"
	cat >"$POSTFIX_DIR/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $POSTFIX_DIR/queue
data_directory = $POSTFIX_DIR/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.example.com
mydomain = example.com
myorigin = example.com
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
relayhost = [127.0.0.1]:$RELAY_PORT
smtp_dns_support_level = disabled
smtp_host_lookup = native
maillog_file = $POSTFIX_DIR/maillog
maillog_file_prefixes = $POSTFIX_DIR
alias_maps =
alias_database =
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $POSTFIX_DIR/sasl
smtp_tls_CAfile = $(ca_file)
smtp_tls_security_level = may
smtp_tls_loglevel = 1
delay_warning_time = 0
maximal_backoff_time = 10s
minimal_backoff_time = 5s
queue_run_delay = 5s
EOF
	postconf -c "$POSTFIX_DIR" -F '*/*/chroot = n' >/dev/null
	postfix -c "$POSTFIX_DIR" check >"$T/postfix-check.log" 2>&1
	POSTFIX_DIRS+=("$POSTFIX_DIR")
}

# sasl_user LOGIN PASSWORD: a submission login in the private Postfix.
sasl_user() {
	printf '%s' "$2" | saslpasswd2 -f "$POSTFIX_DIR/sasldb2" -p -c \
	    -u relay.example.com "$1" &&
	    chown postfix "$POSTFIX_DIR/sasldb2" && chmod 600 "$POSTFIX_DIR/sasldb2"
}

# apply_postfix_config [CONFIG]: run the postconf commands that relaysync
# postfix-config prints for the submission service (as an admin would).
apply_postfix_config() {
	$RELAYSYNC --config "${1:-$T/rs.yaml}" postfix-config \
	    --service "$SUBMIT_SERVICE" >"$T/postfix-config.out" 2>&1 ||
	    { cat "$T/postfix-config.out"; return 1; }
	# never the system's Postfix: every command names the private instance
	if grep '^postconf ' "$T/postfix-config.out" | grep -vq "^postconf -c '$POSTFIX_DIR' "; then
		echo "postfix-config does not name $POSTFIX_DIR; not applied" >&2
		return 1
	fi
	grep '^postconf ' "$T/postfix-config.out" | sh
}

# run_postfix [CONFIG]: apply postfix-config, then start the instance
# (after relaysync has created the tables).
run_postfix() {
	apply_postfix_config "$@" &&
	    postfix -c "$POSTFIX_DIR" start >>"$T/postfix-start.log" 2>&1 &&
	    wait_port "$SMTPD_PORT" && wait_port "$SUBMIT_PORT"
}

# start_sink NAME PORT [ARGS...]: a recording SMTP server; log $T/NAME.jsonl.
start_sink() {
	local name=$1 port=$2
	shift 2
	: >"$T/$name.jsonl"
	/usr/bin/python3 "$TOP/tests/tools/smtpsink.py" --port "$port" \
	    --log "$T/$name.jsonl" "$@" >"$T/$name.out" 2>&1 &
	PIDS+=("$!")
	wait_port "$port"
}

# send FROM TO SUBJECT: submit a message to the private Postfix over SMTP.
send() {
	/usr/bin/python3 - "$SMTPD_PORT" "$1" "$2" "$3" <<'EOF'
import smtplib, sys
port, frm, to, subj = sys.argv[1:]
msg = f"From: {frm}\r\nTo: {to}\r\nSubject: {subj}\r\n\r\nrelaysync test\r\n"
with smtplib.SMTP("127.0.0.1", int(port), timeout=10) as s:
    s.sendmail(frm, [to], msg)
EOF
}

# send_auth LOGIN PASSWORD FROM TO SUBJECT: submit a message on the
# submission service, logged in; prints the server's refusal and returns 1
# when it refuses the message.
send_auth() {
	/usr/bin/python3 - "$SUBMIT_PORT" "$@" <<'EOF'
import smtplib, sys
port, login, pw, frm, to, subj = sys.argv[1:]
msg = f"From: {frm}\r\nTo: {to}\r\nSubject: {subj}\r\n\r\nrelaysync test\r\n"
try:
    with smtplib.SMTP("127.0.0.1", int(port), timeout=10) as s:
        s.login(login, pw)
        s.sendmail(frm, [to], msg)
except smtplib.SMTPException as e:
    print(e)
    sys.exit(1)
EOF
}

# wait_for_subject SINK SUBJECT [SECONDS]: until the sink recorded it.
wait_for_subject() {
	local i n=$((${3:-30} * 5))
	for i in $(seq 1 "$n"); do
		grep -q "\"subject\": \"$2\"" "$T/$1.jsonl" 2>/dev/null && return 0
		sleep 0.2
	done
	return 1
}

# record SINK SUBJECT FIELD: one field of the recorded message.
record() {
	/usr/bin/python3 -c '
import json, sys
for l in open(sys.argv[1]):
    r = json.loads(l)
    if r["subject"] == sys.argv[2]:
        print(r[sys.argv[3]])
        break
' "$T/$1.jsonl" "$2" "$3"
}

# start_slapd_conf: like start_slapd, but configured from a slapd.conf that
# includes schema/relaysync.schema and the example ACL schema/relaysync-acl.conf.
start_slapd_conf() {
	SLAPD_DIR=$T/slapd-conf
	SLAPD_PORT=$(free_port)
	mkdir -p "$SLAPD_DIR/db"
	SLAPD_LDAPI="ldapi://$(printf %s "$SLAPD_DIR/ldapi" | sed 's,/,%2F,g')"
	cat >"$SLAPD_DIR/slapd.conf" <<CONF
include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/nis.schema
include /etc/ldap/schema/inetorgperson.schema
include $TOP/schema/relaysync.schema
modulepath /usr/lib/ldap
moduleload back_mdb
pidfile $SLAPD_DIR/slapd.pid
database mdb
maxsize 1073741824
suffix "$BASE_DN"
rootdn "$ADMIN_DN"
rootpw $ADMIN_PW
directory $SLAPD_DIR/db
include $TOP/schema/relaysync-acl.conf
CONF
	slapd -h "ldap://127.0.0.1:$SLAPD_PORT/ $SLAPD_LDAPI" -f "$SLAPD_DIR/slapd.conf" \
	    -d 0 >>"$SLAPD_DIR/slapd.log" 2>&1 &
	SLAPD_PID=$!
	PIDS+=("$SLAPD_PID")
	wait_port "$SLAPD_PORT"
}

# ---- Samba AD DC ----
# Only inside a private network and mount namespace (unshare --net
# --mount): the DC listens on the namespace's own loopback, and its name
# dc1.corp.test resolves through a private /etc/hosts bound over the real
# one in that namespace only.

AD_REALM=corp.test
AD_BASE="DC=corp,DC=test"
AD_HOST=dc1.corp.test
AD_ADMIN_PW="Adm1n-Pass-Word"
AD_CACHE=$TOP/build/samba-ad-cache

# in_netns: re-run the calling test script inside a private network and
# mount namespace (call first, right after sourcing this file; the empty
# $T made for this process is left to the re-run's own).
in_netns() {
	[ -n "${RS_IN_NETNS:-}" ] && return 0
	rmdir "$T" 2>/dev/null
	exec unshare --net --mount env RS_IN_NETNS=1 bash "$0" "$@"
}

# provision_samba_ad: a provisioned domain corp.test in $AD_CACHE, made
# once (samba-tool domain provision with -s /dev/null and --targetdir: its
# own smb.conf, nothing read from /etc/samba, nothing written to
# /var/lib/samba); later runs copy it.
provision_samba_ad() {
	local d=$AD_CACHE.tmp
	[ -f "$AD_CACHE/etc/smb.conf" ] && return 0
	rm -rf "$d"
	samba-tool domain provision -s /dev/null --targetdir="$d" --realm=CORP.TEST \
	    --domain=CORP --host-name=dc1 --host-ip=127.0.0.1 --server-role=dc \
	    --dns-backend=SAMBA_INTERNAL --adminpass="$AD_ADMIN_PW" \
	    --option="interfaces = lo" --option="bind interfaces only = yes" \
	    --option="log file = $d/log.%m" --option="panic action = " \
	    --option="server services = ldap, cldap" \
	    --option="dsdb:schema update allowed = true" \
	    >"$T/provision.log" 2>&1 || { tail -20 "$T/provision.log"; return 1; }
	rm -rf "$AD_CACHE" && mv "$d" "$AD_CACHE"
}

# start_samba_ad: a Samba AD DC for corp.test from a copy of the
# provisioned cache in $SAMBA_DIR, on ldaps://dc1.corp.test (CA:
# $AD_CA); samba -i with its own smb.conf ($SAMBA_CONF).
start_samba_ad() {
	local cache=$AD_CACHE i
	[ -n "${RS_IN_NETNS:-}" ] || { echo "start_samba_ad: not in a private namespace" >&2; return 1; }
	(flock 9 && provision_samba_ad) 9>"$TOP/build/.samba-ad-cache.lock" || return 1
	SAMBA_DIR=$T/samba
	SAMBA_CONF=$SAMBA_DIR/etc/smb.conf
	cp -a "$cache" "$SAMBA_DIR"
	sed -i -e "s|$cache.tmp|$SAMBA_DIR|g" -e "s|$cache|$SAMBA_DIR|g" "$SAMBA_CONF"
	sed -i "/^\[global\]/a\\	pid directory = $SAMBA_DIR/run\n\tncalrpc dir = $SAMBA_DIR/ncalrpc\n\twinbindd socket directory = $SAMBA_DIR/winbindd\n\tntp signd socket directory = $SAMBA_DIR/ntp_signd" "$SAMBA_CONF"
	if grep -q "$cache" "$SAMBA_CONF"; then echo "smb.conf still names the cache" >&2; return 1; fi
	ip link set lo up
	printf '127.0.0.1 localhost %s dc1\n' "$AD_HOST" >"$T/hosts"
	mount --bind "$T/hosts" /etc/hosts
	samba -i -s "$SAMBA_CONF" >"$SAMBA_DIR/samba.log" 2>&1 &
	PIDS+=("$!")
	AD_CA=$SAMBA_DIR/private/tls/ca.pem
	for i in $(seq 1 300); do
		[ -f "$AD_CA" ] && (exec 3<>/dev/tcp/127.0.0.1/636) 2>/dev/null && return 0
		sleep 0.1
	done
	echo "samba did not open port 636" >&2
	tail -20 "$SAMBA_DIR/samba.log" >&2
	return 1
}

# ad_modify: LDIF on standard input, as the domain's Administrator.
ad_modify() {
	LDAPTLS_CACERT=$AD_CA ldapmodify -x -H "ldaps://$AD_HOST" \
	    -D "Administrator@$AD_REALM" -w "$AD_ADMIN_PW" "$@" >>"$T/ad-modify.log" 2>&1
}

# ad_tool ARGS...: samba-tool on the DC's database, with the test smb.conf.
ad_tool() {
	samba-tool "$@" -s "$SAMBA_CONF" -H "$SAMBA_DIR/private/sam.ldb" >>"$T/ad-tool.log" 2>&1
}

# ---- 389 Directory Server ----

# init_389ds: a private 389-ds instance "rs" made by dscreate under
# $DS_DIR (its own defaults.inf: no systemd, every path below $DS_DIR),
# created in a private network namespace, then set to listen on
# 127.0.0.1:$DS_PORT (ldap) and $DS_TLS_PORT (ldaps, dscreate's
# self-signed certificate for $DS_HOST, this machine's name, CA in
# $DS_CONF/ca.crt) with the
# Content Synchronization and Retro Changelog plugins on. Not started.
init_389ds() {
	local p
	DS_DIR=$T/389ds
	p=$DS_DIR
	DS_PORT=$(free_port)
	DS_TLS_PORT=$(free_port)
	DS_CONF=$p/etc/dirsrv/slapd-rs
	DS_ADMIN_DN="cn=Directory Manager"
	DS_HOST=$(hostname -f 2>/dev/null || hostname)
	mkdir -p "$p/share/dirsrv/inf" "$p/etc/dirsrv" "$p/lib" "$p/log" "$p/lock" "$p/tmp"
	chmod 755 "$p" "$p/etc" "$p/etc/dirsrv" "$p/lib" "$p/log" "$p/lock"
	chmod 1777 "$p/tmp"
	cp -r /etc/dirsrv/schema /etc/dirsrv/config "$p/etc/dirsrv/"
	sed -e 's|^with_systemd = .*|with_systemd = 0|' \
	    -e "s|^sysconf_dir = .*|sysconf_dir = $p/etc|" \
	    -e "s|^initconfig_dir = .*|initconfig_dir = $p/etc/default|" \
	    -e "s|^local_state_dir = .*|local_state_dir = $p/var|" \
	    -e "s|^tmp_dir = .*|tmp_dir = $p/tmp|" \
	    -e "s|^run_dir = .*|run_dir = $p/run|" \
	    -e "s|^ldapi = .*|ldapi = $p/run/slapd-{instance_name}.socket|" \
	    -e "s|^pid_file = .*|pid_file = $p/run/slapd-{instance_name}.pid|" \
	    -e "s|^inst_dir = .*|inst_dir = $p/lib/slapd-{instance_name}|" \
	    -e "s|^tmpfiles_d = .*|tmpfiles_d = $p/tmpfiles.d|" \
	    -e "s|^config_dir = .*|config_dir = $p/etc/dirsrv/slapd-{instance_name}|" \
	    -e "s|^schema_dir = .*|schema_dir = $p/etc/dirsrv/slapd-{instance_name}/schema|" \
	    -e "s|^cert_dir = .*|cert_dir = $p/etc/dirsrv/slapd-{instance_name}|" \
	    -e "s|^lock_dir = .*|lock_dir = $p/lock/slapd-{instance_name}|" \
	    -e "s|^db_home_dir = .*|db_home_dir = $p/lib/slapd-{instance_name}/dbhome|" \
	    -e "s|/var/log/dirsrv/|$p/log/|" -e "s|/var/lib/dirsrv/|$p/lib/|" \
	    /usr/share/dirsrv/inf/defaults.inf >"$p/share/dirsrv/inf/defaults.inf"
	cat >"$p/rs.inf" <<INF
[general]
full_machine_name = $DS_HOST
strict_host_checking = False
selinux = False
start = False
[slapd]
instance_name = rs
port = $DS_PORT
secure_port = $DS_TLS_PORT
root_password = $ADMIN_PW
self_sign_cert = True
[backend-userroot]
suffix = $BASE_DN
create_suffix_entry = True
INF
	PREFIX=$p unshare --net sh -c 'ip link set lo up && dscreate from-file "$1"' sh \
	    "$p/rs.inf" >"$p/dscreate.log" 2>&1 || { tail -20 "$p/dscreate.log"; return 1; }
	python3 - "$DS_CONF/dse.ldif" <<'PY'
import sys
p = sys.argv[1]
blocks = open(p).read().split("\n\n")
def set_attr(block, attr, value):
    lines = [l for l in block.split("\n") if not l.lower().startswith(attr.lower() + ":")]
    return "\n".join(lines + [f"{attr}: {value}"])
out = []
for b in blocks:
    dn = b.split("\n", 1)[0].lower()
    if dn == "dn: cn=config":
        b = set_attr(set_attr(b, "nsslapd-listenhost", "127.0.0.1"), "nsslapd-securelistenhost", "127.0.0.1")
    elif dn in ("dn: cn=retro changelog plugin,cn=plugins,cn=config",
                "dn: cn=content synchronization,cn=plugins,cn=config"):
        b = set_attr(b, "nsslapd-pluginEnabled", "on")
        if "retro" in dn:
            b = set_attr(set_attr(b, "nsslapd-attribute", "nsuniqueid:targetUniqueId"),
                         "nsslapd-exclude-suffix", "cn=config")
    out.append(b)
open(p, "w").write("\n\n".join(out))
PY
}

# run_389ds: start the instance (ns-slapd in the foreground, -d 0).
run_389ds() {
	ns-slapd -D "$DS_CONF" -i "$DS_DIR/run/slapd-rs.pid" -d 0 >>"$DS_DIR/ns-slapd.log" 2>&1 &
	DS_PID=$!
	PIDS+=("$DS_PID")
	wait_port "$DS_PORT"
}

stop_389ds() {
	kill "$DS_PID" 2>/dev/null
	wait "$DS_PID" 2>/dev/null
}

# ds_modify: ldapmodify as Directory Manager.
ds_modify() {
	ldapmodify -x -H "ldap://127.0.0.1:$DS_PORT" -D "$DS_ADMIN_DN" -w "$ADMIN_PW" \
	    >>"$T/ds-modify.log" 2>&1
}
