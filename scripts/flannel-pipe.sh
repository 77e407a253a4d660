#!/bin/bash
# flannel-pipe.sh WATCH APPLIER [ARG...]: run "WATCH | APPLIER ARG..." as one
# service, the pipeline of a flannel backend unit (flannel-vxlan.service...).
# flannel-watch takes its etcd settings from the FLANNELD_* environment.
# The status is that of the last side that failed (pipefail): when the
# applier dies, the watch ends on EPIPE (74) but the applier's code wins.
set -eu -o pipefail

if [ "$#" -lt 2 ]; then
	echo "usage: flannel-pipe.sh WATCH APPLIER [ARG...]" >&2
	exit 64
fi
watch=$1
shift
# Only the applier tells systemd it is ready: after its first sync is applied.
NOTIFY_SOCKET='' "$watch" | "$@"
