#!/usr/bin/env bats
# The documentation matches the behaviour: every shell example of the man
# pages and the README runs in a namespace and succeeds (long-running ones
# for a few seconds), every --help flag is in its man page, every cross
# reference to one of our pages names a page that exists.

load helpers

ROOT="$BATS_TEST_DIRNAME/.."

teardown() { fl_teardown; }

# Examples that cannot run in a test namespace, by FILE:LINE prefix match
# on their first line, with the reason.
SKIP_BLOCKS=(
	"/usr/lib/cni/flannel|needs the CNI plugin installed in /usr/lib/cni"
	"dockerd |needs Docker"
	"flannel-ipip init|needs a kernel with ipip (tests/ipip.bats runs these steps in a guest kernel)"
	"show flannel.ipip|needs a kernel with ipip (tests/ipip.bats checks the device in a guest kernel)"
	"flannel-ipsec init|needs a kernel with ESP (tests/ipsec.bats runs flanneld and flannel-ipsec in a guest kernel)"
	"flannel-ipsec status|needs a running flannel-ipsec and its charon (tests/ipsec.bats checks status)"
	"wg show flannel-wg|needs the device of the example before it, gone with its block (tests/wireguard.bats runs wg show)"
	"flannel-server --listen=:8888 --remote-certfile|needs certificates (tests/server.bats runs TLS with client certificates)"
)

# doc_host: namespace "<id>doc" as the examples assume it: eth0 192.0.2.1
# with a default route, etcd at 127.0.0.1:2379 and 192.0.2.254:2379 (on lo).
doc_host() {
	need_root
	NS="$(fl_id)doc"
	UL="$(fl_id)dul"
	ip netns add "$NS"
	echo "$NS" >>"$BATS_TEST_TMPDIR/netns"
	ip netns add "$UL"
	echo "$UL" >>"$BATS_TEST_TMPDIR/netns"
	ip -n "$NS" link set lo up
	ip -n "$NS" addr add 192.0.2.254/32 dev lo
	ip link add eth0 netns "$NS" type veth peer name eth0 netns "$UL"
	ip -n "$NS" addr add 192.0.2.1/24 dev eth0
	ip -n "$UL" addr add 192.0.2.200/24 dev eth0
	ip -n "$NS" link set eth0 up
	ip -n "$UL" link set eth0 up
	ip -n "$NS" route add default via 192.0.2.200
	ETCD_DIR=$(mktemp -d "/dev/shm/flannel-etcd.$(fl_id).XXXX")
	echo "$ETCD_DIR" >>"$BATS_TEST_TMPDIR/dirs"
	ip netns exec "$NS" etcd --name doc --data-dir "$ETCD_DIR/data" \
		--listen-client-urls http://127.0.0.1:2379,http://192.0.2.254:2379 \
		--advertise-client-urls http://127.0.0.1:2379 \
		--listen-peer-urls http://127.0.0.1:2380 \
		--initial-advertise-peer-urls http://127.0.0.1:2380 \
		--initial-cluster doc=http://127.0.0.1:2380 \
		--heartbeat-interval 10 --election-timeout 100 >"$ETCD_DIR/log" 2>&1 3>&- &
	track_pid "$!"
	ETCD_PID=$!
	ETCD_EP=http://127.0.0.1:2379
	ETCD_NS=$NS
	export ETCD_PID ETCD_EP ETCD_NS
	etcd_wait
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	# A remote host, so that appliers have something to apply.
	etcdctl_ put /coreos.com/network/subnets/100.64.5.0-24 \
		'{"PublicIP":"192.0.2.5","PublicIPv6":null,"BackendType":"vxlan","BackendData":{"VNI":1,"VtepMAC":"02:42:c0:00:02:05"}}' >/dev/null
	# /run and iproute2's names as "make install" leaves them, in the
	# examples' own mount namespace only.
	mkdir -p "$BATS_TEST_TMPDIR/run/flannel" "$BATS_TEST_TMPDIR/ip2"
	cp -a /etc/iproute2/. "$BATS_TEST_TMPDIR/ip2/" 2>/dev/null || true
	mkdir -p "$BATS_TEST_TMPDIR/ip2/rt_protos.d"
	cp "$ROOT/contrib/rt_protos.d/flannel.conf" "$BATS_TEST_TMPDIR/ip2/rt_protos.d/"
}

