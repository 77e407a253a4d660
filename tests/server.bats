#!/usr/bin/env bats
# Client/server mode: flannel-server in the underlay in front of an etcd that
# only it can reach; client hosts run flannel-lease and flannel-watch with
# --remote and have no route to etcd at all.
#
#   clients h1..h3 (192.0.2.1-3, no default route) --br0-- ul: servers at
#   192.0.2.251 and .252 --veth-- et: etcd at 198.51.100.254
#   h4 (192.0.2.4) is an etcd-mode host: its default route reaches etcd.

load helpers
load overlay

teardown() { fl_teardown; }

export LEASE_MTU=1450
VXCONF='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'

# srv_topo N: N hosts, the etcd namespace, etcd, the config; SRV_PORT free.
srv_topo() {
	need_root
	fl_id >/dev/null
	topo_create "$1"
	ET_NS="$(fl_id)et"
	ip netns add "$ET_NS"
	echo "$ET_NS" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$ET_NS" link set lo up
	ip link add "$(fl_id)e0" netns "$UL_NS" type veth peer name eth0 netns "$ET_NS"
	ip -n "$UL_NS" addr add 198.51.100.1/24 dev "$(fl_id)e0"
	ip -n "$UL_NS" link set "$(fl_id)e0" up
	ip -n "$ET_NS" addr add 198.51.100.254/24 dev eth0
	ip -n "$ET_NS" link set eth0 up
	ip -n "$ET_NS" route add 192.0.2.0/24 via 198.51.100.1
	ip netns exec "$UL_NS" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$UL_NS" addr add 192.0.2.251/24 dev br0
	ip -n "$UL_NS" addr add 192.0.2.252/24 dev br0
	etcd_start "$ET_NS" 198.51.100.254
	put_config "$VXCONF"
	D=$BATS_TEST_TMPDIR
	SRV_PORT=$(free_port)
}

# no_etcd_route I: host I becomes a client: no route towards etcd at all.
no_etcd_route() {
	ip -n "$(host_ns "$1")" route del default
	run in_host "$1" ip route get 198.51.100.254
	[ "$status" -ne 0 ]
}

# srv_start N [ARGS...]: flannel-server N (1: .251, 2: .252) in the underlay.
srv_start() {
	local n=$1
	shift
	ip netns exec "$UL_NS" flannel-server --etcd-endpoints="$ETCD_EP" \
		--listen="192.0.2.25$n:$SRV_PORT" "$@" >>"$D/server$n.log" 2>&1 3>&- &
	track_pid "$!"
	eval "SRV_PID_$n=$!"
	wait_for 5 grep -q 'serving the /v1 API' "$D/server$n.log"
}

REMOTE() { echo "--remote=192.0.2.251:$SRV_PORT,192.0.2.252:$SRV_PORT"; }

# all_routes N: every host of 1..N has a route to every other's subnet.
all_routes() {
	local i j
	for i in $(seq 1 "$1"); do
		wait_for 10 synced "$i"
		for j in $(seq 1 "$1"); do
			[ "$i" = "$j" ] || wait_for 5 has_route "$i" "$(subnet_of "$j")" || return 1
		done
	done
}

# clients_up [flannel-lease options]: servers 1 and 2 (SRV_ARGS), clients
# h1..h3 through them, h4 on etcd.
clients_up() {
	srv_topo 4
	srv_start 1 ${SRV_ARGS[@]+"${SRV_ARGS[@]}"}
	srv_start 2 ${SRV_ARGS[@]+"${SRV_ARGS[@]}"}
	for i in 1 2 3; do
		no_etcd_route "$i"
		FL_SRC=$(REMOTE) vx_host "$i" "$@"
	done
	vx_host 4 "$@"
}

