/* peer_set.h - the remote leases an applier holds, one record per lease
 * keyed by its subnet, kept from the lease events: a snapshot's leases
 * marked with a generation and the unmarked ones dropped at its sync, the
 * table published (by the applier's callback) at every sync and whenever
 * the input pauses after a change.  flannel-udp and flannel-wireguard
 * drive their event loops with it. */
#ifndef FLANNEL_PEER_SET_H
#define FLANNEL_PEER_SET_H

#include <stdbool.h>
#include <stdint.h>

#include "base/htab.h"
#include "model/event.h"

/* The start of every record. */
struct peer_head {
	struct prefix key;   /* the lease's subnet, or its IPv6 subnet when it has none */
	uint32_t gen;
};

struct peer_set_ops {
	/* Our own lease was added (or changed): 0, or -1 ends the run. */
	int (*self)(void *arg, const struct lease *l);
	/* Fill rec from a remote lease (rec is zero but for its head when
	 * created): 1 it changed, 0 it did not, -1 skip the lease (logged). */
	int (*update)(void *arg, void *rec, bool created, const struct lease *l);
	/* Push the table out: 0, or -1 to keep it marked changed. */
	int (*publish)(void *arg);
};

struct peer_set {
	struct htab recs;
	const struct peer_set_ops *ops;
	void *arg;
	uint32_t gen;
	bool in_snapshot;    /* between a snapshot and its sync: the table is partial */
	bool dirty;          /* changed since it was last published */
	bool synced;         /* a sync was seen */
	/* Called once, after the first sync was published; may be NULL (a
	 * tool's sd_notify, straight from its options). */
	void (*on_synced)(void *arg);
	void *on_synced_arg;
};

/* Records of rec_size bytes, each beginning with a struct peer_head. */
void peer_set_init(struct peer_set *s, size_t rec_size, const struct peer_set_ops *ops,
		   void *arg);
void peer_set_free(struct peer_set *s);
/* One event, as event_sink.event wants it: 0, or -1 from ops->self. */
int peer_set_event(struct peer_set *s, const struct event *ev);
/* The input pauses: publish when changed and not inside a snapshot. */
void peer_set_idle(struct peer_set *s);
/* The whole table is known (a sync seen, no snapshot under way). */
bool peer_set_complete(const struct peer_set *s);
static inline size_t peer_set_count(const struct peer_set *s)
{
	return s->recs.count;
}
/* Iterate as htab_next. */
static inline void *peer_set_next(const struct peer_set *s, size_t *it)
{
	return htab_next(&s->recs, it);
}
/* The key of a lease: its IPv4 subnet, else its IPv6 subnet. */
struct prefix peer_key_of(const struct lease *l);

#endif
