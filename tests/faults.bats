#!/usr/bin/env bats
# The fault suite (issue 12): hostile leases written straight into etcd, etcd
# taken away under running hosts, a three-member etcd losing members, the
# long-running tools killed mid-sync.  Each test prints the figure that
# docs/RELIABILITY.md records, as a line "# figure: ...".
# shellcheck disable=SC2016  # commands for flannel-ext are single-quoted on purpose

load helpers
load overlay
bats_require_minimum_version 1.5.0

teardown() { fl_teardown; }

P=/coreos.com/network
# Hosts lease below 100.64.100.0; the hostile keys live above it.
CONF='{"Network":"100.64.0.0/16","SubnetMax":"100.64.99.0","Backend":{"Type":"vxlan"}}'

figure() { echo "# figure: $*" >&3; }

# raw_put KEYFILE VALUEFILE / raw_del KEYFILE: any bytes through the gateway.
raw_put() {
	printf '{"key":"%s","value":"%s"}' "$(base64 -w0 <"$1")" "$(base64 -w0 <"$2")" >"$D/put.json"
	ip netns exec "$ETCD_NS" curl -sS --fail -o /dev/null -X POST \
		--data-binary "@$D/put.json" "$ETCD_EP/v3/kv/put"
}
raw_del() {
	ip netns exec "$ETCD_NS" curl -sS --fail -o /dev/null -X POST \
		--data-binary "{\"key\":\"$(base64 -w0 <"$1")\"}" "$ETCD_EP/v3/kv/deleterange"
}

# vtep I: host I's VTEP MAC, as its lease says.
vtep() { in_host "$1" cat /sys/class/net/flannel.1/address; }

