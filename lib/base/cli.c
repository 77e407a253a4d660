/* cli.c - flags from the environment and shared option parsing. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <unistd.h>

#include "base/cli.h"
#include "base/log.h"
#include "base/mem.h"

/* FLANNELD_ + the flag name in upper case, '-' and '.' as '_'. */
static int twin_name(const char *prefix, const char *name, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s_%s", prefix, name);

	if (n < 0 || (size_t)n >= len)
		return -1;
	for (char *p = buf; *p; p++)
		*p = *p == '-' || *p == '.' ? '_' : (char)toupper((unsigned char)*p);
	return 0;
}

static const char *env_lookup(char **envp, const char *name)
{
	size_t n = strlen(name);

	for (; envp && *envp; envp++)
		if (strncmp(*envp, name, n) == 0 && (*envp)[n] == '=')
			return *envp + n + 1;
	return NULL;
}

/* Given as --name, --name=x, -name or -name=x (Go accepts one dash too). */
static bool on_command_line(int argc, char **argv, const char *name)
{
	size_t n = strlen(name);

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];

		if (strcmp(a, "--") == 0)
			break;
		if (a[0] != '-')
			continue;
		a += a[1] == '-' ? 2 : 1;
		if (strncmp(a, name, n) == 0 && (a[n] == '\0' || a[n] == '='))
			return true;
	}
	return false;
}

int cli_env_twins(int *argc, char ***argv, int start, const struct option *opts, char **envp,
		  const char *prefix, int *inserted)
{
	char **out;
	int n = 0, count = 0;

	for (const struct option *o = opts; o->name; o++)
		count++;
	out = fl_calloc((size_t)(*argc + count + 1), sizeof(*out));
	if (!out)
		return -1;
	for (int i = 0; i < start && i < *argc; i++)
		out[n++] = (*argv)[i];
	for (const struct option *o = opts; o->name; o++) {
		char var[128], *arg;
		const char *val;
		bool b = true;
		size_t len;

		if (twin_name(prefix, o->name, var, sizeof(var)) < 0 ||
		    !(val = env_lookup(envp, var)) || !*val || on_command_line(*argc, *argv, o->name))
			continue;
		if (o->has_arg == no_argument && (cli_bool(val, &b) < 0 || !b))
			continue;
		len = strlen(o->name) + strlen(val) + 4;
		arg = fl_malloc(len);
		if (!arg)
			goto fail;
		if (o->has_arg == no_argument)
			snprintf(arg, len, "--%s", o->name);
		else
			snprintf(arg, len, "--%s=%s", o->name, val);
		log_debug("%s=%s gives %s", var, o->has_arg == no_argument ? val : "...", o->name);
		out[n++] = arg;
	}
	*inserted = n - start;
	for (int i = start; i < *argc; i++)
		out[n++] = (*argv)[i];
	out[n] = NULL;
	*argv = out;
	*argc = n;
	return 0;
fail:
	for (int i = start; i < n; i++)
		free(out[i]);
	free(out);
	return -1;
}

void cli_env_twins_free(char **argv, int start, int inserted)
{
	for (int i = start; i < start + inserted; i++)
		free(argv[i]);
	free(argv);
}

int cli_bool(const char *arg, bool *out)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True", NULL };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False", NULL };

	if (!arg) {
		*out = true;
		return 0;
	}
	for (int i = 0; yes[i]; i++)
		if (strcmp(arg, yes[i]) == 0) {
			*out = true;
			return 0;
		}
	for (int i = 0; no[i]; i++)
		if (strcmp(arg, no[i]) == 0) {
			*out = false;
			return 0;
		}
	return -1;
}

int cli_long(const char *arg, long min, long max, long *out)
{
	char *end;
	long v;

	if (!arg || !*arg || isspace((unsigned char)*arg))
		return -1;
	errno = 0;
	v = strtol(arg, &end, 10);
	if (errno || *end || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

int cli_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen)
{
	int fd = -1, passed = -1;
	size_t n = 0;
	char *end;

	if (strncmp(path, "/dev/fd/", 8) == 0) {
		long v = strtol(path + 8, &end, 10);

		if (end != path + 8 && !*end && v > 2 && v < 65536)
			passed = (int)v;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (passed >= 0)
		close(passed);
	if (fd < 0) {
		snprintf(err, errlen, "open: %s", strerror(errno));
		return -1;
	}
	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, len - 1 - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "read: %s", strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	close(fd);
	if (n + 1 >= len && !memchr(buf, '\n', n)) {
		snprintf(err, errlen, "first line longer than %zu bytes", len - 2);
		return -1;
	}
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

int cli_common_option(int opt, const char *arg, const char *prog, void (*usage)(FILE *))
{
	long v;

	switch (opt) {
	case 'v':
		if (cli_long(arg, 0, 10, &v) < 0) {
			log_err("-v %s: not a level within 0..10", arg);
			return -1;
		}
		log_set_verbosity((int)v);
		return 0;
	case OPT_CLI_VERSION:
		printf("%s %s\n", prog, FLANNEL_VERSION);
		return 1;
	case OPT_CLI_HELP:
		usage(stdout);
		return 1;
	default:
		usage(stderr);
		return -1;
	}
}

/* Every kind's exit status (scripts/exits-check.sh reads this table). */
static const unsigned char exit_of[FL_ERR_COUNT] = {
	[FL_OK] = 0,
	[FL_ERR_FAILED] = EXIT_FAILURE,
	[FL_ERR_USAGE] = EX_USAGE,
	[FL_ERR_DATA] = EX_DATAERR,
	[FL_ERR_UNAVAILABLE] = EX_UNAVAILABLE,
	[FL_ERR_INTERNAL] = EX_SOFTWARE,
	[FL_ERR_OS] = EX_OSERR,
	[FL_ERR_CANTCREAT] = EX_CANTCREAT,
	[FL_ERR_IO] = EX_IOERR,
	[FL_ERR_TEMP] = EX_TEMPFAIL,
	[FL_ERR_PROTO] = EX_PROTOCOL,
	[FL_ERR_PERM] = EX_NOPERM,
	[FL_ERR_CONFIG] = EX_CONFIG,
};

int cli_exit_code(int err)
{
	return err >= 0 && err < FL_ERR_COUNT ? exit_of[err] : EX_SOFTWARE;
}

enum fl_err cli_err_of_exit(int status)
{
	for (int k = 0; k < FL_ERR_COUNT; k++)
		if (exit_of[k] == status)
			return (enum fl_err)k;
	return FL_ERR_FAILED;
}
