/* Lease values as upstream writes them, event lines, subnet.env, FLANNELD_*. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/cli.h"
#include "base/mem.h"
#include "model/env.h"
#include "model/event.h"
#include "model/lease.h"
#include "tap.h"

static const char upstream_vxlan[] =
	"{\"PublicIP\":\"192.0.2.1\",\"PublicIPv6\":null,\"BackendType\":\"vxlan\","
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"ce:8e:4f:a1:22:01\"}}";
static const char upstream_dual[] =
	"{\"PublicIP\":\"192.0.2.1\",\"PublicIPv6\":\"2001:db8::1\",\"BackendType\":\"vxlan\","
	"\"BackendData\":{\"VNI\":1,\"VtepMAC\":\"ce:8e:4f:a1:22:01\"},"
	"\"BackendV6Data\":{\"VNI\":1,\"VtepMAC\":\"ce:8e:4f:a1:22:02\"}}";
static const char upstream_hostgw[] =
	"{\"PublicIP\":\"198.51.100.7\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}";
static const char upstream_ext[] =
	"{\"PublicIP\":\"192.0.2.9\",\"PublicIPv6\":null,\"BackendType\":\"extension\","
	"\"BackendData\":\"aa:bb:cc:dd:ee:ff\"}";

static void round_trip(const char *value, const char *what)
{
	char err[256];
	struct lease l;
	char *out;

	lease_init(&l);
	ok(lease_parse_value(&l, value, strlen(value), err, sizeof(err)) == 0, "parse %s", what);
	out = lease_format_value(&l);
	is_str(out, value, "%s written back byte for byte", what);
	free(out);
	lease_clear(&l);
}

static void values(void)
{
	char err[256], *out;
	struct lease l;
	const char *ci = "{\"publicip\":\"192.0.2.3\",\"BACKENDTYPE\":\"host-gw\",\"extra\":1}";

	round_trip(upstream_vxlan, "vxlan lease");
	round_trip(upstream_dual, "dual-stack lease");
	round_trip(upstream_hostgw, "host-gw lease");
	round_trip(upstream_ext, "extension lease (string BackendData)");

	/* Issue 12: a duplicate could be read two ways by two readers. */
	lease_init(&l);
	ok(lease_parse_value(&l, "{\"PublicIP\":\"192.0.2.1\",\"PublicIP\":\"192.0.2.2\"}", 47,
			     err, sizeof(err)) < 0, "a field given twice: refused (%s)", err);
	lease_clear(&l);
	ok(lease_parse_value(&l, "{\"PublicIP\":\"192.0.2.1\",\"publicIP\":\"192.0.2.2\"}", 47,
			     err, sizeof(err)) < 0 && strstr(err, "PublicIP is given 2 times"),
	   "twice as Go matches names: refused (%s)", err);
	lease_clear(&l);
	lease_init(&l);
	ok(lease_parse_value(&l, ci, strlen(ci), err, sizeof(err)) == 0,
	   "field names without regard to case, unknown fields ignored");
	is_str(l.backend_type, "host-gw", "BackendType read");
	out = lease_format_value(&l);
	is_str(out, "{\"PublicIP\":\"192.0.2.3\",\"PublicIPv6\":null,\"BackendType\":\"host-gw\"}",
	       "canonical form");
	free(out);
	lease_clear(&l);

	lease_init(&l);
	ok(lease_parse_value(&l, "{}", 2, err, sizeof(err)) == 0, "empty object parses");
	out = lease_format_value(&l);
	is_str(out, "{\"PublicIP\":\"0.0.0.0\",\"PublicIPv6\":null}",
	       "PublicIP always present, PublicIPv6 null, empty fields left out");
	free(out);
	lease_clear(&l);

	lease_init(&l);
	ok(lease_parse_value(&l, "{\"PublicIP\":\"2001:db8::1\"}", 26, err, sizeof(err)) < 0,
	   "IPv6 in PublicIP rejected");
	ok(strstr(err, "PublicIP") != NULL, "error names the field: %s", err);
	ok(lease_parse_value(&l, "nope", 4, err, sizeof(err)) < 0, "not JSON rejected");
	ok(lease_parse_value(&l, "[1]", 3, err, sizeof(err)) < 0, "not an object rejected");
	lease_clear(&l);

	lease_init(&l);
	prefix_parse("100.64.5.0/24", &l.subnet);
	addr_parse("127.0.0.1", &l.public_ip);
	ok(lease_validate(&l, err, sizeof(err)) < 0, "loopback PublicIP refused");
	addr_parse("224.1.2.3", &l.public_ip);
	ok(lease_validate(&l, err, sizeof(err)) < 0, "multicast PublicIP refused");
	addr_parse("192.0.2.5", &l.public_ip);
	ok(lease_validate(&l, err, sizeof(err)) == 0, "unicast PublicIP accepted");
	lease_clear(&l);
}

