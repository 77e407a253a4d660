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

@test "flanneld refuses Kubernetes flags, and --listen with --remote, with exit 64" {
	run "$BIN/flanneld" --kube-subnet-mgr
	[ "$status" -eq 64 ]
	[[ "$output" == *"Kubernetes mode is not supported"* ]]
	run "$BIN/flanneld" -listen=0.0.0.0:8888 --remote=192.0.2.254:8888
	[ "$status" -eq 64 ]
	[[ "$output" == *"mutually exclusive"* ]]
	# --listen runs flannel-server with the same etcd options (tests/server.bats).
	run "$BIN/flanneld" -listen=0.0.0.0:8888 --etcd-endpoints=http://192.0.2.254:2379 --dry-run
	[ "$status" -eq 0 ]
	[[ "$output" == *"/flannel-server --listen=0.0.0.0:8888 --etcd-prefix=/coreos.com/network --etcd-endpoints=http://192.0.2.254:2379"* ]]
}

@test "flanneld refuses a backend it does not implement, naming it, exit 78" {
	for b in aws-vpc tencent-vpc; do
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

@test "multi-network mode: three vxlan networks in one flanneld, each its own routes and nexthops; pings in each; nothing purged, a restart rewrites nothing" {
	local net vni=1 sub
	for net in blue green red; do
		etcdctl_ put "/coreos.com/network/$net/config" \
			"{\"Network\":\"100.$((64 + vni)).0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":$vni}}" >/dev/null
		vni=$((vni + 1))
	done
	for i in 1 2; do
		bg_in_host "$i" "$RUN/multi$i.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" \
			--iface=eth0 --networks=blue,green,red --subnet-dir="$RUN/n$i" \
			--iptables-forward-rules=false
		eval "MPID_$i=$LAST_PID"
	done
	for i in 1 2; do
		for net in blue green red; do
			wait_for 15 test -s "$RUN/n$i/$net.env"
			# veth names: "c<id><host><n>" fits IFNAMSIZ.
			env_container "$i" "$RUN/n$i/$net.env" "$i${net:0:1}"
		done
	done
	for net in blue green red; do
		sub=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0\/24/p' "$RUN/n2/$net.env")
		# nexthop shape: the route names a nexthop on this network's device.
		wait_for 10 bash -c "ip -n '$(host_ns 1)' route show '$sub' | grep -q nhid" ||
			{ ip -n "$(host_ns 1)" route; cat "$RUN/multi1.log"; false; }
		wait_for 10 ip netns exec "$(fl_id)c11${net:0:1}" ping -c 1 -W 1 "${sub%.0/24}.2"
	done
	ip -n "$(host_ns 1)" -d link show flannel.3 | grep -q 'vxlan id 3'
	# Three nexthop ids on each host, one per network and far apart.
	[ "$(ip -n "$(host_ns 1)" nexthop show proto 76 | wc -l)" -eq 3 ]
	sleep 2
	for i in 1 2; do
		run grep -E 'purged|restoring|File exists' "$RUN/multi$i.log"
		[ "$status" -eq 1 ] || { echo "$output"; false; }
	done
	before=$(ip -n "$(host_ns 1)" nexthop show proto 76; ip -n "$(host_ns 1)" route show proto 76)
	kill -TERM "$MPID_1"
	wait "$MPID_1" || true
	bg_in_host 1 "$RUN/multi1b.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" \
		--iface=eth0 --networks=blue,green,red --subnet-dir="$RUN/n1" --iptables-forward-rules=false
	wait_for 15 grep -q 'all networks synced: ready' "$RUN/multi1b.log" ||
		{ cat "$RUN/multi1b.log"; false; }
	sleep 1
	after=$(ip -n "$(host_ns 1)" nexthop show proto 76; ip -n "$(host_ns 1)" route show proto 76)
	[ "$before" = "$after" ] || { diff <(echo "$before") <(echo "$after"); false; }
	run grep -E 'purged|restoring|File exists' "$RUN/multi1b.log"
	[ "$status" -eq 1 ] || { echo "$output"; false; }
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
	[[ "$output" == *"no interface with an IPv4 address matches --iface=nosuch"* ]]
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

