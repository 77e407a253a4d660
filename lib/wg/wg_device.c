/* wg_device.c - a device's configuration and its peers, as both drivers
 * read and write them. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "wg/wg.h"

void wg_device_clear(struct wg_device *d)
{
	if (d->peers)
		explicit_bzero(d->peers, d->cap_peers * sizeof(*d->peers));
	free(d->peers);
	explicit_bzero(d, sizeof(*d));
}

struct wg_peer *wg_device_add_peer(struct wg_device *d)
{
	if (d->n_peers == d->cap_peers) {
		size_t cap = d->cap_peers ? 2 * d->cap_peers : 8;
		struct wg_peer *p = fl_realloc(d->peers, cap * sizeof(*p));

		if (!p)
			return NULL;
		d->peers = p;
		d->cap_peers = cap;
	}
	memset(&d->peers[d->n_peers], 0, sizeof(d->peers[0]));
	return &d->peers[d->n_peers++];
}

struct wg_peer *wg_device_find_peer(const struct wg_device *d, const uint8_t pub[WG_KEY_LEN])
{
	for (size_t i = 0; i < d->n_peers; i++)
		if (!memcmp(d->peers[i].pub, pub, WG_KEY_LEN))
			return &d->peers[i];
	return NULL;
}
