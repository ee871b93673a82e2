#!/bin/bash
# make bench: relaysync's speed against the floor, on synthetic directories.
#
# For each size in BENCH_SIZES (default "10000 100000") it loads a generated
# directory (tests/bench/gen.py) into a private slapd with slapadd and
# measures, with the optimised binary:
#   full    a first sync into an empty map directory (wall time, peak RSS)
#   floor   one paged ldapsearch (page size 500) of the same entries, the
#           union of the profile's filters with every attribute relaysync
#           reads, to /dev/null ("search"), plus postmap of copies of the
#           tables the full run wrote
#   noop    a second sync --full (nothing changed), against the search
#           alone; whether it wrote a generation or reloaded (it must not)
#   inoop   an incremental sync with nothing changed, against the search
#   change  an incremental sync after 100 changed send-as entries, against
#           the searches (and its peak RSS)
#   watch   WATCH_MODS (default 100) modifications one at a time, each timed
#           from ldapmodify's return until postmap -q shows it (p50/p99/max)
# and prints a table, the scaling from the first size to the last (time and
# peak RSS of the full run), and each goal of issue 14 at the last size,
# met or not; the figures, with the load average, go to
# build/bench/results.json.
. "$(dirname "$0")/../lib.sh"

RELAYSYNC=$TOP/build/relaysync
SIZES=${BENCH_SIZES:-10000 100000}
WATCH_MODS=${WATCH_MODS:-100}
OUT=${BENCH_OUT:-$TOP/build/bench}
mkdir -p "$OUT"
RESULTS=$OUT/results.json
: >"$OUT/rows.json"

now() { date +%s.%N; }
elapsed() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.3f", a - b }'; }	# seconds since START

# measure NAME CMD...: wall seconds in $SECS and peak RSS (KiB) in $RSS.
measure() {
	local name=$1
	shift
	/usr/bin/time -f '%e %M' -o "$T/$name.time" "$@" >"$T/$name.out" 2>"$T/$name.err"
	MRC=$?
	read -r SECS RSS <"$T/$name.time"
}

secret_key() {
	printf 'k1 %s\n' "$(openssl rand -hex 32)" >"$T/etc/secret.key"
	chmod 600 "$T/etc/secret.key"
}

# The floor's search: ONE paged search (ldap.page_size 500) for the union
# of the profile's filters (mappings/openldap.yaml: policy, users, send-as),
# with every attribute relaysync reads (the sync UUID, the disabled flag and
# the login names included), to /dev/null.
FLOOR_FILTER='(|(relaysyncAllowUserGateways=*)(objectClass=inetOrgPerson)(objectClass=relaysyncSendAs))'
FLOOR_ATTRS='entryUUID relaysyncAllowUserGateways mail uid pwdAccountLockedTime relaysyncSendAsAddress relaysyncSmtpHost relaysyncSmtpPort relaysyncSmtpSecurity relaysyncSmtpUsername relaysyncSmtpPassword relaysyncVerified'

floor_search() {
	local start
	start=$(now)
	# shellcheck disable=SC2086
	ldapsearch -x -LLL -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$SVC_DN" -w "$SVC_PW" \
	    -b "$BASE_DN" -E pr=500/noprompt "$FLOOR_FILTER" $FLOOR_ATTRS >/dev/null
	SEARCH=$(elapsed "$start")
}

floor_postmap() {	# postmap of copies of the tables the full run wrote
	local start t tables
	rm -rf "$T/pm"
	mkdir -p "$T/pm"
	tables=$(cd "$MAP_DIR/" && find . -maxdepth 1 -type f ! -name '*.*' -printf '%f\n' | sort)
	for t in $tables; do
		cp "$MAP_DIR/$t" "$T/pm/$t"
	done
	start=$(now)
	for t in $tables; do
		postmap -c /etc/postfix "lmdb:$T/pm/$t"
	done
	POSTMAP=$(elapsed "$start")
}

change_100() {	# 100 send-as entries get another host
	awk 'NR % 4 == 1 && n < 100 { n++; printf "dn: %s\nchangetype: modify\nreplace: relaysyncSmtpHost\nrelaysyncSmtpHost: changed%d.example\n\n", $0, n }' \
	    "$T/sendas.dns" | ldap_modify
}