@test "faults: a table of hostile leases against two vxlan hosts and an extension host at once" {
	local i k n=0 mark
	cluster_start 4 "$CONF"
	vx_host 1
	vx_host 2
	mark="$D/pwned"
	lease_start 3 extension
	applier_start 3 flannel-ext --backend-type=any \
		--add 'read d; echo "add $SUBNET $PUBLIC_IP" >>'"$D/ext.log" \
		--remove 'read d; echo "del $SUBNET $PUBLIC_IP" >>'"$D/ext.log"
	for i in 1 2 3; do wait_for 10 synced "$i" || wait_for 10 grep -q 'snapshot' "$D/watch$i.log" || true; done
	wait_for 10 has_route 1 "$(subnet_of 2)"
	wait_for 10 has_route 2 "$(subnet_of 1)"
	wait_for 10 grep -q "add $(subnet_of 1) 192.0.2.1" "$D/ext.log"
	for i in 1 2; do kernel_state "$i" >"$D/before$i"; done
	cp "$D/ext.log" "$D/ext.before"

	V() { printf '{"PublicIP":"%s","PublicIPv6":null,"BackendType":"%s","BackendData":%s}' "$@"; }
	mac='{"VNI":1,"VtepMAC":"02:00:00:00:66:01"}'
	h1=$(subnet_of 1) h1k=$(subnet_of 1 | tr / -)
	# name|key leaf (printf escapes)|value (printf escapes)
	cat >"$D/table" <<-EOT
	broken JSON|100.64.201.0-24|{"PublicIP":
	duplicate keys|100.64.202.0-24|{"PublicIP":"192.0.2.50","PublicIP":"192.0.2.51","BackendType":"vxlan","BackendData":$mac}
	wrong family|100.64.204.0-24|$(V 2001:db8::9 vxlan "$mac")
	inside our subnet|${h1k%-24}-25|$(V 192.0.2.60 vxlan "$mac")
	outside the network|198.51.100.0-24|$(V 192.0.2.62 vxlan "$mac")
	0.0.0.0 public IP|100.64.205.0-24|$(V 0.0.0.0 vxlan "$mac")
	loopback public IP|100.64.206.0-24|$(V 127.0.0.1 vxlan "$mac")
	multicast public IP|100.64.207.0-24|$(V 224.0.0.1 vxlan "$mac")
	broadcast public IP|100.64.208.0-24|$(V 255.255.255.255 vxlan "$mac")
	bad MAC|100.64.209.0-24|$(V 192.0.2.63 vxlan '{"VNI":1,"VtepMAC":"zz:00:00:00:00:01"}')
	multicast MAC|100.64.210.0-24|$(V 192.0.2.64 vxlan '{"VNI":1,"VtepMAC":"01:00:5e:00:00:01"}')
	VNI out of range|100.64.211.0-24|$(V 192.0.2.65 vxlan '{"VNI":16777216,"VtepMAC":"02:00:00:00:66:02"}')
	shell in BackendData|100.64.212.0-24|$(V 192.0.2.66 extension "\"\$(touch $mark)\`touch $mark\`;touch $mark\"")
	shell in BackendType|100.64.213.0-24|$(V 192.0.2.67 "vxlan;touch $mark" "$mac")
	shell in the key|100.64.214.0-24;touch $mark|$(V 192.0.2.68 extension '"x"')
	NUL in the key|${h1k}\\000x|$(V 192.0.2.69 vxlan "$mac")
	newline in the key|100.64.215.0-24\\nflanneld: all networks synced: ready|$(V 192.0.2.70 vxlan "$mac")
	non-UTF-8 key|100.64.216.0-24\\377\\376|$(V 192.0.2.71 vxlan "$mac")
	non-UTF-8 value|100.64.217.0-24|{"PublicIP":"192.0.2.72\\377","BackendType":"vxlan","BackendData":$mac}
	IPv4-mapped IPv6 key|0.0.0.0-0&::ffff:6440:0-112|$(V 192.0.2.73 vxlan "$mac")
	EOT
	{ printf '{"PublicIP":"192.0.2.74","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:00:00:00:66:03","Pad":"'
	  head -c 1200000 /dev/zero | tr '\0' x
	  printf '"}}'; } >"$D/v.huge"
	while IFS='|' read -r _ leaf val; do
		n=$((n + 1))
		# shellcheck disable=SC2059  # the table holds printf escapes on purpose
		printf "$P/subnets/$leaf" >"$D/k.$n"
		# shellcheck disable=SC2059
		printf "$val" >"$D/v.$n"
		raw_put "$D/k.$n" "$D/v.$n"
	done <"$D/table"
	n=$((n + 1))
	printf '%s/subnets/100.64.203.0-24' "$P" >"$D/k.$n"
	cp "$D/v.huge" "$D/v.$n"
	raw_put "$D/k.$n" "$D/v.$n"
	# A lease for the whole network: refused by every applier.  (It also
	# leaves no subnet free to acquire, as upstream: removed before host 4.)
	printf '%s/subnets/100.64.0.0-16' "$P" >"$D/k.whole"
	V 192.0.2.61 vxlan "$mac" >"$D/v.whole"
	raw_put "$D/k.whole" "$D/v.whole"
	wait_for 10 grep -q "100.64.0.0/16 is the whole network" "$D/apply2.log"
	wait_for 10 grep -q "100.64.0.0/16 is the whole network" "$D/apply1.log"
	wait_for 10 grep -q "refuse lease 100.64.0.0/16" "$D/apply3.log"
	raw_del "$D/k.whole"
	# The stream goes on: a good host joins after the table and is seen by all.
	vx_host 4
	wait_for 15 has_route 1 "$(subnet_of 4)"
	wait_for 15 has_route 2 "$(subnet_of 4)"
	wait_for 15 grep -q "add $(subnet_of 4) 192.0.2.4" "$D/ext.log"
	wait_for 15 has_route 4 "$(subnet_of 1)"
	wait_for 15 has_route 4 "$(subnet_of 2)"
	wait_for 5 in_container 1 ping -c 1 -W 1 "$(caddr 4)" || {
		cat "$D/apply1.log" "$D/apply4.log" "$D/watch4.log" "$D/lease4.log"
		kernel_state 1; kernel_state 4; ip -n "$(host_ns 4)" addr; false; }
	wait_for 5 in_container 4 ping -c 1 -W 1 "$(caddr 2)"
	for i in 1 2 3; do echo "== watch $i"; cat "$D/watch$i.log"; echo "== apply $i"; cat "$D/apply$i.log"; done
	cat "$D/ext.log"
	# Nothing executed.
	[ ! -e "$mark" ]
	# Each invalid one reported once by each watch, its key escaped.
	for i in 1 2 3; do
		for k in 100.64.201.0-24 100.64.202.0-24 100.64.204.0-24 100.64.205.0-24 \
			100.64.206.0-24 100.64.207.0-24 100.64.208.0-24 100.64.213.0-24 \
			100.64.217.0-24 100.64.203.0-24 "${h1k}"'\x00x' \
			'100.64.215.0-24\x0aflanneld: all networks synced: ready' \
			'100.64.216.0-24\xff\xfe' "100.64.214.0-24;touch $mark" \
			'0.0.0.0-0&::ffff:6440:0-112'; do
			[ "$(grep -cF -- "$P/subnets/$k:" "$D/watch$i.log")" -eq 1 ] ||
				{ echo "host $i: $k not reported exactly once"; false; }
		done
		# No forged log line, no raw control byte in any log.
		run ! grep -q '^flanneld: all networks synced' "$D/watch$i.log" "$D/apply$i.log"
		run ! grep -qP '[\x00-\x08\x0b-\x1f\x7f]' "$D/watch$i.log" "$D/apply$i.log"
	done
	[ "$(grep -c "subnets/100.64.203.0-24: value of" "$D/watch1.log")" -eq 1 ]
	# The kernel appliers refused the ones only they can judge.
	grep -q "overlaps our own subnet" "$D/apply1.log"
	grep -q "100.64.0.0/16 is the whole network" "$D/apply2.log"
	grep -q "198.51.100.0/24 is outside the network" "$D/apply2.log"
	# The extension host (all backend types) ran commands only for leases
	# valid for it: the hosts, the /25 (it overlaps host 1, not us) and the
	# vxlan ones whose VtepMAC or VNI only a vxlan host uses.
	run ! grep -vE "^(add|del) ($(subnet_of 1) 192.0.2.1|$(subnet_of 2) 192.0.2.2|$(subnet_of 4) 192.0.2.4|${h1%/24}/25 192.0.2.60|100.64.209.0/24 192.0.2.63|100.64.210.0/24 192.0.2.64|100.64.211.0/24 192.0.2.65|100.64.212.0/24 192.0.2.66)$" "$D/ext.log"
	# Every hostile key deleted: each host is back to exactly its state before.
	for k in $(seq 1 "$n"); do raw_del "$D/k.$k"; done
	kill "$LEASE_PID_4"
	wait "$LEASE_PID_4" 2>/dev/null || true
	etcdctl_ del "$P/subnets/$(subnet_of 4 | tr / -)" >/dev/null
	for i in 1 2; do
		wait_for 10 no_route "$i" "$(subnet_of 4)"
		wait_for 5 no_route "$i" "${h1%/24}/25"
	done
	sleep 0.5
	for i in 1 2; do
		kernel_state "$i" >"$D/after$i"
		diff -u "$D/before$i" "$D/after$i"
	done
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	kill -0 "$APPLY_PID_1" "$APPLY_PID_2" "$APPLY_PID_3"
	figure "hostile leases: $n written, 0 executed, hosts 1-2 kernel state identical after, stream went on"
}

# etcd_down / etcd_up: the test's etcd killed, and started again on its data.
etcd_down() {
	kill -9 "$ETCD_PID"
	wait "$ETCD_PID" 2>/dev/null || true
}
etcd_up() {
	ip netns exec "$ETCD_NS" etcd "${ETCD_ARGS[@]}" >>"$ETCD_DIR/log" 2>&1 3>&- &
	ETCD_PID=$!
	track_pid "$ETCD_PID"
	etcd_wait
}

@test "faults: etcd killed for 12 s (four renewals) under two vxlan hosts: nothing removed, retries logged, recovery logged, a new host seen" {
	local i t0 t1 pings=0
	cluster_start 3 "$CONF"
	for i in 1 2; do
		vx_host "$i" --subnet-lease-ttl=30s --subnet-lease-renew-margin=27s --etcd-timeout=1s
	done
	wait_for 10 has_route 1 "$(subnet_of 2)"
	wait_for 10 has_route 2 "$(subnet_of 1)"
	in_container 1 ping -c 1 -W 2 "$(caddr 2)"
	for i in 1 2; do kernel_state "$i" >"$D/before$i"; done
	etcd_down
	t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt 12 ]; do
		in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null && pings=$((pings + 1))
		sleep 1
	done
	for i in 1 2; do kernel_state "$i" >"$D/during$i"; done
	etcd_up
	for i in 1 2; do
		wait_for 20 grep -q 'etcd reachable again' "$D/lease$i.log"
		wait_for 20 grep -q 'etcd reachable again' "$D/watch$i.log"
	done
	for i in 1 2; do echo "== lease $i"; cat "$D/lease$i.log"; echo "== watch $i"; cat "$D/watch$i.log"; done
	for i in 1 2; do
		diff -u "$D/before$i" "$D/during$i"
		grep -q 'etcd unreachable: .*retrying' "$D/lease$i.log"
		[ "$(grep -c "renew lease .*retrying" "$D/lease$i.log")" -ge 1 ]
		grep -q 'watch leases: .*; retrying' "$D/watch$i.log"
		kill -0 "$(eval echo "\$LEASE_PID_$i")"
	done
	# A new host after the outage: seen by both, with no restart.
	t1=$(date +%s%N)
	vx_host 3
	wait_for 10 has_route 1 "$(subnet_of 3)"
	wait_for 10 has_route 2 "$(subnet_of 3)"
	t1=$((($(date +%s%N) - t1) / 1000000))
	in_container 1 ping -c 1 -W 2 "$(caddr 3)"
	for i in 1 2; do kernel_state "$i" >"$D/after$i"; done
	# Nothing of before was removed (host 3's entries were added).
	for i in 1 2; do
		[ "$(jq -n --slurpfile b "$D/before$i" --slurpfile a "$D/after$i" \
			'[range(0; $b | length) as $k | $b[$k][] as $x | any($a[$k][]; . == $x)] | all')" = true ]
	done
	[ "$pings" -ge 10 ]
	figure "etcd down 12 s: $pings/12 pings during the outage, 0 kernel objects removed, new host routed in $t1 ms (lease to both routes)"
}

