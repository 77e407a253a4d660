/* The flannel CNI config and the delegate config generated from it:
 * upstream's loadFlannelNetConf (L1-L6), getDelegateIPAM (I1-I7), the
 * stored files of the lifecycle tests (LC1-LC4) and the P-era per-version
 * variant, upstream's Windows example, delegate checks (E1-E3, E5,
 * E6).  Pure config generation: no interface, no packet. */
#include "base/mem.h"
#include "cni/cni_conf.h"
#include "cni/cni_json.h"
#include "cni/cni_plugin.h"
#include "cni_test.h"

static char env4[512], env6[512], envdual[512], env4multi[512], envbad[512], data[512];

static void fixtures(void)
{
	write_file(tpath(env4, sizeof(env4), "env4"), ENV4, 0644);
	write_file(tpath(env6, sizeof(env6), "env6"), ENV6, 0644);
	write_file(tpath(envdual, sizeof(envdual), "envdual"), ENVDUAL, 0644);
	write_file(tpath(env4multi, sizeof(env4multi), "env4multi"), ENV4MULTI, 0644);
	write_file(tpath(envbad, sizeof(envbad), "envbad"), ENVBAD, 0644);
	tpath(data, sizeof(data), "data");
}

/* upstream's input template, with an optional "ipam" and extra members */
static char *conf(const char *subnet_file, const char *extra)
{
	return flannel_conf(subnet_file, data, extra);
}

static void test_load(void)
{
	const char *files[] = { env4, env6, envdual };
	struct cni_netconf nc;
	char err[512];
	bool loaded;

	for (int i = 0; i < 3; i++) {
		const char *c = conf(files[i], NULL);

		need(c);
		loaded = cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0;
		ok(loaded, "L%d loads", i + 1);
		need(loaded);
		ok(strcmp(nc.name, "cni-flannel") == 0 &&
			   strcmp(json_string_value(json_object_get(nc.root, "type")), "flannel") == 0,
		   "L%d name and type", i + 1);
		is_str(nc.subnet_file, files[i], "L%d subnetFile", i + 1);
		is_str(nc.data_dir, data, "L%d dataDir", i + 1);
		cni_netconf_free(&nc);
	}
	for (int i = 4; i <= 6; i++) {
		const char *c = "{\"name\":\"cni-flannel\",\"type\":\"flannel\"}";

		need(c);
		loaded = cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0;
		ok(loaded, "L%d loads", i);
		need(loaded);
		is_str(nc.subnet_file, "/run/flannel/subnet.env", "L%d default subnetFile", i);
		is_str(nc.data_dir, "/var/lib/cni/flannel", "L%d default dataDir", i);
		ok(nc.wait_ms == 5000, "L%d default subnetFileWait 5s", i);
		cni_netconf_free(&nc);
	}
}

/* Go's decoding quirks: keys match case-insensitively, a later key wins, null
 * leaves a field as it was, a wrong type is an error naming the field. */