@test "server: three clients with no route to etcd get distinct leases and ping each other and an etcd-mode host" {
	clients_up
	all_routes 4
	# Distinct leases, in etcd as any host's: same keys, PublicIP the client's.
	[ "$(for i in 1 2 3 4; do subnet_of "$i"; done | sort -u | wc -l)" = 4 ]
	for i in 1 2 3; do
		etcdctl_ get "/coreos.com/network/subnets/$(subnet_of "$i" | tr / -)" --print-value-only |
			jq -e --arg ip "192.0.2.$i" '.PublicIP == $ip and .BackendType == "vxlan" and .BackendData.VtepMAC != null'
	done
	ping_all 4
	# The event stream a client's applier gets is an etcd-mode host's.
	strip() { jq -c 'select(.type == "added") | del(.revision, .self, .expiration)' | sort; }
	in_host 1 flannel-watch "$(REMOTE)" --once --subnet-file= 2>/dev/null | strip >"$D/remote.ev"
	in_host 4 flannel-watch --etcd-endpoints="$ETCD_EP" --once --subnet-file= 2>/dev/null |
		strip >"$D/etcd.ev"
	diff -u "$D/etcd.ev" "$D/remote.ev"
	[ "$(wc -l <"$D/remote.ev")" = 4 ]
	# Request log: METHOD URI - status.
	grep -Eq '^flannel-server: POST /v1/_/leases - 200$' "$D/server1.log"
}