@test "faults: etcd stopped (SIGSTOP) for 12 s under two vxlan hosts: nothing removed, flannel-lease retries and recovers, a new host seen after" {
	local i t0 t1 pings=0 recovered
	cluster_start 3 "$CONF"
	for i in 1 2; do
		vx_host "$i" --subnet-lease-ttl=30s --subnet-lease-renew-margin=27s --etcd-timeout=1s
	done
	wait_for 10 has_route 1 "$(subnet_of 2)"
	wait_for 10 has_route 2 "$(subnet_of 1)"
	for i in 1 2; do kernel_state "$i" >"$D/before$i"; done
	# A silent etcd, not a dead one: connections stay open, nothing answers.
	kill -STOP "$ETCD_PID"
	t0=$(date +%s)
	while [ $(($(date +%s) - t0)) -lt 12 ]; do
		in_container 1 ping -c 1 -W 1 "$(caddr 2)" >/dev/null && pings=$((pings + 1))
		sleep 1
	done
	for i in 1 2; do kernel_state "$i" >"$D/during$i"; done
	kill -CONT "$ETCD_PID"
	# Recovered: a renewal that had failed went through, or the session is back.
	recovered='renewed lease .* after [0-9]+ failed attempt|etcd reachable again'
	for i in 1 2; do
		wait_for 30 grep -Eq "$recovered" "$D/lease$i.log" || true
	done
	for i in 1 2; do echo "== lease $i"; cat "$D/lease$i.log"; echo "== watch $i"; cat "$D/watch$i.log"; done
	for i in 1 2; do
		grep -Eq "$recovered" "$D/lease$i.log"
		diff -u "$D/before$i" "$D/during$i"
		grep -q 'etcd unreachable.*retrying' "$D/lease$i.log"
		kill -0 "$(eval echo "\$LEASE_PID_$i")"
		kill -0 "$(eval echo "\$APPLY_PID_$i")"
	done
	t1=$(date +%s%N)
	vx_host 3
	wait_for 20 has_route 1 "$(subnet_of 3)"
	wait_for 20 has_route 2 "$(subnet_of 3)"
	t1=$((($(date +%s%N) - t1) / 1000000))
	[ "$pings" -ge 10 ]
	figure "etcd stopped 12 s: $pings/12 pings, 0 kernel objects removed, flannel-lease retried and recovered, a new host routed on both in $t1 ms"
}

