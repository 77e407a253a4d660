/* charon.c - starting, watching and ending our charon. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/path.h"
#include "base/spawn.h"
#include "ipsec/charon.h"

/* Upstream's order: PATH, then Alpine/Arch, Debian/Ubuntu, RHEL, SUSE. */
static const char *const places[] = {
	"/usr/lib/strongswan/charon",
	"/usr/lib/ipsec/charon",
	"/usr/libexec/strongswan/charon",
	"/usr/libexec/ipsec/charon",
};

static bool runnable(const char *p)
{
	struct stat st;

	return stat(p, &st) == 0 && S_ISREG(st.st_mode) && access(p, X_OK) == 0;
}

int charon_find(const char *given, char *out, size_t len)
{
	const char *path = getenv("PATH");

	if (given) {
		if (!runnable(given))
			return -1;
		snprintf(out, len, "%s", given);
		return 0;
	}
	while (path && *path) {
		size_t n = strcspn(path, ":");

		if (n && (size_t)snprintf(out, len, "%.*s/charon", (int)n, path) < len &&
		    runnable(out))
			return 0;
		path += n + (path[n] == ':');
	}
	for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
		if (runnable(places[i])) {
			snprintf(out, len, "%s", places[i]);
			return 0;
		}
	}
	return -1;
}

int charon_vici_path(const char *run_dir, char *out, size_t len)
{
	int n = snprintf(out, len, "%s/charon.vici", run_dir);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* Our charon's settings: the plugins it needs and no others (no stroke, no
 * updown scripts), no routes of its own (we install the policies), its log
 * on stderr, its VICI socket in its /run (our run directory). */
static int write_conf(const struct charon *ch, char *err, size_t errlen)
{
	char path[4096], tmp[4200];
	FILE *f;
	int lvl = ch->log_level;

	if ((size_t)snprintf(path, sizeof(path), "%s/strongswan.conf", ch->run_dir) >=
	    sizeof(path) ||
	    (size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp)) {
		snprintf(err, errlen, "write the settings of charon: %s: path too long",
			 ch->run_dir);
		return -1;
	}
	f = fopen(tmp, "we");
	if (!f) {
		snprintf(err, errlen, "write %s: %s", tmp, strerror(errno));
		return -1;
	}
	fprintf(f,
		"# Written by flannel-ipsec for its own charon, which sees this directory\n"
		"# as /run (flannel-ipsec(1)).  Rewritten at every start.\n"
		"charon {\n"
		"\tload_modular = no\n"
		"\tload = random nonce openssl pem pkcs1 pubkey x509 revocation constraints "
		"aes aesni sha1 sha2 hmac gcm kdf drbg gmp kernel-netlink socket-default vici\n"
		"\tinstall_routes = no\n"
		"\tinstall_virtual_ip = no\n"
		"\tplugins {\n"
		"\t\tvici {\n"
		"\t\t\tsocket = unix:///run/charon.vici\n"
		"\t\t}\n"
		"\t}\n"
		"\tfilelog {\n"
		"\t\tstderr {\n"
		"\t\t\tdefault = %d\n"
		"\t\t\tike_name = yes\n"
		"\t\t}\n"
		"\t}\n"
		"}\n",
		lvl);
	if (fclose(f) != 0 || rename(tmp, path) < 0) {
		snprintf(err, errlen, "write %s: %s", path, strerror(errno));
		unlink(tmp);
		return -1;
	}
	return 0;
}

int charon_start(struct charon *ch, char *err, size_t errlen)
{
	char file[4096], rd[4200], cp[4200];
	char *argv[] = { "flannel-ipsec", "exec-charon", rd, cp, NULL };
	char *envp[] = { "STRONGSWAN_CONF=/run/strongswan.conf",
			 "PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL };
	struct spawn sp;
	int rc;

	if (path_mkdir_parents(ch->run_dir) < 0 ||
	    (mkdir(ch->run_dir, 0700) < 0 && errno != EEXIST)) {
		snprintf(err, errlen, "create %s: %s", ch->run_dir, strerror(errno));
		return -1;
	}
	if (write_conf(ch, err, errlen) < 0)
		return -1;
	/* A PID file of a charon killed with us would stop the new one when its
	 * number was reused. */
	snprintf(file, sizeof(file), "%s/charon.pid", ch->run_dir);
	unlink(file);
	snprintf(rd, sizeof(rd), "--run-dir=%s", ch->run_dir);
	snprintf(cp, sizeof(cp), "--charon=%s", ch->path);
	spawn_init(&sp, ch->self, argv);
	sp.envp = envp;
	rc = spawn_start(&sp);
	if (rc < 0) {
		snprintf(err, errlen, "start %s: %s", ch->path, strerror(errno));
		return -1;
	}
	ch->pid = sp.pid;
	log_info("started charon (%s, pid %d, /run = %s)", ch->path, (int)ch->pid, ch->run_dir);
	return 0;
}

bool charon_exited(struct charon *ch, int *status)
{
	pid_t p;

	if (ch->pid <= 0)
		return false;
	p = waitpid(ch->pid, status, WNOHANG);
	if (p == ch->pid || (p < 0 && errno == ECHILD)) {
		ch->pid = 0;
		return true;
	}
	return false;
}

void charon_stop(struct charon *ch)
{
	int status;

	if (ch->pid <= 0)
		return;
	kill(ch->pid, SIGTERM);
	for (int i = 0; i < 50; i++) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		if (charon_exited(ch, &status))
			return;
		nanosleep(&ts, NULL);
	}
	log_warn("charon (pid %d) still runs 5 s after SIGTERM: killing it", (int)ch->pid);
	kill(ch->pid, SIGKILL);
	waitpid(ch->pid, &status, 0);
	ch->pid = 0;
}

int charon_exec(const char *run_dir, const char *path, char *err, size_t errlen)
{
	char *argv[] = { (char *)path, NULL };
	extern char **environ;

	/* charon goes when we go, even by SIGKILL. */
	if (prctl(PR_SET_PDEATHSIG, SIGTERM) < 0 || getppid() == 1) {
		snprintf(err, errlen, "tie charon to flannel-ipsec: %s",
			 errno ? strerror(errno) : "the parent is gone");
		return -1;
	}
	if (unshare(CLONE_NEWNS) < 0) {
		snprintf(err, errlen, "make a mount namespace for charon: %s", strerror(errno));
		return -1;
	}
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0 ||
	    mount(run_dir, "/run", NULL, MS_BIND, NULL) < 0) {
		snprintf(err, errlen, "mount %s on /run for charon: %s", run_dir, strerror(errno));
		return -1;
	}
	execve(path, argv, environ);
	snprintf(err, errlen, "run %s: %s", path, strerror(errno));
	return -1;
}
