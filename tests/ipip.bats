#!/usr/bin/env bats
# flannel-ipip: on this host, what a kernel without ipip gets (exit 69 and
# the reason, from the tool and from flanneld) and the refusal of EnableIPv6;
# the rest runs in a user-mode-linux guest whose kernel has ipip
# (tests/uml/ipip.bats), its results forwarded as "# uml: ok ..." lines.

# shellcheck disable=SC2154 # $stderr comes from run --separate-stderr

load helpers
bats_require_minimum_version 1.5.0

teardown() { fl_teardown; }

# host_has_ipip: this kernel can make an ipip device (in a scratch namespace).
host_has_ipip() {
	local ns
	ns="$(fl_id)probe"
	ip netns add "$ns"
	echo "$ns" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$ns" link add "$(fl_id)t" type ipip local 192.0.2.1 2>/dev/null
}

@test "flannel-ipip init: exit 69 and the reason on a kernel without ipip (the device otherwise)" {
	need_root
	topo_create 1
	if host_has_ipip; then
		# Nothing to refuse here: the device must then be upstream's.
		in_host 1 flannel-ipip init --iface=eth0
		in_host 1 ip -d link show flannel.ipip | grep -q 'ipip any remote any local 192.0.2.1 ttl inherit nopmtudisc'
		return 0
	fi
	run -69 --separate-stderr in_host 1 flannel-ipip init --iface=eth0
	echo "$stderr"
	[ "$stderr" = "flannel-ipip: create flannel.ipip: this kernel has no ipip support (module ipip)" ]
	[ -z "$output" ]
	run ! in_host 1 ip link show flannel.ipip
}

@test "flanneld with Type ipip: exit 69 with the same words before any lease; EnableIPv6 refused" {
	need_root
	topo_create 1
	etcd_start "$UL_NS" 192.0.2.254
	if ! host_has_ipip; then
		put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipip"}}'
		run -69 in_host 1 timeout 20 flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0 \
			--subnet-file="$BATS_TEST_TMPDIR/subnet.env" --iptables-forward-rules=false
		echo "$output"
		[[ $output == *"this kernel has no ipip support (module ipip)"* ]]
		[ -z "$(etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/)" ]
		[ ! -e "$BATS_TEST_TMPDIR/subnet.env" ]
	fi
	put_config '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"ipip"}}'
	run -78 in_host 1 timeout 20 flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$BATS_TEST_TMPDIR/subnet.env" --iptables-forward-rules=false
	echo "$output"
	[[ $output == *"backend ipip does not support EnableIPv6"* ]]
	run ! in_host 1 ip link show flannel.ipip
}

@test "ipip in a guest kernel: ping, MTU, healing, restart, lease removal, DirectRouting" {
	command -v linux.uml >/dev/null ||
		require "needs linux.uml (Debian package user-mode-linux; scripts/deps.sh installs it)"
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" "$BATS_TEST_DIRNAME/uml/run.sh" \
		"$BATS_TEST_DIRNAME/uml/ipip.bats" --timing
	uml_results 2
}