# member_start I: member I of the three-member cluster (ports in CP/PP).
member_start() {
	local i=$1
	etcd --name "m$i" --data-dir "$EDIR/m$i" \
		--listen-client-urls "http://127.0.0.1:${CP[$i]}" \
		--advertise-client-urls "http://127.0.0.1:${CP[$i]}" \
		--listen-peer-urls "http://127.0.0.1:${PP[$i]}" \
		--initial-advertise-peer-urls "http://127.0.0.1:${PP[$i]}" \
		--initial-cluster "$ICLUSTER" --initial-cluster-state new \
		--heartbeat-interval 20 --election-timeout 200 >>"$EDIR/m$i.log" 2>&1 3>&- &
	MPID[$i]=$!
	track_pid "${MPID[$i]}"
}

# leader: the index (1..3) of the member that is leader now.
leader() {
	local i st
	for i in 1 2 3; do
		st=$(ETCDCTL_API=3 etcdctl --endpoints "http://127.0.0.1:${CP[$i]}" --command-timeout=1s \
			endpoint status -w json 2>/dev/null) || continue
		if [ "$(echo "$st" | jq '.[0].Status.leader == .[0].Status.header.member_id')" = true ]; then
			echo "$i"
			return 0
		fi
	done
	return 1
}

# op put|del KEY [VALUE]: against the whole cluster, retried while it has no
# quorum (bounded: 100 tries).
op() {
	for _ in $(seq 1 100); do
		ETCDCTL_API=3 etcdctl --endpoints "$ALL" --dial-timeout=1s --command-timeout=2s \
			"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	echo "op $* failed" >&2
	return 1
}

# etcd3_start: three members on 127.0.0.1 (data in /dev/shm), a leader
# elected, the network config put; CP/PP/MPID by member, ALL the endpoints.
etcd3_start() {
	local i
	EDIR=$(mktemp -d "/dev/shm/flannel-etcd.$(fl_id).XXXX")
	echo "$EDIR" >>"$BATS_TEST_TMPDIR/dirs"
	D=$BATS_TEST_TMPDIR
	CP=() PP=() MPID=()
	for i in 1 2 3; do CP[i]=$(free_port); PP[i]=$(free_port); done
	ICLUSTER="m1=http://127.0.0.1:${PP[1]},m2=http://127.0.0.1:${PP[2]},m3=http://127.0.0.1:${PP[3]}"
	ALL="http://127.0.0.1:${CP[1]},http://127.0.0.1:${CP[2]},http://127.0.0.1:${CP[3]}"
	for i in 1 2 3; do member_start "$i"; done
	wait_for 20 leader
	op put "$P/config" "$CONF"
}

