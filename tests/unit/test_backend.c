/* The backend table: every entry whole, the Backend keys parsed once per
 * backend file (flanneld's command lines, type errors), the MTU rules, and
 * the event stream shared by the appliers (over-long and bad lines). */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "backend/ipip.h"
#include "backend/vxlan.h"
#include "base/log.h"
#include "model/event_stream.h"
#include "tap.h"

static struct net_config cfg(const char *json)
{
	struct net_config c;
	char err[256];

	config_init(&c);
	if (config_parse(json, strlen(json), &c, err, sizeof(err)) < 0)
		printf("# config %s: %s\n", json, err);
	return c;
}

/* The backend's own words for a step, joined by spaces. */
static const char *words(const struct backend *be, const char *json, enum backend_step step,
			 int family)
{
	static char out[512];
	struct net_config c = cfg(json);
	struct backend_host h = { .family = family, .iface = "eth0",
				  .public_ip = family == AF_INET6 ? "2001:db8::1" : "192.0.2.1",
				  .secret_file = be->secret && be->secret(&c) ? "/run/s" : NULL };
	struct strv av = { 0 };
	size_t n = 0;

	out[0] = '\0';
	be->args(&c, step, &h, &av);
	for (int i = 0; i < av.n; i++)
		n += (size_t)snprintf(out + n, sizeof(out) - n, "%s%s", i ? " " : "", av.v[i]);
	strv_clear(&av);
	config_clear(&c);
	return out;
}

static void table(void)
{
	int n = 0;

	for (int i = 0; backend_table[i]; i++, n++) {
		const struct backend *be = backend_table[i];

		ok(be->name && be->about && be->mtu, "%s: name, about and an MTU rule", be->name);
		ok(!be->tool == !be->step_cmd[BACKEND_APPLY],
		   "%s: a tool exactly when there is an apply step", be->name);
		ok(!be->kernel == !be->plan, "%s: a kernel plan exactly for kernel appliers",
		   be->name);
		ok(backend_find(be->name) == be, "%s: found by name", be->name);
	}
	ok(n >= 7, "the table has the seven backends (%d)", n);
	ok(backend_find("frob") == NULL && backend_find("VXLAN") == NULL,
	   "unknown and upper-case names are not found");
	is_str(backend_names(), "vxlan, host-gw, extension, alloc, udp, ipip, wireguard, ipsec",
	       "names for messages");
}

static void vxlan_lines(void)
{
	const char *json = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
			   "\"vni\":7,\"Port\":4789,\"GBP\":true,\"MTU\":9000,"
			   "\"MacPrefix\":\"0e-2a\",\"DirectRouting\":true}}";

	is_str(words(&backend_vxlan, json, BACKEND_INIT, AF_INET),
	       "--vni=7 --port=4789 --gbp --mtu=9000 --mac-prefix=0E-2A --iface=eth0 "
	       "--public-ip=192.0.2.1", "vxlan init: every key, once, case-insensitive");
	is_str(words(&backend_vxlan, json, BACKEND_INIT, AF_INET6),
	       "--vni=7 --port=4789 --gbp --mtu=9000 --mac-prefix=0E-2A --iface=eth0 -6 "
	       "--public-ipv6=2001:db8::1", "vxlan init for IPv6");
	is_str(words(&backend_vxlan, json, BACKEND_APPLY, AF_INET), "--vni=7 --direct-routing",
	       "vxlan apply");
	is_str(words(&backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}",
		     BACKEND_APPLY, AF_INET), "--vni=1", "vxlan defaults: VNI 1");
	is_str(words(&backend_hostgw, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"host-gw\"}}",
		     BACKEND_APPLY, AF_INET), "--iface=eth0", "host-gw apply");
}

static void check_one(const struct backend *be, const char *json, const char *want)
{
	struct net_config c = cfg(json);
	char err[256] = "";
	int rc = be->check(&c, err, sizeof(err));

	if (want)
		ok(rc < 0 && strstr(err, want), "%s refuses %s (%s)", be->name, json, err);
	else
		ok(rc == 0, "%s accepts %s (%s)", be->name, json, err);
	config_clear(&c);
}

