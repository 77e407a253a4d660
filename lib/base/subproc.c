/* subproc.c - a program as a child: text in, text out, through memory files. */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/subproc.h"

extern char **environ;

int memfd_with(const char *name, const char *data, size_t len)
{
	size_t off = 0;
	int fd = memfd_create(name, MFD_CLOEXEC);

	if (fd < 0)
		return -1;
	while (off < len) {
		ssize_t n = write(fd, data + off, len - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			goto fail;
		off += (size_t)n;
	}
	if (lseek(fd, 0, SEEK_SET) < 0)
		goto fail;
	return fd;
fail:
	off = (size_t)errno;
	close(fd);
	errno = (int)off;
	return -1;
}

/* The whole content of memory file FD as a string; NULL with errno. */
static char *memfd_slurp(int fd)
{
	struct stat st;
	char *buf;
	size_t off = 0;

	if (fstat(fd, &st) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		return NULL;
	buf = fl_malloc((size_t)st.st_size + 1);
	if (!buf) {
		errno = ENOMEM;
		return NULL;
	}
	while (off < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + off, (size_t)st.st_size - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		off += (size_t)n;
	}
	buf[off] = '\0';
	return buf;
}

/* Log what PROG said on stderr, one message per line. */
static void log_stderr(const char *prog, int fd, int failed)
{
	char *text = memfd_slurp(fd), *line, *nl;

	if (!text)
		return;
	for (line = text; *line; line = nl + 1) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		if (*line && failed)
			log_err("%s: %s", prog, line);
		else if (*line)
			log_warn("%s: %s", prog, line);
		if (!nl)
			break;
	}
	free(text);
}

static int spawn_setup(posix_spawn_file_actions_t *fa, posix_spawnattr_t *at,
		       const int fds[3])
{
	sigset_t none, dfl;

	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE);
	sigaddset(&dfl, SIGTERM);
	sigaddset(&dfl, SIGINT);
	sigaddset(&dfl, SIGHUP);
	if (posix_spawn_file_actions_init(fa) != 0)
		return -1;
	if (posix_spawnattr_init(at) != 0) {
		posix_spawn_file_actions_destroy(fa);
		return -1;
	}
	/* Our blocked signals (signalfd) and ignored SIGPIPE are not the child's. */
	for (int i = 0; i < 3; i++)
		posix_spawn_file_actions_adddup2(fa, fds[i], i);
	posix_spawnattr_setsigmask(at, &none);
	posix_spawnattr_setsigdefault(at, &dfl);
	posix_spawnattr_setflags(at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	return 0;
}

static int spawn_wait(const char *prog, char *const argv[], const int fds[3])
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	pid_t pid;
	int st, rc;

	if (spawn_setup(&fa, &at, fds) < 0) {
		errno = ENOMEM;
		return -1;
	}
	rc = posix_spawnp(&pid, prog, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	if (rc != 0) {
		errno = rc;
		return -1;
	}
	while (waitpid(pid, &st, 0) < 0) {
		if (errno != EINTR)
			return -1;
	}
	if (WIFEXITED(st))
		return WEXITSTATUS(st);
	log_err("%s: killed by signal %d", prog, WTERMSIG(st));
	return 128 + WTERMSIG(st);
}

int subproc_run(const char *prog, const char *const args[], const char *input, char **out,
	      unsigned flags)
{
	char *argv[16];
	int fds[3] = { -1, -1, -1 }, rc = -1, saved;
	size_t n = 0;

	argv[n++] = (char *)prog;
	while (args && args[n - 1] && n < sizeof(argv) / sizeof(argv[0]) - 1) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	fds[0] = memfd_with("subproc-in", input, input ? strlen(input) : 0);
	fds[1] = memfd_with("subproc-out", NULL, 0);
	fds[2] = memfd_with("subproc-err", NULL, 0);
	if (fds[0] < 0 || fds[1] < 0 || fds[2] < 0)
		goto out;
	rc = spawn_wait(prog, argv, fds);
	if (rc < 0)
		goto out;
	if (!(flags & SUBPROC_QUIET))
		log_stderr(prog, fds[2], rc != 0);
	if (out) {
		*out = memfd_slurp(fds[1]);
		if (!*out)
			rc = -1;
	}
out:
	saved = errno;
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	errno = saved;
	return rc;
}
