/* srv_ring.h - flannel-server's one etcd watch of the whole prefix, shared
 * by every long poll: the changes since it started (bounded) in a ring, so
 * that a cursor it covers is answered from memory and an older one with a
 * snapshot.  The watch runs in its own thread with its own etcd client. */
#ifndef FLANNEL_SRV_RING_H
#define FLANNEL_SRV_RING_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "etcd/etcd.h"

#define RING_CAP 16384 /* changes kept; an older cursor gets a snapshot */

struct ring_ev {
	int64_t rev;
	bool del;
	char *key, *val, *prev;     /* NUL-terminated; val NULL for a delete, prev may be NULL */
	size_t key_len, val_len, prev_len;
	int64_t lease;
};

struct ring {
	pthread_mutex_t mu;
	struct ring_ev *ev;         /* RING_CAP slots */
	size_t first, n;
	int64_t start_rev;          /* every change after it is held */
	int64_t head_rev;           /* everything up to it is held */
	int wake[2];                /* written to after each batch of changes */
	struct etcd *e;
	char prefix[512];           /* "<prefix>/" */
	pthread_t th;
	volatile int stop;
	bool started;
};

/* Read the current revision, start the watch thread: 0, or -1 with err. */
int ring_start(struct ring *r, const struct etcd_opts *o, const char *prefix, char *err,
	       size_t errlen);
void ring_stop(struct ring *r);
/* The read end of the wake pipe (drain it with ring_drain). */
int ring_fd(const struct ring *r);
void ring_drain(struct ring *r);

/*
 * The changes after cursor, oldest first, through emit while the ring is
 * locked: how many, or -1 when cursor is older than what the ring holds
 * (the caller answers with a snapshot).  *head gets the revision up to which
 * the ring is complete.
 */
int ring_since(struct ring *r, int64_t cursor, void (*emit)(void *arg, const struct ring_ev *ev),
	       void *arg, int64_t *head);

/* The revision up to which the ring is complete. */
int64_t ring_head(struct ring *r);

#endif
