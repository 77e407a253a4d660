/* config_fetch.h - the network config at <prefix>/config, read from etcd
 * and parsed (model/config.h), for flanneld and the tools. */
#ifndef FLANNEL_CONFIG_FETCH_H
#define FLANNEL_CONFIG_FETCH_H

#include "etcd/etcd.h"
#include "model/config.h"

/* Read and parse it once: 0, or an error kind (FL_ERR_CONFIG when missing or
 * invalid, etcd_err otherwise) after logging why. */
int config_fetch(struct etcd *e, const char *prefix, struct net_config *c);
/* The same, but wait while it is missing or etcd is unreachable, as upstream
 * flanneld does (a warning every 10 s); -1 when a stop signal came. */
int config_fetch_wait(struct etcd *e, const char *prefix, struct net_config *c);

#endif
