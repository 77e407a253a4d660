/* cli.h - command-line helpers shared by the tools: FLANNELD_* twins,
 * booleans as Go's flag package reads them, -v, --version and --help.
 * The etcd options are in etcd/etcd_cli.h. */
#ifndef FLANNEL_CLI_H
#define FLANNEL_CLI_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include "base/err.h"

/*
 * Insert "--name=value" after argv[start - 1] for every long option whose
 * FLANNELD_<NAME> variable (upper case, '-' and '.' as '_') is set and not
 * empty in envp, unless the option is already on the command line.  The new
 * vector and the *inserted strings at [start, start + *inserted) are malloc'd
 * (cli_env_twins_free).  Returns 0 or -1 on ENOMEM.
 */
int cli_env_twins(int *argc, char ***argv, int start, const struct option *opts, char **envp,
		  const char *prefix, int *inserted);
void cli_env_twins_free(char **argv, int start, int inserted);

/* "true" and friends as Go's strconv.ParseBool; NULL (a bare flag) is true.
 * Returns 0 with *out set, or -1 when the text is not a boolean. */
int cli_bool(const char *arg, bool *out);
/* A decimal integer in [min, max]; -1 when not. */
int cli_long(const char *arg, long min, long max, long *out);

/* -v N, --version and --help, the same in every tool. */
enum { OPT_CLI_VERSION = 1100, OPT_CLI_HELP };

#define CLI_COMMON_OPTIONS                                                           \
	{ "v", required_argument, NULL, 'v' },                                       \
	{ "version", no_argument, NULL, OPT_CLI_VERSION },                           \
	{ "help", no_argument, NULL, OPT_CLI_HELP }

/*
 * Handle one of the common options: 0 after -v N (verbosity set), 1 after
 * --version or --help printed their text on stdout (the caller exits 0),
 * -1 on a bad level or an option that is not one of them (usage printed on
 * stderr).
 */
int cli_common_option(int opt, const char *arg, const char *prog, void (*usage)(FILE *));

/*
 * The first line of FILE (without its newline) into buf.  FILE may be
 * /dev/fd/N, a descriptor a parent passed down (flanneld does): N is
 * closed after reading, so that no grandchild inherits it.  0, or -1 with
 * the cause in err.
 */
int cli_read_secret(const char *path, char *buf, size_t len, char *err, size_t errlen);

/*
 * The exit status (sysexits.h) of a tool for what the library returned:
 * 0 for FL_OK, the code of an error kind (base/err.h), EX_SOFTWARE for
 * anything else.  The one table of kinds and codes: every main maps the
 * library's results through it.
 */
int cli_exit_code(int err);
/* The kind for a child tool's exit status (the inverse): a code no kind has
 * is FL_ERR_FAILED. */
enum fl_err cli_err_of_exit(int status);

#endif
