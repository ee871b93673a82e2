#!/usr/bin/python3
"""churn.py: random directory changes, each followed by an incremental
and a full relaysync run, whose tables must be byte for byte the same.

usage: churn.py SEED STEPS URI ADMIN_DN ADMIN_PW BASE_DN \
           RELAYSYNC INC_CONFIG INC_MAPDIR FULL_CONFIG FULL_MAPDIR LOG

Each step picks one change (send-as entries added, modified, renamed,
deleted; OU flags set, flipped, removed; users added, deleted, locked,
unlocked, moved to another OU with their send-as entries; OUs renamed with
everything below them; mail changed), applies it with ldapmodify, runs
"relaysync sync" with INC_CONFIG (incremental when it can) and
"relaysync sync --full" with FULL_CONFIG, and compares the text tables and
the owners file, and the JSON reports (every added, changed, removed and
rejected route; all but how each run read the directory), and checks that each index of the incremental side (which
may have been patched rather than rebuilt) holds exactly the lines of its
text. It prints one line per step to LOG and, at the end,
"steps=N equal=N incremental=N full=N" on standard output, where
incremental counts the runs whose JSON report says "read": "incremental";
the exit status is 0 when every step compared equal. CHURN_LOCK in the
environment is the attribute and value that lock a user (default
pwdAccountLockedTime:000001010000Z, OpenLDAP's ppolicy; 389-ds:
nsAccountLock:TRUE). With CHURN_DIALECT=ad the directory is Active
Directory with relaysync's schema (mappings/active-directory.yaml): users
are CN=...,OU=... entries of class user, send-as entries CN=ADDRESS below
them, locks flip userAccountControl's bit 2, and only what is below
CHURN_ROOT (an OU) is touched.
"""
import json
import os
import random
import subprocess
import sys

(SEED, STEPS, URI, ADMIN, PW, BASE, RS, INC_CONF, INC_DIR, FULL_CONF,
 FULL_DIR, LOG) = sys.argv[1:13]
rnd = random.Random(int(SEED))
TABLES = ["sender_relay", "sender_transport", "sasl_passwd", "tls_policy",
          "sender_access", "sender_login"]
FILES = TABLES + ["owners"]
ADDRS = [f"p{i}@partner{i % 3}.example" for i in range(14)] + \
    ["x@example.com", "Mixed.Case@Partner0.example", "bad address"]
HOSTS = ["smtp.partner.example", "smtp2.partner.example", "[192.0.2.7]",
         "mx.other.example", "bad host!"]
PORTS = ["25", "587", "465", "2525", "0", "abc"]
SECURITY = ["starttls", "ssl", "none", "bogus"]
LOCK_ATTR, LOCK_VALUE = os.environ.get(
    "CHURN_LOCK", "pwdAccountLockedTime:000001010000Z").split(":", 1)
log = open(LOG, "w")
counter = [0]
AD = os.environ.get("CHURN_DIALECT") == "ad"
ROOT = os.environ.get("CHURN_ROOT", BASE)


def search(flt, attrs="1.1"):
    out = subprocess.run(
        ["ldapsearch", "-x", "-LLL", "-o", "ldif-wrap=no", "-H", URI, "-D", ADMIN,
         "-w", PW, "-b", ROOT, flt] + attrs.split(),
        capture_output=True, text=True, check=True).stdout
    entries = []
    for block in out.strip().split("\n\n"):
        lines = [l for l in block.split("\n") if l and not l.startswith("#")]
        if not lines or not lines[0].startswith("dn: "):
            continue
        e = {"dn": lines[0][4:]}
        for l in lines[1:]:
            k, _, v = l.partition(": ")
            e.setdefault(k.lower(), []).append(v)
        entries.append(e)
    return entries


def modify(ldif):
    log.write(ldif + "\n")
    r = subprocess.run(["ldapmodify", "-x", "-c", "-H", URI, "-D", ADMIN, "-w", PW],
                       input=ldif, capture_output=True, text=True)
    if r.returncode != 0:
        log.write(f"ldapmodify: {r.returncode} {r.stderr.strip()}\n")


def users():
    if AD:
        return search("(&(objectClass=user)(objectCategory=person))", "mail userAccountControl")
    return search("(objectClass=inetOrgPerson)", "mail " + LOCK_ATTR)


def sendas():
    return search("(objectClass=relaysyncSendAs)")


def ous():
    return [o for o in search("(objectClass=organizationalUnit)", "objectClass relaysyncAllowUserGateways")
            if not o["dn"].lower().startswith("ou=services,")]


def pick(seq):
    return rnd.choice(seq) if seq else None


