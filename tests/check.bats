#!/usr/bin/env bats
# flannel-check end to end: a healthy three-host vxlan overlay in namespaces
# with a real etcd prints only ok; then each fault is made for real and
# flannel-check names it with a FAIL line and exits 1.

load helpers
load overlay
load flanneld
load wireguard

# nft tables made by a test, "NS TABLE" per line: deleted by name first.
teardown() {
	local ns t
	if [ -f "$BATS_TEST_TMPDIR/nft" ]; then
		while read -r ns t; do
			ip netns exec "$ns" nft delete table inet "$t" 2>/dev/null || true
		done <"$BATS_TEST_TMPDIR/nft"
	fi
	fl_teardown
}

export LEASE_MTU=1450
VXCONF='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'

# chk_up [N]: N (3) vxlan hosts, with tx checksum offload off on flannel.1 as
# flannel-check advises (the kernel turns it on for a new vxlan device).
chk_up() {
	local n=${1:-3}
	cluster_up "$n" "$VXCONF" vxlan flannel-vxlan apply
	for i in $(seq 1 "$n"); do
		in_host "$i" ethtool -K flannel.1 tx-checksum-ip-generic off >/dev/null
	done
}

# env_file I: host I's subnet.env (the flanneld rig keeps it in $RUN/hI/).
env_file() {
	if [ -n "${RUN:-}" ]; then echo "$RUN/h$1/subnet.env"; else echo "$D/h$1.env"; fi
}

# fcheck I [ARGS...]: flannel-check on host I, its output shown on failure.
fcheck() {
	local i=$1
	shift
	run in_host "$i" flannel-check --etcd-endpoints="$ETCD_EP" --subnet-file="$(env_file "$i")" \
		--probe-timeout=300 "$@"
	printf '%s\n' "$output"
}

# drop_udp I PORT: an nftables table on host I drops UDP to PORT (deleted
# by name in teardown).
drop_udp() {
	local t="flchk$$"
	echo "$(host_ns "$1") $t" >>"$BATS_TEST_TMPDIR/nft"
	in_host "$1" nft -f - <<-EOF
		table inet $t {
			chain in { type filter hook input priority 0; udp dport $2 drop; }
		}
	EOF
}

# first_addr I: the first address of host I's subnet (its device's).
first_addr() {
	sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0/p' "$(env_file "$1")"
}

# port_blocked PORT DEV: hosts 1 and 2 up under flanneld; ok through DEV
# first, then UDP PORT dropped on host 2 is a FAIL port.
port_blocked() {
	local port=$1 dev=$2
	wait_for 10 in_host 1 ping -c 1 -W 1 -I "$(first_addr 1)" "$(first_addr 2)"
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^ok   device $dev: is up" <<<"$output"
	grep -q "^ok   port 192.0.2.2: an echo through $dev to $(first_addr 2) is answered (UDP $port both ways)" <<<"$output"
	drop_udp 2 "$port"
	fcheck 1
	failed port 192.0.2.2
	grep -q "UDP $port to 192.0.2.2 is blocked" <<<"$output"
}

@test "check: a healthy three-host vxlan overlay prints only ok and exits 0" {
	chk_up
	for i in 1 2 3; do
		fcheck "$i"
		[ "$status" -eq 0 ]
		[ -z "$(grep -vE '^ok ' <<<"$output" | grep -v '^[0-9]* ok, 0 FAIL, 0 SKIP, 0 WARN$')" ]
	done
}

# failed CHECK SUBJECT: the output has "FAIL CHECK SUBJECT..." and exit 1.
failed() {
	[ "$status" -eq 1 ]
	grep -qE "^FAIL $1${2:+ $2}" <<<"$output"
}

