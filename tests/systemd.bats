#!/usr/bin/env bats
# The systemd units: installed with "make install", then checked with
# "systemd-analyze verify", which must print nothing.  The prefix is a temp
# directory so that the Exec paths and man pages verify looks up exist.

load helpers

ROOT="$BATS_TEST_DIRNAME/.."

setup_file() {
	PREFIX_DIR=$(mktemp -d /tmp/flannel-units.XXXXXX)
	export PREFIX_DIR
	make -C "$ROOT" -s install PREFIX="$PREFIX_DIR" CNIDIRS="$PREFIX_DIR/cni" >/dev/null
}

teardown_file() {
	case "$PREFIX_DIR" in /tmp/flannel-units.*) rm -rf "$PREFIX_DIR" ;; esac
}

# verify_unit NAME [TOOL]: verify the installed unit; skip while TOOL (the
# program it starts) is not built yet.
verify_unit() {
	local unit="$PREFIX_DIR/lib/systemd/system/$1" tool=${2:-}
	command -v systemd-analyze >/dev/null || require "needs systemd-analyze"
	[ -f "$unit" ]
	if [ -n "$tool" ] && [ ! -x "$PREFIX_DIR/$tool" ]; then
		skip "$tool is not built yet"
	fi
	run env MANPATH="$PREFIX_DIR/share/man:" SYSTEMD_LOG_COLOR=0 \
		systemd-analyze verify "$unit"
	echo "$output"
	[ "$status" -eq 0 ]
	[ -z "$output" ]
}

@test "units carry their placeholders substituted" {
	run grep -l '@BINDIR@\|@SBINDIR@\|@LIBEXEC@' "$PREFIX_DIR"/lib/systemd/system/*.service
	[ "$status" -eq 1 ]
	grep -q "^ExecStart=$PREFIX_DIR/bin/flannel-masq watch$" \
		"$PREFIX_DIR/lib/systemd/system/flannel-masq.service"
}

@test "every unit: RestartPreventExitStatus, notify, hardening" {
	for u in "$PREFIX_DIR"/lib/systemd/system/*.service; do
		grep -q '^RestartPreventExitStatus=64 65 77 78$' "$u"
		grep -q '^Type=notify$' "$u"
		# flannel-ipsec's charon also binds UDP 500 and mounts its /run.
		if [ "${u##*/}" = flannel-ipsec.service ]; then
			grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW CAP_NET_BIND_SERVICE CAP_SYS_ADMIN$' "$u"
		# flannel-server programs nothing: no capability.
		elif [ "${u##*/}" = flannel-server.service ]; then
			grep -q '^CapabilityBoundingSet=$' "$u"
		else
			grep -q '^CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_RAW$' "$u"
		fi
		grep -q '^ProtectSystem=strict$' "$u"
		grep -q '^ReadWritePaths=/run/flannel$' "$u"
		grep -q '^EnvironmentFile=-/etc/default/flannel$' "$u"
	done
}

@test "systemd-analyze verify: flannel-lease.service" {
	verify_unit flannel-lease.service bin/flannel-lease
}

@test "systemd-analyze verify: flannel-udp.service" {
	verify_unit flannel-udp.service bin/flannel-udp
}

@test "systemd-analyze verify: flannel-wireguard.service" {
	verify_unit flannel-wireguard.service bin/flannel-wireguard
}

@test "systemd-analyze verify: flannel-ipsec.service" {
	verify_unit flannel-ipsec.service bin/flannel-ipsec
}

@test "systemd-analyze verify: flannel-masq.service" {
	verify_unit flannel-masq.service bin/flannel-masq
}

@test "systemd-analyze verify: flannel-vxlan.service" {
	verify_unit flannel-vxlan.service bin/flannel-watch
}

@test "systemd-analyze verify: flannel-route.service" {
	verify_unit flannel-route.service bin/flannel-watch
}

@test "systemd-analyze verify: flannel-ipip.service" {
	verify_unit flannel-ipip.service bin/flannel-watch
}

