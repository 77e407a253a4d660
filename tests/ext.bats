#!/usr/bin/env bats
# flannel-ext end to end: the extension documentation's two examples run
# verbatim in namespaces with a real etcd, flannel-lease and flannel-watch;
# injection attempts; timeouts.
# shellcheck disable=SC2016  # the seed's commands are single-quoted on purpose

load helpers
bats_require_minimum_version 1.5.0

CONTRIB="${BATS_TEST_DIRNAME}/../contrib"
PREFIX=/coreos.com/network

teardown() { fl_teardown; }

# ext_cluster N CONFIG_FILE: N hosts, etcd in the underlay, the config in etcd.
ext_cluster() {
	topo_create "$1"
	etcd_start "$UL_NS" 192.0.2.254
	put_config "$(cat "$2")"
}

senv() { echo "$BATS_TEST_TMPDIR/h$1.env"; }
# FLANNEL_SUBNET of host I: 100.64.5.1/24
subnet_of() { sed -n 's/^FLANNEL_SUBNET=//p' "$(senv "$1")"; }
# The lease's network address (100.64.5.0), prefix (100.64.5.0/24), key (100.64.5.0-24).
net_ip() { local s; s=$(subnet_of "$1"); echo "${s%.*}.0"; }
net_of() { local s; s=$(subnet_of "$1"); echo "$(net_ip "$1")/${s#*/}"; }
key_of() { local s; s=$(subnet_of "$1"); echo "$(net_ip "$1")-${s#*/}"; }
# The first address (100.64.5.1), held by a bridge or dummy on the host.
host_ip() { local s; s=$(subnet_of "$1"); echo "${s%/*}"; }

# lease_up I [BACKEND_DATA]: host I acquires its lease (it stays in etcd).
lease_up() {
	local i=$1 data=${2:-}
	in_host "$i" flannel-lease --oneshot --quiet --etcd-endpoints="$ETCD_EP" \
		--public-ip="192.0.2.$i" --subnet-file="$(senv "$i")" \
		--backend-type=extension --backend-data="$data"
}

# ext_up I [FLANNEL-EXT ARGS...]: flannel-watch | flannel-ext in host I.
ext_up() {
	local i=$1
	shift
	bg_in_host "$i" "$BATS_TEST_TMPDIR/ext$i.log" sh -c \
		'ep=$1 sf=$2; shift 2
		 flannel-watch --etcd-endpoints="$ep" --subnet-file="$sf" |
		 flannel-ext -v 1 --etcd-endpoints="$ep" "$@"' \
		sh "$ETCD_EP" "$(senv "$i")" "$@"
}

no_route() { [ -z "$(in_host "$1" ip route show "$2")" ]; }

# Gone, or a zombie nobody reaped yet.
pid_dead() {
	[ ! -e "/proc/$1/stat" ] || [ "$(awk '{print $3}' "/proc/$1/stat")" = Z ]
}

