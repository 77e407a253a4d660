#!/usr/bin/env bats
# The commands the systemd units run, run the way systemd runs them (the
# same wrappers, settings only from FLANNELD_* / FLANNEL_* variables as in
# /etc/default/flannel): two hosts in namespaces with a real etcd.

load helpers
load overlay

teardown() { fl_teardown; }

LIBEXEC="$BATS_TEST_DIRNAME/../scripts"

# unit_env I: the variables /etc/default/flannel would hold for host I.
unit_env() {
	echo FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_IFACE=eth0 \
		FLANNELD_SUBNET_FILE="$D/h$1.env"
}

# lease_unit I BACKEND: flannel-lease.service's ExecStart in host I.
lease_unit() {
	# shellcheck disable=SC2046 # words on purpose: NAME=value pairs
	bg_in_host "$1" "$D/lease$1.log" env $(unit_env "$1") FLANNEL_BACKEND="$2" \
		FLANNEL_INIT_ARGS=--iface=eth0 "$LIBEXEC/flannel-lease-start.sh" "$BIN"
	wait_for 10 grep -q FLANNEL_SUBNET "$D/h$1.env"
}

# pipe_unit I APPLIER...: flannel-vxlan.service's (or -route's) ExecStart.
# The applier reads no FLANNELD_* twin: it is given the subnet file.
pipe_unit() {
	local i=$1
	shift
	# shellcheck disable=SC2046
	bg_in_host "$i" "$D/apply$i.log" env $(unit_env "$i") "$LIBEXEC/flannel-pipe.sh" \
		"$BIN/flannel-watch" "$@" --subnet-file="$D/h$i.env" -v 1
}

lease_of() {
	etcdctl_ get --prefix /coreos.com/network/subnets/ --print-value-only
}

@test "units' commands: vxlan between two hosts, then masq" {
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	lease_unit 1 vxlan
	lease_unit 2 vxlan
	# The wrapper ran flannel-vxlan init: the leases carry the VTEP MACs.
	[ "$(lease_of | jq -r 'select(.BackendType=="vxlan") | .BackendData.VtepMAC' | wc -l)" -eq 2 ]
	pipe_unit 1 "$BIN/flannel-vxlan" apply
	pipe_unit 2 "$BIN/flannel-vxlan" apply
	container 1
	container 2
	wait_for 10 synced 1
	wait_for 10 synced 2
	wait_for 5 has_route 1 "$(subnet_of 2)"
	wait_for 5 has_route 2 "$(subnet_of 1)"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"

	# flannel-masq.service's ExecStart with FLANNELD_IP_MASQ from the env file.
	# shellcheck disable=SC2046
	bg_in_host 1 "$D/masq1.log" env $(unit_env 1) FLANNELD_IP_MASQ=true \
		"$BIN/flannel-masq" watch
	wait_for 10 grep -q 'restoring it on change' "$D/masq1.log"
	run in_host 1 nft list table inet flannel
	[[ "$output" == *"ip saddr $(subnet_of 1) ip daddr 100.64.0.0/16"* ]]
	# Overlay traffic still flows with the rules in place, source kept.
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	# Outside the overlay: the underlay answers only a masqueraded packet.
	in_container 1 ping -c 1 -W 2 192.0.2.254
}

@test "units' commands: host-gw lease without BackendData, flannel-route" {
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	lease_unit 1 host-gw
	lease_unit 2 host-gw
	run lease_of
	[[ "$output" == *'"BackendType":"host-gw"'* && "$output" != *BackendData* ]]
	pipe_unit 1 "$BIN/flannel-route" apply
	pipe_unit 2 "$BIN/flannel-route" apply
	container 1
	container 2
	wait_for 10 synced 1
	wait_for 10 synced 2
	wait_for 5 has_route 1 "$(subnet_of 2)"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "units' commands: extension backend (pre-startup, post-startup, apply)" {
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"extension",
		"PreStartupCommand":"echo vtep-data",
		"PostStartupCommand":"echo \"$SUBNET $PUBLIC_IP\" >'"$BATS_TEST_TMPDIR"'/post-$PUBLIC_IP",
		"SubnetAddCommand":"ip route add $SUBNET via $PUBLIC_IP",
		"SubnetRemoveCommand":"ip route del $SUBNET via $PUBLIC_IP"}}'
	lease_unit 1 extension
	lease_unit 2 extension
	# flannel-lease-start.sh ran flannel-ext pre-startup: its output is the data.
	[ "$(lease_of | jq -r 'select(.BackendType=="extension") | .BackendData' | sort -u)" = vtep-data ]
	for i in 1 2; do
		# flannel-ext.service's ExecStartPre, then its ExecStart.
		# shellcheck disable=SC2046
		in_host "$i" env $(unit_env "$i") "$BIN/flannel-ext" post-startup
		pipe_unit "$i" "$BIN/flannel-ext" apply
		container "$i"
	done
	[ "$(cat "$D/post-192.0.2.1")" = "$(subnet_of 1) 192.0.2.1" ]
	wait_for 10 has_route 1 "$(subnet_of 2)"
	wait_for 10 has_route 2 "$(subnet_of 1)"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}
