#!/bin/bash
# Operating it like a Debian service: the .deb built by make deb installs,
# runs (--version, check-config against the test slapd), its systemd units
# pass systemd-analyze verify, its man pages pass mandoc -T lint, and it
# purges cleanly. make install honours DESTDIR and PREFIX.
. "$(dirname "$0")/../lib.sh"

DEB=$(ls "$TOP"/build/deb/relaysync_*_amd64.deb 2>/dev/null | head -1)
check "make deb built a package" test -n "$DEB"
if dpkg -s relaysync >/dev/null 2>&1; then
	not_ok "relaysync is already installed on this machine; not touching it"
	finish
	exit
fi
trap 'dpkg --purge relaysync >/dev/null 2>&1; cleanup' EXIT

dpkg -i "$DEB" >"$T/dpkg.log" 2>&1
expect_eq "the package installs" 0 "$?"
expect_eq "the installed binary runs" "relaysync 0.1.0" "$(/usr/sbin/relaysync --version)"
check "the mappings are installed" test -s /usr/share/relaysync/mappings/openldap.yaml \
    -a -s /usr/share/relaysync/mappings/active-directory.yaml -a -s /usr/share/relaysync/mappings/389ds.yaml
check "the schema is installed" test -s /usr/share/relaysync/schema/relaysync.ldif \
    -a -s /usr/share/relaysync/schema/relaysync.schema -a -s /usr/share/relaysync/schema/relaysync-ad.ldf \
    -a -s /usr/share/relaysync/mappings/active-directory-attributes.yaml
check "the 389-ds schema, ACI and schema-over-LDAP helper are installed" \
    test -s /usr/share/relaysync/schema/60relaysync.ldif \
    -a -s /usr/share/relaysync/schema/relaysync-aci.ldif \
    -a -s /usr/share/relaysync/schema/389ds-ldapmodify.awk
expect_eq "the example configuration is not world-readable" 640 "$(stat -c %a /etc/relaysync/relaysync.yaml)"
expect_grep "the configuration is a conffile" '^ /etc/relaysync/relaysync.yaml ' \
    <(dpkg-query -W -f='${Conffiles}\n' relaysync)
expect_eq "the state directory exists, mode 700" 700 "$(stat -c %a /var/lib/relaysync)"
check "the man pages are installed" test -s /usr/share/man/man8/relaysync.8.gz -a -s /usr/share/man/man5/relaysync.yaml.5.gz
check "bash completion is installed" test -s /usr/share/bash-completion/completions/relaysync
expect_eq "bash completion offers the commands" "rollback resume" "$(bash -c '
_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
	words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
. /usr/share/bash-completion/completions/relaysync
COMP_WORDS=(relaysync r); COMP_CWORD=1; _relaysync; echo "${COMPREPLY[*]}"')"
expect_eq "bash completion offers sync's options" "--dry-run --diff" "$(bash -c '
_init_completion() { cur=${COMP_WORDS[COMP_CWORD]}; prev=${COMP_WORDS[COMP_CWORD-1]}
	words=("${COMP_WORDS[@]}"); cword=$COMP_CWORD; }
. /usr/share/bash-completion/completions/relaysync
COMP_WORDS=(relaysync --config x.yaml sync --d); COMP_CWORD=4; _relaysync; echo "${COMPREPLY[*]}"')"
check "the systemd units are installed" test -s /lib/systemd/system/relaysync.service \
    -a -s /lib/systemd/system/relaysync.timer -a -s /lib/systemd/system/relaysync-watch.service
expect_grep "it depends on what its units run (procps: /bin/kill)" '(^|, )procps(,|$)' \
    <(dpkg-query -W -f='${Depends}\n' relaysync)
expect_eq "it made a local key, mode 600" 600 "$(stat -c %a /etc/relaysync/secret.key 2>/dev/null)"
check "and relaysync's own directory in /etc/postfix, where the shipped map_dir is" \
    test -d /etc/postfix/relaysync
expect_grep "the shipped map_dir" '^  map_dir: /etc/postfix/relaysync/tables ' /etc/relaysync/relaysync.yaml

start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
RELAY_PORT=$(free_port)
start_postfix
MAPPING=/usr/share/relaysync/mappings/openldap.yaml write_config "$T/rs.yaml"
RELAYSYNC=/usr/sbin/relaysync apply_postfix_config "$T/rs.yaml"
RELAYSYNC=/usr/sbin/relaysync rs --config "$T/rs.yaml" check-config --service "$SUBMIT_SERVICE"
expect_eq "the installed relaysync passes check-config against the test slapd and Postfix" 0 "$RC"
expect_grep "and binds" 'ldap: connected to .* and bound as cn=relaysync' "$T/out"

