#!/usr/bin/env bats
# The udp backend: flanneld with the seeds' minimal config, flannel0 as
# upstream sets it up, upstream's wire format, the MTU rule, ICMP net
# unreachable, hostile datagrams dropped and counted, the Port key, and a
# restart after SIGKILL.

load helpers
load flanneld

setup() {
	need_root
	[ -c /dev/net/tun ] || require "needs /dev/net/tun"
	topo_create 3
	etcd_start "$UL_NS" 192.0.2.254
	RUN="$BATS_TEST_TMPDIR/run"
	mkdir -p "$RUN"
}

teardown() {
	fl_teardown
}

cip() { eval echo "\$CIP_$1"; }

in_container() {
	local i=$1
	shift
	ip netns exec "$(fl_id)c$i" "$@"
}

# Three hosts with flanneld and containers; every container pings every other.
mesh_up() {
	local i j
	for i in 1 2 3; do
		start_flanneld "$i" --iptables-forward-rules=false
	done
	for i in 1 2 3; do
		wait_env "$i"
		add_container "$i"
	done
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] || ping_containers "$i" "$j"
		done
	done
}

# send_datagrams NS SRC_NS_IP: hostile payloads to host 1's port from NS.
send_datagrams() {
	ip netns exec "$1" python3 - "$2" <<-'EOF'
	import socket, struct, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	dst = ("192.0.2.1", int(sys.argv[1]))
	s.sendto(b"garbage, not an IPv4 packet", dst)
	# An IPv4 header that claims 100 bytes, with 40 sent: truncated.
	hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 100, 0, 0, 64, 17, 0,
	                  socket.inet_aton("100.64.9.9"), socket.inet_aton("100.64.1.2"))
	s.sendto(hdr + b"\0" * 20, dst)
	s.sendto(b"\x45" + b"\0" * 1999, dst)
	s.sendto(b"", dst)
	EOF
}

stat_of() {
	jq -r ".$2" "$RUN/h$1/subnet.env.udp-stats" 2>/dev/null
}

# stat_ge I NAME N: host I's flannel-udp counter NAME has reached N.
stat_ge() {
	[ "$(stat_of "$1" "$2")" -ge "$3" ] 2>/dev/null
}

@test "udp: the seeds' minimal config (no Backend) gives ping on three hosts, as upstream sets it up" {
	local dump
	put_config '{"Network":"100.64.0.0/16"}'
	mesh_up
	# shellcheck disable=SC1091
	. "$RUN/h1/subnet.env"
	[ "$FLANNEL_MTU" = 1472 ]
	in_host 1 ip -d link show flannel0 | grep -q 'tun type tun pi off'
	in_host 1 ip link show flannel0 | grep -q 'mtu 1472'
	in_host 1 ip -4 addr show dev flannel0 | grep -q "inet ${FLANNEL_SUBNET%.*}.0/32"
	in_host 1 ip route show dev flannel0 | grep -q '^100.64.0.0/16 proto 76'
	# Upstream's lease: no BackendType, no BackendData.
	run etcdctl_ get --print-value-only "/coreos.com/network/subnets/${FLANNEL_SUBNET%.*}.0-24"
	[ "$output" = '{"PublicIP":"192.0.2.1","PublicIPv6":null}' ]
	# Exactly the inner packet in each datagram, on port 8285.
	in_host 2 timeout 5 tcpdump -c 1 -n -i eth0 -w "$RUN/cap" udp port 8285 2>/dev/null &
	dump=$!
	track_pid "$dump"
	sleep 0.5
	in_container 1 ping -c 3 -i 0.2 -s 100 "$(cip 2)" >/dev/null
	wait "$dump"
	run tcpdump -n -r "$RUN/cap" -v 2>/dev/null
	echo "$output"
	[[ "$output" == *"192.0.2.1.8285 > 192.0.2.2.8285: UDP, length 128"* ]]
}

@test "udp: a 1472-byte don't-fragment packet passes, 1473 bytes do not" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"udp"}}'
	mesh_up
	in_container 1 ping -c 1 -W 2 -M "do" -s 1444 "$(cip 2)"
	run in_container 1 ping -c 1 -W 2 -M "do" -s 1445 "$(cip 2)"
	[ "$status" -ne 0 ]
}

# connect_errno I IP: a TCP connection from container I to IP:80; prints
# the errno name it fails with.
connect_errno() {
	in_container "$1" python3 -c '
import errno, socket, sys
s = socket.socket(); s.settimeout(3)
try:
    s.connect((sys.argv[1], 80)); print("connected")
except OSError as e:
    print(errno.errorcode.get(e.errno, str(e)))' "$2"
}

unreachable() {
	[ "$(connect_errno "$1" "$2")" = ENETUNREACH ]
}

@test "udp: nobody's subnet gets ICMP net unreachable from flannel0; a removed lease stops forwarding" {
	local dump
	# No lease can hold 100.64.250.0/24.
	put_config '{"Network":"100.64.0.0/16","SubnetMax":"100.64.200.0"}'
	mesh_up
	# shellcheck disable=SC1091
	. "$RUN/h1/subnet.env"
	in_host 1 timeout 5 tcpdump -c 1 -n -i "c$(fl_id)" -w "$RUN/icmp" icmp 2>/dev/null &
	dump=$!
	track_pid "$dump"
	sleep 0.5
	run connect_errno 1 100.64.250.9
	echo "connect: $output"
	[ "$output" = ENETUNREACH ]
	wait "$dump"
	run tcpdump -n -r "$RUN/icmp" 2>/dev/null
	echo "$output"
	[[ "$output" == *"IP ${FLANNEL_SUBNET%.*}.0 > $(cip 1): ICMP net 100.64.250.9 unreachable"* ]]
	# Not about ICMP itself, as upstream: a ping just goes unanswered.
	run in_container 1 ping -c 1 -W 1 100.64.250.9
	[[ "$output" != *"Unreachable"* ]]
	# Host 3 stops (its lease stays), then its lease is deleted.
	kill -TERM "$FLANNELD_PID_3"
	wait "$FLANNELD_PID_3" || true
	# shellcheck disable=SC1091
	. "$RUN/h3/subnet.env"
	etcdctl_ del "/coreos.com/network/subnets/${FLANNEL_SUBNET%.*}.0-24" >/dev/null
	wait_for 5 unreachable 1 "$(cip 3)"
	in_container 1 ping -c 1 -W 2 "$(cip 2)"
	wait_for 3 stat_ge 1 no_route 2
}