@test "check: UDP 8472 dropped by nftables on a peer: FAIL port for it alone" {
	chk_up 3
	drop_udp 2 8472
	fcheck 1
	failed port 192.0.2.2
	grep -q "UDP 8472 to 192.0.2.2 is blocked" <<<"$output"
	grep -q "^ok   port 192.0.2.3" <<<"$output"
	# One peer end to end: only its lines.
	fcheck 1 192.0.2.2
	failed port 192.0.2.2
	[ "$(grep -c "192.0.2.3" <<<"$output")" = 0 ]
	in_host 2 nft delete table inet "flchk$$"
	fcheck 1 192.0.2.2
	[ "$status" -eq 0 ]
}

@test "check: an underlay MTU lowered on the path to a peer: FAIL mtu with the path MTU found" {
	chk_up 2
	ip -n "$UL_NS" link set "$(fl_id)v2" mtu 1400
	fcheck 1
	failed mtu 192.0.2.2
	grep -q "the path MTU is 1400, but the overlay needs 1500 (FLANNEL_MTU 1450 + 50 for vxlan)" <<<"$output"
	grep -q "flannel-lease --mtu=1350" <<<"$output"
}

@test "check: FORWARD policy DROP without accept rules: FAIL forward; accept rules make it ok" {
	chk_up 2
	in_host 1 iptables -P FORWARD DROP
	fcheck 1
	failed forward 100.64.0.0/16
	grep -q "the iptables FORWARD policy is DROP and no rule accepts traffic from or to 100.64.0.0/16" <<<"$output"
	in_host 1 iptables -A FORWARD -s 100.64.0.0/16 -j ACCEPT
	fcheck 1
	failed forward 100.64.0.0/16
	grep -q "accepts traffic to 100.64.0.0/16" <<<"$output"
	in_host 1 iptables -A FORWARD -d 100.64.0.0/16 -j ACCEPT
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^ok   forward" <<<"$output"
}

@test "check: an nftables forward chain with policy drop: FAIL forward until it accepts the network" {
	chk_up 2
	local t="flchk$$"
	echo "$(host_ns 1) $t" >>"$BATS_TEST_TMPDIR/nft"
	in_host 1 nft -f - <<-EOF
		table inet $t {
			chain fw { type filter hook forward priority 0; policy drop; }
		}
	EOF
	fcheck 1
	failed forward 100.64.0.0/16
	grep -q "nft chain inet $t fw drops forwarded packets and accepts none from and to 100.64.0.0/16" <<<"$output"
	in_host 1 nft add rule inet "$t" fw ip saddr 100.64.0.0/16 accept
	in_host 1 nft add rule inet "$t" fw ip daddr 100.64.0.0/16 accept
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^ok   forward 100.64.0.0/16" <<<"$output"
}

@test "check: a peer's route deleted while the applier is stopped: FAIL peer, no route" {
	chk_up 3
	local sub
	sub=$(subnet_of 2)
	kill "$APPLY_PID_1"
	ip -n "$(host_ns 1)" route del "$sub"
	fcheck 1
	failed peer "$sub \(192.0.2.2\)"
	grep -q "^FAIL peer $sub (192.0.2.2): no route; fix: start or restart the applier" <<<"$output"
	grep -q "^ok   peer $(subnet_of 3)" <<<"$output"
	# and everything of it gone: nothing installed
	ip -n "$(host_ns 1)" neigh del "${sub%/*}" dev flannel.1
	bridge -n "$(host_ns 1)" fdb show dev flannel.1 | awk '/dst 192.0.2.2 /{print $1}' |
		while read -r mac; do bridge -n "$(host_ns 1)" fdb del "$mac" dev flannel.1 dst 192.0.2.2 self; done
	fcheck 1
	grep -qE "^FAIL peer $sub \(192.0.2.2\): nothing installed: no route, no neighbour entry ${sub%/*} lladdr [0-9a-f:]{17}, no FDB entry [0-9a-f:]{17} dst 192.0.2.2; fix: " <<<"$output"
	# The port is still probed, with a VXLAN packet made by hand: host 2
	# answers through its own objects for us.
	grep -q "^ok   port 192.0.2.2: a VXLAN echo made by hand to ${sub%/*} (nothing of it is installed here) is answered (UDP 8472 both ways)" <<<"$output"
	drop_udp 2 8472
	fcheck 1
	grep -q "^FAIL port 192.0.2.2: a VXLAN echo made by hand to ${sub%/*} (nothing of it is installed here) gets no answer while a plain ping does: UDP 8472 to 192.0.2.2 is blocked" <<<"$output"
}

