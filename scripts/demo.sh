#!/bin/bash
# The flannel-c demo: etcd and three hosts in network namespaces, each
# running flanneld; a "container" on every host pings the others across the
# overlay.  Everything is torn down at the end, and on any failure.
#
#   BACKEND=vxlan|host-gw|udp|ipip|wireguard|extension|alloc   (default vxlan;
#                                            ipip needs a kernel with ipip,
#                                            wireguard needs wireguard-go)
#   HOSTS=3                                  (2..9)
#   KEEP=1                                   leave it running; tear down with
#                                            scripts/demo.sh down
set -eu -o pipefail

BACKEND=${BACKEND:-vxlan}
HOSTS=${HOSTS:-3}
TOP=$(cd "$(dirname "$0")/.." && pwd)
BIN="$TOP/build/bin"
P=fldemo
UL="$P-ul"
RUN="/run/flannel-demo"
NETWORK=100.64.0.0/16
step_no=0
step_name=""

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
fail() { echo "demo: step $step_no ($step_name) failed: $*" >&2; exit 1; }
step() {
	step_no=$((step_no + 1))
	step_name=$*
	say "$step_no. $*"
}

teardown() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill "$pid" 2>/dev/null || true
		done
	done
	sleep 0.3
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$P-" || true); do
		for pid in $(ip netns pids "$ns" 2>/dev/null); do
			kill -9 "$pid" 2>/dev/null || true
		done
		ip netns del "$ns" 2>/dev/null || true
	done
	rm -rf "$RUN" "/dev/shm/$P-etcd"
}

