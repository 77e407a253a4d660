#!/usr/bin/env bats
# The wireguard backend with userspace devices (wireguard-go, this kernel has
# no WireGuard module): three hosts ping each other through flannel-wg and
# the underlay carries only WireGuard; a restart of flanneld keeps the device
# and the peers' sessions; a removed lease removes its peer, a peer removed
# by hand comes back; keepalive and PSK; the key file.  The kernel path runs
# where the module is, and is skipped, saying so, where it is not.
#
# wireguard-go serves its API socket in /var/run/wireguard, one directory
# for all namespaces: every host's wireguard-go and flanneld run with their
# own directory bound over it (ip netns exec gives each a mount namespace).

load helpers
load flanneld
load wireguard

PSK=GJ3XYWfXyiX7L0Ylvmr2DRpGW+gT3jU8l1W5GMj0oPs=

setup() {
	need_root
	[ -c /dev/net/tun ] || require "needs /dev/net/tun"
	command -v wireguard-go >/dev/null || require "needs wireguard-go (scripts/deps.sh)"
	command -v wg >/dev/null || require "needs wg (wireguard-tools, scripts/deps.sh)"
	mkdir -p /run/wireguard
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

mesh_up() {
	local i j
	for i in 1 2 3; do
		start_wggo "$i"
		start_fd "$i"
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

pubkey() { wg pubkey <"$RUN/h$1/wgkey"; }

# add_container6 I: the container of host I gets the .2 of its IPv6 subnet.
add_container6() {
	local i=$1 c sub6
	c="$(fl_id)c$i"
	# shellcheck disable=SC1090
	. "$RUN/h$i/subnet.env"
	sub6=$FLANNEL_IPV6_SUBNET
	ip -n "$(host_ns "$i")" -6 addr add "$sub6" dev "c$(fl_id)" nodad
	ip -n "$c" -6 addr add "${sub6%1/*}2/${sub6#*/}" dev eth0 nodad
	ip -n "$c" -6 route add default via "${sub6%/*}"
	eval "CIP6_$i=${sub6%1/*}2"
}

cip6() { eval echo "\$CIP6_$1"; }

# The pids of the wireguard-go that host I's flannel-wireguard started.
started_wggo() { sed -n 's/.*started wireguard-go for .* (pid \([0-9]*\)).*/\1/p' "$RUN/flanneld-h$1.log"; }

# ps -o args of host I's running flannel-wireguard apply.
apply_args() {
	local p
	for p in $(pgrep -P "$(eval echo "\$FLANNELD_PID_$1")"); do
		ps -o args= -p "$p"
	done | grep 'flannel-wireguard apply'
}

npeers() { in_wg "$1" wg show flannel-wg peers | grep -c . || true; }

has_peer() { in_wg "$1" wg show flannel-wg peers | grep -qxF "$2"; }

@test "wireguard: three hosts ping through flannel-wg; the underlay carries only WireGuard on UDP 51820" {
	local dump lease
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
	mesh_up
	# shellcheck disable=SC1091
	. "$RUN/h1/subnet.env"
	# The real IPv4 overhead: 1500 - 60 (upstream: - 80).
	[ "$FLANNEL_MTU" = 1440 ]
	in_host 1 ip link show flannel-wg | grep -q 'mtu 1440'
	in_host 1 ip -4 addr show flannel-wg | grep -q "inet ${FLANNEL_SUBNET%.*}.0/32"
	in_host 1 ip route show proto 76 | grep -q '^100.64.0.0/16 dev flannel-wg .*scope link'
	[ "$(npeers 1)" = 2 ]
	in_wg 1 wg show flannel-wg endpoints | grep -q "$(pubkey 2)	192.0.2.2:51820"
	in_wg 1 wg show flannel-wg allowed-ips | grep -q "$(pubkey 3)	100.64."
	# The lease, as upstream writes it.
	lease=$(etcdctl_ get --print-value-only "/coreos.com/network/subnets/${FLANNEL_SUBNET%.*}.0-24")
	[[ $lease == *'"BackendType":"wireguard","BackendData":{"PublicKey":"'"$(pubkey 1)"'","Port":51820}'* ]]
	# The key file: base64, 44 bytes, 0400.
	[ "$(stat -c %a:%s "$RUN/h1/wgkey")" = 400:44 ]
	# On the underlay: UDP 51820 only (of IPv4, besides etcd),
	# and never an inner address or payload.
	# Host 1's port of the bridge: br0 itself sees only what is flooded.
	ip netns exec "$UL_NS" tcpdump -i "$(fl_id)v1" -n -U --immediate-mode -w "$RUN/ul.pcap" 2>/dev/null &
	dump=$!
	track_pid "$dump"
	sleep 0.5
	# The payload "flannel!" over and over: it must not be seen in clear.
	in_container 1 ping -c 3 -i 0.2 -W 1 -p 666c616e6e656c21 "$(cip 2)"
	in_container 3 ping -c 3 -i 0.2 -W 1 -p 666c616e6e656c21 "$(cip 1)"
	sleep 0.3
	kill "$dump"
	wait "$dump" || true
	[ -z "$(tcpdump -n -r "$RUN/ul.pcap" 'ip and not udp port 51820 and not (tcp and host 192.0.2.254)' 2>/dev/null)" ]
	tcpdump -n -r "$RUN/ul.pcap" 'udp port 51820' 2>/dev/null | awk '{print $3, $5}' | sort | uniq -c
	[ "$(tcpdump -n -r "$RUN/ul.pcap" 'udp port 51820' 2>/dev/null | grep -c .)" -ge 12 ]
	[ -z "$(tcpdump -n -r "$RUN/ul.pcap" 'net 100.64.0.0/16' 2>/dev/null)" ]
	[ "$(tcpdump -n -A -r "$RUN/ul.pcap" 2>/dev/null | grep -c 'flannel!')" = 0 ]
	grep -q 'userspace WireGuard' "$RUN/flanneld-h1.log"
}

@test "wireguard: a restart of flanneld keeps the device, its peers and their sessions; the key is reused" {
	local hs key pinger
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
	mesh_up
	key=$(pubkey 1)
	hs=$(in_wg 1 wg show flannel-wg latest-handshakes | sort)
	[ "$(echo "$hs" | awk '$2 > 0' | grep -c .)" = 2 ]
	# Pings from host 2 to host 1 go on all along.
	in_container 2 ping -c 40 -i 0.1 -W 1 "$(cip 1)" >"$RUN/ping.out" &
	pinger=$!
	track_pid "$pinger"
	sleep 0.5
	kill -TERM "$FLANNELD_PID_1"
	wait "$FLANNELD_PID_1" || true
	in_host 1 ip link show flannel-wg
	start_fd 1
	wait_for 15 grep -q 'peers kept' "$RUN/flanneld-h1.log"
	wait_for 10 grep -q 'reusing private key' "$RUN/flanneld-h1.log"
	wait "$pinger"
	cat "$RUN/ping.out"
	grep -q ' 0% packet loss' "$RUN/ping.out"
	[ "$(pubkey 1)" = "$key" ]
	ping_containers 1 3
	# The same sessions: no handshake was needed.
	[ "$(in_wg 1 wg show flannel-wg latest-handshakes | sort)" = "$hs" ]
	grep -q '2 peers kept' "$RUN/flanneld-h1.log"
}

@test "wireguard: a removed lease removes its peer; a peer removed by hand comes back" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
	mesh_up
	# By hand, behind flannel's back: reconciled within the check interval (10 s).
	in_wg 1 wg set flannel-wg peer "$(pubkey 2)" remove
	run has_peer 1 "$(pubkey 2)"
	[ "$status" != 0 ]
	wait_for 15 has_peer 1 "$(pubkey 2)"
	ping_containers 1 2
	# Host 3 stops (its lease stays), then its lease is deleted.
	kill -TERM "$FLANNELD_PID_3"
	wait "$FLANNELD_PID_3" || true
	# shellcheck disable=SC1091
	. "$RUN/h3/subnet.env"
	has_peer 1 "$(pubkey 3)"
	etcdctl_ del "/coreos.com/network/subnets/${FLANNEL_SUBNET%.*}.0-24" >/dev/null
	wait_for 5 eval '! has_peer 1 "$(pubkey 3)"'
	wait_for 5 eval '! has_peer 2 "$(pubkey 3)"'
	[ "$(npeers 1)" = 1 ]
	ping_containers 1 2
}

@test "wireguard: PersistentKeepaliveInterval and PSK are applied to every peer" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard","PersistentKeepaliveInterval":7,"PSK":"'"$PSK"'"}}'
	mesh_up
	run in_wg 1 wg show flannel-wg persistent-keepalive
	echo "$output"
	[ "$(echo "$output" | grep -c '	7$')" = 2 ]
	run in_wg 2 wg show flannel-wg preshared-keys
	[ "$(echo "$output" | grep -cF "	$PSK")" = 2 ]
}

