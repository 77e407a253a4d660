/* extension.h - the extension backend's Backend keys, for flannel-ext; its
 * table entry is backend_extension (backend.h). */
#ifndef FLANNEL_EXTENSION_H
#define FLANNEL_EXTENSION_H

#include "ext/ext.h"
#include "model/config.h"

/* The four command keys of the config's Backend (Type must be "extension").
 * Keys already set are kept, so flags given first win. */
int ext_config_from_net(struct ext_config *c, const struct net_config *net, char *err,
			size_t errlen);

#endif
