#!/usr/bin/env bats
# Runs inside the user-mode-linux guest (tests/ipsec.bats boots it through
# tests/uml/run.sh), whose kernel has ESP: flanneld with "Type":"ipsec" on
# three hosts, each with its own charon; containers ping each other over
# ESP and the underlay carries only ESP (UDP 4500 with UDPEncap), never an
# inner address in clear; a removed lease removes its connection, policies
# and SAs; a host with a wrong PSK is named in the log and gets no traffic.

load ../helpers
load ../overlay
load ../ipsec
bats_require_minimum_version 1.5.0

setup() {
	[ "$(cat /proc/sys/kernel/modprobe 2>/dev/null)" = /run/uml/modprobe ] ||
		require "runs only inside the guest of tests/uml/run.sh"
	need_root
	command -v tcpdump >/dev/null || require "needs tcpdump"
}

teardown() { fl_teardown; }

# flanneld_start I: flanneld on host I with its own charon directory.
flanneld_start() {
	bg_in_host "$1" "$D/flanneld$1.log" env FLANNEL_IPSEC_RUN_DIR="$(ipsec_dir "$1")" \
		flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0 --subnet-file="$D/h$1.env" \
		--iptables-forward-rules=false -v 1
	eval "FLANNELD_PID_$1=$LAST_PID"
}

# capture_start: every packet on the underlay's bridge, decoded, into $D/wire.
capture_start() {
	ip netns exec "$UL_NS" tcpdump -i br0 -n -l -U >"$D/wire" 2>"$D/tcpdump.log" 3>&- &
	CAPTURE_PID=$!
	track_pid "$CAPTURE_PID"
	wait_for 10 grep -q 'listening on' "$D/tcpdump.log"
}

capture_stop() {
	sleep 0.5
	kill "$CAPTURE_PID"
	wait "$CAPTURE_PID" || true
}

# xfrm_states I: host I's ESP SAs, one line each: "SRC DST REQID".
xfrm_states() {
	ip -n "$(host_ns "$1")" xfrm state show | awk '
		$1 == "src" { s = $2; d = $4 }
		$1 == "proto" && $5 == "reqid" { print s, d, $6 }'
}

@test "guest: ipsec between three hosts through flanneld: ESP on the wire, MTU 1423, a removed lease takes its connection, policies and SAs" {
	local i
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
	for i in 1 2 3; do
		flanneld_start "$i"
	done
	for i in 1 2 3; do
		wait_for 30 grep -q FLANNEL_SUBNET "$D/h$i.env"
		container "$i"
	done
	grep -q '^FLANNEL_MTU=1423$' "$D/h1.env"
	for i in 1 2 3; do
		wait_for 90 child_up "$i" 2 || { cat "$D/flanneld$i.log"; false; }
	done
	ipsec_status 1
	capture_start
	ping_all 3
	capture_stop
	grep -c 'ESP(spi=' "$D/wire"
	[ "$(grep -c 'ESP(spi=' "$D/wire")" -ge 12 ]
	# Nothing of the containers' traffic in clear: no inner address at all.
	run ! grep -E '100\.64\.[0-9]+\.[0-9]+' "$D/wire"
	# No echo in clear (an ICMP error between the hosts' own addresses may pass).
	grep ICMP "$D/wire" || true
	run ! grep -q 'ICMP echo' "$D/wire"
	# charon installed the SAs with our reqid per peer: two peers, two reqids.
	xfrm_states 1 | tee "$D/states"
	[ "$(awk '{print $3}' "$D/states" | sort -u | wc -l)" -eq 2 ]
	our_policies 1 | awk '{print $6}' | sort -u >"$D/reqids"
	[ "$(wc -l <"$D/reqids")" -eq 2 ]
	diff "$D/reqids" <(awk '{printf "%d\n", $3}' "$D/states" | sort -u)

	# Host 3 goes and its lease with it.
	kill -TERM "$FLANNELD_PID_3"
	wait "$FLANNELD_PID_3" || true
	etcdctl_ del "/coreos.com/network/subnets/$(subnet_of 3 | tr / -)"
	for i in 1 2; do
		wait_for 20 policy_count "$i" 3
		run ! grep -q "$(subnet_of 3)" <(our_policies "$i")
		wait_for 20 no_conn "$i" "$(subnet_of 3)"
		wait_for 20 no_states_to "$i" 192.0.2.3
	done
	in_container 1 ping -4 -c 1 -W 2 "$(caddr 2)"
}

no_states_to() { ! xfrm_states "$1" | grep -q "$2"; }
policy_count() { [ "$(our_policies "$1" | wc -l)" -eq "$2" ]; }
no_conn() { ! ipsec_status "$1" | grep -q "^$2 "; }

@test "guest: UDPEncap: ESP in UDP 4500 only; a host with a wrong PSK is named and gets nothing" {
	local i
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'","UDPEncap":true}}'
	for i in 1 2 3; do
		lease_start "$i" ipsec
	done
	for i in 1 2; do
		applier_start "$i" flannel-ipsec apply --iface=eth0 --psk="$PSK" --udp-encap \
			--run-dir="$(ipsec_dir "$i")" --check-interval=1
	done
	applier_start 3 flannel-ipsec apply --iface=eth0 --psk="wrong$PSK" --udp-encap \
		--run-dir="$(ipsec_dir 3)" --check-interval=1
	for i in 1 2 3; do
		container "$i"
	done
	wait_for 90 child_up 1 1
	wait_for 90 child_up 2 1
	wait_for 60 grep -q "peer $(subnet_of 3) (192.0.2.3): IKE authentication failed: its PSK and ours differ" "$D/apply1.log"
	grep "IKE authentication failed" "$D"/apply*.log
	capture_start
	in_container 1 ping -4 -c 3 -W 2 "$(caddr 2)"
	run in_container 1 ping -4 -c 2 -W 2 "$(caddr 3)"
	[ "$status" -ne 0 ]
	capture_stop
	# Every ESP packet is in UDP 4500; none is plain ESP; no inner address.
	grep -c 'UDP-encap: ESP' "$D/wire"
	[ "$(grep -c 'UDP-encap: ESP' "$D/wire")" -ge 6 ]
	[ "$(grep -c 'ESP(spi=' "$D/wire")" -eq "$(grep -c 'UDP-encap: ESP' "$D/wire")" ]
	run ! grep -E '100\.64\.[0-9]+\.[0-9]+' "$D/wire"
	# Nothing went to host 3 but IKE.
	run ! grep -E '> 192\.0\.2\.3\.[0-9]+: UDP-encap: ESP' "$D/wire"
	ipsec_status 1 | tee "$D/status"
	run ! grep -Eq "^$(subnet_of 3) .* INSTALLED" "$D/status"
}
