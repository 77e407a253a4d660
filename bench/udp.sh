#!/bin/bash
# udp backend throughput (issue 14), side by side with vxlan in one run:
# two hosts in namespaces, flanneld on each, a container behind each, and
# iperf3 between the containers over flannel0 (udp) and flannel.1 (vxlan):
# TCP one stream and four streams, 64-byte UDP packets per second, and the
# CPU spent per gigabit (flannel-udp's own threads, and the whole machine's).
# A benchmark, not a test: it prints numbers.  Needs root and iperf3.
# SECONDS_EACH (default 5) per measurement.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
T=${SECONDS_EACH:-5}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v iperf3 >/dev/null || skip "needs iperf3 (apt-get install iperf3)"
fl_id >/dev/null
D=$BATS_TEST_TMPDIR

topo_create 2
etcd_start "$UL_NS" 192.0.2.254

# The machine's busy CPU time so far, in ms (all cores, from /proc/stat).
busy_ms() {
	awk '/^cpu / { print int(($2 + $3 + $4 + $7 + $8) * 1000 / 100) }' /proc/stat
}

# The CPU time of a process so far, in ms.
proc_ms() {
	[ -n "$1" ] && [ -r "/proc/$1/stat" ] || { echo 0; return; }
	awk '{ print int(($14 + $15) * 1000 / 100) }' "/proc/$1/stat"
}

# iperf3 from container 1 to container 2: prints "Gbit/s cpu_ms_machine
# cpu_ms_tool retransmits".
run_tcp() {
	local streams=$1 pid=$2 b0 p0 out
	b0=$(busy_ms)
	p0=$(proc_ms "$pid")
	out=$(in_container 1 iperf3 -J -c "$(caddr 2)" -t "$T" -P "$streams")
	printf '%s %d %d %s\n' "$(jq -r '.end.sum_received.bits_per_second / 1e9' <<<"$out")" \
		$(( $(busy_ms) - b0 )) $(( $(proc_ms "$pid") - p0 )) \
		"$(jq -r '.end.sum_sent.retransmits // 0' <<<"$out")"
}

# 64-byte UDP datagrams as fast as iperf3 sends them: received packets/s.
run_pps() {
	in_container 1 iperf3 -J -u -c "$(caddr 2)" -t "$T" -l 64 -b 0 |
		jq -r '.end.sum.packets / .end.sum.seconds * (1 - .end.sum.lost_percent / 100) | floor'
}

# measure NAME CONFIG: flanneld on both hosts with CONFIG, then the numbers.
measure() {
	local name=$1 conf=$2 i pid one four pps
	put_config "$conf"
	for i in 1 2; do
		bg_in_host "$i" "$D/flanneld-$name-$i.log" flanneld --etcd-endpoints="$ETCD_EP" \
			--iface=eth0 --iptables-forward-rules=false --subnet-file="$D/h$i.env"
		eval "FD_$i=$LAST_PID"
	done
	for i in 1 2; do
		wait_for 15 grep -q FLANNEL_SUBNET "$D/h$i.env"
		container "$i"
	done
	wait_for 15 in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null
	bg_in_host 2 "$D/iperf-$name.log" ip netns exec "$(fl_id)c2" iperf3 -s
	sleep 0.3
	pid=$(pgrep -P "$FD_1" -x flannel-udp || true)
	one=$(run_tcp 1 "$pid")
	four=$(run_tcp 4 "$pid")
	pps=$(run_pps)
	printf '%s %s %s %s\n' "$name" "$one" "$four" "$pps" >>"$D/results"
	kill "$LAST_PID" "$FD_1" "$FD_2" 2>/dev/null || true
	wait "$FD_1" "$FD_2" 2>/dev/null || true
	for i in 1 2; do
		ip netns del "$(fl_id)c$i" 2>/dev/null || true
		rm -f "$D/h$i.env"
	done
	etcdctl_ del --prefix /coreos.com/network/subnets/ >/dev/null
}

measure vxlan '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
measure udp '{"Network":"100.64.0.0/16"}'

awk -v t="$T" '
{ gb1[$1] = $2; m1[$1] = $3; p1[$1] = $4; rt1[$1] = $5; gb4[$1] = $6; m4[$1] = $7; p4[$1] = $8; rt4[$1] = $9; pps[$1] = $10 }
function per_gbit(ms, gbps) { return gbps > 0 ? ms / (gbps * t) : 0 }
END {
	printf "%-34s %12s %12s %8s\n", "measure (" t " s each)", "vxlan", "udp", "udp/vxlan"
	printf "%-34s %12.2f %12.2f %7.0f%%\n", "TCP 1 stream, Gbit/s", gb1["vxlan"], gb1["udp"], 100 * gb1["udp"] / gb1["vxlan"]
	printf "%-34s %12.2f %12.2f %7.0f%%\n", "TCP 4 streams, Gbit/s", gb4["vxlan"], gb4["udp"], 100 * gb4["udp"] / gb4["vxlan"]
	printf "%-34s %12d %12d %7.0f%%\n", "UDP 64-byte, packets/s", pps["vxlan"], pps["udp"], 100 * pps["udp"] / pps["vxlan"]
	printf "%-34s %12.0f %12.0f\n", "machine CPU ms per Gbit (1 stream)", per_gbit(m1["vxlan"], gb1["vxlan"]), per_gbit(m1["udp"], gb1["udp"])
	printf "%-34s %12s %12.0f\n", "flannel-udp CPU ms per Gbit", "-", per_gbit(p1["udp"], gb1["udp"])
	printf "%-34s %12d %12d\n", "TCP retransmits (1 + 4 streams)", rt1["vxlan"] + rt4["vxlan"], rt1["udp"] + rt4["udp"]
}' "$D/results"
