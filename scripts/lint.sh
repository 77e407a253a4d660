#!/bin/bash
# make lint: banned functions, shellcheck, mandoc warnings, the include
# rules of lib/ (deps-check.sh) and exit codes against the man pages
# (exits-check.sh).
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1
rc=0

banned='\b(strcpy|sprintf|strcat|gets|atoi|atol|system|popen|vsprintf|strtok)[[:space:]]*\('
if grep -nE "$banned" lib/*/*.c lib/*/*.h cmd/*.c tests/unit/*.c 2>/dev/null | grep -v 'lint: allow'; then
	echo "lint: banned function used (see STYLE.md)" >&2
	rc=1
fi

shfiles=$(find scripts contrib tests bench -type f \( -name '*.sh' -o -name '*.bash' \) 2>/dev/null)
if [ -n "$shfiles" ]; then
	# shellcheck disable=SC2086
	shellcheck -S warning $shfiles || rc=1
fi
for b in tests/*.bats tests/*/*.bats; do
	[ -e "$b" ] || continue
	shellcheck -S warning -s bash "$b" || rc=1
done

for m in man/*.[1-8]; do
	[ -e "$m" ] || continue
	out=$(mandoc -Tlint -W warning "$m" 2>&1)
	if [ -n "$out" ]; then
		echo "$out"
		rc=1
	fi
done

scripts/deps-check.sh || rc=1
scripts/exits-check.sh || rc=1

for u in systemd/*.service; do
	[ -e "$u" ] || continue
	grep -q '^RestartPreventExitStatus=64 65 77 78' "$u" ||
		{ echo "lint: $u lacks RestartPreventExitStatus=64 65 77 78" >&2; rc=1; }
done
[ "$rc" = 0 ] && echo "lint: clean"
exit "$rc"