@test "check: strict rp_filter with a peer's way back through another interface: FAIL rp_filter" {
	chk_up 2
	local sub
	sub=$(subnet_of 2)
	in_host 1 sysctl -qw net.ipv4.conf.flannel/1.rp_filter=1
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^ok   rp_filter flannel.1: on; every peer's subnet routes back" <<<"$output"
	in_host 1 ip route add "${sub%/*}/25" via 192.0.2.254 dev eth0
	fcheck 1
	failed rp_filter flannel.1
	grep -q "strict (1) drops what arrives from a peer: the route back to $sub leaves through eth0" <<<"$output"
}

@test "check: subnet.env edited or removed: FAIL subnet.env" {
	chk_up 2
	local sub
	sub=$(env_get 1 FLANNEL_SUBNET)
	sed -i 's|^FLANNEL_SUBNET=.*|FLANNEL_SUBNET=100.64.250.1/24|' "$D/h1.env"
	fcheck 1
	failed subnet.env "$D/h1.env"
	grep -q "FLANNEL_SUBNET 100.64.250.0/24, but etcd's lease for 192.0.2.1 is ${sub%.1/*}.0/24" <<<"$output"
	rm "$D/h1.env"
	fcheck 1
	failed subnet.env "$D/h1.env"
	grep -q "No such file or directory; etcd has lease ${sub%.1/*}.0/24 for 192.0.2.1" <<<"$output"
}

@test "check: the vxlan device down, then gone: FAIL device, and its peers not installed" {
	chk_up 2
	kill "$APPLY_PID_1"
	ip -n "$(host_ns 1)" link set flannel.1 down
	fcheck 1
	failed device flannel.1
	grep -q "^FAIL device flannel.1: is down; fix: ip link set flannel.1 up" <<<"$output"
	ip -n "$(host_ns 1)" link set flannel.1 up
	ip -n "$(host_ns 1)" addr flush dev flannel.1
	fcheck 1
	failed device flannel.1
	grep -q "^FAIL device flannel.1: has no address $(subnet_of 1 | cut -d/ -f1)/32" <<<"$output"
	ip -n "$(host_ns 1)" addr add "$(subnet_of 1 | cut -d/ -f1)/32" dev flannel.1
	local mac
	mac=$(ip -n "$(host_ns 1)" -j link show flannel.1 | jq -r '.[0].address')
	ip -n "$(host_ns 1)" link set flannel.1 address 02:00:00:00:0f:01
	fcheck 1
	failed device flannel.1
	grep -q "^FAIL device flannel.1: MAC 02:00:00:00:0f:01 is not our lease's VtepMAC $mac" <<<"$output"
	ip -n "$(host_ns 1)" link del flannel.1
	fcheck 1
	failed device flannel.1
	grep -q "^FAIL device flannel.1: does not exist; fix: start flannel-vxlan" <<<"$output"
	grep -q "^FAIL peer $(subnet_of 2) (192.0.2.2): nothing installed: " <<<"$output"
	grep -q "^SKIP port 192.0.2.2: could not check: nothing installed for it" <<<"$output"
}

