#!/usr/bin/env bats
# The flannel CNI plugin end to end: Debian's bridge and host-local plugins,
# real network namespaces.  The CNI "host" is a throw-away namespace of our
# own, so the bridge and its veths never touch the real host.

load helpers
bats_require_minimum_version 1.5.0

CNI_PLUGINS=/usr/lib/cni

setup() {
	need_root
	[ -x "$CNI_PLUGINS/bridge" ] && [ -x "$CNI_PLUGINS/host-local" ] ||
		require "needs containernetworking-plugins in $CNI_PLUGINS"
	ID=$(fl_id)
	HOSTNS="${ID}cn"
	BRIDGE="${ID}br"
	DATA="$BATS_TEST_TMPDIR/flannel"
	IPAMDIR="$BATS_TEST_TMPDIR/ipam"
	SUBNET_ENV="$BATS_TEST_TMPDIR/subnet.env"
	add_ns "$HOSTNS"
	printf '%s\n' FLANNEL_NETWORK=100.65.0.0/16 FLANNEL_SUBNET=100.65.17.1/24 \
		FLANNEL_MTU=1450 FLANNEL_IPMASQ=true >"$SUBNET_ENV"
}

teardown() { fl_teardown; }

add_ns() {
	ip netns add "$1"
	echo "$1" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$1" link set lo up
}

# conf [EXTRA_JSON_MEMBERS]: the network config a runtime would send
conf() {
	local extra=${1:+,$1}
	printf '{"cniVersion":"1.0.0","name":"fl-%s","type":"flannel","subnetFile":"%s","dataDir":"%s","delegate":{"bridge":"%s"},"ipam":{"dataDir":"%s"}%s}' \
		"$ID" "$SUBNET_ENV" "$DATA" "$BRIDGE" "$IPAMDIR" "$extra"
}

# cni CMD CONTAINER_ID NETNS_NAME [CONF]: run the plugin in the CNI host
# namespace; stdout as a runtime reads it, stderr kept in cni.stderr
cni() {
	local cmd=$1 cid=$2 ns=$3 c=${4:-$(conf)}
	printf '%s' "$c" | ip netns exec "$HOSTNS" env CNI_COMMAND="$cmd" \
		CNI_CONTAINERID="$cid" CNI_NETNS="/var/run/netns/$ns" CNI_IFNAME=eth0 \
		CNI_PATH="$CNI_PLUGINS" "$BIN/flannel" 2>>"$BATS_TEST_TMPDIR/cni.stderr"
}

addr_of() {
	ip -n "$1" -j -4 addr show dev eth0 | jq -r '.[0].addr_info[0].local'
}

@test "ADD gives the container an address from the subnet and a route to the network" {
	add_ns "${ID}c1"
	run cni ADD "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	echo "$output" | jq -e '.ips[0].address | startswith("100.65.17.")'
	addr=$(addr_of "${ID}c1")
	[[ "$addr" == 100.65.17.* ]]
	[ "$addr" != 100.65.17.1 ]
	ip -n "${ID}c1" route show 100.65.0.0/16 | grep -q 'via 100.65.17.1 dev eth0'
	[ "$(ip -n "${ID}c1" -j link show eth0 | jq '.[0].mtu')" -eq 1450 ]
	ip -n "$HOSTNS" -j addr show dev "$BRIDGE" | jq -e '.[0].addr_info[] | select(.local == "100.65.17.1")'
	# The stored file is exactly the delegate config, private to root.
	[ "$(stat -c %a "$DATA/${ID}-one")" = 600 ]
	[ "$(stat -c %a "$DATA")" = 700 ]
	want=$(printf '{"bridge":"%s","cniVersion":"1.0.0","ipMasq":false,"ipam":{"dataDir":"%s","ranges":[[{"subnet":"100.65.17.0/24"}]],"routes":[{"dst":"100.65.0.0/16"}],"type":"host-local"},"isGateway":true,"mtu":1450,"name":"fl-%s","type":"bridge"}' \
		"$BRIDGE" "$IPAMDIR" "$ID")
	[ "$(cat "$DATA/${ID}-one")" = "$want" ]
	# as upstream, the config sent to the delegate is logged for the runtime's log
	grep -qF "delegateAdd: netconf sent to delegate plugin: $want" "$BATS_TEST_TMPDIR/cni.stderr"
}

@test "a second ADD gets another address and both containers reach the gateway and each other" {
	add_ns "${ID}c1"
	add_ns "${ID}c2"
	cni ADD "${ID}-one" "${ID}c1" >/dev/null
	cni ADD "${ID}-two" "${ID}c2" >/dev/null
	a1=$(addr_of "${ID}c1")
	a2=$(addr_of "${ID}c2")
	[[ "$a2" == 100.65.17.* ]]
	[ "$a1" != "$a2" ]
	ip netns exec "${ID}c1" ping -c 1 -W 5 100.65.17.1
	ip netns exec "${ID}c2" ping -c 1 -W 5 100.65.17.1
	ip netns exec "${ID}c1" ping -c 1 -W 5 "$a2"
}

