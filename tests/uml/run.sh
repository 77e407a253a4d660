#!/bin/bash
# tests/uml/run.sh TESTFILE [ARGS...]: runs TESTFILE inside a user-mode-linux
# guest (a 6.1 kernel with ipip, gre, ESP, ... as modules) and prints its TAP
# output on stdout; the exit code is the test's.  A .bats file runs with
# bats --tap ARGS TESTFILE (ARGS are bats options: --filter, --timing, ...);
# any other file must be executable, prints TAP itself and gets ARGS.
#
# The guest's root is the host's / through hostfs, read-only: the project's
# binaries, bats and etcd are the host's.  Writable inside: /run (tmpfs, for
# ip netns; TMPDIR is /run/scratch/tmp) and /dev/shm (tmpfs).  See
# tests/uml/README.md.
#
# Environment: UML_TIMEOUT (seconds for boot + test + poweroff, default 300),
# UML_MEM (guest memory, default 768M), UML_LINUX (the guest kernel, default
# linux.uml), UML_ENV (names of more variables to pass to the test; CI is
# always passed).  Exit codes: the test's; 64 usage; 66 no TESTFILE; 69
# linux.uml or kmod missing; 70 the guest did not report a result; 124 the
# guest ran out of time.
set -eu -o pipefail

prog=tests/uml/run.sh
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
uml=${UML_LINUX:-linux.uml}
limit=${UML_TIMEOUT:-300}
mem=${UML_MEM:-768M}

die() {
	local rc=$1
	shift
	echo "$prog: $*" >&2
	exit "$rc"
}