static void events(void)
{
	char err[256], *line;
	struct event ev;
	json_t *j;
	const char *added =
		"{\"type\":\"added\",\"key\":\"100.64.5.0-24\",\"subnet\":\"100.64.5.0/24\","
		"\"ipv6_subnet\":null,\"public_ip\":\"192.0.2.5\",\"public_ipv6\":null,"
		"\"backend_type\":\"vxlan\",\"backend_data\":{\"VNI\":1,\"VtepMAC\":\"02:00:00:00:00:05\"},"
		"\"backend_v6_data\":null,\"lease_id\":\"77\",\"expiration\":\"2026-11-24T08:00:00Z\","
		"\"revision\":12}";

	event_init(&ev);
	ok(event_parse(added, &ev, err, sizeof(err)) == 0, "parse an added event");
	ok(ev.type == EV_ADDED && ev.revision == 12 && ev.lease.lease_id == 77, "fields read");
	j = event_to_json(&ev);
	line = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	is_str(line, added, "an event is written back identically");
	free(line);
	json_decref(j);
	ok(event_parse("{\"type\":\"sync\",\"revision\":40}", &ev, err, sizeof(err)) == 0 &&
	   ev.type == EV_SYNC && ev.revision == 40, "sync marker");
	ok(event_parse("{\"type\":\"bogus\"}", &ev, err, sizeof(err)) == 0 && ev.type == EV_UNKNOWN,
	   "unknown type parses as unknown (skipped by readers)");
	ok(event_parse("{\"type\":\"removed\",\"subnet\":\"100.64.5.0/24\"}", &ev, err,
		       sizeof(err)) == 0 && ev.type == EV_REMOVED && !ev.has_attrs,
	   "a removal may carry only the subnet");
	is_str(ev.key, "100.64.5.0-24", "key derived from the subnet");
	ok(event_parse("{not json", &ev, err, sizeof(err)) < 0, "malformed line rejected");
	ok(event_parse("{\"subnet\":\"100.64.5.0/24\"}", &ev, err, sizeof(err)) < 0,
	   "a line without type rejected");
	ok(event_parse("{\"type\":\"added\",\"type\":\"removed\"}", &ev, err, sizeof(err)) < 0,
	   "duplicate keys rejected");
	ok(event_parse("{\"type\":\"added\",\"subnet\":\"100.64.5.1/24\",\"public_ip\":\"192.0.2.5\"}",
		       &ev, err, sizeof(err)) < 0, "subnet with host bits rejected");
	ok(event_parse("{\"type\":\"added\",\"subnet\":\"100.64.5.0/24\",\"public_ip\":\"::1\"}",
		       &ev, err, sizeof(err)) < 0, "public_ip of the wrong family rejected");
	ok(event_parse("{\"type\":\"added\",\"subnet\":\"100.64.5.0/24\",\"public_ip\":\"127.0.0.1\"}",
		       &ev, err, sizeof(err)) < 0, "loopback public_ip rejected");
	event_clear(&ev);
}

static void env_file(void)
{
	char dir[] = "/tmp/flannel-unit.XXXXXX", path[256], buf[512];
	struct subnet_env e = { 0 }, back;
	struct stat st;
	ssize_t n;
	int fd;

	ok(mkdtemp(dir) != NULL, "temp dir");
	snprintf(path, sizeof(path), "%s/run/flannel/subnet.env", dir);
	prefix_parse("100.64.0.0/16", &e.network);
	prefix_parse("100.64.5.0/24", &e.subnet);
	e.mtu = 1450;
	e.ipmasq = true;
	umask(077);
	ok(env_write(path, &e) == 0, "write subnet.env, creating directories");
	ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644, "mode 0644 whatever the umask");
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.5.1/24\n"
		    "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n", "upstream's lines and order");
	ok(env_read(path, &back) == 0 && prefix_equal(&back.subnet, &e.subnet) && back.mtu == 1450
	   && back.ipmasq, "read back, host bits masked");
	prefix_parse("2001:db8:1::/48", &e.network6);
	prefix_parse("2001:db8:1:5::/64", &e.subnet6);
	e.ipmasq = false;
	ok(env_write(path, &e) == 0, "dual stack");
	fd = open(path, O_RDONLY);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	is_str(buf, "FLANNEL_NETWORK=100.64.0.0/16\nFLANNEL_SUBNET=100.64.5.1/24\n"
		    "FLANNEL_IPV6_NETWORK=2001:db8:1::/48\nFLANNEL_IPV6_SUBNET=2001:db8:1:5::1/64\n"
		    "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=false\n", "IPv6 lines after IPv4");
	unlink(path);
	snprintf(buf, sizeof(buf), "%s/run/flannel", dir);
	rmdir(buf);
	snprintf(buf, sizeof(buf), "%s/run", dir);
	rmdir(buf);
	rmdir(dir);
	ok(env_read("/nonexistent/subnet.env", &back) < 0, "missing file is an error");
}

