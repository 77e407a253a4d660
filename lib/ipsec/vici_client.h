/* vici_client.h - one connection to charon's VICI socket: requests and
 * their answers, events streamed before an answer (list-sa), and a
 * connection that only listens to events (log), read without blocking. */
#ifndef FLANNEL_VICI_CLIENT_H
#define FLANNEL_VICI_CLIENT_H

#include "base/buf.h"
#include "ipsec/vici.h"

struct vici_conn {
	int fd;         /* -1: not connected */
	struct buf in;  /* bytes read and not yet decoded */
};

/* Called for every streamed event of a request; 0 goes on, -1 stops. */
typedef int (*vici_event_fn)(void *arg, const struct vici_msg *ev);

/* Connect to the unix socket at path: 0, or -errno with the cause in err. */
int vici_connect(struct vici_conn *c, const char *path, char *err, size_t errlen);
void vici_disconnect(struct vici_conn *c);
/*
 * Send the command cmd with the message of w (NULL: an empty one) and wait
 * up to timeout_ms for the answer in *resp.  With stream, the events of
 * that name (list-sa, list-conn) that come before the answer go to fn.
 * 0 (the answer may still say success=no: vici_success), or -1 with the
 * cause in err (the connection is closed then).
 */
int vici_call(struct vici_conn *c, const char *cmd, struct vici_builder *w, const char *stream,
	      vici_event_fn fn, void *arg, struct vici_msg *resp, int timeout_ms, char *err,
	      size_t errlen);
/* Register for the event name on a connection that will only listen. */
int vici_listen(struct vici_conn *c, const char *name, int timeout_ms, char *err, size_t errlen);
/* The next whole packet if one can be read without blocking: 1 with *m, 0
 * when none is complete yet, -1 with err when the connection broke. */
int vici_poll(struct vici_conn *c, struct vici_msg *m, char *err, size_t errlen);

#endif
