#!/usr/bin/env bats
# State files (flannel-state(5)), flannel-status and the metrics: three vxlan
# hosts in namespaces with a real etcd, each running flannel-lease and
# flannel-watch | flannel-vxlan apply, every host's state files apart.

load helpers
load overlay
load flanneld

teardown() { fl_teardown; }

export LEASE_MTU=1450
# Hosts lease within 100.64.100-199, out of the way of the leases written by hand.
VXCONF='{"Network":"100.64.0.0/16","SubnetMin":"100.64.100.0","SubnetMax":"100.64.199.0","Backend":{"Type":"vxlan"}}'
CHECK="$BATS_TEST_DIRNAME/status_check.py"
SCHEMA="$BATS_TEST_DIRNAME/../docs/flannel-status.schema.json"

# st I TOOL: host I's state document of TOOL.
st() {
	cat "$(state_dir "$1")/$2.json"
}

# status I ARGS...: flannel-status on host I.
status_of() {
	local i=$1
	shift
	in_host "$i" flannel-status --state-dir="$(state_dir "$i")" "$@"
}

# peers_installed I N: host I's applier says N peers, all installed.
peers_installed() {
	[ "$(st "$1" flannel-vxlan | jq '[.peers[] | select(.installed)] | length')" = "$2" ]
}

@test "status: every piece writes a valid state file with the documented fields, and it follows changes" {
	cluster_up 3 "$VXCONF" vxlan flannel-vxlan apply
	dir=$(state_dir 1)
	wait_for 5 peers_installed 1 2
	for t in flannel-lease flannel-watch flannel-vxlan; do
		jq -e --arg t "$t" '.type == "state" and .version == 1 and .tool == $t and
			(.pid | type) == "number" and .pid_start > 0 and .synced == true and
			(.started | test("^[0-9-]{10}T[0-9:]{8}Z$")) and (.updated | type) == "string" and
			(.counters | keys) == ["errors","events","heals","restarts","skipped"]' \
			"$dir/$t.json"
		# Written with a rename: no temporary stays beside it.
		[ -z "$(find "$dir" -name ".$t.json.*")" ]
	done
	# flannel-lease: its lease and TTL, etcd and when it last answered.
	st 1 flannel-lease | jq -e --arg s "$(subnet_of 1)" '.lease.subnet == $s and
		.lease.public_ip == "192.0.2.1" and .lease.ttl == 86400 and
		(.lease.expiration | type) == "string" and .network == "100.64.0.0/16" and
		(.etcd.endpoint | startswith("http://192.0.2.254:")) and .etcd.error == null and
		(.etcd.last_contact | type) == "string"'
	# flannel-watch: etcd, the revision of its sync.
	st 1 flannel-watch | jq -e '.etcd.error == null and .sync.revision > 0 and
		(.etcd.last_contact | type) == "string"'
	# flannel-vxlan: every peer with its public IP, installed; its own lease apart.
	st 1 flannel-vxlan | jq -e --arg a "$(subnet_of 2)" --arg b "$(subnet_of 3)" --arg s "$(subnet_of 1)" '
		.backend == "vxlan" and .device == "flannel.1" and .self.subnet == $s and
		([.peers[] | {subnet, public_ip, backend, installed, reason}] | sort_by(.subnet)) ==
		([{subnet: $a, public_ip: "192.0.2.2", backend: "vxlan", installed: true, reason: null},
		  {subnet: $b, public_ip: "192.0.2.3", backend: "vxlan", installed: true, reason: null}]
		 | sort_by(.subnet))'
	rev=$(st 1 flannel-vxlan | jq .counters.events)
	# A lease removed in etcd leaves the peers list, the event is counted
	# (host 3's flannel-lease stopped first: it would take the lease back).
	kill "$LEASE_PID_3"
	wait_for 5 bash -c "! kill -0 $LEASE_PID_3 2>/dev/null"
	key=$(etcdctl_ get --prefix --keys-only /coreos.com/network/subnets/ | grep "$(subnet_of 3 | cut -d/ -f1)")
	etcdctl_ del "$key" >/dev/null
	wait_for 5 peers_installed 1 1
	[ "$(st 1 flannel-vxlan | jq .counters.events)" -gt "$rev" ]
	[ "$(st 1 flannel-vxlan | jq -r '.peers[0].subnet')" = "$(subnet_of 2)" ]
}

