#!/bin/bash
# Lease and watch benchmark (issue 4): N (10 000) upstream-format leases in a
# fresh etcd, then, in the same run,
#  - etcdctl get --prefix of the subnets (the yardstick),
#  - flannel-watch from start to its sync line, and its peak RSS,
#  - flannel-watch kept running (snapshot, live events, SIGTERM): peak RSS,
#  - flannel-lease --oneshot from start to subnet.env written,
# each the median (and min) of RUNS (5) runs.  Prints numbers, asserts nothing.
# Targets from the issue: watch within 1.5x of etcdctl, < 4 MiB RSS, lease < 50 ms.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
N=${1:-10000}
RUNS=${RUNS:-5}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v etcd >/dev/null || skip "needs etcd"
fl_id >/dev/null
T=$BATS_TEST_TMPDIR
P=/coreos.com/network

# shellcheck disable=SC2034 # read by etcd_start
ETCD_EXTRA=(--max-txn-ops=1000 --quota-backend-bytes=1073741824)
etcd_start
put_config '{"Network":"100.64.0.0/10","SubnetLen":24,"Backend":{"Type":"vxlan"}}'

# N leases, 1000 per transaction through the JSON gateway; keys
# 100.64.0.0-24 upwards, skipping the first subnet as upstream does.
s=$(date +%s%N)
python3 - "$N" "$ETCD_EP" <<'PY'
import base64, json, sys, urllib.request
n, ep = int(sys.argv[1]), sys.argv[2]
b64 = lambda s: base64.b64encode(s.encode()).decode()
ops = []
def flush():
    req = urllib.request.Request(ep + "/v3/kv/txn", json.dumps({"success": ops}).encode(),
                                 {"Content-Type": "application/json"})
    urllib.request.urlopen(req).read()
    ops.clear()
for k in range(1, n + 1):
    a, b = k >> 8, k & 255
    key = "/coreos.com/network/subnets/100.%d.%d.0-24" % (64 + a, b)
    val = ('{"PublicIP":"198.18.%d.%d","PublicIPv6":null,"BackendType":"vxlan",'
           '"BackendData":{"VNI":1,"VtepMAC":"0a:58:64:00:%02x:%02x"}}' % (a, b, a, b))
    ops.append({"requestPut": {"key": b64(key), "value": b64(val)}})
    if len(ops) == 1000:
        flush()
if ops:
    flush()
PY
count=$(etcdctl_ get --prefix --keys-only "$P/subnets/" | grep -c .)
echo "etcd $ETCD_EP: $count leases put in $(ms_since "$s") ms"

# stats FILE: "median M ms (min m)" of the numbers in FILE, one a line.
stats() {
	sort -n "$1" | awk '{ v[NR] = $1 } END {
		printf "median %.1f ms (min %.1f, max %.1f, %d runs)", v[int((NR + 1) / 2)], v[1], v[NR], NR }'
}
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

: >"$T/ctl" && : >"$T/watch" && : >"$T/rss" && : >"$T/cpu" && : >"$T/lease" && : >"$T/gw"
range=$(printf '{"key":"%s","range_end":"%s"}' "$(printf %s "$P/subnets/" | base64 -w0)" \
	"$(printf %s "$P/subnets0" | base64 -w0)")
for _ in $(seq 1 "$RUNS"); do
	s=$(date +%s%N)
	etcdctl_ get --prefix "$P/subnets/" >"$T/ctl.out"
	echo "$(ms_since "$s")" >>"$T/ctl"

	s=$(date +%s%N)
	/usr/bin/time -f "%U %S %M" -o "$T/rss.once" flannel-watch --etcd-endpoints="$ETCD_EP" \
		--once --subnet-file= >"$T/watch.out"
	echo "$(ms_since "$s")" >>"$T/watch"
	echo "$(rss_of "$T/rss.once")" >>"$T/rss"
	echo "$(cpu_of "$T/rss.once")" >>"$T/cpu"

	# The JSON gateway's own cost: all leases in one range, read by curl.
	s=$(date +%s%N)
	curl -sS -o "$T/gw.out" -H 'Content-Type: application/json' -d "$range" \
		"$ETCD_EP/v3/kv/range"
	echo "$(ms_since "$s")" >>"$T/gw"