static const struct {
	const char *in, *err, *subnet_file, *data_dir;
} decode[] = {
	{ "{\"name\":\"n\",\"SUBNETFILE\":\"/a\",\"subnetfile\":\"/b\",\"DataDir\":\"/d\"}", NULL,
	  "/b", "/d" },
	{ "{\"name\":\"n\",\"subnetFile\":\"/a\",\"SubnetFile\":null}", NULL, "/a",
	  "/var/lib/cni/flannel" },
	{ "{\"name\":\"n\",\"subnetFile\":\"\"}", NULL, "", "/var/lib/cni/flannel" },
	{ "{\"name\":\"n\",\"subnetFile\":\"/a\",\"subnetFile\":null}", NULL, "/a",
	  "/var/lib/cni/flannel" },
	{ "{\"name\":\"n\",\"subnetFile\":5,\"subnetFile\":\"/x\"}",
	  "json: cannot unmarshal number into Go struct field NetConf.subnetFile of type string",
	  NULL, NULL },
	{ "{\"name\":\"n\",\"subnetFile\":5}",
	  "json: cannot unmarshal number into Go struct field NetConf.subnetFile of type string", NULL, NULL },
	{ "{\"name\":\"n\",\"delegate\":\"bridge\"}",
	  "json: cannot unmarshal string into Go struct field NetConf.delegate of type "
	  "map[string]interface {}", NULL, NULL },
	{ "{\"name\":\"n\",\"ipam\":[]}",
	  "json: cannot unmarshal array into Go struct field NetConf.ipam of type "
	  "map[string]interface {}", NULL, NULL },
	{ "{\"name\":\"n\",\"capabilities\":{\"portMappings\":1}}",
	  "json: cannot unmarshal number into Go struct field NetConf.capabilities of type bool", NULL, NULL },
	{ "{\"name\":\"n\",\"dns\":{\"nameservers\":[\"a\",true]}}",
	  "json: cannot unmarshal bool into Go struct field NetConf.dns.nameservers of type string", NULL, NULL },
	{ "{\"name\":\"n\",\"dns\":\"x\"}",
	  "json: cannot unmarshal string into Go struct field NetConf.dns of type types.DNS", NULL, NULL },
	{ "{\"name\":\"n\",\"cniVersion\":1}",
	  "json: cannot unmarshal number into Go struct field NetConf.cniVersion of type string", NULL, NULL },
	{ "{\"name\":\"n\",\"runtimeConfig\":true}",
	  "json: cannot unmarshal bool into Go struct field NetConf.runtimeConfig of type "
	  "map[string]interface {}", NULL, NULL },
	{ "[]", "json: cannot unmarshal array into Go value of type main.NetConf", NULL, NULL },
	{ "{\"name\":\"n\",\"subnetFileWait\":\"soon\"}",
	  "invalid subnetFileWait soon: want a duration such as 5s or 500ms", NULL, NULL },
	{ "{\"name\":\"n\",\"subnetFileWait\":\"nan\"}",
	  "invalid subnetFileWait nan: want a duration such as 5s or 500ms", NULL, NULL },
};

static void test_decode(void)
{
	struct cni_netconf nc;
	char err[512];

	for (size_t i = 0; i < sizeof(decode) / sizeof(decode[0]); i++) {
		int rc = cni_netconf_load(decode[i].in, strlen(decode[i].in), &nc, err, sizeof(err));

		if (decode[i].err) {
			ok(rc < 0, "decode %zu refused", i);
			is_str(rc < 0 ? err : "(loaded)", decode[i].err, "decode %zu message", i);
			continue;
		}
		ok(rc == 0, "decode %zu loads", i);
		is_str(rc ? "" : nc.subnet_file, decode[i].subnet_file, "decode %zu subnetFile", i);
		is_str(rc ? "" : nc.data_dir, decode[i].data_dir, "decode %zu dataDir", i);
		if (!rc)
			cni_netconf_free(&nc);
	}
	{
		const char *c = "{\"name\":\"n\",\"Delegate\":{\"a\":1},\"delegate\":{\"b\":2},"
				"\"subnetFileWait\":\"250ms\"}";

		ok(cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0 &&
			   json_object_size(nc.delegate) == 2 && nc.wait_ms == 250,
		   "members of one map field merge, as Go decodes into the same map");
		cni_netconf_free(&nc);
		c = "{\"name\":\"n\",\"delegate\":{\"a\":1},\"delegate\":{\"b\":2}}";
		ok(cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0 &&
			   json_object_size(nc.delegate) == 2,
		   "a repeated key merges too");
		cni_netconf_free(&nc);
		c = "{\"name\":\"n\",\"delegate\":{\"a\":1},\"delegate\":null,\"delegate\":{\"b\":2}}";
		ok(cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0 &&
			   json_object_size(nc.delegate) == 1 && json_object_get(nc.delegate, "b"),
		   "null in between resets the map");
		cni_netconf_free(&nc);
	}
}

#define FIXTURE_ROUTES "\"routes\":[{\"dst\":\"10.96.0.0/12\"},{\"dst\":\"192.168.244.0/24\",\"gw\":\"10.1.17.20\"}]"
#define IPAM_TYPED "\"ipam\":{\"type\":\"my-ipam\",\"unknown-param\":\"unknown-value\"," FIXTURE_ROUTES "}"
#define IPAM_UNTYPED "\"ipam\":{\"unknown-param\":\"unknown-value\"," FIXTURE_ROUTES "}"
#define R_USER "{\"dst\":\"10.96.0.0/12\"},{\"dst\":\"192.168.244.0/24\",\"gw\":\"10.1.17.20\"}"

