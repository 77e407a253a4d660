/* config.h - the network config at <prefix>/config, as upstream reads it. */
#ifndef FLANNEL_CONFIG_H
#define FLANNEL_CONFIG_H

#include <jansson.h>
#include <stdbool.h>

#include "model/subnet.h"

struct net_config {
	bool enable_ipv4, enable_ipv6;
	struct prefix network, network6;
	unsigned subnet_len, subnet6_len;
	struct ipaddr subnet_min, subnet_max;
	struct ipaddr subnet6_min, subnet6_max;
	char backend_type[32]; /* lower case; "udp" when Backend is absent */
	json_t *backend;       /* the Backend object as given, or NULL */
};

void config_init(struct net_config *c);
void config_clear(struct net_config *c);
/* Parse and validate; err names the field and the rule. 0 or -1. */
int config_parse(const char *json, size_t len, struct net_config *c, char *err, size_t errlen);
/* A Backend key looked up without regard to case, as Go does; NULL if absent. */
json_t *config_backend_get(const struct net_config *c, const char *key);
/* The subnet fits this config: inside [Min, Max] with the right length. */
bool config_subnet_ok(const struct net_config *c, const struct prefix *p);
bool config_subnet6_ok(const struct net_config *c, const struct prefix *p);

#endif
