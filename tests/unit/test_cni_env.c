/* subnet.env with the CNI plugin's rules: upstream's loadFlannelSubnetEnv
 * cases (S1-S6) and its parsing rules. */
#include <pthread.h>
#include <sys/socket.h>
#include <time.h>

#include "base/mem.h"
#include "base/timefmt.h"
#include "cni/cni_env.h"
#include "cni_test.h"

static const char *fmt(const struct prefix *p, char *buf, size_t len)
{
	return p->addr.family ? prefix_format(p, buf, len) : "(none)";
}

/* Load a fixture through a real file, as upstream's tests do. */
static int load(const char *name, const char *data, struct cni_env *e, char *err, size_t len)
{
	char path[512];

	tpath(path, sizeof(path), name);
	write_file(path, data, 0644);
	return cni_env_load(path, 0, e, err, len);
}

static void test_upstream_vectors(void)
{
	struct cni_env e;
	char err[512], a[64], path[512], want[768];

	ok(load("env4", ENV4, &e, err, sizeof(err)) == 0, "S1 ENV4 loads");
	is_str(e.n_nets ? fmt(&e.nets[0], a, sizeof(a)) : "", "10.1.0.0/16", "S1 first network");
	is_str(fmt(&e.sn, a, sizeof(a)), "10.1.17.0/24", "S1 subnet masked");
	ok(e.has_mtu && e.mtu == 1472 && e.has_ipmasq && e.ipmasq, "S1 mtu 1472, ipmasq true");
	cni_env_free(&e);

	ok(load("env6", ENV6, &e, err, sizeof(err)) == 0, "S2 ENV6 loads");
	is_str(e.n_nets6 ? fmt(&e.nets6[0], a, sizeof(a)) : "", "fc00::/48", "S2 first v6 network");
	is_str(fmt(&e.sn6, a, sizeof(a)), "fc00::/64", "S2 v6 subnet masked");
	ok(e.mtu == 1472 && e.ipmasq && !e.n_nets && !e.sn.addr.family, "S2 v6 only");
	cni_env_free(&e);

	ok(load("envdual", ENVDUAL, &e, err, sizeof(err)) == 0, "S3 ENVDUAL loads");
	ok(e.n_nets == 1 && e.n_nets6 == 1 && e.sn.addr.family == AF_INET &&
		   e.sn6.addr.family == AF_INET6 && e.mtu == 1472 && e.ipmasq,
	   "S3 all four values, mtu, ipmasq");
	cni_env_free(&e);

	for (int i = 4; i <= 6; i++) {
		ok(load("bad", ENVBAD, &e, err, sizeof(err)) < 0, "S%d BAD refused", i);
		snprintf(want, sizeof(want),
			 "%s is missing FLANNEL_NETWORK, FLANNEL_IPV6_NETWORK, FLANNEL_SUBNET, "
			 "FLANNEL_IPV6_SUBNET, FLANNEL_MTU, FLANNEL_IPMASQ",
			 tpath(path, sizeof(path), "bad"));
		is_str(err, want, "S%d upstream's message", i);
	}
}