@test "check: tx checksum offload on the vxlan device (the kernel's default): WARN offload with the ethtool fix, exit 0; --skip silences it" {
	chk_up 2
	in_host 1 ethtool -K flannel.1 tx-checksum-ip-generic on >/dev/null
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^WARN offload flannel.1: tx checksum offload is on" <<<"$output"
	grep -q "fix: ethtool -K flannel.1 tx-checksum-ip-generic off$" <<<"$output"
	grep -q "^[0-9]* ok, 0 FAIL, 0 SKIP, 1 WARN$" <<<"$output"
	fcheck 1 --json
	[ "$status" -eq 0 ]
	jq -e -s 'map(select(.check == "offload"))[0] | .status == "warn" and (.fix | test("tx-checksum-ip-generic off"))' <<<"$output"
	jq -e -s 'map(select(.type == "summary"))[0] | .warn == 1 and .fail == 0' <<<"$output"
	fcheck 1 --skip=offload
	[ "$status" -eq 0 ]
	grep -q "^SKIP offload flannel.1: skipped as asked, was WARN: tx checksum offload is on" <<<"$output"
	fcheck 1 --skip=offload --json
	jq -e -s 'map(select(.check == "offload"))[0] | .status == "skip" and .was == "warn"' <<<"$output"
}

@test "check: our own subnet routed away through the overlay: FAIL own-route" {
	chk_up 2
	local own
	own=$(subnet_of 1)
	in_host 1 ip route add "${own%/*}/25" via "$(subnet_of 2 | cut -d/ -f1)" dev flannel.1 onlink
	fcheck 1
	failed own-route "$own"
	grep -q "${own%/*}/25 goes via $(subnet_of 2 | cut -d/ -f1) dev flannel.1" <<<"$output"
}

@test "check: a host-gw peer that is not on a link of ours: FAIL onlink" {
	gw_offlink_up
	fcheck 1
	failed onlink "$(subnet_of 3) \(198.51.100.3\)"
	grep -q "198.51.100.3 is not directly reachable on the underlay" <<<"$output"
	grep -q "^ok   onlink $(subnet_of 2) (192.0.2.2)" <<<"$output"
	grep -q "^ok   peer $(subnet_of 2) (192.0.2.2): installed: route via 192.0.2.2$" <<<"$output"
}

@test "check: flanneld started for a subnet file a flannel-lease already keeps: FAIL instances" {
	chk_up 2
	# Its own flannel-lease cannot take the lock and is restarted again and
	# again; flanneld itself holds the other lock and stays.
	bg_in_host 1 "$D/flanneld1.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$D/h1.env"
	local second=$LAST_PID
	wait_for 10 grep -q "another flannel-lease (pid $LEASE_PID_1)" "$D/flanneld1.log"
	fcheck 1
	failed instances "$D/h1.env"
	grep -qE "2 instances keep the lease of this file \((flannel-lease pid $LEASE_PID_1, flanneld pid $second|flanneld pid $second, flannel-lease pid $LEASE_PID_1)\)" <<<"$output"
	grep -qE "fix: stop all but one of pids [0-9]+ [0-9]+$" <<<"$output"
}

@test "check: a lock held by a process that keeps no lease: FAIL instances" {
	chk_up 2
	kill "$LEASE_PID_1"
	wait_for 5 sh -c "! kill -0 $LEASE_PID_1"
	flock "$D/h1.env.lock" sleep 30 3>&- &
	track_pid "$!"
	wait_for 5 sh -c "grep -q FLOCK /proc/locks && flock -n '$D/h1.env.lock' true; [ \$? -ne 0 ]"
	fcheck 1
	failed instances "$D/h1.env"
	grep -q "h1.env.lock is held by pid [0-9]* (flock), which keeps no lease for this file" <<<"$output"
}

@test "check: this host's clock two minutes ahead (libfaketime): FAIL clock" {
	chk_up 2
	command -v faketime >/dev/null || require "needs faketime (Debian faketime)"
	run in_host 1 faketime -f +120s flannel-check --etcd-endpoints="$ETCD_EP" \
		--subnet-file="$D/h1.env" --probe-timeout=300
	printf '%s\n' "$output"
	failed clock
	grep -qE "^FAIL clock: this host's clock is 1(19|20|21) s ahead of etcd's" <<<"$output"
}

