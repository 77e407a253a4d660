#!/bin/bash
# wireguard backend throughput (issue 16): two hosts in namespaces, a
# container behind each, iperf3 between the containers, first over
# flanneld's flannel-wg, then, in the same run and over the same containers,
# over a wireguard-go device set up by hand with wg and ip (same MTU, one
# peer each).  Both are userspace WireGuard (wireguard-go); the difference
# is what flannel adds.  A benchmark, not a test: it prints numbers.  Needs
# root, iperf3, wireguard-go and wg.  SECONDS_EACH (default 5) per run.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
T=${SECONDS_EACH:-5}
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

# bg_wg I LOG CMD...: the same in the background; LAST_PID is CMD's own (each
# step execs the next), so that killing it stops CMD.
bg_wg() {
	local i=$1 logf=$2
	shift 2
	mkdir -p "$D/wg$i"
	ip netns exec "$(host_ns "$i")" env WIREGUARD_KEY_FILE="$D/key$i" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$D/wg$i" "$@" \
		>"$logf" 2>&1 3>&- &
	track_pid "$!"
	LAST_PID=$!
}

# iperf3 from container 1 to container 2, one TCP stream: Gbit/s.
run_tcp() {
	in_container 1 iperf3 -J -c "$(caddr 2)" -t "$T" -P "$1" |
		jq -r '.end.sum_received.bits_per_second / 1e9'
}

measure() {
	printf '%s %s %s\n' "$1" "$(run_tcp 1)" "$(run_tcp 4)" >>"$D/results"
}

# 1. flanneld with "Type":"wireguard".
put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
for i in 1 2; do
	bg_wg "$i" "$D/wggo-$i.log" wireguard-go -f flannel-wg
	eval "WG_$i=$LAST_PID"
	wait_for 5 test -S "$D/wg$i/flannel-wg.sock"
	bg_wg "$i" "$D/flanneld-$i.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--iptables-forward-rules=false --subnet-file="$D/h$i.env"
	eval "FD_$i=$LAST_PID"
done
for i in 1 2; do
	wait_for 15 grep -q FLANNEL_SUBNET "$D/h$i.env"
	container "$i"
done
wait_for 15 in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null
bg_in_host 2 "$D/iperf.log" ip netns exec "$(fl_id)c2" iperf3 -s
sleep 0.3
measure flannel
mtu=$(env_get 1 FLANNEL_MTU)

# 2. The same by hand: flanneld and its devices go, the containers stay.
kill "$FD_1" "$FD_2" "$WG_1" "$WG_2"
wait "$FD_1" "$FD_2" "$WG_1" "$WG_2" 2>/dev/null || true
for i in 1 2; do
	bg_wg "$i" "$D/wgbench-$i.log" wireguard-go -f wgbench
	wait_for 5 test -S "$D/wg$i/wgbench.sock"
	(umask 077 && wg genkey >"$D/hand$i")
done
for i in 1 2; do
	j=$((3 - i))
	in_wg "$i" wg set wgbench private-key "$D/hand$i" listen-port 51820 \
		peer "$(wg pubkey <"$D/hand$j")" endpoint "192.0.2.$j:51820" \
		allowed-ips "$(subnet_of "$j")"
	sub=$(env_get "$i" FLANNEL_SUBNET)
	ip -n "$(host_ns "$i")" addr add "${sub%.1/*}.0/32" dev wgbench
	ip -n "$(host_ns "$i")" link set wgbench mtu "$mtu" up
	ip -n "$(host_ns "$i")" route add 100.64.0.0/16 dev wgbench
done
wait_for 15 in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null
measure by-hand

awk -v t="$T" '
{ g1[$1] = $2; g4[$1] = $3 }
END {
	printf "%-28s %12s %12s %10s\n", "measure (" t " s each)", "by hand", "flannel", "flannel/hand"
	printf "%-28s %12.2f %12.2f %9.0f%%\n", "TCP 1 stream, Gbit/s", g1["by-hand"], g1["flannel"], 100 * g1["flannel"] / g1["by-hand"]
	printf "%-28s %12.2f %12.2f %9.0f%%\n", "TCP 4 streams, Gbit/s", g4["by-hand"], g4["flannel"], 100 * g4["flannel"] / g4["by-hand"]
}' "$D/results"
