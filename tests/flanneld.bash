# Helpers for the tests that run flanneld on the hosts of topo_create
# (flanneld.bats, udp.bats): subnet.env in $RUN/hI, a container per host.
# shellcheck shell=bash

# start_flanneld I [ARGS...]: flanneld on host I, subnet.env in $RUN/hI.
start_flanneld() {
	local i=$1
	shift
	bg_in_host "$i" "$RUN/flanneld-h$i.log" "$BIN/flanneld" \
		--etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$RUN/h$i/subnet.env" "$@"
	eval "FLANNELD_PID_$i=$LAST_PID"
}

wait_env() {
	wait_for 15 test -s "$RUN/h$1/subnet.env"
}

# A container namespace on host I with the subnet's .2 address.
add_container() {
	local gw
	env_container "$1" "$RUN/h$1/subnet.env" ""
	# shellcheck disable=SC1090
	gw=$(. "$RUN/h$1/subnet.env" && echo "${FLANNEL_SUBNET%/*}")
	eval "CIP_$1=${gw%.*}.$(( ${gw##*.} + 1 ))"
}

# env_container I ENVFILE SUFFIX: namespace "<id>cI<SUFFIX>" behind host I at
# .2 of ENVFILE's FLANNEL_SUBNET, its host side veth "c<id><SUFFIX>" at .1.
env_container() {
	local i=$1 c v sub gw len
	c="$(fl_id)c$i$3"
	v="c$(fl_id)$3"
	sub=$(sed -n 's/^FLANNEL_SUBNET=//p' "$2")
	gw=${sub%/*}
	len=${sub#*/}
	ip netns add "$c"
	echo "$c" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$c" link set lo up
	ip link add "$v" netns "$(host_ns "$i")" type veth peer name eth0 netns "$c"
	ip -n "$(host_ns "$i")" addr add "$sub" dev "$v"
	ip -n "$(host_ns "$i")" link set "$v" up
	ip -n "$c" addr add "${gw%.*}.$(( ${gw##*.} + 1 ))/$len" dev eth0
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "$gw"
}

ping_containers() {
	local from=$1 to=$2 ip
	ip=$(eval echo "\$CIP_$to")
	wait_for 10 ip netns exec "$(fl_id)c$from" ping -c 1 -W 1 "$ip"
}
