/* flannel-cni - the flannel CNI plugin, installed as "flannel" (see flannel-cni(8)). */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "base/log.h"
#include "cni/cni_json.h"
#include "cni/cni_plugin.h"

extern char **environ;

static const char usage[] =
	"usage: flannel                        (run by a container runtime, CNI_COMMAND set)\n"
	"       flannel --delegate-config [--windows] < CONFIG\n"
	"       flannel --version\n";

/* All of buf to fd; -1 with errno (EPIPE when the reader left). */
static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

static int print_error(const struct cni_err *e)
{
	char *s = cni_err_json(e);
	int rc;

	if (!s) {
		log_err("print error object: out of memory");
		return EX_OSERR;
	}
	rc = write_all(1, s, strlen(s)) < 0 ? EX_IOERR : EXIT_FAILURE;
	free(s);
	return rc;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);

	return v ? v : "";
}

/* Go's GOARCH names, for the about line. */
#if defined(__x86_64__)
#define GOARCH "amd64"
#elif defined(__aarch64__)
#define GOARCH "arm64"
#elif defined(__i386__)
#define GOARCH "386"
#elif defined(__arm__)
#define GOARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define GOARCH "ppc64le"
#elif defined(__s390x__)
#define GOARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define GOARCH "riscv64"
#else
#define GOARCH "unknown"
#endif

static void about(void)
{
	/* What the Go skel prints when the plugin is run by hand. */
	fprintf(stderr, "CNI Plugin flannel version %s (linux/%s) commit %s\n", FLANNEL_VERSION,
		GOARCH, FLANNEL_VERSION);
	fprintf(stderr, "CNI protocol versions supported: ");
	for (size_t i = 0; cni_versions[i]; i++)
		fprintf(stderr, "%s%s", i ? ", " : "", cni_versions[i]);
	fprintf(stderr, "\n");
}

static int plugin(void)
{
	struct cni_call c = {
		.command = env("CNI_COMMAND"), .containerid = env("CNI_CONTAINERID"),
		.netns = env("CNI_NETNS"), .ifname = env("CNI_IFNAME"),
		.args = env("CNI_ARGS"), .path = env("CNI_PATH"),
		.netns_override = env("CNI_NETNS_OVERRIDE"), .envp = environ,
		.stdin_fd = 0, .os = CNI_OS_LINUX,
	};
	struct cni_reply r;
	struct cni_err e;
	int rc = 0;

	if (!*c.command) {
		about();
		return 0;
	}
	if (cni_dispatch(&c, &r, &e) < 0)
		return print_error(&e);
	if (r.errout && write_all(2, r.errout, r.err_len) < 0)
		rc = EX_IOERR;
	if (r.out && write_all(1, r.out, r.out_len) < 0) {
		log_err("write result: %s", strerror(errno));
		rc = EX_IOERR;
	}
	cni_reply_free(&r);
	return rc;
}

static int delegate_config(enum cni_os os)
{
	struct buf in = { 0 };
	char chunk[8192], *out;
	struct cni_err e;
	ssize_t n;
	int rc = 0;

	while ((n = read(0, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("read config: %s", strerror(errno));
			buf_free(&in);
			return EX_IOERR;
		}
		buf_add(&in, chunk, (size_t)n);
	}
	if (in.failed) {
		log_err("read config: out of memory");
		return EX_OSERR;
	}
	out = cni_delegate_config(in.data ? in.data : "", in.len, os, &e);
	buf_free(&in);
	if (!out) {
		log_err("build delegate config: %s", e.msg);
		return EX_DATAERR;
	}
	if (write_all(1, out, strlen(out)) < 0 || write_all(1, "\n", 1) < 0) {
		log_err("write delegate config: %s", strerror(errno));
		rc = EX_IOERR;
	}
	free(out);
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "delegate-config", no_argument, NULL, 'd' },
		{ "windows", no_argument, NULL, 'w' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int ch, print = 0;
	enum cni_os os = CNI_OS_LINUX;

	log_init("flannel", getenv("JOURNAL_STREAM") != NULL);
	signal(SIGPIPE, SIG_IGN);
	while ((ch = getopt_long(argc, argv, "dwVh", opts, NULL)) != -1) {
		switch (ch) {
		case 'd':
			print = 1;
			break;
		case 'w':
			os = CNI_OS_WINDOWS;
			break;
		case 'V':
			printf("flannel (CNI plugin) %s\n", FLANNEL_VERSION);
			return 0;
		case 'h':
			fputs(usage, stdout);
			return 0;
		default:
			fputs(usage, stderr);
			return EX_USAGE;
		}
	}
	if (optind != argc || (os == CNI_OS_WINDOWS && !print)) {
		fputs(usage, stderr);
		return EX_USAGE;
	}
	return print ? delegate_config(os) : plugin();
}
