# Helpers for the overlay end-to-end tests (vxlan.bats, hostgw.bats): a
# cluster of hosts running the real flannel-lease and flannel-watch | applier
# pipeline against an etcd in the underlay, and a "container" per host.

# cluster_start N CONFIG: topology, etcd, network config.
cluster_start() {
	need_root
	fl_id >/dev/null
	topo_create "$1"
	etcd_start "$UL_NS" 192.0.2.254
	put_config "$2"
	D=$BATS_TEST_TMPDIR
}

# env_get I VAR: a variable from host I's subnet.env.
env_get() {
	sed -n "s/^$2=//p" "$D/h$1.env"
}

# Where the leases come from: etcd, or FL_SRC, options split on spaces
# (e.g. "--remote=HOST:PORT --remote-cafile=FILE", server.bats).
src_args() { echo "${FL_SRC:---etcd-endpoints=$ETCD_EP}"; }

# lease_start I BACKEND_TYPE [flannel-lease options...]: acquire host I's lease.
lease_start() {
	local i=$1 type=$2
	shift 2
	# shellcheck disable=SC2046 # src_args is a list of options
	bg_in_host "$i" "$D/lease$i.log" flannel-lease ${LEASE_MTU:+--mtu="$LEASE_MTU"} $(src_args) \
		--iface=eth0 --subnet-file="$D/h$i.env" --backend-type="$type" --quiet "$@"
	eval "LEASE_PID_$i=$LAST_PID"
	wait_for 10 grep -q FLANNEL_SUBNET "$D/h$i.env"
}

# applier_start I CMD...: flannel-watch | CMD in host I; APPLY_PID_I is CMD's pid.
applier_start() {
	local i=$1 h
	shift
	h=$(host_ns "$i")
	# shellcheck disable=SC2046 # src_args is a list of options
	FLANNELD_STATE_DIR=$(state_dir "$i") ip netns exec "$h" flannel-watch $(src_args) \
		--subnet-file="$D/h$i.env" 2>>"$D/watch$i.log" 3>&- |
		FLANNELD_STATE_DIR=$(state_dir "$i") ip netns exec "$h" "$@" \
		--subnet-file="$D/h$i.env" -v 1 >>"$D/apply$i.log" 2>&1 3>&- &
	track_pid "$!"
	eval "APPLY_PID_$i=$!"
}

# cluster_up N CONFIG TYPE APPLIER...: N hosts, each with a lease of TYPE
# (vxlan: BackendData from flannel-vxlan init), the watch piped into APPLIER,
# and a container; returns when every host has a route to every other.
cluster_up() {
	local n=$1 conf=$2 type=$3 i j data
	shift 3
	cluster_start "$n" "$conf"
	for i in $(seq 1 "$n"); do
		if [ "$type" = vxlan ]; then
			data=$(in_host "$i" flannel-vxlan init --iface=eth0)
			lease_start "$i" "$type" --backend-data="$data"
		else
			lease_start "$i" "$type"
		fi
	done
	for i in $(seq 1 "$n"); do
		applier_start "$i" "$@"
		container "$i"
	done
	for i in $(seq 1 "$n"); do
		wait_for 10 synced "$i"
		for j in $(seq 1 "$n"); do
			[ "$i" = "$j" ] || wait_for 5 has_route "$i" "$(subnet_of "$j")"
		done
	done
}

# gw_offlink_up: three host-gw hosts; host 3's public IP 198.51.100.3 is
# on its loopback, which host 1 reaches only through a gateway (host 3 on
# the underlay), not on a link.  Host 1 runs flannel-route; returns when it
# has synced and routed host 2.
gw_offlink_up() {
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	in_host 3 ip addr add 198.51.100.3/32 dev lo
	in_host 1 ip route add 198.51.100.3/32 via 192.0.2.3
	lease_start 1 host-gw
	lease_start 2 host-gw
	lease_start 3 host-gw --public-ip=198.51.100.3
	applier_start 1 flannel-route apply
	wait_for 10 synced 1
	wait_for 5 has_route 1 "$(subnet_of 2)"
}

# vx_host I [flannel-lease options]: host I's vxlan lease (BackendData from
# flannel-vxlan init), its watch piped into flannel-vxlan apply, a container.
vx_host() {
	local data
	data=$(in_host "$1" flannel-vxlan init --iface=eth0)
	lease_start "$1" vxlan --backend-data="$data" "${@:2}"
	applier_start "$1" flannel-vxlan apply
	container "$1"
}

# synced I N: host I's applier logged its Nth sync.
synced() {
	[ "$(grep -c 'in sync at revision' "$D/apply$1.log" 2>/dev/null)" -ge "${2:-1}" ]
}

# container I: namespace "<id>cI" behind host I, at .2 of host I's subnet
# (and of its IPv6 subnet when there is one); the host side is .1.
container() {
	local i=$1 c h sub net6 sub6
	c="$(fl_id)c$i"
	h=$(host_ns "$i")
	sub=$(env_get "$i" FLANNEL_SUBNET)
	ip netns add "$c"
	echo "$c" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$c" link set lo up
	ip link add "$(fl_id)k$i" netns "$h" type veth peer name eth0 netns "$c"
	ip -n "$h" addr add "$sub" dev "$(fl_id)k$i"
	ip -n "$h" link set "$(fl_id)k$i" up
	ip -n "$c" addr add "${sub%.1/*}.2/${sub#*/}" dev eth0
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "${sub%/*}"
	sub6=$(env_get "$i" FLANNEL_IPV6_SUBNET)
	if [ -n "$sub6" ]; then
		net6=${sub6%1/*}
		ip -n "$h" -6 addr add "$sub6" dev "$(fl_id)k$i" nodad
		ip -n "$c" -6 addr add "${net6}2/${sub6#*/}" dev eth0 nodad
		ip -n "$c" -6 route add default via "${sub6%/*}"
	fi
}