@test "faults: a three-member etcd losing its leader and the watched member under a writer: no event lost or duplicated" {
	need_root
	local i k l w n=240
	etcd3_start
	# The watch talks to member 2 first.
	flannel-watch --etcd-endpoints="http://127.0.0.1:${CP[2]},http://127.0.0.1:${CP[1]},http://127.0.0.1:${CP[3]}" \
		--subnet-file="$D/none.env" >"$D/w.out" 2>"$D/w.err" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$D/w.out"
	# The writer: n puts, every third key deleted again.
	(
		for k in $(seq 1 "$n"); do
			op put "$P/subnets/100.$((64 + k / 200)).$((k % 200)).0-24" \
				"{\"PublicIP\":\"198.18.0.$((k % 250 + 1))\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}" || exit 1
			if [ $((k % 3)) = 0 ]; then
				op del "$P/subnets/100.$((64 + (k - 1) / 200)).$(((k - 1) % 200)).0-24" || exit 1
			fi
		done
	) 3>&- &
	w=$!
	track_pid "$w"
	sleep 1
	l=$(leader)
	# Both kills fall while the writer writes, or the claim is not tested.
	kill -0 "$w"
	kill -9 "${MPID[$l]}"
	sleep 2
	member_start "$l"
	sleep 2
	kill -0 "$w"
	kill -9 "${MPID[2]}"
	sleep 2
	member_start 2
	wait "$w"
	wait_for 20 leader
	# etcd's own history of the prefix against what the watch said.
	rev=$(ETCDCTL_API=3 etcdctl --endpoints "$ALL" get "$P/config" -w json | jq -r '.header.revision')
	wait_for 20 grep -q "$(printf '100.%d.%d.0-24' $((64 + n / 200)) $((n % 200)))" "$D/w.out"
	sleep 1
	timeout 5 env ETCDCTL_API=3 etcdctl --endpoints "$ALL" watch --prefix --rev=1 "$P/subnets/" -w json \
		>"$D/hist.json" 2>/dev/null || true
	jq -r '.Events[]? | "\(if .type == 1 then "removed" else "added" end) \(.kv.key | @base64d | sub(".*/"; ""))"' \
		"$D/hist.json" >"$D/want"
	jq -r 'select(.type == "added" or .type == "removed") | "\(.type) \(.key)"' "$D/w.out" >"$D/got"
	cat "$D/w.err"
	wc -l "$D/want" "$D/got"
	diff -u "$D/want" "$D/got"
	# The final view equals etcd's.
	ETCDCTL_API=3 etcdctl --endpoints "$ALL" get --prefix --keys-only "$P/subnets/" |
		sed -n 's|^.*/subnets/||p' | sort >"$D/keys"
	awk '{ s[$2] = $1 } END { for (k in s) if (s[k] == "added") print k }' "$D/got" | sort >"$D/view"
	diff -u "$D/keys" "$D/view"
	# A put retried after a lost answer is a second event in etcd too.
	[ "$(wc -l <"$D/got")" -ge $((n + n / 3)) ]
	# The watch did lose its member and resume.
	grep -q 'watch leases: .*retrying' "$D/w.err"
	figure "three-member etcd, leader m$l and watched m2 killed: $(wc -l <"$D/got") of $((n + n / 3)) events, 0 lost, 0 duplicated, in etcd's order (revision $rev)"
}

@test "faults: the watched member of a three-member etcd frozen (SIGSTOP): the watch asks it, moves to another member, and a lease written meanwhile arrives" {
	need_root
	local t0 t1
	etcd3_start
	op put "$P/subnets/100.64.1.0-24" '{"PublicIP":"198.18.0.1","PublicIPv6":null,"BackendType":"host-gw"}'
	# The watch talks to member 2 first; a silent stream is checked after 2 s.
	flannel-watch --etcd-endpoints="http://127.0.0.1:${CP[2]},http://127.0.0.1:${CP[1]},http://127.0.0.1:${CP[3]}" \
		--subnet-file="$D/none.env" --probe-interval=2s --etcd-timeout=1s -v 1 \
		>"$D/w.out" 2>"$D/w.err" 3>&- &
	track_pid "$!"
	wait_for 10 grep -q '"type":"sync"' "$D/w.out"
	# A frozen process: its kernel still keeps the TCP stream up.
	kill -STOP "${MPID[2]}"
	# Writes go to the other two (a request left in the frozen member's
	# socket would be carried out on SIGCONT).
	local want ALL="http://127.0.0.1:${CP[1]},http://127.0.0.1:${CP[3]}"
	t0=$(date +%s%N)
	op put "$P/subnets/100.64.2.0-24" '{"PublicIP":"198.18.0.2","PublicIPv6":null,"BackendType":"host-gw"}'
	wait_for 15 grep -q '"key":"100.64.2.0-24"' "$D/w.out" ||
		{ kill -CONT "${MPID[2]}"; cat "$D/w.err"; false; }
	t1=$(date +%s%N)
	kill -CONT "${MPID[2]}"
	cat "$D/w.err"
	grep -q "etcd member http://127.0.0.1:${CP[2]} does not answer while its watch stream is silent" "$D/w.err"
	grep -q 'resuming from revision' "$D/w.err"
	# Still watching, from the member it moved to: one more change, each event once.
	op put "$P/subnets/100.64.3.0-24" '{"PublicIP":"198.18.0.3","PublicIPv6":null,"BackendType":"host-gw"}'
	wait_for 10 grep -q '"key":"100.64.3.0-24"' "$D/w.out"
	# Each put once: a put whose answer was lost (the frozen member may have
	# been the leader) and was retried is two puts in etcd as well, so the
	# count to match is etcd's: the keys' versions add up to their puts.
	want=$(ETCDCTL_API=3 etcdctl --endpoints "$ALL" get --prefix "$P/subnets/" -w json |
		jq '[.kvs[].version | tonumber] | add')
	grep '"type":"added"' "$D/w.out"
	[ "$(grep -c '"type":"added"' "$D/w.out")" -eq "$want" ]
	jq -s -e 'map(select(.type == "added") | .revision) | . == (unique | sort)' "$D/w.out"
	[ "$(jq -r 'select(.type == "added") | .key' "$D/w.out" | sort -u | wc -l)" -eq 3 ]
	figure "watched member frozen: the lease written meanwhile arrived after $(( (t1 - t0) / 1000000 )) ms (--probe-interval=2s, --etcd-timeout=1s)"
}