static void checks(void)
{
	check_one(&backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":\"7\"}}",
		  "Backend.VNI");
	check_one(&backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"GBP\":1}}",
		  "Backend.GBP");
	check_one(&backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":16777216}}",
		  "Backend.VNI");
	check_one(&backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"VNI\":4096}}",
		  NULL);
	check_one(&backend_extension,
		  "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"extension\",\"SubnetAddCommand\":3}}",
		  "Backend.SubnetAddCommand");
}

static void udp_entry(void)
{
	const char *json = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"udp\",\"port\":9999}}";

	is_str(words(&backend_udp, json, BACKEND_APPLY, AF_INET), "--port=9999 --iface=eth0",
	       "udp apply: Port, case-insensitive");
	is_str(words(&backend_udp, "{\"Network\":\"100.64.0.0/16\"}", BACKEND_APPLY, AF_INET),
	       "--port=8285 --iface=eth0", "udp without Backend: port 8285");
	check_one(&backend_udp, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"udp\",\"Port\":\"8285\"}}",
		  "Backend.Port");
	check_one(&backend_udp, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"udp\",\"Port\":70000}}",
		  "Backend.Port");
	ok(backend_udp.lease_type == NULL && !backend_udp.ipv6,
	   "udp: no BackendType in the lease, IPv4 only");
}

static void wireguard_entry(void)
{
	const char *net = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"wireguard\"";
	const char *psk = "GJ3XYWfXyiX7L0Ylvmr2DRpGW+gT3jU8l1W5GMj0oPs=";
	char json[512];
	struct net_config c;

	snprintf(json, sizeof(json), "%s,\"listenport\":51999,\"PSK\":\"%s\","
		 "\"PersistentKeepaliveInterval\":25,\"MTU\":9000}}", net, psk);
	is_str(words(&backend_wireguard, json, BACKEND_INIT, AF_INET),
	       "--port=51999 --iface=eth0 --mtu=9000", "wireguard init: port, iface, MTU");
	is_str(words(&backend_wireguard, json, BACKEND_APPLY, AF_INET),
	       "--port=51999 --iface=eth0 --mtu=9000 --mode=separate --network=100.64.0.0/16 "
	       "--keepalive=25 --psk-file=/run/s",
	       "wireguard apply: every key, case-insensitive; the PSK in a file, not on the line");
	c = cfg(json);
	is_str(backend_wireguard.secret(&c), psk, "wireguard: the PSK is the secret flanneld writes");
	config_clear(&c);
	snprintf(json, sizeof(json), "%s}}", net);
	is_str(words(&backend_wireguard, json, BACKEND_APPLY, AF_INET),
	       "--port=51820 --iface=eth0 --mode=separate --network=100.64.0.0/16",
	       "wireguard defaults: 51820");
	c = cfg(json);
	ok(backend_wireguard.secret(&c) == NULL, "wireguard: no PSK, no secret");
	config_clear(&c);
	/* Dual stack: flannel-wg-v6 on ListenPortV6 in Mode separate. */
	snprintf(json, sizeof(json), "{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,"
		 "\"IPv6Network\":\"2001:db8:1::/48\",\"Backend\":{\"Type\":\"wireguard\"}}");
	is_str(words(&backend_wireguard, json, BACKEND_INIT, AF_INET6),
	       "--dev=flannel-wg-v6 --port=51821 --iface=eth0", "wireguard init for IPv6: flannel-wg-v6");
	is_str(words(&backend_wireguard, json, BACKEND_APPLY, AF_INET),
	       "--port=51820 --iface=eth0 --mode=separate --port6=51821 --network=100.64.0.0/16 "
	       "--network6=2001:db8:1::/48", "wireguard apply, dual stack: both networks");
	c = cfg(json);
	is_int(backend_wireguard.mtu(&c, 1500), 1420, "wireguard dual stack: the pods fit flannel-wg-v6");
	config_clear(&c);
	snprintf(json, sizeof(json), "{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,"
		 "\"IPv6Network\":\"2001:db8:1::/48\",\"Backend\":{\"Type\":\"wireguard\","
		 "\"Mode\":\"ipv4\"}}");
	is_str(words(&backend_wireguard, json, BACKEND_INIT, AF_INET6),
	       "--port=51820 --iface=eth0", "wireguard init for IPv6, one device: flannel-wg's port");
	c = cfg(json);
	is_int(backend_wireguard.mtu(&c, 1500), 1440, "wireguard Mode ipv4: IPv4 outside, 60");
	config_clear(&c);
	c = cfg(json);
	is_int(backend_wireguard.mtu(&c, 1500), 1440, "wireguard: less 60, the IPv4 overhead");
	config_clear(&c);
	snprintf(json, sizeof(json), "%s,\"MTU\":9000}}", net);
	c = cfg(json);
	is_int(backend_wireguard.mtu(&c, 1500), 8940, "wireguard: Backend.MTU is the underlay's");
	config_clear(&c);
	check_one(&backend_wireguard, json, NULL);
	snprintf(json, sizeof(json), "%s,\"PSK\":\"c2hvcnQ=\"}}", net);
	check_one(&backend_wireguard, json, "Backend.PSK");
	snprintf(json, sizeof(json), "%s,\"PSK\":7}}", net);
	check_one(&backend_wireguard, json, "Backend.PSK");
	snprintf(json, sizeof(json), "%s,\"PersistentKeepaliveInterval\":\"25s\"}}", net);
	check_one(&backend_wireguard, json, "Backend.PersistentKeepaliveInterval");
	snprintf(json, sizeof(json), "%s,\"PersistentKeepaliveInterval\":2.5}}", net);
	check_one(&backend_wireguard, json, "Backend.PersistentKeepaliveInterval");
	snprintf(json, sizeof(json), "%s,\"Mode\":\"tunnel\"}}", net);
	check_one(&backend_wireguard, json, "no valid Mode");
	snprintf(json, sizeof(json), "%s,\"Mode\":7}}", net);
	check_one(&backend_wireguard, json, "no valid Mode");
	snprintf(json, sizeof(json), "%s,\"Mode\":\"auto\",\"ListenPortV6\":51821}}", net);
	check_one(&backend_wireguard, json, NULL);
	snprintf(json, sizeof(json), "%s,\"ListenPort\":65536}}", net);
	check_one(&backend_wireguard, json, "Backend.ListenPort");
	ok(!strcmp(backend_wireguard.lease_type, "wireguard") && backend_wireguard.init_per_family &&
	   !backend_wireguard.kernel && !backend_wireguard.etcd && backend_wireguard.ipv6,
	   "wireguard: BackendType wireguard, init per family, its own applier, IPv6");
}