static void twins(void)
{
	static const struct option opts[] = {
		{ "etcd-endpoints", required_argument, NULL, 1 },
		{ "ip-masq", no_argument, NULL, 2 },
		{ "public-ip", required_argument, NULL, 3 },
		{ "iface", required_argument, NULL, 4 },
		{ NULL, 0, NULL, 0 },
	};
	char *envp[] = { "FLANNELD_ETCD_ENDPOINTS=http://127.0.0.1:2379", "FLANNELD_IP_MASQ=true",
			 "FLANNELD_PUBLIC_IP=192.0.2.9", "FLANNELD_IFACE=", "OTHER=1", NULL };
	char *args[] = { "tool", "--public-ip=192.0.2.1", NULL };
	char **argv = args;
	int argc = 2, inserted = 0;
	bool b;

	ok(cli_env_twins(&argc, &argv, 1, opts, envp, "FLANNELD", &inserted) == 0, "twins");
	need(argv != args);
	is_int(inserted, 2, "two variables applied (the flag given and the empty one are not)");
	is_str(argv[1], "--etcd-endpoints=http://127.0.0.1:2379", "FLANNELD_ETCD_ENDPOINTS");
	is_str(argv[2], "--ip-masq", "boolean twin");
	is_str(argv[3], "--public-ip=192.0.2.1", "the command line beats the environment");
	ok(argv[4] == NULL && argc == 4, "vector terminated");
	cli_env_twins_free(argv, 1, inserted);
	ok(cli_bool("false", &b) == 0 && !b, "false");
	ok(cli_bool(NULL, &b) == 0 && b, "a bare flag is true");
	ok(cli_bool("yes", &b) < 0, "yes is not a Go boolean");
}

static void b64(void)
{
	size_t n;
	char *e = base64_encode("/coreos.com/network/subnets/a", 29);
	char *d;

	is_str(e, "L2NvcmVvcy5jb20vbmV0d29yay9zdWJuZXRzL2E=", "encode");
	need(e);
	d = base64_decode(e, strlen(e), &n);
	ok(d && n == 29 && memcmp(d, "/coreos.com/network/subnets/a", 29) == 0, "decode");
	free(d);
	free(e);
	ok(base64_decode("abc", 3, &n) == NULL, "bad length rejected");
	ok(base64_decode("ab!=", 4, &n) == NULL, "bad character rejected");
}

/* Every allocation of a lease round trip may fail: no crash, no leak. */
static void alloc_failures(void)
{
	int failed_cleanly = 1;

	for (unsigned long i = 1; i < 60; i++) {
		char err[256];
		struct lease l;
		char *out;

		lease_init(&l);
		fl_alloc_hook_jansson();
		fl_alloc_fail_at(i);
		if (lease_parse_value(&l, upstream_dual, strlen(upstream_dual), err, sizeof(err)) == 0) {
			out = lease_format_value(&l);
			free(out);
		}
		fl_alloc_fail_at(0);
		lease_clear(&l);
	}
	ok(failed_cleanly, "lease parse/format survive every failed allocation (ASan checks leaks)");
}

/* The line reader: numbered lines, a last line without newline, a cap. */
static void lines(void)
{
	struct line_reader *r;
	unsigned long no = 0;
	char *line = NULL, *big;
	int fds[2], n;

	ok(pipe(fds) == 0, "pipe");
	ok(write(fds[1], "one\n\ntwo", 9) == 9, "write");
	close(fds[1]);
	r = line_reader_new(fds[0], 1u << 20);
	need(r);
	n = line_reader_next(r, &line, &no);
	ok(n == 1 && strcmp(line, "one") == 0 && no == 1, "first line");
	n = line_reader_next(r, &line, &no);
	ok(n == 1 && strcmp(line, "") == 0 && no == 2, "an empty line");
	n = line_reader_next(r, &line, &no);
	ok(n == 1 && strcmp(line, "two") == 0 && no == 3, "a last line without newline");
	ok(line_reader_next(r, &line, &no) == 0, "then EOF");
	line_reader_free(r);
	close(fds[0]);

	/* A line of 2 MiB is skipped, not a reason to grow without bound. */
	big = malloc((2u << 20) + 4);
	memset(big, 'x', 2u << 20);
	memcpy(big + (2u << 20), "\nok\n", 4);
	ok(socketpair(AF_UNIX, SOCK_STREAM, 0, fds) == 0, "socketpair");
	if (fork() == 0) {
		close(fds[0]);
		n = write(fds[1], big, (2u << 20) + 4) == (ssize_t)(2u << 20) + 4;
		_exit(n ? 0 : 1);
	}
	close(fds[1]);
	r = line_reader_new(fds[0], 1u << 20);
	need(r);
	ok(line_reader_next(r, &line, &no) == LINE_TOO_LONG && no == 1, "too long: line 1 skipped");
	n = line_reader_next(r, &line, &no);
	ok(n == 1 && strcmp(line, "ok") == 0 && no == 2, "the next line after it");
	ok(line_reader_next(r, &line, &no) == 0, "then EOF");
	line_reader_free(r);
	close(fds[0]);
	wait(NULL);
	free(big);
}

int main(void)
{
	values();
	events();
	lines();
	env_file();
	twins();
	b64();
	alloc_failures();
	return tap_done();
}
