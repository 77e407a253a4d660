#!/usr/bin/env bats
# flannel-masq: upstream's ip-masq decisions as one nftables table, tested
# with real packets between namespaces and counters where they arrive.

load helpers

teardown() { fl_teardown; }

NET=100.64.0.0/16

# masq_env FILE MASQ: a subnet.env for host 1 (100.64.1.0/24).
masq_env() {
	printf 'FLANNEL_NETWORK=%s\nFLANNEL_SUBNET=100.64.1.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=%s\n' \
		"$NET" "$2" >"$1"
}

# container I: namespace "<id>cI" behind host I on 100.64.I.0/24; the host
# side is 100.64.I.1, the container 100.64.I.2.  Hosts route each other's
# overlay subnet via the underlay, as host-gw would.
container() {
	local i=$1 c h
	c="$(fl_id)c$i"
	h=$(host_ns "$i")
	ip netns add "$c"
	echo "$c" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$c" link set lo up
	ip link add "$(fl_id)c$i" netns "$h" type veth peer name eth0 netns "$c"
	ip -n "$h" addr add "100.64.$i.1/24" dev "$(fl_id)c$i"
	ip -n "$h" link set "$(fl_id)c$i" up
	ip -n "$c" addr add "100.64.$i.2/24" dev eth0
	ip -n "$c" link set eth0 up
	ip -n "$c" route add default via "100.64.$i.1"
	ip -n "$h" -6 addr add "2001:db8:1:$i::1/64" dev "$(fl_id)c$i" nodad
	ip -n "$c" -6 addr add "2001:db8:1:$i::2/64" dev eth0 nodad
	ip -n "$c" -6 route add default via "2001:db8:1:$i::1"
}

# count_setup NS: named counters in NS for echo requests by source address.
count_setup() {
	ip netns exec "$1" nft -f - <<-'NFT'
	table inet count {
		counter host1 { }
		counter cont1 { }
		counter host1v6 { }
		counter cont1v6 { }
		chain input {
			type filter hook input priority filter; policy accept;
			ip saddr 192.0.2.1 icmp type echo-request counter name host1
			ip saddr 100.64.1.2 icmp type echo-request counter name cont1
			ip6 saddr 2001:db8::1 icmpv6 type echo-request counter name host1v6
			ip6 saddr 2001:db8:1:1::2 icmpv6 type echo-request counter name cont1v6
		}
	}
	NFT
}

# packets NS NAME: the packet count of counter NAME in NS.
packets() {
	ip netns exec "$1" nft -j list counter inet count "$2" |
		jq -r '.nftables[] | select(.counter) | .counter.packets'
}

# count_is NS NAME N: counter NAME in NS has seen N packets (for wait_for).
count_is() { [ "$(packets "$1" "$2")" -eq "$3" ]; }

topo() {
	need_root
	fl_id >/dev/null # fix the id in this shell, not in a subshell
	topo_create 2
	container 1
	container 2
	in_host 1 ip route add 100.64.2.0/24 via 192.0.2.2
	in_host 2 ip route add 100.64.1.0/24 via 192.0.2.1
	in_host 1 ip -6 route add 2001:db8:1:2::/64 via 2001:db8::2
	in_host 2 ip -6 route add 2001:db8:1:1::/64 via 2001:db8::1
	count_setup "$UL_NS"
	count_setup "$(fl_id)c2"
	masq_env "$BATS_TEST_TMPDIR/subnet.env" true
}

# ping_from_c1 DST: one echo request from container 1; the reply may not come.
ping_from_c1() {
	ip netns exec "$(fl_id)c1" ping -c 1 -W 1 "$1" >/dev/null 2>&1 || true
}

masq1() { in_host 1 flannel-masq --subnet-file="$BATS_TEST_TMPDIR/subnet.env" "$@"; }

@test "show: one inet table with upstream's decisions (golden)" {
	run flannel-masq --network 100.64.0.0/16 --subnet 100.64.1.1/24 \
		--ipv6-network 2001:db8:1::/48 --ipv6-subnet 2001:db8:1:5::1/64 show
	[ "$status" -eq 0 ]
	diff -u "$BATS_TEST_DIRNAME/golden/masq-dual.nft" <(printf '%s\n' "$output")
}