@test "check: PEER by subnet checks that peer alone; an unknown PEER fails" {
	chk_up 3
	fcheck 1 "$(subnet_of 3)"
	[ "$status" -eq 0 ]
	grep -q "^ok   peer $(subnet_of 3) (192.0.2.3)" <<<"$output"
	[ "$(grep -c "192.0.2.2" <<<"$output")" = 0 ]
	fcheck 1 198.18.0.99
	failed peer 198.18.0.99
}

@test "check: --json gives one object per line with a type; exit codes for usage and etcd" {
	chk_up 2
	fcheck 1 --json
	[ "$status" -eq 0 ]
	jq -e -s 'all(.[]; .type == "check" or .type == "summary")' <<<"$output"
	jq -e -s 'map(select(.type == "check")) | length > 10 and all(.[]; .status == "ok")' <<<"$output"
	jq -e -s 'map(select(.type == "summary"))[0] | .fail == 0' <<<"$output"
	run flannel-check --no-such-flag
	[ "$status" -eq 64 ]
	run in_host 1 flannel-check --etcd-endpoints=http://127.0.0.1:9 --etcd-timeout=1s \
		--subnet-file="$D/h1.env"
	[ "$status" -eq 69 ]
}

@test "check: udp backend: UDP 8285 dropped on a peer: FAIL port; what it cannot check is SKIP" {
	[ -c /dev/net/tun ] || require "needs /dev/net/tun"
	cluster_start 2 '{"Network":"100.64.0.0/16"}'
	RUN=$D
	start_flanneld 1 --iptables-forward-rules=false
	start_flanneld 2 --iptables-forward-rules=false
	wait_env 1
	wait_env 2
	port_blocked 8285 flannel0
	grep -q "^ok   peer .* (192.0.2.2): installed by flannel-udp (pid [0-9]*)$" <<<"$output"
	grep -q "^ok   mtu 192.0.2.2: a 1500-byte don't-fragment ping passes (FLANNEL_MTU 1472 + 28 for udp)" <<<"$output"
}

@test "check: udp backend: a peer as flannel-udp's state file has it: refused with its reason, unknown while flannel-udp is stopped, flannel-udp gone" {
	[ -c /dev/net/tun ] || require "needs /dev/net/tun"
	local st pid out=100.65.9.0/24 new=100.64.250.0/24
	cluster_start 2 '{"Network":"100.64.0.0/16"}'
	RUN=$D
	st="$(state_dir 1)/flannel-udp.json"
	start_flanneld 1 --iptables-forward-rules=false
	start_flanneld 2 --iptables-forward-rules=false
	wait_env 1
	wait_env 2
	wait_for 10 grep -q '"synced":true' "$st"
	# A lease outside the network: flannel-udp refuses it, and says why.
	etcdctl_ put /coreos.com/network/subnets/100.65.9.0-24 \
		'{"PublicIP":"198.18.0.9","PublicIPv6":null,"BackendType":"udp"}' >/dev/null
	wait_for 5 grep -q "\"$out\"" "$st"
	fcheck 1 "$out"
	failed peer "$out \(198.18.0.9\): nothing installed: flannel-udp refused it: .*outside"
	# flannel-udp frozen: a lease written meanwhile is one it does not know.
	pid=$(jq -r .pid "$st")
	kill -STOP "$pid"
	etcdctl_ put /coreos.com/network/subnets/100.64.250.0-24 \
		'{"PublicIP":"198.18.0.10","PublicIPv6":null,"BackendType":"udp"}' >/dev/null
	fcheck 1 "$new"
	kill -CONT "$pid"
	failed peer "$new \(198.18.0.10\): nothing installed: flannel-udp \(pid $pid\) does not know the lease; fix: start or restart"
	wait_for 5 grep -q "\"$new\"" "$st"
	fcheck 1 "$new"
	grep -q "^ok   peer $new (198.18.0.10): installed by flannel-udp (pid $pid)$" <<<"$output"
	# flannel-udp gone, and flanneld held so that it cannot start it again.
	kill -STOP "$FLANNELD_PID_1"
	kill -KILL "$pid"
	# dead: a zombie that its stopped parent cannot reap, or gone
	wait_for 5 sh -c "! ps -o stat= -p $pid | grep -q '^[^Z]'"
	fcheck 1 "$new"
	kill -CONT "$FLANNELD_PID_1"
	failed peer "$new \(198.18.0.10\): nothing installed: flannel-udp \(pid $pid, .*flannel-udp.json\) is not running"
}

