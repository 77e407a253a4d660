#!/bin/bash
# Allocation-failure sweep over the unit tests (issue 12).  Each test binary
# (built with ASan, UBSan and LeakSanitizer, and -DFL_ALLOC_ENV: see
# lib/base/mem.c) is run once with FAIL_ALLOC_COUNT=1 to learn K, the number
# of allocations it makes outside its own fl_alloc_fail_at sweeps, then once
# for each N in 1..K with FAIL_ALLOC_AT=N: the Nth allocation fails.  The
# test's own assertions may fail then (a clean error is what is expected);
# a crash, a timeout, a leak or any sanitizer report fails the sweep.
#
#   scripts/alloc-sweep.sh [-n SAMPLES] TEST...
#
# -n SAMPLES: at most SAMPLES values of N per test, spread evenly over 1..K
# (1 and K included); 0, the default, sweeps them all.  SWEEP_JOBS tests at
# once (default: one per core).  Prints one TAP line
# per test, and for a failure the value of N, the command to repeat it and
# the first lines of the report.
set -eu -o pipefail

samples=0
if [ "${1-}" = -n ]; then
	samples=$2
	shift 2
fi
[ "$#" -gt 0 ] || {
	echo "usage: $0 [-n SAMPLES] TEST..." >&2
	exit 64
}

tmp=$(mktemp -d /tmp/flannel-alloc-sweep.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0:exitcode=86
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1:exitcode=86
export LSAN_OPTIONS=exitcode=86
report='ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Leak|Undefined)'

# values K: the N to try, one a line
values() {
	local k=$1
	if [ "$samples" = 0 ] || [ "$k" -le "$samples" ]; then
		seq 1 "$k"
	elif [ "$samples" = 1 ]; then
		echo 1
	else
		awk -v k="$k" -v s="$samples" \
			'BEGIN { for (i = 0; i < s; i++) print 1 + int(i * (k - 1) / (s - 1)) }' | uniq
	fi
}

# sweep_one N TEST: TEST's TAP line (and for a failure the details) into
# $tmp/N.tap.  The tests use ephemeral ports and names of their own pid, so
# several run at once.
sweep_one() {
	local n=$1 t=$2 name k tried=0 bad='' v rc=0
	name=${t##*/}
	k=$(FAIL_ALLOC_COUNT=1 timeout 300 "$t" 2>&1 >/dev/null |
		sed -n 's/^fl_alloc: \([0-9]*\) allocations$/\1/p' | sort -n | tail -n 1 || true)
	if [ -z "$k" ]; then
		echo "ok $n - $name: no allocation through lib/base/mem.c # SKIP nothing to fail" >"$tmp/$n.tap"
		return 0
	fi
	for v in $(values "$k"); do
		tried=$((tried + 1))
		rc=0
		FAIL_ALLOC_AT=$v timeout 120 "$t" >"$tmp/$n.out" 2>"$tmp/$n.err" || rc=$?
		if [ "$rc" -ge 124 ] || [ "$rc" = 86 ] || grep -qE "$report" "$tmp/$n.err"; then
			bad=$v
			break
		fi
	done
	if [ -z "$bad" ]; then
		echo "ok $n - $name: $k allocations, $tried failed one at a time: 0 crashes, leaks or sanitizer reports" >"$tmp/$n.tap"
		return 0
	fi
	{
		echo "not ok $n - $name: allocation $bad of $k failed: exit status $rc"
		echo "#   repeat: FAIL_ALLOC_AT=$bad $t"
		grep -E -A12 "$report" "$tmp/$n.err" | head -n 24 | sed 's/^/#   /' || true
	} >"$tmp/$n.tap"
}

# SWEEP_JOBS (default: the number of cores) tests at a time, reported in order.
jobs_max=${SWEEP_JOBS:-$(nproc 2>/dev/null || echo 1)}
n=0
for t in "$@"; do
	n=$((n + 1))
	while [ "$(jobs -rp | wc -l)" -ge "$jobs_max" ]; do
		wait -n || true
	done
	sweep_one "$n" "$t" &
done
wait || true
failed=0
for i in $(seq 1 "$n"); do
	if [ ! -s "$tmp/$i.tap" ]; then
		echo "not ok $i - ${!i##*/}: the sweep itself stopped (see its stderr)" >"$tmp/$i.tap"
	fi
	cat "$tmp/$i.tap"
	if grep -q '^not ok' "$tmp/$i.tap"; then
		failed=$((failed + 1))
	fi
done
echo "1..$n"
[ "$failed" = 0 ]