# vx_state NS: routes, nexthops, neighbours and FDB of flannel.1 in NS,
# without the nexthop ids (a restart may number them differently).
vx_state() {
	{
		ip -j -n "$1" route show dev flannel.1 | jq -S 'map(del(.nhid)) | sort_by(.dst)'
		ip -j -n "$1" nexthop show | jq -S 'map(del(.id)) | sort_by(.gateway)'
		ip -j -n "$1" neigh show dev flannel.1 | jq -S 'sort_by(.dst)'
		bridge -j -n "$1" fdb show dev flannel.1 | jq -S 'map(select(.dst != null)) | sort_by(.mac)'
	}
}

# kill_mid_sync HIT COUNT STATE WANT TOOL...: the applier TOOL... in
# namespace HIT killed with SIGKILL at 2, 5, 10, 20 and 300 ms into the
# snapshot $D/full (its sync marker held back), then run again on the whole
# of it: STATE HIT equal to the file WANT each time, as many nexthops as
# NEXTHOPS, and emptied by $D/empty for the next point.  KILL_POINTS: what
# COUNT HIT (its routes) said at each kill.
kill_mid_sync() {
	local hit=$1 count=$2 state=$3 want=$4 ms pid
	shift 4
	KILL_POINTS=""
	for ms in 2 5 10 20 300; do
		mkfifo "$D/fifo.$ms"
		ip netns exec "$hit" "$@" <"$D/fifo.$ms" >"$D/kill.$ms.log" 2>&1 3>&- &
		pid=$!
		track_pid "$pid"
		{ head -n -1 "$D/full"; sleep 5; } >"$D/fifo.$ms" 3>&- &
		track_pid "$!"
		sleep "0.$(printf '%03d' "$ms")"
		kill -9 "$pid"
		wait "$pid" 2>/dev/null || true
		KILL_POINTS="$KILL_POINTS $ms ms: $("$count" "$hit") routes;"
		# Restarted: the same snapshot again, to the end.
		ip netns exec "$hit" "$@" <"$D/full" >"$D/restart.$ms.log" 2>&1
		"$state" "$hit" >"$D/got.$ms"
		diff -u "$want" "$D/got.$ms"
		# Nothing stale from the killed run.
		[ "$(ip -n "$hit" nexthop show | wc -l)" -eq "$NEXTHOPS" ]
		# Back to nothing for the next point.
		ip netns exec "$hit" "$@" <"$D/empty" >/dev/null 2>&1
		[ "$("$count" "$hit")" -eq 0 ]
		[ -z "$(ip -n "$hit" nexthop show)" ]
	done
}

vx_routes() { ip -n "$1" route show dev flannel.1 | wc -l; }

# sync_files N [TYPE]: $D/env (our subnet 100.64.1.0/24), $D/full (a
# snapshot of N synthetic leases, of BackendType TYPE when given) and
# $D/empty (a snapshot of none).
sync_files() {
	printf 'FLANNEL_NETWORK=100.64.0.0/10\nFLANNEL_SUBNET=100.64.1.1/24\n' >"$D/env"
	{
		echo '{"type":"snapshot","revision":1}'
		if [ -n "${2:-}" ]; then
			lease_lines "$1" 2 | sed "s/\"backend_type\":\"vxlan\",\"backend_data\":{[^}]*}/\"backend_type\":\"$2\"/"
		else
			lease_lines "$1" 2
		fi
		echo '{"type":"sync","revision":1}'
	} >"$D/full"
	printf '%s\n' '{"type":"snapshot","revision":2}' '{"type":"sync","revision":2}' >"$D/empty"
}

@test "faults: flannel-vxlan killed with SIGKILL at five points of an initial sync of 2000 leases, then restarted: the clean run's state, no stale nexthop" {
	need_root
	fl_id >/dev/null
	local clean hit n=2000
	D=$BATS_TEST_TMPDIR
	clean="$(fl_id)vc" hit="$(fl_id)vk"
	vtep_ns "$clean"
	vtep_ns "$hit"
	sync_files "$n"
	ip netns exec "$clean" flannel-vxlan apply --no-monitor --no-setup --subnet-file="$D/env" <"$D/full"
	vx_state "$clean" >"$D/want"
	[ "$(vx_routes "$clean")" -eq "$n" ]
	# One nexthop per route.
	NEXTHOPS=$n
	kill_mid_sync "$hit" vx_routes vx_state "$D/want" \
		flannel-vxlan apply --no-monitor --no-setup --subnet-file="$D/env"
	figure "flannel-vxlan SIGKILL mid-sync of $n leases at$KILL_POINTS restart equal to the clean run each time"
}