static void ipsec_entry(void)
{
	const char *net = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipsec\"";
	char psk[97], json[512], want[512];
	struct net_config c;

	memset(psk, 'k', 96);
	psk[96] = '\0';
	snprintf(json, sizeof(json), "%s,\"PSK\":\"%s\"}}", net, psk);
	check_one(&backend_ipsec, json, NULL);
	is_str(words(&backend_ipsec, json, BACKEND_INIT, AF_INET), "", "ipsec init: no arguments");
	c = cfg(json);
	is_str(backend_ipsec.secret(&c), psk, "ipsec: the PSK is the backend's secret");
	config_clear(&c);
	is_str(words(&backend_ipsec, json, BACKEND_APPLY, AF_INET),
	       "--iface=eth0 --public-ip=192.0.2.1 --psk-file=/run/s",
	       "ipsec apply: iface, public IP, the PSK by file (never on the command line)");
	c = cfg(json);
	is_int(backend_ipsec.mtu(&c, 1500), 1423, "ipsec: less 77, as upstream");
	config_clear(&c);
	snprintf(json, sizeof(json), "%s,\"psk\":\"%s\",\"udpencap\":true,"
		 "\"ESPProposal\":\"aes256gcm16-ecp384\"}}", net, psk);
	snprintf(want, sizeof(want), "--iface=eth0 --public-ip=192.0.2.1 --udp-encap "
		 "--esp-proposal=aes256gcm16-ecp384 --psk-file=/run/s");
	is_str(words(&backend_ipsec, json, BACKEND_APPLY, AF_INET), want,
	       "ipsec apply: UDPEncap and ESPProposal, keys case-insensitive");
	c = cfg(json);
	is_int(backend_ipsec.mtu(&c, 1500), 1415, "ipsec with UDPEncap: less 85, as upstream");
	config_clear(&c);
	check_one(&backend_ipsec, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipsec\"}}",
		  "at least 96 characters");
	psk[95] = '\0';
	snprintf(json, sizeof(json), "%s,\"PSK\":\"%s\"}}", net, psk);
	check_one(&backend_ipsec, json, "Backend.PSK must be a string of at least 96 characters");
	psk[95] = 'k';
	snprintf(json, sizeof(json), "%s,\"PSK\":\"%s\",\"UDPEncap\":1}}", net, psk);
	check_one(&backend_ipsec, json, "Backend.UDPEncap");
	snprintf(json, sizeof(json), "%s,\"PSK\":\"%s\",\"ESPProposal\":\"a b\"}}", net, psk);
	check_one(&backend_ipsec, json, "Backend.ESPProposal");
	snprintf(json, sizeof(json), "%s,\"PSK\":\"%s\\n\"}}", net, psk);
	check_one(&backend_ipsec, json, "printable");
	ok(!backend_ipsec.ipv6 && backend_ipsec.lease_type && !strcmp(backend_ipsec.lease_type, "ipsec"),
	   "ipsec: IPv4 only, lease type ipsec");
}

