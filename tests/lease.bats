#!/usr/bin/env bats
# flannel-lease against a real etcd: acquire, reuse, renew, re-acquire,
# allocation under contention, errors and exit codes, FLANNELD_* twins.

load helpers
bats_require_minimum_version 1.5.0

VXLAN_DATA='{"VNI":1,"VtepMAC":"ce:8e:4f:a1:22:01"}'
NET_CONFIG='{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'

setup() {
	need_root
	# The --iface test starts its etcd inside its own namespace.
	if [[ "$BATS_TEST_DESCRIPTION" != --iface* ]]; then
		etcd_start
		put_config "$NET_CONFIG"
	fi
	ENV_FILE="$BATS_TEST_TMPDIR/run/subnet.env"
}

teardown() { fl_teardown; }

# lease ARGS...: flannel-lease against the test etcd as host 192.0.2.1.
lease() {
	flannel-lease --etcd-endpoints="$ETCD_EP" --mtu=1450 "$@"
}

# lease_bg ARGS...: a long-running flannel-lease, output in out and err.  Run
# directly (not through a function, whose subshell a kill would hit instead)
# and without bats's fd 3, so that a stray process cannot hang bats.
lease_bg() {
	flannel-lease --etcd-endpoints="$ETCD_EP" --mtu=1450 "$@" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	LEASE_PID=$!
	track_pid "$LEASE_PID"
}

lease_oneshot() {
	lease --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE" \
		--backend-type=vxlan --backend-data="$VXLAN_DATA" "$@"
}

# The leaf names of every key under subnets/, one a line.
subnet_keys() {
	etcdctl_ get --prefix --keys-only "${1:-/coreos.com/network}/subnets/" |
		sed -n 's|^.*/subnets/||p'
}

# key_lease_hex KEY: the etcd lease id attached to KEY, in hex.
key_lease_hex() {
	local dec
	dec=$(etcdctl_ get -w json "$1" | grep -o '"lease":[0-9]*' | cut -d: -f2)
	[ -n "$dec" ] && printf '%x\n' "$dec"
}

# count_ge N PATTERN FILE: FILE has at least N lines with PATTERN.
count_ge() {
	[ "$(grep -c -- "$2" "$3")" -ge "$1" ]
}

# subnet_of_env FILE: 100.64.5.1/24 -> 100.64.5.0-24
subnet_of_env() {
	sed -n 's|^FLANNEL_SUBNET=\(.*\)\.1/\([0-9]*\)$|\1.0-\2|p' "$1"
}

@test "acquire: upstream key and value, 24h etcd lease, subnet.env 0644" {
	umask 077
	run lease_oneshot
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"type":"acquired"'* ]]
	keys=$(subnet_keys)
	[ "$(echo "$keys" | wc -l)" -eq 1 ]
	[[ "$keys" =~ ^100\.64\.([0-9]+)\.0-24$ ]]
	x=${BASH_REMATCH[1]}
	[ "$x" -ge 1 ] && [ "$x" -le 255 ]
	key="/coreos.com/network/subnets/$keys"
	val=$(etcdctl_ get --print-value-only "$key")
	[ "$val" = '{"PublicIP":"192.0.2.1","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"ce:8e:4f:a1:22:01"}}' ]
	id=$(key_lease_hex "$key")
	[ -n "$id" ] && [ "$id" != 0 ]
	ttl=$(etcdctl_ lease timetolive "$id")
	echo "$ttl"
	[[ "$ttl" == *"granted with TTL(86400s)"* ]]
	[ "$(stat -c %a "$ENV_FILE")" = 644 ]
	diff -u - "$ENV_FILE" <<-EOF
		FLANNEL_NETWORK=100.64.0.0/16
		FLANNEL_SUBNET=100.64.$x.1/24
		FLANNEL_MTU=1450
		FLANNEL_IPMASQ=false
	EOF
	# --ip-masq and the MTU reach subnet.env.
	run lease_oneshot --ip-masq --mtu=1400
	[ "$status" -eq 0 ]
	grep -qx 'FLANNEL_MTU=1400' "$ENV_FILE"
	grep -qx 'FLANNEL_IPMASQ=true' "$ENV_FILE"
	# No temporary file is left beside it (only the lock, which stays).
	[ "$(find "$(dirname "$ENV_FILE")" -type f ! -name subnet.env.lock | wc -l)" -eq 1 ]
}

