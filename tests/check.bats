#!/usr/bin/env bats
# flannel-check end to end: a healthy three-host vxlan overlay in namespaces
# with a real etcd prints only ok; then each fault is made for real and
# flannel-check names it with a FAIL line and exits 1.

load helpers
load overlay

teardown() { fl_teardown; }

export LEASE_MTU=1450
VXCONF='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'

# chk_up: three vxlan hosts, with tx checksum offload off on flannel.1 as
# flannel-check advises (the kernel turns it on for a new vxlan device).
chk_up() {
	cluster_up 3 "$VXCONF" vxlan flannel-vxlan apply
	for i in 1 2 3; do
		in_host "$i" ethtool -K flannel.1 tx-checksum-ip-generic off >/dev/null
	done
}

# fcheck I [ARGS...]: flannel-check on host I, its output shown on failure.
fcheck() {
	local i=$1
	shift
	run in_host "$i" flannel-check --etcd-endpoints="$ETCD_EP" --subnet-file="$D/h$i.env" \
		--probe-timeout=300 "$@"
	printf '%s\n' "$output"
	printf "%s\n" "$output" >>/tmp/chk/out.txt
}

@test "check: a healthy three-host vxlan overlay prints only ok and exits 0" {
	chk_up
	for i in 1 2 3; do
		fcheck "$i"
		[ "$status" -eq 0 ]
		[ -z "$(grep -vE '^ok ' <<<"$output" | grep -v '^[0-9]* ok, 0 FAIL, 0 SKIP$')" ]
	done
}