static void mtus(void)
{
	struct net_config c = cfg("{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}");

	is_int(backend_vxlan.mtu(&c, 1500), 1450, "vxlan: underlay less 50");
	config_clear(&c);
	c = cfg("{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\",\"MTU\":9000}}");
	is_int(backend_vxlan.mtu(&c, 1500), 8950, "vxlan: Backend.MTU less 50");
	is_int(backend_hostgw.mtu(&c, 1500), 1500, "host-gw: the underlay's");
	is_int(backend_alloc.mtu(&c, 9000), 9000, "alloc: the underlay's");
	config_clear(&c);
	is_int(vxlan_mtu(0, 1500, true), 1430, "vxlan over IPv6: less 70");
	is_int(backend_udp.mtu(&c, 1500), 1472, "udp: less 28");
}

static void ipip_entry(void)
{
	const char *plain = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipip\"}}";
	const char *direct = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipip\","
			     "\"directrouting\":true}}";
	struct net_config c = cfg(plain);

	is_str(words(&backend_ipip, direct, BACKEND_INIT, AF_INET),
	       "--iface=eth0 --public-ip=192.0.2.1", "ipip init: the underlay and public IP");
	is_str(words(&backend_ipip, direct, BACKEND_APPLY, AF_INET), "--direct-routing",
	       "ipip apply: DirectRouting, case-insensitive");
	is_str(words(&backend_ipip, plain, BACKEND_APPLY, AF_INET), "", "ipip apply: no words");
	is_int(backend_ipip.mtu(&c, 1500), 1480, "ipip: underlay less 20");
	is_int(backend_ipip.mtu(&c, 9000), 8980, "ipip: jumbo underlay less 20");
	ok(!backend_ipip.ipv6 && backend_ipip.kernel && !backend_ipip.step_cmd[BACKEND_POST],
	   "ipip: IPv4 only, a kernel applier, no post step");
	is_str(backend_ipip.lease_type, "ipip", "ipip: lease BackendType");
	is_str(backend_ipip.step_cmd[BACKEND_INIT], "init", "ipip: the device is made before the lease");
	config_clear(&c);
	check_one(&backend_ipip, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipip\",\"DirectRouting\":\"yes\"}}",
		  "Backend.DirectRouting");
	check_one(&backend_ipip, direct, NULL);
	check_one(&backend_ipip, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipip\",\"MTU\":\"x\"}}",
		  NULL);
}

struct seen {
	int events;
	char subnets[8][32];
};

static int on_event(void *arg, const struct event *ev)
{
	struct seen *s = arg;

	if (ev->type == EV_ADDED && s->events < 8)
		prefix_format(&ev->lease.subnet, s->subnets[s->events], sizeof(s->subnets[0]));
	s->events++;
	return 0;
}

