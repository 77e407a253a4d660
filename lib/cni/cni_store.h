/* cni_store.h - the delegate configs ADD saves for DEL, one file per
 * container under dataDir (upstream saveScratchNetConf). */
#ifndef FLANNEL_CNI_STORE_H
#define FLANNEL_CNI_STORE_H

#include <stddef.h>

/* dataDir/containerID; the ID must already have passed cni_check_container_id. */
char *cni_store_path(const char *data_dir, const char *container_id);
/*
 * mkdir -p data_dir (0700), then write the bytes to path (0600, truncate,
 * fsync).  -1 with err in Go's words ("mkdir /x: not a directory").
 */
int cni_store_save(const char *data_dir, const char *path, const char *buf, size_t len,
		   char *err, size_t errlen);
/* Read the stored file: 0, 1 when it does not exist, -1 with err. */
int cni_store_read(const char *path, char **buf, size_t *len, char *err, size_t errlen);

#endif
