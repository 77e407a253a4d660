#!/usr/bin/env bats
# The guest-kernel harness, tests/uml/run.sh: a user-mode-linux guest runs a
# test file and hands back its TAP output and exit code; nothing is left
# behind.  The last test runs tests/uml/smoke.bats in the guest and forwards
# its results as "# uml: ok ..." lines, which tests/run.sh counts.
# shellcheck disable=SC2154 # $stderr comes from run --separate-stderr

load helpers
bats_require_minimum_version 1.5.0

RUN_UML="$BATS_TEST_DIRNAME/uml/run.sh"

need_uml() {
	command -v linux.uml >/dev/null ||
		require "needs linux.uml (Debian package user-mode-linux; scripts/deps.sh installs it)"
	command -v modprobe >/dev/null ||
		require "needs modprobe for the guest's modules (Debian package kmod; scripts/deps.sh installs it)"
}

# leftovers: the harness's files in our TMPDIR and its processes, if any.
leftovers() {
	find "$BATS_TEST_TMPDIR" -maxdepth 1 -name 'flannel-uml-*'
	ps -eo pid=,args= | grep -F -- "$BATS_TEST_TMPDIR/flannel-uml-" | grep -v -e grep -e ' ps ' || true
}

@test "run.sh without linux.uml: exit 69 and the package to install" {
	run -69 env UML_LINUX=/nonexistent/linux.uml "$RUN_UML" "$BATS_TEST_DIRNAME/uml/smoke.bats"
	echo "$output"
	[[ $output == *"/nonexistent/linux.uml not found"*"user-mode-linux"* ]]
	run -64 "$RUN_UML"
	[[ $output == *"usage:"* ]]
	run -66 "$RUN_UML" "$BATS_TEST_TMPDIR/none.bats"
	[[ $output == *"none.bats: no such test file"* ]]
}

@test "run.sh: an executable test's TAP, arguments, environment and exit code come back; boot noise does not" {
	need_uml
	cat >"$BATS_TEST_TMPDIR/t.sh" <<-'EOF'
		#!/bin/bash
		echo 1..2
		printf '# arg <%s>\n' "$@"
		echo "# probe <$FLUML_PROBE> cwd <$PWD>"
		[ "$(cat /proc/sys/kernel/modprobe)" = /run/uml/modprobe ] && echo "ok 1 guest" || echo "not ok 1 guest"
		echo "ok 2 last line without a newline" | tr -d '\n'
		exit 3
	EOF
	chmod +x "$BATS_TEST_TMPDIR/t.sh"
	cd "$BATS_TEST_TMPDIR"
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" UML_TIMEOUT=120 UML_ENV=FLUML_PROBE \
		FLUML_PROBE="a b'c" "$RUN_UML" ./t.sh one "two words"
	printf '%s\n' "$output" "--- stderr:" "$stderr"
	[ "$status" -eq 3 ]
	[ "${lines[0]}" = 1..2 ]
	[ "${lines[1]}" = "# arg <one>" ]
	[ "${lines[2]}" = "# arg <two words>" ]
	[ "${lines[3]}" = "# probe <a b'c> cwd <$BATS_TEST_TMPDIR>" ]
	[ "${lines[4]}" = "ok 1 guest" ]
	[ "${lines[5]}" = "ok 2 last line without a newline" ]
	[ "${#lines[@]}" -eq 6 ]
	[[ $stderr == *"boot "*" s, test "*" s, poweroff "*" s"* ]]
	[ -z "$(leftovers)" ]
}

@test "run.sh: a guest that hangs is stopped at UML_TIMEOUT, exit 124, nothing left behind" {
	need_uml
	printf '#!/bin/bash\necho 1..1\nsleep 120\necho ok 1\n' >"$BATS_TEST_TMPDIR/hang.sh"
	chmod +x "$BATS_TEST_TMPDIR/hang.sh"
	start=$SECONDS
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" UML_TIMEOUT=15 "$RUN_UML" "$BATS_TEST_TMPDIR/hang.sh"
	printf '%s\n' "$output" "--- stderr:" "$stderr"
	[ "$status" -eq 124 ]
	[ "$output" = 1..1 ]
	[[ $stderr == *"ran out of time (UML_TIMEOUT=15 s) in its test phase"* ]]
	[ $((SECONDS - start)) -lt 30 ]
	[ -z "$(leftovers)" ]
}

@test "smoke.bats in the guest: helpers, namespaces, etcd, ipip, flannel-lease and flannel-watch" {
	need_uml
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" "$RUN_UML" "$BATS_TEST_DIRNAME/uml/smoke.bats" --timing
	uml_results 3
	[ -z "$(leftovers)" ]
}