@test "status: state files are written at most once a second under a stream of changes" {
	cluster_up 2 "$VXCONF" vxlan flannel-vxlan apply
	f=$(state_dir 1)/flannel-vxlan.json
	# 30 leases, one every 100 ms; each rename gives the file a new inode.
	( for k in $(seq 10 39); do
		etcdctl_ put "/coreos.com/network/subnets/100.64.$k.0-24" \
			"{\"PublicIP\":\"198.18.0.$k\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"0a:58:64:00:00:$(printf %02x "$k")\"}}" >/dev/null
		sleep 0.1
	done ) &
	writer=$!
	track_pid "$writer"
	start=$(date +%s%N)
	inodes=$(for _ in $(seq 1 80); do stat -c %i "$f"; sleep 0.05; done | uniq | wc -l)
	secs=$(( ($(date +%s%N) - start) / 1000000000 + 1 ))
	wait "$writer"
	echo "# figure: $inodes versions of the file in $secs s" >&3
	[ "$inodes" -ge 2 ]
	[ "$inodes" -le $(( secs + 1 )) ]
	# All 30 in the end, within a second of the last change.
	wait_for 3 bash -c "[ \$(jq '.peers | length' '$f') = 31 ]"
}

@test "status: flannel-status shows every peer installed and exits 0; --json passes its schema" {
	cluster_up 3 "$VXCONF" vxlan flannel-vxlan apply
	wait_for 5 peers_installed 1 2
	run status_of 1
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == ok:* ]]
	[[ "$output" == *"lease     $(subnet_of 1)  public IP 192.0.2.1  backend vxlan  expires in 23h"* ]]
	[[ "$output" == *"network   100.64.0.0/16"* ]]
	for j in 2 3; do
		echo "$output" | grep -E "^$(subnet_of "$j") +192\.0\.2\.$j +vxlan +yes +route "
	done
	for t in flannel-lease flannel-watch flannel-vxlan; do
		echo "$output" | grep -E "^$t +[0-9]+ +yes +yes "
	done
	run status_of 1 --json
	[ "$status" -eq 0 ]
	echo "$output" | python3 "$CHECK" schema "$SCHEMA"
	echo "$output" | jq -e '.ok and (.problems | length) == 0 and (.pieces | length) == 3 and
		([.peers[] | select(.installed and .kernel == "route")] | length) == 2 and
		.lease.ttl_left > 86000'
	# The checker can fail: a document that breaks the schema is refused.
	echo "$output" | jq -c '.pieces[0].pid = "x"' >"$BATS_TEST_TMPDIR/bad.json"
	run python3 "$CHECK" schema "$SCHEMA" <"$BATS_TEST_TMPDIR/bad.json"
	[ "$status" -eq 1 ]
	[[ "$output" == *pid* ]]
}