@test "restart reuses the subnet by PublicIP, and from subnet.env when the key is gone" {
	run lease_oneshot
	[ "$status" -eq 0 ]
	first=$(subnet_keys)
	key="/coreos.com/network/subnets/$first"
	id1=$(key_lease_hex "$key")
	# Another host comes and goes in between.
	run lease --oneshot --public-ip=192.0.2.2 --subnet-file="$BATS_TEST_TMPDIR/h2.env"
	[ "$status" -eq 0 ]
	run lease_oneshot
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"how":"reused"'* ]]
	[ "$(subnet_keys | grep -c .)" -eq 2 ]
	[ "$(subnet_of_env "$ENV_FILE")" = "$first" ]
	# Reuse keeps the same etcd lease alive.
	[ "$(key_lease_hex "$key")" = "$id1" ]
	# Backend data changed: the value is rewritten, the subnet stays.
	run lease_oneshot --backend-data='{"VNI":1,"VtepMAC":"ce:8e:4f:a1:22:02"}'
	[ "$status" -eq 0 ]
	[[ "$(etcdctl_ get --print-value-only "$key")" == *'22:02"}}' ]]

	# The key is gone (expired meanwhile); subnet.env still names it.
	etcdctl_ del "$key"
	run lease_oneshot
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"how":"previous subnet"'* ]]
	[ "$(subnet_keys | grep -c "^$first\$")" -eq 1 ]
	[ "$(subnet_of_env "$ENV_FILE")" = "$first" ]
}

@test "renewal with a short TTL keeps the lease well past the TTL" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE" \
		--subnet-lease-ttl=4s --subnet-lease-renew-margin=2s
	pid=$LEASE_PID
	wait_for 10 test -s "$ENV_FILE"
	key="/coreos.com/network/subnets/$(subnet_keys)"
	id=$(key_lease_hex "$key")
	etcdctl_ lease timetolive "$id" | grep -F 'granted with TTL(4s)'
	sleep 11
	kill -0 "$pid"
	cat "$BATS_TEST_TMPDIR/err" "$BATS_TEST_TMPDIR/out"
	# Still the same key on the same etcd lease, with time left.
	[ "$(key_lease_hex "$key")" = "$id" ]
	run etcdctl_ lease timetolive "$id"
	[[ "$output" =~ remaining\(([0-9]+)s\) ]]
	[ "${BASH_REMATCH[1]}" -ge 1 ]
	[ "$(grep -c '"type":"renewed"' "$BATS_TEST_TMPDIR/out")" -ge 3 ]
	run ! grep -q reacquired "$BATS_TEST_TMPDIR/out"
}

@test "deleting the key makes flannel-lease re-acquire the same subnet and say so" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	pid=$LEASE_PID
	wait_for 10 test -s "$ENV_FILE"
	leaf=$(subnet_keys)
	key="/coreos.com/network/subnets/$leaf"
	id1=$(key_lease_hex "$key")
	etcdctl_ del "$key"
	wait_for 10 grep -q reacquired "$BATS_TEST_TMPDIR/out"
	cat "$BATS_TEST_TMPDIR/err" "$BATS_TEST_TMPDIR/out"
	grep -q "lease $leaf vanished" "$BATS_TEST_TMPDIR/err"
	grep '"type":"reacquired"' "$BATS_TEST_TMPDIR/out" | grep -q '"how":"previous subnet"'
	[ "$(subnet_keys)" = "$leaf" ]
	[ "$(key_lease_hex "$key")" != "$id1" ]
	kill -0 "$pid"
	# Overwritten by another host: also taken back, on a fresh subnet if need be.
	etcdctl_ put "$key" '{"PublicIP":"192.0.2.9","PublicIPv6":null,"BackendType":"vxlan"}'
	wait_for 10 count_ge 2 '"type":"reacquired"' "$BATS_TEST_TMPDIR/out"
	grep -q 'overwritten' "$BATS_TEST_TMPDIR/err"
	[ "$(subnet_keys | wc -l)" -eq 2 ]
	[ "$(subnet_of_env "$ENV_FILE")" != "$leaf" ]
	kill -0 "$pid"
}