@test "CHECK passes after ADD" {
	add_ns "${ID}c1"
	cni ADD "${ID}-one" "${ID}c1" >/dev/null
	run cni CHECK "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	# and CHECK is refused for a config older than 0.4.0, as upstream
	run cni CHECK "${ID}-one" "${ID}c1" "$(conf | jq -c '.cniVersion="0.3.1"')"
	[ "$status" -eq 1 ]
	echo "$output" | jq -e '.code == 1 and .msg == "config version does not allow CHECK"'
}

@test "DEL removes the interface and the stored file; DEL twice succeeds" {
	add_ns "${ID}c1"
	cni ADD "${ID}-one" "${ID}c1" >/dev/null
	ip -n "${ID}c1" link show eth0
	rm "$SUBNET_ENV" # DEL never needs subnet.env
	run cni DEL "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
	run ! ip -n "${ID}c1" link show eth0
	[ ! -e "$DATA/${ID}-one" ]
	# host-local released the address
	run ! grep -rqs "${ID}-one" "$IPAMDIR"
	run cni DEL "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "a container ID with / or .. is refused and creates nothing" {
	add_ns "${ID}c1"
	for cid in "../${ID}-escape" "a/b" ".." "/etc/passwd"; do
		for cmd in ADD DEL CHECK; do
			run cni "$cmd" "$cid" "${ID}c1"
			[ "$status" -eq 1 ]
			echo "$output" | jq -e '.code == 4 and .msg == "invalid characters in containerID"'
		done
	done
	[ ! -e "$DATA" ]
	[ ! -e "$IPAMDIR" ]
	[ ! -e "$BATS_TEST_TMPDIR/${ID}-escape" ]
	run ! ip -n "$HOSTNS" link show "$BRIDGE"
	run ! ip -n "${ID}c1" link show eth0
}

@test "ADD started before subnet.env exists succeeds once the file appears within the wait" {
	add_ns "${ID}c1"
	mv "$SUBNET_ENV" "$BATS_TEST_TMPDIR/later.env"
	cni ADD "${ID}-one" "${ID}c1" "$(conf '"subnetFileWait":"20s"')" \
		>"$BATS_TEST_TMPDIR/add.out" 2>&1 &
	pid=$!
	track_pid "$pid"
	sleep 1
	kill -0 "$pid" # still waiting
	mv "$BATS_TEST_TMPDIR/later.env" "$SUBNET_ENV"
	wait "$pid"
	jq -e '.ips[0].address | startswith("100.65.17.")' "$BATS_TEST_TMPDIR/add.out"
	[[ "$(addr_of "${ID}c1")" == 100.65.17.* ]]
}

@test "ADD fails clearly when subnet.env never appears" {
	add_ns "${ID}c1"
	rm "$SUBNET_ENV"
	run cni ADD "${ID}-one" "${ID}c1" "$(conf '"subnetFileWait":"300ms"')"
	[ "$status" -eq 1 ]
	echo "$output" | jq -e '.code == 999'
	echo "$output" | jq -r .msg | grep -q 'flanneld has not written it yet'
	run ! ip -n "${ID}c1" link show eth0
}

@test "dual stack: the container gets an IPv4 and an IPv6 address and routes to both networks" {
	add_ns "${ID}c1"
	printf '%s\n' FLANNEL_IPV6_NETWORK=2001:db8:1::/48 FLANNEL_IPV6_SUBNET=2001:db8:1:17::1/64 \
		>>"$SUBNET_ENV"
	run cni ADD "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ] || { echo "$output"; false; }
	[ "$(echo "$output" | jq '.ips | length')" -eq 2 ]
	ip -n "${ID}c1" -j -6 addr show dev eth0 |
		jq -e '[.[0].addr_info[] | select(.local | startswith("2001:db8:1:17:"))] | length == 1'
	ip -n "${ID}c1" -6 route show 2001:db8:1::/48 | grep -q 'via 2001:db8:1:17::1'
	ip -n "${ID}c1" route show 100.65.0.0/16 | grep -q 'via 100.65.17.1'
	wait_for 10 ip netns exec "${ID}c1" ping -6 -c 1 -W 1 2001:db8:1:17::1
	run cni DEL "${ID}-one" "${ID}c1"
	[ "$status" -eq 0 ]
	run ! ip -n "${ID}c1" link show eth0
}

