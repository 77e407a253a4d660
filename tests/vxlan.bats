#!/usr/bin/env bats
# flannel-vxlan end to end: three hosts in namespaces, etcd in the underlay,
# each host running flannel-lease and flannel-watch | flannel-vxlan apply.

load helpers
load overlay

teardown() { fl_teardown; }

export LEASE_MTU=1450
VXCONF='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'

# vx_up N: N hosts with a container each, all routes in.
vx_up() {
	cluster_up "$1" "$VXCONF" vxlan flannel-vxlan apply
}

@test "vxlan: containers on three hosts ping each other across the overlay" {
	vx_up 3
	ping_all 3
	# Upstream's objects: neighbour and FDB entry per remote, device address /32.
	run ip -n "$(host_ns 1)" neigh show dev flannel.1 "$(subnet_of 2 | cut -d/ -f1)"
	[[ "$output" == *PERMANENT* ]]
	run bridge -n "$(host_ns 1)" fdb show dev flannel.1
	[[ "$output" == *"dst 192.0.2.2 self permanent"* ]]
	[[ "$output" == *"dst 192.0.2.3 self permanent"* ]]
	run ip -n "$(host_ns 1)" -4 addr show dev flannel.1
	[[ "$output" == *"inet $(subnet_of 1 | cut -d/ -f1)/32"* ]]
}

@test "vxlan: a 1450-byte don't-fragment ping passes on a 1500 underlay, 1451 does not" {
	vx_up 2
	[ "$(ip -n "$(host_ns 1)" -j link show flannel.1 | jq '.[0].mtu')" = 1450 ]
	# -s is the ICMP payload: 1422 + 8 + 20 = 1450 bytes of IP packet.
	in_container 1 ping -c 1 -W 2 -M "do" -s 1422 "$(caddr 2)"
	run in_container 1 ping -c 1 -W 2 -M "do" -s 1423 "$(caddr 2)"
	[ "$status" -ne 0 ]
}

