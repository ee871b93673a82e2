#!/bin/bash
# The layer order, checked mechanically: MODULES in the Makefile lists the
# modules of agent/ from the bottom layer up, and a module may include only
# its own header and the headers of modules before it (main.c, the top, may
# include any). Every agent/*.c and agent/*.h must belong to a module in
# MODULES (or be main.c). A violation is printed as FILE:LINE and what it
# includes. The checker is first run on synthetic trees, one clean and one
# with each kind of violation, to show it can fail.
. "$(dirname "$0")/../lib.sh"

# modules MAKEFILE: the words of MODULES, continuation lines joined.
modules() {
	awk '/^MODULES[ \t]*[:?]?=/ { on = 1; sub(/^MODULES[ \t]*[:?]?=/, "") }
	    on { cont = sub(/\\$/, ""); printf "%s ", $0; if (!cont) exit }' "$1"
}

# check_layers TREE: prints one line per violation; status 1 when any.
check_layers() {
	local tree=$1 m f base mod line inc bad=0 i=0
	local -A rank=()
	for m in $(modules "$tree/Makefile"); do
		if [ -n "${rank[$m]:-}" ]; then
			echo "Makefile: MODULES names $m twice"
			bad=1
		fi
		rank[$m]=$i
		i=$((i + 1))
	done
	rank[main]=$i	# above every module
	for f in "$tree"/agent/*.c "$tree"/agent/*.h; do
		[ -e "$f" ] || continue
		base=$(basename "$f")
		mod=${base%.*}
		if [ -z "${rank[$mod]:-}" ] || { [ "$mod" = main ] && [ "$base" != main.c ]; }; then
			echo "agent/$base: module $mod is not in MODULES; add it there, above every module it includes"
			bad=1
			continue
		fi
		while IFS=: read -r line inc; do
			inc=$(sed 's/^#[ \t]*include[ \t]*"\([^"]*\)".*/\1/' <<<"$inc")
			m=${inc%.h}
			if [ "$m" = "$inc" ] || [ "$m" = main ] || [ -z "${rank[$m]:-}" ]; then
				echo "agent/$base:$line: includes \"$inc\", which is no module's header in MODULES"
				bad=1
			elif [ "$m" != "$mod" ] && [ "${rank[$m]}" -ge "${rank[$mod]}" ]; then
				echo "agent/$base:$line: $mod includes \"$inc\", but $m is not below $mod in MODULES (upward or sideways)"
				bad=1
			fi
		done < <(grep -n '^#[ \t]*include[ \t]*"' "$f")
	done
	return $bad
}

# tree NAME MODULES FILE=TEXT...: a synthetic tree in $T/NAME.
tree() {
	local d=$T/$1 spec
	mkdir -p "$d/agent"
	printf 'CC = gcc\nMODULES = %s \\\n            last\nOTHER = x\n' "$2" >"$d/Makefile"
	shift 2
	for spec in "$@"; do
		printf '%b' "${spec#*=}" >"$d/agent/${spec%%=*}"
	done
	echo "$d"
}

good=$(tree good "low mid" \
    'low.h=/* low */\n#include <stdio.h>\n' 'low.c=#include "low.h"\n' \
    'mid.h=#include "low.h"\n' 'mid.c=#include "mid.h"\n#include "low.h"\n' \
    'last.c=#include "mid.h"\n' 'main.c=#include "last.h"\n#include "low.h"\n' \
    'last.h=#include "mid.h"\n')
check_layers "$good" >"$T/good.out"
expect_eq "a tree in layer order passes" "0:" "$?:$(cat "$T/good.out")"

bad=$(tree bad "low mid" \
    'low.h=\n' 'low.c=#include "low.h"\n/* x */\n#include "mid.h"\n' \
    'mid.h=#include "last.h"\n' 'mid.c=#include "mid.h"\n#include "util.h"\n' \
    'last.c=#include "main.h"\n' 'stray.c=#include "low.h"\n')
check_layers "$bad" >"$T/bad.out"
expect_eq "a tree out of layer order fails" 1 "$?"
expect_grep "an upward include is shown with file and line" \
    '^agent/low\.c:3: low includes "mid\.h", but mid is not below low' "$T/bad.out"
expect_grep "an include from a header counts too" \
    '^agent/mid\.h:1: mid includes "last\.h"' "$T/bad.out"
expect_grep "a header of no module is shown" \
    '^agent/mid\.c:2: includes "util\.h", which is no module' "$T/bad.out"
expect_grep "main's header is no module's" '^agent/last\.c:1: includes "main\.h"' "$T/bad.out"
expect_grep "a file outside MODULES is shown" '^agent/stray\.c: module stray is not in MODULES' "$T/bad.out"
expect_eq "each violation once" 5 "$(wc -l <"$T/bad.out")"

twice=$(tree twice "low low" 'low.c=\n')
check_layers "$twice" >"$T/twice.out"
expect_grep "a module named twice is shown" 'MODULES names low twice' "$T/twice.out"

expect_eq "MODULES is read across continuation lines" "util dn" \
    "$(modules "$TOP/Makefile" | awk '{ print $1, $2 }')"
check_layers "$TOP" >"$T/real.out"
rc=$?
expect_eq "agent/ includes only downward, in the order of MODULES" "0:" "$rc:$(cat "$T/real.out")"
finish
