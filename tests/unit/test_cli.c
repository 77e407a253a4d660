/* Secrets read from a file or an inherited descriptor. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "base/cli.h"
#include "tap.h"

int main(void)
{
	char buf[64], err[128], path[64];
	int fd = memfd_create("t", 0);
	FILE *f;

	ok(write(fd, "s3cret\nsecond line\n", 19) == 19, "memfd written");
	snprintf(path, sizeof(path), "/dev/fd/%d", fd);
	ok(cli_read_secret(path, buf, sizeof(buf), err, sizeof(err)) == 0, "read %s", path);
	is_str(buf, "s3cret", "the first line, without its newline");
	ok(fcntl(fd, F_GETFD) < 0, "the passed descriptor is closed: no grandchild inherits it");

	char tmp[] = "/tmp/flannel-test-cli.XXXXXX";
	int tfd = mkstemp(tmp);

	f = fdopen(tfd, "w");
	fputs("pw-no-newline", f);
	fclose(f);
	ok(cli_read_secret(tmp, buf, sizeof(buf), err, sizeof(err)) == 0,
	   "a plain file");
	is_str(buf, "pw-no-newline", "a last line without newline");
	ok(cli_read_secret(tmp, buf, 8, err, sizeof(err)) < 0,
	   "too long: %s", err);
	unlink(tmp);
	ok(cli_read_secret("/nonexistent/pw", buf, sizeof(buf), err, sizeof(err)) < 0 &&
	   strstr(err, "No such file"), "missing: %s", err);
	return tap_done();
}