@test "show: options and FLANNEL_IPMASQ select the rules" {
	masq_env "$BATS_TEST_TMPDIR/s.env" true
	run flannel-masq --subnet-file="$BATS_TEST_TMPDIR/s.env" --ip-masq-fully-random-disable show
	[ "$status" -eq 0 ]
	[[ "$output" == *"ip saddr 100.64.0.0/16 ip daddr != 224.0.0.0/4 counter masquerade comment"* ]]
	[[ "$output" != *fully-random* ]]
	[[ "$output" != *ip6* ]]
	run flannel-masq --subnet-file="$BATS_TEST_TMPDIR/s.env" --iptables-forward-rules=false show
	[[ "$output" == *"chain postrouting"* && "$output" != *"chain forward"* ]]
	masq_env "$BATS_TEST_TMPDIR/s.env" false
	run flannel-masq --subnet-file="$BATS_TEST_TMPDIR/s.env" show
	[[ "$output" != *"chain postrouting"* && "$output" == *"chain forward"* ]]
	run flannel-masq --subnet-file="$BATS_TEST_TMPDIR/s.env" --ip-masq show
	[[ "$output" == *"chain postrouting"* ]]
	# The upstream environment twin of the forward flag.
	run env FLANNELD_IPTABLES_FORWARD_RULES=false \
		flannel-masq --subnet-file="$BATS_TEST_TMPDIR/s.env" show
	[[ "$output" != *"chain forward"* ]]
}

@test "bad input and a closed pipe: exit codes 64, 65, 74, 75, 78" {
	run flannel-masq --network "$NET" --subnet 100.64.1.0/24 frobnicate
	[ "$status" -eq 64 ]
	run flannel-masq --network "$NET" --subnet 100.64.1.0/24 --ip-masq=maybe show
	[ "$status" -eq 64 ]
	run flannel-masq --network 100.64.0.0/33 --subnet 100.64.1.0/24 show
	[ "$status" -eq 65 ]
	[[ "$output" == *"flannel-masq: parse network 100.64.0.0/33"* ]]
	run flannel-masq --network "$NET" --subnet 198.18.1.0/24 show
	[ "$status" -eq 78 ]
	run flannel-masq --subnet-file="$BATS_TEST_TMPDIR/absent.env" show
	[ "$status" -eq 75 ]
	run flannel-masq --table 'x; flush ruleset' delete
	[ "$status" -eq 78 ]
	# A reader that went away: EPIPE is an I/O error, not a signal death.
	run bash -c '(sleep 0.2; flannel-masq --network 100.64.0.0/16 --subnet 100.64.1.0/24 show;
		echo "status $?" >&2) | true'
	[[ "$output" == *"write ruleset: Broken pipe"*"status 74"* ]]
}

@test "apply: to outside the overlay masqueraded, inside the overlay not" {
	topo
	# Without the rules the outside sees the container's own address.
	ping_from_c1 192.0.2.254
	wait_for 3 count_is "$UL_NS" cont1 1
	[ "$(packets "$UL_NS" host1)" -eq 0 ]

	run masq1 apply
	[ "$status" -eq 0 ]
	ip netns exec "$(fl_id)c1" ping -c 2 -W 2 192.0.2.254
	[ "$(packets "$UL_NS" host1)" -eq 2 ]
	[ "$(packets "$UL_NS" cont1)" -eq 1 ]

	# To another host's container: the source is kept.
	ip netns exec "$(fl_id)c1" ping -c 2 -W 2 100.64.2.2
	[ "$(packets "$(fl_id)c2" cont1)" -eq 2 ]
	[ "$(packets "$(fl_id)c2" host1)" -eq 0 ]
}

@test "apply, IPv6: to outside masqueraded, inside the overlay not" {
	topo
	printf 'FLANNEL_IPV6_NETWORK=2001:db8:1::/48\nFLANNEL_IPV6_SUBNET=2001:db8:1:1::1/64\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n' \
		>"$BATS_TEST_TMPDIR/v6.env"
	# Resolve the neighbours first: a request queued behind neighbour
	# discovery could arrive after ping gives up.
	in_host 1 ping -6 -c 1 -W 5 2001:db8::fe
	ip netns exec "$(fl_id)c1" ping -6 -c 1 -W 5 2001:db8:1:1::1
	ip netns exec "$(fl_id)c1" ping -6 -c 1 -W 1 2001:db8::fe >/dev/null 2>&1 || true
	wait_for 3 count_is "$UL_NS" cont1v6 1
	in_host 1 flannel-masq --subnet-file="$BATS_TEST_TMPDIR/v6.env" apply
	# One warm-up request came from host 1 itself.
	ip netns exec "$(fl_id)c1" ping -6 -c 2 -W 2 2001:db8::fe
	[ "$(packets "$UL_NS" host1v6)" -eq 3 ]
	[ "$(packets "$UL_NS" cont1v6)" -eq 1 ]
	ip netns exec "$(fl_id)c1" ping -6 -c 2 -W 2 2001:db8:1:2::2
	[ "$(packets "$(fl_id)c2" cont1v6)" -eq 2 ]
	[ "$(packets "$(fl_id)c2" host1v6)" -eq 0 ]
}

