/* cni_test.h - helpers shared by the CNI unit tests: temp files and JSON
 * compared by value (jansson's json_equal), as upstream's MatchJSON does. */
#ifndef FLANNEL_CNI_TEST_H
#define FLANNEL_CNI_TEST_H

#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tap.h"

/* upstream's subnet.env fixtures (flannel_linux_test.go); each starts with an empty line */
#define ENV4 "\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n" \
	     "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
#define ENV6 "\nFLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\n" \
	     "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
#define ENVDUAL "\nFLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n" \
		"FLANNEL_IPV6_NETWORK=fc00::/48\nFLANNEL_IPV6_SUBNET=fc00::1/64\n" \
		"FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
#define ENV4MULTI "\nFLANNEL_NETWORK=10.1.0.0/16,192.168.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n" \
		  "FLANNEL_MTU=1472\nFLANNEL_IPMASQ=true\n"
#define ENVBAD "foo=bar"

static char test_dir[256];

static inline const char *tmpdir(void)
{
	if (!test_dir[0]) {
		snprintf(test_dir, sizeof(test_dir), "/tmp/flannel-cni-unit.XXXXXX");
		if (!mkdtemp(test_dir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return test_dir;
}

/* A path under the test directory (a static buffer per call site is enough). */
static inline const char *tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tmpdir(), name);
	return buf;
}

static inline void write_file(const char *path, const char *data, int mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);

	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		perror(path);
		exit(1);
	}
	close(fd);
}

static inline char *read_whole(const char *path)
{
	FILE *f = fopen(path, "r");
	char *buf;
	long n;

	if (!f)
		return NULL;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	rewind(f);
	buf = calloc(1, (size_t)n + 1);
	if (buf && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	fclose(f);
	return buf;
}

/* upstream's input template: name, type, subnetFile, dataDir, then extra members */
static inline char *flannel_conf(const char *subnet_file, const char *data_dir, const char *extra)
{
	static char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"name\":\"cni-flannel\",\"type\":\"flannel\",\"subnetFile\":\"%s\","
		 "\"dataDir\":\"%s\"%s%s}",
		 subnet_file, data_dir, extra ? "," : "", extra ? extra : "");
	return buf;
}

/* Same JSON value; prints both on mismatch. */
static inline int json_same(const char *got, const char *want)
{
	json_error_t e;
	json_t *g = got ? json_loads(got, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e) : NULL;
	json_t *w = json_loads(want, JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL, &e);
	int same = g && w && json_equal(g, w);

	if (!same)
		printf("#   got:  %s\n#   want: %s\n", got ? got : "(null)", want);
	json_decref(g);
	json_decref(w);
	return same;
}

static inline int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

static inline void rm_tree(void)
{
	if (test_dir[0] && strncmp(test_dir, "/tmp/flannel-cni-unit.", 22) == 0)
		nftw(test_dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
