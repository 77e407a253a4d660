#!/bin/bash
# Scaling benchmark (issue 5): flannel-vxlan apply loading 1 000, 4 000 and
# 16 000 remote hosts into a fresh namespace, in our nexthop shape and in
# upstream's classic shape (--route-shape=classic).  Prints each time and its
# multiple of the 1 000-host time.  Needs root.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
[ "$(id -u)" = 0 ] || skip "needs root"
fl_id >/dev/null
T=$BATS_TEST_TMPDIR
SIZES=${SIZES:-1000 4000 16000}

# load SHAPE N: milliseconds to apply N leases in a fresh namespace.
load() {
	local ns n=$2 s t
	ns="$(fl_id)$1$n"
	vtep_ns "$ns"
	s=$(date +%s%N)
	ip netns exec "$ns" flannel-vxlan apply --no-setup --no-monitor --route-shape="$1" \
		<"$T/snap.$n"
	t=$(ms_since "$s")
	[ "$(ip -n "$ns" route show dev flannel.1 | wc -l)" -ge "$n" ]
	ip netns del "$ns"
	echo "$t"
}

printf '%8s %14s %8s %14s %8s\n' hosts "nexthop (ms)" "x 1000" "classic (ms)" "x 1000"
for n in $SIZES; do
	{
		echo '{"type":"snapshot","revision":1}'
		lease_lines "$n"
		echo '{"type":"sync","revision":1}'
	} >"$T/snap.$n"
	nh=$(load nexthop "$n")
	cl=$(load classic "$n")
	[ -n "${base_nh:-}" ] || { base_nh=$nh; base_cl=$cl; }
	printf '%8d %14s %8s %14s %8s\n' "$n" "$nh" \
		"$(awk -v a="$nh" -v b="$base_nh" 'BEGIN { printf "%.1f", a / b }')" "$cl" \
		"$(awk -v a="$cl" -v b="$base_cl" 'BEGIN { printf "%.1f", a / b }')"
done
echo "target: 16 000 hosts cost <= 20x 1 000 in the nexthop shape (upstream's shape: ~170x)"
