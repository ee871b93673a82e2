#!/bin/bash
# relaysync under a booted systemd: a minimal Debian bookworm container
# (systemd-nspawn -b, private network) with a slapd and a Postfix; the
# .deb of make deb is installed in it with apt, so what gets installed is
# what the package declares. Shown: relaysync.service succeeds under its
# hardening and the tables are live; the timer fires; relaysync-watch
# applies a change within a second, and when applying fails it says so
# (STATUS=FAILING, the watchdog marks it failed, Restart= retries); the
# journal holds each applied-change line once; a cron-environment run
# (env -i PATH=/usr/bin:/bin) that changes the tables exits 0.
# systemd-analyze security goes into the log.
#
# The root file system is made once with debootstrap and kept in
# build/cache/bookworm-<key> (key: the package list, the mirror and the
# .deb's Depends), with the .debs the package needs in its apt archive;
# each run boots an overlay of it, so the cache is never changed. First
# run: about 2 minutes (download); then about 1 minute.
. "$(dirname "$0")/../lib.sh"

DEB=$(ls "$TOP"/build/deb/relaysync_*_amd64.deb 2>/dev/null | head -1)
check "make deb built a package" test -n "$DEB"
[ -n "$DEB" ] || { finish; exit; }
PKGS=systemd,systemd-sysv,dbus,slapd,ldap-utils,postfix,postfix-lmdb,libsasl2-modules
# The Debian mirror this machine uses (deb822 or one-line sources).
MIRROR=$(sed -n 's/^URIs: *\([^ ]*\/debian\)\/*$/\1/p; s/^deb \(\[[^]]*\] \)\{0,1\}\(http[^ ]*\/debian\)\/* bookworm .*/\2/p' \
    /etc/apt/sources.list /etc/apt/sources.list.d/* 2>/dev/null | head -1)
MIRROR=${MIRROR:-http://deb.debian.org/debian}
KEY=$( (echo "$PKGS $MIRROR"; dpkg-deb -f "$DEB" Depends) | sha256sum | cut -c1-12)
CACHE=$TOP/build/cache/bookworm-$KEY

# provision: debootstrap, then the package's dependencies downloaded (not
# installed) into the root's apt archive, so that apt in the container
# installs them from there without a network.
provision() {
	local tmp=$CACHE.tmp
	rm -rf "$tmp"
	mkdir -p "$TOP/build/cache"
	debootstrap --variant=minbase --include="$PKGS" bookworm "$tmp" "$MIRROR" \
	    >"$T/debootstrap.log" 2>&1 || { tail -20 "$T/debootstrap.log"; return 1; }
	echo "deb $MIRROR bookworm main" >"$tmp/etc/apt/sources.list"
	cp "$DEB" "$tmp/root/"
	chroot "$tmp" sh -c "apt-get update -q && apt-get install -y -q --download-only \
	    /root/$(basename "$DEB")" >"$T/provision.log" 2>&1 ||
	    { tail -20 "$T/provision.log"; return 1; }
	rm -f "$tmp/root/$(basename "$DEB")"
	systemctl --root="$tmp" disable slapd >/dev/null 2>&1 || true
	echo relay.example.com >"$tmp/etc/hostname"
	rm -rf "$(dirname "$CACHE")"/bookworm-*[!p]	# older keys
	mv "$tmp" "$CACHE"
}

start=$SECONDS
if [ ! -d "$CACHE" ]; then
	provision || { not_ok "the container root file system could not be made"; finish; exit; }
fi
ok "a cached Debian bookworm root (build/cache/$(basename "$CACHE"), ready in $((SECONDS - start)) s)"

# ---- boot an overlay of it ----
ROOT=$T/root
mkdir -p "$T/upper" "$T/work" "$ROOT"
mount -t overlay overlay -o "lowerdir=$CACHE,upperdir=$T/upper,workdir=$T/work" "$ROOT" ||
    { not_ok "overlay mount of the cached root"; finish; exit; }
NSPAWN_PID=
stop_container() {
	if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
		ct systemctl poweroff >/dev/null 2>&1
		for _ in $(seq 1 100); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; sleep 0.2; done
		kill "$NSPAWN_PID" 2>/dev/null
		wait "$NSPAWN_PID" 2>/dev/null
	fi
	umount "$ROOT" 2>/dev/null || umount -l "$ROOT"
}
trap 'stop_container; cleanup' EXIT

mkdir -p "$ROOT/root/t"
cp "$DEB" "$ROOT/root/t/"
cp "$TOP/schema/relaysync.ldif" "$ROOT/root/t/"
sed -e "s|@DBDIR@|/srv/slapd/db|g" -e "s|@PIDFILE@|/srv/slapd/slapd.pid|g" \
    -e "s|@SCHEMA@|/root/t/relaysync.ldif|g" -e "s|@ADMINPW@|$ADMIN_PW|g" \
    "$TOP/tests/fixtures/slapd-config.ldif.in" >"$ROOT/root/t/config.ldif"

systemd-nspawn -b --keep-unit --register=no --private-network -D "$ROOT" \
    >"$T/console.log" 2>&1 </dev/null &
NSPAWN_PID=$!
LEADER=
for _ in $(seq 1 100); do
	LEADER=$(pgrep -P "$NSPAWN_PID" | head -1)
	[ -n "$LEADER" ] && break
	sleep 0.1
done
# ct COMMAND...: run it inside the container, with a clean environment.
ct() { nsenter -t "$LEADER" -a env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C "$@"; }
state=
# up to 90 s: a first boot of a root just built, beside make check's other
# suites on two CPUs, took more than 30 s once
for _ in $(seq 1 450); do
	state=$(ct systemctl is-system-running 2>/dev/null)
	case "$state" in running|degraded) break ;; esac
	sleep 0.2
done
expect_eq "the container booted systemd ($((SECONDS - start)) s)" running "$state"
[ "$state" = degraded ] && ct systemctl --failed --no-legend | sed 's/^/    /'
case "$state" in
running|degraded) ;;
*)	# say why: no leader to enter, or what the boot printed
	echo "    container leader: ${LEADER:-none found}; systemctl said: ${state:-nothing}"
	tail -20 "$T/console.log" | sed -e 's/\x1b\[[0-9;]*m//g' -e 's/^/    console: /'
	finish
	exit ;;
esac

# ---- the package, with apt (dependencies from the cached archive) ----
# (no network in the container: apt finds every .deb in its archive)
ct apt-get install -y -q "/root/t/$(basename "$DEB")" >"$T/apt.log" 2>&1
rc=$?
expect_eq "apt installs the .deb and what it depends on, offline" 0 "$rc"
[ "$rc" = 0 ] || { tail -20 "$T/apt.log"; finish; exit; }
check "its dependency procps (for the watch unit's /bin/kill) came with it" test -x "$ROOT/bin/kill"
expect_eq "the package made a local key, mode 600" 600 "$(stat -c %a "$ROOT/etc/relaysync/secret.key" 2>/dev/null)"
check "and relaysync's own directory in /etc/postfix" test -d "$ROOT/etc/postfix/relaysync"
ct systemd-analyze verify relaysync.service relaysync.timer relaysync-watch.service >"$T/verify.log" 2>&1
expect_eq "systemd-analyze verify passes in the container (no man-db there)" 0 "$?"
sed 's/^/    /' "$T/verify.log" | head -5

# ---- a slapd and a Postfix ----
ct sh -c 'mkdir -p /srv/slapd/db /srv/slapd/slapd.d &&
    slapadd -n0 -F /srv/slapd/slapd.d -l /root/t/config.ldif' >"$T/slapadd.log" 2>&1 ||
    cat "$T/slapadd.log"
ct systemd-run -q --unit=test-slapd /usr/sbin/slapd -d 0 -h "ldap://127.0.0.1:389/" \
    -F /srv/slapd/slapd.d
for _ in $(seq 1 50); do ct ldapsearch -x -H ldap://127.0.0.1 -s base -b "" >/dev/null 2>&1 && break; sleep 0.1; done
ldif_user() {	# ldif_user UID ADDRESS
	cat <<EOF
dn: uid=$1,ou=people,$BASE_DN
objectClass: inetOrgPerson
uid: $1
cn: $1
sn: $1
mail: $1@example.com

dn: relaysyncSendAsAddress=$2,uid=$1,ou=people,$BASE_DN
objectClass: relaysyncSendAs
relaysyncSendAsAddress: $2
relaysyncSmtpHost: smtp.partner.example
relaysyncSmtpPort: 587
relaysyncSmtpUsername: $2
relaysyncSmtpPassword: $1-gateway-SECRET
relaysyncVerified: TRUE

EOF
}
ldap_add() { ct ldapadd -x -H ldap://127.0.0.1 -D "$ADMIN_DN" -w "$ADMIN_PW" >>"$T/ldapadd.log" 2>&1; }
{
	cat <<EOF
dn: $BASE_DN
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ou=services,$BASE_DN
objectClass: organizationalUnit
ou: services

dn: $SVC_DN
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: relaysync
userPassword: $SVC_PW

dn: ou=people,$BASE_DN
objectClass: organizationalUnit
objectClass: relaysyncPolicy
ou: people
relaysyncAllowUserGateways: TRUE

EOF
	ldif_user alice alice@partner.example
} | ldap_add
expect_eq "slapd in the container holds the directory" 0 "$?"

printf '%s\n' "$SVC_PW" >"$ROOT/etc/relaysync/bind.password"
chmod 600 "$ROOT/etc/relaysync/bind.password"
sed -i -e 's|^  uri: .*|  uri: ldap://127.0.0.1|' -e 's|^  allow_plaintext: .*|  allow_plaintext: true|' \
    -e 's|^  internal_domains: .*|  internal_domains: [example.com]|' \
    "$ROOT/etc/relaysync/relaysync.yaml"
M=/etc/postfix/relaysync/tables
ct postconf -e "sender_dependent_relayhost_maps = lmdb:$M/sender_relay" \
    "smtp_sasl_password_maps = lmdb:$M/sasl_passwd" "smtp_tls_policy_maps = lmdb:$M/tls_policy" \
    "smtp_sender_dependent_authentication = yes" "inet_interfaces = loopback-only"
ct systemctl restart postfix
expect_eq "Postfix runs in the container" 0 "$(ct postfix status >/dev/null 2>&1; echo $?)"

# ---- relaysync.service under its hardening ----
ct systemctl start relaysync.service
expect_eq "relaysync.service succeeds" "ExecMainStatus=0 Result=success" \
    "$(ct systemctl show -p Result -p ExecMainStatus relaysync.service | sort | tr '\n' ' ' | sed 's/ $//')"
expect_eq "its tables are live (postmap -q through the link)" "[smtp.partner.example]:587" \
    "$(ct postmap -q alice@partner.example lmdb:$M/sender_relay)"
expect_eq "sasl_passwd is 0600" 600 "$(stat -L -c %a "$ROOT$M/sasl_passwd")"
ct journalctl -q -u relaysync.service -o cat >"$T/j1.log"
expect_grep "it reloaded Postfix" 'installed generation 1 in .*; Postfix reloaded' "$T/j1.log"
expect_no_grep "no error in its journal" 'error|warning' "$T/j1.log"

# ---- the timer fires (a drop-in makes it fire 1 s after it starts) ----
ldif_user bob bob@partner.example | ldap_add
mkdir -p "$ROOT/etc/systemd/system/relaysync.timer.d"
printf '[Timer]\nOnCalendar=\nOnActiveSec=1s\nRandomizedDelaySec=0\nPersistent=false\n' \
    >"$ROOT/etc/systemd/system/relaysync.timer.d/test.conf"
ct systemctl daemon-reload
ct systemctl start relaysync.timer
got=
for _ in $(seq 1 100); do
	got=$(ct postmap -q bob@partner.example lmdb:$M/sender_relay 2>/dev/null) && break
	sleep 0.1
done
expect_eq "the timer fired relaysync.service, which added bob's route" "[smtp.partner.example]:587" "$got"
ct systemctl stop relaysync.timer

# ---- relaysync-watch.service: a change within a second ----
mkdir -p "$ROOT/etc/systemd/system/relaysync-watch.service.d"
printf '[Service]\nWatchdogSec=4s\nRestartSec=1s\n' \
    >"$ROOT/etc/systemd/system/relaysync-watch.service.d/test.conf"
ct systemctl daemon-reload
ct systemctl start relaysync-watch.service
expect_eq "relaysync-watch is active (READY=1 after its first apply)" active \
    "$(ct systemctl is-active relaysync-watch.service)"
expect_grep "and says so in its status" 'tables current' <(ct systemctl show -p StatusText relaysync-watch.service)
t0=$(date +%s.%N)
ldif_user carol carol@partner.example | ldap_add
got=
for _ in $(seq 1 50); do
	got=$(ct postmap -q carol@partner.example lmdb:$M/sender_relay 2>/dev/null) && break
	sleep 0.05
done
took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }')
expect_eq "watch applied carol's new route" "[smtp.partner.example]:587" "$got"
check "within a second ($took s)" awk -v t="$took" 'BEGIN { exit !(t < 1.0) }'

# ---- applying fails: not healthy, retried, and recovers ----
chmod g+w "$ROOT$M.generations"	# now refused: a group could replace it
ldif_user dave dave@partner.example | ldap_add
status=
for _ in $(seq 1 50); do
	status=$(ct systemctl show -p StatusText --value relaysync-watch.service)
	case "$status" in FAILING*) break ;; esac
	sleep 0.1
done
expect_grep "a failing apply shows in the unit's status" '^FAILING: applying' <(echo "$status")
restarts=0
for _ in $(seq 1 100); do
	restarts=$(ct systemctl show -p NRestarts --value relaysync-watch.service)
	[ "${restarts:-0}" -gt 0 ] && break
	sleep 0.1
done
check "the watchdog fired and Restart= restarted it ($restarts restarts)" test "${restarts:-0}" -gt 0
ct journalctl -q -u relaysync-watch.service -o cat >"$T/jw.log"
expect_grep "the journal says the unit failed by its watchdog" 'Watchdog timeout' "$T/jw.log"
expect_grep "and why the apply failed, naming the path and the fix" \
    "refusing to write below $M.generations: it is writable by its group .*chmod go-w" "$T/jw.log"
expect_no_grep "no failed run reads like a success" 'sync failed: [0-9]+ added' "$T/jw.log"
chmod g-w "$ROOT$M.generations"
got=
for _ in $(seq 1 100); do
	got=$(ct postmap -q dave@partner.example lmdb:$M/sender_relay 2>/dev/null) && break
	sleep 0.1
done
expect_eq "once fixed, the retried apply installs dave's route" "[smtp.partner.example]:587" "$got"
for _ in $(seq 1 50); do
	[ "$(ct systemctl is-active relaysync-watch.service)" = active ] && break
	sleep 0.1
done
expect_eq "and the unit is active again" active "$(ct systemctl is-active relaysync-watch.service)"
ct systemctl stop relaysync-watch.service

# ---- a cron-environment run that changes the tables ----
ldif_user erin erin@partner.example | ldap_add
nsenter -t "$LEADER" -a env -i PATH=/usr/bin:/bin /usr/sbin/relaysync --quiet sync >"$T/cron.log" 2>&1
expect_eq "a sync in cron's environment (env -i PATH=/usr/bin:/bin) that changes the tables exits 0" 0 "$?"
sed 's/^/    /' "$T/cron.log" | head -5
expect_eq "and installed erin's route" "[smtp.partner.example]:587" \
    "$(ct postmap -q erin@partner.example lmdb:$M/sender_relay)"

# ---- the journal: each applied change once ----
ct journalctl -q -u relaysync.service -u relaysync-watch.service -o short-iso >"$T/journal.log"
for a in alice bob carol dave; do
	expect_eq "the journal holds \"added route $a@...\" once" 1 \
	    "$(grep -c "added route $a@partner.example via" "$T/journal.log")"
done
expect_no_grep "no fixture password in the journal" 'gateway-SECRET|bind-SECRET' "$T/journal.log"
hits=$(grep -rlaE 'gateway-SECRET' "$ROOT/var/lib/relaysync" "$ROOT/etc/postfix/relaysync" 2>/dev/null |
    grep -vE '/sasl_passwd(\.lmdb)?$')
expect_eq "no fixture password in state_dir or any file relaysync wrote but sasl_passwd and its index" "" "$hits"
echo "---- journal of relaysync.service and relaysync-watch.service ----"
sed 's/^/    /' "$T/journal.log"
echo "---- systemd-analyze security relaysync.service ----"
ct systemd-analyze security --no-pager relaysync.service 2>&1 | sed 's/^/    /'
echo "---- systemd-analyze security relaysync-watch.service (last line) ----"
ct systemd-analyze security --no-pager relaysync-watch.service 2>&1 | tail -1 | sed 's/^/    /'

# ---- purge ----
ct apt-get purge -y -q relaysync >"$T/purge.log" 2>&1
expect_eq "apt purges the package" 0 "$?"
left=$(cd "$ROOT" && ls -d var/lib/relaysync etc/postfix/relaysync* etc/relaysync 2>/dev/null)
expect_eq "purge removed /var/lib/relaysync, the tables and generations, /etc/relaysync" "" "$left"
echo "the booted-systemd test took $((SECONDS - start)) s"
finish