watch_latency() {
	local i dn addr start lat before waited=0
	before=$(stat -c %y "$T/state/last-run" 2>/dev/null)
	"$RELAYSYNC" --config "$T/rs.yaml" watch >/dev/null 2>"$T/watch.err" &
	local w=$!
	# ready once its first refresh has been decided: it records the run
	# in state_dir/last-run
	while [ "$(stat -c %y "$T/state/last-run" 2>/dev/null)" = "$before" ]; do
		sleep 0.2
		waited=$((waited + 1))
		[ "$waited" -lt 3000 ] || { echo "watch: not ready after 600 s" >&2; break; }
	done
	: >"$T/latencies"
	# modify live routes only: a rejected entry's change shows in no table
	awk '{ print $1 }' "$MAP_DIR/sender_relay" >"$T/routed"
	for i in $(seq 1 "$WATCH_MODS"); do
		addr=$(sed -n "$((i * 7 % $(wc -l <"$T/routed") + 1))p" "$T/routed")
		dn=$(grep -m1 "^relaysyncSendAsAddress=$addr," "$T/sendas.dns")
		ldapmodify -x -H "ldap://127.0.0.1:$SLAPD_PORT" -D "$ADMIN_DN" -w "$ADMIN_PW" >/dev/null <<LDIF
dn: $dn
changetype: modify
replace: relaysyncSmtpHost
relaysyncSmtpHost: watch$i.example
LDIF
		start=$(now)
		until postmap -q "$addr" "lmdb:$MAP_DIR/sender_relay" 2>/dev/null | grep -q "watch$i.example" ||
		    postmap -q "$addr" "lmdb:$MAP_DIR/sender_transport" 2>/dev/null | grep -q "watch$i.example"; do
			sleep 0.01
			awk -v e="$(elapsed "$start")" 'BEGIN { exit !(e > 20) }' &&
			    { echo "watch: $addr not updated after 20 s" >&2; break; }
		done
		echo "$(elapsed "$start")" >>"$T/latencies"
	done
	kill -TERM "$w"
	wait "$w"
	sort -n "$T/latencies" >"$T/latencies.sorted"
	local n
	n=$(wc -l <"$T/latencies.sorted")
	P50=$(sed -n "$(((n + 1) / 2))p" "$T/latencies.sorted")
	P99=$(sed -n "$(((n * 99 + 99) / 100))p" "$T/latencies.sorted")
	MAX=$(tail -1 "$T/latencies.sorted")
}

bench_size() {
	local n=$1
	rm -rf "$T/slapd" "$T/postfix" "$T/state"
	mkdir -p "$T/state" "$T/etc"
	init_slapd || return 1
	MAP_DIR=$T/postfix/relaysync
	write_config "$T/rs.yaml"
	sed -i 's/^  reload: true$/  reload: false/' "$T/rs.yaml"
	[ -s "$T/etc/secret.key" ] || secret_key
	/usr/bin/python3 "$TOP/tests/bench/gen.py" "$n" "$T/etc/secret.key" >"$T/data.ldif"
	grep '^dn: relaysyncSendAsAddress=' "$T/data.ldif" | sed 's/^dn: //' >"$T/sendas.dns"
	local start
	start=$(now)
	slapadd -q -n1 -F "$SLAPD_DIR/slapd.d" -l "$T/data.ldif" >"$T/slapadd-data.log" 2>&1 ||
	    { cat "$T/slapadd-data.log"; return 1; }
	echo "n=$n: $(wc -l <"$T/sendas.dns") send-as entries loaded with slapadd in $(elapsed "$start") s" >&2
	run_slapd
	measure full "$RELAYSYNC" --config "$T/rs.yaml" --quiet sync
	FULL=$SECS FULL_RSS=$RSS
	ROUTES=$(cat "$MAP_DIR/sender_relay" "$MAP_DIR/sender_transport" | wc -l)
	floor_search
	floor_postmap
	FLOOR=$(awk -v a="$SEARCH" -v b="$POSTMAP" 'BEGIN { printf "%.3f", a + b }')
	GEN=$(readlink "$MAP_DIR")
	measure noop "$RELAYSYNC" --config "$T/rs.yaml" --format json sync --full
	NOOP=$SECS NOOP_RSS=$RSS
	NOOP_WROTE=$([ "$(readlink "$MAP_DIR")" = "$GEN" ] && echo no || echo yes)
	NOOP_RELOAD=$(grep -q '"reloaded":true' "$T/noop.out" && echo yes || echo no)
	measure inoop "$RELAYSYNC" --config "$T/rs.yaml" --quiet sync
	INOOP=$SECS
	GEN=$(readlink "$MAP_DIR")
	change_100
	measure change "$RELAYSYNC" --config "$T/rs.yaml" --verbose sync
	CHANGE=$SECS CHANGE_RSS=$RSS
	grep -q 'incremental read: 100 changed' "$T/change.err" ||
	    echo "n=$n: the run after 100 changes was not incremental" >&2
	CHANGE_WROTE=$([ "$(readlink "$MAP_DIR")" = "$GEN" ] && echo no || echo yes)
	watch_latency
	printf '{"users":%d,"routes":%d,"full_s":%s,"floor_s":%s,"search_s":%s,"postmap_s":%s,"full_rss_kib":%s,"noop_s":%s,"noop_rss_kib":%s,"noop_wrote_generation":"%s","noop_reloaded":"%s","incremental_noop_s":%s,"change100_s":%s,"change100_rss_kib":%s,"change100_wrote_generation":"%s","watch_mods":%d,"watch_p50_s":%s,"watch_p99_s":%s,"watch_max_s":%s}\n' \
	    "$n" "$ROUTES" "$FULL" "$FLOOR" "$SEARCH" "$POSTMAP" "$FULL_RSS" "$NOOP" "$NOOP_RSS" \
	    "$NOOP_WROTE" "$NOOP_RELOAD" "$INOOP" "$CHANGE" "$CHANGE_RSS" "$CHANGE_WROTE" "$WATCH_MODS" "$P50" "$P99" "$MAX" >>"$OUT/rows.json"
	stop_slapd
}