@test "apply is idempotent: twice gives the same ruleset, no duplicate" {
	topo
	masq1 apply
	one=$(in_host 1 nft -s list ruleset)
	masq1 apply
	two=$(in_host 1 nft -s list ruleset)
	[ "$one" = "$two" ]
	[ "$(grep -c 'masquerade' <<<"$two")" -eq 2 ]
	# A changed subnet replaces the old rules instead of adding to them.
	in_host 1 flannel-masq --network "$NET" --subnet 100.64.9.0/24 apply
	three=$(in_host 1 nft -s list ruleset)
	[[ "$three" == *100.64.9.0/24* && "$three" != *100.64.1.0/24* ]]
}

@test "delete removes the table, twice is fine, traffic is no longer masqueraded" {
	topo
	masq1 apply
	in_host 1 nft list table inet flannel >/dev/null
	run in_host 1 flannel-masq delete
	[ "$status" -eq 0 ]
	run in_host 1 nft list tables
	[[ "$output" != *flannel* ]]
	run in_host 1 flannel-masq delete
	[ "$status" -eq 0 ]
	ping_from_c1 192.0.2.254
	wait_for 3 count_is "$UL_NS" cont1 1
	[ "$(packets "$UL_NS" host1)" -eq 0 ]
}

@test "without nft: apply falls back to upstream's iptables chains, delete removes them" {
	topo
	command -v iptables-restore >/dev/null || skip "needs iptables-restore"
	run masq1 --nft=/nonexistent/nft apply
	[ "$status" -eq 0 ]
	[[ "$output" == *"not found, using iptables instead"* ]]
	one=$(in_host 1 iptables-save | grep -v '^#' | sed 's/\[[0-9:]*\]//')
	[[ "$one" == *'-A POSTROUTING -m comment --comment "flanneld masq" -j FLANNEL-POSTRTG'* ]]
	[[ "$one" == *'-A FLANNEL-POSTRTG ! -s 100.64.0.0/16 -d 100.64.1.0/24 -m comment --comment "flanneld masq" -j RETURN'* ]]
	[[ "$one" == *'-A FLANNEL-FWD -d 100.64.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT'* ]]
	# The same decisions for real packets.
	ip netns exec "$(fl_id)c1" ping -c 1 -W 2 192.0.2.254
	[ "$(packets "$UL_NS" host1)" -eq 1 ]
	ip netns exec "$(fl_id)c1" ping -c 1 -W 2 100.64.2.2
	[ "$(packets "$(fl_id)c2" cont1)" -eq 1 ]
	# Twice: the same rules, no second jump.
	masq1 --nft=/nonexistent/nft apply
	two=$(in_host 1 iptables-save | grep -v '^#' | sed 's/\[[0-9:]*\]//')
	[ "$one" = "$two" ]
	# Without masquerading the nat chain and its jump go, forward stays.
	masq1 --nft=/nonexistent/nft --ip-masq=false apply
	run in_host 1 iptables-save
	[[ "$output" != *FLANNEL-POSTRTG* && "$output" == *FLANNEL-FWD* ]]
	in_host 1 flannel-masq --nft=/nonexistent/nft delete
	run in_host 1 iptables-save
	[[ "$output" != *FLANNEL* ]]
	# watch needs nft.
	run masq1 --nft=/nonexistent/nft watch
	[ "$status" -eq 69 ]
}