@test "vxlan: a host whose lease is deleted loses its routes on the others within a second" {
	vx_up 3
	local gone
	gone=$(subnet_of 3)
	kill "$LEASE_PID_3"
	etcdctl_ del "/coreos.com/network/subnets/${gone/\//-}"
	wait_for 1 no_route 1 "$gone"
	wait_for 1 no_route 2 "$gone"
	# Exactly its entries: the FDB entry to host 3 goes, host 2's stays.
	run bridge -n "$(host_ns 1)" fdb show dev flannel.1
	[[ "$output" != *"dst 192.0.2.3"* ]]
	[[ "$output" == *"dst 192.0.2.2"* ]]
	[ -z "$(ip -n "$(host_ns 1)" neigh show dev flannel.1 "${gone%/*}")" ]
	[ "$(ip -n "$(host_ns 1)" nexthop show proto 76 | wc -l)" = 1 ]
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "vxlan: a route, nexthop, neighbour or FDB entry deleted by hand comes back" {
	vx_up 2
	local h sub gw mac
	h=$(host_ns 1)
	sub=$(subnet_of 2)
	gw=${sub%/*}
	ip -n "$h" -ts monitor route >"$D/heal.log" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.2
	ip -n "$h" route del "$sub"
	wait_for 1 has_route 1 "$sub"
	# The issue's bound: back within 100 ms of the deletion (kernel timestamps).
	sleep 0.1
	run heal_ms "$D/heal.log" "$sub"
	echo "restored after $output ms"
	[ -n "$output" ] && [ "$output" -lt 100 ]
	nh=$(ip -n "$h" -j route show "$sub" | jq -r '.[0].nhid')
	ip -n "$h" nexthop del id "$nh"
	wait_for 1 has_route 1 "$sub"
	mac=$(ip -n "$h" -j neigh show dev flannel.1 "$gw" | jq -r '.[0].lladdr')
	ip -n "$h" neigh del "$gw" dev flannel.1
	wait_for 1 sh -c "ip -n '$h' neigh show dev flannel.1 '$gw' | grep -q PERMANENT"
	bridge -n "$h" fdb del "$mac" dev flannel.1 dst 192.0.2.2 self
	wait_for 1 sh -c "bridge -n '$h' fdb show dev flannel.1 | grep -q '$mac dst 192.0.2.2'"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	grep -q 'was deleted: restoring it' "$D/apply1.log"
}

@test "vxlan: a restarted applier converges to the same state, deleting and re-adding nothing" {
	vx_up 3
	local h
	h=$(host_ns 1)
	kernel_state 1 >"$D/before.json"
	ip -n "$h" monitor route nexthop neigh >"$D/monitor.log" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.2
	kill "$APPLY_PID_1"
	applier_start 1 flannel-vxlan apply
	wait_for 10 synced 1 2
	sleep 0.3
	kernel_state 1 >"$D/after.json"
	diff -u "$D/before.json" "$D/after.json"
	run grep -E '^Deleted|^(100\.64|id )' "$D/monitor.log"
	[ -z "$output" ]
	in_container 1 ping -c 1 -W 2 "$(caddr 3)"
}

@test "vxlan: stale entries of ours are purged after the snapshot, foreign ones are kept" {
	vx_up 2
	local h
	h=$(host_ns 1)
	kill "$APPLY_PID_1"
	ip -n "$h" nexthop add id 4242 via 100.64.250.0 dev flannel.1 onlink proto 76
	ip -n "$h" route add 100.64.250.0/24 nhid 4242 proto 76
	ip -n "$h" neigh add 100.64.250.0 lladdr 02:00:00:00:fa:00 dev flannel.1 nud permanent
	bridge -n "$h" fdb add 02:00:00:00:fa:00 dev flannel.1 dst 192.0.2.250 self permanent
	ip -n "$h" route add 198.18.0.0/24 via 192.0.2.254 proto static
	applier_start 1 flannel-vxlan apply
	wait_for 10 synced 1 2
	wait_for 2 no_route 1 100.64.250.0/24
	run ip -n "$h" nexthop show id 4242
	[ "$status" -ne 0 ]
	[ -z "$(ip -n "$h" neigh show dev flannel.1 100.64.250.0)" ]
	run bridge -n "$h" fdb show dev flannel.1
	[[ "$output" != *02:00:00:00:fa:00* ]]
	has_route 1 198.18.0.0/24
	has_route 1 "$(subnet_of 2)"
}

@test "vxlan: IPv6 overlay over an IPv6 underlay" {
	cluster_start 2 '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"vxlan"}}'
	local i d4 d6
	for i in 1 2; do
		d4=$(in_host "$i" flannel-vxlan init --iface=eth0)
		d6=$(in_host "$i" flannel-vxlan init -6 --iface=eth0)
		lease_start "$i" vxlan --public-ipv6="2001:db8::$i" --backend-data="$d4" \
			--backend-v6-data="$d6"
	done
	for i in 1 2; do
		applier_start "$i" flannel-vxlan apply
		container "$i"
	done
	wait_for 10 synced 1
	wait_for 10 synced 2
	[ "$(ip -n "$(host_ns 1)" -j link show flannel-v6.1 | jq '.[0].mtu')" = 1430 ]
	wait_for 5 sh -c "ip -n '$(host_ns 1)' -6 route show proto 76 | grep -q flannel-v6.1"
	wait_for 5 in_container 1 ping -6 -c 1 -W 1 "$(caddr 2 6)"
	in_container 2 ping -6 -c 1 -W 2 "$(caddr 1 6)"
	run bridge -n "$(host_ns 1)" fdb show dev flannel-v6.1
	[[ "$output" == *"dst 2001:db8::2 self permanent"* ]]
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	# The device's address carries the flags upstream's does: none (no nodad).
	run ip -n "$(host_ns 1)" -j -6 addr show dev flannel-v6.1 scope global
	[ "$(jq -r '.[0].addr_info[0].local' <<<"$output")" != null ]
	[ "$(jq -r '.[0].addr_info[0].nodad // false' <<<"$output")" = false ]
}

@test "vxlan: DirectRouting routes a same-subnet peer directly and the others through VXLAN" {
	cluster_start 3 "$VXCONF"
	local i data
	# Host 3 is reached at 198.51.100.3 through a gateway: not on our subnet.
	in_host 3 ip addr add 198.51.100.3/32 dev lo
	in_host 1 ip route add 198.51.100.3/32 via 192.0.2.3
	in_host 2 ip route add 198.51.100.3/32 via 192.0.2.3
	for i in 1 2; do
		data=$(in_host "$i" flannel-vxlan init --iface=eth0)
		lease_start "$i" vxlan --backend-data="$data"
	done
	data=$(in_host 3 flannel-vxlan init --iface=eth0 --public-ip=198.51.100.3)
	lease_start 3 vxlan --public-ip=198.51.100.3 --backend-data="$data"
	for i in 1 2 3; do
		applier_start "$i" flannel-vxlan apply --direct-routing
		container "$i"
	done
	for i in 1 2 3; do wait_for 10 synced "$i"; done
	wait_for 5 has_route 1 "$(subnet_of 2)"
	wait_for 5 has_route 1 "$(subnet_of 3)"
	run ip -n "$(host_ns 1)" route get "$(caddr 2)"
	[[ "$output" == *"via 192.0.2.2 dev eth0"* ]]
	run ip -n "$(host_ns 1)" route get "$(caddr 3)"
	[[ "$output" == *"dev flannel.1"* ]]
	run bridge -n "$(host_ns 1)" fdb show dev flannel.1
	[[ "$output" == *"dst 198.51.100.3"* ]]
	[[ "$output" != *"dst 192.0.2.2"* ]]
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	in_container 1 ping -c 1 -W 2 "$(caddr 3)"
}

@test "vxlan: the nexthop shape forwards exactly as upstream's route shape" {
	need_root
	fl_id >/dev/null
	local up ours n=1000 i a
	up="$(fl_id)up"
	ours="$(fl_id)us"
	vtep_ns "$up"
	vtep_ns "$ours"
	upstream_batch "$n" >"$BATS_TEST_TMPDIR/batch"
	sed -n 's/^ip //p' "$BATS_TEST_TMPDIR/batch" | ip -n "$up" -batch -
	sed -n 's/^bridge //p' "$BATS_TEST_TMPDIR/batch" | bridge -n "$up" -batch -
	lease_lines "$n" | ip netns exec "$ours" flannel-vxlan apply --no-monitor --no-setup
	# The shape really differs: nexthop objects on our side only.
	[ "$(ip -n "$ours" nexthop show | wc -l)" = "$n" ]
	[ -z "$(ip -n "$up" nexthop show)" ]
	# 1000 random overlay addresses, plus three that no route covers.
	{
		for i in $(seq 1 1000); do
			a=$(( (RANDOM % n) + 2 ))
			echo "100.$((64 + (a >> 8))).$((a & 255)).$((RANDOM % 256))"
		done
		echo 100.64.0.7; echo 100.70.0.1; echo 198.51.100.9
	} >"$BATS_TEST_TMPDIR/addrs"
	for ns in "$up" "$ours"; do
		while read -r a; do
			ip -n "$ns" route get "$a" 2>&1 | sed -E 's/ nhid [0-9]+//' | head -n1
		done <"$BATS_TEST_TMPDIR/addrs" >"$BATS_TEST_TMPDIR/get.$ns"
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/get.$up")" = 1003 ]
	grep -q "via 100.6" "$BATS_TEST_TMPDIR/get.$up"
	diff -u "$BATS_TEST_TMPDIR/get.$up" "$BATS_TEST_TMPDIR/get.$ours"
	# Neighbours and FDB identical (our neighbours carry protocol 76 in addition).
	for ns in "$up" "$ours"; do
		ip -n "$ns" neigh show dev flannel.1 | sed 's/ proto 76//' | sort >"$BATS_TEST_TMPDIR/neigh.$ns"
		bridge -n "$ns" fdb show dev flannel.1 | sort >"$BATS_TEST_TMPDIR/fdb.$ns"
		ip -n "$ns" route show dev flannel.1 |
			sed -E 's/ nhid [0-9]+//; s/ proto (boot|76)//' | sort >"$BATS_TEST_TMPDIR/route.$ns"
	done
	[ "$(wc -l <"$BATS_TEST_TMPDIR/neigh.$up")" = "$n" ]
	diff -u "$BATS_TEST_TMPDIR/neigh.$up" "$BATS_TEST_TMPDIR/neigh.$ours"
	diff -u "$BATS_TEST_TMPDIR/fdb.$up" "$BATS_TEST_TMPDIR/fdb.$ours"
	diff -u "$BATS_TEST_TMPDIR/route.$up" "$BATS_TEST_TMPDIR/route.$ours"
}

@test "vxlan: hostile and malformed events change nothing and never stop the stream" {
	need_root
	fl_id >/dev/null
	local ns
	ns="$(fl_id)ho"
	vtep_ns "$ns"
	printf 'FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.1.1/24\n' >"$BATS_TEST_TMPDIR/env"
	lease_lines 1 2 >"$BATS_TEST_TMPDIR/good"
	ip netns exec "$ns" flannel-vxlan apply --no-monitor --no-setup \
		--subnet-file="$BATS_TEST_TMPDIR/env" <"$BATS_TEST_TMPDIR/good"
	ip -j -n "$ns" route | jq -S . >"$BATS_TEST_TMPDIR/before"
	ip -n "$ns" neigh show dev flannel.1 >>"$BATS_TEST_TMPDIR/before"
	bridge -n "$ns" fdb show dev flannel.1 >>"$BATS_TEST_TMPDIR/before"
	V='"backend_type":"vxlan"'
	cat >"$BATS_TEST_TMPDIR/bad" <<-EOT
	not json at all
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"2001:db8::7",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"127.0.0.1",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"224.0.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"01:00:5e:00:00:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":16777216,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"100.64.1.0/25","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"198.51.100.0/24","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"02:00:00:00:07:07"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V,"backend_data":{"VNI":1,"VtepMAC":"0a:58:64:00:00:02"}}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V,"backend_data":"a string"}
	{"type":"added","subnet":"100.64.7.0/24","public_ip":"198.18.0.7",$V}
	{"type":"frobnicate","revision":3}
	EOT
	# The good lease again, twice: nothing to write.
	cat "$BATS_TEST_TMPDIR/good" "$BATS_TEST_TMPDIR/good" >>"$BATS_TEST_TMPDIR/bad"
	ip -n "$ns" monitor route neigh nexthop >"$BATS_TEST_TMPDIR/monitor" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.2
	run ip netns exec "$ns" flannel-vxlan apply --no-monitor --no-setup \
		--subnet-file="$BATS_TEST_TMPDIR/env" <"$BATS_TEST_TMPDIR/bad"
	[ "$status" -eq 0 ]
	[[ "$output" == *"line 1: invalid JSON"* ]]
	[[ "$output" == *"line 2: public_ip is not an IPv4 address"* ]]
	[[ "$output" == *"line 3: PublicIP 127.0.0.1 is not a usable"* ]]
	[[ "$output" == *"line 4: PublicIP 224.0.0.7 is not a usable"* ]]
	[[ "$output" == *"VtepMAC is not a MAC address"* ]]
	[[ "$output" == *"VtepMAC 01:00:5e:00:00:07 is not a unicast"* ]]
	[[ "$output" == *"VNI is not an integer"* ]]
	[[ "$output" == *"overlaps our own subnet"* ]]
	[[ "$output" == *"198.51.100.0/24 is outside the network"* ]]
	[[ "$output" == *"VtepMAC 0a:58:64:00:00:02 is already used by the VTEP at 198.18.0.2"* ]]
	[[ "$output" == *"BackendData is not an object"* ]]
	[[ "$output" == *'unknown type "frobnicate"'* ]]
	sleep 0.2
	ip -j -n "$ns" route | jq -S . >"$BATS_TEST_TMPDIR/after"
	ip -n "$ns" neigh show dev flannel.1 >>"$BATS_TEST_TMPDIR/after"
	bridge -n "$ns" fdb show dev flannel.1 >>"$BATS_TEST_TMPDIR/after"
	diff -u "$BATS_TEST_TMPDIR/before" "$BATS_TEST_TMPDIR/after"
	# Nothing of ours was written.  (The namespace's own neighbour traffic,
	# such as IPv6 on the veth, may show up and does not count.)
	cat "$BATS_TEST_TMPDIR/monitor"
	! grep -E 'flannel\.1|100\.64\.|proto 76|nexthop|^id ' "$BATS_TEST_TMPDIR/monitor"
}

@test "vxlan: after the device goes down and up, or is recreated, everything is reinstalled" {
	vx_up 2
	local h sub mac
	h=$(host_ns 1)
	sub=$(subnet_of 2)
	ip -n "$h" link set flannel.1 down
	wait_for 2 no_route 1 "$sub"
	ip -n "$h" link set flannel.1 up
	wait_for 2 has_route 1 "$sub"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	# Recreated with the same MAC (as a restarted init would keep it).
	mac=$(ip -n "$h" -j link show flannel.1 | jq -r '.[0].address')
	ip -n "$h" link del flannel.1
	in_host 1 flannel-vxlan init --iface=eth0 --mac="$mac"
	wait_for 2 has_route 1 "$sub"
	wait_for 2 sh -c "ip -n '$h' -4 addr show dev flannel.1 | grep -q inet"
	[[ "$(ip -n "$h" -4 addr show dev flannel.1)" == *"inet $(subnet_of 1 | cut -d/ -f1)/32"* ]]
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	grep -q 'is back' "$D/apply1.log"
}

@test "flannel-vxlan setup and init: the address from subnet.env, reuse, exit codes" {
	need_root
	fl_id >/dev/null
	local ns
	ns="$(fl_id)se"
	vtep_ns "$ns"
	ip -n "$ns" addr flush dev flannel.1
	printf 'FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.7.1/24\n' >"$BATS_TEST_TMPDIR/env"
	ip -n "$ns" addr add 100.64.9.9/32 dev flannel.1
	ip netns exec "$ns" flannel-vxlan setup --subnet-file="$BATS_TEST_TMPDIR/env"
	run ip -n "$ns" -4 -o addr show dev flannel.1
	[[ "$output" == *"inet 100.64.7.0/32"* ]]
	[[ "$output" != *100.64.9.9* ]]
	# init again with the same settings reuses the device and its MAC.
	mac=$(ip -n "$ns" -j link show flannel.1 | jq -r '.[0].address')
	run ip netns exec "$ns" flannel-vxlan init --iface=eth0
	[ "$status" -eq 0 ]
	[ "$output" = "{\"VNI\":1,\"VtepMAC\":\"$mac\"}" ]
	# Exit codes of flannel-vxlan(1).
	run ip netns exec "$ns" flannel-vxlan setup --subnet-file="$BATS_TEST_TMPDIR/none"
	[ "$status" -eq 66 ]
	printf 'FLANNEL_MTU=1450\n' >"$BATS_TEST_TMPDIR/empty"
	run ip netns exec "$ns" flannel-vxlan setup --subnet-file="$BATS_TEST_TMPDIR/empty"
	[ "$status" -eq 65 ]
	run ip netns exec "$ns" flannel-vxlan init --vni=16777216
	[ "$status" -eq 64 ]
	run ip netns exec "$ns" flannel-vxlan init --backend-config='{"VNI":"one"}'
	[ "$status" -eq 78 ]
	run ip netns exec "$ns" flannel-vxlan init --iface=nosuchif0
	[ "$status" -eq 78 ]
	run ip netns exec "$ns" flannel-vxlan apply --vni=9 </dev/null
	[ "$status" -eq 69 ]
	run ip netns exec "$ns" flannel-vxlan frobnicate
	[ "$status" -eq 64 ]
}
