#!/usr/bin/python3
"""Synthetic directory for relaysync's benchmark (tests/bench/run.sh).

gen.py N KEY_FILE > LDIF: N users spread over a nested OU tree of depth
5 (4 children per level, 1024 leaf OUs) under ou=people, a realistic mix of
allow and deny flags on OUs and on some users, about 1.5 send-as entries per
user (0 to 3), a fifth of them implicit TLS on port 465, 1% of the users
locked (ppolicy), every password an {AES256-GCM} value made with the first
key of KEY_FILE for its own address, as relaysync encrypt-secret ADDRESS
makes it (additional data: format version, key id, lower-cased address,
each NUL-terminated). Deterministic for a given N, but for the nonces.
"""
import base64
import os
import random
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

BASE = "dc=example,dc=com"
FORMAT = b"relaysync-secret-v2"


def first_key(path):
    """The first "<key-id> <64 hex digits>" line of a relaysync key file."""
    for line in open(path):
        if line.strip() and not line.startswith("#"):
            kid, hexkey = line.split()
            return kid, bytes.fromhex(hexkey)
    raise SystemExit(f"{path}: no key")


def encrypt(key, password, address):
    kid, raw = key
    aad = FORMAT + b"\0" + kid.encode() + b"\0" + address.lower().encode() + b"\0"
    nonce = os.urandom(12)
    sealed = AESGCM(raw).encrypt(nonce, password.encode(), aad)
    return "{AES256-GCM}" + kid + ":" + base64.b64encode(nonce + sealed).decode()

def ou_paths():
    """Every OU DN of the tree, parents first, and the leaves."""
    allous, level = [], [f"ou=people,{BASE}"]
    for depth in range(1, 6):
        nxt = []
        for parent in level:
            for k in range(4):
                dn = f"ou=l{depth}n{k},{parent}"
                allous.append((dn, depth))
                nxt.append(dn)
        level = nxt
    return allous, level


def main():
    n = int(sys.argv[1])
    key = first_key(sys.argv[2])
    rnd = random.Random(n)
    out = sys.stdout
    out.write(f"dn: {BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n")
    out.write(f"dn: ou=services,{BASE}\nobjectClass: organizationalUnit\nou: services\n\n")
    out.write(f"dn: cn=relaysync,ou=services,{BASE}\nobjectClass: organizationalRole\n"
              f"objectClass: simpleSecurityObject\ncn: relaysync\nuserPassword: relaysync-bind-SECRET\n\n")
    out.write(f"dn: ou=people,{BASE}\nobjectClass: organizationalUnit\nobjectClass: relaysyncPolicy\n"
              f"ou: people\nrelaysyncAllowUserGateways: TRUE\n\n")
    allous, leaves = ou_paths()
    for dn, depth in allous:
        rdn = dn.split(",", 1)[0].split("=", 1)[1]
        flag = ""
        r = rnd.random()
        if depth >= 2 and r < 0.08:
            flag = "FALSE"
        elif depth >= 3 and r < 0.12:
            flag = "TRUE"
        out.write(f"dn: {dn}\nobjectClass: organizationalUnit\n")
        if flag:
            out.write(f"objectClass: relaysyncPolicy\nrelaysyncAllowUserGateways: {flag}\n")
        out.write(f"ou: {rdn}\n\n")
    s = 0
    for i in range(n):
        leaf = leaves[i % len(leaves)]
        dn = f"uid=u{i},{leaf}"
        out.write(f"dn: {dn}\nobjectClass: inetOrgPerson\n")
        own = rnd.random()
        if own < 0.05:
            out.write(f"objectClass: relaysyncPolicy\nrelaysyncAllowUserGateways: "
                      f"{'TRUE' if own < 0.03 else 'FALSE'}\n")
        out.write(f"uid: u{i}\ncn: User {i}\nsn: {i}\nmail: u{i}@example.com\n")
        if rnd.random() < 0.01:
            out.write("pwdAccountLockedTime: 000001010000Z\n")
        out.write("\n")
        for j in range(rnd.choice((0, 1, 2, 3))):
            addr = f"u{i}.{j}@partner{(i + j) % 97}.example"
            ssl = rnd.random() < 0.2
            out.write(f"dn: relaysyncSendAsAddress={addr},{dn}\nobjectClass: relaysyncSendAs\n"
                      f"relaysyncSendAsAddress: {addr}\n"
                      f"relaysyncSmtpHost: smtp{(i + j) % 50}.partner{(i + j) % 97}.example\n"
                      f"relaysyncSmtpPort: {465 if ssl else 587}\n"
                      f"relaysyncSmtpSecurity: {'ssl' if ssl else 'starttls'}\n"
                      f"relaysyncSmtpUsername: u{i}.{j}\n"
                      f"relaysyncSmtpPassword: {encrypt(key, f'bench-pw-{s % 64}', addr)}\n"
                      f"relaysyncVerified: TRUE\n\n")
            s += 1


if __name__ == "__main__":
    main()
