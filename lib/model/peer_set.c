/* peer_set.c - remote leases by subnet, from the lease events. */
#include <string.h>

#include "model/peer_set.h"

void peer_set_init(struct peer_set *s, size_t rec_size, const struct peer_set_ops *ops,
		   void *arg)
{
	*s = (struct peer_set){ .ops = ops, .arg = arg };
	htab_init(&s->recs, rec_size, sizeof(struct prefix));
}

void peer_set_free(struct peer_set *s)
{
	htab_free(&s->recs);
}

struct prefix peer_key_of(const struct lease *l)
{
	const struct prefix *p = l->subnet.addr.family ? &l->subnet : &l->subnet6;

	/* A fresh struct: the padding is zero, as htab compares bytes. */
	return (struct prefix){ .addr = p->addr, .len = p->len };
}

static void added(struct peer_set *s, const struct lease *l)
{
	struct prefix key = peer_key_of(l);
	struct peer_head *h;
	bool created;
	int rc;

	if (!key.addr.family)
		return;
	h = htab_put(&s->recs, &key, &created);
	if (!h)
		return; /* ENOMEM: the next snapshot tries again */
	rc = s->ops->update(s->arg, h, created, l);
	if (rc < 0) {
		if (created)
			htab_del(&s->recs, &key);
		return; /* an old record keeps its generation: a snapshot drops it */
	}
	h->gen = s->gen;
	if (rc > 0 || created)
		s->dirty = true;
}

static void removed(struct peer_set *s, const struct lease *l)
{
	struct prefix key = peer_key_of(l);

	if (!key.addr.family || !htab_get(&s->recs, &key))
		return;
	htab_del(&s->recs, &key);
	s->dirty = true;
}

static bool stale(const void *rec, void *arg)
{
	return ((const struct peer_head *)rec)->gen != *(const uint32_t *)arg;
}

static void publish(struct peer_set *s)
{
	if (s->ops->publish(s->arg) == 0)
		s->dirty = false;
}

int peer_set_event(struct peer_set *s, const struct event *ev)
{
	switch (ev->type) {
	case EV_SNAPSHOT:
		s->gen++;
		s->in_snapshot = true;
		return 0;
	case EV_ADDED:
		if (ev->lease.self)
			return s->ops->self(s->arg, &ev->lease);
		added(s, &ev->lease);
		return 0;
	case EV_REMOVED:
		if (!ev->lease.self)
			removed(s, &ev->lease);
		return 0;
	case EV_SYNC: {
		bool first = !s->synced;

		if (s->in_snapshot && htab_del_if(&s->recs, stale, &s->gen))
			s->dirty = true;
		s->in_snapshot = false;
		s->synced = true;
		publish(s);
		if (first && s->on_synced)
			s->on_synced(s->on_synced_arg);
		return 0;
	}
	default:
		return 0;
	}
}

void peer_set_idle(struct peer_set *s)
{
	if (s->dirty && !s->in_snapshot)
		publish(s);
}

bool peer_set_complete(const struct peer_set *s)
{
	return s->synced && !s->in_snapshot;
}
