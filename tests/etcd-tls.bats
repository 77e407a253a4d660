#!/usr/bin/env bats
# flannel-lease and flannel-watch against a secured etcd: TLS with client
# certificates made here with openssl, username/password auth, failover.

load helpers
bats_require_minimum_version 1.5.0

P=/coreos.com/network
NET_CONFIG='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
LEASE_VAL='{"PublicIP":"192.0.2.31","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:31"}}'

setup() {
	need_root
	command -v openssl >/dev/null || require "needs openssl"
	OUT="$BATS_TEST_TMPDIR/w.out"
	ERR="$BATS_TEST_TMPDIR/w.err"
}

teardown() { fl_teardown; }

# etcd_start_tls CERTDIR: like etcd_start, with an https client URL that
# asks for a client certificate from the CA.
etcd_start_tls() {
	local d=$1 cport pport id
	id=$(fl_id)
	cport=$(free_port) && pport=$(free_port)
	ETCD_DIR=$(mktemp -d "/dev/shm/flannel-etcd.$id.XXXX")
	echo "$ETCD_DIR" >>"$BATS_TEST_TMPDIR/dirs"
	ETCD_EP="https://127.0.0.1:$cport"
	ETCD_NS=
	ETCD_ARGS=(--name "fl$id" --data-dir "$ETCD_DIR/data"
		--listen-client-urls "$ETCD_EP" --advertise-client-urls "$ETCD_EP"
		--listen-peer-urls "http://127.0.0.1:$pport"
		--initial-advertise-peer-urls "http://127.0.0.1:$pport"
		--initial-cluster "fl$id=http://127.0.0.1:$pport"
		--heartbeat-interval 10 --election-timeout 100
		--cert-file "$d/server.crt" --key-file "$d/server.key"
		--trusted-ca-file "$d/ca.crt" --client-cert-auth)
	etcd "${ETCD_ARGS[@]}" >"$ETCD_DIR/log" 2>&1 3>&- &
	ETCD_PID=$!
	track_pid "$ETCD_PID"
	export ETCD_EP ETCD_PID ETCD_DIR ETCD_NS
	export ETCDCTL_CACERT="$d/ca.crt" ETCDCTL_CERT="$d/client.crt" ETCDCTL_KEY="$d/client.key"
	etcd_wait
}

@test "TLS: both tools with a CA and a client certificate; without them, refused" {
	C="$BATS_TEST_TMPDIR/pki"
	make_certs "$C"
	etcd_start_tls "$C"
	put_config "$NET_CONFIG"
	tls=(--etcd-cafile="$C/ca.crt" --etcd-certfile="$C/client.crt" --etcd-keyfile="$C/client.key")
	run flannel-lease --etcd-endpoints="$ETCD_EP" "${tls[@]}" --oneshot --mtu=1450 \
		--public-ip=192.0.2.1 --subnet-file="$BATS_TEST_TMPDIR/a.env"
	echo "$output"
	[ "$status" -eq 0 ]
	leaf=$(sed -n 's|^FLANNEL_SUBNET=\(.*\)\.1/24$|\1.0-24|p' "$BATS_TEST_TMPDIR/a.env")
	etcdctl_ get --print-value-only "$P/subnets/$leaf" | grep -qF '"PublicIP":"192.0.2.1"'
	run flannel-watch --etcd-endpoints="$ETCD_EP" "${tls[@]}" --once --subnet-file=
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"key\":\"$leaf\""*'"type":"sync"'* ]]
	# A live watch over TLS, configured through the FLANNELD_* twins.
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_ETCD_CAFILE="$C/ca.crt" \
		FLANNELD_ETCD_CERTFILE="$C/client.crt" FLANNELD_ETCD_KEYFILE="$C/client.key" \
		flannel-watch --subnet-file= >"$OUT" 2>"$ERR" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.200.0-24" "$LEASE_VAL"
	wait_for 10 grep -q '"added".*100.64.200.0-24' "$OUT"
	# And a running lease renews over TLS.
	flannel-lease --etcd-endpoints="$ETCD_EP" "${tls[@]}" --mtu=1450 --public-ip=192.0.2.2 \
		--subnet-file="$BATS_TEST_TMPDIR/b.env" --subnet-lease-ttl=3s \
		--subnet-lease-renew-margin=2s >"$BATS_TEST_TMPDIR/l.out" 2>&1 3>&- &
	track_pid "$!"
	wait_for 15 grep -q '"type":"renewed"' "$BATS_TEST_TMPDIR/l.out"

	# No client certificate: the server refuses the handshake.
	run flannel-lease --etcd-endpoints="$ETCD_EP" --etcd-cafile="$C/ca.crt" --oneshot \
		--mtu=1450 --public-ip=192.0.2.3 --subnet-file="$BATS_TEST_TMPDIR/c.env"
	echo "$output"
	[ "$status" -ne 0 ]
	[ ! -e "$BATS_TEST_TMPDIR/c.env" ]
	# A client certificate from another CA: refused too.
	run flannel-watch --etcd-endpoints="$ETCD_EP" --etcd-cafile="$C/ca.crt" \
		--etcd-certfile="$C/rogue.crt" --etcd-keyfile="$C/rogue.key" --once --subnet-file=
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" != *'"type":"sync"'* ]]
	# The server's certificate is not trusted without our CA.
	run flannel-lease --etcd-endpoints="$ETCD_EP" --etcd-certfile="$C/client.crt" \
		--etcd-keyfile="$C/client.key" --etcd-cafile="$C/other-ca.crt" --oneshot \
		--mtu=1450 --public-ip=192.0.2.3 --subnet-file="$BATS_TEST_TMPDIR/c.env"
	echo "$output"
	# Not "unreachable": a retry cannot fix trust, so 77, not 69.
	[ "$status" -eq 77 ]
	[[ "$output" == *certificate* ]]
	[ ! -e "$BATS_TEST_TMPDIR/c.env" ]
	# A certificate without its key is a usage error.
	run flannel-lease --etcd-endpoints="$ETCD_EP" --etcd-certfile="$C/client.crt" --oneshot \
		--mtu=1450 --public-ip=192.0.2.3 --subnet-file="$BATS_TEST_TMPDIR/c.env"
	[ "$status" -eq 64 ]
}

