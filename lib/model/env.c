/* env.c - read and atomically write subnet.env. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/path.h"
#include "model/env.h"

static int append(char *buf, size_t len, size_t *off, const char *key, const char *val)
{
	int n = snprintf(buf + *off, len - *off, "%s=%s\n", key, val);

	if (n < 0 || (size_t)n >= len - *off)
		return -1;
	*off += (size_t)n;
	return 0;
}

/* FLANNEL_SUBNET is the subnet's first host address with the subnet's length;
 * a single-address subnet (/32, /128) has no other, and is written as it is,
 * so that reading the file back gives the same subnet. */
static const char *host_form(const struct prefix *p, char *buf, size_t len)
{
	struct prefix h = *p;

	if (p->len < (unsigned)addr_bits(p->addr.family))
		prefix_first_host(p, &h.addr);
	return prefix_format(&h, buf, len);
}

int env_format(const struct subnet_env *e, char *buf, size_t len)
{
	char a[ADDR_STRLEN], mtu[16];
	size_t off = 0;
	int bad = 0;

	buf[0] = '\0';
	if (addr_is_set(&e->subnet.addr)) {
		bad |= append(buf, len, &off, "FLANNEL_NETWORK",
			      prefix_format(&e->network, a, sizeof(a)));
		bad |= append(buf, len, &off, "FLANNEL_SUBNET", host_form(&e->subnet, a, sizeof(a)));
	}
	if (addr_is_set(&e->subnet6.addr)) {
		bad |= append(buf, len, &off, "FLANNEL_IPV6_NETWORK",
			      prefix_format(&e->network6, a, sizeof(a)));
		bad |= append(buf, len, &off, "FLANNEL_IPV6_SUBNET",
			      host_form(&e->subnet6, a, sizeof(a)));
	}
	snprintf(mtu, sizeof(mtu), "%u", e->mtu);
	bad |= append(buf, len, &off, "FLANNEL_MTU", mtu);
	bad |= append(buf, len, &off, "FLANNEL_IPMASQ", e->ipmasq ? "true" : "false");
	return bad ? -1 : (int)off;
}

int env_write(const char *path, const struct subnet_env *e)
{
	char buf[1024];
	int len = env_format(e, buf, sizeof(buf));

	if (len < 0) {
		errno = EOVERFLOW;
		return -1;
	}
	return path_write_atomic(path, buf, (size_t)len, 0644, true);
}

/* A single CIDR; upstream ignores a value that lists several. */
static void read_prefix(const char *val, struct prefix *p)
{
	struct prefix t;

	if (strchr(val, ',') || prefix_parse(val, &t) < 0)
		return;
	*p = t;
}

static void read_line(char *line, struct subnet_env *e)
{
	char *eq = strchr(line, '=');
	char *val, *end;
	unsigned long mtu;

	if (!eq)
		return;
	*eq = '\0';
	val = eq + 1;
	if (strcmp(line, "FLANNEL_NETWORK") == 0)
		read_prefix(val, &e->network);
	else if (strcmp(line, "FLANNEL_SUBNET") == 0)
		read_prefix(val, &e->subnet);
	else if (strcmp(line, "FLANNEL_IPV6_NETWORK") == 0)
		read_prefix(val, &e->network6);
	else if (strcmp(line, "FLANNEL_IPV6_SUBNET") == 0)
		read_prefix(val, &e->subnet6);
	else if (strcmp(line, "FLANNEL_MTU") == 0) {
		errno = 0;
		mtu = strtoul(val, &end, 10);
		if (!errno && end != val && !*end && mtu <= 65535)
			e->mtu = (unsigned)mtu;
	} else if (strcmp(line, "FLANNEL_IPMASQ") == 0) {
		e->has_ipmasq = true;
		e->ipmasq = strcmp(val, "true") == 0;
	}
}

int env_read(const char *path, struct subnet_env *e)
{
	char line[512];
	FILE *f;

	memset(e, 0, sizeof(*e));
	f = fopen(path, "re");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\r\n")] = '\0';
		read_line(line, e);
	}
	fclose(f);
	return 0;
}
