/* subproc.h - run a program (nft, iptables-restore) with text on stdin,
 * capturing what it prints. */
#ifndef FLANNEL_SUBPROC_H
#define FLANNEL_SUBPROC_H

#include <stddef.h>

/*
 * Run PROG (a path, or a name looked up in PATH) with the arguments ARGS
 * (NULL-terminated, without argv[0]), the text INPUT (may be NULL) on stdin.
 * When out is not NULL, *out receives stdout (fl_malloc'd, NUL-terminated).
 * Each line it prints on stderr is logged as an error (a warning when it
 * succeeded), prefixed with the program's name, unless flags has
 * SUBPROC_QUIET.  Returns its exit status (0..255), or -1 with errno when it
 * could not be run (ENOENT: not found).
 */
#define SUBPROC_QUIET 1 /* flags: do not log stderr (an expected failure) */
int subproc_run(const char *prog, const char *const args[], const char *input, char **out,
	      unsigned flags);

#endif
