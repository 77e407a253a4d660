#!/usr/bin/env bats
# flannel-ipsec on this host, whose kernel has no ESP: init and flanneld
# exit 69 naming it; Backend keys refused naming the rule; and the whole
# control plane with real charons (apply --no-esp-check): two and three
# hosts in namespaces, each with its own charon, establish IKE_SAs through
# our VICI client, our policies are installed per peer with a reqid each,
# restored after deletion and purged when stale; a removed lease takes its
# connection and policies; a wrong PSK is named.  The ESP data path runs in
# the user-mode-linux guest (tests/uml/ipsec.bats), its results forwarded
# as "# uml: ok ..." lines.

# shellcheck disable=SC2154 # $stderr comes from run --separate-stderr

load helpers
load overlay
load ipsec
bats_require_minimum_version 1.5.0

setup() {
	[ -x /usr/lib/ipsec/charon ] || command -v charon >/dev/null ||
		require "needs charon (Debian strongswan-charon; scripts/deps.sh installs it)"
}

teardown() { fl_teardown; }

# host_has_esp: this kernel can take an ESP SA (probed in a scratch namespace).
host_has_esp() {
	local ns
	ns="$(fl_id)probe"
	ip netns add "$ns"
	echo "$ns" >>"$BATS_TEST_TMPDIR/netns"
	! ip -n "$ns" xfrm state add src 192.0.2.1 dst 192.0.2.2 proto esp spi 0x100 \
		enc 'cbc(aes)' 0x00 2>&1 | grep -q 'Requested type not found'
}

# ipsec_apply I [ARGS...]: the watch piped into flannel-ipsec apply on host I.
ipsec_apply() {
	local i=$1
	shift
	applier_start "$i" flannel-ipsec apply --no-esp-check --iface=eth0 --psk="$PSK" \
		--run-dir="$(ipsec_dir "$i")" --check-interval=1 "$@"
}

# policies_are I FILE: host I's policies of ours are those in FILE.
policies_are() { diff "$2" <(our_policies "$1"); }
policy_count() { [ "$(our_policies "$1" | wc -l)" -eq "$2" ]; }
# no_conn I SUBNET: host I's charon has no connection to SUBNET.
no_conn() { ! ipsec_status "$1" | grep -q "^$2 "; }
gone() { ! kill -0 "$1" 2>/dev/null; }

# ipsec_cluster N: N hosts with leases of type ipsec and an applier each.
ipsec_cluster() {
	local i
	cluster_start "$1" '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
	for i in $(seq 1 "$1"); do
		lease_start "$i" ipsec
	done
	for i in $(seq 1 "$1"); do
		ipsec_apply "$i"
	done
	for i in $(seq 1 "$1"); do
		wait_for 30 ike_up "$i" $(($1 - 1))
	done
}

@test "flannel-ipsec init: exit 69 and the reason on a kernel without ESP" {
	need_root
	topo_create 1
	if host_has_esp; then
		in_host 1 flannel-ipsec init
		return 0
	fi
	run -69 --separate-stderr in_host 1 flannel-ipsec init
	echo "$stderr"
	[ "$stderr" = "flannel-ipsec: use IPsec: this kernel has no ESP support (module esp4, CONFIG_INET_ESP): use another backend or another kernel" ]
	[ -z "$output" ]
	# apply refuses too, before it starts anything.
	run -69 --separate-stderr in_host 1 flannel-ipsec apply --psk="$PSK" --iface=eth0 \
		--run-dir="$(ipsec_dir 1)" </dev/null
	[[ $stderr == *"this kernel has no ESP support"* ]]
	[ ! -e "$(ipsec_dir 1)/charon.pid" ]
}