@test "status: a peer refused for a hostile lease and a route deleted behind the applier are named, exit 1" {
	cluster_up 2 "$VXCONF" vxlan flannel-vxlan apply
	# Outside the network, and a VTEP MAC host 2 already uses.
	mac=$(etcdctl_ get --prefix --print-value-only /coreos.com/network/subnets/ |
		jq -r 'select(.PublicIP == "192.0.2.2") | .BackendData.VtepMAC')
	etcdctl_ put /coreos.com/network/subnets/198.18.7.0-24 \
		'{"PublicIP":"192.0.2.77","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:64:00:07:07"}}' >/dev/null
	etcdctl_ put /coreos.com/network/subnets/100.64.250.0-24 \
		"{\"PublicIP\":\"192.0.2.78\",\"BackendType\":\"vxlan\",\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"$mac\"}}" >/dev/null
	wait_for 5 bash -c "[ \$(jq '[.peers[] | select(.installed | not)] | length' '$(state_dir 1)/flannel-vxlan.json') = 2 ]"
	run status_of 1
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "${lines[0]}" == "DEGRADED: 2 problems"* ]]
	[[ "$output" == *"flannel-vxlan: peer 198.18.7.0/24 (192.0.2.77) is not installed: subnet 198.18.7.0/24 is outside the network"* ]]
	[[ "$output" == *"flannel-vxlan: peer 100.64.250.0/24 (192.0.2.78) is not installed: VtepMAC $mac is already used by the VTEP at 192.0.2.2"* ]]
	run status_of 1 --json
	[ "$status" -eq 1 ]
	echo "$output" | python3 "$CHECK" schema "$SCHEMA"
	echo "$output" | jq -e '.ok == false and (.problems | length) == 2'
	# Gone from etcd: all is well again.
	etcdctl_ del /coreos.com/network/subnets/198.18.7.0-24 >/dev/null
	etcdctl_ del /coreos.com/network/subnets/100.64.250.0-24 >/dev/null
	wait_for 5 status_of 1 -v 0
	# A route deleted while the applier is stopped (SIGSTOP): the kernel disagrees.
	kill -STOP "$APPLY_PID_1"
	ip -n "$(host_ns 1)" route del "$(subnet_of 2)"
	run status_of 1
	kill -CONT "$APPLY_PID_1"
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"flannel-vxlan: peer $(subnet_of 2) (192.0.2.2) is installed but the kernel has no route for it"* ]]
	echo "$output" | grep -E "^$(subnet_of 2) +192\.0\.2\.2 +vxlan +yes +no route "
	# The applier heals it; its heals counter says so (within a second).
	wait_for 5 status_of 1 -v 0
	wait_for 3 bash -c "[ \$(jq .counters.heals '$(state_dir 1)/flannel-vxlan.json') -ge 1 ]"
}

@test "status: an applier that stopped is named, exit 1; a missing state directory is 66" {
	cluster_up 2 "$VXCONF" vxlan flannel-vxlan apply
	# The state files follow the kernel within a second.
	wait_for 5 status_of 2 -v 0
	pid=$APPLY_PID_2
	kill "$pid"
	wait_for 5 bash -c "! kill -0 $pid 2>/dev/null"
	run status_of 2
	echo "$output"
	[ "$status" -eq 1 ]
	[[ "$output" == *"flannel-vxlan: not running (pid $pid is gone; last update "* ]]
	echo "$output" | grep -E "^flannel-vxlan +$pid +NO "
	run status_of 2 --json
	echo "$output" | jq -e --argjson p "$pid" '.pieces[] | select(.tool == "flannel-vxlan") |
		.running == false and .pid == $p'
	run in_host 2 flannel-status --state-dir="$BATS_TEST_TMPDIR/nothing-here"
	[ "$status" -eq 66 ]
	[[ "$output" == *"read state directory $BATS_TEST_TMPDIR/nothing-here: No such file or directory"* ]]
	run in_host 2 flannel-status --json --metrics
	[ "$status" -eq 64 ]
}

# metrics_ok TEXT: the format's rules hold (ours and promtool's); the samples
# as JSON on stdout.
metrics_ok() {
	if command -v promtool >/dev/null; then
		echo "$1" | promtool check metrics >&2 || return 1
	elif [ "${CI:-}" = true ]; then
		echo "promtool (Debian prometheus, scripts/deps.sh) is required under CI" >&2
		return 1
	else
		echo "# promtool not installed: the format's rules checked by status_check.py only" >&3
	fi
	echo "$1" | python3 "$CHECK" metrics
}