@test "ext: seed host-gw example verbatim: ping between overlay addresses; route gone with the lease" {
	need_root
	local cfg="$CONTRIB/extension-host-gw.json" i data
	[ "$(jq -r .Backend.SubnetAddCommand "$cfg")" = 'ip route add $SUBNET via $PUBLIC_IP' ]
	[ "$(jq -r .Backend.SubnetRemoveCommand "$cfg")" = 'ip route del $SUBNET via $PUBLIC_IP' ]
	ext_cluster 2 "$cfg"
	for i in 1 2; do
		data=$(in_host "$i" flannel-ext pre-startup --etcd-endpoints="$ETCD_EP")
		[ -z "$data" ]
		lease_up "$i"
		in_host "$i" flannel-ext post-startup --etcd-endpoints="$ETCD_EP" \
			--subnet-file="$(senv "$i")"
		# The overlay address, on a bridge as a container runtime would make.
		in_host "$i" ip link add ov0 type bridge
		in_host "$i" ip addr add "$(subnet_of "$i")" dev ov0
		in_host "$i" ip link set ov0 up
		ext_up "$i"
	done
	wait_for 20 in_host 1 ping -c1 -W1 -I "$(host_ip 1)" "$(host_ip 2)"
	wait_for 20 in_host 2 ping -c1 -W1 -I "$(host_ip 2)" "$(host_ip 1)"
	run in_host 1 ip route show "$(net_of 2)"
	[[ "$output" == "$(net_of 2) via 192.0.2.2 dev eth0"* ]]
	run in_host 2 ip route show "$(net_of 1)"
	[[ "$output" == "$(net_of 1) via 192.0.2.1 dev eth0"* ]]
	# No route for a host's own subnet.
	run in_host 1 ip route show "$(net_of 1)" via 192.0.2.1
	[ -z "$output" ]

	# Host 2's lease goes away: host 1 runs the remove command.
	etcdctl_ del "$PREFIX/subnets/$(key_of 2)"
	wait_for 20 no_route 1 "$(net_of 2)"
	run in_host 1 ping -c1 -W1 -I "$(host_ip 1)" "$(host_ip 2)"
	[ "$status" -ne 0 ]
	grep -q "run SubnetRemoveCommand for $(net_of 2): exit status 0" "$BATS_TEST_TMPDIR/ext1.log"
}

# vxlan_case CONFIG: the seed's vxlan example between two hosts.
vxlan_case() {
	local cfg=$1 i data mac
	ext_cluster 2 "$cfg"
	for i in 1 2; do
		data=$(in_host "$i" flannel-ext pre-startup --etcd-endpoints="$ETCD_EP")
		mac=$(in_host "$i" cat /sys/class/net/flannel-vxlan/address)
		[ "$data" = "\"$mac\"" ]
		eval "mac$i=\$mac"
		lease_up "$i" "$data"
		in_host "$i" flannel-ext post-startup --etcd-endpoints="$ETCD_EP" \
			--subnet-file="$(senv "$i")" --public-ip="192.0.2.$i"
		ext_up "$i"
	done
	# The lease as upstream's extension backend writes it: BackendData a string.
	run etcdctl_ get --print-value-only "$PREFIX/subnets/$(key_of 1)"
	[ "$output" = "{\"PublicIP\":\"192.0.2.1\",\"PublicIPv6\":null,\"BackendType\":\"extension\",\"BackendData\":\"${mac1:?}\"}" ]
	wait_for 20 in_host 1 ping -c1 -W1 "$(net_ip 2)"
	wait_for 20 in_host 2 ping -c1 -W1 "$(net_ip 1)"
	run in_host 1 ip route get "$(net_ip 2)"
	[[ "$output" == *"dev flannel-vxlan src $(net_ip 1)"* ]]
	run in_host 1 bridge fdb show dev flannel-vxlan
	[[ "$output" == *"${mac2:?} dst 192.0.2.2 self"* ]]
	run in_host 2 ip neigh show "$(net_ip 1)" dev flannel-vxlan
	[[ "$output" == *"lladdr $mac1 PERMANENT"* ]]
	# Only the shell commands made kernel objects: no flannel.1 anywhere.
	run in_host 1 ip link show flannel.1
	[ "$status" -ne 0 ]
}

@test "ext: seed vxlan example verbatim (ip neigh): ping over a VXLAN device only the commands made" {
	need_root
	vxlan_case "$CONTRIB/extension-vxlan.json"
}

@test "ext: seed vxlan example of flannel 0.9.1 verbatim (arp -s)" {
	need_root
	command -v arp >/dev/null || require "needs arp (net-tools)"
	vxlan_case "$CONTRIB/extension-vxlan-arp.json"
}

# The text every injection attempt carries: each form would create a marker.
inject_text() {
	local m="$BATS_TEST_TMPDIR/mark"
	printf '%s' "\$(touch $m.1)\`touch $m.2\`;touch $m.3|touch $m.4&&touch $m.5 \${x:=\$(touch $m.6)}"
}

# No marker file exists (does not touch $output).
no_markers() {
	[ -z "$(find "$BATS_TEST_TMPDIR" -name 'mark*')" ]
}

