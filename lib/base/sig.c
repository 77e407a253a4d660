/* sig.c - the self-pipe trick: handlers only write the signal number. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "base/sig.h"

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t stop_flag, pending_flag;

static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (sig == SIGTERM || sig == SIGINT)
		stop_flag = 1;
	pending_flag = 1;
	if (write(sig_pipe[1], &c, 1) < 0) {
		/* Full pipe: a signal is already pending, nothing is lost. */
	}
	errno = saved;
}

int sig_init(int want_chld)
{
	struct sigaction sa;
	int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGCHLD };
	int n = want_chld ? 4 : 3;

	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	for (int i = 0; i < n; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return sig_pipe[0];
}

bool sig_pending(void)
{
	return pending_flag;
}

int sig_next(void)
{
	unsigned char c;

	pending_flag = 0;
	if (sig_pipe[0] < 0 || read(sig_pipe[0], &c, 1) != 1)
		return 0;
	return c;
}

const volatile sig_atomic_t *sig_stop_flag(void)
{
	return &stop_flag;
}

int sig_fd(void)
{
	return sig_pipe[0];
}

bool sig_stop_requested(void)
{
	bool stop = false;
	int sig;

	while ((sig = sig_next()))
		if (sig == SIGTERM || sig == SIGINT)
			stop = true;
	return stop;
}

bool sig_pause_ms(int64_t ms)
{
	struct pollfd p = { .fd = sig_fd(), .events = POLLIN };

	poll(&p, 1, (int)(ms < 0 ? 0 : ms));
	return sig_stop_requested();
}
