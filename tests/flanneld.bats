#!/usr/bin/env bats
# flanneld: upstream's flags and FLANNELD_* twins, backends, supervision,
# restarts that delete nothing, multi-network mode, interface choice.

load helpers
load flanneld

setup() {
	need_root
	topo_create 3
	etcd_start "$UL_NS" 192.0.2.254
	RUN="$BATS_TEST_TMPDIR/run"
	mkdir -p "$RUN"
}

teardown() {
	fl_teardown
}

@test "flanneld refuses Kubernetes and client/server flags with exit 64" {
	run "$BIN/flanneld" --kube-subnet-mgr
	[ "$status" -eq 64 ]
	[[ "$output" == *"Kubernetes mode is not supported"* ]]
	run "$BIN/flanneld" -listen=0.0.0.0:8888
	[ "$status" -eq 64 ]
	[[ "$output" == *"not yet supported"* ]]
	run "$BIN/flanneld" --remote=192.0.2.254:8888
	[ "$status" -eq 64 ]
}

@test "flanneld refuses a backend it does not implement, naming it, exit 78" {
	for b in ipsec wireguard aws-vpc tencent-vpc; do
		put_config "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"$b\"}}"
		run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
			--subnet-file="$RUN/x.env"
		[ "$status" -eq 78 ]
		[[ "$output" == *"backend \"$b\" is not implemented"* ]]
	done
}

@test "every FLANNELD_* twin has the same effect as its flag; the flag wins" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":7}}'
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":8}}' /test/net
	base=(--etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run)
	flags=(
		"etcd-prefix=/test/net"
		"subnet-file=/run/flannel/other.env"
		"public-ip=192.0.2.77"
		"ip-masq=true"
		"ip-masq-fully-random-disable=true"
		"iptables-forward-rules=false"
		"subnet-lease-renew-margin=30"
		"etcd-cafile=/etc/ssl/ca.pem"
		"etcd-timeout=3s"
		"v=1"
	)
	run in_host 1 "$BIN/flanneld" "${base[@]}"
	[ "$status" -eq 0 ]
	plain=$output
	for f in "${flags[@]}"; do
		name=${f%%=*}
		value=${f#*=}
		var="FLANNELD_$(echo "$name" | tr 'a-z-' 'A-Z_')"
		run in_host 1 "$BIN/flanneld" "${base[@]}" "--$f"
		[ "$status" -eq 0 ]
		by_flag=$output
		run in_host 1 env "$var=$value" "$BIN/flanneld" "${base[@]}"
		[ "$status" -eq 0 ]
		echo "$name: flag vs $var"
		[ "$output" = "$by_flag" ]
		[ "$output" != "$plain" ]
	done
	# The command line beats the environment.
	run in_host 1 env FLANNELD_PUBLIC_IP=192.0.2.77 "$BIN/flanneld" "${base[@]}" \
		--public-ip=192.0.2.88
	[[ "$output" == *"--public-ip=192.0.2.88"* ]]
	[[ "$output" != *"192.0.2.77"* ]]
	# FLANNELD_ETCD_ENDPOINTS and FLANNELD_IFACE alone are enough.
	run in_host 1 env FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_IFACE=eth0 \
		"$BIN/flanneld" --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"--vni=7"* ]]
	[[ "$output" == *"--etcd-endpoints=$ETCD_EP"* ]]
}

@test "alloc: flanneld only leases a subnet; a killed lease piece is restarted" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"alloc"}}'
	start_flanneld 1 --iptables-forward-rules=false
	wait_env 1
	grep -q '^FLANNEL_SUBNET=100.64.' "$RUN/h1/subnet.env"
	key=$(etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/)
	[ -n "$key" ]
	run etcdctl_ get --print-value-only "$key"
	[ "$output" = '{"PublicIP":"192.0.2.1","PublicIPv6":null}' ]
	lease_pid=$(pgrep -P "$FLANNELD_PID_1" -f flannel-lease)
	kill -9 "$lease_pid"
	wait_for 10 bash -c "pgrep -P $FLANNELD_PID_1 -f flannel-lease | grep -vx $lease_pid"
	grep -q "lease (pid $lease_pid) killed by signal 9" "$RUN/flanneld-h1.log"
	grep -q "reused" "$RUN/flanneld-h1.log"
	# Still one lease, the same one.
	run etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/
	[ "$output" = "$key" ]
}

@test "flanneld on SIGTERM stops its pieces, exits 0 and leaves the lease" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"alloc"}}'
	start_flanneld 1 --iptables-forward-rules=false
	wait_env 1
	kill -TERM "$FLANNELD_PID_1"
	wait_for 10 bash -c "! kill -0 $FLANNELD_PID_1 2>/dev/null"
	wait "$FLANNELD_PID_1" || status=$?
	[ "${status:-0}" -eq 0 ]
	[ -z "$(ip netns pids "$(host_ns 1)")" ]
	run etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/
	[ -n "$output" ]
}

@test "multi-network mode writes one env file per network" {
	etcdctl_ put /coreos.com/network/blue/config \
		'{"Network":"100.65.0.0/16","Backend":{"Type":"alloc"}}' >/dev/null
	etcdctl_ put /coreos.com/network/green/config \
		'{"Network":"100.66.0.0/16","Backend":{"Type":"alloc"}}' >/dev/null
	bg_in_host 1 "$RUN/multi.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" \
		--iface=eth0 --networks=blue,green --subnet-dir="$RUN/networks" \
		--iptables-forward-rules=false
	wait_for 15 test -s "$RUN/networks/blue.env"
	wait_for 15 test -s "$RUN/networks/green.env"
	grep -q '^FLANNEL_NETWORK=100.65.0.0/16$' "$RUN/networks/blue.env"
	grep -q '^FLANNEL_SUBNET=100.65.' "$RUN/networks/blue.env"
	grep -q '^FLANNEL_NETWORK=100.66.0.0/16$' "$RUN/networks/green.env"
	grep -q '^FLANNEL_SUBNET=100.66.' "$RUN/networks/green.env"
	etcdctl_ get --prefix --keys-only /coreos.com/network/blue/subnets/ | grep -q '100.65.'
	etcdctl_ get --prefix --keys-only /coreos.com/network/green/subnets/ | grep -q '100.66.'
}

