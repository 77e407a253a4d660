/* subproc_run with real programs: stdin, stdout, exit status, not found;
 * and the buffer its callers build scripts in. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/spawn.h"
#include "base/buf.h"
#include "base/subproc.h"
#include "base/timefmt.h"
#include "tap.h"

/* The spawn primitive itself: pipes, a cap, exec errors, fds, timeouts. */
static void spawn_cases(void)
{
	char *echo[] = { "sh", "-c", "echo out; echo err >&2; exit 4", NULL };
	char *flood[] = { "sh", "-c", "head -c 100000 /dev/zero", NULL };
	char *group[] = { "sh", "-c", "", NULL };
	char *fdcheck[] = { "sh", "-c", "", NULL };
	char *missing[] = { "/nonexistent/prog", NULL };
	char script[128], flag[64];
	struct buf out = { 0 }, err = { 0 };
	struct spawn_wait w = { .out = { NULL, &out, &err }, .until_eof = true };
	struct spawn sp;
	int64_t t0;
	int fd;

	spawn_init(&sp, "/bin/sh", echo);
	sp.fd[1] = sp.fd[2] = SPAWN_PIPE;
	ok(spawn_start(&sp) == 0 && spawn_wait(&sp, &w) == 0, "spawn: started and waited for");
	ok(WIFEXITED(w.status) && WEXITSTATUS(w.status) == 4 && out.data &&
		   strcmp(out.data, "out\n") == 0 && err.data && strcmp(err.data, "err\n") == 0,
	   "spawn: stdout and stderr in their own pipes, exit status");
	ok(sp.pipe[1] < 0 && sp.pipe[2] < 0, "spawn: the pipes are closed after the wait");
	buf_free(&out);
	buf_free(&err);

	out.max = 10;
	spawn_init(&sp, "/bin/sh", flood);
	sp.fd[1] = SPAWN_PIPE;
	ok(spawn_start(&sp) == 0 && spawn_wait(&sp, &w) == 0 && WIFEXITED(w.status) &&
		   WEXITSTATUS(w.status) == 0 && out.len == 10 && out.truncated,
	   "spawn: output past the cap is read and dropped, the child never blocks");
	buf_free(&out);

	spawn_init(&sp, missing[0], missing);
	errno = 0;
	ok(spawn_start(&sp) == SPAWN_EXEC_FAILED && errno == ENOENT,
	   "spawn: a program that cannot run: SPAWN_EXEC_FAILED, ENOENT");

	fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC on purpose */
	snprintf(script, sizeof(script), "test ! -e /proc/self/fd/%d", fd);
	fdcheck[2] = script;
	w = (struct spawn_wait){ 0 };
	spawn_init(&sp, "/bin/sh", fdcheck);
	ok(spawn_start(&sp) == 0 && spawn_wait(&sp, &w) == 0 && WIFEXITED(w.status) &&
		   WEXITSTATUS(w.status) == 0,
	   "spawn: the child has no fds above 2");
	close(fd);

	/* A grandchild that would leave a file behind if the group survived. */
	snprintf(flag, sizeof(flag), "/tmp/test_subproc.%d", (int)getpid());
	snprintf(script, sizeof(script), "(sleep 1; echo alive > %s) & sleep 5", flag);
	group[2] = script;
	w = (struct spawn_wait){ .timeout_ms = 100, .grace_ms = 100 };
	spawn_init(&sp, "/bin/sh", group);
	sp.new_group = true;
	t0 = mono_ms();
	ok(spawn_start(&sp) == 0 && spawn_wait(&sp, &w) == 0 && w.timed_out &&
		   WIFSIGNALED(w.status) && WTERMSIG(w.status) == SIGTERM,
	   "spawn: a timeout ends it with SIGTERM");
	ok(mono_ms() - t0 < 3000, "spawn: in time");
	poll(NULL, 0, 1500);
	ok(access(flag, F_OK) < 0, "spawn: the timeout reached the whole group");
	unlink(flag);
}

int main(void)
{
	const char *cat[] = { NULL };
	const char *exit3[] = { "-c", "echo to-stderr >&2; exit 3", NULL };
	const char *sig[] = { "-c", "kill -TERM $$", NULL };
	const char *pipe_[] = { "-c", "kill -PIPE $$; exit 0", NULL };
	struct buf b = { 0 };
	char *out = NULL;
	int rc;

	log_init("test_subproc", 0);
	/* Ignored SIGPIPE and blocked signals must not reach the child. */
	signal(SIGPIPE, SIG_IGN);

	rc = subproc_run("cat", cat, "line one\nline two\n", &out, 0);
	is_int(rc, 0, "cat exits 0");
	is_str(out, "line one\nline two\n", "stdin comes back on stdout");
	free(out);

	rc = subproc_run("cat", cat, NULL, &out, 0);
	is_str(out, "", "no input: empty output");
	free(out);

	rc = subproc_run("sh", exit3, NULL, NULL, SUBPROC_QUIET);
	is_int(rc, 3, "exit status is returned");

	rc = subproc_run("sh", sig, NULL, NULL, SUBPROC_QUIET);
	is_int(rc, 128 + SIGTERM, "death by signal: 128 + signal");

	rc = subproc_run("sh", pipe_, NULL, NULL, SUBPROC_QUIET);
	is_int(rc, 128 + SIGPIPE, "the child gets SIGPIPE back at its default");

	errno = 0;
	rc = subproc_run("/nonexistent/prog", cat, NULL, NULL, 0);
	ok(rc == -1 && errno == ENOENT, "missing program: -1, ENOENT");

	/* buf: formatted pieces joined, growth past the first block. */
	for (int i = 0; i < 300; i++)
		buf_printf(&b, "rule %d\n", i);
	out = buf_take(&b);
	ok(out && strncmp(out, "rule 0\nrule 1\n", 14) == 0 && strstr(out, "rule 299\n") != NULL,
	   "buf grows and keeps everything");
	free(out);
	out = buf_take(&b);
	ok(out && !*out, "buf: nothing added hands over an empty string");
	free(out);
	fl_alloc_fail_at(1);
	buf_printf(&b, "x");
	buf_printf(&b, "y");
	fl_alloc_fail_at(0);
	errno = 0;
	out = buf_take(&b);
	ok(out == NULL && errno == ENOMEM, "buf: a failed allocation fails the whole string");

	/* A cap keeps what fits, says so, and never grows past it. */
	b.max = 5;
	ok(buf_add(&b, "abc", 3) == 0 && buf_printf(&b, "%s", "defg") == -1 && b.truncated &&
		   b.len == 5 && strcmp(b.data, "abcde") == 0 && b.cap <= 6,
	   "buf: the cap truncates");
	errno = 0;
	ok(buf_reserve(&b, 1) == -1 && errno == EMSGSIZE, "buf: no room past the cap");
	buf_reset(&b);
	ok(!b.truncated && b.len == 0 && buf_str(&b, "0123") == 0 && b.max == 5, "buf: reset");
	buf_drop(&b, 2);
	ok(b.len == 2 && strcmp(b.data, "23") == 0, "buf: drop the consumed front");
	buf_free(&b);
	spawn_cases();
	return tap_done();
}