done
added=$(grep -c '"type":"added"' "$T/watch.out")
[ "$added" = "$count" ] || echo "warning: flannel-watch printed $added added events, not $count" >&2

# Kept running: the snapshot, then 100 live events, then SIGTERM.
/usr/bin/time -f "%U %S %M" -o "$T/rss.live" flannel-watch --etcd-endpoints="$ETCD_EP" \
	--subnet-file= >"$T/live.out" 2>"$T/live.err" 3>&- &
tpid=$!
track_pid "$tpid"
s=$(date +%s%N)
for _ in $(seq 1 600); do
	grep -q '"type":"sync"' "$T/live.out" && break
	sleep 0.01
done
live_sync=$(ms_since "$s")
for i in $(seq 1 100); do
	echo "put $P/subnets/100.127.$i.0-24 \"{\\\"PublicIP\\\":\\\"198.19.0.$i\\\",\\\"PublicIPv6\\\":null,\\\"BackendType\\\":\\\"vxlan\\\",\\\"BackendData\\\":{\\\"VNI\\\":1,\\\"VtepMAC\\\":\\\"0a:58:64:7f:00:$(printf %02x "$i")\\\"}}\""
done | { echo; cat; echo; echo; } | etcdctl_ txn >/dev/null
for _ in $(seq 1 500); do
	[ "$(grep -c '100.127.' "$T/live.out")" -ge 100 ] && break
	sleep 0.01
done
# The watcher is the child of time: signal it, not time.
wpid=$(pgrep -P "$tpid" -x flannel-watch || true)
[ -n "$wpid" ] && kill -TERM "$wpid"
wait "$tpid" || true
live_rss=$(rss_of "$T/rss.live")

for i in $(seq 1 "$RUNS"); do
	rm -f "$T/subnet.env"
	s=$(date +%s%N)
	flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot --quiet --mtu=1450 \
		--public-ip="192.0.2.$i" --subnet-file="$T/subnet.env" --backend-type=vxlan \
		--backend-data='{"VNI":1,"VtepMAC":"0a:58:c0:00:02:01"}' 2>/dev/null
	echo "$(ms_since "$s")" >>"$T/lease"
	[ -s "$T/subnet.env" ] || echo "warning: no subnet.env written" >&2
done
# The same with etcd nearly empty, for comparison.
etcdctl_ del --prefix "$P/subnets/" >/dev/null
: >"$T/lease0"
for i in $(seq 1 "$RUNS"); do
	rm -f "$T/subnet.env"
	s=$(date +%s%N)
	flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot --quiet --mtu=1450 \
		--public-ip="192.0.2.$((i + 100))" --subnet-file="$T/subnet.env" \
		--backend-type=vxlan --backend-data='{"VNI":1,"VtepMAC":"0a:58:c0:00:02:01"}' 2>/dev/null
	echo "$(ms_since "$s")" >>"$T/lease0"
done

ctl=$(median "$T/ctl")
w=$(median "$T/watch")
echo "leases in etcd:                               $count"
echo "etcdctl get --prefix:                         $(stats "$T/ctl")"
echo "flannel-watch --once, start to sync and exit: $(stats "$T/watch")"
echo "  ratio to etcdctl (medians):                 $(awk -v a="$w" -v b="$ctl" 'BEGIN { printf "%.2fx (target <= 1.5x)", a / b }')"
echo "  CPU (user + system):                        $(median "$T/cpu") ms median"
echo "  peak RSS:                                   $(median "$T/rss") KiB median, $(sort -n "$T/rss" | tail -1) KiB max (target < 4096)"
/usr/bin/time -f "%U %S %M" -o "$T/rss.help" flannel-watch --help >/dev/null
echo "  floor: RSS of flannel-watch --help:         $(rss_of "$T/rss.help") KiB (the shared libraries alone)"
echo "curl, one gateway range of all the leases:    $(stats "$T/gw")"
echo "flannel-watch running, start to sync:         $live_sync ms"
echo "  peak RSS after snapshot + 100 live events:  $live_rss KiB"
echo "flannel-lease --oneshot to subnet.env:        $(stats "$T/lease") (target < 50)"
echo "  the same with no other lease in etcd:       $(stats "$T/lease0")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
