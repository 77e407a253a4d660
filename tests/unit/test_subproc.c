/* subproc_run with real programs: stdin, stdout, exit status, not found. */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "subproc.h"
#include "tap.h"

int main(void)
{
	const char *cat[] = { NULL };
	const char *exit3[] = { "-c", "echo to-stderr >&2; exit 3", NULL };
	const char *sig[] = { "-c", "kill -TERM $$", NULL };
	const char *pipe_[] = { "-c", "kill -PIPE $$; exit 0", NULL };
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

	return tap_done();
}