rt_state() {
	ip -j -n "$1" route show proto 76 | jq -S 'map(del(.nhid)) | sort_by(.dst)'
	ip -j -n "$1" nexthop show | jq -S 'map(del(.id)) | sort_by(.gateway)'
}

rt_routes() { ip -n "$1" route show proto 76 | wc -l; }

@test "faults: flannel-route killed with SIGKILL at five points of an initial sync of 2000 leases, then restarted: the clean run's state, no stale nexthop" {
	need_root
	fl_id >/dev/null
	local clean hit n=2000
	D=$BATS_TEST_TMPDIR
	clean="$(fl_id)rc" hit="$(fl_id)rk"
	# eth0 at 198.18.0.1/15: every lease's PublicIP (198.18.x.y) is on the link.
	ul_ns "$clean"
	ul_ns "$hit"
	sync_files "$n" host-gw
	ip netns exec "$clean" flannel-route apply --no-monitor --subnet-file="$D/env" <"$D/full"
	rt_state "$clean" >"$D/want"
	[ "$(rt_routes "$clean")" -eq "$n" ]
	NEXTHOPS=$(ip -n "$clean" nexthop show | wc -l)
	kill_mid_sync "$hit" rt_routes rt_state "$D/want" \
		flannel-route apply --no-monitor --subnet-file="$D/env"
	figure "flannel-route SIGKILL mid-sync of $n leases at$KILL_POINTS restart equal to the clean run each time"
}

@test "faults: flannel-ext killed with SIGKILL at five points of an initial sync of 300 leases, then restarted: its hooks' effect equals a clean run's" {
	need_root
	local ms pid n=300 hit_points="" clean hit
	D=$BATS_TEST_TMPDIR
	printf 'FLANNEL_NETWORK=100.64.0.0/10\nFLANNEL_SUBNET=100.64.1.1/24\n' >"$D/env"
	{
		echo '{"type":"snapshot","revision":1}'
		lease_lines "$n" 2 | sed 's/"backend_type":"vxlan"/"backend_type":"extension"/'
		echo '{"type":"sync","revision":1}'
	} >"$D/full"
	# The hooks' effect: one file per subnet, holding the lease's PUBLIC_IP.
	EXT=(flannel-ext apply --backend-type=any --subnet-file="$D/env" --pass-env=DIR
		--add='echo "$PUBLIC_IP" >"$DIR/${SUBNET%/*}"' --remove='rm -f "$DIR/${SUBNET%/*}"')
	ext() { DIR=$1 "${EXT[@]}"; }
	effect() { (cd "$1" && grep -r . | sort); }
	clean="$D/clean" hit="$D/hit"
	mkdir "$clean"
	ext "$clean" <"$D/full" 2>"$D/clean.log"
	effect "$clean" >"$D/want"
	[ "$(wc -l <"$D/want")" -eq "$n" ]
	for ms in 2 5 10 20 300; do
		rm -rf "$hit"
		mkdir "$hit"
		mkfifo "$D/fifo.$ms"
		# A simple command, so that $! is flannel-ext itself (a function
		# would put a subshell there, and the SIGKILL would miss the tool);
		# setsid execs in place and gives it a process group of its own.
		DIR=$hit setsid "${EXT[@]}" <"$D/fifo.$ms" >"$D/kill.$ms.log" 2>&1 3>&- &
		pid=$!
		track_pid "$pid"
		{ head -n -1 "$D/full"; sleep 5; } >"$D/fifo.$ms" 3>&- &
		track_pid "$!"
		wait_for 5 grep -qx flannel-ext "/proc/$pid/comm"
		sleep "0.$(printf '%03d' "$ms")"
		kill -9 "$pid"
		wait "$pid" 2>/dev/null || true
		# The hooks it had started run to their end, as they would on a host.
		wait_for 10 bash -c "! pgrep -g $pid >/dev/null"
		hit_points="$hit_points $ms ms: $(find "$hit" -type f | wc -l) hooks run;"
		ext "$hit" <"$D/full" >"$D/restart.$ms.log" 2>&1
		effect "$hit" >"$D/got.$ms"
		diff -u "$D/want" "$D/got.$ms"
	done
	figure "flannel-ext SIGKILL mid-sync of $n leases at$hit_points after restart the hooks' effect equals the clean run's"
}

