#!/bin/sh
# mk-docker-opts.sh: turn flannel's subnet.env into Docker daemon options,
# as upstream flannel's dist/mk-docker-opts.sh does (same flags, same output).
# See mk-docker-opts(8).
set -eu

usage() {
	echo "$0 [-f FLANNEL-ENV-FILE] [-d DOCKER-ENV-FILE] [-i] [-c] [-m] [-k COMBINED-KEY]

Generate Docker daemon options based on flannel env file
OPTIONS:
	-f	Path to flannel env file. Defaults to /run/flannel/subnet.env
	-d	Path to Docker env file to write to. Defaults to /run/docker_opts.env
	-i	Output each Docker option as individual var. e.g. DOCKER_OPT_MTU=1500
	-c	Output combined Docker options into DOCKER_OPTS var
	-k	Set the combined options key to this value (default DOCKER_OPTS=)
	-m	Do not output --ip-masq (useful for older Docker version)
	-s	A missing flannel env file is no error (upstream's silent behaviour)
" >&2
	exit 1
}

flannel_env="/run/flannel/subnet.env"
docker_env="/run/docker_opts.env"
combined_opts_key="DOCKER_OPTS"
indiv_opts=false
combined_opts=false
ipmasq=true
missing_ok=false

while getopts "f:d:icmsk:?h" opt; do
	case $opt in
	f) flannel_env=$OPTARG ;;
	d) docker_env=$OPTARG ;;
	i) indiv_opts=true ;;
	c) combined_opts=true ;;
	m) ipmasq=false ;;
	s) missing_ok=true ;;
	k) combined_opts_key=$OPTARG ;;
	*) usage ;;
	esac
done

# The key becomes a variable name: refuse anything else (upstream evals it).
case $combined_opts_key in
'' | [0-9]* | *[!A-Za-z0-9_]*)
	echo "Invalid combined options key: $combined_opts_key" >&2
	exit 1
	;;
esac

if [ "$indiv_opts" = false ] && [ "$combined_opts" = false ]; then
	indiv_opts=true
	combined_opts=true
fi

if [ -f "$flannel_env" ]; then
	# shellcheck disable=SC1090 # subnet.env is shell, written by flannel
	. "$flannel_env"
elif [ "$missing_ok" = false ]; then
	# Docker would start with its own bridge subnet and MTU: say so instead.
	echo "mk-docker-opts.sh: read $flannel_env: no such file (is flannel-lease or flanneld running? -s: carry on without it, as upstream)" >&2
	exit 1
fi

if [ -n "${FLANNEL_SUBNET:-}" ]; then
	DOCKER_OPT_BIP="--bip=$FLANNEL_SUBNET"
fi

if [ -n "${FLANNEL_MTU:-}" ]; then
	DOCKER_OPT_MTU="--mtu=$FLANNEL_MTU"
fi

# Inverted: when flannel masquerades, Docker must not do it again.
if [ -n "${FLANNEL_IPMASQ:-}" ] && [ "$ipmasq" = true ]; then
	if [ "$FLANNEL_IPMASQ" = true ]; then
		DOCKER_OPT_IPMASQ="--ip-masq=false"
	elif [ "$FLANNEL_IPMASQ" = false ]; then
		DOCKER_OPT_IPMASQ="--ip-masq=true"
	else
		echo "Invalid value of FLANNEL_IPMASQ: $FLANNEL_IPMASQ" >&2
		exit 1
	fi
fi

# The combined string starts from the key's current value, if any.
eval "docker_opts=\${$combined_opts_key:-}"
if [ -n "$docker_opts" ]; then
	docker_opts="$docker_opts "
fi

# Every DOCKER_OPT_* variable, ours and inherited ones, in name order.
opt_names() {
	{
		env | sed -n 's/^\(DOCKER_OPT_[A-Za-z0-9_]*\)=.*/\1/p'
		[ -z "${DOCKER_OPT_BIP+x}" ] || echo DOCKER_OPT_BIP
		[ -z "${DOCKER_OPT_IPMASQ+x}" ] || echo DOCKER_OPT_IPMASQ
		[ -z "${DOCKER_OPT_MTU+x}" ] || echo DOCKER_OPT_MTU
	} | LC_ALL=C sort -u
}

value=""
: >"$docker_env"
for name in $(opt_names); do
	eval "value=\${$name}"
	if [ "$indiv_opts" = true ]; then
		echo "$name=\"$value\"" >>"$docker_env"
	fi
	docker_opts="$docker_opts $value"
done

if [ "$combined_opts" = true ]; then
	echo "$combined_opts_key=\"$docker_opts\"" >>"$docker_env"
fi

# As upstream: a route to our own subnet via a gateway means another host
# (or a stale host-gw route) already claims it; Docker's bridge would clash.
# Unlike upstream the match is exact (ip route show exact), not a substring.
if [ -n "${FLANNEL_SUBNET:-}" ] && command -v ip >/dev/null 2>&1; then
	last=${FLANNEL_SUBNET##*.}
	host=${last%%/*}
	case $host in
	'' | *[!0-9]*) host=0 ;;
	esac
	if [ "$host" -gt 0 ]; then
		subnet="${FLANNEL_SUBNET%.*}.$((host - 1))/${FLANNEL_SUBNET#*/}"
		route_invalid=$(ip -4 route show exact "$subnet" 2>/dev/null | grep via || true)
		if [ -n "$route_invalid" ]; then
			echo "Your routing table already contains the subnet: $route_invalid" >&2
			exit 1
		fi
	fi
fi
