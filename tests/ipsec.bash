# Helpers for the ipsec tests, on this host (tests/ipsec.bats) and in the
# user-mode-linux guest (tests/uml/ipsec.bats): the PSK, each host's charon
# directory (its /run; short, a unix socket path must fit in 108 bytes).

# A PSK of 96 hex characters, as upstream's docs make one.
# shellcheck disable=SC2034 # used by the files that load this one
PSK=$(od -An -N48 -tx1 /dev/urandom | tr -d ' \n')

# ipsec_dir I: host I's charon directory, removed by fl_teardown.
ipsec_dir() {
	local d
	d="/dev/shm/flannel-ipsec.$(fl_id).h$1"
	if [ ! -d "$d" ]; then
		mkdir -p "$d"
		echo "$d" >>"$BATS_TEST_TMPDIR/dirs"
	fi
	echo "$d"
}

# ipsec_status I [ARGS...]: flannel-ipsec status of host I's charon.
ipsec_status() {
	local i=$1
	shift
	in_host "$i" flannel-ipsec status --run-dir="$(ipsec_dir "$i")" "$@"
}

# ike_up I N: host I shows N peers with an ESTABLISHED IKE_SA.
ike_up() {
	[ "$(ipsec_status "$1" | awk '$3 == "ESTABLISHED"' | wc -l)" -eq "$2" ]
}

# child_up I N: ... and an INSTALLED CHILD_SA.
child_up() {
	[ "$(ipsec_status "$1" | awk '$3 == "ESTABLISHED" && $4 == "INSTALLED"' | wc -l)" -eq "$2" ]
}

# our_policies I: host I's XFRM policies with our reqid tag (76 << 24),
# one per line: "DIR SRC DST TSRC TDST REQID", sorted.
our_policies() {
	ip -n "$(host_ns "$1")" xfrm policy show | awk '
		$1 == "src" { s = $2; d = $4 }
		$1 == "dir" { dir = $2 }
		$1 == "tmpl" { ts = $3; td = $5 }
		$1 == "proto" && $3 == "reqid" {
			if ($4 >= 1275068416 && $4 < 1291845632) print dir, s, d, ts, td, $4
		}' | sort
}