@test "etcd restarted under a running flannel-lease: it keeps renewing the same lease" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE" \
		--subnet-lease-ttl=6s --subnet-lease-renew-margin=3s
	pid=$LEASE_PID
	wait_for 10 test -s "$ENV_FILE"
	leaf=$(subnet_keys)
	etcd_restart
	etcd_restart
	# Renewals go on after etcd is back: at least two more, then more time
	# than the TTL passes without the key going away.
	n=$(grep -c '"type":"renewed"' "$BATS_TEST_TMPDIR/out" || true)
	wait_for 20 count_ge $((n + 2)) '"type":"renewed"' "$BATS_TEST_TMPDIR/out"
	cat "$BATS_TEST_TMPDIR/err" "$BATS_TEST_TMPDIR/out"
	kill -0 "$pid"
	[ "$(subnet_keys)" = "$leaf" ]
	[ "$(subnet_of_env "$ENV_FILE")" = "$leaf" ]
	etcdctl_ lease timetolive "$(key_lease_hex "/coreos.com/network/subnets/$leaf")" |
		grep -q 'remaining([1-9]'
}

@test "SIGTERM leaves the lease in etcd and a restart reuses it" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	pid=$LEASE_PID
	wait_for 10 test -s "$ENV_FILE"
	leaf=$(subnet_keys)
	kill -TERM "$pid"
	rc=0
	wait "$pid" || rc=$?
	echo "exit status $rc"
	cat "$BATS_TEST_TMPDIR/err"
	[ "$rc" -eq 0 ]
	[ "$(subnet_keys)" = "$leaf" ]
	etcdctl_ lease timetolive "$(key_lease_hex "/coreos.com/network/subnets/$leaf")" |
		grep -q 'remaining([1-9]'
	run lease_oneshot
	[ "$status" -eq 0 ]
	[[ "$output" == *'"how":"reused"'* ]]
	[ "$(subnet_keys)" = "$leaf" ]
}

@test "50 hosts acquiring at once get 50 distinct subnets" {
	local i ip pids=()
	for i in $(seq 1 50); do
		if [ "$i" -le 25 ]; then ip="192.0.2.$i"; else ip="198.51.100.$i"; fi
		flannel-lease --etcd-endpoints="$ETCD_EP" --mtu=1450 --oneshot --quiet \
			--public-ip="$ip" --subnet-file="$BATS_TEST_TMPDIR/h$i/subnet.env" \
			--backend-type=host-gw 2>"$BATS_TEST_TMPDIR/err.$i" 3>&- &
		pids+=("$!")
		track_pid "$!"
	done
	failed=0
	for i in "${!pids[@]}"; do
		wait "${pids[$i]}" || { failed=$((failed + 1)); cat "$BATS_TEST_TMPDIR/err.$((i + 1))"; }
	done
	[ "$failed" -eq 0 ]
	[ "$(subnet_keys | sort -u | wc -l)" -eq 50 ]
	# Every host's subnet.env names a different subnet, and etcd agrees.
	for i in $(seq 1 50); do
		subnet_of_env "$BATS_TEST_TMPDIR/h$i/subnet.env"
	done | sort >"$BATS_TEST_TMPDIR/envs"
	[ "$(sort -u "$BATS_TEST_TMPDIR/envs" | wc -l)" -eq 50 ]
	subnet_keys | sort | diff -u - "$BATS_TEST_TMPDIR/envs"
	for i in 1 26 50; do
		if [ "$i" -le 25 ]; then ip="192.0.2.$i"; else ip="198.51.100.$i"; fi
		etcdctl_ get --print-value-only \
			"/coreos.com/network/subnets/$(subnet_of_env "$BATS_TEST_TMPDIR/h$i/subnet.env")" |
			grep -qF "\"PublicIP\":\"$ip\""
	done
}

@test "network full: clear error, exit 75" {
	put_config '{"Network":"100.64.0.0/28","SubnetLen":30,"Backend":{"Type":"vxlan"}}' /full
	for i in 1 2 3; do
		run lease --etcd-prefix=/full --oneshot --public-ip="192.0.2.$i" \
			--subnet-file="$BATS_TEST_TMPDIR/f$i.env"
		[ "$status" -eq 0 ]
	done
	[ "$(subnet_keys /full | sort | tr '\n' ' ')" = "100.64.0.12-30 100.64.0.4-30 100.64.0.8-30 " ]
	run lease --etcd-prefix=/full --oneshot --public-ip=192.0.2.4 \
		--subnet-file="$BATS_TEST_TMPDIR/f4.env"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ "$output" == *"network 100.64.0.0/28 is full"* ]]
	[ ! -e "$BATS_TEST_TMPDIR/f4.env" ]
	# A host that already holds one still gets it back.
	run lease --etcd-prefix=/full --oneshot --public-ip=192.0.2.2 \
		--subnet-file="$BATS_TEST_TMPDIR/f2.env"
	[ "$status" -eq 0 ]
}