for n in $SIZES; do
	bench_size "$n" || exit 1
done
/usr/bin/python3 - "$OUT/rows.json" "$RESULTS" "$(cut -d' ' -f1-3 /proc/loadavg)" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
def ratio(a, b):
    return round(a / max(b, 1e-9), 3)
for r in rows:
    r["full_over_floor"] = ratio(r["full_s"], r["floor_s"])
    r["noop_over_search"] = ratio(r["noop_s"], r["search_s"])
    r["incremental_noop_over_search"] = ratio(r["incremental_noop_s"], r["search_s"])
    r["change100_over_search"] = ratio(r["change100_s"], r["search_s"])
    r["peak_rss_mib"] = round(max(r["full_rss_kib"], r["noop_rss_kib"], r["change100_rss_kib"]) / 1024, 1)
res = {"load_average": sys.argv[3], "sizes": rows}
if len(rows) >= 2:
    a, b = rows[0], rows[-1]
    res["scaling_users"] = [a["users"], b["users"]]
    res["scaling_full"] = ratio(b["full_s"], a["full_s"])
    res["scaling_full_rss"] = ratio(b["full_rss_kib"], a["full_rss_kib"])
# The goals of issue 14, judged at the largest size measured.
big = rows[-1]
goals = [("full / floor", big["full_over_floor"], 1.3),
         ("full no-op / search", big["noop_over_search"], 1.1),
         ("incremental no-op / search", big["incremental_noop_over_search"], 0.05),
         ("incremental 100 changes / search", big["change100_over_search"], 0.10),
         ("peak RSS of a full run, MiB", round(big["full_rss_kib"] / 1024, 1), 64),
         ("watch p99, s", big["watch_p99_s"], 1.0)]
scale = big["users"] / rows[0]["users"] if len(rows) >= 2 else 0
if len(rows) >= 2:
    goals += [("scaling of a full run in time", res["scaling_full"], scale),
              ("scaling of a full run in memory", res["scaling_full_rss"], scale)]
res["goals"] = [{"goal": g, "value": v, "limit": lim, "met": v <= lim} for g, v, lim in goals]
json.dump(res, open(sys.argv[2], "w"), indent=1)
hdr = ("users", "routes", "full s", "floor s", "full/floor", "full no-op s", "search s",
       "no-op/search", "no-op wrote/reloaded", "incr. no-op s", "incr. no-op/search",
       "incr. 100 changes s", "changes/search", "full RSS MiB", "peak RSS MiB",
       "watch p50 s", "p99 s", "max s")
print("| " + " | ".join(hdr) + " |")
print("|" + "---|" * len(hdr))
for r in rows:
    print("| %d | %d | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s/%s | %.2f | %.3f | %.2f | %.3f | %.1f | %.1f | %.3f | %.3f | %.3f |" % (
        r["users"], r["routes"], r["full_s"], r["floor_s"], r["full_over_floor"], r["noop_s"],
        r["search_s"], r["noop_over_search"], r["noop_wrote_generation"], r["noop_reloaded"],
        r["incremental_noop_s"], r["incremental_noop_over_search"], r["change100_s"],
        r["change100_over_search"], r["full_rss_kib"] / 1024, r["peak_rss_mib"],
        r["watch_p50_s"], r["watch_p99_s"], r["watch_max_s"]))
if len(rows) >= 2:
    print("scaling of the full sync, %d -> %d users: %.2fx in time, %.2fx in peak RSS" % (
        rows[0]["users"], rows[-1]["users"], res["scaling_full"], res["scaling_full_rss"]))
print("goals at %d users (load average %s):" % (big["users"], sys.argv[3]))
for g in res["goals"]:
    print("  %-36s %8s  limit %-6s %s" % (g["goal"], g["value"], g["limit"], "met" if g["met"] else "NOT MET"))
print("results: " + sys.argv[2])
PY
