# Shared helpers for the bats end-to-end tests.
#
# Topology (DESIGN.md): one namespace per host, veth pairs into a bridge in an
# underlay namespace, etcd in the underlay at 192.0.2.254.  Every name carries
# a per-test id so that tests can run side by side; teardown removes exactly
# what was created, by name and PID, even when a test fails.

# Relative to this file, so that test files in subdirectories (tests/uml/)
# find the binaries too.
BIN="$(dirname "${BASH_SOURCE[0]}")/../build/bin"
export PATH="$BIN:$PATH"

# need_root: root, namespaces and etcd are required; under CI a missing one
# fails the test instead of skipping it.
require() {
	local why=$1
	if [ "${CI:-}" = true ]; then
		echo "required but unavailable under CI: $why" >&2
		return 1
	fi
	skip "$why"
}

need_root() {
	[ "$(id -u)" = 0 ] || require "needs root"
	ip netns add "flchk$$" 2>/dev/null || require "cannot create network namespaces"
	ip netns del "flchk$$"
	command -v etcd >/dev/null || require "needs etcd (Debian etcd-server)"
}

# Background processes close fd 3: bats waits for it to close before it
# reports a test.

# A short id unique to this test: namespace names must stay under 16 chars
# for the veth names derived from them.
fl_id() {
	if [ -z "${FL_ID:-}" ]; then
		FL_ID=$(printf 't%04x' $(( (RANDOM ^ $$) & 0xffff )))
		export FL_ID
	fi
	echo "$FL_ID"
}

# A port below the kernel's ephemeral range (32768-60999) that no socket
# uses, in any state: a port held by an outgoing connection also makes
# etcd's bind fail with "address already in use".
free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$(( 20000 + RANDOM % 12768 ))
		if ! ss -Htan "sport = :$p" | grep -q .; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

# pids we started, killed in teardown
FL_PIDS=()
track_pid() { FL_PIDS+=("$1"); echo "$1" >>"$BATS_TEST_TMPDIR/pids"; }

# etcd_start [NETNS] [ADDR]: starts etcd, sets ETCD_EP, ETCD_PID, ETCD_DIR.
# Tests run side by side: when another one took a port first, try others.
etcd_start() {
	for _ in 1 2 3; do
		etcd_start_once "$@" && return 0
		grep -q 'address already in use' "$ETCD_DIR/log" || return 1
	done
	return 1
}

etcd_start_once() {
	local ns=${1:-} addr=${2:-127.0.0.1} cport pport
	cport=$(free_port) && pport=$(free_port)
	ETCD_DIR=$(mktemp -d "/dev/shm/flannel-etcd.$(fl_id).XXXX")
	ETCD_EP="http://$addr:$cport"
	ETCD_ARGS=(--name "fl$(fl_id)" --data-dir "$ETCD_DIR/data"
		--listen-client-urls "$ETCD_EP" --advertise-client-urls "$ETCD_EP"
		--listen-peer-urls "http://$addr:$pport"
		--initial-advertise-peer-urls "http://$addr:$pport"
		--initial-cluster "fl$(fl_id)=http://$addr:$pport"
		--heartbeat-interval 10 --election-timeout 100 ${ETCD_EXTRA[@]+"${ETCD_EXTRA[@]}"})
	if [ -n "$ns" ]; then
		ip netns exec "$ns" etcd "${ETCD_ARGS[@]}" >"$ETCD_DIR/log" 2>&1 3>&- &
	else
		etcd "${ETCD_ARGS[@]}" >"$ETCD_DIR/log" 2>&1 3>&- &
	fi
	ETCD_PID=$!
	ETCD_NS=$ns
	track_pid "$ETCD_PID"
	echo "$ETCD_DIR" >>"$BATS_TEST_TMPDIR/dirs"
	export ETCD_EP ETCD_PID ETCD_DIR ETCD_NS
	etcd_wait
}

# Up to ~10 s; at once when etcd has exited (each etcdctl try is short).
etcd_wait() {
	for _ in $(seq 1 100); do
		if etcdctl_ --dial-timeout=1s --command-timeout=2s get /flannel-health \
			>/dev/null 2>&1; then
			return 0
		fi
		kill -0 "$ETCD_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$ETCD_DIR/log" >&2
	return 1
}