static const struct {
	const char *id, *extra;
	const char *env;
	const char *want;
} ipams[] = {
	{ "I1", IPAM_TYPED, env4,
	  "{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[" R_USER ",{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"my-ipam\",\"unknown-param\":\"unknown-value\"}" },
	{ "I2", NULL, env4multi,
	  "{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"},"
	  "{\"dst\":\"192.168.0.0/16\"}],\"type\":\"host-local\"}" },
	{ "I3", IPAM_TYPED, env6,
	  "{\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],\"routes\":[" R_USER ",{\"dst\":\"fc00::/48\"}],"
	  "\"type\":\"my-ipam\",\"unknown-param\":\"unknown-value\"}" },
	{ "I4", IPAM_TYPED, envdual,
	  "{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],[{\"subnet\":\"fc00::/64\"}]],\"routes\":["
	  R_USER ",{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}],\"type\":\"my-ipam\","
	  "\"unknown-param\":\"unknown-value\"}" },
	{ "I5", IPAM_UNTYPED, env4,
	  "{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[" R_USER ",{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\",\"unknown-param\":\"unknown-value\"}" },
	{ "I6", IPAM_UNTYPED, env6,
	  "{\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],\"routes\":[" R_USER ",{\"dst\":\"fc00::/48\"}],"
	  "\"type\":\"host-local\",\"unknown-param\":\"unknown-value\"}" },
	{ "I7", IPAM_UNTYPED, envdual,
	  "{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],[{\"subnet\":\"fc00::/64\"}]],\"routes\":["
	  R_USER ",{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}],\"type\":\"host-local\","
	  "\"unknown-param\":\"unknown-value\"}" },
};

static void test_ipam(void)
{
	for (size_t i = 0; i < sizeof(ipams) / sizeof(ipams[0]); i++) {
		const char *c = conf(ipams[i].env, ipams[i].extra);
		struct cni_netconf nc;
		struct cni_env env;
		char err[512], *got = NULL;
		json_t *ipam = NULL;

		if (cni_netconf_load(c, strlen(c), &nc, err, sizeof(err)) == 0 &&
		    cni_env_load(nc.subnet_file, 0, &env, err, sizeof(err)) == 0) {
			ipam = cni_delegate_ipam(&nc, &env, err, sizeof(err));
			cni_env_free(&env);
		}
		got = ipam ? cni_json_dump(ipam, CJ_SORT, NULL) : NULL;
		ok(got && json_same(got, ipams[i].want), "%s getDelegateIPAM", ipams[i].id);
		free(got);
		json_decref(ipam);
		cni_netconf_free(&nc);
	}
}

#define LC_TAIL ",\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}"

static const struct {
	const char *id;
	const char *env;
	const char *want;
} lifecycle[] = {
	{ "LC1", env4,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":"
	  "\"10.1.0.0/16\"}],\"type\":\"host-local\"}" LC_TAIL },
	{ "LC2", env4multi,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":"
	  "\"10.1.0.0/16\"},{\"dst\":\"192.168.0.0/16\"}],\"type\":\"host-local\"}" LC_TAIL },
	{ "LC3", env6,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],\"routes\":[{\"dst\":"
	  "\"fc00::/48\"}],\"type\":\"host-local\"}" LC_TAIL },
	{ "LC4", envdual,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],[{\"subnet\":"
	  "\"fc00::/64\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}],"
	  "\"type\":\"host-local\"}" LC_TAIL },
};

static void test_lifecycle_confs(void)
{
	struct cni_err e;

	for (size_t i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++) {
		const char *c = conf(lifecycle[i].env, NULL);
		char *got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);

		ok(got && json_same(got, lifecycle[i].want), "%s delegate config", lifecycle[i].id);
		ok(got && !strstr(got, "cniVersion"), "%s: no cniVersion without one in the input",
		   lifecycle[i].id);
		free(got);
	}
	/* The exact bytes, keys sorted, as Go's json.Marshal of a map writes them. */
	{
		const char *c = conf(env4, NULL);
		char *got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);

		is_str(got, lifecycle[0].want, "LC1 byte for byte");
		free(got);
	}
}