@test "udp: datagrams from non-peers, garbage, truncated and oversized ones are dropped and counted" {
	put_config '{"Network":"100.64.0.0/16"}'
	mesh_up
	# From the underlay bridge's address: no lease has it.
	send_datagrams "$UL_NS" 8285
	# From a peer's address, but not a whole IPv4 packet, or too big.
	send_datagrams "$(host_ns 2)" 8285
	wait_for 5 stat_ge 1 not_peer 4
	wait_for 5 stat_ge 1 malformed 3
	wait_for 5 stat_ge 1 oversized 1
	# Traffic goes on.
	in_container 2 ping -c 2 -i 0.2 -W 1 "$(cip 1)"
	in_container 1 ping -c 2 -i 0.2 -W 1 "$(cip 3)"
	kill -0 "$FLANNELD_PID_1"
	! grep -q 'restarting' "$RUN/flanneld-h1.log"
}

@test "udp: the Port key is honoured on every host" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"udp","Port":9999}}'
	mesh_up
	in_host 1 ss -Hunl | grep -q '192.0.2.1:9999'
	! in_host 1 ss -Hunl | grep -q ':8285'
}

@test "udp: flannel-udp killed with SIGKILL is restarted by flanneld and traffic is back within a second" {
	put_config '{"Network":"100.64.0.0/16"}'
	mesh_up
	local pid t0 t1
	pid=$(in_host 1 pgrep -P "$FLANNELD_PID_1" -x flannel-udp)
	[ -n "$pid" ]
	t0=$(date +%s%N)
	kill -KILL "$pid"
	wait_for 5 in_container 1 ping -c 1 -W 0.1 "$(cip 2)"
	t1=$(date +%s%N)
	echo "traffic back after $(( (t1 - t0) / 1000000 )) ms"
	[ $(( (t1 - t0) / 1000000 )) -lt 1000 ]
	grep -q 'restarting udp' "$RUN/flanneld-h1.log"
}

# bulk_tcp PORT: 8 MiB of pseudo-random bytes from container 1 to container
# 2 over TCP; succeeds when container 2 received them all, unchanged.
bulk_tcp() {
	local port=$1 srv sent got
	rm -f "$RUN/ready"
	in_container 2 timeout 30 python3 -c '
import hashlib, socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(1)
open(sys.argv[2], "w").write("ready")
c, _ = s.accept(); h = hashlib.sha256(); n = 0
while True:
    b = c.recv(1 << 20)
    if not b: break
    h.update(b); n += len(b)
print(n, h.hexdigest())' "$port" "$RUN/ready" >"$RUN/got" &
	srv=$!
	track_pid "$srv"
	wait_for 10 test -s "$RUN/ready"
	sent=$(in_container 1 timeout 30 python3 -c '
import hashlib, random, socket, sys
data = random.Random(14).randbytes(8 << 20)
s = socket.create_connection((sys.argv[1], int(sys.argv[2]))); s.sendall(data); s.close()
print(len(data), hashlib.sha256(data).hexdigest())' "$(cip 2)" "$port")
	wait "$srv"
	got=$(cat "$RUN/got")
	echo "sent $sent, got $got"
	[ "$sent" = "$got" ]
}

@test "udp: bulk TCP (TSO and GRO through flannel0) arrives intact, one inner packet per datagram on the wire" {
	local dump n big
	put_config '{"Network":"100.64.0.0/16"}'
	mesh_up
	# As the kernel passes it between namespaces: UDP trains (UDP_SEGMENT)
	# that reach host 2's socket whole (UDP_GRO).
	bulk_tcp 5001
	# As on a wire: host 1's eth0 cuts every train into its datagrams.
	in_host 1 ip link set eth0 gso_max_segs 1
	in_host 2 timeout 20 tcpdump -c 3000 -n -i eth0 -w "$RUN/bulk" udp port 8285 2>/dev/null &
	dump=$!
	track_pid "$dump"
	sleep 0.5
	bulk_tcp 5002
	wait "$dump" || true
	run tcpdump -n -r "$RUN/bulk" 2>/dev/null
	n=$(grep -c '192.0.2.1.8285 > 192.0.2.2.8285: UDP, length 1472$' <<<"$output" || true)
	big=$(grep -Ec 'UDP, length ([0-9]{5}|14[89][0-9]|1[5-9][0-9]{2})$' <<<"$output" || true)
	echo "full-size datagrams: $n, larger than the MTU: $big"
	[ "$n" -ge 1000 ]
	[ "$big" = 0 ]
	sleep 1.2 # the stats file is written once a second
	cat "$RUN/h1/subnet.env.udp-stats" "$RUN/h2/subnet.env.udp-stats"
	[ "$(stat_of 1 tx_packets)" -ge 10000 ]
	[ "$(stat_of 1 send_errors)" = 0 ]
	[ "$(stat_of 2 malformed)" = 0 ]
}