# Upstream's lifecycle vectors LC1-LC4 and their P-era per-version variant,
# with DESIGN.md ranges instead of upstream's and host-local's state kept in
# the test directory: ADD, the stored file, the number of IPs, DEL, DEL again.
@test "upstream lifecycle LC1-LC4: stored file, IPs, DEL, DEL again, per spec version" {
	local v4='FLANNEL_NETWORK=100.65.0.0/16\nFLANNEL_SUBNET=100.65.17.1/24\n'
	local v6='FLANNEL_IPV6_NETWORK=2001:db8:1::/48\nFLANNEL_IPV6_SUBNET=2001:db8:1:17::1/64\n'
	local tail='FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n'
	local r4='{"dst":"100.65.0.0/16"}' r6='{"dst":"2001:db8:1::/48"}'
	local s4='[{"subnet":"100.65.17.0/24"}]' s6='[{"subnet":"2001:db8:1:17::/64"}]'
	local -a envs=("\n$v4$tail" "\n${v4/100.65.0.0\/16/100.65.0.0/16,198.18.0.0/15}$tail"
		"\n$v6$tail" "\n$v4$v6$tail")
	local -a ranges=("[$s4]" "[$s4]" "[$s6]" "[$s4,$s6]")
	local -a routes=("[$r4]" "[$r4,{\"dst\":\"198.18.0.0/15\"}]" "[$r6]" "[$r4,$r6]")
	local -a nips=(1 1 1 2)
	local i ver cid ns c want n=0
	for ver in "" 0.3.1 1.0.0; do
		for i in 0 1 2 3; do
			n=$((n + 1))
			cid="some-container-id-$i-$n"
			ns="${ID}l$n"
			add_ns "$ns"
			printf '%b' "${envs[$i]}" >"$SUBNET_ENV"
			c=$(jq -cn --arg s "$SUBNET_ENV" --arg d "$DATA" --arg i "$IPAMDIR" --arg v "$ver" \
				'{name:"cni-flannel",type:"flannel",subnetFile:$s,dataDir:$d,
				  ipam:{type:"host-local",dataDir:$i}} + (if $v == "" then {} else {cniVersion:$v} end)')
			run cni ADD "$cid" "$ns" "$c"
			[ "$status" -eq 0 ] || { echo "LC$((i + 1)) $ver: $output"; false; }
			# 0.1.0/0.2.0 results carry ip4/ip6, later ones an ips list
			[ "$(echo "$output" | jq '(.ips // [.ip4, .ip6] | map(select(. != null))) | length')" -eq "${nips[$i]}" ]
			want=$(jq -cn --arg i "$IPAMDIR" --arg v "$ver" --argjson r "${ranges[$i]}" \
				--argjson rt "${routes[$i]}" \
				'{ipMasq:false,ipam:{dataDir:$i,ranges:$r,routes:$rt,type:"host-local"},
				  isGateway:true,mtu:1472,name:"cni-flannel",type:"bridge"}
				 + (if $v == "" then {} else {cniVersion:$v} end)')
			[ "$(jq -cS . "$DATA/$cid")" = "$(echo "$want" | jq -cS .)" ] ||
				{ echo "LC$((i + 1)) $ver: $(cat "$DATA/$cid")"; false; }
			run cni DEL "$cid" "$ns" "$c"
			[ "$status" -eq 0 ]
			[ ! -e "$DATA/$cid" ]
			run ! ip -n "$ns" link show eth0
			run cni DEL "$cid" "$ns" "$c"
			[ "$status" -eq 0 ]
		done
	done
}

@test "the binary: VERSION, the about text, --delegate-config, usage errors" {
	run env -i CNI_COMMAND=VERSION "$BIN/flannel" </dev/null
	[ "$status" -eq 0 ]
	[ "$output" = '{"cniVersion":"1.1.0","supportedVersions":["0.1.0","0.2.0","0.3.0","0.3.1","0.4.0","1.0.0","1.1.0"]}' ]
	run env -i "$BIN/flannel" </dev/null
	[ "$status" -eq 0 ]
	[[ "$output" == *"CNI protocol versions supported: 0.1.0, 0.2.0, 0.3.0, 0.3.1, 0.4.0, 1.0.0, 1.1.0"* ]]
	run "$BIN/flannel" --delegate-config <<<"$(conf)"
	[ "$status" -eq 0 ]
	[ "$output" = "$(cat <<-JSON | jq -cS .
		{"bridge":"$BRIDGE","cniVersion":"1.0.0","ipMasq":false,"isGateway":true,"mtu":1450,
		 "name":"fl-$ID","type":"bridge","ipam":{"dataDir":"$IPAMDIR",
		 "ranges":[[{"subnet":"100.65.17.0/24"}]],"routes":[{"dst":"100.65.0.0/16"}],"type":"host-local"}}
	JSON
	)" ]
	run "$BIN/flannel" --delegate-config --windows <<<"$(conf '"delegate":{"type":"win-overlay"}' | jq -c 'del(.delegate.bridge)')"
	[ "$status" -eq 0 ]
	echo "$output" | jq -e '.ipMasq == true and .ipMasqNetwork == "100.65.0.0/16" and .cniVersion == "1.0.0" and .ipam == {"type":"host-local","subnet":"100.65.17.0/24"}'
	run "$BIN/flannel" --delegate-config <<<'{"name":"x","subnetFile":5}'
	[ "$status" -eq 65 ]
	run "$BIN/flannel" --windows
	[ "$status" -eq 64 ]
	run "$BIN/flannel" extra-argument
	[ "$status" -eq 64 ]
}
