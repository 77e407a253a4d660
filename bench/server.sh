#!/bin/bash
# flannel-server benchmark (issue 18), one server over a fresh etcd on
# 127.0.0.1 holding N (1000) leases, in the same run:
#  - renew requests per second (PUT .../leases/KEY, CONNS kept-alive
#    connections, RENEWS in all), and the server's CPU per renew,
#  - the server's RSS and CPU holding N parked long polls for 5 s, and the
#    time until every one of them got the one change that wakes them all,
#  - the server restarted: the time until N clients (N connections at once)
#    each got their snapshot of the N leases.
# Bounded (every step has a timeout); prints numbers, asserts nothing.
set -eu -o pipefail
. "$(dirname "$0")/lib.sh"
N=${1:-1000}
CONNS=${CONNS:-4}
RENEWS=${RENEWS:-4000}
[ "$(id -u)" = 0 ] || skip "needs root"
command -v etcd >/dev/null || skip "needs etcd"
fl_id >/dev/null
T=$BATS_TEST_TMPDIR
PORT=$(free_port)

# shellcheck disable=SC2034 # read by etcd_start
ETCD_EXTRA=(--max-txn-ops=2000)
etcd_start
put_config '{"Network":"100.64.0.0/10","SubnetLen":24,"Backend":{"Type":"vxlan"}}'
put_leases "$((N - 1))"

srv_start() {
	flannel-server --etcd-endpoints="$ETCD_EP" --listen="127.0.0.1:$PORT" --trust-public-ip \
		--max-watches=$((N + 100)) >>"$T/server.log" 2>&1 3>&- &
	SRV=$!
	track_pid "$SRV"
	wait_for 5 grep -q 'serving the /v1 API' "$T/server.log"
}
# cpu_ms PID: user + system CPU of PID so far; rss_kib PID: its resident set.
cpu_ms() { awk -v hz="$(getconf CLK_TCK)" '{ printf "%d", ($14 + $15) * 1000 / hz }' "/proc/$1/stat"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }

srv_start
# One real lease through the server, to renew.
lease=$(curl -s -X POST -d '{"PublicIP":"198.18.255.1","BackendType":"vxlan"}' \
	"http://127.0.0.1:$PORT/v1/_/leases")
echo "leases in etcd: $N"

c0=$(cpu_ms "$SRV")
timeout 120 python3 - "$PORT" "$CONNS" "$RENEWS" "$lease" <<'PY'
import http.client, json, sys, threading, time
port, conns, total, lease = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
key = lease["Subnet"].replace("/", "-")
body = json.dumps({"Subnet": lease["Subnet"], "Attrs": lease["Attrs"], "Expiration": lease["Expiration"]})
bad = [0]
def worker(n):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for _ in range(n):
        c.request("PUT", "/v1/_/leases/" + key, body)
        r = c.getresponse(); r.read()
        if r.status != 200: bad[0] += 1
t = time.time()
th = [threading.Thread(target=worker, args=(total // conns,)) for _ in range(conns)]
for x in th: x.start()
for x in th: x.join()
d = time.time() - t
print("renew: %d requests over %d connections in %.2f s: %.0f requests/s (%d not 200)"
      % (total, conns, d, total / d, bad[0]))
PY
c1=$(cpu_ms "$SRV")
echo "renew: server CPU $((c1 - c0)) ms, $(( (c1 - c0) * 1000 / RENEWS )) us per renew"

# N parked long polls from the current cursor, held 5 s, then one change.
cursor=$(curl -s "http://127.0.0.1:$PORT/v1/_/leases" | jq -r .cursor)
rss0=$(rss_kib "$SRV")
timeout 120 python3 - "$PORT" "$N" "$cursor" "$SRV" "$ETCD_EP" <<'PY'
import base64, json, selectors, socket, sys, time, urllib.request
port, n, cursor, pid, ep = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
hz = 100
def cpu():
    f = open("/proc/%s/stat" % pid).read().split(")")[1].split()
    return (int(f[11]) + int(f[12])) * 1000 // hz
def rss():
    for l in open("/proc/%s/status" % pid):
        if l.startswith("VmRSS"): return int(l.split()[1])
sel = selectors.DefaultSelector()
socks = []
req = ("GET /v1/_/leases?next=%s HTTP/1.1\r\nHost: x\r\n\r\n" % cursor).encode()
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [b""])
    socks.append(s)
time.sleep(1)
c0 = cpu()
time.sleep(5)
c1 = cpu()
print("watches: %d parked long polls: server RSS %d KiB, CPU %d ms over 5 s idle" % (n, rss(), c1 - c0))
b64 = lambda s: base64.b64encode(s.encode()).decode()
put = json.dumps({"key": b64("/coreos.com/network/subnets/100.127.250.0-24"),
                  "value": b64('{"PublicIP":"198.18.250.250","BackendType":"vxlan"}')}).encode()
t = time.time()
urllib.request.urlopen(urllib.request.Request(ep + "/v3/kv/put", put, {"Content-Type": "application/json"})).read()
done = 0
while done < n and time.time() - t < 60:
    for k, _ in sel.select(timeout=1):
        d = k.fileobj.recv(65536)
        k.data[0] += d
        if b"\r\n\r\n" in k.data[0]:
            head, _, rest = k.data[0].partition(b"\r\n\r\n")
            ln = [int(l.split(b":")[1]) for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")]
            if ln and len(rest) >= ln[0]:
                sel.unregister(k.fileobj); done += 1
        if not d:
            sel.unregister(k.fileobj); done += 1
print("watches: one change reached %d of %d long polls in %.0f ms; server CPU %d ms for it"
      % (done, n, (time.time() - t) * 1000, cpu() - c1))
PY
echo "watches: server RSS before the polls $rss0 KiB"

# The server restarted; N clients ask for their snapshot at once.
kill "$SRV"
wait "$SRV" 2>/dev/null || true
srv_start
timeout 180 python3 - "$PORT" "$N" <<'PY'
import selectors, socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
sel = selectors.DefaultSelector()
t = time.time()
req = b"GET /v1/_/leases HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
for i in range(n):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(req)
    s.setblocking(False)
    sel.register(s, selectors.EVENT_READ, [0])
done = total = 0
while done < n and time.time() - t < 170:
    for k, _ in sel.select(timeout=1):
        d = k.fileobj.recv(262144)
        total += len(d)
        if not d:
            sel.unregister(k.fileobj); k.fileobj.close(); done += 1
d = time.time() - t
print("restart: %d clients got their snapshot (%d leases, %.1f MB in all) in %.2f s (%.1f ms each)"
      % (done, n, total / 1e6, d, d * 1000 / max(done, 1)))
PY