/* P-era: every spec version, with cniVersion and ipam.dataDir in the input. */
static void test_p_era(void)
{
	static const char *const versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0" };
	const struct {
		const char *env;
		const char *ipam;
	} envs[] = {
		{ env4, "\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":"
					      "[{\"dst\":\"10.1.0.0/16\"}]" },
		{ env6, "\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],\"routes\":"
					      "[{\"dst\":\"fc00::/48\"}]" },
		{ envdual,
		  "\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],[{\"subnet\":\"fc00::/64\"}]],"
		  "\"routes\":[{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}]" },
	};
	struct cni_err e;

	for (size_t v = 0; v < 6; v++) {
		for (size_t i = 0; i < 3; i++) {
			char extra[1024], want[2048], *got;
			const char *c;

			snprintf(extra, sizeof(extra),
				 "\"cniVersion\":\"%s\",\"ipam\":{\"type\":\"host-local\","
				 "\"dataDir\":\"%s\"}", versions[v], data);
			c = conf(envs[i].env, extra);
			snprintf(want, sizeof(want),
				 "{\"cniVersion\":\"%s\",\"ipMasq\":false,\"ipam\":{\"dataDir\":\"%s\",%s,"
				 "\"type\":\"host-local\"}" LC_TAIL, versions[v], data, envs[i].ipam);
			got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);
			ok(got && json_same(got, want), "P-era %s, %s", versions[v],
			   i == 0 ? "ENV4" : i == 1 ? "ENV6" : "ENVDUAL");
			free(got);
		}
	}
}

static const struct {
	const char *what, *extra, *want;
} delegates[] = {
	{ "delegate keys kept, mtu and ipMasq not overwritten",
	  "\"cniVersion\":\"1.0.0\",\"delegate\":{\"bridge\":\"mynet0\",\"mtu\":1400,\"ipMasq\":null,"
	  "\"hairpinMode\":true,\"isDefaultGateway\":true}",
	  "{\"bridge\":\"mynet0\",\"cniVersion\":\"1.0.0\",\"hairpinMode\":true,\"ipMasq\":null,"
	  "\"isDefaultGateway\":true,\"isGateway\":true,\"mtu\":1400,\"name\":\"cni-flannel\","
	  "\"type\":\"bridge\",\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
	  "\"routes\":[{\"dst\":\"10.1.0.0/16\"}],\"type\":\"host-local\"}}" },
	{ "another delegate type gets no isGateway",
	  "\"delegate\":{\"type\":\"ipvlan\",\"master\":\"eth0\"}",
	  "{\"ipMasq\":false,\"master\":\"eth0\",\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"ipvlan\","
	  "\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\"}}" },
	{ "runtimeConfig forwarded and replaces the delegate's, capabilities not",
	  "\"capabilities\":{\"portMappings\":true},\"runtimeConfig\":{\"portMappings\":[{\"hostPort\":"
	  "8080,\"containerPort\":80}]},\"delegate\":{\"runtimeConfig\":{\"x\":1}},\"dns\":{}",
	  "{\"ipMasq\":false,\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\","
	  "\"runtimeConfig\":{\"portMappings\":[{\"containerPort\":80,\"hostPort\":8080}]},"
	  "\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\"}}" },
	{ "cniVersion in the delegate kept when the top level has none; numbers as float64",
	  "\"delegate\":{\"cniVersion\":\"0.3.1\",\"x\":1e3,\"y\":1.5,\"z\":12345678901234567890}",
	  "{\"cniVersion\":\"0.3.1\",\"ipMasq\":false,\"isGateway\":true,\"mtu\":1472,\"name\":"
	  "\"cni-flannel\",\"type\":\"bridge\",\"x\":1000,\"y\":1.5,\"z\":12345678901234567000,"
	  "\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\"}}" },
	{ "user ipam keys kept, user routes re-encoded",
	  "\"ipam\":{\"subnet\":\"x\",\"dataDir\":\"/d\",\"routes\":[{\"GW\":\"::ffff:10.1.17.1\","
	  "\"dst\":\"10.96.0.1/12\",\"mtu\":0,\"table\":0,\"advmss\":1e3,\"bogus\":1},"
	  "{\"dst\":\"::ffff:10.0.0.1/104\",\"scope\":null,\"priority\":7},{}]}",
	  "{\"ipMasq\":false,\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\","
	  "\"ipam\":{\"dataDir\":\"/d\",\"subnet\":\"x\",\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],"
	  "\"routes\":[{\"dst\":\"10.96.0.1/12\",\"gw\":\"10.1.17.1\",\"advmss\":1000,\"table\":0},"
	  "{\"dst\":\"10.0.0.1/8\",\"priority\":7},{\"dst\":\"<nil>\"},{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\"}}" },
	{ "routes: null is an empty list",
	  "\"ipam\":{\"routes\":null}",
	  "{\"ipMasq\":false,\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\","
	  "\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"}],"
	  "\"type\":\"host-local\"}}" },
};

