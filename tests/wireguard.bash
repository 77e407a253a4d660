# Helpers for the tests that run wireguard-go (wireguard.bats, check.bats):
# each host's wireguard-go and flanneld with their own API directory bound
# over /run/wireguard (ip netns exec gives each a mount namespace).
# shellcheck shell=bash

# in_wg I CMD...: CMD on host I with its WireGuard API directory.
in_wg() {
	local i=$1
	shift
	mkdir -p "$RUN/wg$i"
	in_host "$i" sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$RUN/wg$i" "$@"
}

bg_wg() {
	local i=$1 logf=$2
	shift 2
	mkdir -p "$RUN/wg$i"
	bg_in_host "$i" "$logf" env WIREGUARD_KEY_FILE="$RUN/h$i/wgkey" \
		sh -c 'mount --bind "$0" /run/wireguard && exec "$@"' "$RUN/wg$i" "$@"
}

start_wggo() {
	bg_wg "$1" "$RUN/wireguard-go-h$1.log" wireguard-go -f flannel-wg
	wait_for 5 test -S "$RUN/wg$1/flannel-wg.sock"
}

# start_fd I [ARGS...]: flanneld on host I with its WireGuard API directory.
start_fd() {
	local i=$1
	shift
	bg_wg "$i" "$RUN/flanneld-h$i.log" "$BIN/flanneld" --etcd-endpoints="$ETCD_EP" \
		--iface=eth0 --subnet-file="$RUN/h$i/subnet.env" --iptables-forward-rules=false "$@"
	eval "FLANNELD_PID_$i=$LAST_PID"
}
