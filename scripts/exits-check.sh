#!/bin/bash
# make lint: the exit codes each tool can return against the EXIT STATUS
# list of its man page (the ".It N" entries of man/<tool>.[1-8]); fails
# when they disagree either way.
#
# How the codes of a tool are found: its files are cmd/<tool>.c and every
# lib/*/*.c whose object the linker takes from build/libflannel.a for it
# (the link map: the tool's call chain, file by file).  Its codes are the
# EX_* names in those files outside comments, numbered as sysexits.h does,
# 1 for EXIT_FAILURE, and for every error kind the library returns
# (FL_ERR_*, lib/base/err.h) the code the mains map it to: the table
# exit_of in lib/base/cli.c (which is not scanned itself).  A bare number
# is not seen, so exit codes are written by name everywhere (EX_*, or
# EXIT_FAILURE for 1, in the mains; FL_ERR_* in the library).  This over-
# approximates (a file's every code counts for every tool linking it); a
# code a tool cannot reach is still worth a line in its man page, or the
# code belongs in a smaller file.  Where neither fits, UNREACHABLE names
# the codes a tool's files name but the tool cannot return, and says why.
set -eu -o pipefail
cd "$(dirname "$0")/.." || exit 1

[ -e build/libflannel.a ] || make -s -j2 build/libflannel.a >/dev/null
sysexits=$(printf '#include <sysexits.h>\n' | cpp -dM | sed -n 's/^#define \(EX_[A-Z]*\) \([0-9]*\)$/\1 \2/p')
sysexits+=$'\nEXIT_FAILURE 1'
# kind -> the name of its exit code, from the mains' one table
kinds=$(sed -n 's/^\t\[\(FL_ERR_[A-Z]*\)\] = \(EX_[A-Z]*\|EXIT_FAILURE\),$/\1 \2/p' lib/base/cli.c)
[ -n "$kinds" ] || { echo "exits-check: no exit_of table in lib/base/cli.c" >&2; exit 1; }
cflags=$(pkg-config --cflags jansson libmnl libcurl)
libs="$(pkg-config --libs jansson libmnl libssl libcrypto) -lpthread"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# tool: codes its files name that it cannot return (keep the why next to it)
declare -A UNREACHABLE=(
	# etcd_err's FL_ERR_FAILED and FL_ERR_PROTO (1 and 76): flanneld's config fetch waits on every
	# etcd status but 64 and 77, and etcd_open fails only with 64.
	# event_stream.c's 74 comes with the backend table (vxlan.o, apply.o):
	# flanneld runs the appliers as children, never their stdin loop.
	[flanneld]="1 74 76"
)
rc=0

# codes FILE...: the exit codes named in the files, one a line
codes() {
	sed -e 's|/\*.*\*/||g' -e '/^[[:space:]]*\(\*\|\/\*\)/d' -e 's|//.*||' "$@" |
		grep -oE '\bEX_[A-Z]+\b|\bEXIT_FAILURE\b|\bFL_ERR_[A-Z]+\b' | sort -u |
		while IFS= read -r name; do
			case $name in
			FL_ERR_*) name=$(awk -v n="$name" '$1 == n { print $2 }' <<<"$kinds") ;;
			esac
			[ -n "$name" ] && awk -v n="$name" '$1 == n { print $2 }' <<<"$sysexits"
		done | sort -nu
}

for main in cmd/*.c; do
	tool=${main##*/}
	tool=${tool%.c}
	man=
	for m in man/"$tool".[1-8]; do
		[ -e "$m" ] && man=$m
	done
	if [ -z "$man" ]; then
		echo "exits-check: $tool has no man page" >&2
		rc=1
		continue
	fi
	# shellcheck disable=SC2086 # word splitting of the flags is meant
	cc -std=c11 -D_GNU_SOURCE -DFLANNEL_VERSION='"0"' -Ilib $cflags -o "$tmp/bin" "$main" build/libflannel.a \
		$libs -ldl -Wl,-Map="$tmp/map"
	files=("$main")
	while IFS= read -r obj; do
		for f in lib/*/"$obj".c; do
			[ -e "$f" ] && [ "$f" != lib/base/cli.c ] && files+=("$f")
		done
	done < <(sed -n 's|^build/libflannel\.a(\([^)]*\)\.o).*|\1|p' "$tmp/map" | sort -u)
	found=$(codes "${files[@]}" | grep -vx 0 || true)
	for u in ${UNREACHABLE[$tool]-}; do
		found=$(grep -vx "$u" <<<"$found" || true)
	done
	listed=$(awk '/^\.Sh EXIT STATUS/ { f = 1; next } /^\.Sh/ { f = 0 }
		f && /^\.It [0-9]+$/ { print $2 }' "$man" | sort -nu | grep -vx 0 || true)
	missing=$(comm -23 <(echo "$found") <(echo "$listed") | tr '\n' ' ')
	extra=$(comm -13 <(echo "$found") <(echo "$listed") | tr '\n' ' ')
	if [ -n "${missing// /}" ]; then
		echo "exits-check: $tool can exit with ${missing% } but $man does not list it" >&2
		rc=1
	fi
	if [ -n "${extra// /}" ]; then
		echo "exits-check: $man lists ${extra% } but nothing in $tool's files returns it" >&2
		rc=1
	fi
done

[ "$rc" = 0 ] && echo "exits-check: clean"
exit "$rc"
