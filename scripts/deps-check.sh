#!/bin/bash
# make deps-check: the folders of lib/ depend one way (docs/ARCHITECTURE.md).
#  1. Every #include "folder/file.h" of lib/*/*.[ch] names an existing
#     lib/folder/file.h of a folder the including folder may use (RULES).
#     Nothing in lib/ includes a file of cmd/ or one outside lib/.
#  2. No file-level circle inside a folder: a.c includes b.h while b.c
#     includes a.h.
#  3. The same from the objects, when build/obj/ holds them (make deps-check
#     builds them first): a.o uses a symbol of b.o while b.o uses one of a.o.
# Prints every violation; exits 1 when there is one.
set -eu -o pipefail
cd "$(dirname "$0")/.." || exit 1

# folder: the folders its files may include ("*": any folder of lib/).
declare -A RULES=(
	[base]="base"
	[model]="base model"
	[etcd]="base model etcd status"
	[netlink]="base model netlink"
	[apply]="base model netlink apply status"
	[backend]="base model netlink apply backend ext udp wg ipsec status"
	[udp]="base model netlink udp status"
	[wg]="base model netlink wg status"
	[ipsec]="base model netlink ipsec status"
	[ext]="base model ext status"
	[status]="base model netlink status"
	[masq]="base model masq"
	[cni]="base model cni"
	[check]="base model etcd netlink apply backend status check"
	[server]="base model etcd server"
	[flanneld]="*"
)
rc=0

fail() {
	echo "deps-check: $*" >&2
	rc=1
}

# 1. includes against the rules
for f in lib/*/*.[ch]; do
	dir=${f#lib/}
	dir=${dir%%/*}
	if [ -z "${RULES[$dir]+set}" ]; then
		fail "$f: lib/$dir/ has no rule in scripts/deps-check.sh"
		continue
	fi
	allowed=" ${RULES[$dir]} "
	while IFS= read -r inc; do
		target=${inc#*\"}
		target=${target%%\"*}
		case $target in
		*/*) ;;
		*)
			fail "$f includes \"$target\": not a lib/folder/file.h"
			continue
			;;
		esac
		tdir=${target%%/*}
		if [ ! -e "lib/$target" ]; then
			fail "$f includes \"$target\": not a file of lib/ (cmd/ and others are off limits)"
		elif [ "$allowed" != " * " ] && [[ $allowed != *" $tdir "* ]]; then
			fail "$f includes \"$target\": lib/$dir/ may include only:${RULES[$dir]/#/ }"
		fi
	done < <(grep -E '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$f" || true)
done

# 2. include-level circles inside a folder: "a b" when a.c includes dir/b.h
edges=$(for f in lib/*/*.c; do
	dir=${f#lib/}
	dir=${dir%%/*}
	a=${f##*/}
	a=${a%.c}
	sed -n 's|^[[:space:]]*#[[:space:]]*include[[:space:]]*"'"$dir"'/\([^"/]*\)\.h".*|\1|p' "$f" |
		while IFS= read -r b; do
			if [ "$b" != "$a" ] && [ -e "lib/$dir/$b.c" ]; then
				echo "$dir $a $b"
			fi
		done
done | sort -u)
while read -r dir a b; do
	[ -n "$dir" ] || continue
	if [[ $a < $b ]] && grep -qxF "$dir $b $a" <<<"$edges"; then
		fail "circle: lib/$dir/$a.c includes $b.h and lib/$dir/$b.c includes $a.h"
	fi
done <<<"$edges"

# 3. symbol-level circles inside a folder, from the built objects
if [ -d build/obj ]; then
	for d in build/obj/*/; do
		objs=()
		# Only objects of sources that still exist (a removed file's lingers).
		for o in "$d"*.o; do
			src=${o#build/obj/}
			[ -e "lib/${src%.o}.c" ] && objs+=("$o")
		done
		[ "${#objs[@]}" -gt 0 ] || continue
		circles=$(nm -A "${objs[@]}" 2>/dev/null | awk '
			{ file = $1; sub(/:.*/, "", file); sub(/.*\//, "", file); sub(/\.o$/, "", file) }
			$(NF - 1) == "U" { use[file, $NF] = 1; next }
			$(NF - 1) ~ /^[TDBRVW]$/ { def[$NF] = file }
			END {
				for (k in use) {
					split(k, p, SUBSEP)
					if ((p[2] in def) && def[p[2]] != p[1])
						edge[p[1] " " def[p[2]]] = p[2]
				}
				for (e in edge) {
					split(e, q, " ")
					if (q[1] < q[2] && ((q[2] " " q[1]) in edge))
						printf "%s.c uses %s of %s.c and %s.c uses %s of %s.c\n",
						       q[1], edge[e], q[2], q[2], edge[q[2] " " q[1]], q[1]
				}
			}' | sort)
		while IFS= read -r line; do
			[ -n "$line" ] || continue
			fail "circle in lib/$(basename "$d")/: $line"
		done <<<"$circles"
	done
fi

[ "$rc" = 0 ] && echo "deps-check: clean"
exit "$rc"
