/* check_probe.c - ICMP echo probes with the don't-fragment bit, from a raw
 * socket with IP_PMTUDISC_PROBE (DF set, the kernel's cached path MTU
 * ignored, so every size is really sent), and a path MTU search by them. */
#include <errno.h>
#include <netinet/ip.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "check/check_priv.h"

#define PROBE_MAX 65535u

static uint16_t icmp_sum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (n & 1)
		s += (uint32_t)p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return htons((uint16_t)~s);
}

static int echo_socket(const struct ipaddr *src)
{
	int fd = socket(AF_INET, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMP), v = IP_PMTUDISC_PROBE;
	struct sockaddr_in sa = { .sin_family = AF_INET };

	if (fd < 0)
		return -errno;
	if (setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v, sizeof(v)) < 0)
		goto fail;
	if (src && src->family == AF_INET) {
		sa.sin_addr = src->v4;
		if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
			goto fail;
	}
	return fd;
fail:
	v = -errno;
	close(fd);
	return v;
}

/* Our echo answered (1), refused by an ICMP error quoting it (-EMSGSIZE for
 * "fragmentation needed", -EHOSTUNREACH otherwise), or not ours (0). */
static int match(const uint8_t *b, ssize_t n, const struct ipaddr *dst, uint16_t id,
		 uint16_t seq)
{
	const struct iphdr *ih = (const struct iphdr *)b;
	const struct icmphdr *ic;
	size_t hl;

	if (n < (ssize_t)sizeof(*ih) || (hl = (size_t)ih->ihl * 4) + sizeof(*ic) > (size_t)n)
		return 0;
	ic = (const struct icmphdr *)(b + hl);
	if (ic->type == ICMP_ECHOREPLY)
		return ih->saddr == dst->v4.s_addr && ic->un.echo.id == id &&
		       ic->un.echo.sequence == seq;
	if (ic->type == ICMP_DEST_UNREACH && (size_t)n >= hl + 8 + sizeof(*ih) + 8) {
		const struct iphdr *q = (const struct iphdr *)(b + hl + 8);
		const struct icmphdr *qi = (const struct icmphdr *)((const uint8_t *)q + q->ihl * 4);

		if ((const uint8_t *)qi + 8 > b + n || q->daddr != dst->v4.s_addr ||
		    qi->type != ICMP_ECHO || qi->un.echo.id != id || qi->un.echo.sequence != seq)
			return 0;
		return ic->code == ICMP_FRAG_NEEDED ? -EMSGSIZE : -EHOSTUNREACH;
	}
	return 0;
}

/* An ICMP echo of len bytes (header and payload) into pkt; its id and
 * sequence (network order) for the match. */
static void echo_build(uint8_t *pkt, size_t len, uint16_t *id, uint16_t *seq)
{
	static uint16_t n;
	struct icmphdr *ic = (struct icmphdr *)pkt;

	if (getrandom(id, sizeof(*id), 0) != sizeof(*id))
		*id = (uint16_t)getpid();
	*seq = htons(++n);
	memset(pkt, 0, len);
	ic->type = ICMP_ECHO;
	ic->un.echo.id = *id;
	ic->un.echo.sequence = *seq;
	memset(pkt + sizeof(*ic), 0xa5, len - sizeof(*ic));
	ic->checksum = icmp_sum(pkt, len);
}

/* Read the raw socket until our answer or wait_ms: 1, 0, or the error. */
static int echo_wait(int fd, const struct ipaddr *dst, uint16_t id, uint16_t seq, long wait_ms)
{
	int64_t end = mono_ms() + wait_ms;
	uint8_t *buf = fl_malloc(PROBE_MAX + 1);
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	while (rc == 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = end - mono_ms();
		ssize_t n;

		if (left <= 0 || poll(&p, 1, (int)left) <= 0)
			break;
		n = recv(fd, buf, PROBE_MAX + 1, 0);
		if (n < 0)
			break;
		rc = match(buf, n, dst, id, seq);
	}
	free(buf);
	return rc == -EMSGSIZE ? 0 : rc;
}