systemd-analyze verify /lib/systemd/system/relaysync.service /lib/systemd/system/relaysync.timer \
    /lib/systemd/system/relaysync-watch.service >"$T/analyze.log" 2>&1
expect_eq "systemd-analyze verify passes on the units" 0 "$?"
[ -s "$T/analyze.log" ] && sed 's/^/    /' "$T/analyze.log" | head -10
expect_grep "the service runs the installed binary" '^ExecStart=/usr/sbin/relaysync --quiet sync$' /lib/systemd/system/relaysync.service
expect_grep "the watch unit runs relaysync watch" '^ExecStart=/usr/sbin/relaysync watch$' /lib/systemd/system/relaysync-watch.service
expect_grep "the timer runs every five minutes" '^OnCalendar=\*:0/5$' /lib/systemd/system/relaysync.timer
lint=0
for page in /usr/share/man/man8/relaysync.8.gz /usr/share/man/man5/relaysync.yaml.5.gz; do
	zcat "$page" | mandoc -T lint -W warning >>"$T/mandoc.log" 2>&1 || lint=1
done
expect_eq "mandoc -T lint is clean on both installed man pages" 0 "$lint"
[ -s "$T/mandoc.log" ] && sed 's/^/    /' "$T/mandoc.log" | head -10
man_cmds=$(zcat /usr/share/man/man8/relaysync.8.gz | mandoc -T ascii | col -b)
missing=""
for w in sync verify explain watch encrypt-secret check-config postfix-config status rollback resume \
    --diff --dry-run --force --full \
    --format --verify --timeout --parallel --config --verbose --quiet --version --help \
    64 69 73 75 78; do
	case "$man_cmds" in *"$w"*) ;; *) missing="$missing $w" ;; esac
done
expect_eq "relaysync(8) documents every command, option and exit code" "" "$missing"
man_keys=$(zcat /usr/share/man/man5/relaysync.yaml.5.gz | mandoc -T ascii | col -b)
missing=""
for k in uri starttls allow_plaintext bind_dn bind_password_file sasl_mech base_dn ca_file timeout \
    page_size mapping default_allow internal_domains require_verified allow_insecure \
    require_gateway_check max_removals map_dir map_type config_dir tls_level tls_ca_file reload \
    key_file state_dir full_every metrics_file webhook_url layout disabled_filter window_ms \
    max_backoff command_directory allow_private_gateways uuid_attribute login_attribute; do
	case "$man_keys" in *"$k"*) ;; *) missing="$missing $k" ;; esac
done
expect_eq "relaysync.yaml(5) documents every key" "" "$missing"

# a run of the installed relaysync in the package's layout, so that purge
# has a state directory and generations to remove
MAP_DIR=/etc/postfix/relaysync/tables STATE_DIR=/var/lib/relaysync RELOAD=false \
    MAPPING=/usr/share/relaysync/mappings/openldap.yaml write_config "$T/pkg.yaml"
RELAYSYNC=/usr/sbin/relaysync rs --config "$T/pkg.yaml" sync
expect_eq "the installed relaysync syncs into the package's layout" 0 "$RC"
check "state and generations are there" test -s /var/lib/relaysync/snapshot \
    -a -L /etc/postfix/relaysync/tables -a -d /etc/postfix/relaysync/tables.generations/1

dpkg --purge relaysync >"$T/purge.log" 2>&1
expect_eq "the package purges" 0 "$?"
check "purge removed the binary, the configuration and the state directory" \
    test ! -e /usr/sbin/relaysync -a ! -e /etc/relaysync -a ! -e /lib/systemd/system/relaysync.service
left=$(ls -d /var/lib/relaysync /etc/postfix/relaysync* 2>/dev/null)
expect_eq "purge removed /var/lib/relaysync and the tables and generations relaysync made" "" "$left"

# make install with DESTDIR and PREFIX, from the source tree
make -C "$TOP" -s install DESTDIR="$T/root" PREFIX=/opt/relaysync >"$T/install.log" 2>&1
expect_eq "make install DESTDIR=... PREFIX=/opt/relaysync succeeds" 0 "$?"
check "the binary is under the prefix" test -x "$T/root/opt/relaysync/sbin/relaysync"
expect_grep "the unit runs the binary under the prefix" '^ExecStart=/opt/relaysync/sbin/relaysync ' \
    "$T/root/opt/relaysync/lib/systemd/system/relaysync.service"
expect_grep "the example configuration points to the prefix's mappings" \
    '^mapping: /opt/relaysync/share/relaysync/mappings/openldap.yaml$' "$T/root/opt/relaysync/etc/relaysync/relaysync.yaml"
check "the man pages are under the prefix" test -s "$T/root/opt/relaysync/share/man/man8/relaysync.8"
finish