@test "invalid config: exit 78 naming the field; missing config: exit 78" {
	put_config '{"Network":"100.64.0.0/16","SubnetLen":31}' /bad1
	run lease --etcd-prefix=/bad1 --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"/bad1/config"*"SubnetLen"* ]]
	put_config '{"Network":"100.64.0.0/16","SubnetMin":"100.65.0.0"}' /bad2
	run lease --etcd-prefix=/bad2 --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"SubnetMin"* ]]
	put_config '{"SubnetLen":24}' /bad3
	run lease --etcd-prefix=/bad3 --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"Network"* ]]
	run lease --etcd-prefix=/none --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"/none/config"*"not found"* ]]
	[ ! -e "$ENV_FILE" ]
	[ -z "$(etcdctl_ get --prefix --keys-only /bad1/subnets /bad2/subnets /bad3/subnets)" ]
}

@test "bad flags: exit 64" {
	run lease --oneshot --public-ip=not-an-ip --subnet-file="$ENV_FILE"
	[ "$status" -eq 64 ]
	run lease --oneshot --public-ip=192.0.2.1 --backend-data='{nope' --subnet-file="$ENV_FILE"
	[ "$status" -eq 64 ]
	[[ "$output" == *"backend-data"* ]]
	run lease --oneshot --public-ip=192.0.2.1 --subnet-lease-renew-margin=1440
	[ "$status" -eq 64 ]
	run flannel-lease --etcd-endpoints=ftp://127.0.0.1:1 --oneshot --public-ip=192.0.2.1
	[ "$status" -eq 64 ]
}

@test "etcd unreachable: exit 69, promptly" {
	port=$(free_port)
	start=$(date +%s)
	run flannel-lease --etcd-endpoints="http://127.0.0.1:$port" --oneshot --mtu=1450 \
		--public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 69 ]
	[[ "$output" == *"127.0.0.1:$port"* ]]
	[ $(( $(date +%s) - start )) -lt 20 ]
	[ ! -e "$ENV_FILE" ]
	# A server that accepts but never answers: the request timeout ends it.
	python3 -c 'import socket,sys,time
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(5); time.sleep(60)' "$port" \
		>/dev/null 2>&1 3>&- &
	track_pid "$!"
	wait_for 5 sh -c "ss -Hltn 'sport = :$port' | grep -q ."
	start=$(date +%s)
	run flannel-lease --etcd-endpoints="http://127.0.0.1:$port" --etcd-timeout=1s --oneshot \
		--mtu=1450 --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 69 ]
	[ $(( $(date +%s) - start )) -lt 15 ]
}

@test "several endpoints, the first dead: failover works" {
	dead=$(free_port)
	run flannel-lease --etcd-endpoints="http://127.0.0.1:$dead,$ETCD_EP" --oneshot \
		--mtu=1450 --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(subnet_keys | wc -l)" -eq 1 ]
	[ -s "$ENV_FILE" ]
	# And a running lease keeps renewing through the live one.
	ETCD_EP="http://127.0.0.1:$dead,$ETCD_EP" lease_bg --public-ip=192.0.2.2 \
		--subnet-file="$ENV_FILE" --subnet-lease-ttl=3s --subnet-lease-renew-margin=2s
	wait_for 15 count_ge 2 '"type":"renewed"' "$BATS_TEST_TMPDIR/out"
}