@test "--route-shape reaches the kernel appliers only; a bad shape is exit 64" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--route-shape=classic
	[ "$status" -eq 0 ]
	[[ "$output" == *"flannel-vxlan apply "*"--route-shape=classic"* ]]
	run in_host 1 env FLANNELD_ROUTE_SHAPE=nexthop "$BIN/flanneld" \
		--etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run
	[[ "$output" == *"--route-shape=nexthop"* ]]
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run
	[[ "$output" != *"--route-shape"* ]]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"alloc"}}'
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--route-shape=classic
	[ "$status" -eq 0 ]
	[[ "$output" != *"--route-shape"* ]]
	run "$BIN/flanneld" --route-shape=round
	[ "$status" -eq 64 ]
	[[ "$output" == *"--route-shape round: not nexthop or classic"* ]]
	# For real, host-gw: upstream's plain route, no nexthop object.
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	for i in 1 2; do
		start_flanneld "$i" --route-shape=classic --iptables-forward-rules=false
	done
	wait_env 1
	wait_env 2
	# shellcheck disable=SC1090
	. "$RUN/h2/subnet.env"
	sub2="${FLANNEL_SUBNET%.*}.0/${FLANNEL_SUBNET#*/}"
	wait_for 10 sh -c "ip -n '$(host_ns 1)' route show proto 76 | grep -q '^$sub2 via 192.0.2.2'"
	run ip -n "$(host_ns 1)" nexthop show proto 76
	[ -z "$output" ]
}

@test "two flanneld for one subnet file: the second exits 75 naming the first's PID" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"alloc"}}'
	start_flanneld 1
	wait_env 1
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$RUN/h1/subnet.env"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ "$output" == *"another flanneld (pid $FLANNELD_PID_1) already runs for $RUN/h1/subnet.env"* ]]
	# A flannel-lease by hand next to flanneld: refused as well.
	run in_host 1 "$BIN/flannel-lease" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$RUN/h1/subnet.env"
	[ "$status" -eq 75 ]
	[[ "$output" == *"another flannel-lease (pid "* ]]
	# The first one was not disturbed.
	kill -0 "$FLANNELD_PID_1"
}

@test "multi-network: one VNI in two vxlan networks, one fixed device (udp) or two ipsec networks on one host, is refused naming both, exit 78" {
	etcdctl_ put /coreos.com/network/blue/config \
		'{"Network":"100.65.0.0/16","Backend":{"Type":"vxlan","VNI":5}}' >/dev/null
	etcdctl_ put /coreos.com/network/green/config \
		'{"Network":"100.66.0.0/16","Backend":{"Type":"vxlan","VNI":5}}' >/dev/null
	etcdctl_ put /coreos.com/network/red/config \
		'{"Network":"100.67.0.0/16","Backend":{"Type":"vxlan"}}' >/dev/null
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"networks blue and green both use vxlan VNI 5"* ]]
	# The default VNI is 1: two networks without one collide as well.
	etcdctl_ put /coreos.com/network/green/config \
		'{"Network":"100.66.0.0/16","Backend":{"Type":"vxlan"}}' >/dev/null
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green,red
	[ "$status" -eq 78 ]
	[[ "$output" == *"networks green and red both use vxlan VNI 1"* ]]
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green
	[ "$status" -eq 0 ]
	# Backends with one fixed device: two networks of one of them cannot share a host;
	# host-gw has no device, any number of networks can use it.
	etcdctl_ put /coreos.com/network/blue/config '{"Network":"100.65.0.0/16"}' >/dev/null
	etcdctl_ put /coreos.com/network/red/config '{"Network":"100.67.0.0/16","Backend":{"Type":"udp"}}' >/dev/null
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green,red
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"networks blue and red would both use device flannel0 (backend udp)"* ]]
	# ipsec has no device, but one charon and one set of XFRM policies per host.
	local psk
	psk=$(printf 'k%.0s' $(seq 1 96))
	etcdctl_ put /coreos.com/network/blue/config "{\"Network\":\"100.65.0.0/16\",\"Backend\":{\"Type\":\"ipsec\",\"PSK\":\"$psk\"}}" >/dev/null
	etcdctl_ put /coreos.com/network/red/config "{\"Network\":\"100.67.0.0/16\",\"Backend\":{\"Type\":\"ipsec\",\"PSK\":\"$psk\"}}" >/dev/null
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green,red
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"networks blue and red both use the ipsec backend: on one host only one network can"* ]]
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green
	[ "$status" -eq 0 ]
	etcdctl_ put /coreos.com/network/blue/config '{"Network":"100.65.0.0/16","Backend":{"Type":"host-gw"}}' >/dev/null
	etcdctl_ put /coreos.com/network/red/config '{"Network":"100.67.0.0/16","Backend":{"Type":"host-gw"}}' >/dev/null
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--networks=blue,green,red
	[ "$status" -eq 0 ]
}