@test "check: wireguard backend: UDP 51820 dropped on a peer: FAIL port" {
	[ -c /dev/net/tun ] || require "needs /dev/net/tun"
	command -v wireguard-go >/dev/null || require "needs wireguard-go (scripts/deps.sh)"
	mkdir -p /run/wireguard
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"wireguard"}}'
	RUN=$D
	local i
	for i in 1 2; do
		start_wggo "$i"
		start_fd "$i"
	done
	wait_env 1
	wait_env 2
	port_blocked 51820 flannel-wg
	grep -q "^ok   peer .* (192.0.2.2): installed by flannel-wireguard (pid [0-9]*)$" <<<"$output"
}

@test "check: without CAP_NET_RAW the probes say SKIP and why; without iptables and nft, forward does" {
	chk_up 2
	command -v setpriv >/dev/null || require "needs setpriv (util-linux)"
	run in_host 1 setpriv --inh-caps=-all --bounding-set=-net_raw \
		flannel-check --etcd-endpoints="$ETCD_EP" --subnet-file="$D/h1.env" --probe-timeout=300
	printf '%s\n' "$output"
	[ "$status" -eq 0 ]
	grep -q "^SKIP mtu 192.0.2.2: could not check: probe: Operation not permitted (probes need CAP_NET_RAW)" <<<"$output"
	grep -q "^SKIP port 192.0.2.2: could not check: probe: Operation not permitted" <<<"$output"
	grep -q "^ok   peer $(subnet_of 2) (192.0.2.2): installed" <<<"$output"
	fcheck 1 --iptables=/nonexistent --nft=/nonexistent
	[ "$status" -eq 0 ]
	grep -q "^SKIP forward 100.64.0.0/16: could not check: neither /nonexistent nor /nonexistent could list the rules" <<<"$output"
}

@test "check: dual-stack vxlan: the IPv6 device and each peer's IPv6 objects; a deleted IPv6 route is a FAIL" {
	cluster_start 2 '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"vxlan"}}'
	local i d4 d6 sub6
	for i in 1 2; do
		d4=$(in_host "$i" flannel-vxlan init --iface=eth0)
		d6=$(in_host "$i" flannel-vxlan init -6 --iface=eth0)
		lease_start "$i" vxlan --public-ipv6="2001:db8::$i" --backend-data="$d4" \
			--backend-v6-data="$d6"
		in_host "$i" ethtool -K flannel.1 tx-checksum-ip-generic off >/dev/null
	done
	for i in 1 2; do
		applier_start "$i" flannel-vxlan apply
	done
	wait_for 10 synced 1
	wait_for 5 sh -c "ip -n '$(host_ns 1)' -6 route show proto 76 | grep -q flannel-v6.1"
	sub6=$(ip -n "$(host_ns 1)" -6 route show proto 76 | awk '/flannel-v6.1/ {print $1; exit}')
	fcheck 1
	[ "$status" -eq 0 ]
	grep -q "^ok   device flannel-v6.1: is up, MTU 1430" <<<"$output"
	grep -q "^ok   peer $sub6 (2001:db8::2): installed: route via ${sub6%/*}, neighbour and FDB entry" <<<"$output"
	kill "$APPLY_PID_1"
	ip -n "$(host_ns 1)" -6 route del "$sub6"
	fcheck 1
	failed peer "$sub6 \(2001:db8::2\)"
	grep -q "^FAIL peer $sub6 (2001:db8::2): no route; fix: " <<<"$output"
	grep -q "^ok   peer $(subnet_of 2) (192.0.2.2): installed" <<<"$output"
}