@test "ext: injection attempts in every lease field written to etcd run nothing" {
	need_root
	local inj j seen="$BATS_TEST_TMPDIR/seen"
	topo_create 1
	etcd_start "$UL_NS" 192.0.2.254
	put_config "$(cat "$CONTRIB/extension-vxlan.json")"
	inj=$(inject_text)
	j=$(jq -Rn --arg s "$inj" '$s')
	# The seed's vxlan device, so that its add command gets as far as $VTEP.
	in_host 1 flannel-ext pre-startup --etcd-endpoints="$ETCD_EP" >/dev/null
	in_host 1 ip link set flannel-vxlan up
	etcdctl_ put "$PREFIX/subnets/100.64.9.0-24" \
		"{\"PublicIP\":\"192.0.2.9\",\"PublicIPv6\":null,\"BackendType\":\"extension\",\"BackendData\":$j}"
	etcdctl_ put "$PREFIX/subnets/100.64.10.0-24" \
		"{\"PublicIP\":\"192.0.2.10;touch $BATS_TEST_TMPDIR/mark.7\",\"BackendType\":\"extension\"}"
	etcdctl_ put "$PREFIX/subnets/100.64.11.0-24&2001:db8:1:11::-64" \
		"{\"PublicIP\":\"192.0.2.11\",\"PublicIPv6\":$j,\"BackendType\":\"extension\"}"
	etcdctl_ put "$PREFIX/subnets/100.64.12.0-24" \
		"{\"PublicIP\":\"192.0.2.12\",\"PublicIPv6\":null,\"BackendType\":$j,\"BackendData\":\"aa:bb:cc:dd:ee:ff\"}"
	etcdctl_ put "$PREFIX/subnets/$inj;100.64.13.0-24" \
		"{\"PublicIP\":\"192.0.2.13\",\"PublicIPv6\":null,\"BackendType\":\"extension\",\"BackendData\":$j}"
	etcdctl_ put "$PREFIX/subnets/100.64.14.0-24;$inj" \
		"{\"PublicIP\":\"192.0.2.14\",\"BackendType\":\"extension\"}"
	etcdctl_ put "$PREFIX/subnets/100.64.15.0-24" \
		"{\"PublicIP\":\"192.0.2.15\",\"BackendType\":\"extension\",\"BackendData\":{\"x\":$j}}"

	# The seed's own commands (from etcd), then a recorder that proves what ran.
	run in_host 1 sh -c 'flannel-watch --once --etcd-endpoints="$1" --subnet-file=/nonexistent |
		flannel-ext --etcd-endpoints="$1"' sh "$ETCD_EP"
	echo "$output"
	no_markers
	# It got as far as $VTEP, which ip refused as an address.
	[[ "$output" == *"run SubnetAddCommand for 100.64.9.0/24: exit status 255"* ]]
	[[ "$output" == *"SubnetAddCommand for 100.64.9.0/24: output: Error: "*'mark.1)`touch'* ]]
	run in_host 1 sh -c 'flannel-watch --once --etcd-endpoints="$1" --subnet-file=/nonexistent |
		flannel-ext --etcd-endpoints="$1" --backend-type=any --add "$2"' sh "$ETCD_EP" \
		"read VTEP; echo \$SUBNET \$PUBLIC_IP \$PUBLIC_IPV6 \$VTEP >/dev/null; printf '%s|%s|%s\n' \"\$SUBNET\" \"\$PUBLIC_IP\" \"\$VTEP\" >>$seen"
	echo "$output"
	no_markers
	# The injected BackendData reached the command as data, read verbatim.
	grep -qxF "100.64.9.0/24|192.0.2.9|$inj" "$seen"
	grep -q '^100.64.15.0/24|192.0.2.15|{"x":' "$seen"
	# Bad addresses and keys never reach a command.
	run grep -c '^100.64.1[0-4]' "$seen"
	[ "$output" = 0 ]
	no_markers
}

