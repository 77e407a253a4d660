#!/usr/bin/env bats
# flannel-route (host-gw) end to end: three hosts in namespaces, etcd in the
# underlay, each host running flannel-lease and flannel-watch | flannel-route.

load helpers
load overlay

teardown() { fl_teardown; }

GWCONF='{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'

# gw_up N: N hosts with a container each, all routes in.
gw_up() {
	cluster_up "$1" "$GWCONF" host-gw flannel-route apply
}

@test "host-gw: containers on three hosts ping each other through direct routes" {
	gw_up 3
	ping_all 3
	run ip -n "$(host_ns 1)" route get "$(caddr 2)"
	[[ "$output" == *"via 192.0.2.2 dev eth0"* ]]
	# Full-size packets pass: host-gw adds no header.
	in_container 1 ping -c 1 -W 2 -M "do" -s 1472 "$(caddr 3)"
}

@test "host-gw: a remote not directly reachable is refused with a warning, not half-routed" {
	gw_offlink_up
	no_route 1 "$(subnet_of 3)"
	grep -q "skip lease .*198.51.100.3 is not directly reachable on the underlay" "$D/apply1.log"
}

@test "host-gw: a deleted lease loses its route within a second; a route deleted by hand comes back" {
	gw_up 3
	local gone sub
	gone=$(subnet_of 3)
	kill "$LEASE_PID_3"
	etcdctl_ del "/coreos.com/network/subnets/${gone/\//-}"
	wait_for 1 no_route 1 "$gone"
	wait_for 1 no_route 2 "$gone"
	[ "$(ip -n "$(host_ns 1)" nexthop show proto 76 | wc -l)" = 1 ]
	sub=$(subnet_of 2)
	ip -n "$(host_ns 1)" route del "$sub"
	wait_for 1 has_route 1 "$sub"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "host-gw: a restarted applier converges to the same state, deleting and re-adding nothing" {
	gw_up 3
	local h
	h=$(host_ns 1)
	kernel_state 1 >"$D/before.json"
	ip -n "$h" monitor route nexthop >"$D/monitor.log" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.2
	kill "$APPLY_PID_1"
	applier_start 1 flannel-route apply
	wait_for 10 synced 1 2
	sleep 0.3
	kernel_state 1 >"$D/after.json"
	diff -u "$D/before.json" "$D/after.json"
	run grep -E '^Deleted|^(100\.64|id )' "$D/monitor.log"
	[ -z "$output" ]
}

@test "host-gw: IPv6 overlay over an IPv6 underlay" {
	cluster_start 2 '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"host-gw"}}'
	local i
	for i in 1 2; do
		lease_start "$i" host-gw --public-ipv6="2001:db8::$i"
	done
	for i in 1 2; do
		applier_start "$i" flannel-route apply
		container "$i"
	done
	wait_for 10 synced 1
	wait_for 10 synced 2
	wait_for 5 in_container 1 ping -6 -c 1 -W 1 "$(caddr 2 6)"
	run ip -n "$(host_ns 1)" -6 route get "$(caddr 2 6)"
	[[ "$output" == *"via 2001:db8::2 dev eth0"* ]]
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "host-gw: an applier reading another subnet.env still knows its own lease, loudly" {
	cluster_start 2 "$GWCONF"
	lease_start 1 host-gw
	lease_start 2 host-gw
	# The applier's subnet.env is not the one flannel-lease writes.
	h=$(host_ns 1)
	ip netns exec "$h" flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file="$D/wrong.env" \
		2>>"$D/watch1.log" 3>&- |
		ip netns exec "$h" flannel-route apply --subnet-file="$D/wrong.env" -v 1 \
			>>"$D/apply1.log" 2>&1 3>&- &
	track_pid "$!"
	wait_for 10 synced 1
	wait_for 5 has_route 1 "$(subnet_of 2)"
	no_route 1 "$(subnet_of 1)"
	cat "$D/apply1.log"
	grep -q "announces this host's own address 192.0.2.1: it is our own lease" "$D/apply1.log"
	# And nothing of ours was refused by the kernel: it was never planned.
	run grep -i "invalid gateway\|error" "$D/apply1.log"
	[[ "$output" != *"$(subnet_of 1)"* ]]
}