@test "status: --metrics is Prometheus' text format, parsed back, equal to --json" {
	cluster_up 2 "$VXCONF" vxlan flannel-vxlan apply
	etcdctl_ put /coreos.com/network/subnets/198.18.7.0-24 \
		'{"PublicIP":"192.0.2.77","BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"0a:58:64:00:07:07"}}' >/dev/null
	wait_for 5 bash -c "jq -e '.peers | length == 2' '$(state_dir 1)/flannel-vxlan.json'"
	run status_of 1 --metrics
	[ "$status" -eq 1 ]
	m=$output
	samples=$(metrics_ok "$m")
	run status_of 1 --json
	js=$output
	# Every family has HELP and TYPE (checked); the values are the report's.
	echo "$samples" | jq -e --argjson j "$js" --arg s2 "$(subnet_of 2)" '
		(.flannel_up | map(.value) | all(. == 1)) and
		(.flannel_up | length) == ($j.pieces | length) and
		(.flannel_peers[] | select(.labels.tool == "flannel-vxlan") | .value) == 2 and
		(.flannel_peers_refused[0].value) == 1 and
		(.flannel_problems[0].value) == ($j.problems | length) and
		([.flannel_peer_installed[] | select(.labels.subnet == $s2)][0].value) == 1 and
		([.flannel_peer_installed[] | select(.labels.subnet == "198.18.7.0/24")][0] |
		 .value == 0 and .labels.public_ip == "192.0.2.77" and .labels.backend == "vxlan") and
		(.flannel_lease_ttl_seconds[0].value) > 86000 and
		(.flannel_sync_revision[] | select(.labels.tool == "flannel-watch") | .value) ==
		($j.pieces[] | select(.tool == "flannel-watch") | .revision) and
		(.flannel_etcd_last_contact_timestamp_seconds | length) == 2'
	echo "$m" | grep -q '^# TYPE flannel_events_total counter$'
	# The checker can fail: a sample without its family, a counter not _total.
	run metrics_ok "$(printf '%s\nflannel_bogus 1\n' "$m")"
	[ "$status" -ne 0 ]
	run python3 "$CHECK" metrics <<<"$(printf '# HELP flannel_x x\n# TYPE flannel_x counter\nflannel_x 1\n')"
	[ "$status" -eq 1 ]
}

@test "status: flanneld --metrics-addr serves /metrics; its own state file lists the pieces" {
	topo_create 2
	etcd_start "$UL_NS" 192.0.2.254
	RUN="$BATS_TEST_TMPDIR/run"
	mkdir -p "$RUN"
	put_config "$VXCONF"
	port=$(free_port)
	start_flanneld 1 --metrics-addr=127.0.0.1:"$port" --iptables-forward-rules=false
	start_flanneld 2 --iptables-forward-rules=false
	wait_env 1
	wait_env 2
	dir=$(state_dir 1)
	wait_for 10 bash -c "jq -e '.peers | length == 1' '$dir/flannel-vxlan.json'"
	wait_for 5 bash -c "jq -e '.synced and (.pieces | length) == 3 and all(.pieces[]; .running)' '$dir/flanneld.json'"
	run in_host 1 curl -sS -D "$BATS_TEST_TMPDIR/head" "http://127.0.0.1:$port/metrics"
	[ "$status" -eq 0 ]
	grep -qi '^Content-Type: text/plain; version=0.0.4' "$BATS_TEST_TMPDIR/head"
	samples=$(metrics_ok "$output")
	echo "$samples" | jq -e '
		([.flannel_up[].labels.tool] | sort) ==
		["flannel-lease","flannel-vxlan","flannel-watch","flanneld"] and
		(.flannel_problems[0].value) == 0 and
		(.flannel_restarts_total[] | select(.labels.tool == "flanneld") | .value) == 0'
	run in_host 1 curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/other"
	[ "$output" = 404 ]
	# A piece killed: flanneld restarts it and counts it.
	lease_pid=$(jq -r '.pieces[] | select(.name == "lease") | .pid' "$dir/flanneld.json")
	kill -9 "$lease_pid"
	wait_for 10 bash -c "jq -e '.counters.restarts == 1 and all(.pieces[]; .running)' '$dir/flanneld.json'"
	run in_host 1 curl -sS "http://127.0.0.1:$port/metrics"
	echo "$output" | grep -q '^flannel_restarts_total{tool="flanneld"} 1$'
	run status_of 1
	echo "$output"
	echo "$output" | grep -E "^flanneld +$FLANNELD_PID_1 +yes +yes "
	# Bad addresses are refused before anything starts.
	run in_host 1 "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" --metrics-addr=nonsense
	[ "$status" -eq 64 ]
	[[ "$output" == *"--metrics-addr nonsense: not IP:PORT"* ]]
}
