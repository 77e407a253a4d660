#!/usr/bin/env bats
# flannel-watch against a real etcd: snapshot, sync, live events, bad values,
# expiry, etcd restarts and compaction.

load helpers
bats_require_minimum_version 1.5.0

P=/coreos.com/network
V_VXLAN='{"PublicIP":"192.0.2.11","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"}}'
V_HOSTGW='{"PublicIP":"192.0.2.12","PublicIPv6":null,"BackendType":"host-gw"}'
V_DUAL='{"PublicIP":"192.0.2.13","PublicIPv6":"2001:db8::13","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:13"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:63"}}'

setup() {
	need_root
	etcd_start
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	OUT="$BATS_TEST_TMPDIR/w.out"
	ERR="$BATS_TEST_TMPDIR/w.err"
}

teardown() { fl_teardown; }

# upstream_lease IP: an upstream-format vxlan value for host IP.
upstream_lease() {
	printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:%02x"}}' \
		"$1" "${1##*.}"
}

# watch_bg ARGS...: flannel-watch in the background (directly, without
# bats's fd 3), events in $OUT, diagnostics in $ERR.
watch_bg() {
	flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file="$BATS_TEST_TMPDIR/none.env" \
		"$@" >"$OUT" 2>"$ERR" 3>&- &
	WATCH_PID=$!
	track_pid "$WATCH_PID"
}

# count_ge N PATTERN FILE: FILE has at least N lines matching PATTERN.
count_ge() {
	[ "$(grep -c -- "$2" "$3")" -ge "$1" ]
}

# seq_of FILE: "type key" per event, sync markers as "sync".
seq_of() {
	jq -r 'if .type == "added" or .type == "removed" then "\(.type) \(.key)" else .type end' "$1"
}

@test "upstream-format leases written with etcdctl: snapshot, sync, live added/removed" {
	id_hex=$(etcdctl_ lease grant 600 | awk '{print $2}')
	etcdctl_ put --lease="$id_hex" "$P/subnets/100.64.5.0-24" "$V_VXLAN"
	etcdctl_ put "$P/subnets/100.64.6.0-24" "$V_HOSTGW"
	etcdctl_ put "$P/subnets/100.64.7.0-24&2001:db8:1:7::-64" "$V_DUAL"
	# We are 100.64.6.0/24.
	printf 'FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.6.1/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n' \
		>"$BATS_TEST_TMPDIR/self.env"
	run flannel-watch --etcd-endpoints="$ETCD_EP" --subnet-file="$BATS_TEST_TMPDIR/self.env" \
		--once --expirations
	echo "$output"
	[ "$status" -eq 0 ]
	echo "$output" | grep '^{' >"$BATS_TEST_TMPDIR/once"
	[ "$(seq_of "$BATS_TEST_TMPDIR/once" | tr '\n' ,)" = \
		"snapshot,added 100.64.5.0-24,added 100.64.6.0-24,added 100.64.7.0-24&2001:db8:1:7::-64,sync," ]
	a5=$(jq -c 'select(.key == "100.64.5.0-24")' "$BATS_TEST_TMPDIR/once")
	[ "$(echo "$a5" | jq -c '[.subnet, .public_ip, .public_ipv6, .backend_type, .backend_data, .ipv6_subnet, .self]')" = \
		'["100.64.5.0/24","192.0.2.11",null,"vxlan",{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:44"},null,null]' ]
	[ "$(echo "$a5" | jq -r .lease_id)" = "$(printf '%d' "0x$id_hex")" ]
	[ "$(echo "$a5" | jq -r .expiration)" != null ]
	a6=$(jq -c 'select(.key == "100.64.6.0-24")' "$BATS_TEST_TMPDIR/once")
	[ "$(echo "$a6" | jq -c '[.public_ip, .backend_type, .backend_data, .self, .expiration]')" = \
		'["192.0.2.12","host-gw",null,true,null]' ]
	a7=$(jq -c 'select(.subnet == "100.64.7.0/24")' "$BATS_TEST_TMPDIR/once")
	[ "$(echo "$a7" | jq -c '[.ipv6_subnet, .public_ipv6, .backend_v6_data.VtepMAC]')" = \
		'["2001:db8:1:7::/64","2001:db8::13","c6:d2:32:6f:8f:63"]' ]
	sync_rev=$(jq 'select(.type == "sync") | .revision' "$BATS_TEST_TMPDIR/once")
	[ "$sync_rev" -ge 5 ]

	# Live, through the FLANNELD_* twin of --etcd-endpoints.
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" flannel-watch --subnet-file= >"$OUT" 2>"$ERR" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.8.0-24" "$(upstream_lease 192.0.2.14)"
	etcdctl_ del "$P/subnets/100.64.5.0-24"
	# Not under subnets/: nothing.
	etcdctl_ put "$P/subnetsX/100.64.9.0-24" "$(upstream_lease 192.0.2.15)" >/dev/null
	etcdctl_ put "$P/other" x >/dev/null
	etcdctl_ put "$P/subnets/100.64.10.0-24" "$(upstream_lease 192.0.2.16)"
	wait_for 10 grep -q '100.64.10.0-24' "$OUT"
	cat "$OUT" "$ERR"
	[ "$(seq_of "$OUT" | tr '\n' ,)" = \
		"snapshot,added 100.64.5.0-24,added 100.64.6.0-24,added 100.64.7.0-24&2001:db8:1:7::-64,sync,added 100.64.8.0-24,removed 100.64.5.0-24,added 100.64.10.0-24," ]
	a8=$(jq -c 'select(.key == "100.64.8.0-24")' "$OUT")
	[ "$(echo "$a8" | jq -c '[.type, .subnet, .public_ip, .backend_data.VtepMAC]')" = \
		'["added","100.64.8.0/24","192.0.2.14","c6:d2:32:6f:8f:0e"]' ]
	# A removal carries what the lease held.
	r5=$(jq -c 'select(.type == "removed")' "$OUT")
	[ "$(echo "$r5" | jq -c '[.subnet, .public_ip, .backend_type]')" = \
		'["100.64.5.0/24","192.0.2.11","vxlan"]' ]
	# Revisions only grow after the sync.
	jq -s '[.[] | select(.type != "snapshot") | .revision] | . == sort' "$OUT" | grep -qx true
}

@test "a malformed value or a non-lease key is reported with its key and skipped" {
	etcdctl_ put "$P/subnets/100.64.5.0-24" "$(upstream_lease 192.0.2.5)"
	etcdctl_ put "$P/subnets/100.64.6.0-24" '{"PublicIP":'
	etcdctl_ put "$P/subnets/garbage" "$(upstream_lease 192.0.2.6)"
	etcdctl_ put "$P/subnets/100.64.7.0-24" '{"PublicIP":"not-an-address","BackendType":"vxlan"}'
	etcdctl_ put "$P/subnets/100.64.8.0-24" "$(upstream_lease 192.0.2.8)"
	watch_bg
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.9.0-32" "$(upstream_lease 192.0.2.9)"
	etcdctl_ put "$P/subnets/100.64.10.0-24" '[1,2'
	etcdctl_ put "$P/subnets/100.64.11.0-24" '{"PublicIP":"2001:db8::1"}'
	etcdctl_ put "$P/subnets/100.64.12.0-24" "$(upstream_lease 192.0.2.12)"
	wait_for 10 grep -q '100.64.12.0-24' "$OUT"
	cat "$OUT" "$ERR"
	kill -0 "$WATCH_PID"
	[ "$(seq_of "$OUT" | tr '\n' ,)" = \
		"snapshot,added 100.64.5.0-24,added 100.64.8.0-24,sync,added 100.64.12.0-24," ]
	for k in 100.64.6.0-24 garbage 100.64.7.0-24 100.64.9.0-32 100.64.10.0-24 100.64.11.0-24; do
		grep -F "$P/subnets/$k" "$ERR"
	done
	# Deleting a key whose value was bad: a removal by key is still sent
	# (an applier may have nothing to remove, and that is fine).
	etcdctl_ del "$P/subnets/garbage"
	etcdctl_ del "$P/subnets/100.64.8.0-24"
	wait_for 10 grep -q '"removed".*100.64.8.0-24' "$OUT"
	run ! grep -q '"key":"garbage"' "$OUT"
	kill -0 "$WATCH_PID"
}

@test "a host that stops renewing produces a removed event after the TTL; SIGCONT re-acquires" {
	watch_bg
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	flannel-lease --etcd-endpoints="$ETCD_EP" --mtu=1450 --public-ip=192.0.2.21 \
		--subnet-file="$BATS_TEST_TMPDIR/h.env" --subnet-lease-ttl=4s \
		--subnet-lease-renew-margin=2s >"$BATS_TEST_TMPDIR/l.out" 2>"$BATS_TEST_TMPDIR/l.err" 3>&- &
	lpid=$!
	track_pid "$lpid"
	wait_for 10 grep -q '"type":"added"' "$OUT"
	key=$(jq -r 'select(.type == "added") | .key' "$OUT")
	# Renewals do not show up as removals.
	sleep 5
	run ! grep -q '"removed"' "$OUT"
	kill -STOP "$lpid"
	start=$(date +%s)
	wait_for 10 grep -q '"type":"removed"' "$OUT"
	took=$(( $(date +%s) - start ))
	echo "removed after ${took}s"
	[ "$took" -le 7 ]
	jq -c 'select(.type == "removed")' "$OUT" | grep -qF "\"key\":\"$key\""
	kill -CONT "$lpid"
	wait_for 15 count_ge 2 '"type":"added"' "$OUT"
	cat "$OUT" "$BATS_TEST_TMPDIR/l.err"
	grep -q reacquired "$BATS_TEST_TMPDIR/l.out"
	# Same subnet again, preferred.
	[ "$(jq -r 'select(.type == "added") | .key' "$OUT" | sort -u)" = "$key" ]
}

@test "etcd restarted during a watch: no event lost, no duplicate after resume" {
	watch_bg
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	for i in 1 2 3; do
		etcdctl_ put "$P/subnets/100.64.$i.0-24" "$(upstream_lease "192.0.2.$i")" >/dev/null
	done
	wait_for 10 grep -q '100.64.3.0-24' "$OUT"
	etcd_restart
	for i in 4 5; do
		etcdctl_ put "$P/subnets/100.64.$i.0-24" "$(upstream_lease "192.0.2.$i")" >/dev/null
	done
	etcdctl_ del "$P/subnets/100.64.1.0-24" >/dev/null
	etcdctl_ put "$P/subnets/100.64.6.0-24" "$(upstream_lease 192.0.2.6)" >/dev/null
	wait_for 20 grep -q '100.64.6.0-24' "$OUT"
	sleep 1
	cat "$OUT" "$ERR"
	grep -q 'resuming from revision' "$ERR"
	kill -0 "$WATCH_PID"
	[ "$(seq_of "$OUT" | tr '\n' ,)" = \
		"snapshot,sync,added 100.64.1.0-24,added 100.64.2.0-24,added 100.64.3.0-24,added 100.64.4.0-24,added 100.64.5.0-24,removed 100.64.1.0-24,added 100.64.6.0-24," ]
	# Twice: the watcher resumes every time.
	etcd_restart
	etcdctl_ put "$P/subnets/100.64.7.0-24" "$(upstream_lease 192.0.2.7)" >/dev/null
	wait_for 20 grep -q '100.64.7.0-24' "$OUT"
	[ "$(grep -c '"type":"added"' "$OUT")" -eq 7 ]
	[ "$(grep -c '"type":"snapshot"' "$OUT")" -eq 1 ]
}

@test "compaction: a watcher behind a compacted revision gets a new snapshot and sync" {
	etcdctl_ put "$P/subnets/100.64.1.0-24" "$(upstream_lease 192.0.2.1)" >/dev/null
	watch_bg
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	etcdctl_ put "$P/subnets/100.64.2.0-24" "$(upstream_lease 192.0.2.2)" >/dev/null
	wait_for 10 grep -q '100.64.2.0-24' "$OUT"
	# Frozen while etcd restarts, changes happen, and history is compacted.
	kill -STOP "$WATCH_PID"
	etcd_restart
	etcdctl_ del "$P/subnets/100.64.1.0-24" >/dev/null
	etcdctl_ put "$P/subnets/100.64.3.0-24" "$(upstream_lease 192.0.2.3)" >/dev/null
	etcdctl_ put "$P/subnets/100.64.4.0-24" "$(upstream_lease 192.0.2.4)" >/dev/null
	rev=$(etcdctl_ get -w json "$P/config" | jq .header.revision)
	etcdctl_ compact "$rev"
	etcdctl_ put "$P/subnets/100.64.5.0-24" "$(upstream_lease 192.0.2.5)" >/dev/null
	kill -CONT "$WATCH_PID"
	wait_for 20 count_ge 2 '"type":"sync"' "$OUT"
	wait_for 10 grep -q '100.64.5.0-24' "$OUT"
	cat "$OUT" "$ERR"
	grep -q 'compacted' "$ERR"
	kill -0 "$WATCH_PID"
	# The second snapshot is the state after the gap: 2, 3, 4 (5 may be in it
	# or follow it, depending on timing), never 1.
	second=$(seq_of "$OUT" | awk '/^snapshot$/ { n++ } n == 2' | tr '\n' ,)
	echo "second: $second"
	[[ "$second" == "snapshot,added 100.64.2.0-24,added 100.64.3.0-24,added 100.64.4.0-24,"* ]]
	[[ "$second" != *"100.64.1.0-24"* ]]
	[ "$(grep -c '100.64.5.0-24' "$OUT")" -eq 1 ]
	[ "$(seq_of "$OUT" | head -4 | tr '\n' ,)" = "snapshot,added 100.64.1.0-24,sync,added 100.64.2.0-24," ]
	# Live events flow after the new sync.
	etcdctl_ put "$P/subnets/100.64.6.0-24" "$(upstream_lease 192.0.2.6)" >/dev/null
	wait_for 10 grep -q '100.64.6.0-24' "$OUT"
	[ "$(seq_of "$OUT" | tail -1)" = "added 100.64.6.0-24" ]
}

@test "watch pages through many leases at one revision; SIGTERM ends it with 0" {
	for i in $(seq 1 60); do
		etcdctl_ put "$P/subnets/100.64.$i.0-24" "$(upstream_lease "192.0.2.$i")" >/dev/null
	done
	run flannel-watch --etcd-endpoints="$ETCD_EP" --once --page-size=7 --subnet-file=
	[ "$status" -eq 0 ]
	echo "$output" | grep '^{' >"$BATS_TEST_TMPDIR/once"
	[ "$(grep -c '"type":"added"' "$BATS_TEST_TMPDIR/once")" -eq 60 ]
	[ "$(jq -r 'select(.type == "added") | .key' "$BATS_TEST_TMPDIR/once" | sort -u | wc -l)" -eq 60 ]
	# Every page at the snapshot's revision: the sync says which.
	[ "$(jq 'select(.type == "sync") | .revision' "$BATS_TEST_TMPDIR/once")" -eq \
		"$(etcdctl_ get -w json "$P/config" | jq .header.revision)" ]
	watch_bg --page-size=50
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	kill -TERM "$WATCH_PID"
	rc=0
	wait "$WATCH_PID" || rc=$?
	[ "$rc" -eq 0 ]
	[ "$(grep -c '"type":"added"' "$OUT")" -eq 60 ]
}

@test "flannel-watch: etcd unreachable with --once exits 69; a closed pipe exits 74" {
	port=$(free_port)
	run timeout 60 flannel-watch --etcd-endpoints="http://127.0.0.1:$port" --once --subnet-file=
	echo "$output"
	[ "$status" -eq 69 ]
	rcf="$BATS_TEST_TMPDIR/rc"
	# The reader is gone before the first live event is written.
	bash -c 'timeout 60 flannel-watch --etcd-endpoints="$1" --subnet-file= 2>/dev/null | true
		echo "${PIPESTATUS[0]}" >"$2"' _ "$ETCD_EP" "$rcf" 3>&- &
	track_pid "$!"
	sleep 1
	etcdctl_ put "$P/subnets/100.64.1.0-24" "$(upstream_lease 192.0.2.1)" >/dev/null
	wait_for 10 test -s "$rcf"
	[ "$(cat "$rcf")" = 74 ]
}

# put_raw KEY_FILE VALUE_FILE: a put through etcd's JSON gateway, so that a
# key may hold any byte (a NUL) and a value be larger than an argument.
put_raw() {
	printf '{"key":"%s","value":"%s"}' "$(base64 -w0 <"$1")" "$(base64 -w0 <"$2")" \
		>"$BATS_TEST_TMPDIR/put.json"
	curl -sS --fail -X POST --data-binary "@$BATS_TEST_TMPDIR/put.json" "$ETCD_EP/v3/kv/put"
}

@test "issue 12: a NUL in a key never stands in for its subnet; an oversized value is reported once and skipped" {
	etcdctl_ put "$P/subnets/100.64.70.0-24" "$(upstream_lease 192.0.2.70)"
	watch_bg
	wait_for 10 grep -q '"type":"sync"' "$OUT"
	printf '%s/subnets/100.64.70.0-24\0x' "$P" >"$BATS_TEST_TMPDIR/k1"
	upstream_lease 192.0.2.71 >"$BATS_TEST_TMPDIR/v1"
	put_raw "$BATS_TEST_TMPDIR/k1" "$BATS_TEST_TMPDIR/v1"
	printf '%s/subnets/100.64.71.0-24' "$P" >"$BATS_TEST_TMPDIR/k2"
	{ printf '{"PublicIP":"192.0.2.72","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:48","Pad":"'
	  head -c 1200000 /dev/zero | tr '\0' x
	  printf '"}}'; } >"$BATS_TEST_TMPDIR/v2"
	put_raw "$BATS_TEST_TMPDIR/k2" "$BATS_TEST_TMPDIR/v2"
	etcdctl_ put "$P/subnets/100.64.72.0-24" "$(upstream_lease 192.0.2.73)"
	wait_for 10 grep -q '100.64.72.0-24' "$OUT"
	# The NUL key deleted: the real 100.64.70.0/24 must not be removed.
	curl -sS --fail -X POST --data-binary \
		"{\"key\":\"$(base64 -w0 <"$BATS_TEST_TMPDIR/k1")\"}" "$ETCD_EP/v3/kv/deleterange"
	etcdctl_ put "$P/subnets/100.64.73.0-24" "$(upstream_lease 192.0.2.74)"
	wait_for 10 grep -q '100.64.73.0-24' "$OUT"
	cat "$ERR"
	kill -0 "$WATCH_PID"
	[ "$(seq_of "$OUT" | tr '\n' ,)" = \
		"snapshot,added 100.64.70.0-24,sync,added 100.64.72.0-24,added 100.64.73.0-24," ]
	run ! grep -q '192.0.2.71\|192.0.2.72' "$OUT"
	# Each reported with its escaped key; the big one once, not its value.
	[ "$(grep -c 'subnets/100.64.70.0-24\\x00x: not a subnet lease key' "$ERR")" -eq 2 ]
	[ "$(grep -c 'skip lease /coreos.com/network/subnets/100.64.71.0-24: value of 12001.. bytes is over the limit of 65536' "$ERR")" -eq 1 ]
	[ "$(wc -c <"$ERR")" -lt 4096 ]
	# Every event line stays under the applier's limit.
	[ "$(awk '{ if (length($0) > m) m = length($0) } END { print m }' "$OUT")" -lt 65536 ]
}

@test "a lease with a link-local PublicIPv6 keeps its IPv4 part, with a warning" {
	etcdctl_ put "$P/subnets/100.64.8.0-24&2001:db8:1:8::-64" \
		'{"PublicIP":"192.0.2.18","PublicIPv6":"fe80::18","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:18"},"BackendV6Data":{"VNI":1,"VtepMAC":"c6:d2:32:6f:8f:68"}}'
	run flannel-watch --etcd-endpoints="$ETCD_EP" \
		--subnet-file="$BATS_TEST_TMPDIR/none.env" --once
	echo "$output"
	[ "$status" -eq 0 ]
	ev=$(grep '^{"type":"added"' <<<"$output")
	[ "$(jq -r .subnet <<<"$ev")" = 100.64.8.0/24 ]
	[ "$(jq -r .public_ip <<<"$ev")" = 192.0.2.18 ]
	[ "$(jq -r '.ipv6_subnet // "none"' <<<"$ev")" = none ]
	[[ "$output" == *"PublicIPv6 fe80::18 is not a usable unicast address"*"keeping its IPv4 part"* ]]
}
