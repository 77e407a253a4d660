# Shared set-up for the benchmarks: the test helpers (namespaces, etcd,
# teardown by name and PID) outside bats.  Source it from bench/*.sh.
# shellcheck shell=bash

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BATS_TEST_DIRNAME=$BENCH_DIR/../tests
BATS_TEST_TMPDIR=$(mktemp -d /tmp/flannel-bench.XXXXXX)
export BATS_TEST_DIRNAME BATS_TEST_TMPDIR
skip() { echo "bench: $*" >&2; exit 77; }
# shellcheck source=../tests/helpers.bash
. "$BATS_TEST_DIRNAME/helpers.bash"
# shellcheck source=../tests/overlay.bash
. "$BATS_TEST_DIRNAME/overlay.bash"

bench_cleanup() {
	fl_teardown
	rm -rf "$BATS_TEST_TMPDIR"
}
trap bench_cleanup EXIT

now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# ms_since START_NS: milliseconds (with one decimal) since START_NS.
ms_since() {
	local d=$(( $(date +%s%N) - $1 ))
	printf '%d.%d' $((d / 1000000)) $(((d / 100000) % 10))
}

# put_leases N: N upstream-format vxlan leases (as lease_lines) into etcd in
# one transaction through the JSON gateway (from UL_NS when it is set).
put_leases() {
	${UL_NS:+ip netns exec "$UL_NS"} python3 - "$1" "$ETCD_EP" <<'PY'
import base64, json, sys, urllib.request
n, ep = int(sys.argv[1]), sys.argv[2]
b64 = lambda s: base64.b64encode(s.encode()).decode()
ops = []
for k in range(2, n + 2):
    a, b = k >> 8, k & 255
    key = "/coreos.com/network/subnets/100.%d.%d.0-24" % (64 + a, b)
    val = ('{"PublicIP":"198.18.%d.%d","PublicIPv6":null,"BackendType":"vxlan",'
           '"BackendData":{"VNI":1,"VtepMAC":"0a:58:64:00:%02x:%02x"}}' % (a, b, a, b))
    ops.append({"requestPut": {"key": b64(key), "value": b64(val)}})
req = urllib.request.Request(ep + "/v3/kv/txn", json.dumps({"success": ops}).encode(),
                             {"Content-Type": "application/json"})
urllib.request.urlopen(req).read()
PY
}

# TIMEFMT for /usr/bin/time -f: user and system seconds, then maxrss KiB.
export TIMEFMT='%U %S %M'
# rss_of FILE: the maxrss KiB in FILE; cpu_of FILE: user + system in ms.
rss_of() { tail -n1 "$1" | awk '{ print $3 }'; }
cpu_of() { tail -n1 "$1" | awk '{ printf "%d", ($1 + $2) * 1000 }'; }
