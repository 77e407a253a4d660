/* cni_store.c - saved delegate configs: directory 0700, files 0600, fsync. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/mem.h"
#include "cni/cni_env.h"
#include "cni/cni_json.h"
#include "cni/cni_store.h"

/* A stored config is a few hundred bytes; anything this big is not ours. */
#define STORE_MAX (1u << 20)

char *cni_store_path(const char *data_dir, const char *container_id)
{
	struct buf b = { 0 };
	size_t n = strlen(data_dir);

	/* filepath.Join: no doubled or trailing slashes. */
	while (n > 1 && data_dir[n - 1] == '/')
		n--;
	for (size_t i = 0; i < n; i++)
		if (!(data_dir[i] == '/' && i + 1 < n && data_dir[i + 1] == '/'))
			buf_add(&b, &data_dir[i], 1);
	if (n && !(n == 1 && data_dir[0] == '/'))
		buf_add(&b, "/", 1);
	buf_str(&b, container_id);
	return buf_take(&b);
}

static int os_error(const char *op, const char *path, int errnum, char *err, size_t errlen)
{
	char why[128];

	snprintf(err, errlen, "%s %s: %s", op, path, cni_strerror(errnum, why, sizeof(why)));
	return -1;
}

/* Go's os.MkdirAll. */
static int mkdir_all(char *path, char *err, size_t errlen)
{
	struct stat st;
	size_t i = strlen(path), j;

	if (stat(path, &st) == 0)
		return S_ISDIR(st.st_mode) ? 0 : os_error("mkdir", path, ENOTDIR, err, errlen);
	while (i > 0 && path[i - 1] == '/')
		i--;
	j = i;
	while (j > 0 && path[j - 1] != '/')
		j--;
	if (j > 1) {
		char save = path[j - 1];
		int rc;

		path[j - 1] = '\0';
		rc = mkdir_all(path, err, errlen);
		path[j - 1] = save;
		if (rc < 0)
			return -1;
	}
	if (mkdir(path, 0700) < 0) {
		int e = errno;

		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			return 0;
		return os_error("mkdir", path, e, err, errlen);
	}
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -1 : (errno = EIO, -1);
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

int cni_store_save(const char *data_dir, const char *path, const char *buf, size_t len,
		   char *err, size_t errlen)
{
	char *dir = fl_strdup(data_dir);
	int fd, rc;

	if (!dir)
		return snprintf(err, errlen, "out of memory"), -1;
	rc = mkdir_all(dir, err, errlen);
	free(dir);
	if (rc < 0)
		return -1;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return os_error("open", path, errno, err, errlen);
	/* fsync: after a crash an empty file made DEL fail (cni-plugin#43). */
	if (write_all(fd, buf, len) < 0)
		rc = os_error("write", path, errno, err, errlen);
	else if (fsync(fd) < 0)
		rc = os_error("sync", path, errno, err, errlen);
	if (close(fd) < 0 && rc == 0)
		rc = os_error("close", path, errno, err, errlen);
	return rc;
}

int cni_store_read(const char *path, char **buf, size_t *len, char *err, size_t errlen)
{
	struct buf b = { 0 };
	char chunk[4096];
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	*buf = NULL;
	if (fd < 0)
		return errno == ENOENT ? 1 : os_error("open", path, errno, err, errlen);
	while ((n = read(fd, chunk, sizeof(chunk))) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 || b.len + (size_t)n > STORE_MAX) {
			os_error("read", path, n < 0 ? errno : EFBIG, err, errlen);
			close(fd);
			buf_free(&b);
			return -1;
		}
		buf_add(&b, chunk, (size_t)n);
	}
	close(fd);
	*len = b.len;
	*buf = buf_take(&b);
	if (!*buf)
		return snprintf(err, errlen, "out of memory"), -1;
	return 0;
}