@test "ext: injection attempts in every field of hand-fed events run nothing" {
	need_root
	local inj j m="$BATS_TEST_TMPDIR/mark" seen="$BATS_TEST_TMPDIR/seen" f="$BATS_TEST_TMPDIR/ev"
	topo_create 1
	inj=$(inject_text)
	j=$(jq -Rn --arg s "$inj" '$s')
	{
		echo '{"type":"snapshot","revision":1}'
		echo "{\"type\":\"added\",\"key\":$j,\"subnet\":\"100.64.2.0/24\",\"public_ip\":\"192.0.2.2\",\"backend_type\":\"extension\",\"backend_data\":$j,\"lease_id\":$j,\"revision\":2}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.3.0/24;touch $m.7\",\"public_ip\":\"192.0.2.3\",\"backend_type\":\"extension\"}"
		echo "{\"type\":\"added\",\"subnet\":$j,\"public_ip\":\"192.0.2.3\",\"backend_type\":\"extension\"}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.4.0/24\",\"ipv6_subnet\":$j,\"public_ip\":\"192.0.2.4\",\"backend_type\":\"extension\"}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.5.0/24\",\"public_ip\":$j,\"backend_type\":\"extension\"}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.6.0/24\",\"public_ip\":\"192.0.2.6\",\"public_ipv6\":$j,\"backend_type\":\"extension\"}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.7.0/24\",\"public_ip\":\"192.0.2.7\",\"backend_type\":$j}"
		echo "{\"type\":\"added\",\"subnet\":\"100.64.8.0/24\",\"public_ip\":\"192.0.2.8\",\"backend_type\":\"extension\",\"expiration\":$j}"
		echo "{\"type\":$j,\"subnet\":\"100.64.9.0/24\"}"
		echo '{"type":"added","subnet":"100.64.11.0/24","public_ip":"192.0.2.11","backend_type":"extension","expiration":"2026-11-24T08:00:00Z"}'
		echo "{\"type\":\"added\",\"subnet\":\"100.64.10.0/24\",\"public_ip\":\"192.0.2.10\",\"backend_type\":\"extension\",\"backend_data\":\"aa\\u0000\$(touch $m.8)\"}"
		echo '{"type":"sync","revision":2}'
		echo "{\"type\":\"removed\",\"key\":$j,\"subnet\":\"100.64.2.0/24\",\"revision\":3}"
	} >"$f"
	# The seed's host-gw commands verbatim, and a recorder.
	run in_host 1 flannel-ext -v 1 --config "$CONTRIB/extension-host-gw.json" <"$f"
	echo "$output"
	[ "$status" -eq 0 ]
	no_markers
	[[ "$output" == *"run SubnetAddCommand for 100.64.2.0/24: exit status 0"* ]]
	run in_host 1 ip route show 100.64.2.0/24
	[ -z "$output" ] # added, then removed again by the last line
	run in_host 1 flannel-ext --timeout 10s \
		--add "read d; echo \$SUBNET \$d >/dev/null; printf '%s|%s|%s\n' \"\$SUBNET\" \"\$PUBLIC_IP\" \"\$d\" >>$seen" \
		--remove "read d; printf 'del %s|%s|%s\n' \"\$SUBNET\" \"\$PUBLIC_IP\" \"\$d\" >>$seen" <"$f"
	echo "$output"
	[ "$status" -eq 0 ]
	no_markers
	run cat "$seen"
	echo "$output"
	[ "${lines[0]}" = "100.64.2.0/24|192.0.2.2|$inj" ]
	[ "${lines[1]}" = "100.64.11.0/24|192.0.2.11|" ]
	[ "${lines[2]}" = "del 100.64.2.0/24|192.0.2.2|$inj" ]
	[ "${#lines[@]}" -eq 3 ]
}