/* Lines through a pipe: a line over the limit is skipped, not fatal. */
static void stream(void)
{
	static const char good[] =
		"{\"type\":\"added\",\"subnet\":\"100.64.%d.0/24\",\"public_ip\":\"192.0.2.%d\","
		"\"backend_type\":\"host-gw\"}\n";
	struct seen seen = { 0 };
	struct event_sink s = { .event = on_event, .sigfd = -1, .extra_fd = -1, .arg = &seen };
	char line[256];
	size_t big = EVENT_LINE_MAX * 2 + 17;
	char *junk = malloc(big);
	int p[2], rc, status;
	pid_t pid;

	if (!junk || pipe(p) < 0)
		return;
	memset(junk, 'x', big);
	junk[big - 1] = '\n';
	pid = fork();
	if (pid == 0) {
		close(p[0]);
		snprintf(line, sizeof(line), good, 1, 1);
		if (write(p[1], line, strlen(line)) < 0 || write(p[1], junk, big) < 0 ||
		    write(p[1], "not json\n\n", 10) < 0)
			_exit(1);
		snprintf(line, sizeof(line), good, 2, 2);
		_exit(write(p[1], line, strlen(line)) < 0);
	}
	close(p[1]);
	rc = event_stream_run(p[0], &s);
	close(p[0]);
	waitpid(pid, &status, 0);
	free(junk);
	is_int(rc, 0, "the stream ends at EOF with 0");
	is_int(seen.events, 2, "both good lines arrive");
	is_str(seen.subnets[1], "100.64.2.0/24", "the line after the long one is whole");
	is_int(s.lines, 5, "five lines counted (the long one, the bad one, the blank one)");
	is_int(s.bad_lines, 2, "the long and the bad line are counted as bad");
}

/* flannel-check's view: each backend's device and the UDP port of its packets. */
static void devices(void)
{
	static const struct {
		const struct backend *be;
		const char *json, *dev;
		unsigned port;
	} t[] = {
		{ &backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\"}}",
		  "flannel.1", 8472 },
		{ &backend_vxlan, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"vxlan\","
				  "\"VNI\":7,\"Port\":4789}}", "flannel.7", 4789 },
		{ &backend_udp, "{\"Network\":\"100.64.0.0/16\"}", "flannel0", 8285 },
		{ &backend_udp, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"udp\","
				"\"Port\":9000}}", "flannel0", 9000 },
		{ &backend_wireguard, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":"
				      "\"wireguard\"}}", "flannel-wg", 51820 },
		{ &backend_ipip, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"ipip\"}}",
		  "flannel.ipip", 0 },
		{ &backend_hostgw, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":"
				   "\"host-gw\"}}", NULL, 0 },
	};

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct net_config c = cfg(t[i].json);
		char dev[IFNAMSIZ] = "";

		if (t[i].be->device)
			t[i].be->device(&c, AF_INET, dev, sizeof(dev));
		is_str(t[i].be->device ? dev : NULL, t[i].dev, "%s: device", t[i].be->name);
		ok((t[i].be->port ? t[i].be->port(&c) : 0) == t[i].port, "%s: port %u",
		   t[i].be->name, t[i].port);
		if (t[i].be == &backend_vxlan && t[i].be->device) {
			t[i].be->device(&c, AF_INET6, dev, sizeof(dev));
			is_str(dev, t[i].port == 8472 ? "flannel-v6.1" : "flannel-v6.7",
			       "vxlan: IPv6 device");
		} else if (t[i].be->device) {
			t[i].be->device(&c, AF_INET6, dev, sizeof(dev));
			is_str(dev, "", "%s: no IPv6 device", t[i].be->name);
		}
		config_clear(&c);
	}
	/* wireguard dual stack: Mode separate's flannel-wg-v6; one device else. */
	for (int m = 0; m < 2; m++) {
		struct net_config c = cfg(m ? "{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,"
					      "\"IPv6Network\":\"2001:db8::/48\",\"Backend\":{"
					      "\"Type\":\"wireguard\",\"Mode\":\"auto\"}}"
					    : "{\"Network\":\"100.64.0.0/16\",\"EnableIPv6\":true,"
					      "\"IPv6Network\":\"2001:db8::/48\",\"Backend\":{"
					      "\"Type\":\"wireguard\"}}");
		char dev[IFNAMSIZ] = "x";

		backend_wireguard.device(&c, AF_INET6, dev, sizeof(dev));
		is_str(dev, m ? "" : "flannel-wg-v6", "wireguard %s: IPv6 device",
		       m ? "Mode auto (both on flannel-wg)" : "dual stack, Mode separate");
		config_clear(&c);
	}
}

int main(void)
{
	log_init("test_backend", false);
	log_set_verbosity(0);
	table();
	vxlan_lines();
	checks();
	udp_entry();
	wireguard_entry();
	ipsec_entry();
	mtus();
	ipip_entry();
	stream();
	devices();
	return tap_done();
}
