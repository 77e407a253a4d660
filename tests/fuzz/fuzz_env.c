/* subnet.env, as flannel-watch, the appliers and flannel-ext read it
 * (env_read, from a memory file) and as the CNI plugin reads it
 * (cni_env_parse).  Invariant: what env_read accepts, env_format writes
 * and env_read takes back the same (networks with their subnets). */
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "cni/cni_env.h"
#include "fuzz.h"
#include "model/env.h"

static int read_back(const char *text, size_t n, struct subnet_env *e)
{
	char path[64];
	int fd = memfd_create("fuzz-env", MFD_CLOEXEC), rc;

	if (fd < 0)
		abort();
	if (n && write(fd, text, n) != (ssize_t)n)
		abort();
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = env_read(path, e);
	close(fd);
	return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct subnet_env e, back;
	struct cni_env ce;
	char err[256], buf[4096];
	int n;

	memset(&ce, 0, sizeof(ce));
	if (cni_env_parse((const char *)data, size, "subnet.env", &ce, err, sizeof(err)) == 0)
		cni_env_free(&ce);
	if (size > 65536 || read_back((const char *)data, size, &e) < 0)
		return 0;
	n = env_format(&e, buf, sizeof(buf));
	FUZZ_ASSERT(n >= 0);
	FUZZ_ASSERT(read_back(buf, (size_t)n, &back) == 0);
	FUZZ_ASSERT(prefix_equal(&back.subnet, &e.subnet));
	FUZZ_ASSERT(prefix_equal(&back.subnet6, &e.subnet6));
	/* A network is written with its subnet only, as upstream does. */
	FUZZ_ASSERT(!addr_is_set(&e.subnet.addr) || prefix_equal(&back.network, &e.network));
	FUZZ_ASSERT(!addr_is_set(&e.subnet6.addr) || prefix_equal(&back.network6, &e.network6));
	FUZZ_ASSERT(back.mtu == e.mtu);
	return 0;
}