@test "--iface chooses the right address among several interfaces" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"alloc"}}'
	h=$(host_ns 2)
	# A second underlay interface on host 2, 198.51.100.2 (a veth pair: no dummy here).
	ip -n "$h" link add eth1 type veth peer name eth1p
	ip -n "$h" addr add 198.51.100.2/24 dev eth1
	ip -n "$h" link set eth1 up
	ip -n "$h" link set eth1p up
	# By name, by address, by regex, and first match wins.
	for spec in "--iface=eth1" "--iface=198.51.100.2" "--iface=nosuch --iface=eth1" \
		"--iface-regex=^198\.51\." "--iface-regex=eth1"; do
		# shellcheck disable=SC2086
		run in_host 2 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --dry-run $spec
		echo "$spec: $output"
		[ "$status" -eq 0 ]
		[[ "$output" == *"--public-ip=198.51.100.2 --iface=eth1"* ]]
	done
	run in_host 2 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --dry-run \
		--iface-can-reach=192.0.2.3
	[[ "$output" == *"--public-ip=192.0.2.2 --iface=eth0"* ]]
	run in_host 2 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --dry-run --iface=nosuch
	[ "$status" -eq 78 ]
	[[ "$output" == *"no interface matches"* ]]
	# And for real: the lease carries the chosen address.
	bg_in_host 2 "$RUN/iface.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" \
		--iface=eth1 --subnet-file="$RUN/h2/subnet.env" --iptables-forward-rules=false
	wait_env 2
	run etcdctl_ get --prefix --print-value-only /coreos.com/network/subnets/
	[[ "$output" == *'"PublicIP":"198.51.100.2"'* ]]
}

# Three hosts running flanneld with BACKEND; containers on each; full mesh ping.
mesh_ping() {
	for i in 1 2 3; do
		start_flanneld "$i" "$@"
	done
	for i in 1 2 3; do
		wait_env "$i"
		add_container "$i"
	done
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] && continue
			ping_containers "$i" "$j"
		done
	done
}

@test "vxlan: flanneld gives ping between containers on three hosts" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	mesh_ping
	in_host 1 ip -d link show flannel.1 | grep -q 'vxlan id 1'
	grep -q '^FLANNEL_MTU=1450$' "$RUN/h1/subnet.env"
}

@test "host-gw: flanneld gives ping between containers on three hosts" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	mesh_ping
	# shellcheck disable=SC1091
	. "$RUN/h2/subnet.env"
	in_host 1 ip route show | grep "${FLANNEL_SUBNET%.*}.0/24" | grep -q "via 192.0.2.2"
}

@test "extension: flanneld runs the seed's host-gw commands and gives ping" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"extension","SubnetAddCommand":"ip route add $SUBNET via $PUBLIC_IP","SubnetRemoveCommand":"ip route del $SUBNET via $PUBLIC_IP"}}'
	mesh_ping
}

@test "vxlan: restarting flanneld deletes no route, neighbour or FDB entry" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	mesh_ping
	ip netns exec "$(host_ns 1)" ip monitor route neigh >"$RUN/monitor.log" 2>&1 3>&- &
	track_pid "$!"
	mon=$!
	sleep 0.3
	kill -TERM "$FLANNELD_PID_1"
	wait "$FLANNELD_PID_1" || true
	start_flanneld 1
	wait_for 15 grep -q "all networks synced" "$RUN/flanneld-h1.log"
	ping_containers 1 2
	ping_containers 3 1
	sleep 0.5
	kill "$mon"
	cat "$RUN/monitor.log"
	! grep -q '^Deleted' "$RUN/monitor.log"
}

@test "ip-masq: leaving the overlay is masqueraded, crossing it is not" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	mesh_ping --ip-masq
	grep -q '^FLANNEL_IPMASQ=true$' "$RUN/h1/subnet.env"
	# An address outside the overlay: 198.51.100.254 on the underlay bridge.
	ip -n "$UL_NS" addr add 198.51.100.254/24 dev br0
	in_host 1 ip route add 198.51.100.0/24 via 192.0.2.254
	ip netns exec "$UL_NS" tcpdump -l -n -i br0 -c 1 icmp and dst 198.51.100.254 \
		>"$RUN/out.pcap.txt" 2>/dev/null 3>&- &
	track_pid "$!"
	sleep 0.5
	ip netns exec "$(fl_id)c1" ping -c 1 -W 2 198.51.100.254
	wait_for 5 grep -q 'ICMP' "$RUN/out.pcap.txt"
	cat "$RUN/out.pcap.txt"
	grep -q '192.0.2.1 > 198.51.100.254' "$RUN/out.pcap.txt"
	# Across the overlay the container keeps its own source address.
	ip netns exec "$(fl_id)c2" tcpdump -l -n -i eth0 -c 1 icmp and dst "$CIP_2" \
		>"$RUN/in.pcap.txt" 2>/dev/null 3>&- &
	track_pid "$!"
	sleep 0.5
	ping_containers 1 2
	wait_for 5 grep -q 'ICMP' "$RUN/in.pcap.txt"
	cat "$RUN/in.pcap.txt"
	grep -q "$CIP_1 > $CIP_2" "$RUN/in.pcap.txt"
}