@test "flanneld with Type ipsec: exit 69 before any lease; a short PSK and bad keys refused naming the rule" {
	need_root
	topo_create 1
	etcd_start "$UL_NS" 192.0.2.254
	local fl=(in_host 1 timeout 20 flanneld --etcd-endpoints="$ETCD_EP" --iface=eth0
		--subnet-file="$BATS_TEST_TMPDIR/subnet.env" --iptables-forward-rules=false)
	if ! host_has_esp; then
		put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
		run -69 "${fl[@]}"
		echo "$output"
		[[ $output == *"this kernel has no ESP support (module esp4, CONFIG_INET_ESP)"* ]]
		[ -z "$(etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/)" ]
		[ ! -e "$BATS_TEST_TMPDIR/subnet.env" ]
	fi
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"${PSK:0:95}"'"}}'
	run -78 "${fl[@]}"
	echo "$output"
	[[ $output == *"Backend.PSK must be a string of at least 96 characters"* ]]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec"}}'
	run -78 "${fl[@]}"
	[[ $output == *"Backend.PSK must be a string of at least 96 characters"* ]]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'","UDPEncap":"yes"}}'
	run -78 "${fl[@]}"
	[[ $output == *"Backend.UDPEncap is not true or false"* ]]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'","ESPProposal":"aes128;reboot"}}'
	run -78 "${fl[@]}"
	[[ $output == *"Backend.ESPProposal is not a strongSwan proposal"* ]]
	# The tool's own check, for a PSK given by hand.
	run -64 --separate-stderr flannel-ipsec apply --psk=short </dev/null
	[[ $stderr == *"the PSK must have 96 to"* ]]
}

@test "flanneld --dry-run with Type ipsec: upstream's lease, MTU 1423 (1415 with UDPEncap), the PSK only to flannel-ipsec" {
	need_root
	topo_create 1
	etcd_start "$UL_NS" 192.0.2.254
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
	run in_host 1 flanneld --dry-run --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$BATS_TEST_TMPDIR/subnet.env"
	echo "$output"
	[ "$status" -eq 0 ]
	[[ $output == *"--backend-type=ipsec"* ]]
	[[ $output == *"--mtu=1423"* ]]
	[[ $output == *"flannel-ipsec apply --iface=eth0 --public-ip=192.0.2.1 --psk-file=$BATS_TEST_TMPDIR/subnet.env.ipsec-secret"* ]]
	# The PSK is on no command line: flanneld hands it over in a 0600 file.
	[ "$(grep -c -- "$PSK" <<<"$output")" -eq 0 ]
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'","UDPEncap":true,"ESPProposal":"aes256gcm16-ecp384"}}'
	run in_host 1 flanneld --dry-run --etcd-endpoints="$ETCD_EP" --iface=eth0 \
		--subnet-file="$BATS_TEST_TMPDIR/subnet.env"
	echo "$output"
	[[ $output == *"--mtu=1415"* ]]
	[[ $output == *"--udp-encap --esp-proposal=aes256gcm16-ecp384 --psk-file="* ]]
}

@test "two hosts, each with its own charon: IKE_SAs ESTABLISHED through our VICI client; status; policies per peer" {
	need_root
	ipsec_cluster 2
	local s1 s2
	s1=$(subnet_of 1) s2=$(subnet_of 2)
	ipsec_status 1 | tee "$D/status"
	[ "$(sed -n 1p "$D/status")" = "PEER               PUBLIC-IP       IKE          CHILD        REKEY-IN" ]
	grep -Eq "^$s2 +192\.0\.2\.2 +ESTABLISHED " "$D/status"
	ipsec_status 2 --json | tee "$D/status.json"
	jq -e --arg s "$s1" 'select(.type == "peer" and .subnet == $s and .public_ip == "192.0.2.1"
		and .ike == "ESTABLISHED" and .connection == "192.0.2.2-\(.subnet | sub("/.*"; ""))" | not) // true' \
		"$D/status.json" >/dev/null
	[ "$(jq -r .connection "$D/status.json")" = "192.0.2.2-$s2-$s1-192.0.2.1" ]
	[ "$(jq -r .ike "$D/status.json")" = ESTABLISHED ]
	# The state file (flannel-state(5)) lists the peer, installed.
	wait_for 5 jq -e --arg s "$s2" '.tool == "flannel-ipsec" and .synced and
		([.peers[] | select(.subnet == $s and .installed)] | length) == 1' \
		"$(state_dir 1)/flannel-ipsec.json"
	# The IKE_SA rekeys (upstream's never does): within the 4 h we configure.
	r=$(jq -r .ike_rekey_in "$D/status.json")
	[ "$r" -gt 0 ] && [ "$r" -le 14400 ]
	# Each charon is ours: its own /run, its own PID file and socket.
	[ -S "$(ipsec_dir 1)/charon.vici" ] && [ -S "$(ipsec_dir 2)/charon.vici" ]
	[ "$(cat "$(ipsec_dir 1)/charon.pid")" != "$(cat "$(ipsec_dir 2)/charon.pid")" ]
	grep -q 'load = .*vici' "$(ipsec_dir 1)/strongswan.conf"
	# Upstream's three policies, ESP tunnel between the public IPs.
	our_policies 1 | tee "$D/pol1"
	[ "$(wc -l <"$D/pol1")" -eq 3 ]
	grep -q "^out $s1 $s2 192.0.2.1 192.0.2.2 " "$D/pol1"
	grep -q "^in $s2 $s1 192.0.2.2 192.0.2.1 " "$D/pol1"
	grep -q "^fwd $s2 $s1 192.0.2.2 192.0.2.1 " "$D/pol1"
	# Upstream's lease: BackendType ipsec, no BackendData, no PSK in etcd.
	etcdctl_ get --prefix --print-value-only /coreos.com/network/subnets/ | tee "$D/leases"
	[ "$(grep -c '"BackendType":"ipsec"' "$D/leases")" -eq 2 ]
	run ! grep -q -e BackendData -e "$PSK" "$D/leases"
	# The PSK is not on flannel-ipsec's command line once it has read it.
	run ! grep -q -- "$PSK" "/proc/$APPLY_PID_1/cmdline"
}