on_exit() {
	local rc=$?
	if [ "$rc" != 0 ] && [ "$step_no" != 0 ]; then
		echo "demo: failed in step $step_no ($step_name); logs:" >&2
		tail -n 5 "$RUN"/*.log 2>/dev/null >&2 || true
	fi
	if [ -z "${KEEP:-}" ] || [ "$rc" != 0 ]; then
		teardown
	fi
	exit "$rc"
}

if [ "${1:-}" = down ]; then
	teardown
	exit 0
fi
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces)" >&2; exit 77; }
case "$HOSTS" in [2-9]) ;; *) echo "demo: HOSTS must be 2..9" >&2; exit 64 ;; esac
case "$BACKEND" in
vxlan) BACKEND_JSON='{"Type":"vxlan"}' ;;
host-gw) BACKEND_JSON='{"Type":"host-gw"}' ;;
alloc) BACKEND_JSON='{"Type":"alloc"}' ;;
udp) BACKEND_JSON='{"Type":"udp"}' ;;
ipip) BACKEND_JSON='{"Type":"ipip"}' ;;
wireguard)
	BACKEND_JSON='{"Type":"wireguard"}'
	command -v wireguard-go >/dev/null || { echo "demo: wireguard needs wireguard-go (scripts/deps.sh)" >&2; exit 69; }
	;;
extension)
	# The seed's host-gw example, done with shell commands.
	BACKEND_JSON='{"Type":"extension","SubnetAddCommand":"ip route add $SUBNET via $PUBLIC_IP","SubnetRemoveCommand":"ip route del $SUBNET via $PUBLIC_IP"}'
	;;
*) echo "demo: BACKEND must be vxlan, host-gw, udp, ipip, wireguard, extension or alloc" >&2; exit 64 ;;
esac

# has_ipip: this kernel can make an ipip device (tried in a scratch namespace).
has_ipip() {
	local ns="$P-probe" rc=0
	ip netns add "$ns" || return 1
	ip -n "$ns" link add "$P-t" type ipip local 192.0.2.1 2>/dev/null || rc=1
	ip netns del "$ns"
	return "$rc"
}
if [ "$BACKEND" = ipip ] && ! has_ipip; then
	echo "demo: BACKEND=ipip: this kernel ($(uname -r)) has no ipip support (module ipip)," \
		"so flanneld would exit 69; use a kernel with CONFIG_NET_IPIP, or see the ipip" \
		"tests run in a guest kernel: bats tests/ipip.bats" >&2
	exit 69
fi

trap on_exit EXIT
teardown
mkdir -p "$RUN"

step "build the tools"
make -C "$TOP" -s all || fail "make"

step "underlay: namespace $UL with a bridge at 192.0.2.254, and etcd"
ip netns add "$UL"
ip -n "$UL" link set lo up
ip -n "$UL" link add br0 type bridge
ip -n "$UL" addr add 192.0.2.254/24 dev br0
ip -n "$UL" link set br0 up
ip netns exec "$UL" etcd --name "$P" --data-dir "/dev/shm/$P-etcd" \
	--listen-client-urls http://192.0.2.254:2379 \
	--advertise-client-urls http://192.0.2.254:2379 \
	--listen-peer-urls http://192.0.2.254:2380 \
	--initial-advertise-peer-urls http://192.0.2.254:2380 \
	--initial-cluster "$P=http://192.0.2.254:2380" \
	--heartbeat-interval 10 --election-timeout 100 >"$RUN/etcd.log" 2>&1 &
ETCD="http://192.0.2.254:2379"
ok=""
for _ in $(seq 1 100); do
	if ip netns exec "$UL" etcdctl --endpoints "$ETCD" endpoint health >/dev/null 2>&1; then
		ok=1
		break
	fi
	sleep 0.1
done
[ -n "$ok" ] || fail "etcd did not start (see $RUN/etcd.log)"
config="{\"Network\":\"$NETWORK\",\"Backend\":$BACKEND_JSON}"
ip netns exec "$UL" etcdctl --endpoints "$ETCD" put /coreos.com/network/config "$config" >/dev/null
echo "config: $config"

step "$HOSTS hosts, each with a container namespace"
for i in $(seq 1 "$HOSTS"); do
	h="$P-h$i"
	ip netns add "$h"
	ip -n "$h" link set lo up
	ip link add "$P-v$i" netns "$UL" type veth peer name eth0 netns "$h"
	ip -n "$UL" link set "$P-v$i" master br0 up
	ip -n "$h" addr add "192.0.2.$i/24" dev eth0
	ip -n "$h" link set eth0 up
	ip -n "$h" route add default via 192.0.2.254
	ip netns exec "$h" sysctl -qw net.ipv4.ip_forward=1
	ip netns add "$P-c$i"
	ip -n "$P-c$i" link set lo up
	echo "host $i: 192.0.2.$i"
done

# in_host I CMD...: CMD on host I; with wireguard, the host's own directory
# over /run/wireguard, where wireguard-go puts its API socket, and its own
# key file.
in_host() {
	local i=$1
	shift
	if [ "$BACKEND" != wireguard ]; then
		ip netns exec "$P-h$i" "$@"
		return
	fi
	mkdir -p "$RUN/wg$i" /run/wireguard
	ip netns exec "$P-h$i" env WIREGUARD_KEY_FILE="$RUN/h$i/wgkey" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$RUN/wg$i" "$@"
}

if [ "$BACKEND" = wireguard ]; then
	step "start wireguard-go (userspace WireGuard) on every host"
	for i in $(seq 1 "$HOSTS"); do
		in_host "$i" wireguard-go -f flannel-wg >"$RUN/wireguard-go-h$i.log" 2>&1 &
	done
	for i in $(seq 1 "$HOSTS"); do
		for _ in $(seq 1 50); do
			[ -S "$RUN/wg$i/flannel-wg.sock" ] && break
			sleep 0.1
		done
		[ -S "$RUN/wg$i/flannel-wg.sock" ] || fail "wireguard-go did not start on host $i"
	done
fi

step "start flanneld ($BACKEND) on every host"
for i in $(seq 1 "$HOSTS"); do
	in_host "$i" "$BIN/flanneld" --etcd-endpoints="$ETCD" --iface=eth0 \
		--subnet-file="$RUN/h$i/subnet.env" >"$RUN/flanneld-h$i.log" 2>&1 &
done
for i in $(seq 1 "$HOSTS"); do
	for _ in $(seq 1 100); do
		[ -s "$RUN/h$i/subnet.env" ] && break
		sleep 0.1
	done
	[ -s "$RUN/h$i/subnet.env" ] || fail "host $i wrote no subnet.env (see $RUN/flanneld-h$i.log)"
done

step "the leases in etcd"
ip netns exec "$UL" etcdctl --endpoints "$ETCD" get --prefix /coreos.com/network/subnets/ |
	paste - - | sed 's|/coreos.com/network/subnets/||'
echo
echo "what host 1's flannel-watch sees:"
ip netns exec "$P-h1" "$BIN/flannel-watch" --etcd-endpoints="$ETCD" \
	--subnet-file="$RUN/h1/subnet.env" --once |
	jq -r 'select(.type=="added") | "  \(.subnet) at \(.public_ip)\(if .self then "  (self)" else "" end)"'

if [ "$BACKEND" = alloc ]; then
	say "alloc only allocates subnets: no data path to ping across. Done."
	exit 0
fi

step "connect each container to its host's subnet"
declare -a CIP
for i in $(seq 1 "$HOSTS"); do
	# shellcheck disable=SC1090
	. "$RUN/h$i/subnet.env"
	gw=${FLANNEL_SUBNET%/*}
	len=${FLANNEL_SUBNET#*/}
	cip="${gw%.*}.$(( ${gw##*.} + 1 ))"
	CIP[i]=$cip
	ip link add "$P-c$i" netns "$P-h$i" type veth peer name eth0 netns "$P-c$i"
	ip -n "$P-h$i" addr add "$FLANNEL_SUBNET" dev "$P-c$i"
	ip -n "$P-h$i" link set "$P-c$i" up mtu "$FLANNEL_MTU"
	ip -n "$P-c$i" addr add "$cip/$len" dev eth0
	ip -n "$P-c$i" link set eth0 up mtu "$FLANNEL_MTU"
	ip -n "$P-c$i" route add default via "$gw"
	echo "container $i: $cip (host $i subnet $FLANNEL_SUBNET, MTU $FLANNEL_MTU)"