def unique():
    counter[0] += 1
    return f"{SEED}x{counter[0]}"


def sendas_dn(addr, owner):
    return f"{'CN' if AD else 'relaysyncSendAsAddress'}={addr},{owner}"


def sendas_ldif(dn):
    lines = [f"dn: {dn}", "changetype: add", "objectClass: relaysyncSendAs",
             f"relaysyncSendAsAddress: {dn.split(',')[0].split('=', 1)[1]}"]
    if rnd.random() < 0.9:
        lines.append(f"relaysyncSmtpHost: {rnd.choice(HOSTS)}")
    lines.append(f"relaysyncSmtpPort: {rnd.choice(PORTS)}")
    lines.append(f"relaysyncSmtpSecurity: {rnd.choice(SECURITY)}")
    if rnd.random() < 0.7:
        lines.append(f"relaysyncSmtpUsername: user{rnd.randint(1, 5)}")
        lines.append(f"relaysyncSmtpPassword: pw-{rnd.randint(1, 5)}")
    return "\n".join(lines) + "\n"


def op_add_sendas():
    u = pick(users())
    if u is None:
        return
    addr = rnd.choice(ADDRS)
    if addr == "bad address":
        addr = "bad\\2Caddress@x.example"
    modify(sendas_ldif(sendas_dn(addr, u["dn"])))


def op_modify_sendas():
    s = sendas()
    if not s:
        return op_add_sendas()
    dn = rnd.choice(s)["dn"]
    attr, vals = rnd.choice([("relaysyncSmtpHost", HOSTS), ("relaysyncSmtpPort", PORTS),
                             ("relaysyncSmtpSecurity", SECURITY),
                             ("relaysyncSmtpUsername", ["user1", "user2"]),
                             ("relaysyncSmtpPassword", ["pw-1", "pw-9"])])
    if rnd.random() < 0.15:
        modify(f"dn: {dn}\nchangetype: modify\ndelete: {attr}\n")
    else:
        modify(f"dn: {dn}\nchangetype: modify\nreplace: {attr}\n{attr}: {rnd.choice(vals)}\n")


def op_delete_sendas():
    s = sendas()
    if s:
        modify(f"dn: {pick(s)['dn']}\nchangetype: delete\n")


def op_rename_sendas():
    s = sendas()
    if s:
        addr = rnd.choice(ADDRS[:14])
        modify(f"dn: {rnd.choice(s)['dn']}\nchangetype: modrdn\n"
               f"newrdn: {sendas_dn(addr, '').rstrip(',')}\ndeleteoldrdn: 1\n")


def op_flag():
    o = pick(ous())
    if o is None:
        return
    has_class = "relaysyncPolicy" in o.get("objectclass", [])
    r = rnd.random()
    if not has_class:
        modify(f"dn: {o['dn']}\nchangetype: modify\nadd: objectClass\nobjectClass: relaysyncPolicy\n-\n"
               f"add: relaysyncAllowUserGateways\nrelaysyncAllowUserGateways: {rnd.choice(['TRUE', 'FALSE'])}\n")
    elif r < 0.2 and "relaysyncallowusergateways" in o:
        modify(f"dn: {o['dn']}\nchangetype: modify\ndelete: relaysyncAllowUserGateways\n")
    else:
        modify(f"dn: {o['dn']}\nchangetype: modify\nreplace: relaysyncAllowUserGateways\n"
               f"relaysyncAllowUserGateways: {rnd.choice(['TRUE', 'FALSE', 'TRUE'])}\n")


def op_lock():
    u = pick(users())
    if u is None:
        return
    if AD:
        uac = int(u.get("useraccountcontrol", ["544"])[0]) ^ 2
        modify(f"dn: {u['dn']}\nchangetype: modify\nreplace: userAccountControl\nuserAccountControl: {uac}\n")
    elif LOCK_ATTR.lower() in u:
        modify(f"dn: {u['dn']}\nchangetype: modify\ndelete: {LOCK_ATTR}\n")
    else:
        modify(f"dn: {u['dn']}\nchangetype: modify\nadd: {LOCK_ATTR}\n{LOCK_ATTR}: {LOCK_VALUE}\n")


def op_mail():
    u = pick(users())
    if u is None:
        return
    modify(f"dn: {u['dn']}\nchangetype: modify\nreplace: mail\nmail: {rnd.choice(['a', 'b', 'c'])}{unique()}@example.com\n")