@test "FLANNELD_* variables act as flags; an explicit flag beats them" {
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_PUBLIC_IP=192.0.2.7 \
		FLANNELD_SUBNET_FILE="$BATS_TEST_TMPDIR/env1" FLANNELD_SUBNET_LEASE_RENEW_MARGIN=30 \
		run flannel-lease --oneshot --mtu=1450
	echo "$output"
	[ "$status" -eq 0 ]
	leaf=$(subnet_of_env "$BATS_TEST_TMPDIR/env1")
	etcdctl_ get --print-value-only "/coreos.com/network/subnets/$leaf" |
		grep -qF '"PublicIP":"192.0.2.7"'
	# Flags win over the twins.
	FLANNELD_ETCD_ENDPOINTS="http://127.0.0.1:$(free_port)" FLANNELD_PUBLIC_IP=192.0.2.7 \
		FLANNELD_SUBNET_FILE="$BATS_TEST_TMPDIR/env1" \
		run flannel-lease --oneshot --mtu=1450 --etcd-endpoints="$ETCD_EP" \
		--public-ip=192.0.2.8 --subnet-file="$BATS_TEST_TMPDIR/env2"
	echo "$output"
	[ "$status" -eq 0 ]
	leaf2=$(subnet_of_env "$BATS_TEST_TMPDIR/env2")
	[ "$leaf2" != "$leaf" ]
	etcdctl_ get --print-value-only "/coreos.com/network/subnets/$leaf2" |
		grep -qF '"PublicIP":"192.0.2.8"'
	[ "$(subnet_of_env "$BATS_TEST_TMPDIR/env1")" = "$leaf" ]
	# A bad value from the environment is as bad as the flag.
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_PUBLIC_IP=bogus \
		run flannel-lease --oneshot --mtu=1450 --subnet-file="$BATS_TEST_TMPDIR/env3"
	[ "$status" -eq 64 ]
	# The prefix twin too.
	put_config "$NET_CONFIG" /twin
	FLANNELD_ETCD_ENDPOINTS="$ETCD_EP" FLANNELD_ETCD_PREFIX=/twin \
		run flannel-lease --oneshot --mtu=1450 --public-ip=192.0.2.9 \
		--subnet-file="$BATS_TEST_TMPDIR/env4"
	[ "$status" -eq 0 ]
	[ "$(subnet_keys /twin | wc -l)" -eq 1 ]
}

# A namespace with two veth pairs: a0 192.0.2.5 and b0 198.51.100.5, the
# default route on b0; etcd inside on 127.0.0.1.
two_iface_ns() {
	NS="$(fl_id)if"
	ip netns add "$NS"
	echo "$NS" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$NS" link set lo up
	ip -n "$NS" link add a0 mtu 1400 type veth peer name a1
	ip -n "$NS" link add b0 mtu 1500 type veth peer name b1
	ip -n "$NS" addr add 192.0.2.5/24 dev a0
	ip -n "$NS" addr add 198.51.100.5/24 dev b0
	for d in a0 a1 b0 b1; do ip -n "$NS" link set "$d" up; done
	ip -n "$NS" route add default via 198.51.100.254 dev b0 onlink
}

@test "--iface picks the address of the named interface; default: the default route's" {
	two_iface_ns
	etcd_start "$NS" 127.0.0.1
	put_config "$NET_CONFIG"
	ns_lease() {
		ip netns exec "$NS" flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot \
			--subnet-file="$BATS_TEST_TMPDIR/$1.env" "${@:2}"
	}
	run ns_lease a --iface=a0
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ip":"192.0.2.5"'* ]]
	# FLANNEL_MTU by the backend's rule (vxlan: 50 less) on the interface's MTU.
	grep -qx 'FLANNEL_MTU=1350' "$BATS_TEST_TMPDIR/a.env"
	run ns_lease b --iface=b0
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ip":"198.51.100.5"'* ]]
	grep -qx 'FLANNEL_MTU=1450' "$BATS_TEST_TMPDIR/b.env"
	# By address: the interface holding it.
	run ns_lease a2 --iface=192.0.2.5
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ip":"192.0.2.5"'*'"how":"reused"'* ]]
	# No flag: the default route's interface.
	run ns_lease d
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ip":"198.51.100.5"'*'"how":"reused"'* ]]
	# FLANNELD_IFACE twin.
	FLANNELD_IFACE=a0 run ns_lease e
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ip":"192.0.2.5"'* ]]
	# An interface that does not exist.
	run ns_lease n --iface=nosuch0
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *nosuch0* ]]
	[ "$(etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/ | grep -c .)" -eq 2 ]
}

