#!/bin/bash
# PID 1 of the user-mode-linux guest that tests/uml/run.sh boots.  Not run on
# the host.  The host's / is our read-only root; the job file that run.sh
# wrote in its temporary directory ($FLUML_JOB/job, passed on the kernel
# command line) says what to run.  Everything we print goes to the host
# through the console; the test's output is framed between two marker lines,
# the second of which carries the test's exit code.  We always end by
# powering off: if PID 1 exited, the guest kernel would panic.
set -u
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/run/scratch LANG=C.UTF-8

poweroff_now() {
	echo o >/proc/sysrq-trigger
	sleep 30
	exit 1
}

# fatal MESSAGE: the guest cannot run the test; say why in the end marker's
# place, so that the host shows it.
fatal() {
	echo "uml-init: $*"
	echo "@@FLUML-END ${FLUML_NONCE:-} rc=70@@"
	poweroff_now
}

mount -t proc proc /proc || fatal "cannot mount /proc"
mount -t sysfs sysfs /sys || fatal "cannot mount /sys"
# Console: errors only, so that kernel messages do not end up in the TAP.
echo 1 >/proc/sys/kernel/printk
# /run: writable, for ip netns and the scratch space.  Never a tmpfs over
# /tmp or anything else that may hold the repository or its scripts.
mount -t tmpfs -o mode=755,size=50% tmpfs /run || fatal "cannot mount a tmpfs on /run"
# devtmpfs has device nodes only: bash's process substitution needs /dev/fd.
[ -e /dev/fd ] || ln -s /proc/self/fd /dev/fd || fatal "cannot create /dev/fd"
for f in 0:stdin 1:stdout 2:stderr; do
	[ -e "/dev/${f#*:}" ] || ln -s "/proc/self/fd/${f%%:*}" "/dev/${f#*:}"
done
[ -d /dev/shm ] || mkdir /dev/shm || fatal "cannot create /dev/shm"
mount -t tmpfs -o mode=1777,size=50% tmpfs /dev/shm || fatal "cannot mount a tmpfs on /dev/shm"
mkdir -p /run/scratch/tmp /run/lock || fatal "cannot create /run/scratch"
export TMPDIR=/run/scratch/tmp

# Module autoloading: the guest's modules are in /usr/lib/uml/modules, not in
# /lib/modules, so the kernel's modprobe helper is a wrapper that points kmod
# at a tree where lib/modules is that directory.
modprobe=$(command -v modprobe) || fatal "no modprobe on the host root (Debian package kmod)"
mkdir -p /run/uml/lib || fatal "cannot create /run/uml"
ln -s /usr/lib/uml/modules /run/uml/lib/modules || fatal "cannot link the module tree"
printf '#!/bin/sh\nexec %s -d /run/uml "$@"\n' "$modprobe" >/run/uml/modprobe
chmod 755 /run/uml/modprobe
echo /run/uml/modprobe >/proc/sys/kernel/modprobe || fatal "cannot set the modprobe helper"

ip link set lo up || fatal "cannot bring up lo"
hostname fluml 2>/dev/null || true

[ -n "${FLUML_JOB:-}" ] && [ -r "$FLUML_JOB/job" ] ||
	fatal "no job file (FLUML_JOB=${FLUML_JOB:-unset})"
# The job file sets FLUML_REPO, FLUML_CWD (the host's working directory),
# FLUML_TEST, FLUML_ARGS (an array) and exports the variables the host passes
# on.
# shellcheck source=/dev/null
. "$FLUML_JOB/job" || fatal "cannot read $FLUML_JOB/job"
cd "$FLUML_CWD" 2>/dev/null || cd "$FLUML_REPO" || fatal "cannot enter $FLUML_REPO"

echo "@@FLUML-BEGIN $FLUML_NONCE@@"
case "$FLUML_TEST" in
*.bats) bats --tap ${FLUML_ARGS[@]+"${FLUML_ARGS[@]}"} "$FLUML_TEST" </dev/null 2>&1 ;;
*) "$FLUML_TEST" ${FLUML_ARGS[@]+"${FLUML_ARGS[@]}"} </dev/null 2>&1 ;;
esac
rc=$?
echo "@@FLUML-END $FLUML_NONCE rc=$rc@@"
poweroff_now