@test "ext: a hanging command times out with its whole group, and the next event still runs" {
	local d="$BATS_TEST_TMPDIR" start
	cd "$d"
	printf '%s\n' \
		'{"type":"added","subnet":"100.64.2.0/24","public_ip":"192.0.2.2","backend_type":"extension"}' \
		'{"type":"added","subnet":"100.64.3.0/24","public_ip":"192.0.2.3","backend_type":"extension"}' \
		'{"type":"removed","subnet":"100.64.3.0/24"}' >ev
	start=$(date +%s)
	run flannel-ext --timeout 1s \
		--add 'echo "add $SUBNET" >>log; if [ "$SUBNET" = 100.64.2.0/24 ]; then sleep 300 & echo $! >bg.pid; sleep 300; fi' \
		--remove 'echo "del $SUBNET $PUBLIC_IP" >>log' <ev
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(cat log)" = "add 100.64.2.0/24
add 100.64.3.0/24
del 100.64.3.0/24 192.0.2.3" ]
	[[ "$output" == *"run SubnetAddCommand for 100.64.2.0/24: killed by signal 15 (SIGTERM) after timeout"* ]]
	# Far less than the 300 s the command wanted: it was not waited for.
	[ $(( $(date +%s) - start )) -lt 120 ]
	wait_for 10 pid_dead "$(cat bg.pid)"
}

@test "ext: a failing command is logged with its status and output, the stream goes on" {
	cd "$BATS_TEST_TMPDIR"
	printf '%s\n' \
		'{"type":"added","subnet":"100.64.2.0/24","public_ip":"192.0.2.2","backend_type":"extension"}' \
		'not json' \
		'{"type":"added","subnet":"100.64.3.0/24","public_ip":"192.0.2.3","backend_type":"extension"}' >ev
	run flannel-ext --add 'echo "oops $SUBNET" >&2; [ "$SUBNET" != 100.64.2.0/24 ] || exit 3; echo ok >>log' <ev
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"run SubnetAddCommand for 100.64.2.0/24: exit status 3"* ]]
	[[ "$output" == *"SubnetAddCommand for 100.64.2.0/24: output: oops 100.64.2.0/24"* ]]
	[[ "$output" == *"skip line 2: invalid JSON"* ]]
	[ "$(cat log)" = ok ]
}

@test "ext: SIGTERM while a command hangs kills its group and exits 0" {
	cd "$BATS_TEST_TMPDIR"
	mkfifo in
	flannel-ext --timeout 0 --add 'echo $$ >sh.pid; sleep 300' <in 2>err &
	local pid=$!
	track_pid "$pid"
	exec 9>in
	echo '{"type":"added","subnet":"100.64.2.0/24","public_ip":"192.0.2.2","backend_type":"extension"}' >&9
	wait_for 10 test -s sh.pid
	kill -TERM "$pid"
	local rc=0
	wait "$pid" || rc=$?
	exec 9>&-
	cat err
	[ "$rc" -eq 0 ]
	wait_for 10 pid_dead "$(cat sh.pid)"
}