@test "wireguard: a peer sent traffic that never answers is reported; a lease without Port gets ours" {
	local fifo="$RUN/events" peer
	peer=$(wg genkey | wg pubkey)
	mkdir -p "$RUN/h1"
	start_wggo 1
	mkfifo "$fifo"
	# Read-write: opening it does not wait for the reader.
	exec 4<>"$fifo"
	# Not bg_in_host: its job's standard input would be /dev/null.
	mkdir -p "$RUN/wg1"
	ip netns exec "$(host_ns 1)" env WIREGUARD_KEY_FILE="$RUN/h1/wgkey" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$RUN/wg1" \
		"$BIN/flannel-wireguard" apply --iface=eth0 --network=100.64.0.0/16 \
		--subnet-file="$RUN/none" --check-interval=1 --stale-after=2 \
		<"$fifo" >"$RUN/apply.log" 2>&1 3>&- &
	track_pid "$!"
	{
		echo '{"type":"snapshot","revision":1}'
		echo '{"type":"added","subnet":"100.64.1.0/24","public_ip":"192.0.2.1","backend_type":"wireguard","self":true}'
		# As flannel before v0.26.6 writes it: no Port.
		echo '{"type":"added","subnet":"100.64.9.0/24","public_ip":"192.0.2.9","backend_type":"wireguard","backend_data":{"PublicKey":"'"$peer"'"}}'
		echo '{"type":"added","subnet":"100.64.8.0/24","public_ip":"192.0.2.8","backend_type":"vxlan","backend_data":{"VtepMAC":"0e:2a:00:00:00:01"}}'
		echo '{"type":"sync","revision":1}'
	} >&4
	wait_for 5 has_peer 1 "$peer" || { cat "$RUN/apply.log"; false; }
	in_wg 1 wg show flannel-wg endpoints | grep -qxF "$peer	192.0.2.9:51820"
	[ "$(npeers 1)" = 1 ]
	grep -q 'skip lease 100.64.8.0/24: BackendType is "vxlan"' "$RUN/apply.log"
	in_host 1 ip -4 addr show flannel-wg | grep -q 'inet 100.64.1.0/32'
	# 192.0.2.9 does not exist: the handshake never comes.
	in_host 1 ping -c 10 -i 0.5 -W 1 100.64.9.2 || true
	wait_for 5 grep -q "peer 100.64.9.0/24 (192.0.2.9:51820, key $peer): no handshake ever while sending" "$RUN/apply.log"
	exec 4>&-
	cat "$RUN/apply.log"
}