@test "-v reaches every piece; --iface=eth9 names eth9; non-root: 77 naming CAP_NET_ADMIN" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 --dry-run \
		--ip-masq -v=2
	echo "$output"
	[ "$status" -eq 0 ]
	npieces=$(grep -c "/flannel-" <<<"$output")
	[ "$npieces" -ge 5 ]
	[ "$(grep "/flannel-" <<<"$output" | grep -c -- ' -v2')" -eq "$npieces" ]
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth9 --dry-run
	[ "$status" -eq 78 ]
	[[ "$output" == *"--iface=eth9"* ]]
	for t in "flanneld --etcd-endpoints=$ETCD_EP --iface=eth0" \
		"flannel-route apply --network=100.64.0.0/16" "flannel-vxlan init --iface=eth0" \
		"flannel-vxlan apply" "flannel-masq --network=100.64.0.0/16 --subnet=100.64.1.0/24 apply"; do
		# shellcheck disable=SC2086
		run in_host 1 setpriv --reuid=65534 --regid=65534 --clear-groups $BIN/$t </dev/null
		echo "$t: $status $output"
		[ "$status" -eq 77 ]
		[[ "$output" == *"needs root or CAP_NET_ADMIN"* ]]
	done
}

@test "SIGHUP re-reads the config: unchanged, each piece reconciles; changed, the pieces restart with it" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":1}}'
	start_flanneld 1 --iptables-forward-rules=false
	wait_env 1
	log="$RUN/flanneld-h1.log"
	wait_for 10 grep -q "all networks synced" "$log"
	kill -HUP "$FLANNELD_PID_1"
	wait_for 5 grep -q "reload: configuration unchanged, each piece reconciles" "$log"
	kill -0 "$FLANNELD_PID_1"
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":2}}'
	kill -HUP "$FLANNELD_PID_1"
	wait_for 5 grep -q "reload: configuration changed, restarting the pieces" "$log"
	wait_for 10 ip -n "$(host_ns 1)" link show flannel.2
	wait_for 10 sh -c "etcdctl_() { ETCDCTL_API=3 ip netns exec '$ETCD_NS' etcdctl --endpoints '$ETCD_EP' \"\$@\"; }
		etcdctl_ get --prefix --print-value-only /coreos.com/network/subnets/ | grep -q '\"VNI\":2'"
	# A bad config keeps the running one.
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":"x"}}'
	kill -HUP "$FLANNELD_PID_1"
	wait_for 5 grep -q "keeping the running one" "$log"
	kill -0 "$FLANNELD_PID_1"
	cat "$log"
}

@test "SIGTERM to flanneld's process group: one stop, no restart of any piece" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	log="$RUN/group.log"
	bg_in_host 1 "$log" setsid "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$RUN/h1/subnet.env" --iptables-forward-rules=false
	pid=$LAST_PID
	wait_env 1
	wait_for 10 grep -q "all networks synced" "$log"
	[ "$(ps -o pgid= -p "$pid" | tr -d ' ')" = "$pid" ]
	kill -TERM -- "-$pid"
	st=0
	wait "$pid" || st=$?
	cat "$log"
	[ "$st" -eq 0 ]
	[ "$(grep -c 'stopping' "$log")" -eq 1 ]
	run grep -E 'restarting|exited with status|killed by signal' "$log"
	[ -z "$output" ]
}

# http_code I URL: the HTTP status of URL from inside host I.
http_code() {
	in_host "$1" curl -s -o /dev/null -m 2 -w '%{http_code}' "$2" || true
}

@test "--healthz-ip/--healthz-port: /healthz while running, /readyz once synced" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	port=$(free_port)
	start_flanneld 1 --iptables-forward-rules=false --healthz-ip=127.0.0.1 --healthz-port="$port"
	wait_for 10 grep -q "all networks synced" "$RUN/flanneld-h1.log"
	[ "$(http_code 1 "http://127.0.0.1:$port/healthz")" = 200 ]
	[ "$(http_code 1 "http://127.0.0.1:$port/readyz")" = 200 ]
	[ "$(http_code 1 "http://127.0.0.1:$port/other")" = 404 ]
	run in_host 1 curl -s -m 2 "http://127.0.0.1:$port/healthz"
	[ "$output" = ok ]
	# Not ready while the lease never comes: a flannel-lease that only waits.
	fake="$BATS_TEST_TMPDIR/bin"
	mkdir -p "$fake"
	for t in "$BIN"/flannel-*; do ln -s "$(readlink -f "$t")" "$fake/"; done
	rm "$fake/flannel-lease"
	printf '#!/bin/sh\nexec sleep 30\n' >"$fake/flannel-lease"
	chmod +x "$fake/flannel-lease"
	port2=$(free_port)
	bg_in_host 2 "$RUN/nr.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$RUN/h2/subnet.env" --iptables-forward-rules=false \
		--bin-dir="$fake" --healthz-ip=127.0.0.1 --healthz-port="$port2"
	wait_for 10 sh -c "[ \"\$(ip netns exec '$(host_ns 2)' curl -s -o /dev/null -m 1 -w '%{http_code}' http://127.0.0.1:$port2/healthz)\" = 200 ]"
	[ "$(http_code 2 "http://127.0.0.1:$port2/readyz")" = 503 ]
	# A bad port is a usage error.
	run "$BIN/flanneld" --healthz-port=70000
	[ "$status" -eq 64 ]
}
