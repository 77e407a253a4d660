#!/bin/bash
# wireguard backend throughput (issue 16): two hosts in namespaces, a
# container behind each, iperf3 between the containers over flanneld's
# flannel-wg and, in the same run over the same containers, over a
# wireguard-go device set up by hand with wg and ip (same MTU, one peer
# each, its own port).  Both devices stay up; the Network's route is moved
# from one to the other between measurements, in the order ABBA... over
# ROUNDS rounds, so that neither always runs first on a loaded machine.
# Both are userspace WireGuard (wireguard-go); the difference is what
# flannel adds.  The devices' settings (MTU, queue, qdisc, offloads) are
# printed when they differ.  A benchmark, not a test: it prints numbers.
# Needs root, iperf3, wireguard-go and wg.  SECONDS_EACH (default 5) per
# measurement, ROUNDS (default 4).
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
T=${SECONDS_EACH:-5}
ROUNDS=${ROUNDS:-4}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v iperf3 >/dev/null || skip "needs iperf3 (apt-get install iperf3)"
if ! command -v wireguard-go >/dev/null || ! command -v wg >/dev/null; then
	skip "needs wireguard-go and wg (scripts/deps.sh)"
fi
fl_id >/dev/null
D=$BATS_TEST_TMPDIR
mkdir -p /run/wireguard

topo_create 2
etcd_start "$UL_NS" 192.0.2.254

# in_wg I CMD...: CMD on host I with its own /run/wireguard (wireguard-go's
# socket directory) and key file.
in_wg() {
	local i=$1
	shift
	mkdir -p "$D/wg$i"
	ip netns exec "$(host_ns "$i")" env WIREGUARD_KEY_FILE="$D/key$i" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$D/wg$i" "$@"
}

# bg_wg I LOG CMD...: the same in the background, tracked by CMD's own PID
# (each step execs the next).
bg_wg() {
	local i=$1 logf=$2
	shift 2
	mkdir -p "$D/wg$i"
	ip netns exec "$(host_ns "$i")" env WIREGUARD_KEY_FILE="$D/key$i" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$D/wg$i" "$@" \
		>"$logf" 2>&1 3>&- &
	track_pid "$!"
}

# iperf3 from container 1 to container 2, N TCP streams: Gbit/s.
run_tcp() {
	in_container 1 iperf3 -J -c "$(caddr 2)" -t "$T" -P "$1" |
		jq -r '.end.sum_received.bits_per_second / 1e9'
}

# via DEV: the Network's route on both hosts through DEV (flannel's own
# route, protocol 76 and scope link, for flannel-wg).
via() {
	local i
	for i in 1 2; do
		ip -n "$(host_ns "$i")" route replace 100.64.0.0/16 dev "$1" proto 76 scope link
	done
	wait_for 15 in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null
}

# measure ROUND NAME DEV
measure() {
	via "$3"
	printf '%s %s %s %s\n' "$1" "$2" "$(run_tcp 1)" "$(run_tcp 4)" >>"$D/results"
}

# settings I DEV: what could make one device slower than the other.
settings() {
	local h
	h=$(host_ns "$1")
	ip -n "$h" -d link show "$2" | grep -o ' mtu [0-9]*\|qdisc [a-z_]*\|qlen [0-9]*\|numtxqueues [0-9]*\|gso_max_size [0-9]*' | tr '\n' ' '
	ip netns exec "$h" ethtool -k "$2" 2>/dev/null | grep ': on' | grep -v fixed | tr -d '\t' | tr '\n' ' '
}

# flannel_ticks: CPU clock ticks (user + system) used so far by flanneld and
# its pieces on both hosts.
flannel_ticks() {
	local i p t=0
	for i in 1 2; do
		for p in $(ip netns pids "$(host_ns "$i")"); do
			case $(cat "/proc/$p/comm" 2>/dev/null) in
			flannel*) t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))) ;;
			esac
		done
	done
	echo "$t"
}

# flanneld with "Type":"wireguard", over a wireguard-go started by hand.
put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
for i in 1 2; do
	bg_wg "$i" "$D/wggo-$i.log" wireguard-go -f flannel-wg
	wait_for 5 test -S "$D/wg$i/flannel-wg.sock"
	bg_wg "$i" "$D/flanneld-$i.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--iptables-forward-rules=false --subnet-file="$D/h$i.env"
done
for i in 1 2; do
	wait_for 15 grep -q FLANNEL_SUBNET "$D/h$i.env"
	container "$i"
done
wait_for 15 in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null
mtu=$(env_get 1 FLANNEL_MTU)

# The same by hand, beside it: wgbench on port 51830.
for i in 1 2; do
	bg_wg "$i" "$D/wgbench-$i.log" wireguard-go -f wgbench
	wait_for 5 test -S "$D/wg$i/wgbench.sock"
	(umask 077 && wg genkey >"$D/hand$i")
done
for i in 1 2; do
	j=$((3 - i))
	in_wg "$i" wg set wgbench private-key "$D/hand$i" listen-port 51830 \
		peer "$(wg pubkey <"$D/hand$j")" endpoint "192.0.2.$j:51830" \
		allowed-ips "$(subnet_of "$j")"
	sub=$(env_get "$i" FLANNEL_SUBNET)
	ip -n "$(host_ns "$i")" addr add "${sub%.1/*}.0/32" dev wgbench
	ip -n "$(host_ns "$i")" link set wgbench mtu "$mtu" up
done
for i in 1 2; do
	a=$(settings "$i" flannel-wg)
	b=$(settings "$i" wgbench)
	[ "$a" = "$b" ] && echo "host $i devices alike: $a" ||
		printf 'host %s devices differ:\n  flannel-wg: %s\n  wgbench:    %s\n' "$i" "$a" "$b"
done

bg_in_host 2 "$D/iperf.log" ip netns exec "$(fl_id)c2" iperf3 -s
sleep 0.3
ticks0=$(flannel_ticks)
start=$(date +%s)
for r in $(seq 1 "$ROUNDS"); do
	if [ $((r % 2)) = 1 ]; then
		measure "$r" flannel flannel-wg
		measure "$r" by-hand wgbench
	else
		measure "$r" by-hand wgbench
		measure "$r" flannel flannel-wg
	fi
done
echo "flannel's own processes (flanneld and its pieces, both hosts): $(( ($(flannel_ticks) - ticks0) * 1000 / $(getconf CLK_TCK) )) ms CPU in $(( $(date +%s) - start )) s of measurements"

awk -v t="$T" '
{ g1[$1, $2] = $3; g4[$1, $2] = $4; if ($1 > n) n = $1 }
function range(g, name,   r, v, lo, hi) {
	lo = 1e9; hi = 0
	for (r = 1; r <= n; r++) {
		v = 100 * g[r, "flannel"] / g[r, "by-hand"]
		if (v < lo) lo = v
		if (v > hi) hi = v
	}
	printf "%-24s", name
	for (r = 1; r <= n; r++)
		printf " %5.2f/%-5.2f", g[r, "by-hand"], g[r, "flannel"]
	printf "   %3.0f..%3.0f%%\n", lo, hi
}
END {
	printf "%-24s", "Gbit/s (" t " s each)"
	for (r = 1; r <= n; r++)
		printf " %11s", "hand/flan " r
	printf "   flannel/hand\n"
	range(g1, "TCP 1 stream")
	range(g4, "TCP 4 streams")
}' "$D/results"