# Restart the same etcd (same data, same URLs).
etcd_restart() {
	kill "$ETCD_PID"; wait "$ETCD_PID" 2>/dev/null || true
	if [ -n "$ETCD_NS" ]; then
		ip netns exec "$ETCD_NS" etcd "${ETCD_ARGS[@]}" >>"$ETCD_DIR/log" 2>&1 3>&- &
	else
		etcd "${ETCD_ARGS[@]}" >>"$ETCD_DIR/log" 2>&1 3>&- &
	fi
	ETCD_PID=$!
	track_pid "$ETCD_PID"
	etcd_wait
}

etcdctl_() {
	if [ -n "${ETCD_NS:-}" ]; then
		ETCDCTL_API=3 ip netns exec "$ETCD_NS" etcdctl --endpoints "$ETCD_EP" "$@"
	else
		ETCDCTL_API=3 etcdctl --endpoints "$ETCD_EP" "$@"
	fi
}

# put_config JSON [PREFIX]
put_config() {
	etcdctl_ put "${2:-/coreos.com/network}/config" "$1" >/dev/null
}

# topo_create N [SUBNET_PREFIX]: underlay namespace "<id>ul" with bridge br0
# and etcd at 192.0.2.254; hosts "<id>h1".."<id>hN" at 192.0.2.1..N, each with
# eth0 (MTU 1500) and a default route via 192.0.2.254.
topo_create() {
	local n=$1 id ul i h
	id=$(fl_id)
	ul="${id}ul"
	ip netns add "$ul"
	echo "$ul" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$ul" link set lo up
	ip -n "$ul" link add br0 type bridge
	ip -n "$ul" addr add 192.0.2.254/24 dev br0
	ip -n "$ul" -6 addr add 2001:db8::fe/64 dev br0 nodad
	ip -n "$ul" link set br0 up
	for i in $(seq 1 "$n"); do
		h="${id}h$i"
		ip netns add "$h"
		echo "$h" >>"$BATS_TEST_TMPDIR/netns"
		ip -n "$h" link set lo up
		ip link add "${id}v$i" netns "$ul" type veth peer name eth0 netns "$h"
		ip -n "$ul" link set "${id}v$i" master br0 up
		ip -n "$h" addr add "192.0.2.$i/24" dev eth0
		ip -n "$h" -6 addr add "2001:db8::$i/64" dev eth0 nodad
		ip -n "$h" link set eth0 up
		ip -n "$h" route add default via 192.0.2.254
		ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
	done
	UL_NS=$ul
	export UL_NS
}

host_ns() { echo "$(fl_id)h$1"; }

# in_host I CMD...: run CMD in host I's namespace.
# Every host keeps its pieces' state files apart (flannel-state(5)).
in_host() {
	local i=$1
	shift
	FLANNELD_STATE_DIR=$(state_dir "$i") ip netns exec "$(host_ns "$i")" "$@"
}

# state_dir I: where host I's pieces write their state files.
state_dir() { echo "$BATS_TEST_TMPDIR/state-h$1"; }

# bg_in_host I LOGFILE CMD...: start CMD in the background in host I.
bg_in_host() {
	local i=$1 logf=$2
	shift 2
	FLANNELD_STATE_DIR=$(state_dir "$i") ip netns exec "$(host_ns "$i")" "$@" >"$logf" 2>&1 3>&- &
	track_pid "$!"
	# shellcheck disable=SC2034 # read by the tests that call bg_in_host
	LAST_PID=$!
}

# wait_for TIMEOUT_SECONDS CMD...: poll until CMD succeeds.
wait_for() {
	local t=$1 end
	shift
	end=$(( $(date +%s%N) / 1000000 + t * 1000 ))
	while [ $(( $(date +%s%N) / 1000000 )) -lt "$end" ]; do
		if "$@" >/dev/null 2>&1; then
			return 0
		fi
		sleep 0.05
	done
	"$@"
}

