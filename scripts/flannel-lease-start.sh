#!/bin/sh
# flannel-lease-start.sh BINDIR [LEASE-ARG...]: run the backend's init step,
# then exec flannel-lease with its result as the lease's BackendData, for the
# backend named in FLANNEL_BACKEND (vxlan by default; host-gw, ipip,
# extension, alloc, udp, wireguard, ipsec).  FLANNEL_INIT_ARGS: extra words for the init step.  Used by
# flannel-lease.service; flanneld does the same from the etcd config.
set -eu

if [ "$#" -lt 1 ]; then
	echo "usage: flannel-lease-start.sh BINDIR [LEASE-ARG...]" >&2
	exit 64
fi
bindir=$1
shift
backend=${FLANNEL_BACKEND:-vxlan}
init_args=${FLANNEL_INIT_ARGS:-}

case $backend in
vxlan)
	# shellcheck disable=SC2086 # words on purpose
	data=$("$bindir/flannel-vxlan" init $init_args)
	;;
ipip)
	# The device before the lease, as flanneld does; no BackendData.
	# shellcheck disable=SC2086
	"$bindir/flannel-ipip" init $init_args
	data=""
	;;
extension)
	# shellcheck disable=SC2086
	data=$("$bindir/flannel-ext" pre-startup $init_args)
	;;
wireguard)
	# The key file and the device; a userspace WireGuard must already serve
	# it where the kernel has no module (flannel-wireguard(1)).
	# shellcheck disable=SC2086
	data=$("$bindir/flannel-wireguard" init $init_args)
	;;
ipsec)
	# The kernel has ESP and charon is there (exit 69 otherwise); no BackendData.
	# shellcheck disable=SC2086
	"$bindir/flannel-ipsec" init $init_args
	data=""
	;;
host-gw | alloc | udp)
	data=""
	;;
*)
	echo "flannel-lease-start.sh: backend '$backend' is not supported" >&2
	exit 78
	;;
esac

# Their leases carry no BackendType, as upstream writes them.
if [ "$backend" = alloc ] || [ "$backend" = udp ]; then
	exec "$bindir/flannel-lease" --quiet "$@"
fi
if [ -n "$data" ]; then
	exec "$bindir/flannel-lease" --quiet --backend-type="$backend" --backend-data="$data" "$@"
fi
exec "$bindir/flannel-lease" --quiet --backend-type="$backend" "$@"
