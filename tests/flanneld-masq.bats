#!/usr/bin/env bats
# flanneld with --ip-masq and without: two hosts running flanneld (vxlan), a
# container behind each; counters where the packets arrive tell their source.
# (flanneld.bats checks the masquerading itself with tcpdump.)

load helpers
load overlay

teardown() { fl_teardown; }

# counters NS: echo requests counted by source: host 1, container 1.
counters() {
	ip netns exec "$1" nft -f - <<-NFT
	table inet count {
		counter host1 { }
		counter cont1 { }
		chain input {
			type filter hook input priority filter; policy accept;
			ip saddr 192.0.2.1 icmp type echo-request counter name host1
			ip saddr $(caddr 1) icmp type echo-request counter name cont1
		}
	}
	NFT
}

packets() {
	ip netns exec "$1" nft -j list counter inet count "$2" |
		jq -r '.nftables[] | select(.counter) | .counter.packets'
}

# flanneld_up MASQ: flanneld on both hosts with --ip-masq=MASQ, containers.
flanneld_up() {
	local i
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	for i in 1 2; do
		bg_in_host "$i" "$D/flanneld$i.log" flanneld --etcd-endpoints="$ETCD_EP" \
			--iface=eth0 --subnet-file="$D/h$i.env" --ip-masq="$1" -v=1
	done
	for i in 1 2; do
		wait_for 15 grep -q FLANNEL_SUBNET "$D/h$i.env"
		container "$i"
	done
	wait_for 15 has_route 1 "$(subnet_of 2)"
	wait_for 15 has_route 2 "$(subnet_of 1)"
}

count_is() { [ "$(packets "$1" "$2")" -eq "$3" ]; }

masq_table() { in_host 1 nft list table inet flannel; }

@test "flanneld --ip-masq: flushed rules come back without a restart" {
	flanneld_up true
	[ "$(env_get 1 FLANNEL_IPMASQ)" = true ]
	wait_for 10 masq_table
	counters "$UL_NS"
	in_host 1 nft flush ruleset
	wait_for 5 masq_table
	in_host 1 nft delete table inet flannel
	wait_for 5 masq_table
	# Masquerading again: the underlay sees the host's address.
	in_container 1 ping -c 1 -W 2 192.0.2.254
	[ "$(packets "$UL_NS" host1)" -eq 1 ]
	[ "$(packets "$UL_NS" cont1)" -eq 0 ]
	# The same flannel-masq, not a new one: flanneld restarted nothing.
	[ "$(grep -c 'started masq' "$D/flanneld1.log")" -eq 1 ]
}

@test "flanneld --ip-masq=false: no masquerading, forward rules only, FLANNEL_IPMASQ=false" {
	flanneld_up false
	[ "$(env_get 1 FLANNEL_IPMASQ)" = false ]
	wait_for 10 masq_table
	run masq_table
	[[ "$output" == *"chain forward"* && "$output" != *masquerade* ]]
	counters "$UL_NS"
	run in_container 1 ping -c 1 -W 1 192.0.2.254
	[ "$status" -ne 0 ]
	wait_for 3 count_is "$UL_NS" cont1 1
}