[ $# -ge 1 ] || die 64 "usage: $prog TESTFILE [ARGS...]"
case "$limit" in '' | *[!0-9]*) die 64 "UML_TIMEOUT=$limit: not a number of seconds" ;; esac
case "$mem" in '' | *[!0-9KMG]*) die 64 "UML_MEM=$mem: not a size such as 768M" ;; esac
test=$1
shift
[ -f "$test" ] || die 66 "$test: no such test file"
test=$(cd "$(dirname "$test")" && pwd)/$(basename "$test")
case "$test" in
*.bats) command -v bats >/dev/null || die 69 "bats not found (Debian package bats)" ;;
*) [ -x "$test" ] || die 66 "$test: not executable (only .bats files run without that)" ;;
esac
# The guest mounts its own /proc, /sys, /dev and /run over the host's.
for p in "$test" "$PWD"; do
	case "$p" in
	/proc/* | /sys/* | /dev/* | /run/*) die 64 "$p: hidden inside the guest (use a path outside /proc, /sys, /dev, /run)" ;;
	esac
done

command -v "$uml" >/dev/null ||
	die 69 "$uml not found: the guest kernel comes with the Debian package user-mode-linux (scripts/deps.sh installs it)"
command -v modprobe >/dev/null ||
	die 69 "modprobe not found: the guest loads its modules with the host's kmod (Debian package kmod)"
[ -d /usr/lib/uml/modules ] ||
	die 69 "/usr/lib/uml/modules missing: the guest's modules come with the Debian package user-mode-linux"
for v in ${UML_ENV:-}; do
	[[ $v =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || die 64 "UML_ENV: $v is not a variable name"
done

# Outside /tmp only when TMPDIR says so, and never under the guest's mounts.
work_base=${TMPDIR:-/tmp}
case "$work_base" in /proc* | /sys* | /dev* | /run*) work_base=/tmp ;; esac
work=$(mktemp -d "$work_base/flannel-uml-XXXXXX")
gpid=

# uml_group SIGNAL: signal linux.uml's whole process group.  linux.uml makes
# itself a session leader, so its pid (run.sh writes it to uml.pid) is the
# group's id; its helper processes are in the group and outlive a main
# process that was killed, holding the console open.
uml_group() {
	local p
	p=$(cat "$work/uml.pid" 2>/dev/null) || return 0
	[ -n "$p" ] || return 0
	kill -0 -- "-$p" 2>/dev/null || return 0
	kill "-$1" -- "-$p" 2>/dev/null || true
}

# stop_guest: when we are interrupted: TERM (the guest goes down), KILL
# what is left after 5 s, then reap the guard.
stop_guest() {
	[ -n "$gpid" ] || return 0
	for _ in $(seq 1 20); do
		[ ! -s "$work/uml.pid" ] || break
		kill -0 "$gpid" 2>/dev/null || break
		sleep 0.1
	done
	if [ -s "$work/uml.pid" ] && kill -0 "$(cat "$work/uml.pid")" 2>/dev/null; then
		kill -TERM "$(cat "$work/uml.pid")" 2>/dev/null || true
		for _ in $(seq 1 50); do
			kill -0 "$(cat "$work/uml.pid")" 2>/dev/null || break
			sleep 0.1
		done
	fi
	uml_group KILL
	kill -TERM "$gpid" 2>/dev/null || true
	wait "$gpid" 2>/dev/null || true
	uml_group KILL
	gpid=
}

cleanup() {
	stop_guest
	rm -rf "$work"
}
trap cleanup EXIT
trap 'echo "$prog: interrupted, stopping the guest" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

nonce=$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
{
	printf 'FLUML_REPO=%q\n' "$repo"
	printf 'FLUML_CWD=%q\n' "$PWD"
	printf 'FLUML_TEST=%q\n' "$test"
	printf 'FLUML_ARGS=('
	[ $# -eq 0 ] || printf '%q ' "$@"
	printf ')\n'
	for v in CI ${UML_ENV:-}; do
		if [ -n "${!v+set}" ]; then
			printf 'export %s=%q\n' "$v" "${!v}"
		fi
	done
} >"$work/job"
mkfifo "$work/console"

# now_ms: wall clock in milliseconds.
now_ms() {
	local t=${EPOCHREALTIME/[.,]/}
	echo $((t / 1000))
}
# secs MS: "1.234".
secs() { printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)); }

t0=$(now_ms)
# The console (con0) is our stdout, a fifo: a regular file there makes UML's
# epoll complain.  TMPDIR unset: UML keeps the guest's memory in /dev/shm.
# Unknown name=value words on the command line are the init's environment.
# The guard: timeout(1) bounds the guest (TERM, then KILL 5 s later); once
# linux.uml's main process is gone, whatever is left of its group goes too,
# so that the console reaches its end.  The guest's exit code goes to rc.
(
	trap - EXIT INT TERM HUP
	urc=0
	# shellcheck disable=SC2016 # $$ and $1 are the inner shell's
	timeout -k 5 "$limit" sh -c 'echo "$$" >"$1" && shift && exec "$@"' sh "$work/uml.pid" \
		env -u TMPDIR "$uml" "mem=$mem" "uml_dir=$work/uml" \
		rootfstype=hostfs rootflags=/ ro quiet loglevel=3 con=null con0=null,fd:1 \
		"init=$here/init.sh" "FLUML_JOB=$work" "FLUML_NONCE=$nonce" \
		</dev/null >"$work/console" 2>&1 || urc=$?
	uml_group KILL
	# 124: timeout(1) ended it (137 when TERM was not enough).
	if [ "$urc" = 137 ] && [ "$SECONDS" -ge "$limit" ]; then
		urc=124
	fi
	echo "$urc" >"$work/rc"
) 2>/dev/null &
gpid=$!

state=booting rc=
t_begin=$t0 t_end=$t0
while IFS= read -r line || [ -n "$line" ]; do
	line=${line%$'\r'}
	if [[ $line =~ ^(.*)@@FLUML-END\ $nonce\ rc=([0-9]+)@@$ ]]; then
		if [ "$state" = testing ]; then
			[ -z "${BASH_REMATCH[1]}" ] || printf '%s\n' "${BASH_REMATCH[1]}"
		else
			# The guest could not start the test: show why.
			cat "$work/boot.log" >&2 2>/dev/null || true
			[ -z "${BASH_REMATCH[1]}" ] || printf '%s\n' "${BASH_REMATCH[1]}" >&2
			t_begin=$(now_ms)
		fi
		rc=${BASH_REMATCH[2]}
		state=finished
		t_end=$(now_ms)
		continue
	fi
	case "$state" in
	booting)
		if [ "$line" = "@@FLUML-BEGIN $nonce@@" ]; then
			state=testing
			t_begin=$(now_ms)
			t_end=$t_begin
		else
			printf '%s\n' "$line" >>"$work/boot.log"
		fi
		;;
	testing) printf '%s\n' "$line" ;;
	*) printf '%s\n' "$line" >>"$work/after.log" ;;
	esac
done <"$work/console"
wait "$gpid" || true
gpid=
urc=$(cat "$work/rc" 2>/dev/null) || urc=70
t_off=$(now_ms)

if [ "$state" = booting ]; then
	t_begin=$t_off t_end=$t_off
elif [ "$state" = testing ]; then
	t_end=$t_off
fi
echo "$prog: boot $(secs $((t_begin - t0))) s, test $(secs $((t_end - t_begin))) s," \
	"poweroff $(secs $((t_off - t_end))) s" >&2

if [ "$state" != finished ]; then
	if [ "$urc" = 124 ]; then
		echo "$prog: the guest ran out of time (UML_TIMEOUT=$limit s) in its ${state%ing} phase" >&2
		urc=124
	else
		echo "$prog: the guest ended (linux.uml exit $urc) without reporting a result" >&2
		urc=70
	fi
	if [ "$state" = booting ] && [ -s "$work/boot.log" ]; then
		echo "$prog: guest console:" >&2
		tail -n 40 "$work/boot.log" >&2
	fi
	exit "$urc"
fi
if [ "$urc" != 0 ]; then
	echo "$prog: the guest did not power off cleanly (linux.uml exit $urc)" >&2
	[ ! -s "$work/after.log" ] || tail -n 20 "$work/after.log" >&2
	[ "$rc" != 0 ] || rc=70
fi
exit "$rc"
