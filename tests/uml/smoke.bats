#!/usr/bin/env bats
# Runs inside the user-mode-linux guest (tests/uml.bats boots it through
# tests/uml/run.sh): the guest has what the harness promises.  The project's
# helpers work there, the kernel autoloads ipip, and the project's binaries
# talk to an etcd running in the guest.

load ../helpers
load ../overlay
bats_require_minimum_version 1.5.0

setup() {
	[ -e /proc/sys/kernel/modprobe ] || require "not a guest"
	[ "$(cat /proc/sys/kernel/modprobe)" = /run/uml/modprobe ] ||
		require "runs only inside the guest of tests/uml/run.sh"
	need_root
}

teardown() { fl_teardown; }

@test "guest: read-only root, writable scratch" {
	run ! touch /flannel-uml-probe
	[[ $output == *"Read-only file system"* ]]
	[ "$TMPDIR" = /run/scratch/tmp ]
	echo x >"$BATS_TEST_TMPDIR/probe"
	echo x >/dev/shm/"flannel-uml-probe.$$"
	rm /dev/shm/"flannel-uml-probe.$$"
	[ -x "$BIN/flannel-lease" ]
}

@test "guest: ipip autoloads, and a tunnel between two namespaces carries pings" {
	topo_create 2
	# A fresh guest: nothing loaded ipip yet.
	run ! grep -q '^ipip ' /proc/modules
	for i in 1 2; do
		j=$((3 - i))
		in_host "$i" ip link add fluml0 type ipip local "192.0.2.$i" remote "192.0.2.$j" ttl 64
		in_host "$i" ip addr add "198.51.100.$i/32" peer "198.51.100.$j/32" dev fluml0
		in_host "$i" ip link set fluml0 up
	done
	grep -q '^ipip ' /proc/modules
	in_host 1 ip -d link show fluml0 | grep -q 'ipip any remote 192.0.2.2 local 192.0.2.1'
	run in_host 1 ping -4 -c 2 -i 0.2 -W 2 198.51.100.2
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *" 0% packet loss"* ]]
}

@test "guest: flannel-lease in three namespaces, flannel-watch in each sees all three leases" {
	cluster_start 3 '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	for i in 1 2 3; do
		lease_start "$i" host-gw
	done
	for i in 1 2 3; do
		run in_host "$i" flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file="$D/h$i.env" --once
		echo "$output"
		[ "$status" -eq 0 ]
		echo "$output" | grep '"type":"added"' >"$D/w$i"
		[ "$(wc -l <"$D/w$i")" -eq 3 ]
		[ "$(jq -r .public_ip "$D/w$i" | sort | tr '\n' ,)" = "192.0.2.1,192.0.2.2,192.0.2.3," ]
		[ "$(jq -r 'select(.self == true) | .public_ip' "$D/w$i")" = "192.0.2.$i" ]
		[ "$(jq -r 'select(.self == true) | .subnet' "$D/w$i")" = "$(env_get "$i" FLANNEL_SUBNET | sed 's/\.1\//.0\//')" ]
	done
}
