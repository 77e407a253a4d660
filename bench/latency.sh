#!/bin/bash
# Latency benchmark (issue 5): the time from a lease put in etcd to its route
# appearing on another host running flannel-watch | flannel-vxlan apply, p50
# and p99 over COUNT events (default 300).  The puts come from one HTTP
# connection to etcd's JSON gateway; the routes are seen by "ip -ts monitor".
# Needs root.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
COUNT=${1:-300}
[ "$(id -u)" = 0 ] || skip "needs root"
fl_id >/dev/null
T=$BATS_TEST_TMPDIR

topo_create 1
etcd_start "$UL_NS" 192.0.2.254
put_config '{"Network":"100.64.0.0/10","SubnetLen":24,"Backend":{"Type":"vxlan"}}'
h=$(host_ns 1)
in_host 1 flannel-vxlan init --iface=eth0 >/dev/null
ip netns exec "$h" flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file= 2>"$T/watch.log" |
	ip netns exec "$h" flannel-vxlan apply --no-setup -v 1 >"$T/apply.log" 2>&1 &
track_pid "$!"
for _ in $(seq 1 200); do
	grep -q 'in sync' "$T/apply.log" && break
	sleep 0.05
done
ip -n "$h" -ts monitor route >"$T/monitor.log" 2>&1 &
track_pid "$!"
sleep 0.3

# One put every 20 ms; the put time is taken just before each request.
ip netns exec "$UL_NS" python3 - "$COUNT" "$ETCD_EP" >"$T/puts" <<'PY'
import base64, http.client, json, sys, time, urllib.parse
n, ep = int(sys.argv[1]), urllib.parse.urlparse(sys.argv[2])
conn = http.client.HTTPConnection(ep.hostname, ep.port)
b64 = lambda s: base64.b64encode(s.encode()).decode()
for k in range(2, n + 2):
    a, b = k >> 8, k & 255
    key = "/coreos.com/network/subnets/100.%d.%d.0-24" % (64 + a, b)
    val = ('{"PublicIP":"198.18.%d.%d","PublicIPv6":null,"BackendType":"vxlan",'
           '"BackendData":{"VNI":1,"VtepMAC":"0a:58:64:00:%02x:%02x"}}' % (a, b, a, b))
    t = time.time()
    conn.request("POST", "/v3/kv/put", json.dumps({"key": b64(key), "value": b64(val)}),
                 {"Content-Type": "application/json"})
    conn.getresponse().read()
    print("100.%d.%d.0/24 %.6f %.6f" % (64 + a, b, t, time.time()))
    time.sleep(0.02)
PY
sleep 1
python3 - "$T/puts" "$T/monitor.log" <<'PY'
import datetime, re, sys
put, done = {}, {}
for l in open(sys.argv[1]):
    s, t, t2 = l.split()
    put[s], done[s] = float(t), float(t2)
seen, after = {}, []
pat = re.compile(r"^\[([0-9T:.-]+)\] (100\.[0-9.]+/24) ")
for l in open(sys.argv[2]):
    m = pat.match(l)
    if m and m.group(2) in put and m.group(2) not in seen:
        t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S.%f").timestamp()
        seen[m.group(2)] = (t - put[m.group(2)]) * 1000
        after.append((t - done[m.group(2)]) * 1000)
lat = sorted(seen.values())
if not lat:
    sys.exit("no route appeared")
q = lambda p: lat[min(len(lat) - 1, int(p * len(lat)))]
print("events: %d put, %d routes seen" % (len(put), len(lat)))
print("put -> route latency: p50 %.2f ms, p99 %.2f ms, max %.2f ms" % (q(0.5), q(0.99), lat[-1]))
rt = sorted((done[s] - put[s]) * 1000 for s in put)
after.sort()
print("  of which etcd's put round trip: p50 %.2f ms, p99 %.2f ms" %
      (rt[len(rt) // 2], rt[min(len(rt) - 1, int(0.99 * len(rt)))]))
print("  put acknowledged -> route: p50 %.2f ms, p99 %.2f ms" %
      (after[len(after) // 2], after[min(len(after) - 1, int(0.99 * len(after)))]))
print("target: p99 < 5 ms")
PY
