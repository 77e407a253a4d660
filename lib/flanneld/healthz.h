/* healthz.h - upstream's --healthz-ip/--healthz-port: /healthz and /readyz. */
#ifndef FLANNEL_HEALTHZ_H
#define FLANNEL_HEALTHZ_H

#include <stdbool.h>

/* Listen on ip:port (TCP); the fd, or -1 with a reason in err. */
int healthz_open(const char *ip, unsigned port, char *err, size_t errlen);
/*
 * Answer one waiting client: GET /healthz is 200 "ok" while we run; GET
 * /readyz is 200 once ready (the first sync is applied), 503 before; any
 * other path 404.  Waits at most 200 ms for the request line.
 */
void healthz_serve(int fd, bool ready);
/* The same for --metrics-addr: GET /metrics is 200 with body(arg) (a
 * malloc'd string, freed here; NULL: 500), any other path 404. */
void healthz_serve_metrics(int fd, char *(*body)(void *arg), void *arg);

#endif
