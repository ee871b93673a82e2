#!/bin/bash
# README's "Deploy on a relay", executed: every fenced block marked
# <!-- walkthrough --> (or <!-- walkthrough: exit N -->) is extracted from
# README.md and run in order, against a slapd configured as Debian installs
# it (tests/fixtures/slapd-debian.ldif.in, with TLS) holding a small
# existing directory, a private Postfix configuration, and relaysync
# installed with make install into a private root. Paths and the server's
# address are rewritten to those; postconf and postfix are wrapped so that
# they only ever touch the private Postfix; systemctl is recorded. Then the
# outcome is checked: check-config passes both sides, the dry run has the
# table set pending, the first route is live with the decrypted password.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert ldap ldap.example.com 127.0.0.1
ROOT=$T/relay
PF=$T/postfix
GW_PW=partner-gw-SECRET-9

# --- the relay: the package's files, and a Postfix of its own ---
make -C "$TOP" -s install DESTDIR="$ROOT" PREFIX=/usr SYSCONFDIR=/etc \
    SYSTEMDUNITDIR=/lib/systemd/system >"$T/install.log" 2>&1 ||
    { not_ok "make install into $ROOT" "$(tail -5 "$T/install.log")"; finish; exit; }
mkdir -p "$PF/queue" "$PF/data"
chown postfix "$PF/data"
cp /etc/postfix/master.cf "$PF/master.cf"
cat >"$PF/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
myhostname = relay.example.com
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mydestination =
alias_maps =
alias_database =
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination
CF

# --- the directory server, as Debian installs it, with TLS ---
SLAPD_DIR=$T/slapd
SLAPD_PORT=$(free_port)
SLAPD_LDAPS_PORT=$(free_port)
SLAPD_LDAPI="ldapi://$(printf %s "$SLAPD_DIR/ldapi" | sed 's,/,%2F,g')"
mkdir -p "$SLAPD_DIR/db" "$SLAPD_DIR/slapd.d"
sed -e "s|@DBDIR@|$SLAPD_DIR/db|" -e "s|@PIDFILE@|$SLAPD_DIR/slapd.pid|" \
    -e "s|@ADMINPW@|$ADMIN_PW|" -e "s|@CA@|$CA/ca.crt|" -e "s|@CERT@|$CA/ldap.crt|" \
    -e "s|@KEY@|$CA/ldap.key|" "$TOP/tests/fixtures/slapd-debian.ldif.in" >"$SLAPD_DIR/config.ldif"
slapadd -n0 -F "$SLAPD_DIR/slapd.d" -l "$SLAPD_DIR/config.ldif" >"$SLAPD_DIR/slapadd.log" 2>&1 ||
    { not_ok "slapadd of the Debian-like cn=config" "$(cat "$SLAPD_DIR/slapadd.log")"; finish; exit; }
run_slapd && wait_port "$SLAPD_LDAPS_PORT" || exit 1
ldapadd -x -H "$SLAPD_LDAPI" -D "$ADMIN_DN" -w "$ADMIN_PW" >"$T/seed.log" 2>&1 <<LDIF ||
dn: $BASE_DN
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: ou=people,$BASE_DN
objectClass: organizationalUnit
ou: people

dn: ou=sales,ou=people,$BASE_DN
objectClass: organizationalUnit
ou: sales

dn: uid=user,ou=sales,ou=people,$BASE_DN
objectClass: inetOrgPerson
uid: user
cn: User Name
sn: Name
mail: user@example.com
userPassword: user-login-SECRET
LDIF
    { not_ok "the existing directory" "$(cat "$T/seed.log")"; finish; exit; }