@test "systemd-analyze verify: flannel-ext.service" {
	verify_unit flannel-ext.service bin/flannel-ext
}

@test "systemd-analyze verify: flannel-server.service and flannel-server.socket" {
	verify_unit flannel-server.service bin/flannel-server
	verify_unit flannel-server.socket
	grep -q '^ExecStart=.*/flannel-server --listen=fd://$' \
		"$PREFIX_DIR/lib/systemd/system/flannel-server.service"
}

@test "systemd-analyze verify: flanneld.service" {
	verify_unit flanneld.service sbin/flanneld
}

@test "a unit with a mistake does not verify (the check can fail)" {
	command -v systemd-analyze >/dev/null || require "needs systemd-analyze"
	bad="$BATS_TEST_TMPDIR/flannel-bad.service"
	sed 's/^Type=notify$/Type=notify\nFrobnicate=yes/' \
		"$PREFIX_DIR/lib/systemd/system/flannel-masq.service" >"$bad"
	run env MANPATH="$PREFIX_DIR/share/man:" systemd-analyze verify "$bad"
	[[ "$output" == *"Unknown key 'Frobnicate'"* ]]
}

@test "flannel-pipe.sh: the pipeline's status is the failing side's" {
	pipe="$ROOT/scripts/flannel-pipe.sh"
	w="$BATS_TEST_TMPDIR/watch"
	printf '#!/bin/sh\necho line\nexit "${W_EXIT:-0}"\n' >"$w"
	chmod +x "$w"
	run "$pipe" "$w" sh -c 'read -r l; echo "got $l"'
	[ "$status" -eq 0 ]
	[ "$output" = "got line" ]
	run env W_EXIT=5 "$pipe" "$w" cat
	[ "$status" -eq 5 ]
	[ "$output" = line ]
	run "$pipe" "$w" sh -c 'exit 3'
	[ "$status" -eq 3 ]
	run "$pipe" "$w"
	[ "$status" -eq 64 ]
}

@test "flannel-lease-start.sh: an unknown backend is a configuration error" {
	run env FLANNEL_BACKEND=frob "$ROOT/scripts/flannel-lease-start.sh" "$PREFIX_DIR/bin"
	[ "$status" -eq 78 ]
	[[ "$output" == *"backend 'frob' is not supported"* ]]
}

@test "make install: rt_protos.d and a sample /etc/default/flannel; make uninstall removes it all" {
	d=$(mktemp -d /tmp/flannel-inst.XXXXXX)
	make -C "$ROOT" -s install DESTDIR="$d" PREFIX=/usr/local CNIDIRS=/opt/cni/bin >/dev/null
	grep -qx '76	flannel' "$d/etc/iproute2/rt_protos.d/flannel.conf"
	grep -q '^#FLANNELD_ETCD_ENDPOINTS=' "$d/etc/default/flannel"
	[ -x "$d/usr/local/sbin/flanneld" ] && [ -x "$d/usr/local/bin/flannel-lease" ]
	# The operator's settings survive a reinstall and the uninstall.
	echo 'FLANNELD_IFACE=eth0' >>"$d/etc/default/flannel"
	make -C "$ROOT" -s install DESTDIR="$d" PREFIX=/usr/local CNIDIRS=/opt/cni/bin >/dev/null
	grep -qx 'FLANNELD_IFACE=eth0' "$d/etc/default/flannel"
	make -C "$ROOT" -s uninstall DESTDIR="$d" PREFIX=/usr/local CNIDIRS=/opt/cni/bin
	run find "$d" -type f
	echo "$output"
	[ "$output" = "$d/etc/default/flannel" ]
	case "$d" in /tmp/flannel-inst.*) rm -rf "$d" ;; esac
}

@test "--version: a release version, then the commit" {
	for t in flanneld flannel-lease flannel-masq flannel-watch; do
		run "$ROOT/build/bin/$t" --version
		echo "$t: $output"
		[[ "$output" =~ (^|[[:space:]])0\.[0-9]+\.[0-9]+( \([0-9a-f]+(-dirty)?\))?$ ]]
	done
}
