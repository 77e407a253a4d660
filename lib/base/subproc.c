/* subproc.c - a program as a child: text in, text out, through memory files. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/spawn.h"
#include "base/subproc.h"

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

/* Run it to its end; its exit status, 128 + signal, or -1 with errno. */
static int run_wait(const char *prog, char *const argv[], const char *input, const int fds[2])
{
	struct spawn sp;
	struct spawn_wait w = { 0 };

	spawn_init(&sp, prog, argv);
	sp.search = true;
	sp.in = input ? input : "";
	sp.in_len = input ? strlen(input) : 0;
	sp.fd[1] = fds[0];
	sp.fd[2] = fds[1];
	if (spawn_start(&sp) != 0 || spawn_wait(&sp, &w) < 0)
		return -1;
	if (WIFEXITED(w.status))
		return WEXITSTATUS(w.status);
	log_err("%s: killed by signal %d", prog, WTERMSIG(w.status));
	return 128 + WTERMSIG(w.status);
}

int subproc_run(const char *prog, const char *const args[], const char *input, char **out,
	      unsigned flags)
{
	char *argv[16];
	int fds[2] = { -1, -1 }, rc = -1, saved;
	size_t n = 0;

	argv[n++] = (char *)prog;
	while (args && args[n - 1] && n < sizeof(argv) / sizeof(argv[0]) - 1) {
		argv[n] = (char *)args[n - 1];
		n++;
	}
	argv[n] = NULL;
	fds[0] = memfd_with("subproc-out", NULL, 0);
	fds[1] = memfd_with("subproc-err", NULL, 0);
	if (fds[0] < 0 || fds[1] < 0)
		goto out;
	rc = run_wait(prog, argv, input, fds);
	if (rc < 0)
		goto out;
	if (!(flags & SUBPROC_QUIET))
		log_stderr(prog, fds[1], rc != 0);
	if (out) {
		*out = memfd_slurp(fds[0]);
		if (!*out)
			rc = -1;
	}
out:
	saved = errno;
	for (int i = 0; i < 2; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	errno = saved;
	return rc;
}