int probe_echo(const struct ipaddr *dst, const struct ipaddr *src, unsigned size, long wait_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_addr = dst->v4 };
	uint16_t id, seq;
	uint8_t *pkt;
	size_t len;
	int fd, rc;

	if (dst->family != AF_INET || size < 28 || size > PROBE_MAX)
		return -EINVAL;
	len = size - 20; /* ICMP header and payload after the IP header */
	if (!(pkt = fl_malloc(len)))
		return -ENOMEM;
	if ((fd = echo_socket(src)) < 0) {
		free(pkt);
		return fd;
	}
	echo_build(pkt, len, &id, &seq);
	if (sendto(fd, pkt, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		/* larger than a link of ours: it does not pass */
		rc = errno == EMSGSIZE ? 0 : -errno;
	else
		rc = echo_wait(fd, dst, id, seq, wait_ms);
	free(pkt);
	close(fd);
	return rc;
}

#define VX_ECHO 64 /* the inner ICMP header and payload */

/* VXLAN header, inner Ethernet, inner IPv4 and an echo, as a vxlan device
 * would send them. */
static size_t vxlan_frame(uint8_t *f, const struct probe_vxlan *v, uint16_t *id, uint16_t *seq)
{
	struct iphdr *ih = (struct iphdr *)(f + 8 + 14);
	uint32_t vni = htonl(v->vni << 8);

	memset(f, 0, 8 + 14 + sizeof(*ih));
	f[0] = 0x08; /* the VNI is valid */
	memcpy(f + 4, &vni, 4);
	memcpy(f + 8, v->dst_mac, 6);
	memcpy(f + 14, v->src_mac, 6);
	f[20] = 0x08; /* IPv4 */
	ih->version = 4;
	ih->ihl = 5;
	ih->tot_len = htons((uint16_t)(sizeof(*ih) + VX_ECHO));
	ih->ttl = 64;
	ih->protocol = IPPROTO_ICMP;
	ih->saddr = v->src.v4.s_addr;
	ih->daddr = v->dst.v4.s_addr;
	ih->check = icmp_sum((const uint8_t *)ih, sizeof(*ih));
	echo_build((uint8_t *)(ih + 1), VX_ECHO, id, seq);
	return 8 + 14 + sizeof(*ih) + VX_ECHO;
}

int probe_vxlan(const struct probe_vxlan *v, long wait_ms)
{
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(v->port),
				  .sin_addr = v->vtep.v4 };
	uint8_t frame[8 + 14 + 20 + VX_ECHO];
	uint16_t id, seq;
	size_t len;
	int raw, udp, rc;

	if (v->vtep.family != AF_INET || v->dst.family != AF_INET || v->src.family != AF_INET)
		return -EINVAL;
	/* the answer comes back through our own vxlan device, as any would */
	if ((raw = echo_socket(NULL)) < 0)
		return raw;
	if ((udp = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0)) < 0) {
		rc = -errno;
		close(raw);
		return rc;
	}
	len = vxlan_frame(frame, v, &id, &seq);
	if (sendto(udp, frame, len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		rc = -errno;
	else
		rc = echo_wait(raw, &v->dst, id, seq, wait_ms);
	close(udp);
	close(raw);
	return rc;
}

int probe_path_mtu(const struct ipaddr *dst, unsigned lo, unsigned hi, long wait_ms,
		   unsigned *mtu)
{
	while (hi - lo > 1) {
		unsigned mid = lo + (hi - lo) / 2;
		int rc = probe_echo(dst, NULL, mid, wait_ms);

		if (rc < 0 && rc != -EHOSTUNREACH)
			return rc;
		if (rc == 1)
			lo = mid;
		else
			hi = mid;
	}
	*mtu = lo;
	return 0;
}
