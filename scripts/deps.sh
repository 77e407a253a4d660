#!/bin/bash
# Installs what building, testing and the demo need on Debian (run as root).
# Does nothing when everything is already there.
set -eu -o pipefail

pkgs="build-essential pkg-config libcurl4-openssl-dev libjansson-dev libmnl-dev
bats etcd-server etcd-client jq iproute2 shellcheck mandoc
containernetworking-plugins nftables iptables openssl tcpdump procps psmisc
iputils-ping time systemd python3 user-mode-linux kmod iperf3 clang
libclang-rt-14-dev wireguard-go wireguard-tools libssl-dev faketime ethtool
prometheus curl"

missing=""
for p in $pkgs; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		missing="$missing $p"
	fi
done
if [ -n "$missing" ]; then
	if [ "$(id -u)" != 0 ]; then
		echo "deps.sh: missing packages:$missing (run as root to install them)" >&2
		exit 77
	fi
	echo "deps.sh: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi
