/* iface.c - underlay interface discovery with getifaddrs and /proc. */
#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "netlink/iface.h"

unsigned iface_mtu(const char *name)
{
	char path[64];
	unsigned mtu = 0;
	FILE *f;

	if (snprintf(path, sizeof(path), "/sys/class/net/%s/mtu", name) >= (int)sizeof(path))
		return 0;
	f = fopen(path, "re");
	if (!f)
		return 0;
	if (fscanf(f, "%u", &mtu) != 1)
		mtu = 0;
	fclose(f);
	return mtu;
}

static void sockaddr_to_addr(const struct sockaddr *sa, struct ipaddr *a)
{
	memset(a, 0, sizeof(*a));
	if (sa->sa_family == AF_INET) {
		a->family = AF_INET;
		a->v4 = ((const struct sockaddr_in *)(const void *)sa)->sin_addr;
	} else if (sa->sa_family == AF_INET6) {
		a->family = AF_INET6;
		a->v6 = ((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
	}
}

static int fill(struct iface *out, const char *name, const struct ipaddr *a)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	out->index = (int)if_nametoindex(name);
	out->mtu = iface_mtu(name);
	out->addr = *a;
	return out->index > 0 ? 0 : -1;
}

int iface_by_addr(const struct ipaddr *addr, struct iface *out)
{
	struct ifaddrs *ifa, *i;
	int rc = -1;

	if (getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i; i = i->ifa_next) {
		struct ipaddr a;

		if (!i->ifa_addr)
			continue;
		sockaddr_to_addr(i->ifa_addr, &a);
		if (addr_is_set(&a) && addr_equal(&a, addr)) {
			rc = fill(out, i->ifa_name, &a);
			break;
		}
	}
	freeifaddrs(ifa);
	if (rc < 0)
		errno = EADDRNOTAVAIL;
	return rc;
}

int iface_local_addrs(struct ipaddr *out, int max)
{
	struct ifaddrs *ifa, *i;
	int n = 0;

	if (getifaddrs(&ifa) < 0)
		return -1;
	for (i = ifa; i && n < max; i = i->ifa_next) {
		if (!i->ifa_addr)
			continue;
		sockaddr_to_addr(i->ifa_addr, &out[n]);
		if (addr_is_set(&out[n]))
			n++;
	}
	freeifaddrs(ifa);
	return n;
}

static bool is_link_local(const struct ipaddr *a)
{
	if (a->family == AF_INET)
		return a->b[0] == 169 && a->b[1] == 254;
	return a->b[0] == 0xfe && (a->b[1] & 0xc0) == 0x80;
}

int iface_by_name(const char *name, int family, struct iface *out)
{
	struct ifaddrs *ifa, *i;
	struct ipaddr best = { 0 };

	if (getifaddrs(&ifa) < 0)
		return -1;
	/* Global unicast only: another host cannot reach a link-local address
	 * (EADDRNOTAVAIL when the interface has no other). */
	for (i = ifa; i; i = i->ifa_next) {
		struct ipaddr a;

		if (!i->ifa_addr || strcmp(i->ifa_name, name) != 0)
			continue;
		sockaddr_to_addr(i->ifa_addr, &a);
		if (a.family != family || is_link_local(&a))
			continue;
		if (!addr_is_set(&best))
			best = a;
	}
	freeifaddrs(ifa);
	if (!addr_is_set(&best)) {
		errno = if_nametoindex(name) ? EADDRNOTAVAIL : ENODEV;
		return -1;
	}
	return fill(out, name, &best);
}

int iface_lookup(const char *spec, int family, struct iface *out)
{
	struct ipaddr a;

	if (addr_parse(spec, &a) == 0)
		return iface_by_addr(&a, out);
	return iface_by_name(spec, family, out);
}

int iface_underlay(const char *spec, const struct ipaddr *public_ip, int family,
		   struct iface *out)
{
	if (spec)
		return iface_lookup(spec, family, out);
	if (public_ip && public_ip->family)
		return iface_by_addr(public_ip, out);
	return iface_default(family, out);
}

/* The first default route in /proc/net/route (IPv4) or ipv6_route. */
static int default_route_dev(int family, char *dev, size_t len)
{
	char line[512], name[IF_NAMESIZE + 1];
	FILE *f = fopen(family == AF_INET ? "/proc/net/route" : "/proc/net/ipv6_route", "re");
	int rc = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (family == AF_INET) {
			unsigned long dst, mask;
			unsigned flags;

			if (sscanf(line, "%16s %lx %*x %x %*d %*d %*d %lx", name, &dst, &flags,
				   &mask) == 4 && dst == 0 && mask == 0 && (flags & 1)) {
				rc = 0;
				break;
			}
		} else {
			char dst[33];
			unsigned plen;

			if (sscanf(line, "%32s %x %*s %*s %*s %*s %*s %*s %*s %16s", dst, &plen,
				   name) == 3 &&
			    plen == 0 && strspn(dst, "0") == 32 && strcmp(name, "lo") != 0) {
				rc = 0;
				break;
			}
		}
	}
	fclose(f);
	if (rc == 0)
		snprintf(dev, len, "%s", name);
	else
		errno = ENETUNREACH;
	return rc;
}

