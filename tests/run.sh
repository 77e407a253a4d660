#!/bin/bash
# Runs the unit tests (TAP) given as arguments, then the bats end-to-end
# tests, and ends with the line "N passed, N failed, N skipped".
set -u -o pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0 failed=0 skipped=0
log=$(mktemp -d /tmp/flannel-check.XXXXXX)
trap 'rm -rf "$log"' EXIT

# count FILE: add the TAP results in FILE to the totals; "# uml: ok ..."
# lines are the results of tests run in a guest kernel (tests/uml.bats).
count() {
	local p f s
	p=$(grep -cE '^(# uml: )?ok ' "$1" | head -n1)
	s=$(grep -cE '^(# uml: )?ok .*# (skip|SKIP)' "$1" | head -n1)
	f=$(grep -cE '^(# uml: )?not ok ' "$1" | head -n1)
	passed=$((passed + p - s))
	skipped=$((skipped + s))
	failed=$((failed + f))
}

# The static checks count as one test: banned functions, shellcheck, mandoc,
# the include rules and man pages' EXIT STATUS against the code.
if [ -z "${SKIP_LINT:-}" ]; then
	echo "# lint"
	if scripts/lint.sh >"$log/lint.out" 2>&1; then
		echo "ok - make lint" >"$log/lint.tap"
	else
		cat "$log/lint.out"
		echo "not ok - make lint" >"$log/lint.tap"
	fi
	cat "$log/lint.tap"
	count "$log/lint.tap"
fi

for t in "$@"; do
	name=${t##*/}
	echo "# unit: $name"
	if ! timeout 300 "$t" >"$log/$name.tap" 2>"$log/$name.err"; then
		# A crash or sanitizer report counts as one more failure.
		if ! grep -q '^not ok' "$log/$name.tap"; then
			echo "not ok - $name exited abnormally" >>"$log/$name.tap"
		fi
		cat "$log/$name.err"
	fi
	grep -E '^(not ok|#)' "$log/$name.tap" || true
	count "$log/$name.tap"
done

# The allocation-failure sweep over the same unit tests: ALLOC_SWEEP_N
# (default 10) values of N per test in make check, spread over all of them
# (scripts/alloc-sweep.sh; make alloc-sweep tries every N); 0: not at all.
if [ "$#" -gt 0 ] && [ "${ALLOC_SWEEP_N:-10}" != 0 ]; then
	echo "# alloc-sweep: ${ALLOC_SWEEP_N:-10} allocations failed per test"
	scripts/alloc-sweep.sh -n "${ALLOC_SWEEP_N:-10}" "$@" >"$log/sweep.tap" 2>&1 || true
	cat "$log/sweep.tap"
	count "$log/sweep.tap"
fi

# The fuzzing harnesses, FUZZ_CHECK_S seconds each over their corpora, two
# at a time; each one TAP test.
if [ -n "${FUZZERS:-}" ] && [ "${FUZZ_CHECK_S:-30}" != 0 ]; then
	echo "# fuzz: ${FUZZ_CHECK_S:-30} s each"
	# shellcheck disable=SC2086
	tests/fuzz/run.sh "${FUZZ_CHECK_S:-30}" $FUZZERS >"$log/fuzz.tap" 2>&1
	cat "$log/fuzz.tap"
	count "$log/fuzz.tap"
fi

if [ -z "${SKIP_E2E:-}" ] && ls tests/*.bats >/dev/null 2>&1; then
	files=${BATS_FILES:-$(ls tests/*.bats)}
	# shellcheck disable=SC2086
	bats --tap --timing $files 2>&1 | tee "$log/bats.tap"
	count "$log/bats.tap"
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