done

step "wait for every host to route to the others"
for i in $(seq 1 "$HOSTS"); do
	for j in $(seq 1 "$HOSTS"); do
		[ "$i" = "$j" ] && continue
		ok=""
		for _ in $(seq 1 100); do
			if ip netns exec "$P-h$i" ip route get "${CIP[j]}" 2>/dev/null |
				grep -qv "via 192.0.2.254"; then
				ok=1
				break
			fi
			sleep 0.1
		done
		[ -n "$ok" ] || fail "host $i has no route to ${CIP[j]} (see $RUN/flanneld-h$i.log)"
	done
	echo "host $i:"
	ip -n "$P-h$i" route show | grep -v "^default\|192.0.2.0/24" | sed 's/^/  /'
done

step "ping between containers on different hosts"
for i in $(seq 1 "$HOSTS"); do
	for j in $(seq 1 "$HOSTS"); do
		[ "$i" = "$j" ] && continue
		if ip netns exec "$P-c$i" ping -c 2 -W 2 -i 0.2 -q "${CIP[j]}" >/dev/null; then
			echo "container $i -> container $j (${CIP[j]}): ok"
		else
			fail "container $i cannot ping container $j (${CIP[j]})"
		fi
	done
done

if [ "$BACKEND" = wireguard ]; then
	step "host 1's WireGuard peers"
	in_host 1 wg show flannel-wg
fi

say "the overlay works. $(if [ -n "${KEEP:-}" ]; then echo "Left running: scripts/demo.sh down"; else echo "Tearing down."; fi)"
