/* state.h - what a long-running tool publishes about itself: one small JSON
 * document, <dir>/<tool>.json, replaced atomically at most once a second
 * from the tool's own loop (no thread, no socket).  The format is
 * flannel-state(5); flannel-status(1) reads it. */
#ifndef FLANNEL_STATE_H
#define FLANNEL_STATE_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "model/event.h"

#define STATE_DIR_DEFAULT "/run/flannel/state"
#define STATE_VERSION 1
/* At most one write in this many milliseconds. */
#define STATE_PERIOD_MS 1000
/* Peers listed in one document; the counts cover them all. */
#define STATE_PEERS_MAX 4096

enum state_counter {
	STATE_EVENTS,   /* event lines or etcd changes handled */
	STATE_ERRORS,   /* kernel or etcd errors */
	STATE_SKIPPED,  /* leases refused */
	STATE_HEALS,    /* objects put back after someone removed them */
	STATE_RESTARTS, /* pieces restarted (flanneld), reconnects (etcd clients) */
	STATE_NCOUNTERS
};

struct state;

/*
 * A writer for <dir>/<tool>.json (dir NULL: STATE_DIR_DEFAULT; "" or "-":
 * none, every call below is then a no-op, as it is on a NULL state).
 * peers: the tool keeps the list of remote leases (an applier).  NULL only
 * on ENOMEM or a path too long (logged).
 */
struct state *state_new(const char *dir, const char *tool, bool peers);
/* Write what is pending now, then free. */
void state_free(struct state *st);
/* The path of the document, or NULL. */
const char *state_path(const struct state *st);

/* A field of the tool's own ("lease", "backend", "device"...): v is stolen
 * (NULL removes the field).  Names of the common fields are refused. */
void state_set(struct state *st, const char *name, json_t *v);
void state_set_str(struct state *st, const char *name, const char *s);
/* The etcd endpoint in use, when it last answered (0: never), and the
 * last error ("" or NULL: none): "etcd":{...}. */
void state_etcd(struct state *st, const char *endpoint, time_t contact, const char *error);
void state_count(struct state *st, enum state_counter c, unsigned long n);
void state_count_set(struct state *st, enum state_counter c, unsigned long v);
/* A full view reached etcd's revision rev: "synced", "sync":{...}. */
void state_synced(struct state *st, int64_t rev);
/* The view is incomplete again (a new snapshot, a broken stream). */
void state_unsynced(struct state *st);

/*
 * An event as an applier got it, before the applier acts on it: a lease is
 * recorded as installed (a refusal below overrides that), a removal
 * forgets it, snapshot and sync mark the view, and peers a snapshot did
 * not announce go at its sync.  Counts STATE_EVENTS.
 */
void state_event(struct state *st, const struct event *ev);
/* The applier refused the lease holding subnet (either family), or the
 * kernel refused its objects: installed false with why.  Counts
 * STATE_SKIPPED once per refusal of an installed or new peer. */
void state_refused(struct state *st, const struct prefix *subnet, const char *why);
/* The lease holding subnet is installed after all (a retry worked). */
void state_installed(struct state *st, const struct prefix *subnet);

/*
 * Write the document when something changed and the last write is at least
 * STATE_PERIOD_MS old.  Returns the milliseconds until a pending write is
 * due (a poll timeout), or -1 when nothing is pending.  A failed write is
 * logged once (and again after a success) and retried at the next period.
 */
int state_tick(struct state *st);
/* Write now if anything changed: 0, or -1 with errno. */
int state_flush(struct state *st);

/* The document as it would be written (for tests); the caller decrefs. */
json_t *state_to_json(const struct state *st);

/* A document larger than this is not read back. */
#define STATE_FILE_MAX (4u << 20)

/* A document read back (state_doc.c): parsed and checked (type, version,
 * tool, pid), else NULL with why. */
json_t *state_doc_load(const char *path, char *why, size_t len);
/* Its process still runs: the same pid with the same start time. */
bool state_doc_running(const json_t *doc);
/* Its peer whose "subnet" or "ipv6_subnet" is subnet, or NULL. */
const json_t *state_doc_peer(const json_t *doc, const struct prefix *subnet);

/* The start time of process pid, in clock ticks since boot (field 22 of
 * /proc/PID/stat): -1 when there is no such process, or it is a zombie. */
long long state_proc_start(long pid);

#endif