@test "three hosts: a reqid per peer; a policy deleted by hand comes back; stale ones purged at start; a removed lease takes its connection and policies" {
	need_root
	ipsec_cluster 3
	local s1 s2 s3
	s1=$(subnet_of 1) s2=$(subnet_of 2) s3=$(subnet_of 3)
	our_policies 1 | tee "$D/pol1"
	[ "$(wc -l <"$D/pol1")" -eq 6 ]
	# One reqid per peer (upstream shares 11), the same in its three policies.
	[ "$(awk '{print $6}' "$D/pol1" | sort -u | wc -l)" -eq 2 ]
	[ "$(awk '$3 == "'"$s2"'" || $2 == "'"$s2"'" {print $6}' "$D/pol1" | sort -u | wc -l)" -eq 1 ]

	# Deleted by hand: back within a check interval or two.
	ip -n "$(host_ns 1)" xfrm policy delete src "$s1" dst "$s2" dir out
	ip -n "$(host_ns 1)" xfrm policy delete src "$s3" dst "$s1" dir fwd
	run ! grep -q "^out $s1 $s2 " <(our_policies 1)
	wait_for 10 policies_are 1 "$D/pol1"
	grep -q "policy out $s1 -> $s2 via 192.0.2.1 -> 192.0.2.2 .* is missing (deleted by hand?): restoring it" "$D/apply1.log"

	# A stale policy of ours (an old peer) and a foreign one; restart: ours goes, the other stays.
	kill "$APPLY_PID_1"
	wait_for 10 gone "$APPLY_PID_1"
	ip -n "$(host_ns 1)" xfrm policy add src "$s1" dst 100.64.250.0/24 dir out \
		tmpl src 192.0.2.1 dst 192.0.2.250 proto esp reqid 1275068500 mode tunnel
	ip -n "$(host_ns 1)" xfrm policy add src "$s1" dst 100.64.251.0/24 dir out \
		tmpl src 192.0.2.1 dst 192.0.2.251 proto esp reqid 11 mode tunnel
	ipsec_apply 1
	wait_for 10 policies_are 1 "$D/pol1"
	ip -n "$(host_ns 1)" xfrm policy show | grep -q 'dst 100.64.251.0/24'
	grep -q "policy out $s1 -> 100.64.250.0/24 via 192.0.2.1 -> 192.0.2.250 reqid 1275068500: no lease wants it: removing it" "$D/apply1.log"
	wait_for 30 ike_up 1 2

	# Host 3's lease goes: its connection and its policies on hosts 1 and 2 go too.
	kill "$LEASE_PID_3"
	etcdctl_ del --prefix "/coreos.com/network/subnets/${s3%/*}-"
	for i in 1 2; do
		wait_for 10 policy_count "$i" 3
		run ! grep -q "$s3" <(our_policies "$i")
		wait_for 10 no_conn "$i" "$s3"
	done
	grep -q "peer $s3: lease removed: its connection and policies go" "$D/apply1.log"
}