# long_running CMD: true for a daemon, which runs until stopped.
long_running() {
	[[ "$1" == *flannel-watch* && "$1" != *--once* ]] && return 0
	case $1 in
	flanneld* | flannel-server*) return 0 ;;
	"flannel-masq watch"* | "flannel-masq "*" watch"*) return 0 ;;
	flannel-watch*)
		case $1 in *--once*) return 1 ;; esac
		return 0 ;;
	flannel-lease*)
		case $1 in *--oneshot*) return 1 ;; esac
		return 0 ;;
	esac
	return 1
}

# block_script FILE: the block's commands (continued lines joined) as a
# bash script: assignments and "." run in the shell, a trailing "&" in the
# background, a daemon for 2 s (then stopped: fine), anything else for at
# most 20 s and must succeed.
block_script() {
	local cmd="" line
	echo 'set -a; fail() { echo "example failed ($1): $2" >&2; exit 1; }'
	while IFS= read -r line || [ -n "$line" ]; do
		case $line in '#'* | '') [ -z "$cmd" ] && continue ;; esac
		cmd="$cmd$line"
		case $line in
		*\\) cmd="${cmd%\\}"; continue ;;
		*'|') cmd="$cmd "; continue ;;
		esac
		# A line that opens a quote the next one closes.
		if [ $(( $(tr -cd "'" <<<"$cmd" | wc -c) % 2 )) -eq 1 ]; then
			cmd="$cmd"$'\n'
			continue
		fi
		emit_cmd "$cmd"
		cmd=""
	done
	[ -z "$cmd" ] || emit_cmd "$cmd"
}

