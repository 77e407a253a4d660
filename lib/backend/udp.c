/* udp.c - the udp backend (upstream's udp): IPv4 packets carried whole in
 * UDP datagrams between the hosts' public IPs, through the TUN device
 * flannel0 and flannel-udp's packet threads.  The network config's default
 * when it has no Backend.  Key: Port (8285); the lease has no BackendType
 * and no BackendData, as upstream writes it; MTU: the underlay's less 28. */
#include <stdio.h>

#include "backend/backend.h"
#include "udp/udp_run.h"

/* Backend.Port: 0, or -1 with err.  Absent: the default. */
static int port_of(const struct net_config *c, unsigned *port, char *err, size_t errlen)
{
	json_t *v = config_backend_get(c, "Port");

	*port = UDP_DEFAULT_PORT;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 65535) {
		snprintf(err, errlen, "Backend.Port is not an integer within 0..65535");
		return -1;
	}
	if (json_integer_value(v))
		*port = (unsigned)json_integer_value(v);
	return 0;
}

static int udp_check(const struct net_config *c, char *err, size_t errlen)
{
	unsigned port;

	return port_of(c, &port, err, errlen);
}

static unsigned udp_mtu(const struct net_config *c, unsigned underlay)
{
	(void)c;
	return underlay - 28;
}

static void udp_args(const struct net_config *c, enum backend_step step,
		     const struct backend_host *h, struct strv *av)
{
	char err[96];
	unsigned port;

	if (step != BACKEND_APPLY)
		return;
	(void)port_of(c, &port, err, sizeof(err));
	strv_addf(av, "--port=%u", port);
	strv_addf(av, "--iface=%s", h->iface);
}

static void udp_device(const struct net_config *c, int family, char *buf, size_t len)
{
	(void)c;
	/* IPv4 only */
	snprintf(buf, len, "%s", family == AF_INET ? "flannel0" : "");
}

static unsigned udp_port(const struct net_config *c)
{
	char err[96];
	unsigned port;

	(void)port_of(c, &port, err, sizeof(err));
	return port;
}

const struct backend backend_udp = {
	.name = "udp",
	.about = "IPv4 in UDP through the TUN device flannel0 (the default without Backend)",
	.tool = "flannel-udp",
	.step_cmd = { [BACKEND_APPLY] = "apply" },
	.check = udp_check,
	.mtu = udp_mtu,
	.device = udp_device,
	.port = udp_port,
	.args = udp_args,
};