@test "issue 12: etcd killed for longer than several renewals: flannel-lease says it retries, renews on its own schedule, recovers" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE" --etcd-timeout=1s \
		--subnet-lease-ttl=30s --subnet-lease-renew-margin=28s
	pid=$LEASE_PID
	wait_for 10 test -s "$ENV_FILE"
	leaf=$(subnet_keys)
	wait_for 10 count_ge 1 '"type":"renewed"' "$BATS_TEST_TMPDIR/out"
	kill -9 "$ETCD_PID"
	wait "$ETCD_PID" 2>/dev/null || true
	# A renewal is due 2 s after the last; etcd stays away for 7.
	sleep 7
	n_renew=$(grep -c "renew lease $leaf:" "$BATS_TEST_TMPDIR/err" || true)
	n_down=$(grep -c 'etcd unreachable: .*; retrying' "$BATS_TEST_TMPDIR/err" || true)
	etcd "${ETCD_ARGS[@]}" >>"$ETCD_DIR/log" 2>&1 3>&- &
	ETCD_PID=$!
	track_pid "$ETCD_PID"
	etcd_wait
	n=$(grep -c '"type":"renewed"' "$BATS_TEST_TMPDIR/out" || true)
	wait_for 15 count_ge $((n + 1)) '"type":"renewed"' "$BATS_TEST_TMPDIR/out"
	wait_for 10 grep -q 'etcd reachable again after' "$BATS_TEST_TMPDIR/err"
	cat "$BATS_TEST_TMPDIR/err"
	echo "renew attempts during the outage: $n_renew, unreachable notices: $n_down"
	[ "$n_down" -eq 1 ]
	[ "$n_renew" -ge 1 ]
	kill -0 "$pid"
	[ "$(subnet_keys)" = "$leaf" ]
	run ! grep -q reacquired "$BATS_TEST_TMPDIR/out"
}

@test "FLANNEL_MTU without --mtu: the backend's rule on the underlay, as flanneld" {
	two_iface_ns
	etcd_start "$NS" 127.0.0.1
	ns_lease() {
		ip netns exec "$NS" flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot \
			--subnet-file="$BATS_TEST_TMPDIR/$1.env" "${@:2}"
	}
	put_config "$NET_CONFIG"
	# Run as the README runs it: no --mtu.  vxlan on b0 (1500): 1450.
	run ns_lease v
	[ "$status" -eq 0 ]
	grep -qx 'FLANNEL_MTU=1450' "$BATS_TEST_TMPDIR/v.env"
	# Backend.MTU is the base of the rule, as in flanneld.
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","MTU":1300}}'
	run ns_lease m --iface=a0
	[ "$status" -eq 0 ]
	grep -qx 'FLANNEL_MTU=1250' "$BATS_TEST_TMPDIR/m.env"
	# --public-ip on no interface (behind NAT): the default route's
	# interface b0 gives the MTU, not an error.
	put_config "$NET_CONFIG"
	run ns_lease n --public-ip=198.18.0.9
	echo "$output"
	[ "$status" -eq 0 ]
	grep -qx 'FLANNEL_MTU=1450' "$BATS_TEST_TMPDIR/n.env"
	# host-gw adds no header: the underlay MTU itself.
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"host-gw"}}'
	run ns_lease h --iface=a0
	[ "$status" -eq 0 ]
	grep -qx 'FLANNEL_MTU=1400' "$BATS_TEST_TMPDIR/h.env"
	# --mtu still wins.
	run ns_lease x --iface=a0 --mtu=1200
	grep -qx 'FLANNEL_MTU=1200' "$BATS_TEST_TMPDIR/x.env"
	# flanneld --dry-run gives the lease the same MTU.
	put_config "$NET_CONFIG"
	run ip netns exec "$NS" flanneld --etcd-endpoints="$ETCD_EP" --iface=a0 --dry-run
	[[ "$output" == *"flannel-lease "*"--mtu=1350"* ]]
}

@test "a host with only a link-local IPv6 address publishes none, saying why" {
	two_iface_ns
	etcd_start "$NS" 127.0.0.1
	put_config '{"Network":"100.64.0.0/16","EnableIPv6":true,"IPv6Network":"2001:db8:1::/48","Backend":{"Type":"vxlan"}}'
	ip -n "$NS" -6 addr add fe80::5/64 dev b0 nodad
	ip -n "$NS" -6 route add default via fe80::1 dev b0
	run ip netns exec "$NS" flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot \
		--subnet-file="$BATS_TEST_TMPDIR/ll.env" --iface=b0
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"b0: no global IPv6 address (a link-local one is never published"* ]]
	[ -z "$(etcdctl_ get --prefix /coreos.com/network/subnets/ | grep fe80)" ]
	# With a global address beside it, that one is published, not fe80::5.
	ip -n "$NS" -6 addr add 2001:db8::5/64 dev b0 nodad
	run ip netns exec "$NS" flannel-lease --etcd-endpoints="$ETCD_EP" --oneshot \
		--subnet-file="$BATS_TEST_TMPDIR/ll.env" --iface=b0
	[ "$status" -eq 0 ]
	[[ "$output" == *'"public_ipv6":"2001:db8::5"'* ]]
}