@test "wireguard: bad Backend keys stop flanneld with status 78, naming the key" {
	local cfg key
	for cfg in '"PSK":"short"' '"PersistentKeepaliveInterval":"25s"' '"Mode":"tunnel"' '"ListenPort":70000'; do
		key=${cfg#\"}
		key=${key%%\"*}
		put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard",'"$cfg"'}}'
		run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
			--subnet-file="$RUN/h1/subnet.env"
		echo "$cfg: $status $output"
		[ "$status" = 78 ]
		[[ $output == *"Backend.$key"* ]]
	done
}

@test "wireguard: without a userspace implementation, the kernel device (or a clear error where the module is missing)" {
	local h
	h=$(host_ns 1)
	if ip -n "$h" link add flwgprobe type wireguard 2>/dev/null; then
		ip -n "$h" link del flwgprobe
		in_wg 1 env WIREGUARD_KEY_FILE="$RUN/k" "$BIN/flannel-wireguard" init --mtu=1500 >"$RUN/out"
		grep -q '"Port":51820' "$RUN/out"
		in_host 1 ip -d link show flannel-wg | grep -q wireguard
		in_host 1 wg show flannel-wg listen-port | grep -qx 51820
	else
		run in_wg 1 env WIREGUARD_KEY_FILE="$RUN/k" "$BIN/flannel-wireguard" init --mtu=1500 \
			--no-wireguard-go
		echo "$output"
		[ "$status" = 69 ]
		[[ $output == *"the kernel has no wireguard module"*"no userspace implementation serves"* ]]
	fi
}

@test "wireguard: the kernel's device through generic netlink (needs the wireguard module)" {
	local h
	h=$(host_ns 1)
	if ! ip -n "$h" link add flwgprobe type wireguard 2>/dev/null; then
		# Not require: the module is a property of the kernel, not of the setup.
		skip "this kernel has no wireguard module (ip link add type wireguard: Unknown device type)"
	fi
	ip -n "$h" link del flwgprobe
	in_wg 1 env WIREGUARD_KEY_FILE="$RUN/k" "$BIN/flannel-wireguard" init --mtu=1500 --port=51999
	in_host 1 wg show flannel-wg listen-port | grep -qx 51999
	[ "$(in_host 1 wg show flannel-wg public-key)" = "$(wg pubkey <"$RUN/k")" ]
}

@test "wireguard: dual stack, flannel-wg and flannel-wg-v6 (wireguard-go started by flannel-wireguard): ping and ping -6 through the tunnels, nothing in clear" {
	local dump i j lease
	put_config '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"wireguard"}}'
	for i in 1 2 3; do
		start_fd "$i"
	done
	for i in 1 2 3; do
		wait_env "$i"
		add_container "$i"
		add_container6 "$i"
	done
	for i in 1 2 3; do
		for j in 1 2 3; do
			[ "$i" = "$j" ] && continue
			ping_containers "$i" "$j"
			wait_for 10 in_container "$i" ping -6 -c 1 -W 1 "$(cip6 "$j")"
		done
	done
	# No wireguard-go was started by hand: flannel-wireguard did, one per device.
	grep -q 'started wireguard-go for flannel-wg (pid' "$RUN/flanneld-h1.log"
	grep -q 'started wireguard-go for flannel-wg-v6 (pid' "$RUN/flanneld-h1.log"
	# shellcheck disable=SC1091
	. "$RUN/h1/subnet.env"
	# The pods' one MTU fits both devices: the IPv6 overhead, 80.
	[ "$FLANNEL_MTU" = 1420 ]
	in_host 1 ip link show flannel-wg | grep -q 'mtu 1440'
	in_host 1 ip link show flannel-wg-v6 | grep -q 'mtu 1420'
	in_host 1 ip -6 addr show flannel-wg-v6 | grep -q "inet6 ${FLANNEL_IPV6_SUBNET%1/*}/128"
	in_host 1 ip -6 route show proto 76 | grep -q '^2001:db8:1::/48 dev flannel-wg-v6 '
	in_wg 1 wg show flannel-wg-v6 listen-port | grep -qx 51821
	in_wg 1 wg show flannel-wg-v6 endpoints | grep -q "$(pubkey 2)	\[2001:db8::2\]:51821"
	in_wg 1 wg show flannel-wg-v6 allowed-ips | grep -q "$(pubkey 3)	2001:db8:1:"
	in_wg 1 wg show flannel-wg allowed-ips | grep -q "$(pubkey 3)	100.64."
	# The lease, as upstream writes it.
	# A dual-stack lease's key names both subnets (upstream's "&" form).
	lease=$(etcdctl_ get --prefix --print-value-only "/coreos.com/network/subnets/${FLANNEL_SUBNET%.*}.0-24&")
	echo "$lease"
	[[ $lease == *'"BackendV6Data":{"PublicKey":"'"$(pubkey 1)"'","Port":51821}'* ]]
	[[ $lease == *'"BackendData":{"PublicKey":"'"$(pubkey 1)"'","Port":51820}'* ]]
	ip netns exec "$UL_NS" tcpdump -i "$(fl_id)v1" -n -U --immediate-mode -w "$RUN/ul.pcap" 2>/dev/null &
	dump=$!
	track_pid "$dump"
	sleep 0.5
	in_container 1 ping -c 3 -i 0.2 -W 1 -p 666c616e6e656c21 "$(cip 2)"
	in_container 1 ping -6 -c 3 -i 0.2 -W 1 -p 666c616e6e656c21 "$(cip6 2)"
	in_container 3 ping -6 -c 3 -i 0.2 -W 1 -p 666c616e6e656c21 "$(cip6 1)"
	sleep 0.3
	kill "$dump"
	wait "$dump" || true
	tcpdump -n -r "$RUN/ul.pcap" 'udp' 2>/dev/null | awk '{print $3, $5}' | sort | uniq -c
	[ "$(tcpdump -n -r "$RUN/ul.pcap" 'ip6 and udp port 51821' 2>/dev/null | grep -c .)" -ge 12 ]
	[ "$(tcpdump -n -r "$RUN/ul.pcap" 'ip and udp port 51820' 2>/dev/null | grep -c .)" -ge 6 ]
	[ -z "$(tcpdump -n -r "$RUN/ul.pcap" 'ip6 and not udp port 51821 and not icmp6' 2>/dev/null)" ]
	[ -z "$(tcpdump -n -r "$RUN/ul.pcap" 'ip and not udp port 51820 and not (tcp and host 192.0.2.254)' 2>/dev/null)" ]
	[ -z "$(tcpdump -n -r "$RUN/ul.pcap" 'net 100.64.0.0/16 or net 2001:db8:1::/48' 2>/dev/null)" ]
	[ "$(tcpdump -n -A -r "$RUN/ul.pcap" 2>/dev/null | grep -c 'flannel!')" = 0 ]
}

@test "wireguard: Mode ipv6, one device for both families with IPv6 endpoints" {
	local i
	put_config '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"wireguard","Mode":"ipv6"}}'
	for i in 1 2; do
		start_fd "$i"
	done
	for i in 1 2; do
		wait_env "$i"
		add_container "$i"
		add_container6 "$i"
	done
	ping_containers 1 2
	wait_for 10 in_container 2 ping -6 -c 1 -W 1 "$(cip6 1)"
	run in_host 1 ip link show flannel-wg-v6
	[ "$status" != 0 ]
	in_host 1 ip link show flannel-wg | grep -q 'mtu 1420'
	# The device's own port in BackendV6Data (upstream advertises 51821 there).
	in_wg 1 wg show flannel-wg endpoints | grep -q "$(pubkey 2)	\[2001:db8::2\]:51820"
	in_wg 1 wg show flannel-wg allowed-ips | grep "$(pubkey 2)" | grep -q '100.64.*2001:db8:1:\|2001:db8:1:.*100.64'
}

@test "wireguard: a wireguard-go it started outlives a restart of flanneld; when it dies it is started again, and traffic comes back" {
	local pid hs
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
	start_fd 1
	start_fd 2
	wait_env 1
	wait_env 2
	add_container 1
	add_container 2
	ping_containers 1 2
	pid=$(started_wggo 1)
	[ -n "$pid" ]
	# flanneld restarts: the same wireguard-go, the same session.
	hs=$(in_wg 1 wg show flannel-wg latest-handshakes)
	kill -TERM "$FLANNELD_PID_1"
	wait "$FLANNELD_PID_1" || true
	kill -0 "$pid"
	start_fd 1
	wait_for 15 grep -q '1 peers kept' "$RUN/flanneld-h1.log"
	[ -z "$(started_wggo 1)" ]
	ping_containers 1 2
	[ "$(in_wg 1 wg show flannel-wg latest-handshakes)" = "$hs" ]
	# It dies: this run did not start it, and starts it again.
	kill -9 "$pid"
	wait_for 25 grep -q "flannel-wg went with the userspace WireGuard that served it" "$RUN/flanneld-h1.log"
	wait_for 15 eval '[ -n "$(started_wggo 1)" ]' || { cat "$RUN/flanneld-h1.log"; false; }
	ping_containers 1 2
	# And again, now its child: seen at once (SIGCHLD).
	pid=$(started_wggo 1)
	kill -9 "$pid"
	wait_for 5 grep -q "wireguard-go for flannel-wg (pid $pid) was killed by signal 9: starting it again" "$RUN/flanneld-h1.log"
	wait_for 5 eval '[ "$(started_wggo 1 | wc -l)" = 2 ]' || { cat "$RUN/flanneld-h1.log"; false; }
	ping_containers 1 2
	ping_containers 2 1
	[ "$(npeers 1)" = 1 ]
}

@test "wireguard: the PSK reaches flannel-wireguard in a 0600 file, never on its command line" {
	local args
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard","PSK":"'"$PSK"'"}}'
	start_fd 1
	start_fd 2
	wait_env 1
	wait_env 2
	wait_for 10 eval '[ -n "$(apply_args 1)" ]'
	args=$(apply_args 1)
	echo "$args"
	[[ $args == *"--psk-file=$RUN/h1/subnet.env.wireguard-secret"* ]]
	[[ $args != *"$PSK"* ]]
	run ps -eo args
	[[ $output != *"$PSK"* ]]
	[ "$(stat -c %a "$RUN/h1/subnet.env.wireguard-secret")" = 600 ]
	wait_for 10 eval 'in_wg 1 wg show flannel-wg preshared-keys | grep -qF "	$PSK"'
}

@test "wireguard: dual-stack leases of older flannel (no Port in BackendV6Data) get ListenPortV6; a bad BackendV6Data is refused by name" {
	local fifo="$RUN/events" peer bad
	peer=$(wg genkey | wg pubkey)
	bad=$(wg genkey | wg pubkey)
	mkdir -p "$RUN/h1" "$RUN/wg1"
	mkfifo "$fifo"
	exec 4<>"$fifo"
	ip netns exec "$(host_ns 1)" env WIREGUARD_KEY_FILE="$RUN/h1/wgkey" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$RUN/wg1" \
		"$BIN/flannel-wireguard" apply --iface=eth0 --network=100.64.0.0/16 \
		--network6=2001:db8:1::/48 --subnet-file="$RUN/none" \
		<"$fifo" >"$RUN/apply.log" 2>&1 3>&- &
	track_pid "$!"
	{
		echo '{"type":"snapshot","revision":1}'
		echo '{"type":"added","subnet":"100.64.1.0/24","ipv6_subnet":"2001:db8:1:1::/64","public_ip":"192.0.2.1","public_ipv6":"2001:db8::1","backend_type":"wireguard","self":true}'
		echo '{"type":"added","subnet":"100.64.9.0/24","ipv6_subnet":"2001:db8:1:9::/64","public_ip":"192.0.2.9","public_ipv6":"2001:db8::9","backend_type":"wireguard","backend_data":{"PublicKey":"'"$peer"'"},"backend_v6_data":{"PublicKey":"'"$peer"'"}}'
		echo '{"type":"added","subnet":"100.64.8.0/24","ipv6_subnet":"2001:db8:1:8::/64","public_ip":"192.0.2.8","public_ipv6":"2001:db8::8","backend_type":"wireguard","backend_data":{"PublicKey":"'"$bad"'","Port":51820},"backend_v6_data":{"Port":51821}}'
		echo '{"type":"sync","revision":1}'
	} >&4
	wait_for 15 eval 'in_wg 1 wg show flannel-wg-v6 peers | grep -qxF "$peer"' || { cat "$RUN/apply.log"; false; }
	in_wg 1 wg show flannel-wg-v6 endpoints | grep -qxF "$peer	[2001:db8::9]:51821"
	in_wg 1 wg show flannel-wg-v6 allowed-ips | grep -qxF "$peer	2001:db8:1:9::/64"
	in_wg 1 wg show flannel-wg endpoints | grep -qxF "$peer	192.0.2.9:51820"
	in_wg 1 wg show flannel-wg allowed-ips | grep -qxF "$peer	100.64.9.0/24"
	grep -q 'skip lease 100.64.8.0/24: BackendV6Data has no PublicKey' "$RUN/apply.log"
	run in_wg 1 wg show all peers
	[[ $output != *"$bad"* ]]
	in_host 1 ip -6 addr show flannel-wg-v6 | grep -q 'inet6 2001:db8:1:1::/128'
	exec 4>&-
}