@test "auth: username and password for both tools; a wrong password exits 77" {
	etcd_start
	put_config "$NET_CONFIG"
	etcdctl_ user add root --new-user-password=s3cret
	etcdctl_ auth enable
	export ETCDCTL_USER=root:s3cret
	etcdctl_ get "$P/config" | grep -q Network
	auth=(--etcd-username=root --etcd-password=s3cret)
	run flannel-lease --etcd-endpoints="$ETCD_EP" "${auth[@]}" --oneshot --mtu=1450 \
		--public-ip=192.0.2.1 --subnet-file="$BATS_TEST_TMPDIR/a.env"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(etcdctl_ get --prefix --keys-only "$P/subnets/" | grep -c .)" -eq 1 ]
	run flannel-watch --etcd-endpoints="$ETCD_EP" "${auth[@]}" --once --subnet-file=
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"added"'*'"type":"sync"'* ]]
	# Live watch with a token, through the twins.
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_ETCD_USERNAME=root FLANNELD_ETCD_PASSWORD=s3cret \
		flannel-watch --subnet-file= >"$OUT" 2>"$ERR" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.200.0-24" "$LEASE_VAL"
	wait_for 10 grep -q '"added".*100.64.200.0-24' "$OUT"
	# A running lease renews with its token.
	flannel-lease --etcd-endpoints="$ETCD_EP" "${auth[@]}" --mtu=1450 --public-ip=192.0.2.2 \
		--subnet-file="$BATS_TEST_TMPDIR/b.env" --subnet-lease-ttl=3s \
		--subnet-lease-renew-margin=2s >"$BATS_TEST_TMPDIR/l.out" 2>&1 3>&- &
	track_pid "$!"
	wait_for 15 grep -q '"type":"renewed"' "$BATS_TEST_TMPDIR/l.out"

	# Wrong password: 77 from both, quickly, and nothing written.
	run timeout 60 flannel-lease --etcd-endpoints="$ETCD_EP" --etcd-username=root \
		--etcd-password=wrong --oneshot --mtu=1450 --public-ip=192.0.2.3 \
		--subnet-file="$BATS_TEST_TMPDIR/c.env"
	echo "$output"
	[ "$status" -eq 77 ]
	[[ "$output" == *"authenticate as root"* ]]
	[[ "$output" != *"wrong"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/c.env" ]
	run timeout 60 flannel-watch --etcd-endpoints="$ETCD_EP" --etcd-username=root \
		--etcd-password=wrong --subnet-file=
	echo "$output"
	[ "$status" -eq 77 ]
	# No credentials at all: permission denied, 77 too.
	run timeout 60 flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot --mtu=1450 \
		--public-ip=192.0.2.3 --subnet-file="$BATS_TEST_TMPDIR/c.env"
	echo "$output"
	[ "$status" -eq 77 ]
	# A user without a password is a usage error.
	run flannel-lease --etcd-endpoints="$ETCD_EP" --etcd-username=root --oneshot \
		--mtu=1450 --public-ip=192.0.2.3
	[ "$status" -eq 64 ]
}

@test "several endpoints with the first dead: flannel-watch fails over" {
	etcd_start
	put_config "$NET_CONFIG"
	etcdctl_ put "$P/subnets/100.64.1.0-24" "$LEASE_VAL"
	dead="http://127.0.0.1:$(free_port)"
	run flannel-watch --etcd-endpoints="$dead,$ETCD_EP" --once --subnet-file=
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"key":"100.64.1.0-24"'*'"type":"sync"'* ]]
	flannel-watch --etcd-endpoints="$dead,$ETCD_EP" --subnet-file= >"$OUT" 2>"$ERR" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.2.0-24" "$LEASE_VAL"
	wait_for 10 grep -q '"added".*100.64.2.0-24' "$OUT"
	# After an etcd restart the watcher comes back through the live endpoint.
	etcd_restart
	etcdctl_ put "$P/subnets/100.64.3.0-24" "$LEASE_VAL"
	wait_for 20 grep -q '"added".*100.64.3.0-24' "$OUT"
	[ "$(grep -c '"type":"added"' "$OUT")" -eq 3 ]
}
