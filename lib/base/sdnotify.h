/* sdnotify.h - the sd_notify protocol without libsystemd. */
#ifndef FLANNEL_SDNOTIFY_H
#define FLANNEL_SDNOTIFY_H

/*
 * Send STATE ("READY=1", "STATUS=...", "STOPPING=1", several joined by
 * newlines) as one datagram to the AF_UNIX socket SOCKET_PATH, the value of
 * $NOTIFY_SOCKET; a leading '@' names an abstract socket.  A NULL or empty
 * path does nothing and returns 0 (not started by systemd).  Returns 0, or
 * -1 with errno set (EINVAL for a path that is neither absolute nor abstract
 * or too long).
 */
int sd_notify_send(const char *socket_path, const char *state);

/* A "ready" hook for the tools: arg is the socket path (the cmd layer passes
 * getenv("NOTIFY_SOCKET")); sends READY=1 and logs a failure. */
void sd_notify_ready(void *socket_path);

#endif