# caddr I [6]: the container address of host I.
caddr() {
	local sub
	if [ "${2:-}" = 6 ]; then
		sub=$(env_get "$1" FLANNEL_IPV6_SUBNET)
		echo "${sub%1/*}2"
	else
		sub=$(env_get "$1" FLANNEL_SUBNET)
		echo "${sub%.1/*}.2"
	fi
}

# subnet_of I: host I's IPv4 subnet in CIDR form (x.y.z.0/24).
subnet_of() {
	local sub
	sub=$(env_get "$1" FLANNEL_SUBNET)
	echo "${sub%.1/*}.0/${sub#*/}"
}

in_container() {
	local i=$1
	shift
	ip netns exec "$(fl_id)c$i" "$@"
}

# has_route I PREFIX: host I has a route for PREFIX.
has_route() {
	[ -n "$(ip -n "$(host_ns "$1")" route show "$2")" ]
}

no_route() {
	! has_route "$@"
}

# heal_ms LOG PREFIX: from an "ip -ts monitor route" log, the milliseconds
# between the first deletion of the route to PREFIX and its return.
heal_ms() {
	awk -v s="$2" '
		function t(x) { split(substr(x, 13, 15), p, ":"); return p[1] * 3600 + p[2] * 60 + p[3] }
		$2 == "Deleted" && $3 == s && !d { d = t($1); next }
		d && $2 == s { printf "%d\n", (t($1) - d) * 1000; exit }' "$1"
}

# routes_json I: host I's routes, nexthops, neighbours and FDB, sorted.
kernel_state() {
	local h
	h=$(host_ns "$1")
	{
		ip -j -n "$h" route show | jq -S .
		ip -j -n "$h" -6 route show | jq -S 'map(select(.dst | startswith("fe80") | not))'
		ip -j -n "$h" nexthop show | jq -S .
		ip -j -n "$h" neigh show nud permanent | jq -S .
		bridge -j -n "$h" fdb show | jq -S 'map(select(.dst != null))'
	}
}

# lease_lines N [FIRST]: N synthetic upstream vxlan leases as added events,
# host k at 100.(64+k/256).(k%256).0/24, VTEP 198.18.(k/256).(k%256) with MAC
# 0a:58:64:00:(k/256):(k%256); k runs from FIRST (default 2).
lease_lines() {
	local n=$1 k=${2:-2} last a b
	last=$((k + n - 1))
	for k in $(seq "$k" "$last"); do
		a=$((k >> 8)) b=$((k & 255))
		printf '{"type":"added","key":"100.%d.%d.0-24","subnet":"100.%d.%d.0/24","public_ip":"198.18.%d.%d","backend_type":"vxlan","backend_data":{"VNI":1,"VtepMAC":"0a:58:64:00:%02x:%02x"},"revision":1}\n' \
			$((64 + a)) "$b" $((64 + a)) "$b" "$a" "$b" "$a" "$b"
	done
}

# upstream_batch N [FIRST]: the same leases as upstream installs them, as
# "ip -batch" lines (neighbours, routes) and "bridge -batch" lines (FDB) on
# stdout, prefixed "ip " and "bridge " for splitting.
upstream_batch() {
	local n=$1 k=${2:-2} last a b
	last=$((k + n - 1))
	for k in $(seq "$k" "$last"); do
		a=$((k >> 8)) b=$((k & 255))
		printf 'ip neigh replace 100.%d.%d.0 lladdr 0a:58:64:00:%02x:%02x dev flannel.1 nud permanent\n' \
			$((64 + a)) "$b" "$a" "$b"
		printf 'bridge fdb replace 0a:58:64:00:%02x:%02x dev flannel.1 dst 198.18.%d.%d self permanent\n' \
			"$a" "$b" "$a" "$b"
		printf 'ip route replace 100.%d.%d.0/24 via 100.%d.%d.0 dev flannel.1 onlink\n' \
			$((64 + a)) "$b" $((64 + a)) "$b"
	done
}

# ul_ns NAME: a namespace with eth0 (one end of a veth pair, the other up
# beside it) at 198.18.0.1/15, the underlay of the synthetic leases.
ul_ns() {
	ip netns add "$1"
	echo "$1" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$1" link set lo up
	ip -n "$1" link add eth0 type veth peer name eth0p
	ip -n "$1" addr add 198.18.0.1/15 dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" link set eth0p up
}

# vtep_ns NAME: a namespace like one host of kernel-limits.md: eth0 (one end
# of a veth pair) at 198.18.0.1/15, flannel.1 made by flannel-vxlan init.
vtep_ns() {
	ul_ns "$1"
	ip netns exec "$1" flannel-vxlan init --iface=eth0 --mac=02:00:00:00:00:01 >/dev/null
	ip -n "$1" addr add 100.64.1.0/32 dev flannel.1
}

# ping_all N: every container of hosts 1..N pings every other one.
ping_all() {
	local i j
	for i in $(seq 1 "$1"); do
		for j in $(seq 1 "$1"); do
			[ "$i" = "$j" ] && continue
			in_container "$i" ping -c 1 -W 2 "$(caddr "$j")" || return 1
		done
	done
}