# rules_ok: host 1's table has all its rules again.
rules_ok() {
	[ "$(in_host 1 nft -s list table inet flannel | grep -c 'comment "flanneld')" -eq 8 ]
}

# has_rule TEXT: host 1's table mentions TEXT.
has_rule() { in_host 1 nft list table inet flannel | grep -qF "$1"; }

# no_drop: host 1's table has no drop rule.
no_drop() { ! in_host 1 nft list table inet flannel | grep -qw drop; }

# restores_are LOG N: watch logged N finished restores.
restores_are() { [ "$(grep -c 'restore table inet flannel: done' "$1")" -eq "$2" ]; }

@test "watch restores the table after flush, delete and flush ruleset" {
	topo
	log="$BATS_TEST_TMPDIR/watch.log"
	bg_in_host 1 "$log" flannel-masq --subnet-file="$BATS_TEST_TMPDIR/subnet.env" watch
	pid=$LAST_PID
	wait_for 10 grep -q 'restoring it on change' "$log"
	rules_ok

	in_host 1 nft flush table inet flannel
	wait_for 5 rules_ok
	in_host 1 nft delete table inet flannel
	wait_for 5 rules_ok
	in_host 1 nft flush ruleset
	wait_for 5 rules_ok
	in_host 1 nft add rule inet flannel forward drop
	wait_for 5 no_drop
	rules_ok

	# Restored and quiet again: our own re-apply does not trigger another.
	wait_for 5 restores_are "$log" 4
	sleep 1
	restores_are "$log" 4

	# Masquerading works after the restore.
	ip netns exec "$(fl_id)c1" ping -c 1 -W 2 192.0.2.254
	[ "$(packets "$UL_NS" host1)" -eq 1 ]

	# SIGHUP re-reads subnet.env: a new subnet replaces the old rules.
	sed -i 's|^FLANNEL_SUBNET=.*|FLANNEL_SUBNET=100.64.7.1/24|' "$BATS_TEST_TMPDIR/subnet.env"
	kill -HUP "$pid"
	wait_for 5 has_rule 100.64.7.0/24
	run in_host 1 nft list table inet flannel
	[[ "$output" != *100.64.1.0/24* ]]

	kill -TERM "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
	# The rules stay in place when watch stops (restart without a gap).
	rules_ok
}

# fwd_drop_case BACKEND: host 1's iptables (BACKEND: nft or legacy) FORWARD
# policy is DROP, as Docker sets it; flannel-masq, running that same
# iptables, must still let the overlay through.
fwd_drop_case() {
	local be=$1 bin="$BATS_TEST_TMPDIR/ipt-$1" t
	command -v "iptables-$be" >/dev/null || require "needs iptables-$be"
	mkdir -p "$bin"
	for t in iptables iptables-restore iptables-save ip6tables ip6tables-restore ip6tables-save; do
		ln -sf "$(command -v "${t%%-*}-$be${t#"${t%%-*}"}")" "$bin/$t"
	done
	topo
	in_host 1 "iptables-$be" -P FORWARD DROP
	in_host 1 "ip6tables-$be" -P FORWARD DROP
	# Dropped: nothing of container 1 reaches container 2.
	ping_from_c1 100.64.2.2
	sleep 0.5
	[ "$(packets "$(fl_id)c2" cont1)" -eq 0 ]

	run in_host 1 env PATH="$bin:$PATH" flannel-masq \
		--subnet-file="$BATS_TEST_TMPDIR/subnet.env" apply
	[ "$status" -eq 0 ]
	run in_host 1 "iptables-$be-save" -t filter
	[[ "$output" == *'-A FORWARD -m comment --comment "flanneld forward" -j FLANNEL-FWD'* ]]
	[[ "$output" == *'-A FLANNEL-FWD -s 100.64.0.0/16 -m comment --comment "flanneld forward" -j ACCEPT'* ]]
	ip netns exec "$(fl_id)c1" ping -c 2 -W 2 100.64.2.2
	[ "$(packets "$(fl_id)c2" cont1)" -eq 2 ]
	# Twice: one jump, not two.
	in_host 1 env PATH="$bin:$PATH" flannel-masq --subnet-file="$BATS_TEST_TMPDIR/subnet.env" apply
	[ "$(in_host 1 "iptables-$be-save" -t filter | grep -c -- '-j FLANNEL-FWD')" -eq 1 ]
	# delete takes the chain and its jump away again; the policy stays.
	in_host 1 env PATH="$bin:$PATH" flannel-masq delete
	run in_host 1 "iptables-$be-save" -t filter
	[[ "$output" != *FLANNEL* && "$output" == *':FORWARD DROP'* ]]
}

@test "FORWARD policy DROP in iptables-nft: the forward rules go into iptables' FORWARD too" {
	fwd_drop_case nft
}

@test "FORWARD policy DROP in iptables-legacy: the forward rules go into iptables' FORWARD too" {
	fwd_drop_case legacy
}