@test "server: a lease is reused after a client restart; removed leases reach the clients" {
	clients_up
	all_routes 4
	local sub before
	sub=$(subnet_of 1)
	before=$(etcdctl_ get "/coreos.com/network/subnets/${sub/\//-}" -w json | grep -o '"lease":[0-9]*')
	kill "$LEASE_PID_1"
	rm -f "$D/h1.env"
	FL_SRC=$(REMOTE) lease_start 1 vxlan --backend-data="$(in_host 1 flannel-vxlan init --iface=eth0)"
	[ "$(subnet_of 1)" = "$sub" ]
	[ "$(etcdctl_ get "/coreos.com/network/subnets/${sub/\//-}" -w json | grep -o '"lease":[0-9]*')" = "$before" ]
	grep -q 'through flannel-server' "$D/lease1.log"
	# A lease deleted in etcd: gone on the clients (long poll) and the etcd host.
	kill "$LEASE_PID_4"
	etcdctl_ del "/coreos.com/network/subnets/$(subnet_of 4 | tr / -)"
	wait_for 3 no_route 1 "$(subnet_of 4)"
	wait_for 3 no_route 3 "$(subnet_of 4)"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "server: the first server killed, the clients fail over to the second and keep their leases" {
	# A lease's TTL is the server's (as upstream's): 6 s, renewed every 2 s.
	SRV_ARGS=(--subnet-lease-ttl=6s)
	clients_up --subnet-lease-renew-margin=4s
	all_routes 4
	local i subs
	subs=$(for i in 1 2 3; do subnet_of "$i"; done)
	kill "$SRV_PID_1"
	# Three lease periods on the second server alone.
	sleep 10
	[ "$(for i in 1 2 3; do subnet_of "$i"; done)" = "$subs" ]
	for i in 1 2 3; do
		kill -0 "$(eval echo "\$LEASE_PID_$i")"
		# jq would round the 64-bit lease ID.
		id=$(etcdctl_ get "/coreos.com/network/subnets/$(subnet_of "$i" | tr / -)" -w json |
			grep -o '"lease":[0-9]*' | cut -d: -f2)
		ttl=$(etcdctl_ lease timetolive "$(printf %x "$id")" -w json | jq .ttl)
		echo "client $i: etcd lease $id, ttl $ttl s"
		[ "$ttl" -gt 0 ] && [ "$ttl" -le 6 ]
	done
	grep -Eq 'PUT /v1/_/leases/[0-9.]+-24 - 200' "$D/server2.log"
	# The watches moved too: a new lease reaches every client.
	etcdctl_ put /coreos.com/network/subnets/100.64.250.0-24 \
		'{"PublicIP":"192.0.2.99","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:fa:00"}}'
	for i in 1 2 3; do wait_for 5 has_route "$i" 100.64.250.0/24; done
	# Resumed from their cursors on the second server: no new snapshot, one sync each.
	for i in 1 2 3; do [ "$(grep -c 'in sync at revision' "$D/apply$i.log")" = 1 ]; done
	grep -Eq 'GET /v1/_/leases\?next=[0-9]+ - 200' "$D/server2.log"
	ping_all 4
}

# raw BYTES [SECONDS]: send BYTES (printf escapes) from host 1 to server 1
# over a plain TCP connection, wait SECONDS (1), print what came back.
raw() {
	in_host 1 bash -c 'exec 5<>"/dev/tcp/192.0.2.251/$1"; printf "$2" >&5; sleep "$3"; timeout 1 cat <&5' \
		_ "$SRV_PORT" "$1" "${2:-1}"
}

# req METHOD PATH [BODY]: from client host 1 to server 1; prints the status.
req() {
	in_host 1 curl -s -o "$D/body" -w '%{http_code}' -X "$1" ${3+--data-binary "$3"} \
		"http://192.0.2.251:$SRV_PORT$2"
}

@test "server: bad input gets a clear 4xx, writes nothing to etcd, and the server keeps serving" {
	srv_topo 2
	no_etcd_route 1
	srv_start 1 --read-timeout=1s --max-watches=3
	etcdctl_ put /coreos.com/network/subnets/100.64.7.0-24 '{"PublicIP":"192.0.2.2","BackendType":"vxlan"}'
	etcdctl_ get --prefix /coreos.com -w json | jq -S '.kvs' >"$D/before.json"
	local big
	big=$(head -c 70000 /dev/zero | tr '\0' x)
	# method path body -> status (and what the body says)
	while IFS='|' read -r m p b want say; do
		[ -n "$m" ] || continue
		[ "$b" = BIG ] && b=$big
		got=$(req "$m" "$p" "$b")
		echo "$m $p -> $got $(head -c 120 "$D/body")"
		[ "$got" = "$want" ]
		grep -q "$say" "$D/body"
	done <<-EOF2
	POST|/v1/_/leases|{"PublicIP":|400|JSON decoding error
	POST|/v1/_/leases|[1,2]|400|JSON decoding error
	POST|/v1/_/leases|{"PublicIP":"192.0.2.1","PublicIP":"192.0.2.1"}|400|JSON decoding error
	POST|/v1/_/leases|{"PublicIP":"192.0.2.9","BackendType":"vxlan"}|403|not the address this request comes from
	POST|/v1/_/leases|{"PublicIP":"127.0.0.1"}|400|not a usable unicast
	POST|/v1/_/leases|{"PublicIP":"224.0.0.1"}|400|not a usable unicast
	POST|/v1/_/leases|{"PublicIP":"192.0.2.1","BackendData":"x"}|400|BackendData is not an object
	PUT|/v1/_/leases/100.64.7.0-24|{"Subnet":"100.64.7.0/24","Attrs":{"PublicIP":"192.0.2.1"}}|403|belongs to 192.0.2.2
	PUT|/v1/_/leases/100.64.7.0-24|{"Subnet":"100.64.8.0/24","Attrs":{"PublicIP":"192.0.2.1"}}|400|does not match
	DELETE|/v1/_/leases/100.64.7.0-24||403|not the address
	PUT|/v1/_/leases/100.64.7.1-24|{}|400|bad subnet
	GET|/v1/_/leases/100.64.7.0-33||400|bad subnet
	GET|/v1/_/leases/..%2F..%2Fconfig||400|malformed
	GET|/v1/_/leases?next=-5||400|not a cursor
	GET|/v1/_/leases?next=12abc||400|not a cursor
	GET|/v1/a%20b/config||400|bad network name
	GET|/v1/nosuch/config||404|no config
	PATCH|/v1/_/leases||405|not allowed
	GET|/v2/keys||404|not found
	POST|/v1/_/leases|BIG|413|over 65536
	EOF2
	# Headers too large, a body without a length, Transfer-Encoding.
	run in_host 1 curl -s -o /dev/null -w '%{http_code}' -H "X-A: $(head -c 9000 /dev/zero | tr '\0' a)" \
		"http://192.0.2.251:$SRV_PORT/v1/_/config"
	[ "$output" = 431 ]
	run raw 'POST /v1/_/leases HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'
	[[ "$output" == "HTTP/1.1 501"* ]]
	run raw 'POST /v1/_/leases HTTP/1.1\r\nHost: x\r\n\r\n'
	[[ "$output" == "HTTP/1.1 411"* ]]
	run raw 'GET /v1/_/config HTTP/2.0\r\n\r\n'
	[[ "$output" == "HTTP/1.1 505"* ]]
	# A slow client: 408 after the read deadline; meanwhile others are served.
	raw 'GET /v1/_/con' 3 >"$D/slow" 2>&1 3>&- &
	track_pid "$!"
	sleep 0.3
	[ "$(req GET /v1/_/config)" = 200 ]
	wait_for 4 grep -q '408 Request Timeout' "$D/slow"
	# Idle watches: at most 3 parked; the 4th gets 429, the others stay.
	for k in 1 2 3; do
		in_host 1 curl -s -o "$D/w$k" "http://192.0.2.251:$SRV_PORT/v1/_/leases?next=1000000" 3>&- &
		track_pid "$!"
	done
	wait_for 3 sh -c "[ \$(grep -c 'leases?next=1000000' '$D/server1.log') = 0 ] && ss -Htn -N '$UL_NS' state established '( sport = :$SRV_PORT )' | [ \$(wc -l) -ge 3 ]"
	[ "$(req GET '/v1/_/leases?next=1000000')" = 429 ]
	grep -q 'too many watches (at most 3)' "$D/body"
	[ "$(req GET /v1/_/leases)" = 200 ]
	# A cursor older than the server holds: a snapshot, not an error.
	[ "$(req GET '/v1/_/leases?next=0')" = 200 ]
	jq -e '.events == null and (.snapshot | length) == 1 and (.cursor | test("^[0-9]+$"))' "$D/body"
	# Nothing was written to etcd by any of it.
	etcdctl_ get --prefix /coreos.com -w json | jq -S '.kvs' >"$D/after.json"
	diff -u "$D/before.json" "$D/after.json"
	# Logged escaped: the raw bytes of the URI never reach the log.
	[ "$(req GET '/v1/_/leases/%0a%1b')" = 400 ]
	grep -q 'GET /v1/_/leases/%0a%1b - 400' "$D/server1.log"
	kill -0 "$SRV_PID_1"
}

@test "server: TLS with client certificates required; a client without one, or with a rogue one, is refused" {
	command -v openssl >/dev/null || require "needs openssl"
	srv_topo 3
	local c=$D/certs tls
	make_certs "$c" "IP:192.0.2.251,IP:192.0.2.252"
	srv_start 1 --remote-certfile="$c/server.crt" --remote-keyfile="$c/server.key" \
		--remote-cafile="$c/ca.crt"
	grep -q 'TLS, client certificates required' "$D/server1.log"
	tls="--remote-cafile=$c/ca.crt --remote-certfile=$c/client.crt --remote-keyfile=$c/client.key"
	for i in 1 2; do
		no_etcd_route "$i"
		FL_SRC="--remote=192.0.2.251:$SRV_PORT $tls" vx_host "$i"
	done
	# flannel-watch of each client: the same files.
	for i in 1 2; do
		wait_for 10 synced "$i" || { cat "$D/watch$i.log"; false; }
	done
	no_etcd_route 3
	# No client certificate, a rogue one, plain HTTP: refused, nothing leased.
	run in_host 3 flannel-lease --remote="192.0.2.251:$SRV_PORT" --remote-cafile="$c/ca.crt" \
		--iface=eth0 --subnet-file="$D/h3.env" --mtu=1450 --oneshot
	echo "$output"
	[ "$status" -ne 0 ]
	run in_host 3 flannel-lease --remote="192.0.2.251:$SRV_PORT" --remote-cafile="$c/ca.crt" \
		--remote-certfile="$c/rogue.crt" --remote-keyfile="$c/rogue.key" \
		--iface=eth0 --subnet-file="$D/h3.env" --mtu=1450 --oneshot
	[ "$status" -ne 0 ]
	run in_host 3 curl -s -o /dev/null -w '%{http_code}' "http://192.0.2.251:$SRV_PORT/v1/_/config"
	[ "$output" = 000 ]
	[ ! -e "$D/h3.env" ]
	grep -q 'TLS handshake with 192.0.2.3 refused' "$D/server1.log"
	[ "$(etcdctl_ get --prefix /coreos.com/network/subnets/ --keys-only | grep -c .)" = 2 ]
	for i in 1 2; do wait_for 5 has_route "$i" "$(subnet_of $((3 - i)))"; done
	ping_all 2
}

@test "server: fd:// socket activation, ready notification once listening" {
	command -v systemd-socket-activate >/dev/null || require "needs systemd-socket-activate"
	srv_topo 1
	no_etcd_route 1
	# The notify socket: python3 receives the datagram.
	ip netns exec "$UL_NS" python3 -c '
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind(sys.argv[1])
print(s.recv(256).decode(), flush=True)' "$D/notify" >"$D/notified" 3>&- &
	track_pid "$!"
	wait_for 2 test -S "$D/notify"
	# It starts flannel-server at the first connection, the client's.
	ip netns exec "$UL_NS" env NOTIFY_SOCKET="$D/notify" systemd-socket-activate \
		-E NOTIFY_SOCKET -l "192.0.2.251:$SRV_PORT" flannel-server --etcd-endpoints="$ETCD_EP" \
		--listen=fd:// >"$D/server1.log" 2>&1 3>&- &
	track_pid "$!"
	FL_SRC="--remote=192.0.2.251:$SRV_PORT" lease_start 1 vxlan
	wait_for 5 grep -q 'READY=1' "$D/notified"
	grep -q 'serving the /v1 API on fd://' "$D/server1.log"
	grep -q 'POST /v1/_/leases - 200' "$D/server1.log"
	# fd://N names another descriptor; one that is not a listening socket is refused.
	run ip netns exec "$UL_NS" flannel-server --etcd-endpoints="$ETCD_EP" --listen=fd://7
	[ "$status" = 78 ]
	[[ "$output" == *"fd://7"* ]]
}

@test "server: flanneld --listen serves, flanneld --remote --networks=blue,green joins both through it" {
	srv_topo 2
	etcdctl_ put /coreos.com/network/blue/config \
		'{"Network":"100.65.0.0/16","Backend":{"Type":"vxlan","VNI":2}}' >/dev/null
	etcdctl_ put /coreos.com/network/green/config \
		'{"Network":"100.66.0.0/16","Backend":{"Type":"vxlan","VNI":3}}' >/dev/null
	ip netns exec "$UL_NS" flanneld --listen="192.0.2.251:$SRV_PORT" --etcd-endpoints="$ETCD_EP" \
		>"$D/server1.log" 2>&1 3>&- &
	track_pid "$!"
	wait_for 5 grep -q 'serving the /v1 API' "$D/server1.log"
	# The networks the server knows (GET /v1/).
	run in_host 1 curl -s "http://192.0.2.251:$SRV_PORT/v1/"
	[ "$(jq -c '.snapshot | sort' <<<"$output")" = '["blue","green"]' ]
	for i in 1 2; do
		no_etcd_route "$i"
		bg_in_host "$i" "$D/flanneld$i.log" flanneld --remote="192.0.2.251:$SRV_PORT" \
			--iface=eth0 --networks=blue,green --subnet-dir="$D/n$i" --iptables-forward-rules=false
	done
	for i in 1 2; do
		wait_for 15 test -s "$D/n$i/blue.env"
		wait_for 15 test -s "$D/n$i/green.env"
		grep -q '^FLANNEL_SUBNET=100.65.' "$D/n$i/blue.env"
		grep -q '^FLANNEL_SUBNET=100.66.' "$D/n$i/green.env"
	done
	for net in blue green; do
		[ "$(etcdctl_ get --prefix "/coreos.com/network/$net/subnets/" --print-value-only |
			jq -r .PublicIP | sort | tr '\n' ' ')" = "192.0.2.1 192.0.2.2 " ]
	done
	wait_for 5 grep -q 'GET /v1/blue/leases?next=' "$D/server1.log"
	grep -q 'POST /v1/green/leases - 200' "$D/server1.log"
	# Each network's routes on the other host, and a ping over blue.
	for i in 1 2; do
		ln -s "$D/n$i/blue.env" "$D/h$i.env"
		container "$i"
	done
	wait_for 10 has_route 1 "$(subnet_of 2)" || { cat "$D/flanneld1.log" "$D/server1.log"; ip -n "$(host_ns 1)" route; false; }
	wait_for 10 has_route 2 "$(subnet_of 1)"
	green2=$(sed -n 's/^FLANNEL_SUBNET=\(.*\)\.1\/24$/\1.0\/24/p' "$D/n2/green.env")
	wait_for 10 has_route 1 "$green2"
	ip -n "$(host_ns 1)" -d link show flannel.3 | grep -q 'vxlan id 3'
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
}

@test "server: reservations: made, listed and deleted through the API; a client whose PublicIP it names gets that subnet, and it stays without TTL" {
	srv_topo 2
	no_etcd_route 1
	srv_start 1
	local key=/coreos.com/network/subnets/100.64.77.0-24
	# Made: a key without an etcd lease; made twice, or outside the network: refused.
	[ "$(req POST /v1/_/reservations '{"Subnet":"100.64.77.0/24","PublicIP":"192.0.2.1"}')" = 200 ]
	etcdctl_ get "$key" -w json | jq -e '.kvs[0] | (.lease // 0) == 0'
	etcdctl_ get "$key" --print-value-only | jq -e '.PublicIP == "192.0.2.1"'
	[ "$(req POST /v1/_/reservations '{"Subnet":"100.64.77.0/24","PublicIP":"192.0.2.1"}')" = 409 ]
	grep -q 'already leased or reserved' "$D/body"
	[ "$(req POST /v1/_/reservations '{"Subnet":"100.65.1.0/24","PublicIP":"192.0.2.1"}')" = 400 ]
	grep -q 'not a subnet of network' "$D/body"
	[ "$(req POST /v1/_/reservations '{"Subnet":"100.64.78.0/24"}')" = 400 ]
	[ "$(req POST /v1/_/reservations '{"Subnet":"100.64.79.0/24","PublicIP":"192.0.2.2"}')" = 200 ]
	# Listed, in upstream's shape.
	[ "$(req GET /v1/_/reservations)" = 200 ]
	jq -e 'sort_by(.Subnet) == [{"Subnet":"100.64.77.0/24","PublicIP":"192.0.2.1"},{"Subnet":"100.64.79.0/24","PublicIP":"192.0.2.2"}]' "$D/body"
	# The client with that PublicIP gets the reserved subnet through the
	# server, and the key stays without an etcd lease.
	FL_SRC="--remote=192.0.2.251:$SRV_PORT" lease_start 1 vxlan \
		--backend-data="$(in_host 1 flannel-vxlan init --iface=eth0)"
	[ "$(subnet_of 1)" = 100.64.77.0/24 ]
	sleep 2
	etcdctl_ get "$key" -w json | jq -e '.kvs[0] | (.lease // 0) == 0'
	etcdctl_ get "$key" --print-value-only | jq -e '.PublicIP == "192.0.2.1" and .BackendType == "vxlan" and .BackendData.VtepMAC != null'
	# The reservations path deletes reservations only: a lease there is 409,
	# a missing key 404.
	etcdctl_ put /coreos.com/network/subnets/100.64.80.0-24 '{"PublicIP":"192.0.2.2","BackendType":"vxlan"}' \
		--lease="$(etcdctl_ lease grant 600 | awk '{print $2}')" >/dev/null
	[ "$(req DELETE /v1/_/reservations/100.64.80.0-24)" = 409 ]
	grep -q 'is a lease, not a reservation' "$D/body"
	[ "$(req DELETE /v1/_/reservations/100.64.81.0-24)" = 404 ]
	# Deleted: gone from etcd and from the list.
	[ "$(req DELETE /v1/_/reservations/100.64.79.0-24)" = 200 ]
	[ -z "$(etcdctl_ get /coreos.com/network/subnets/100.64.79.0-24 --print-value-only)" ]
	[ "$(req GET /v1/_/reservations)" = 200 ]
	jq -e 'map(.Subnet) == ["100.64.77.0/24"]' "$D/body"
	kill -0 "$SRV_PID_1"
}
