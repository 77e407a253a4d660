/* wg_go.c - wireguard-go started for a device that nothing serves: in the
 * foreground (-f) so that it stays our child and its exit is seen, in a
 * process group of its own so that a signal to ours (a restart of
 * flanneld) leaves it, the device and its sessions running. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/spawn.h"
#include "wg/wg.h"

bool wg_go_found(const char *prog)
{
	const char *path = getenv("PATH");
	char buf[4096];

	if (strchr(prog, '/'))
		return access(prog, X_OK) == 0;
	for (const char *p = path ? path : "/usr/bin:/bin"; *p;) {
		size_t n = strcspn(p, ":");

		snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, n ? p : ".", prog);
		if (access(buf, X_OK) == 0)
			return true;
		p += n + (p[n] == ':');
	}
	return false;
}

int wg_go_start(const char *prog, const struct wg_drv *w, pid_t *pid, char *err, size_t errlen)
{
	char *argv[] = { (char *)prog, "-f", (char *)w->dev, NULL };
	struct timespec step = { 0, 50 * 1000 * 1000 };
	struct spawn sp;
	struct stat st;
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC), rc, status;

	if (null < 0) {
		snprintf(err, errlen, "open /dev/null: %s", strerror(errno));
		return -errno;
	}
	/* A socket left by one that died would look served at once. */
	if (unlink(w->sock) < 0 && errno != ENOENT) {
		snprintf(err, errlen, "remove the stale %s: %s", w->sock, strerror(errno));
		close(null);
		return -errno;
	}
	spawn_init(&sp, prog, argv);
	sp.search = true;
	sp.new_group = true;
	sp.fd[0] = null;      /* not our event stream */
	sp.fd[1] = 2;         /* its messages go where ours go */
	rc = spawn_start(&sp);
	close(null);
	if (rc != 0) {
		snprintf(err, errlen, "run %s: %s", prog, strerror(errno));
		return -ENOENT;
	}
	/* It serves the API socket within a second here. */
	for (int i = 0; i < 200; i++) {
		if (stat(w->sock, &st) == 0 && S_ISSOCK(st.st_mode)) {
			*pid = sp.pid;
			return 0;
		}
		if (waitpid(sp.pid, &status, WNOHANG) == sp.pid) {
			snprintf(err, errlen, "%s -f %s exited with status %d before serving %s",
				 prog, w->dev, WIFEXITED(status) ? WEXITSTATUS(status) : 128 +
				 WTERMSIG(status), w->sock);
			return -ECHILD;
		}
		nanosleep(&step, NULL);
	}
	kill(-sp.pid, SIGTERM);
	waitpid(sp.pid, &status, 0);
	snprintf(err, errlen, "%s -f %s: no %s after 10 s (another API directory?)", prog, w->dev,
		 w->sock);
	return -ETIMEDOUT;
}

bool wg_go_exited(pid_t pid, char *why, size_t len)
{
	int status;

	if (waitpid(pid, &status, WNOHANG) != pid)
		return false;
	if (WIFSIGNALED(status))
		snprintf(why, len, "was killed by signal %d", WTERMSIG(status));
	else
		snprintf(why, len, "exited with status %d", WEXITSTATUS(status));
	return true;
}
