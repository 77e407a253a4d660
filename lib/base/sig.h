/* sig.h - signals as readable events (self-pipe), SIGPIPE ignored. */
#ifndef FLANNEL_SIG_H
#define FLANNEL_SIG_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>

/* Catch SIGTERM, SIGINT, SIGHUP (and SIGCHLD when want_chld); ignore
 * SIGPIPE.  Returns the read end of the pipe (non-blocking), or -1. */
int sig_init(int want_chld);
/* The next caught signal, or 0 when none is pending. */
int sig_next(void);
/* A signal may be waiting in the pipe: a check without a system call. */
bool sig_pending(void);
/* The read end, for poll(). */
int sig_fd(void);
/* Set from the handler once SIGTERM or SIGINT arrived: for code that waits
 * on something else (cmdrun's cancel). */
const volatile sig_atomic_t *sig_stop_flag(void);

/* Drain pending signals: true when SIGTERM or SIGINT is among them. */
bool sig_stop_requested(void);
/* Sleep ms, or less when a signal arrives; true when asked to stop. */
bool sig_pause_ms(int64_t ms);

#endif