@test "ext: pre-startup prints the trimmed output as a JSON string; post-startup gets this host's values" {
	cd "$BATS_TEST_TMPDIR"
	run flannel-ext pre-startup --pre-startup 'printf "  aa:bb:cc:dd:ee:ff\n\n"'
	[ "$status" -eq 0 ]
	[ "$output" = '"aa:bb:cc:dd:ee:ff"' ]
	run flannel-ext pre-startup --pre-startup 'exit 4'
	[ "$status" -eq 1 ]
	run flannel-ext pre-startup --pre-startup 'printf "a\033b"'
	[ "$status" -eq 65 ]
	printf 'FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.7.1/24\nFLANNEL_MTU=1500\nFLANNEL_IPMASQ=false\n' >s.env
	SUBNET=inherited run flannel-ext post-startup --subnet-file s.env --public-ip 192.0.2.7 \
		--post-startup 'echo "$NETWORK|$SUBNET|$IPV6SUBNET|$PUBLIC_IP|$PUBLIC_IPV6" >out; read l; echo "[$l]" >>out'
	[ "$status" -eq 0 ]
	[ "$(cat out)" = "100.64.0.0/16|100.64.7.0/24||192.0.2.7|
[]" ]
	run flannel-ext post-startup --subnet-file missing.env --post-startup true
	[ "$status" -eq 78 ]
	run flannel-ext post-startup --subnet-file s.env --post-startup 'exit 2'
	[ "$status" -eq 1 ]
	run flannel-ext frobnicate
	[ "$status" -eq 64 ]
}

@test "ext: flanneld with the seed vxlan config in etcd runs pre-startup, lease, post-startup and apply" {
	need_root
	local i
	ext_cluster 2 "$CONTRIB/extension-vxlan.json"
	for i in 1 2; do
		bg_in_host "$i" "$BATS_TEST_TMPDIR/flanneld$i.log" flanneld \
			--etcd-endpoints="$ETCD_EP" --iface=eth0 --subnet-file="$(senv "$i")" \
			--iptables-forward-rules=false -v=1
	done
	for i in 1 2; do
		wait_for 15 test -s "$(senv "$i")"
	done
	wait_for 20 in_host 1 ping -c1 -W1 "$(net_ip 2)"
	wait_for 20 in_host 2 ping -c1 -W1 "$(net_ip 1)"
	run etcdctl_ get --print-value-only "$PREFIX/subnets/$(key_of 2)"
	[ "$output" = "{\"PublicIP\":\"192.0.2.2\",\"PublicIPv6\":null,\"BackendType\":\"extension\",\"BackendData\":\"$(in_host 2 cat /sys/class/net/flannel-vxlan/address)\"}" ]
	grep -q "run PostStartupCommand: exit status 0" "$BATS_TEST_TMPDIR/flanneld1.log"
	grep -q "run SubnetAddCommand for $(net_of 2): exit status 0" "$BATS_TEST_TMPDIR/flanneld1.log"
}

@test "ext: SIGHUP reads the config again; the new commands apply from the next event" {
	cd "$BATS_TEST_TMPDIR"
	local pid
	jq -c '.Backend.SubnetAddCommand = "echo \"one $SUBNET\" >>log"' \
		"$CONTRIB/extension-host-gw.json" >cfg.json
	mkfifo in
	flannel-ext --config cfg.json <in 2>err &
	pid=$!
	track_pid "$pid"
	exec 9>in
	echo '{"type":"added","subnet":"100.64.2.0/24","public_ip":"192.0.2.2","backend_type":"extension"}' >&9
	wait_for 10 grep -q "one 100.64.2.0/24" log
	jq -c '.Backend.SubnetAddCommand = "echo \"two $SUBNET\" >>log"' \
		"$CONTRIB/extension-host-gw.json" >cfg.json
	kill -HUP "$pid"
	echo '{"type":"added","subnet":"100.64.3.0/24","public_ip":"192.0.2.3","backend_type":"extension"}' >&9
	wait_for 10 grep -q "two 100.64.3.0/24" log
	# A broken config keeps the commands that work.
	echo '{"Network":' >cfg.json
	kill -HUP "$pid"
	echo '{"type":"added","subnet":"100.64.4.0/24","public_ip":"192.0.2.4","backend_type":"extension"}' >&9
	wait_for 10 grep -q "two 100.64.4.0/24" log
	exec 9>&-
	wait "$pid"
	cat err
	grep -q "reload config: keeping the previous commands" err
	[ "$(wc -l <log)" -eq 3 ]
}

@test "ext: a dual-stack lease gives SUBNET, IPV6SUBNET, PUBLIC_IP and PUBLIC_IPV6; inherited values never leak" {
	cd "$BATS_TEST_TMPDIR"
	printf '%s\n' \
		'{"type":"added","subnet":"100.64.2.0/24","ipv6_subnet":"2001:db8:1:2::/64","public_ip":"192.0.2.2","public_ipv6":"2001:db8::2","backend_type":"extension","backend_data":"x"}' \
		'{"type":"added","subnet":"100.64.3.0/24","public_ip":"192.0.2.3","backend_type":"extension"}' >ev
	IPV6SUBNET=inherited PUBLIC_IPV6=inherited NETWORK=inherited run flannel-ext \
		--add 'echo "$SUBNET|$IPV6SUBNET|$PUBLIC_IP|$PUBLIC_IPV6|${NETWORK-unset}" >>log' <ev
	[ "$status" -eq 0 ]
	[ "$(cat log)" = "100.64.2.0/24|2001:db8:1:2::/64|192.0.2.2|2001:db8::2|unset
100.64.3.0/24||192.0.2.3||unset" ]
}

@test "issue 12: hooks get PATH, the lease variables and --extension-pass-env only; the etcd user name and password reach no child's environment or command line" {
	need_root
	local i pid
	topo_create 2
	etcd_start "$UL_NS" 192.0.2.254
	put_config "$(jq -c --arg d "$BATS_TEST_TMPDIR" '
		.Backend.PreStartupCommand = "env >\($d)/pre.env; echo data" |
		.Backend.PostStartupCommand = "env >\($d)/post$PUBLIC_IP.env" |
		.Backend.SubnetAddCommand = "env >\($d)/add.env"' "$CONTRIB/extension-host-gw.json")"
	etcdctl_ user add root --new-user-password=s3cret >/dev/null
	etcdctl_ role add root >/dev/null 2>&1 || true
	etcdctl_ user grant-role root root >/dev/null 2>&1 || true
	# The tools' own user: its name is credential too (fd 4, never environ).
	etcdctl_ user add flnet-user --new-user-password=s3cret >/dev/null
	etcdctl_ user grant-role flnet-user root >/dev/null
	etcdctl_ auth enable
	for i in 1 2; do
		bg_in_host "$i" "$BATS_TEST_TMPDIR/flanneld$i.log" env FLANNELD_ETCD_USERNAME=flnet-user \
			FLANNELD_ETCD_PASSWORD=s3cret FL_KEEP=kept FL_DROP=dropped \
			NOTIFY_SOCKET=/run/fl-none flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0 \
			--subnet-file="$(senv "$i")" --iptables-forward-rules=false \
			--extension-pass-env=FL_KEEP,SUBNET -v=1
	done
	wait_for 20 test -s "$BATS_TEST_TMPDIR/add.env" || { cat "$BATS_TEST_TMPDIR"/flanneld*.log; false; }
	wait_for 10 test -s "$BATS_TEST_TMPDIR/post192.0.2.1.env"
	cat "$BATS_TEST_TMPDIR/flanneld1.log"
	for f in pre post192.0.2.1 add; do
		cat "$BATS_TEST_TMPDIR/$f.env"
		# sh adds PWD, SHLVL and _ itself; nothing else but ours.
		run ! grep -Ev '^(PATH|FL_KEEP|NETWORK|SUBNET|IPV6SUBNET|PUBLIC_IP|PUBLIC_IPV6|PWD|SHLVL|_)=' \
			"$BATS_TEST_TMPDIR/$f.env"
		grep -qx 'FL_KEEP=kept' "$BATS_TEST_TMPDIR/$f.env"
		run ! grep -q 's3cret\|flnet-user\|NOTIFY_SOCKET\|FL_DROP\|FLANNELD_' "$BATS_TEST_TMPDIR/$f.env"
	done
	# SUBNET of a lease is ours, never an inherited one.
	grep -q "^SUBNET=100.64" "$BATS_TEST_TMPDIR/add.env"
	# Every tool flanneld runs: no user name or password in its environment
	# or argv; both came by descriptor.
	for pid in $(pgrep -P "$LAST_PID"); do
		tr '\0' '\n' <"/proc/$pid/cmdline" | head -1
		run ! grep -qa 's3cret\|flnet-user' "/proc/$pid/environ" "/proc/$pid/cmdline"
		tr '\0' '\n' <"/proc/$pid/environ" | grep -qx 'FLANNELD_ETCD_USERNAME_FILE=/dev/fd/4'
	done
	[ -n "$(pgrep -P "$LAST_PID")" ]
}