@test "faults: flannel-masq watch killed with SIGKILL at five points of its start, then restarted: the clean run's nft table" {
	need_root
	command -v nft >/dev/null || { require "nft (apt-get install nftables)"; skip "no nft"; }
	fl_id >/dev/null
	local ms pid ns hit_points=""
	D=$BATS_TEST_TMPDIR
	ns="$(fl_id)mk"
	ip netns add "$ns"
	echo "$ns" >>"$BATS_TEST_TMPDIR/netns"
	printf 'FLANNEL_NETWORK=100.64.0.0/10\nFLANNEL_SUBNET=100.64.1.1/24\nFLANNEL_IPV6_NETWORK=2001:db8::/48\nFLANNEL_IPV6_SUBNET=2001:db8:0:1::1/64\nFLANNEL_IPMASQ=true\n' >"$D/env"
	ip netns exec "$ns" flannel-masq apply --subnet-file="$D/env"
	ip netns exec "$ns" nft list table inet flannel >"$D/want"
	ip netns exec "$ns" flannel-masq delete --subnet-file="$D/env"
	for ms in 2 5 10 20 300; do
		ip netns exec "$ns" flannel-masq watch --subnet-file="$D/env" >"$D/kill.$ms.log" 2>&1 3>&- &
		pid=$!
		track_pid "$pid"
		sleep "0.$(printf '%03d' "$ms")"
		kill -9 "$pid"
		wait "$pid" 2>/dev/null || true
		hit_points="$hit_points $ms ms: $(ip netns exec "$ns" nft list table inet flannel 2>/dev/null | grep -c 'counter' || true) rules;"
		# Restarted: the same table as a clean start, whatever the kill left.
		ip netns exec "$ns" flannel-masq watch --subnet-file="$D/env" >"$D/restart.$ms.log" 2>&1 3>&- &
		pid=$!
		track_pid "$pid"
		wait_for 10 ip netns exec "$ns" nft list table inet flannel
		sleep 0.5
		ip netns exec "$ns" nft list table inet flannel >"$D/got.$ms"
		diff -u "$D/want" "$D/got.$ms"
		kill "$pid"
		wait "$pid" 2>/dev/null || true
		ip netns exec "$ns" flannel-masq delete --subnet-file="$D/env"
	done
	figure "flannel-masq SIGKILL at start at$hit_points restart equal to the clean table each time"
}

# vg_check DIR: every valgrind log in DIR says 0 errors and 0 bytes definitely
# lost; prints one line per process (its program and figures).
vg_check() {
	local f prog errs lost bad=0
	for f in "$1"/vg.*; do
		prog=$(sed -n 's/^==[0-9]*== Command: \([^ ]*\).*/\1/p' "$f" | head -n 1)
		errs=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$f" | tail -n 1)
		lost=$(sed -n 's/^==[0-9]*==  *definitely lost: \([0-9,]*\) bytes.*/\1/p' "$f" | tail -n 1)
		# "All heap blocks were freed" has no definitely-lost line.
		lost=${lost:-0}
		echo "${prog##*/}: ${errs:-?} errors, $lost bytes definitely lost"
		if [ "${errs:-x}" != 0 ] || [ "$lost" != 0 ]; then
			cat "$f"
			bad=1
		fi
	done
	return "$bad"
}

@test "faults: flanneld, flannel-lease, flannel-watch and flannel-vxlan under valgrind (join, peers coming and going, SIGHUP, SIGTERM): 0 errors, 0 definite leaks" {
	command -v valgrind >/dev/null || { require "valgrind (apt-get install valgrind)"; skip "no valgrind"; }
	local n figs
	cluster_start 3 "$CONF"
	vx_host 2
	mkdir -p "$D/vg"
	# The plain build (build/bin, no sanitizer); every piece flanneld
	# starts is traced too.  Leaks are checked at each process's exit.
	bg_in_host 1 "$D/flanneld1.log" valgrind --trace-children=yes \
		--log-file="$D/vg/vg.%p" --leak-check=full --show-leak-kinds=definite \
		--errors-for-leak-kinds=definite "$BIN/flanneld" --bin-dir="$BIN" \
		--etcd-endpoints="$ETCD_EP" --iface=eth0 --subnet-file="$D/h1.env" \
		--iptables-forward-rules=false
	local pid=$LAST_PID
	wait_for 60 grep -q FLANNEL_SUBNET "$D/h1.env" || { cat "$D/flanneld1.log"; false; }
	wait_for 60 has_route 1 "$(subnet_of 2)" || { cat "$D/flanneld1.log"; false; }
	# Peers come and go while it runs; a reload asks each piece to reconcile.
	vx_host 3
	wait_for 30 has_route 1 "$(subnet_of 3)"
	kill -TERM "$(eval echo "\$LEASE_PID_3")"
	etcdctl_ del "$P/subnets/$(subnet_of 3 | tr / -)" >/dev/null
	wait_for 30 no_route 1 "$(subnet_of 3)"
	kill -HUP "$pid"
	sleep 2
	kill -TERM "$pid"
	for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
	run ! kill -0 "$pid"
	cat "$D/flanneld1.log"
	n=$(find "$D/vg" -name 'vg.*' | wc -l)
	figs=$(vg_check "$D/vg") || { echo "$figs"; false; }
	echo "$figs"
	# flanneld, the backend's init, flannel-lease, flannel-watch, flannel-vxlan.
	[ "$n" -ge 5 ]
	for p in flanneld flannel-lease flannel-watch flannel-vxlan; do
		grep -q "^$p: 0 errors, 0 bytes" <<<"$figs"
	done
	figure "valgrind: $n processes, $(tr '\n' ';' <<<"$figs")"
}