fl_teardown() {
	local p ns d
	if [ -f "$BATS_TEST_TMPDIR/pids" ]; then
		while read -r p; do
			kill "$p" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/pids"
		sleep 0.1
		while read -r p; do
			kill -9 "$p" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/pids"
		rm -f "$BATS_TEST_TMPDIR/pids"
	fi
	if [ -f "$BATS_TEST_TMPDIR/netns" ]; then
		while read -r ns; do
			# Kill whatever still runs inside before the namespace goes.
			for p in $(ip netns pids "$ns" 2>/dev/null); do
				kill -9 "$p" 2>/dev/null || true
			done
			ip netns del "$ns" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/netns"
		rm -f "$BATS_TEST_TMPDIR/netns"
	fi
	if [ -f "$BATS_TEST_TMPDIR/dirs" ]; then
		while read -r d; do
			case "$d" in /dev/shm/flannel-*) rm -rf "$d" ;; esac
		done <"$BATS_TEST_TMPDIR/dirs"
		rm -f "$BATS_TEST_TMPDIR/dirs"
	fi
}

# $(fl_id) runs in a subshell, which loses the FL_ID it sets: every call gave
# a new id (etcd's --name and --initial-cluster disagreed, host_ns named other
# namespaces).  Pick this test's id once, when the helpers are loaded; not
# exported, so that tests sourced together by bats-exec-file do not share it.
FL_ID=${FL_ID:-$(printf 't%04x' $(( (RANDOM ^ $$) & 0xffff )))}

# uml_results N: after "run --separate-stderr tests/uml/run.sh ...", forward
# the guest's result lines as "# uml: ok ..." (tests/run.sh counts them) and
# check that the guest ran N tests and all passed, none skipped.
# shellcheck disable=SC2154 # output, stderr, status and lines come from bats's run
uml_results() {
	grep -E '^(not )?ok ' <<<"$output" | sed 's/^/# uml: /' >&3 || true
	printf '%s\n' "$output" "--- stderr:" "$stderr"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "1..$1" ]
	[ "$(grep -cE '^ok ' <<<"$output")" -eq "$1" ]
	[ "$(grep -cE '^not ok |# (skip|SKIP)' <<<"$output")" -eq 0 ]
}

# make_certs DIR [SAN]: a CA, a server certificate for SAN (default
# IP:127.0.0.1) and a client certificate, all signed by the CA; plus a
# second CA that signed nothing but a rogue client certificate.
make_certs() {
	local d=$1 san=${2:-IP:127.0.0.1} ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
	mkdir -p "$d"
	openssl req -x509 "${ec[@]}" -keyout "$d/ca.key" -out "$d/ca.crt" -days 2 \
		-subj /CN=flannel-test-ca 2>/dev/null
	openssl req -x509 "${ec[@]}" -keyout "$d/other-ca.key" -out "$d/other-ca.crt" -days 2 \
		-subj /CN=flannel-other-ca 2>/dev/null
	openssl req "${ec[@]}" -keyout "$d/server.key" -out "$d/server.csr" \
		-subj /CN=127.0.0.1 2>/dev/null
	printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth,clientAuth\n' "$san" >"$d/server.ext"
	openssl x509 -req -in "$d/server.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/server.crt" -days 2 -extfile "$d/server.ext" 2>/dev/null
	openssl req "${ec[@]}" -keyout "$d/client.key" -out "$d/client.csr" \
		-subj /CN=flannel 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\n' >"$d/client.ext"
	openssl x509 -req -in "$d/client.csr" -CA "$d/ca.crt" -CAkey "$d/ca.key" \
		-CAcreateserial -out "$d/client.crt" -days 2 -extfile "$d/client.ext" 2>/dev/null
	# A client certificate from the wrong CA.
	openssl req "${ec[@]}" -keyout "$d/rogue.key" -out "$d/rogue.csr" \
		-subj /CN=rogue 2>/dev/null
	openssl x509 -req -in "$d/rogue.csr" -CA "$d/other-ca.crt" -CAkey "$d/other-ca.key" \
		-CAcreateserial -out "$d/rogue.crt" -days 2 -extfile "$d/client.ext" 2>/dev/null
	[ -s "$d/client.crt" ] && [ -s "$d/server.crt" ] && [ -s "$d/rogue.crt" ]
}