# --- wrappers: Postfix commands touch only $PF; systemctl is recorded ---
mkdir -p "$T/bin"
cat >"$T/bin/postconf" <<SH
#!/bin/sh
[ "\$1" = -c ] && exec /usr/sbin/postconf "\$@"
exec /usr/sbin/postconf -c "$PF" "\$@"
SH
cat >"$T/bin/postfix" <<SH
#!/bin/sh
# the private Postfix is not started (the submission port is shared);
# "postfix reload" checks the configuration it would load instead
[ "\$*" = reload ] && exec /usr/sbin/postfix -c "$PF" check
exec /usr/sbin/postfix -c "$PF" "\$@"
SH
cat >"$T/bin/systemctl" <<SH
#!/bin/sh
echo "systemctl \$*" >>"$T/systemctl.log"
SH
cat >"$T/bin/relaysync" <<SH
#!/bin/sh
exec "$ROOT/usr/sbin/relaysync" --config "$ROOT/etc/relaysync/relaysync.yaml" "\$@"
SH
chmod 755 "$T/bin"/*

# --- the walkthrough, from README.md ---
python3 - "$TOP/README.md" "$T" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
steps = re.findall(r"<!-- walkthrough(?:: exit (\d+))? -->\n```sh\n(.*?)```", text, re.S)
for i, (code, body) in enumerate(steps, 1):
    open(f"{sys.argv[2]}/step-{i:02d}.sh", "w").write(body)
    open(f"{sys.argv[2]}/step-{i:02d}.rc", "w").write((code or "0") + "\n")
print(len(steps))
PY
nsteps=$(ls "$T"/step-*.sh 2>/dev/null | wc -l)
check "README has the walkthrough's marked blocks" test "$nsteps" -ge 10
printf '%s\n' "$GW_PW" >"$T/password"
for s in "$T"/step-*.sh; do
	n=$(basename "$s" .sh)
	sed -i -e "s|/root/|$T/|g" -e "s|ldapi:///|$SLAPD_LDAPI|g" \
	    -e "s|ldaps://ldap.example.com|ldaps://127.0.0.1:$SLAPD_LDAPS_PORT|g" \
	    -e "s|/etc/ssl/certs/ca-certificates.crt|$CA/ca.crt|g" \
	    -e "s|/etc/relaysync|$ROOT/etc/relaysync|g" \
	    -e "s|/usr/share/relaysync|$ROOT/usr/share/relaysync|g" \
	    -e "s|/var/lib/relaysync|$ROOT/var/lib/relaysync|g" \
	    -e "s|/etc/postfix|$PF|g" \
	    -e "s| -W| -w $ADMIN_PW|g" "$s"
	if grep -qE '(^|[^A-Za-z0-9_.%-])/(etc|var|root)/' "$s"; then
		not_ok "$n: a path outside the test remains; not run" "$(grep -E '/(etc|var|root)/' "$s")"
		continue
	fi
	PATH=$T/bin:$PATH bash -e "$s" <"$T/password" >"$T/$n.out" 2>&1
	rc=$?
	cat "$T/$n.out" >>"$T/all-output.log"
	expect_eq "README walkthrough $n ($(head -1 "$s" | cut -c1-50)...) exits $(cat "${s%.sh}.rc")" \
	    "$(cat "${s%.sh}.rc")" "$rc"
	[ "$rc" = "$(cat "${s%.sh}.rc")" ] || sed 's/^/    /' "$T/$n.out" | tail -15
done

# --- what the walkthrough leaves behind ---
all=$(cat "$T"/step-*.out)
case "$all" in *"check-config: ok"*) ok "check-config passes both sides after the walkthrough" ;;
*) not_ok "check-config passes both sides after the walkthrough" "$(grep -h -B3 'check-config:' "$T"/step-*.out)" ;; esac
check "the dry run said the table set would be created" \
    grep -qh "^pending   creating the table set in $PF/relaysync (no tables are installed yet)$" "$T"/step-*.out
check "the dry run's --diff showed the login with the password masked" \
    grep -qh '^+user.name@partner.example user.name@partner.example:\*\*\*\*\*\*\*\*$' "$T"/step-*.out
check "the first route is live in sender_relay" \
    grep -qx 'user.name@partner.example \[smtp.partner.example\]:587' "$PF/relaysync/sender_relay"
check "sasl_passwd has the password encrypt-secret was given" \
    grep -qx "user.name@partner.example user.name@partner.example:$GW_PW" "$PF/relaysync/sasl_passwd"
check "sender_login binds the route to its owner's login" \
    grep -qx 'user.name@partner.example user' "$PF/relaysync/sender_login"
check "status reported the applied run" grep -qh '^last run: .*: applied, exit 0, full read' "$T"/step-*.out
check "the timer was enabled" grep -qx 'systemctl enable --now relaysync.timer' "$T/systemctl.log"
check "the private Postfix takes the resulting configuration" /usr/sbin/postfix -c "$PF" check
check "the service account cannot read the user's login password" \
    test -z "$(ldapsearch -x -LLL -H "$SLAPD_LDAPI" -D "cn=relaysync,ou=services,$BASE_DN" \
    -y "$ROOT/etc/relaysync/bind.password" -b "uid=user,ou=sales,ou=people,$BASE_DN" -s base userPassword | grep userPassword)"
check "the example configuration file stayed private" test "$(stat -c %a "$ROOT/etc/relaysync/relaysync.yaml")" = 640
finish