int iface_default(int family, struct iface *out)
{
	char dev[IF_NAMESIZE + 1];

	if (default_route_dev(family, dev, sizeof(dev)) < 0)
		return -1;
	return iface_by_name(dev, family, out);
}

#include <regex.h>
#include <unistd.h>

/* The source address the kernel would use towards dst: connect() on a UDP
 * socket sends nothing. */
static int iface_can_reach(const char *dst, int family, struct iface *out)
{
	struct sockaddr_storage ss = { 0 };
	socklen_t len;
	struct ipaddr a;
	int fd, rc = -1;

	if (addr_parse_family(dst, family, &a) < 0) {
		errno = EINVAL;
		return -1;
	}
	if (family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;

		sin->sin_family = AF_INET;
		sin->sin_addr = a.v4;
		sin->sin_port = htons(9);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr = a.v6;
		sin6->sin6_port = htons(9);
		len = sizeof(*sin6);
	}
	fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&ss, len) == 0 &&
	    getsockname(fd, (struct sockaddr *)&ss, &len) == 0) {
		sockaddr_to_addr((struct sockaddr *)&ss, &a);
		rc = iface_by_addr(&a, out);
	}
	close(fd);
	return rc;
}

static int iface_regex(const char *re, int family, struct iface *out)
{
	struct ifaddrs *ifa, *i;
	regex_t rx;
	int rc = -1;

	if (regcomp(&rx, re, REG_EXTENDED | REG_NOSUB) != 0) {
		errno = EINVAL;
		return -1;
	}
	if (getifaddrs(&ifa) < 0) {
		regfree(&rx);
		return -1;
	}
	/* Addresses first, then names, as upstream. */
	for (int pass = 0; pass < 2 && rc < 0; pass++)
		for (i = ifa; i && rc < 0; i = i->ifa_next) {
			char buf[ADDR_STRLEN];
			struct ipaddr a;

			if (!i->ifa_addr)
				continue;
			sockaddr_to_addr(i->ifa_addr, &a);
			if (a.family != family)
				continue;
			if (pass == 0 && regexec(&rx, addr_format(&a, buf, sizeof(buf)), 0, NULL, 0) == 0)
				rc = fill(out, i->ifa_name, &a);
			else if (pass == 1 && regexec(&rx, i->ifa_name, 0, NULL, 0) == 0)
				rc = iface_by_name(i->ifa_name, family, out);
		}
	freeifaddrs(ifa);
	regfree(&rx);
	return rc;
}

int iface_select(const char *const *ifaces, int n_ifaces, const char *const *regexes,
		 int n_regexes, const char *can_reach, int family, struct iface *out, char *err,
		 size_t errlen)
{
	if (!n_ifaces && !n_regexes && !can_reach) {
		if (iface_default(family, out) == 0)
			return 0;
		snprintf(err, errlen, "no --iface given and no IPv%d default route to pick one by",
			 family == AF_INET ? 4 : 6);
		return -1;
	}
	for (int i = 0; i < n_ifaces; i++)
		if (iface_lookup(ifaces[i], family, out) == 0)
			return 0;
	for (int i = 0; i < n_regexes; i++)
		if (iface_regex(regexes[i], family, out) == 0)
			return 0;
	if (can_reach && iface_can_reach(can_reach, family, out) == 0)
		return 0;
	/* Name what was asked for: "--iface=eth9 --iface-regex=^198\." */
	size_t off = (size_t)snprintf(err, errlen, "no interface with an IPv%d address matches",
				      family == AF_INET ? 4 : 6);
	for (int i = 0; i < n_ifaces && off < errlen; i++)
		off += (size_t)snprintf(err + off, errlen - off, " --iface=%s", ifaces[i]);
	for (int i = 0; i < n_regexes && off < errlen; i++)
		off += (size_t)snprintf(err + off, errlen - off, " --iface-regex=%s", regexes[i]);
	if (can_reach && off < errlen)
		snprintf(err + off, errlen - off, " --iface-can-reach=%s", can_reach);
	return -1;
}
