#!/bin/bash
# tests/fuzz/run.sh SECONDS FUZZER...: runs each libFuzzer harness for
# SECONDS over its seed corpus (tests/fuzz/corpus/NAME, replayed first) and
# its dictionary (tests/fuzz/NAME.dict), two at a time, and prints one TAP
# line per harness.  New inputs go to build/fuzz/corpus/NAME, findings to
# build/fuzz/crash/.  Exits 1 when any harness found something.
set -u -o pipefail
cd "$(dirname "$0")/../.." || exit 1

secs=${1:?usage: tests/fuzz/run.sh SECONDS FUZZER...}
shift
[ "$#" -gt 0 ] || { echo "tests/fuzz/run.sh: no harness given" >&2; exit 64; }
mkdir -p build/fuzz/crash build/fuzz/log

# one NAME BIN: run one harness; its log in build/fuzz/log/NAME.log.
one() {
	local name=$1 bin=$2 dict=() seeds="tests/fuzz/corpus/$1" work="build/fuzz/corpus/$1"
	mkdir -p "$work"
	[ -f "tests/fuzz/$name.dict" ] && dict=(-dict="tests/fuzz/$name.dict")
	# Bounded: libFuzzer's own time limit, and timeout(1) in case it hangs.
	timeout $((secs + 60)) "$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=1536 \
		-max_len=65536 -print_final_stats=1 -artifact_prefix="build/fuzz/crash/$name-" \
		"${dict[@]}" "$work" "$seeds" >"build/fuzz/log/$name.log" 2>&1
	echo $? >"build/fuzz/log/$name.rc"
}

n=0 failed=0 pids=()
names=()
for bin in "$@"; do
	names+=("${bin##*/}")
done
i=0
while [ "$i" -lt "$#" ]; do
	bins=("$@")
	one "${names[$i]}" "${bins[$i]}" &
	pids=("$!")
	if [ $((i + 1)) -lt "$#" ]; then
		one "${names[$((i + 1))]}" "${bins[$((i + 1))]}" &
		pids+=("$!")
	fi
	wait "${pids[@]}"
	i=$((i + 2))
done
for name in "${names[@]}"; do
	n=$((n + 1))
	log="build/fuzz/log/$name.log"
	rc=$(cat "build/fuzz/log/$name.rc" 2>/dev/null || echo 1)
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n1)
	corp=$(find "build/fuzz/corpus/$name" -type f | wc -l)
	if [ "$rc" -eq 0 ] && [ -n "$runs" ]; then
		echo "ok $n - $name: ${secs} s, $runs runs, 0 crashes, corpus $corp"
	else
		failed=$((failed + 1))
		echo "not ok $n - $name: exit $rc, findings in build/fuzz/crash/$name-*"
		grep -E 'ERROR|SUMMARY|==[0-9]+==|Test unit written|deadly signal' "$log" | head -n 20 |
			sed 's/^/# /'
	fi
done
echo "1..$n"
[ "$failed" -eq 0 ]
