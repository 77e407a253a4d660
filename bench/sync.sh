#!/bin/bash
# Sync benchmark (issue 5): 10 000 upstream-format vxlan leases in etcd, and
#  (a) ip -batch + bridge -batch loading the same objects in upstream's shape
#      into a fresh namespace,
#  (b) flannel-watch | flannel-vxlan apply from start to the last route,
#  (c) flannel-vxlan apply alone, fed the snapshot from a file.
# Prints the times, the ratios and each process's maximum RSS.  Needs root.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
N=${1:-10000}
[ "$(id -u)" = 0 ] || skip "needs root"
fl_id >/dev/null
T=$BATS_TEST_TMPDIR

# shellcheck disable=SC2034 # read by etcd_start
ETCD_EXTRA=(--max-txn-ops=$((N + 10)) --max-request-bytes=$((N * 400 + 1048576))
	--quota-backend-bytes=1073741824)
topo_create 1
etcd_start "$UL_NS" 192.0.2.254
put_config '{"Network":"100.64.0.0/10","SubnetLen":24,"Backend":{"Type":"vxlan"}}'
put_leases "$N"
echo "etcd: $N leases in place"

# (a) upstream's shape with iproute2, into a fresh namespace
upstream_batch "$N" >"$T/batch"
sed -n 's/^ip //p' "$T/batch" >"$T/ip.batch"
sed -n 's/^bridge //p' "$T/batch" >"$T/bridge.batch"
vtep_ns "$(fl_id)a"
s=$(date +%s%N)
/usr/bin/time -f "$TIMEFMT" -o "$T/rss.ip" ip -n "$(fl_id)a" -batch "$T/ip.batch"
/usr/bin/time -f "$TIMEFMT" -o "$T/rss.bridge" bridge -n "$(fl_id)a" -batch "$T/bridge.batch"
ta=$(ms_since "$s")
[ "$(ip -n "$(fl_id)a" route show dev flannel.1 | wc -l)" -ge "$N" ]

# (b) the pipeline in a host namespace with flannel.1, from start to the last
# route (the applier logs its sync after the last batch has been sent).
h=$(host_ns 1)
in_host 1 flannel-vxlan init --iface=eth0 >/dev/null
s=$(date +%s%N)
ip netns exec "$h" /usr/bin/time -f "$TIMEFMT" -o "$T/rss.watch" \
	flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file= --once 2>"$T/watch.log" |
	tee "$T/snapshot" |
	ip netns exec "$h" /usr/bin/time -f "$TIMEFMT" -o "$T/rss.apply" \
		flannel-vxlan apply --no-setup -v 1 2>"$T/apply.log" &
pipe=$!
for _ in $(seq 1 12000); do
	grep -q 'in sync at revision' "$T/apply.log" 2>/dev/null && break
	sleep 0.005
done
tb=$(ms_since "$s")
wait "$pipe"
[ "$(ip -n "$h" route show proto 76 | wc -l)" -ge "$N" ]

# (c) the applier alone, the same snapshot from a file, fresh namespace
vtep_ns "$(fl_id)c"
s=$(date +%s%N)
ip netns exec "$(fl_id)c" /usr/bin/time -f "$TIMEFMT" -o "$T/rss.applyc" \
	flannel-vxlan apply --no-setup <"$T/snapshot"
tc=$(ms_since "$s")
[ "$(ip -n "$(fl_id)c" route show proto 76 | wc -l)" -ge "$N" ]

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.1f", a / b }'; }
echo "hosts:                                         $N ($((3 * N)) objects + $N nexthops)"
echo "(a) ip -batch + bridge -batch, upstream shape: $ta ms wall, CPU ip $(cpu_of "$T/rss.ip") + bridge $(cpu_of "$T/rss.bridge") ms, RSS ip $(rss_of "$T/rss.ip") KiB, bridge $(rss_of "$T/rss.bridge") KiB"
echo "(b) flannel-watch | flannel-vxlan apply:       $tb ms wall, CPU watch $(cpu_of "$T/rss.watch") + apply $(cpu_of "$T/rss.apply") ms, RSS watch $(rss_of "$T/rss.watch") KiB, apply $(rss_of "$T/rss.apply") KiB"
echo "(c) flannel-vxlan apply < snapshot file:       $tc ms wall, CPU $(cpu_of "$T/rss.applyc") ms, RSS $(rss_of "$T/rss.applyc") KiB"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wall times suffer when others run)"
echo "ratios: (a)/(b) = $(ratio "$ta" "$tb")x   (a)/(c) = $(ratio "$ta" "$tc")x"
echo "targets: (b) <= (a)/4, (c) <= 120 ms, applier RSS < 4096 KiB"
