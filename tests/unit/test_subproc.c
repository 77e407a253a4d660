/* subproc_run with real programs: stdin, stdout, exit status, not found. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/mem.h"
#include "base/sbuf.h"
#include "base/subproc.h"
#include "tap.h"

int main(void)
{
	const char *cat[] = { NULL };
	const char *exit3[] = { "-c", "echo to-stderr >&2; exit 3", NULL };
	const char *sig[] = { "-c", "kill -TERM $$", NULL };
	const char *pipe_[] = { "-c", "kill -PIPE $$; exit 0", NULL };
	struct sbuf b = { 0 };
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

	/* sbuf: formatted pieces joined, growth past the first block. */
	for (int i = 0; i < 300; i++)
		sbuf_add(&b, "rule %d\n", i);
	ok(sbuf_finish(&b, &out) == 0 && out && strncmp(out, "rule 0\nrule 1\n", 14) == 0 &&
		   strstr(out, "rule 299\n") != NULL, "sbuf grows and keeps everything");
	free(out);
	memset(&b, 0, sizeof(b));
	fl_alloc_fail_at(1);
	sbuf_add(&b, "x");
	sbuf_add(&b, "y");
	fl_alloc_fail_at(0);
	errno = 0;
	ok(sbuf_finish(&b, &out) == -1 && errno == ENOMEM && out == NULL,
	   "sbuf: a failed allocation fails the whole string");
	return tap_done();
}
