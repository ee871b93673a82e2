#!/bin/bash
# TLS to LDAP is verified by default: ldaps:// and StartTLS against a slapd
# whose certificate comes from a test CA. With that CA in ldap.ca_file the
# connection works; without it, or with a host name the certificate does not
# name, the run is refused with exit 69 and nothing is written.
. "$(dirname "$0")/../lib.sh"

make_ca
make_cert ldap ldap.test 127.0.0.1
start_slapd || exit 1
ldap_load "$TOP/tests/fixtures/directory.ldif" || exit 1
enable_slapd_tls || exit 1
mkdir -p "$T/state"
MAP_DIR=$T/postfix/relaysync
TESTCA=$CA/ca.crt
SYSCA=/etc/ssl/certs/ca-certificates.crt

# tls_case DESCRIPTION EXPECTED_RC URI STARTTLS CA_FILE: a dry run (2: it
# read the directory and has the first table set pending; 69: refused).
tls_case() {
	LDAP_URI=$3 LDAP_STARTTLS=$4 LDAP_PLAIN=false LDAP_CA=$5 write_config "$T/tls.yaml"
	rs --config "$T/tls.yaml" sync --dry-run
	expect_eq "$1" "$2" "$RC"
}

# The certificate names ldap.test and 127.0.0.1; libldap checks "localhost"
# as the machine's canonical host name, which the certificate does not carry.
tls_case "ldaps:// with the test CA in ca_file connects (dry run, changes pending)" 2 "ldaps://127.0.0.1:$SLAPD_LDAPS_PORT" false "$TESTCA"
tls_case "ldaps:// without the CA (system bundle) is refused" 69 "ldaps://127.0.0.1:$SLAPD_LDAPS_PORT" false "$SYSCA"
expect_grep "the refusal names the server and ldap.ca_file" 'ldap ldaps://127.0.0.1:[0-9]+: .*ldap.ca_file' "$T/err"
tls_case "ldaps:// to a name the certificate does not carry is refused" 69 "ldaps://localhost:$SLAPD_LDAPS_PORT" false "$TESTCA"
tls_case "StartTLS with the test CA connects (dry run, changes pending)" 2 "ldap://127.0.0.1:$SLAPD_PORT" true "$TESTCA"
tls_case "StartTLS without the CA is refused" 69 "ldap://127.0.0.1:$SLAPD_PORT" true "$SYSCA"
expect_grep "the StartTLS refusal names the issuer and ldap.ca_file" "TLS: the server's certificate is not trusted: .*ldap.ca_file $SYSCA" "$T/err"
tls_case "StartTLS to a name the certificate does not carry is refused" 69 "ldap://localhost:$SLAPD_PORT" true "$TESTCA"
LDAP_URI=ldap://127.0.0.1:$SLAPD_PORT LDAP_PLAIN=false write_config "$T/plain.yaml"
rs --config "$T/plain.yaml" sync --dry-run
expect_eq "plain ldap:// without StartTLS or allow_plaintext is a config error" 78 "$RC"

LDAP_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT LDAP_PLAIN=false LDAP_CA=$TESTCA write_config "$T/ok.yaml"
rs --config "$T/ok.yaml" sync
expect_eq "a full sync over verified ldaps works" 0 "$RC"
expect_eq "it installed the three routes" 3 "$(grep -c . "$MAP_DIR/sender_relay" "$MAP_DIR/sender_transport" | awk -F: '{ n += $2 } END { print n }')"
before=$(tree_sum "$T/postfix")
LDAP_URI=ldaps://127.0.0.1:$SLAPD_LDAPS_PORT LDAP_PLAIN=false LDAP_CA=$SYSCA write_config "$T/bad.yaml"
rs --config "$T/bad.yaml" sync
expect_eq "an unverifiable server makes sync exit 69" 69 "$RC"
expect_eq "and leaves the tables untouched" "$before" "$(tree_sum "$T/postfix")"
finish