static const struct {
	const char *what, *file_key, *extra, *err;
} failures[] = {
	{ "E1", "env4", "\"delegate\":{\"name\":\"x\"}",
	  "'delegate' dictionary must not have 'name' field, it'll be set by flannel" },
	{ "E2", "env4", "\"delegate\":{\"ipam\":{}}",
	  "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel" },
	{ "E3 number", "env4", "\"delegate\":{\"type\":5}",
	  "'delegate' dictionary, if present, must have (string) 'type' field" },
	{ "E3 null", "env4", "\"delegate\":{\"type\":null,\"name\":\"x\"}",
	  "'delegate' dictionary, if present, must have (string) 'type' field" },
	{ "route gw", "env4", "\"ipam\":{\"routes\":[{\"dst\":\"10.96.0.0/12\",\"gw\":\"x\"}]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: invalid IP address: x" },
	{ "route dst", "env4", "\"ipam\":{\"routes\":[{\"dst\":\"10.96.0.0\"}]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: invalid CIDR address: 10.96.0.0" },
	{ "route dst type", "env4", "\"ipam\":{\"routes\":[{\"dst\":5}]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: json: cannot unmarshal number into Go struct field route.dst of type string" },
	{ "route mtu", "env4", "\"ipam\":{\"routes\":[{\"mtu\":1.5,\"dst\":\"x\"}]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: invalid CIDR address: x" },
	{ "route mtu number", "env4", "\"ipam\":{\"routes\":[{\"mtu\":1.5}]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: json: cannot unmarshal number 1.5 into Go struct field route.mtu of type int" },
	{ "routes not a list", "env4", "\"ipam\":{\"routes\":{}}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: json: cannot unmarshal object into Go value of type []types.Route" },
	{ "route not an object", "env4", "\"ipam\":{\"routes\":[\"10.96.0.0/12\"]}",
	  "failed to assemble Delegate IPAM: failed to read IPAM routes: failed to parse "
	  "ipam.routes: json: cannot unmarshal string into Go value of type types.route" },
	{ "E5", "partial", NULL, "failed to load flannel 'subnet.env' file: %s is missing "
				 "FLANNEL_MTU, FLANNEL_IPMASQ. Check the flannel pod log for this node." },
	{ "E6", "missing", "\"delegate\":{\"name\":\"x\"}",
	  "failed to load flannel 'subnet.env' file: open %s: no such file or directory. "
	  "Check the flannel pod log for this node." },
};

static void test_delegates(void)
{
	struct cni_err e;
	char path[512], want[1024];

	for (size_t i = 0; i < sizeof(delegates) / sizeof(delegates[0]); i++) {
		const char *c = conf(env4, delegates[i].extra);
		char *got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);

		ok(got && json_same(got, delegates[i].want), "%s", delegates[i].what);
		if (!got)
			printf("#   error: %s\n", e.msg);
		free(got);
	}
	write_file(tpath(path, sizeof(path), "partial"),
		   "FLANNEL_NETWORK=10.1.0.0/16\nFLANNEL_SUBNET=10.1.17.1/24\n", 0644);
	for (size_t i = 0; i < sizeof(failures) / sizeof(failures[0]); i++) {
		char extra[512], *got;
		const char *c;

		tpath(path, sizeof(path), failures[i].file_key);
		snprintf(extra, sizeof(extra), "\"subnetFileWait\":\"0s\"%s%s",
			 failures[i].extra ? "," : "", failures[i].extra ? failures[i].extra : "");
		c = conf(path, extra);
		got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);
		snprintf(want, sizeof(want), failures[i].err, path);
		ok(!got && e.code == 999, "%s refused with code 999", failures[i].what);
		is_str(got ? "(built)" : e.msg, want, "%s message", failures[i].what);
		free(got);
	}
}