static const struct {
	const char *file, *err; /* err NULL: parses */
	const char *net, *sn;
	size_t n_nets;
	unsigned mtu;
	int ipmasq;
} rules[] = {
	{ "FLANNEL_NETWORK=10.1.0.0/16\r\nFLANNEL_SUBNET=10.1.17.1/24\r\nFLANNEL_MTU=1472\r\n"
	  "FLANNEL_IPMASQ=true\r\n", NULL, "10.1.0.0/16", "10.1.17.0/24", 1, 1472, 1 },
	{ "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_NETWORK=100.65.0.0/16,100.66.0.0/16\n"
	  "FLANNEL_SUBNET=100.65.17.1/24\nFLANNEL_MTU=1400\nFLANNEL_IPMASQ=True\n",
	  NULL, "100.65.0.0/16", "100.65.17.0/24", 2, 1400, 0 },
	{ "FLANNEL_NETWORK=100.65.3.4/16,100.65.0.0/16,100.66.0.0/16\nFLANNEL_SUBNET=100.65.1.0/24\n"
	  "FLANNEL_MTU=01472\nFLANNEL_IPMASQ=\n", NULL, "100.65.0.0/16", "100.65.1.0/24", 2, 1472, 0 },
	{ "# comment\nexport FLANNEL_MTU=9\n FLANNEL_SUBNET=x\nFLANNEL_NETWORK=::ffff:10.0.0.0/104\n"
	  "FLANNEL_SUBNET=100.65.1.0/24\nFLANNEL_MTU=1450\nFLANNEL_IPMASQ=1\nUNKNOWN=1\n",
	  NULL, "10.0.0.0/8", "100.65.1.0/24", 1, 1450, 0 },
	{ "FLANNEL_NETWORK=10.1.0.0/33\n", "invalid CIDR address: 10.1.0.0/33", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_NETWORK=10.1.0.0/16,,10.2.0.0/16\n", "invalid CIDR address: ", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_NETWORK=10.1.0.0/16,\n", "invalid CIDR address: ", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_SUBNET=010.1.0.0/16\n", "invalid CIDR address: 010.1.0.0/16", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_SUBNET= 10.1.0.0/16\n", "invalid CIDR address:  10.1.0.0/16", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_IPV6_SUBNET=fe80::1%eth0/64\n", "invalid CIDR address: fe80::1%eth0/64", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_MTU=abc\n", "strconv.ParseUint: parsing \"abc\": invalid syntax", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_MTU=\n", "strconv.ParseUint: parsing \"\": invalid syntax", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_MTU=+1\n", "strconv.ParseUint: parsing \"+1\": invalid syntax", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_MTU=4294967296\n", "strconv.ParseUint: parsing \"4294967296\": value out of range", NULL, NULL, 0, 0, 0 },
	{ "FLANNEL_MTU=1472 \n", "strconv.ParseUint: parsing \"1472 \": invalid syntax", NULL, NULL, 0, 0, 0 },
};

static void test_rules(void)
{
	char err[512], a[64], b[64], name[32];

	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++) {
		struct cni_env e;
		int rc;

		snprintf(name, sizeof(name), "rule%zu", i);
		rc = load(name, rules[i].file, &e, err, sizeof(err));
		if (rules[i].err) {
			ok(rc < 0, "rule %zu refused", i);
			is_str(rc < 0 ? err : "(parsed)", rules[i].err, "rule %zu message", i);
			continue;
		}
		ok(rc == 0, "rule %zu parses%s%s", i, rc ? ": " : "", rc ? err : "");
		if (rc)
			continue;
		is_str(fmt(&e.nets[0], a, sizeof(a)), rules[i].net, "rule %zu network", i);
		is_str(fmt(&e.sn, b, sizeof(b)), rules[i].sn, "rule %zu subnet", i);
		ok(e.n_nets == rules[i].n_nets && e.mtu == rules[i].mtu &&
			   e.ipmasq == rules[i].ipmasq && e.has_ipmasq,
		   "rule %zu: %zu networks, mtu %u, ipmasq %d", i, e.n_nets, e.mtu, e.ipmasq);
		cni_env_free(&e);
	}
}