@test "a wrong PSK on one host: a clear log line naming the peer and the cause, no IKE_SA with it" {
	need_root
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
	lease_start 1 ipsec
	lease_start 2 ipsec
	ipsec_apply 1
	applier_start 2 flannel-ipsec apply --no-esp-check --iface=eth0 --psk="x$PSK" \
		--run-dir="$(ipsec_dir 2)" --check-interval=1 --warn-after=5
	wait_for 30 grep -q "IKE authentication failed" "$D/apply1.log"
	wait_for 30 grep -q "IKE authentication failed" "$D/apply2.log"
	grep "IKE authentication failed" "$D/apply1.log" "$D/apply2.log"
	grep -q "peer $(subnet_of 2) (192.0.2.2): IKE authentication failed: its PSK and ours differ (charon: " "$D/apply1.log"
	run ike_up 1 1
	[ "$status" -ne 0 ]
	run ike_up 2 1
	[ "$status" -ne 0 ]
}

@test "a charon already running (Debian's own settings) is used through --vici, and left running" {
	need_root
	cluster_start 2 '{"Network":"100.64.0.0/16","Backend":{"Type":"ipsec","PSK":"'"$PSK"'"}}'
	lease_start 1 ipsec
	lease_start 2 ipsec
	local run2
	run2=$(ipsec_dir 2)
	# A charon of host 2's own, as a system would run it, with /run its own.
	bg_in_host 2 "$D/charon2.log" unshare -m sh -c \
		'mount --make-rprivate / && mount --bind "$0" /run && exec /usr/lib/ipsec/charon' "$run2"
	local charon=$LAST_PID
	wait_for 20 test -S "$run2/charon.vici"
	ipsec_apply 1
	applier_start 2 flannel-ipsec apply --no-esp-check --iface=eth0 --psk="$PSK" \
		--vici="$run2/charon.vici" --check-interval=1
	wait_for 30 ike_up 1 1
	in_host 2 flannel-ipsec status --vici="$run2/charon.vici" | tee "$D/status"
	grep -Eq "^$(subnet_of 1) +192\.0\.2\.1 +ESTABLISHED " "$D/status"
	[ ! -e "$run2/strongswan.conf" ]
	[ "$(our_conns 2 "$run2")" -eq 1 ]
	kill "$APPLY_PID_2"
	wait_for 10 gone "$APPLY_PID_2"
	kill -0 "$charon"
	# Host 1's lease goes while host 2's applier is down: the connection
	# the earlier run loaded into this charon goes at the next start.
	kill "$LEASE_PID_1"
	wait_for 10 gone "$LEASE_PID_1"
	etcdctl_ del "/coreos.com/network/subnets/$(subnet_of 1 | tr / -)" >/dev/null
	applier_start 2 flannel-ipsec apply --no-esp-check --iface=eth0 --psk="$PSK" \
		--vici="$run2/charon.vici" --check-interval=1
	wait_for 15 grep -q 'no lease wants it (loaded by an earlier run): unloading it' \
		"$D/apply2.log" || { cat "$D/apply2.log"; false; }
	wait_for 5 test "$(our_conns 2 "$run2")" -eq 0
	kill -0 "$charon"
}

# our_conns I RUNDIR: connections named as flannel-ipsec names them in the
# charon of host I that listens in RUNDIR.
our_conns() {
	in_host "$1" swanctl --list-conns --uri "unix://$2/charon.vici" |
		grep -cE '^[0-9.]+-[0-9.]+/[0-9]+-[0-9.]+/[0-9]+-[0-9.]+: ' || true
}

@test "ipsec in a guest kernel: three hosts over ESP, UDPEncap, lease removal, wrong PSK" {
	command -v linux.uml >/dev/null ||
		require "needs linux.uml (Debian package user-mode-linux; scripts/deps.sh installs it)"
	run --separate-stderr env TMPDIR="$BATS_TEST_TMPDIR" UML_TIMEOUT=900 \
		"$BATS_TEST_DIRNAME/uml/run.sh" "$BATS_TEST_DIRNAME/uml/ipsec.bats" --timing
	uml_results 2
}