static void test_windows(void)
{
	char path[512], buf[1024], *got;
	struct cni_err e;
	const char *in;

	write_file(tpath(path, sizeof(path), "envwin"),
		   "FLANNEL_NETWORK=10.244.0.0/16\nFLANNEL_SUBNET=10.244.1.0/24\n"
		   "FLANNEL_MTU=1450\nFLANNEL_IPMASQ=true\n", 0644);
	/* Upstream's Windows example exactly: its input, its subnet.env, its output. */
	snprintf(buf, sizeof(buf),
		 "{\"name\":\"mynet\",\"type\":\"flannel\",\"delegate\":{\"type\":"
		 "\"win-overlay\",\"endpointMacPrefix\":\"0E-2A\"},\"subnetFile\":\"%s\"}", path);
	got = cni_delegate_config(buf, strlen(buf), CNI_OS_WINDOWS, &e);
	is_str(got, "{\"cniVersion\":\"0.2.0\",\"endpointMacPrefix\":\"0E-2A\",\"ipMasq\":true,"
		    "\"ipMasqNetwork\":\"10.244.0.0/16\",\"ipam\":{\"subnet\":\"10.244.1.0/24\","
		    "\"type\":\"host-local\"},\"name\":\"mynet\",\"type\":\"win-overlay\"}",
	       "upstream's Windows example, byte for byte");
	free(got);
	in = conf(path, "\"cniVersion\":\"0.3.1\",\"ipam\":{\"type\":\"other\"},"
			"\"delegate\":{\"ipMasq\":false}");
	got = cni_delegate_config(in, strlen(in), CNI_OS_WINDOWS, &e);
	ok(got && json_same(got, "{\"cniVersion\":\"0.3.1\",\"ipMasq\":true,\"ipMasqNetwork\":"
				 "\"10.244.0.0/16\",\"ipam\":{\"subnet\":\"10.244.1.0/24\",\"type\":"
				 "\"host-local\"},\"name\":\"cni-flannel\",\"type\":\"win-bridge\"}"),
	   "Windows: win-bridge default, ipMasq always FLANNEL_IPMASQ, top-level ipam ignored");
	free(got);
	in = conf(env6, NULL);
	got = cni_delegate_config(in, strlen(in), CNI_OS_WINDOWS, &e);
	ok(!got && strstr(e.msg, "FLANNEL_NETWORK"), "Windows needs an IPv4 network: %s", e.msg);
	free(got);
}

static void test_alloc_failures(void)
{
	const char *c = conf(envdual, IPAM_TYPED ",\"runtimeConfig\":{\"a\":[1]},"
					  "\"delegate\":{\"hairpinMode\":true}");
	char *want, *got;
	struct cni_err e;
	int clean = 1, reached = 0;
	unsigned long n;

	want = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);
	fl_alloc_hook_jansson();
	for (n = 1; n < 2000 && !reached; n++) {
		fl_alloc_fail_at(n);
		got = cni_delegate_config(c, strlen(c), CNI_OS_LINUX, &e);
		fl_alloc_fail_at(0);
		if (got) {
			reached = 1;
			clean &= want && strcmp(got, want) == 0;
			if (!clean)
				printf("#   allocation %lu:\n#   got  %s\n#   want %s\n", n, got, want);
		} else if (!strstr(e.msg, "out of memory") && !strstr(e.msg, "annot allocate")) {
			printf("#   allocation %lu: %s\n", n, e.msg);
			clean = 0;
		}
		free(got);
	}
	json_set_alloc_funcs(malloc, free);
	ok(reached && clean, "%lu failed allocations: each a clean error, never a wrong config",
	   n - 2);
	free(want);
}

int main(void)
{
	fixtures();
	test_load();
	test_decode();
	test_ipam();
	test_lifecycle_confs();
	test_p_era();
	test_delegates();
	test_windows();
	test_alloc_failures();
	rm_tree();
	return tap_done();
}
