#!/bin/bash
# Headers as synopses: every agent/*.h opens with a comment stating its
# contract, and every prototype in it names each of its parameters (so that
# the comment can refer to them). A violation is printed as FILE:LINE with
# the prototype. The checker is first run on a synthetic header with each
# kind of violation, to show it can fail.
. "$(dirname "$0")/../lib.sh"

# check_headers HEADER...: one line per violation; status 1 when any.
check_headers() {
	python3 - "$@" <<'PY'
import re, sys
bad = 0
for path in sys.argv[1:]:
    text = open(path).read()
    name = path.rsplit('/', 1)[-1]
    if not text.startswith('/*\n * '):
        print(f'{name}:1: no opening comment stating the contract')
        bad = 1
    # blank out comments and preprocessor lines, keeping line numbers
    code = re.sub(r'/\*.*?\*/', lambda m: re.sub(r'[^\n]', ' ', m.group(0)),
                  text, flags=re.S)
    code = re.sub(r'^#.*$', '', code, flags=re.M)
    for m in re.finditer(r'^[A-Za-z_][^;{}()]*?\b(\w+)\s*\(((?:[^()]|\([^()]*\))*)\)[^;{}]*;',
                         code, flags=re.M):
        if m.group(0).startswith('typedef'):
            continue
        params, depth, cur = [], 0, ''
        for ch in m.group(2):
            depth += (ch == '(') - (ch == ')')
            if ch == ',' and depth == 0:
                params.append(cur); cur = ''
            else:
                cur += ch
        params.append(cur)
        for p in (' '.join(x.split()) for x in params):
            if p in ('void', '...'):
                continue
            if '(' in p:
                named = re.search(r'\(\s*\*\s*\w+\s*\)', p)
            else:
                toks = re.findall(r'\w+|\*', re.sub(r'\[[^\]]*\]', '', p))
                named = (len(toks) >= 2 and toks[-1] != '*' and
                         toks[-1] not in ('const', 'int', 'char', 'long', 'short',
                                          'unsigned', 'signed', 'double', 'size_t',
                                          'void') and
                         not (len(toks) == 2 and toks[0] in ('struct', 'enum', 'union')))
            if not named:
                line = code[:m.start()].count('\n') + 1
                print(f'{name}:{line}: {m.group(1)}(): parameter "{p}" has no name')
                bad = 1
sys.exit(bad)
PY
}

cat >"$T/good.h" <<'X'
/*
 * good - a header as it should be.
 */
typedef int (*good_fn)(void *, int);
int good_open(const char *path, struct good **out,
    int (*cb)(void *arg), size_t n, char *const argv[]);
void good_log(int level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void good_none(void);
X
check_headers "$T/good.h" >"$T/good.out"
expect_eq "a header with named parameters passes" "0:" "$?:$(cat "$T/good.out")"
cat >"$T/bad.h" <<'X'
#ifndef BAD_H
/* no contract */
int bad_open(const char *, struct bad *out);
void bad_free(struct bad *);
size_t bad_len(size_t);
void bad_cb(int (*)(void *));
X
check_headers "$T/bad.h" >"$T/bad.out"
expect_eq "a header with unnamed parameters fails" 1 "$?"
expect_grep "a missing contract comment is shown" '^bad\.h:1: no opening comment' "$T/bad.out"
expect_grep "an unnamed pointer is shown with its line" '^bad\.h:3: bad_open\(\): parameter "const char \*" has no name' "$T/bad.out"
expect_grep "an unnamed struct pointer is shown" '^bad\.h:4: bad_free\(\): parameter "struct bad \*"' "$T/bad.out"
expect_grep "an unnamed scalar is shown" '^bad\.h:5: bad_len\(\): parameter "size_t"' "$T/bad.out"
expect_grep "an unnamed function pointer is shown" '^bad\.h:6: bad_cb\(\)' "$T/bad.out"
expect_eq "each violation once" 5 "$(wc -l <"$T/bad.out")"

check_headers "$TOP"/agent/*.h >"$T/real.out"
rc=$?
expect_eq "every agent/*.h states its contract and names every parameter" "0:" "$rc:$(cat "$T/real.out")"
finish