static void test_errors(void)
{
	struct cni_env e;
	char err[512], path[512], want[768], *big;

	tpath(path, sizeof(path), "nope");
	ok(cni_env_load(path, 0, &e, err, sizeof(err)) < 0, "missing file refused");
	snprintf(want, sizeof(want), "open %s: no such file or directory", path);
	is_str(err, want, "missing file: Go's open error");

	ok(load("partial", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n", &e, err,
		sizeof(err)) < 0, "keys missing");
	snprintf(want, sizeof(want), "%s is missing FLANNEL_MTU, FLANNEL_IPMASQ",
		 tpath(path, sizeof(path), "partial"));
	is_str(err, want, "E5's inner message");

	ok(load("noeq", "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_MTU\n", &e, err, sizeof(err)) < 0,
	   "a known key without '=' is an error (upstream panics)");
	snprintf(want, sizeof(want), "%s: line 2: FLANNEL_MTU has no value",
		 tpath(path, sizeof(path), "noeq"));
	is_str(err, want, "and says which line");

	big = calloc(1, 70000);
	memset(big, 'x', 65536);
	ok(load("long", big, &e, err, sizeof(err)) < 0, "a 64 KiB line is refused");
	is_str(err, "bufio.Scanner: token too long", "bufio's message");
	memset(big, 0, 70000);
	snprintf(big, 200, "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n"
		 "FLANNEL_MTU=1\nFLANNEL_IPMASQ=false\n#");
	memset(big + strlen(big), 'y', 65534);
	ok(load("long2", big, &e, err, sizeof(err)) == 0, "a 65535-byte line is fine");
	cni_env_free(&e);
	free(big);

	tpath(path, sizeof(path), "");
	ok(cni_env_load(path, 0, &e, err, sizeof(err)) < 0, "a directory is refused");
	ok(strstr(err, "read ") == err && strstr(err, ": is a directory"), "read error: %s", err);
}

static void *write_later(void *arg)
{
	struct timespec ts = { 0, 300 * 1000000 };

	char tmp[600];

	nanosleep(&ts, NULL);
	/* As flanneld does: a complete file appears at once (rename), never a
	 * half-written one. */
	snprintf(tmp, sizeof(tmp), "%s.tmp", (const char *)arg);
	write_file(tmp, ENV4, 0644);
	rename(tmp, arg);
	return NULL;
}

static void test_wait(void)
{
	struct cni_env e;
	char err[512], path[512];
	pthread_t t;
	int64_t t0;

	tpath(path, sizeof(path), "late.env");
	pthread_create(&t, NULL, write_later, path);
	t0 = mono_ms();
	ok(cni_env_load(path, 10000, &e, err, sizeof(err)) == 0,
	   "a subnet.env written 300 ms later is read within the wait");
	ok(mono_ms() - t0 < 9000, "without waiting the whole time");
	pthread_join(t, NULL);
	cni_env_free(&e);

	t0 = mono_ms();
	ok(cni_env_load("", 5000, &e, err, sizeof(err)) < 0 && mono_ms() - t0 < 4000,
	   "an empty path fails at once, as upstream");
	is_str(err, "open : no such file or directory", "with Go's text");

	tpath(path, sizeof(path), "never.env");
	t0 = mono_ms();
	ok(cni_env_load(path, 200, &e, err, sizeof(err)) < 0, "a file that never comes fails");
	ok(mono_ms() - t0 >= 200, "after the wait");
	ok(strstr(err, "no such file or directory") && strstr(err, "flanneld has not written it yet"),
	   "and says flanneld has not written it: %s", err);
}

static void test_alloc_failures(void)
{
	char err[512], path[512];
	int clean = 1, reached = 0;

	tpath(path, sizeof(path), "envdual");
	write_file(path, ENVDUAL, 0644);
	for (unsigned long n = 1; n < 100 && !reached; n++) {
		struct cni_env e;

		fl_alloc_fail_at(n);
		if (cni_env_load(path, 0, &e, err, sizeof(err)) == 0) {
			reached = 1;
			clean &= e.n_nets == 1 && e.n_nets6 == 1;
			cni_env_free(&e);
		} else {
			clean &= strstr(err, "out of memory") || strstr(err, "annot allocate") != NULL;
		}
		fl_alloc_fail_at(0);
	}
	ok(reached && clean, "failed allocations give clean errors");
}

int main(void)
{
	test_upstream_vectors();
	test_rules();
	test_errors();
	test_wait();
	test_alloc_failures();
	rm_tree();
	return tap_done();
}
