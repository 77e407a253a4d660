#!/usr/bin/env bats
# Runs inside the user-mode-linux guest (tests/ipip.bats boots it through
# tests/uml/run.sh): flanneld with "Type":"ipip" on three hosts, the kernel
# objects upstream makes (flannel.ipip, routes via the public IPs onlink),
# the 1480-byte MTU, self-healing, restarts and DirectRouting.

load ../helpers
load ../overlay
bats_require_minimum_version 1.5.0

setup() {
	[ "$(cat /proc/sys/kernel/modprobe 2>/dev/null)" = /run/uml/modprobe ] ||
		require "runs only inside the guest of tests/uml/run.sh"
	need_root
}

teardown() { fl_teardown; }

# flanneld_start I: flanneld on host I, its subnet.env where overlay.bash
# looks (env_get, subnet_of, caddr, container).
flanneld_start() {
	bg_in_host "$1" "$D/flanneld$1.log" flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$D/h$1.env" --iptables-forward-rules=false
	eval "FLANNELD_PID_$1=$LAST_PID"
}

# ipip_up N: flanneld on hosts 1..N, a container on each, and every host
# with a route to every other's subnet.
ipip_up() {
	local i j
	for i in $(seq 1 "$1"); do
		flanneld_start "$i"
	done
	for i in $(seq 1 "$1"); do
		wait_for 20 grep -q FLANNEL_SUBNET "$D/h$i.env"
		container "$i"
	done
	for i in $(seq 1 "$1"); do
		for j in $(seq 1 "$1"); do
			[ "$i" = "$j" ] || wait_for 10 has_route "$i" "$(subnet_of "$j")"
		done
	done
}

# route_of I J: host I's route to host J's subnet, as "ip route" prints it.
route_of() {
	ip -n "$(host_ns "$1")" route show "$(subnet_of "$2")"
}

@test "guest: ipip between three hosts: device, routes, ping, 1480-byte MTU, healing, restart, lease removal" {
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipip"}}'
	ipip_up 3
	local h sub
	h=$(host_ns 1)
	sub=$(subnet_of 2)
	# Upstream's device: local = the interface address, no remote, ttl inherit, nopmtudisc.
	in_host 1 ip -d link show flannel.ipip | tee "$D/link"
	grep -q 'mtu 1480 ' "$D/link"
	grep -q 'ipip any remote any local 192.0.2.1 ttl inherit nopmtudisc' "$D/link"
	[ "$(in_host 1 ip -4 -o addr show dev flannel.ipip | awk '{print $4}')" = "$(subnet_of 1 | sed 's#/24$#/32#')" ]
	grep -q '^FLANNEL_MTU=1480$' "$D/h1.env"
	ip -n "$h" -d -j route show "$sub" | jq -c '.[0] | {dst, gateway, dev, protocol, flags}' | tee "$D/route"
	[ "$(cat "$D/route")" = "{\"dst\":\"$sub\",\"gateway\":\"192.0.2.2\",\"dev\":\"flannel.ipip\",\"protocol\":\"76\",\"flags\":[\"onlink\"]}" ]
	# Upstream's lease: BackendType ipip, no BackendData.
	etcdctl_ get --prefix --print-value-only /coreos.com/network/subnets/ | tee "$D/leases"
	[ "$(grep -c '"BackendType":"ipip"' "$D/leases")" -eq 3 ]
	run ! grep -q BackendData "$D/leases"
	ping_all 3
	# 1452 bytes of ICMP data make a 1480-byte packet: it fits; one more does not.
	in_container 1 ping -4 -c 1 -W 2 -M "do" -s 1452 "$(caddr 2)"
	run in_container 1 ping -4 -c 1 -W 2 -M "do" -s 1453 "$(caddr 2)"
	echo "$output"
	[ "$status" -ne 0 ]
	[[ $output == *"mtu = 1480"* ]]

	# A route deleted by hand is back within 100 ms.
	ip -n "$h" -ts monitor route >"$D/heal.log" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.3
	ip -n "$h" route del "$sub"
	wait_for 2 has_route 1 "$sub"
	sleep 0.2
	run heal_ms "$D/heal.log" "$sub"
	echo "restored after $output ms"
	[ -n "$output" ] && [ "$output" -lt 100 ]
	grep -q 'was deleted: restoring it' "$D/flanneld1.log"

	# Restarting flanneld deletes nothing.
	ip -n "$h" monitor route nexthop >"$D/monitor.log" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.3
	kill -TERM "$FLANNELD_PID_1"
	wait "$FLANNELD_PID_1" || true
	flanneld_start 1
	wait_for 20 grep -q "all networks synced" "$D/flanneld1.log"
	in_container 1 ping -4 -c 1 -W 2 "$(caddr 3)"
	sleep 0.3
	cat "$D/monitor.log"
	run ! grep -q "^Deleted" "$D/monitor.log"

	# A removed lease loses its route: host 3 stops (keeping its lease), then the lease goes.
	kill -TERM "$FLANNELD_PID_3"
	wait "$FLANNELD_PID_3" || true
	has_route 1 "$(subnet_of 3)"
	etcdctl_ del "/coreos.com/network/subnets/$(subnet_of 3 | tr / -)"
	wait_for 5 no_route 1 "$(subnet_of 3)"
	wait_for 5 no_route 2 "$(subnet_of 3)"
	has_route 1 "$sub"
}

@test "guest: ipip with DirectRouting: plain routes on our underlay subnet, tunnel routes across it" {
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipip","DirectRouting":true}}'
	# Host 3 moves to a second underlay subnet, behind the underlay's router.
	ip -n "$UL_NS" addr add 198.51.100.254/24 dev br0
	ip netns exec "$UL_NS" sysctl -qw net.ipv4.ip_forward=1
	in_host 3 ip addr del 192.0.2.3/24 dev eth0
	in_host 3 ip addr add 198.51.100.3/24 dev eth0
	in_host 3 ip route add default via 198.51.100.254
	ipip_up 3
	route_of 1 2
	route_of 1 3
	[ "$(ip -n "$(host_ns 1)" -j route show "$(subnet_of 2)" | jq -r '.[0].gateway')" = 192.0.2.2 ]
	[ "$(ip -n "$(host_ns 1)" -j route show "$(subnet_of 2)" | jq -r '.[0].flags | index("onlink")')" = null ]
	[ "$(ip -n "$(host_ns 1)" -j route show "$(subnet_of 3)" | jq -r '.[0].dev')" = flannel.ipip ]
	[ "$(ip -n "$(host_ns 1)" -j route show "$(subnet_of 2)" | jq -r '.[0].dev')" = eth0 ]
	[ "$(ip -n "$(host_ns 3)" -j route show "$(subnet_of 1)" | jq -r '.[0].dev')" = flannel.ipip ]
	[ "$(ip -n "$(host_ns 3)" -j route show "$(subnet_of 1)" | jq -r '.[0].gateway')" = 192.0.2.1 ]
	[ "$(ip -n "$(host_ns 1)" -j route show "$(subnet_of 3)" | jq -r '.[0].gateway')" = 198.51.100.3 ]
	# Both kinds carry packets: plain 1 -> 2, tunnelled 1 -> 3 and 2 -> 3.
	in_container 1 ping -4 -c 1 -W 2 "$(caddr 2)"
	in_container 1 ping -4 -c 1 -W 2 "$(caddr 3)"
	in_container 2 ping -4 -c 1 -W 2 "$(caddr 3)"
}