emit_cmd() {
	local c=$1 q
	c="${c%%+([[:space:]])}"
	q=$(printf '%q' "$c")
	if [[ "$c" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || [[ "$c" == '. '* ]]; then
		printf '%s || fail $? %s\n' "$c" "$q"
	elif [[ "$c" == *'&' || "$c" == *'&  #'* ]]; then
		printf '%s\n' "$c"
	elif long_running "$c"; then
		printf 'timeout 2 bash -o pipefail -c %s; st=$?; [ $st = 0 ] || [ $st = 124 ] || fail $st %s\n' "$q" "$q"
	else
		printf 'timeout 20 bash -o pipefail -c %s || fail $? %s\n' "$q" "$q"
	fi
}

# only_etcd_left: nothing but etcd runs in the examples' namespace.
only_etcd_left() { [ "$(ip netns pids "$NS")" = "$ETCD_PID" ]; }

# fresh_host: what one page's examples start from: no device, rule or
# route of an earlier page's, no subnet.env, the vxlan network config.
fresh_host() {
	local dev
	for dev in $(ip -n "$NS" -j link show | jq -r '.[].ifname'); do
		case $dev in lo | eth0) ;; *) ip -n "$NS" link del "$dev" 2>/dev/null || true ;; esac
	done
	ip netns exec "$NS" nft flush ruleset
	ip -n "$NS" nexthop flush proto 76 >/dev/null 2>&1 || true
	ip -n "$NS" route flush proto 76 >/dev/null 2>&1 || true
	rm -rf "$BATS_TEST_TMPDIR"/run/flannel/*
	put_config '{"Network":"100.64.0.0/16","Backend":{"Type":"vxlan"}}'
	# The host has its lease, as the examples that read subnet.env assume.
	ip netns exec "$NS" "$ROOT/build/bin/flannel-lease" --etcd-endpoints="$ETCD_EP" \
		--oneshot --quiet --subnet-file="$BATS_TEST_TMPDIR/run/flannel/subnet.env" \
		--public-ip=192.0.2.1 --backend-type=vxlan 2>/dev/null
}

@test "every shell example of the man pages and the README runs" {
	shopt -s extglob
	doc_host
	local blocks="$BATS_TEST_TMPDIR/blocks" n=0 ran=0 failed=0 where body skip page=""
	"$ROOT/tests/doc_examples.sh" "$ROOT"/man/*.[1-8] "$ROOT/README.md" >"$blocks"
	mkdir -p "$BATS_TEST_TMPDIR/b"
	awk -v d="$BATS_TEST_TMPDIR/b" '/^#### /{n++; f=sprintf("%s/%03d", d, n); print substr($0, 6) >f; next} {print >>f}' "$blocks"
	for b in "$BATS_TEST_TMPDIR"/b/*; do
		where=$(head -n 1 "$b")
		body=$(tail -n +2 "$b")
		skip=""
		for s in "${SKIP_BLOCKS[@]}"; do
			[[ "$body" == *"${s%%|*}"* ]] && skip=${s#*|}
		done
		if [ -n "$skip" ]; then
			echo "# skip ${where#"$ROOT/"}: $skip"
			continue
		fi
		n=$((n + 1))
		if [ "${where%%:*}" != "${page:-}" ]; then
			page=${where%%:*}
			fresh_host
		fi
		block_script <<<"$body" >"$b.sh"
		# Each block in its own session, so that whatever it leaves running
		# in the background is stopped with it.
		st=0
		(cd "$ROOT" && ip netns exec "$NS" unshare -m sh -c '
			mount --make-rprivate / && mount --bind "$1" /run &&
			mount --bind "$2" /etc/iproute2 &&
			exec setsid env PATH="$3:$4:$PATH" bash "$5"' sh \
			"$BATS_TEST_TMPDIR/run" "$BATS_TEST_TMPDIR/ip2" "$ROOT/build/bin" \
			"$ROOT/scripts" "$b.sh" >"$b.out" 2>&1 3>&-) || st=$?
		# What the block left running, but etcd.
		for p in $(ip netns pids "$NS"); do
			[ "$p" = "$ETCD_PID" ] || kill "$p" 2>/dev/null || true
		done
		wait_for 3 only_etcd_left
		if [ "$st" -ne 0 ]; then
			echo "# FAILED ${where#"$ROOT/"} (status $st):"
			sed 's/^/#   /' "$b.sh" "$b.out"
			failed=$((failed + 1))
		else
			ran=$((ran + 1))
		fi
	done
	echo "# $ran of $n examples ran, $failed failed"
	[ "$n" -ge 20 ]
	[ "$failed" -eq 0 ]
}

@test "every flag in a tool's --help is in its man page; every cross reference exists" {
	local t m o missing=0
	for t in flannel-lease flannel-watch flannel-vxlan flannel-route flannel-ext flannel-masq flanneld; do
		m=$(ls "$ROOT"/man/"$t".[1-8])
		for o in $("$ROOT/build/bin/$t" --help 2>&1 | grep -o -- '--[a-z][a-z0-9-]*' | sort -u); do
			if ! grep -q -- "Fl -${o#--}\b" "$m"; then
				echo "$t: $o is in --help, not in ${m#"$ROOT/"}"
				missing=$((missing + 1))
			fi
		done
	done
	# Our own pages: flannel-*, flanneld, mk-docker-opts.
	while read -r _ name sec; do
		case $name in flannel* | mk-docker-opts) ;; *) continue ;; esac
		if [ ! -e "$ROOT/man/$name.$sec" ]; then
			echo "cross reference to $name($sec): no such page"
			missing=$((missing + 1))
		fi
	done < <(grep -ho '^\.Xr [a-z0-9.-]* [0-9]' "$ROOT"/man/*.[1-8] | sort -u)
	[ "$missing" -eq 0 ]
}
