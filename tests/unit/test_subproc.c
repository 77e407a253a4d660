/* subproc_run with real programs: stdin, stdout, exit status, not found;
 * and the buffer its callers build scripts in. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/buf.h"
#include "base/subproc.h"
#include "tap.h"

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
	return tap_done();
}