@test "vxlan Backend key of the wrong type: exit 78 naming the key, as flanneld" {
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","VNI":"7"}}' /vni
	run lease --etcd-prefix=/vni --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"/vni/config"*"VNI"* ]]
	[ ! -e "$ENV_FILE" ]
	run flanneld --etcd-endpoints="$ETCD_EP" --etcd-prefix=/vni --iface=lo --dry-run
	echo "$output"
	[ "$status" -eq 78 ]
	[[ "$output" == *"/vni/config"*"VNI"* ]]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan","Port":"8472"}}' /port
	run lease --etcd-prefix=/port --oneshot --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	[ "$status" -eq 78 ]
	[[ "$output" == *"Port"* ]]
}

@test "two flannel-lease for one subnet file: the second exits 75 naming the first's PID" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	wait_for 10 test -s "$ENV_FILE"
	run lease --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	echo "$output"
	[ "$status" -eq 75 ]
	[[ "$output" == *"another flannel-lease (pid $LEASE_PID) already keeps the lease of $ENV_FILE"* ]]
	# --oneshot writes the file too: the same.
	run lease_oneshot
	[ "$status" -eq 75 ]
	# Another subnet file is another lock.
	run lease --oneshot --public-ip=192.0.2.2 --subnet-file="$BATS_TEST_TMPDIR/other.env"
	[ "$status" -eq 0 ]
	# Once the first is gone, the lock is free again.
	kill "$LEASE_PID"
	wait "$LEASE_PID" || true
	run lease_oneshot
	[ "$status" -eq 0 ]
}

@test "missing config: flannel-lease waits for it, saying so, then acquires" {
	lease_bg --etcd-prefix=/later --public-ip=192.0.2.1 --subnet-file="$ENV_FILE"
	wait_for 5 grep -q "waiting for config /later/config: not found" "$BATS_TEST_TMPDIR/err"
	kill -0 "$LEASE_PID"
	[ ! -e "$ENV_FILE" ]
	put_config "$NET_CONFIG" /later
	wait_for 5 test -s "$ENV_FILE"
	kill -0 "$LEASE_PID"
	grep -q '"type":"acquired"' "$BATS_TEST_TMPDIR/out"
}

@test "etcd down at start: flannel-lease retries with backoff instead of exiting 69" {
	port=$(free_port)
	flannel-lease --etcd-endpoints="http://127.0.0.1:$port" --mtu=1450 \
		--public-ip=192.0.2.1 --subnet-file="$ENV_FILE" \
		>"$BATS_TEST_TMPDIR/out" 2>"$BATS_TEST_TMPDIR/err" 3>&- &
	pid=$!
	track_pid "$pid"
	wait_for 5 grep -q "waiting for config /coreos.com/network/config: etcd unreachable" \
		"$BATS_TEST_TMPDIR/err"
	sleep 3
	kill -0 "$pid"
	# Backoff: a few tries in 3 s, not one per 10 ms; one line per 10 s.
	[ "$(grep -c waiting "$BATS_TEST_TMPDIR/err")" -eq 1 ]
	kill "$pid"
	st=0
	wait "$pid" || st=$?
	[ "$st" -eq 0 ]
}

@test "after an etcd outage flannel-lease says it recovered" {
	lease_bg --public-ip=192.0.2.1 --subnet-file="$ENV_FILE" \
		--subnet-lease-ttl=6s --subnet-lease-renew-margin=3s
	wait_for 10 test -s "$ENV_FILE"
	etcd_restart
	wait_for 15 grep -q "etcd reachable again after .*: recovered, lease" "$BATS_TEST_TMPDIR/err"
	cat "$BATS_TEST_TMPDIR/err"
	kill -0 "$LEASE_PID"
}
