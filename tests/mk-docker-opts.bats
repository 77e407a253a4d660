#!/usr/bin/env bats
# mk-docker-opts.sh against upstream's own test cases
# (flannel dist/mk_docker_opts_test.go) and its documented quirks.

load helpers

teardown() { fl_teardown; }

MK="$BATS_TEST_DIRNAME/../scripts/mk-docker-opts.sh"

setup() {
	IN="$BATS_TEST_TMPDIR/subnet.env"
	OUT="$BATS_TEST_TMPDIR/docker_opts.env"
	# upstream's sample_subnet.env
	printf 'FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.74.1/24\nFLANNEL_MTU=1472\nFLANNEL_IPMASQ=false\n' >"$IN"
}

# mk ARGS...: run the script under POSIX sh (dash) with a clean environment.
mk() {
	env -i PATH="$PATH" sh "$MK" -f "$IN" -d "$OUT" "$@"
}

@test "default: individual and combined (upstream case 1)" {
	mk
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPT_BIP="--bip=100.64.74.1/24"
	DOCKER_OPT_IPMASQ="--ip-masq=true"
	DOCKER_OPT_MTU="--mtu=1472"
	DOCKER_OPTS=" --bip=100.64.74.1/24 --ip-masq=true --mtu=1472"
	EOF
}

@test "-i: individual only (upstream case 2)" {
	mk -i
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPT_BIP="--bip=100.64.74.1/24"
	DOCKER_OPT_IPMASQ="--ip-masq=true"
	DOCKER_OPT_MTU="--mtu=1472"
	EOF
}

@test "-c: combined only (upstream case 3)" {
	mk -c
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPTS=" --bip=100.64.74.1/24 --ip-masq=true --mtu=1472"
	EOF
}

@test "-k CUSTOM_KEY (upstream case 4)" {
	mk -k CUSTOM_KEY
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPT_BIP="--bip=100.64.74.1/24"
	DOCKER_OPT_IPMASQ="--ip-masq=true"
	DOCKER_OPT_MTU="--mtu=1472"
	CUSTOM_KEY=" --bip=100.64.74.1/24 --ip-masq=true --mtu=1472"
	EOF
}

@test "-m: no ip-masq option (upstream case 5)" {
	mk -m
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPT_BIP="--bip=100.64.74.1/24"
	DOCKER_OPT_MTU="--mtu=1472"
	DOCKER_OPTS=" --bip=100.64.74.1/24 --mtu=1472"
	EOF
}

@test "FLANNEL_IPMASQ=true gives --ip-masq=false; a bad value is an error" {
	sed -i 's/IPMASQ=false/IPMASQ=true/' "$IN"
	mk -c
	[ "$(cat "$OUT")" = 'DOCKER_OPTS=" --bip=100.64.74.1/24 --ip-masq=false --mtu=1472"' ]
	sed -i 's/IPMASQ=true/IPMASQ=yes/' "$IN"
	run mk
	[ "$status" -eq 1 ]
	[ "$output" = "Invalid value of FLANNEL_IPMASQ: yes" ]
	# -m skips the check as upstream does.
	mk -m
}

@test "inherited DOCKER_OPT_* and the key's value join in, in name order" {
	env -i PATH="$PATH" DOCKER_OPT_AAA=--debug DOCKER_OPT_LOG=--log-level=warn \
		DOCKER_OPTS=--iptables=false sh "$MK" -f "$IN" -d "$OUT"
	diff -u - "$OUT" <<-'EOF'
	DOCKER_OPT_AAA="--debug"
	DOCKER_OPT_BIP="--bip=100.64.74.1/24"
	DOCKER_OPT_IPMASQ="--ip-masq=true"
	DOCKER_OPT_LOG="--log-level=warn"
	DOCKER_OPT_MTU="--mtu=1472"
	DOCKER_OPTS="--iptables=false  --debug --bip=100.64.74.1/24 --ip-masq=true --log-level=warn --mtu=1472"
	EOF
}

@test "missing env file: an error naming it; with -s, upstream's silence: only what the environment has" {
	echo stale >"$OUT"
	run env -i PATH="$PATH" sh "$MK" -f "$BATS_TEST_TMPDIR/absent" -d "$OUT"
	[ "$status" -eq 1 ]
	[[ "$output" == *"read $BATS_TEST_TMPDIR/absent: no such file"* ]]
	[ "$(cat "$OUT")" = stale ]
	env -i PATH="$PATH" sh "$MK" -s -f "$BATS_TEST_TMPDIR/absent" -d "$OUT"
	[ "$(cat "$OUT")" = 'DOCKER_OPTS=""' ]
}

@test "-h and unknown flags: usage on stderr, exit 1; a bad key is refused" {
	run mk -h
	[ "$status" -eq 1 ]
	[[ "$output" == *"Generate Docker daemon options based on flannel env file"* ]]
	run mk -x
	[ "$status" -eq 1 ]
	run mk -k 'X;touch /tmp/pwned'
	[ "$status" -eq 1 ]
	[[ "$output" == *"Invalid combined options key"* ]]
}

@test "route check: a route via a gateway to our subnet is an error" {
	need_root
	fl_id >/dev/null # fix the id in this shell, not in a subshell
	topo_create 1
	printf 'FLANNEL_SUBNET=100.64.74.1/24\nFLANNEL_MTU=1450\n' >"$IN"
	run in_host 1 env -i PATH="$PATH" sh "$MK" -f "$IN" -d "$OUT"
	[ "$status" -eq 0 ]
	# A neighbouring or wider prefix is not our subnet.
	in_host 1 ip route add 100.64.75.0/24 via 192.0.2.254
	in_host 1 ip route add 100.64.0.0/16 via 192.0.2.254
	run in_host 1 env -i PATH="$PATH" sh "$MK" -f "$IN" -d "$OUT"
	[ "$status" -eq 0 ]
	in_host 1 ip route add 100.64.74.0/24 via 192.0.2.254
	run in_host 1 env -i PATH="$PATH" sh "$MK" -f "$IN" -d "$OUT"
	[ "$status" -eq 1 ]
	[[ "$output" == "Your routing table already contains the subnet: 100.64.74.0/24 via 192.0.2.254"* ]]
	# The file is written before the check, as upstream.
	grep -q 'DOCKER_OPTS=" --bip=100.64.74.1/24 --mtu=1450"' "$OUT"
}