def op_add_user():
    o = pick(ous())
    if o is None:
        return
    uid = "u" + unique()
    if AD:
        modify(f"dn: CN={uid},{o['dn']}\nchangetype: add\nobjectClass: user\nsAMAccountName: {uid}\n"
               f"userAccountControl: 544\nmail: {uid}@example.com\n")
        return
    modify(f"dn: uid={uid},{o['dn']}\nchangetype: add\nobjectClass: inetOrgPerson\nuid: {uid}\n"
           f"cn: {uid}\nsn: {uid}\nmail: {uid}@example.com\n")


def op_delete_user():
    u = pick(users())
    if u is None:
        return
    if u["dn"].lower().startswith("cn=relaysync,"):
        return
    kids = [s["dn"] for s in sendas() if s["dn"].lower().endswith("," + u["dn"].lower())]
    modify("".join(f"dn: {k}\nchangetype: delete\n\n" for k in kids) +
           f"dn: {u['dn']}\nchangetype: delete\n")


def op_move_user():
    u = pick(users())
    if u is None:
        return
    o = pick(ous())
    if u["dn"].lower().endswith("," + o["dn"].lower()):
        return
    rdn = u["dn"].split(",")[0]
    modify(f"dn: {u['dn']}\nchangetype: modrdn\nnewrdn: {rdn}\ndeleteoldrdn: 1\nnewsuperior: {o['dn']}\n")


def op_rename_ou():
    o = pick(ous())
    if o is None:
        return
    if o["dn"].lower() == ROOT.lower():
        return
    modify(f"dn: {o['dn']}\nchangetype: modrdn\nnewrdn: ou=ou{unique()}\ndeleteoldrdn: 1\n")


OPS = [(op_add_sendas, 4), (op_modify_sendas, 5), (op_delete_sendas, 2), (op_rename_sendas, 1),
       (op_flag, 3), (op_lock, 1), (op_mail, 1), (op_add_user, 2), (op_delete_user, 1),
       (op_move_user, 2), (op_rename_ou, 1)]


def run(conf, *extra):
    r = subprocess.run([RS, "--config", conf, "--verbose", "sync", "--format", "json", *extra],
                       capture_output=True, text=True)
    return r.returncode, r.stdout, r.stderr


def index_holds_text(d):
    """Each lmdb index below d holds exactly the lines of its text."""
    for f in TABLES:
        try:
            text = sorted(l for l in open(f"{d}/{f}").read().split("\n") if l)
        except FileNotFoundError:
            continue
        dump = subprocess.run(["postmap", "-s", f"lmdb:{d}/{f}"], capture_output=True,
                              text=True).stdout
        if sorted(l.replace("\t", " ", 1) for l in dump.split("\n") if l) != text:
            log.write(f"{f}: the index does not hold the lines of its text\n")
            return False
    return True


def tables(d):
    out = {}
    for f in FILES:
        try:
            out[f] = open(f"{d}/{f}", "rb").read()
        except FileNotFoundError:
            out[f] = None
    return out


def decisions(report):
    """The JSON report without how the run read the directory."""
    try:
        r = json.loads(report)
    except ValueError:
        return report
    return {k: v for k, v in r.items() if not k.startswith("read")}


def read_mode(report):
    try:
        return json.loads(report).get("read")
    except ValueError:
        return None


equal = incremental = full = 0
steps = int(STEPS)
for step in range(1, steps + 1):
    op = rnd.choices([o for o, _ in OPS], [w for _, w in OPS])[0]
    n = 1 + (rnd.random() < 0.3) * rnd.randint(1, 4)	# sometimes a burst
    for _ in range(n):
        op = rnd.choices([o for o, _ in OPS], [w for _, w in OPS])[0]
        log.write(f"# step {step}: {op.__name__}\n")
        op()
    rc1, report1, out1 = run(INC_CONF)
    rc2, report2, out2 = run(FULL_CONF, "--full")
    inc = read_mode(report1) == "incremental"
    incremental += inc
    full += not inc
    same = (tables(INC_DIR) == tables(FULL_DIR) and rc1 == rc2
            and decisions(report1) == decisions(report2)
            and index_holds_text(INC_DIR))
    equal += same
    log.write(f"# step {step}: rc {rc1}/{rc2} {'incremental' if inc else 'full'} "
              f"{'equal' if same else 'DIFFERENT'}\n")
    if not same:
        log.write(report1 + out1 + "\n----\n" + report2 + out2 + "\n")
        for f in FILES:
            a, b = tables(INC_DIR)[f], tables(FULL_DIR)[f]
            if a != b:
                log.write(f"{f} differs:\n--- incremental\n{a}\n--- full\n{b}\n")
print(f"steps={steps} equal={equal} incremental={incremental} full={full}")
sys.exit(0 if equal == steps else 1)
