/* The whole plugin through cni_dispatch, with a fake "bridge" delegate that
 * records each call it is given: LC1-LC4 stored files and
 * DEL, the error vectors E1-E15, the DEL vectors, CHECK/VERSION/GC/STATUS,
 * container ID and interface name checks, allocation failures.  Pure
 * config handling: the fake creates no interface and sends no packet. */
#include <sys/socket.h>

#include "base/mem.h"
#include "cni/cni_plugin.h"
#include "cni_test.h"

static char bindir[512], emptydir[512], data[512], calls[512], result[512];
static char env4[512], env6[512], envdual[512], env4multi[512];

static const char fake_bridge[] =
	"#!/bin/sh\n"
	"d=$(dirname \"$0\")/..\n"
	"printf '%s\\n' \"$CNI_COMMAND\" >>\"$d/calls\"\n"
	"cat >\"$d/stdin.$CNI_COMMAND\"\n"
	"case \"${FAKE:-ok}\" in\n"
	"ok) if [ \"$CNI_COMMAND\" = ADD ]; then cat \"$d/result\"; fi; exit 0 ;;\n"
	"err) printf '{\"code\":11,\"msg\":\"try later\",\"details\":\"busy\"}'; exit 1 ;;\n"
	"stderr) echo boom >&2; exit 2 ;;\n"
	"silent) exit 3 ;;\n"
	"garbage) printf 'not json'; exit 1 ;;\n"
	"kill) kill -9 $$ ;;\n"
	"okstderr) echo note >&2; cat \"$d/result\" ;;\n"
	"fds) if [ -e \"/proc/$$/fd/$LEAKFD\" ]; then echo leaked >\"$d/leak\"; fi\n"
	"     cat \"$d/result\" ;;\n"
	"esac\n";

static char *fake_env[] = { "PATH=/usr/bin:/bin", "CNI_COMMAND=SHOULD-BE-REPLACED", "FAKE=ok",
			    NULL };

static void fixtures(void)
{
	char path[512];

	tpath(bindir, sizeof(bindir), "bin");
	tpath(emptydir, sizeof(emptydir), "empty");
	mkdir(bindir, 0755);
	mkdir(emptydir, 0755);
	write_file(tpath(path, sizeof(path), "bin/bridge"), fake_bridge, 0755);
	tpath(data, sizeof(data), "data");
	tpath(calls, sizeof(calls), "calls");
	tpath(result, sizeof(result), "result");
	write_file(tpath(env4, sizeof(env4), "env4"), ENV4, 0644);
	write_file(tpath(env6, sizeof(env6), "env6"), ENV6, 0644);
	write_file(tpath(envdual, sizeof(envdual), "envdual"), ENVDUAL, 0644);
	write_file(tpath(env4multi, sizeof(env4multi), "env4multi"), ENV4MULTI, 0644);
	write_file(result, "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.17.2/24\"}]}", 0644);
}

static char *conf(const char *subnet_file, const char *extra)
{
	return flannel_conf(subnet_file, data, extra);
}

static struct cni_call call(const char *cmd, const char *cid, const char *in)
{
	return (struct cni_call){ .command = cmd, .containerid = cid, .netns = "/var/run/netns/x",
				  .ifname = "eth0", .args = "", .path = bindir,
				  .netns_override = "", .envp = fake_env, .stdin_fd = -1,
				  .in = in, .in_len = strlen(in), .os = CNI_OS_LINUX };
}

/* Run c; 0 or -1, the reply's stdout in *out (or NULL). */
static int run(const struct cni_call *c, char **out, struct cni_err *e)
{
	struct cni_reply r;
	int rc = cni_dispatch(c, &r, e);

	*out = NULL;
	if (rc == 0) {
		*out = r.out;
		r.out = NULL;
		cni_reply_free(&r);
	}
	return rc;
}

static char *stored(const char *cid)
{
	char path[1024];

	snprintf(path, sizeof(path), "%s/%s", data, cid);
	return read_whole(path);
}

static const struct {
	const char *id, *cid, *env, *want;
} lifecycle[] = {
	{ "LC1", "some-container-id-ipv4", env4,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":"
	  "\"10.1.0.0/16\"}],\"type\":\"host-local\"},\"isGateway\":true,\"mtu\":1472,\"name\":"
	  "\"cni-flannel\",\"type\":\"bridge\"}" },
	{ "LC2", "some-container-id-ipv4-multiple", env4multi,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}]],\"routes\":[{\"dst\":"
	  "\"10.1.0.0/16\"},{\"dst\":\"192.168.0.0/16\"}],\"type\":\"host-local\"},\"isGateway\":true,"
	  "\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}" },
	{ "LC3", "some-container-id-ipv6", env6,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"fc00::/64\"}]],\"routes\":[{\"dst\":"
	  "\"fc00::/48\"}],\"type\":\"host-local\"},\"isGateway\":true,\"mtu\":1472,\"name\":"
	  "\"cni-flannel\",\"type\":\"bridge\"}" },
	{ "LC4", "some-container-id-dual-stack", envdual,
	  "{\"ipMasq\":false,\"ipam\":{\"ranges\":[[{\"subnet\":\"10.1.17.0/24\"}],[{\"subnet\":"
	  "\"fc00::/64\"}]],\"routes\":[{\"dst\":\"10.1.0.0/16\"},{\"dst\":\"fc00::/48\"}],\"type\":"
	  "\"host-local\"},\"isGateway\":true,\"mtu\":1472,\"name\":\"cni-flannel\",\"type\":\"bridge\"}" },
};

static void test_lifecycle(void)
{
	struct cni_err e;
	char path[1024];

	for (size_t i = 0; i < sizeof(lifecycle) / sizeof(lifecycle[0]); i++) {
		const char *id = lifecycle[i].id;
		struct cni_call c = call("ADD", lifecycle[i].cid, conf(lifecycle[i].env, NULL));
		char *out = NULL, *file, *sent;
		struct stat st;

		unlink(calls);
		ok(run(&c, &out, &e) == 0, "%s ADD", id);
		file = stored(lifecycle[i].cid);
		sent = read_whole(tpath(path, sizeof(path), "stdin.ADD"));
		ok(file && json_same(file, lifecycle[i].want), "%s stored file", id);
		is_str(sent, file, "%s the delegate got exactly the stored bytes", id);
		snprintf(path, sizeof(path), "%s/%s", data, lifecycle[i].cid);
		ok(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600, "%s file mode 0600", id);
		ok(stat(data, &st) == 0 && (st.st_mode & 0777) == 0700, "%s dataDir mode 0700", id);
		is_str(out, "{\n    \"cniVersion\": \"1.0.0\",\n    \"ips\": [\n        {\n"
			    "            \"address\": \"10.1.17.2/24\"\n        }\n    ]\n}",
		       "%s result relayed, 4-space indent, no newline", id);
		free(out);
		free(sent);

		c.command = "DEL";
		unlink(env4); /* DEL never needs subnet.env */
		ok(run(&c, &out, &e) == 0 && !out, "%s DEL, nothing printed", id);
		write_file(env4, ENV4, 0644);
		ok(access(path, F_OK) < 0, "%s stored file gone", id);
		sent = read_whole(tpath(path, sizeof(path), "stdin.DEL"));
		is_str(sent, file, "%s DEL got the stored bytes", id);
		ok(run(&c, &out, &e) == 0 && !out, "%s DEL again succeeds", id);
		free(sent);
		sent = read_whole(calls);
		is_str(sent, "ADD\nDEL\n", "%s delegate ran ADD then DEL only", id);
		free(sent);
		free(file);
	}
}

static void test_p_era_result(void)
{
	static const char *const versions[] = { "0.1.0", "0.2.0", "0.3.0", "0.3.1", "0.4.0", "1.0.0",
						"1.1.0" };
	struct cni_err e;

	/* A result without cniVersion takes the config's. */
	write_file(result, "{\"ips\":[{\"address\":\"10.1.17.2/24\"}],\"extra\":1,\"dns\":{}}", 0644);
	for (size_t v = 0; v < 7; v++) {
		char extra[128], want[512], *out = NULL;
		struct cni_call c;

		snprintf(extra, sizeof(extra), "\"cniVersion\":\"%s\"", versions[v]);
		c = call("ADD", "pera", conf(env4, extra));
		snprintf(want, sizeof(want), "{\"cniVersion\":\"%s\"%s}", versions[v],
			 versions[v][2] >= '3' || versions[v][0] == '1' ?
				 ",\"ips\":[{\"address\":\"10.1.17.2/24\"}]" : "");
		ok(run(&c, &out, &e) == 0 && json_same(out, want),
		   "ADD %s: result version filled in, unknown fields dropped", versions[v]);
		free(out);
		c.command = "DEL";
		run(&c, &out, &e);
	}
	write_file(result, "{\"cniVersion\":\"9.9.9\"}", 0644);
	{
		struct cni_call c = call("ADD", "badres", conf(env4, NULL));
		char *out;

		ok(run(&c, &out, &e) < 0 && e.code == 999, "unknown result version refused");
		is_str(e.msg, "failed to delegate add: unsupported CNI result version \"9.9.9\"",
		       "with upstream's message");
		write_file(result, "[1]", 0644);
		ok(run(&c, &out, &e) < 0, "a result that is not an object is refused");
		is_str(e.msg, "failed to delegate add: failed to unmarshal raw result: json: cannot "
			      "unmarshal array into Go value of type map[string]interface {}",
		       "with Go's message");
	}
	write_file(result, "{\"cniVersion\":\"1.0.0\",\"ips\":[{\"address\":\"10.1.17.2/24\"}]}", 0644);
}

static struct {
	const char *id;
	const char *cmd, *cid, *ifname, *path, *netns;
	const char *in; /* NULL: the ENV4 template; "@missing": a missing subnet.env */
	unsigned code;
	const char *msg, *details;
} errors[] = {
	{ "E1", "ADD", "c1", "eth0", NULL, NULL, "\"delegate\":{\"name\":\"x\"}", 999,
	  "'delegate' dictionary must not have 'name' field, it'll be set by flannel", "" },
	{ "E2", "ADD", "c1", "eth0", NULL, NULL, "\"delegate\":{\"ipam\":{}}", 999,
	  "'delegate' dictionary must not have 'ipam' field, it'll be set by flannel", "" },
	{ "E3", "ADD", "c1", "eth0", NULL, NULL, "\"delegate\":{\"type\":5}", 999,
	  "'delegate' dictionary, if present, must have (string) 'type' field", "" },
	{ "E3 null", "ADD", "c1", "eth0", NULL, NULL, "\"delegate\":{\"type\":null}", 999,
	  "'delegate' dictionary, if present, must have (string) 'type' field", "" },
	{ "E4", "ADD", "c1", "eth0", NULL, NULL, "@missing", 999,
	  "failed to load flannel 'subnet.env' file: open %s: no such file or directory. "
	  "Check the flannel pod log for this node.", "" },
	{ "E6", "ADD", "c1", "eth0", NULL, NULL, "@missing,\"delegate\":{\"name\":\"x\"}", 999,
	  "failed to load flannel 'subnet.env' file: open %s: no such file or directory. "
	  "Check the flannel pod log for this node.", "" },
	{ "E7", "ADD", "c1", "eth0", NULL, NULL, "{\"type\":\"flannel\"}", 7,
	  "missing network name", "" },
	{ "E8", "ADD", "c1", "eth0", NULL, NULL, "{\"name\":\"my net\"}", 7,
	  "invalid characters found in network name", "my net" },
	{ "E9", "ADD", "c1", "eth0", NULL, NULL, "{bad", 6,
	  "error unmarshall network config: invalid character 'b' looking for beginning of object "
	  "key string", "" },
	{ "E10", "ADD", "c1", "eth0", NULL, NULL, "\"cniVersion\":\"0.5.0\"", 1,
	  "incompatible CNI versions", "config is \"0.5.0\", plugin supports [\"0.1.0\" \"0.2.0\" "
	  "\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]" },
	{ "E11 ../etc", "ADD", "../etc", "eth0", NULL, NULL, NULL, 4,
	  "invalid characters in containerID", "../etc" },
	{ "E11 a/b", "ADD", "a/b", "eth0", NULL, NULL, NULL, 4, "invalid characters in containerID",
	  "a/b" },
	{ "E11 on DEL", "DEL", "..", "eth0", NULL, NULL, NULL, 4, "invalid characters in containerID",
	  ".." },
	{ "E11 leading dot", "ADD", ".x", "eth0", NULL, NULL, NULL, 4,
	  "invalid characters in containerID", ".x" },
	{ "E12", "ADD", "", "", "", "", NULL, 4,
	  "required env variables [CNI_CONTAINERID,CNI_NETNS,CNI_IFNAME,CNI_PATH] missing", "" },
	{ "E13", "ADD", "c1", "abcdefghijklmnop", NULL, NULL, NULL, 4, "interface name is too long",
	  "interface name should be less than 16 characters" },
	{ "ifname colon", "DEL", "c1", "eth0:1", NULL, NULL, NULL, 4,
	  "interface name contains / or : or whitespace characters", "" },
	{ "ifname dot", "CHECK", "c1", "..", NULL, NULL, NULL, 4, "interface name is . or ..", "" },
	{ "E14", "ADD", "c1", "eth0", "@empty", NULL, NULL, 999,
	  "failed to delegate add: failed to find plugin \"bridge\" in path [%s]", "" },
	{ "E15", "FOO", "c1", "eth0", NULL, NULL, NULL, 4, "unknown CNI_COMMAND: FOO", "" },
	{ "bad subnetFile type", "ADD", "c1", "eth0", NULL, NULL, "\"subnetFile\":5,\"x\":1", 999,
	  "failed to load flannel netconf file: failed to load netconf: json: cannot unmarshal "
	  "number into Go struct field NetConf.subnetFile of type string", "" },
	{ "bad subnetFile type on DEL", "DEL", "c1", "eth0", NULL, NULL, "\"subnetFile\":5", 999,
	  "failed to load netconf: json: cannot unmarshal number into Go struct field "
	  "NetConf.subnetFile of type string", "" },
	{ "cniVersion type", "ADD", "c1", "eth0", NULL, NULL, "\"cniVersion\":1", 6,
	  "decoding version from network config: json: cannot unmarshal number into Go struct "
	  "field .cniVersion of type string", "" },
	{ "name type", "ADD", "c1", "eth0", NULL, NULL, "{\"name\":[]}", 6,
	  "error unmarshall network config: json: cannot unmarshal array into Go struct field "
	  ".name of type string", "" },
	{ "CHECK 0.3.1", "CHECK", "c1", "eth0", NULL, NULL, "\"cniVersion\":\"0.3.1\"", 1,
	  "config version does not allow CHECK", "" },
	{ "CHECK no version", "CHECK", "c1", "eth0", NULL, NULL, NULL, 1,
	  "config version does not allow CHECK", "" },
	{ "CHECK 0.5.0", "CHECK", "c1", "eth0", NULL, NULL, "\"cniVersion\":\"0.5.0\"", 1,
	  "incompatible CNI versions", "config is \"0.5.0\", plugin supports [\"0.1.0\" \"0.2.0\" "
	  "\"0.3.0\" \"0.3.1\" \"0.4.0\" \"1.0.0\" \"1.1.0\"]" },
	{ "CHECK 2.0.0", "CHECK", "c1", "eth0", NULL, NULL, "\"cniVersion\":\"2.0.0\"", 1,
	  "plugin version does not allow CHECK", "" },
	{ "CHECK x", "CHECK", "c1", "eth0", NULL, NULL, "\"cniVersion\":\"x.1\"", 6,
	  "failed to convert major version part \"x\": strconv.Atoi: parsing \"x\": invalid syntax",
	  "" },
	{ "GC 1.0.0", "GC", "", "", NULL, NULL, "\"cniVersion\":\"1.0.0\"", 1,
	  "config version does not allow GC", "" },
	{ "STATUS 0.4.0", "STATUS", "", "", NULL, NULL, "\"cniVersion\":\"0.4.0\"", 1,
	  "config version does not allow STATUS", "" },
	{ "GC without CNI_PATH", "GC", "", "", "", NULL, "\"cniVersion\":\"1.1.0\"", 4,
	  "required env variables [CNI_PATH] missing", "" },
	{ "netns is ours", "ADD", "c1", "eth0", NULL, "/proc/self/ns/net", NULL, 8,
	  "plugin's netns and netns from CNI_NETNS should not be the same", "" },
};

static void test_errors(void)
{
	char missing[512], in[4096], msg[1024];

	tpath(missing, sizeof(missing), "missing.env");
	for (size_t i = 0; i < sizeof(errors) / sizeof(errors[0]); i++) {
		struct cni_call c = call(errors[i].cmd, errors[i].cid, "");
		const char *src = errors[i].in;
		struct cni_err e;
		char *out = NULL;
		int rc;

		if (!src)
			snprintf(in, sizeof(in), "%s", conf(env4, NULL));
		else if (src[0] == '{')
			snprintf(in, sizeof(in), "%s", src);
		else if (src[0] == '@')
			snprintf(in, sizeof(in), "%s", conf(missing, src[8] ? "\"subnetFileWait\":\"0\","
							      "\"x\":0" : "\"subnetFileWait\":\"0\""));
		else
			snprintf(in, sizeof(in), "%s", conf(env4, src));
		if (src && src[0] == '@' && src[8]) {
			/* E6: the delegate error is hidden by the subnet.env error */
			snprintf(in, sizeof(in), "%s",
				 conf(missing, "\"subnetFileWait\":\"0\",\"delegate\":{\"name\":\"x\"}"));
		}
		c.in = in;
		c.in_len = strlen(in);
		c.ifname = errors[i].ifname;
		if (errors[i].path)
			c.path = strcmp(errors[i].path, "@empty") == 0 ? emptydir : errors[i].path;
		if (errors[i].netns)
			c.netns = errors[i].netns;
		if (strcmp(errors[i].id, "E12") == 0)
			c.netns = "";
		rc = run(&c, &out, &e);
		snprintf(msg, sizeof(msg), errors[i].msg,
			 strcmp(errors[i].id, "E14") == 0 ? emptydir : missing);
		ok(rc < 0 && e.code == errors[i].code, "%s: code %u (got %u)", errors[i].id,
		   errors[i].code, rc < 0 ? e.code : 0);
		is_str(rc < 0 ? e.msg : "(success)", msg, "%s msg", errors[i].id);
		is_str(rc < 0 ? e.details : "", errors[i].details, "%s details", errors[i].id);
		free(out);
	}
}

static void test_refused_ids_create_nothing(void)
{
	static const char *const bad[] = { "../escape", "a/b", "..", "/abs", "x\ny" };
	struct cni_err e;
	struct stat st;

	unlink(calls);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char *in = conf(env4, "\"dataDir\":\"/tmp/flannel-cni-unit-never\"");
		struct cni_call c = call("ADD", bad[i], in);
		char *out;

		ok(run(&c, &out, &e) < 0 && e.code == 4, "container ID %zu refused on ADD", i);
		c.command = "DEL";
		ok(run(&c, &out, &e) < 0 && e.code == 4, "container ID %zu refused on DEL", i);
	}
	ok(stat("/tmp/flannel-cni-unit-never", &st) < 0 && access(calls, F_OK) < 0,
	   "no dataDir created, no delegate run");
}

static void test_del_vectors(void)
{
	struct cni_err e;
	char path[1024], *out, *f;
	struct cni_call c = call("DEL", "gone", conf("/nonexistent/subnet.env", NULL));

	ok(run(&c, &out, &e) == 0 && !out, "DEL without stored file: success, no subnet.env needed");

	snprintf(path, sizeof(path), "%s/garbage", data);
	write_file(path, "garbage", 0600);
	c.containerid = "garbage";
	unlink(calls);
	ok(run(&c, &out, &e) == 0 && !out, "DEL with garbage stored: success");
	ok(access(path, F_OK) == 0 && access(calls, F_OK) < 0, "the file stays, no delegate run");

	snprintf(path, sizeof(path), "%s/typeless", data);
	write_file(path, "{\"type\":5}", 0600);
	c.containerid = "typeless";
	ok(run(&c, &out, &e) == 0 && access(path, F_OK) == 0,
	   "DEL with a wrong-typed stored type: success, file kept");

	snprintf(path, sizeof(path), "%s/kept", data);
	write_file(path, "{\"type\":\"bridge\",\"name\":\"n\"}", 0600);
	c.containerid = "kept";
	fake_env[2] = "FAKE=err";
	ok(run(&c, &out, &e) < 0 && e.code == 11, "DEL: the delegate's error object passes through");
	is_str(e.msg, "try later", "its msg");
	is_str(e.details, "busy", "its details");
	ok(access(path, F_OK) == 0, "the file stays for the runtime's retry");
	fake_env[2] = "FAKE=ok";
	ok(run(&c, &out, &e) == 0 && access(path, F_OK) < 0, "the retry succeeds and removes it");
	f = read_whole(tpath(path, sizeof(path), "stdin.DEL"));
	is_str(f, "{\"type\":\"bridge\",\"name\":\"n\"}", "with the stored bytes, not the runtime's");
	free(f);
}

static const struct {
	const char *mode, *msg;
	unsigned code;
} delegate_failures[] = {
	{ "FAKE=err", "try later", 11 },
	{ "FAKE=stderr", "netplugin failed: \"boom\\n\"", 0 },
	{ "FAKE=silent", "netplugin failed with no error message: exit status 3", 0 },
	{ "FAKE=garbage", "netplugin failed but error parsing its diagnostic message \"not json\": "
			  "invalid character 'o' in literal null (expecting 'u')", 0 },
	{ "FAKE=kill", "netplugin failed with no error message: signal: killed", 0 },
};

static void test_delegate_failures(void)
{
	struct cni_err e;
	char *out, *f;

	for (size_t i = 0; i < sizeof(delegate_failures) / sizeof(delegate_failures[0]); i++) {
		struct cni_call c = call("ADD", "failing", conf(env4, NULL));

		fake_env[2] = (char *)delegate_failures[i].mode;
		ok(run(&c, &out, &e) < 0 && e.code == delegate_failures[i].code, "%s: code %u",
		   delegate_failures[i].mode, delegate_failures[i].code);
		is_str(e.msg, delegate_failures[i].msg, "%s message", delegate_failures[i].mode);
		f = stored("failing");
		ok(f != NULL, "%s: stored file left for DEL, as upstream", delegate_failures[i].mode);
		free(f);
	}
	fake_env[2] = "FAKE=ok";
}

static void test_version_and_check(void)
{
	struct cni_err e;
	char *out;
	struct cni_call c = call("VERSION", "", "");

	c.ifname = "";
	c.path = "";
	c.netns = "";
	ok(run(&c, &out, &e) == 0, "VERSION with only CNI_COMMAND");
	is_str(out, "{\"cniVersion\":\"1.1.0\",\"supportedVersions\":[\"0.1.0\",\"0.2.0\",\"0.3.0\","
		    "\"0.3.1\",\"0.4.0\",\"1.0.0\",\"1.1.0\"]}\n", "VERSION output");
	free(out);
	c = call("CHECK", "c1", conf(env4, "\"cniVersion\":\"1.0.0\""));
	unlink(calls);
	ok(run(&c, &out, &e) == 0 && !out && access(calls, F_OK) < 0,
	   "CHECK 1.0.0: success, no output, no delegate");
	c = call("GC", "", conf(env4, "\"cniVersion\":\"1.1.0\""));
	c.ifname = "";
	ok(run(&c, &out, &e) == 0 && !out, "GC 1.1.0: success, no output");
	c.command = "STATUS";
	ok(run(&c, &out, &e) == 0 && !out, "STATUS 1.1.0: success, no output");
	c = call("ADD", "ov", conf(env4, NULL));
	c.netns = "/proc/self/ns/net";
	c.netns_override = "true";
	ok(run(&c, &out, &e) == 0, "CNI_NETNS_OVERRIDE=true skips the netns check");
	free(out);
	c.command = "DEL";
	run(&c, &out, &e);
}

static void test_no_fd_leak(void)
{
	struct cni_err e;
	char path[512], var[32], *out;
	int fd = open("/dev/null", O_RDONLY); /* no O_CLOEXEC, as a runtime might leave one */
	struct cni_call c = call("ADD", "fds", conf(env4, NULL));
	char *env[] = { "PATH=/usr/bin:/bin", "FAKE=fds", var, NULL };

	snprintf(var, sizeof(var), "LEAKFD=%d", fd);
	c.envp = env;
	ok(run(&c, &out, &e) == 0, "ADD with an inherited descriptor open");
	ok(access(tpath(path, sizeof(path), "leak"), F_OK) < 0,
	   "the delegate gets stdin, stdout and stderr only");
	free(out);
	close(fd);
	c.command = "DEL";
	run(&c, &out, &e);
}

static void test_stderr_relayed(void)
{
	struct cni_call c = call("ADD", "noisy", conf(env4, NULL));
	struct cni_reply r;
	struct cni_err e;
	char *out;

	fake_env[2] = "FAKE=okstderr";
	ok(cni_dispatch(&c, &r, &e) == 0, "ADD with a delegate that writes to stderr");
	is_str(r.errout, "note\n", "its stderr is passed on to ours");
	ok(r.out && strstr(r.out, "10.1.17.2/24"), "and its result to stdout");
	cni_reply_free(&r);
	fake_env[2] = "FAKE=ok";
	c.command = "DEL";
	run(&c, &out, &e);
}

static void test_wait_message(void)
{
	struct cni_err e;
	char missing[512], *out;
	struct cni_call c;

	tpath(missing, sizeof(missing), "never.env");
	c = call("ADD", "w", conf(missing, "\"subnetFileWait\":\"100ms\""));
	ok(run(&c, &out, &e) < 0 && e.code == 999, "subnet.env never written: error");
	ok(strstr(e.msg, "failed to load flannel 'subnet.env' file: open ") == e.msg &&
		   strstr(e.msg, "flanneld has not written it yet") &&
		   strstr(e.msg, "Check the flannel pod log for this node."),
	   "says flanneld has not written it and where to look: %s", e.msg);
}

static void test_alloc_failures(void)
{
	const char *in = conf(envdual, "\"cniVersion\":\"1.0.0\",\"runtimeConfig\":{\"a\":1}");
	struct cni_call c = call("ADD", "alloc", in);
	char *want = NULL, *got;
	struct cni_err e;
	int clean = 1, reached = 0;
	unsigned long n;

	run(&c, &want, &e);
	fl_alloc_hook_jansson();
	for (n = 1; n < 3000 && !reached; n++) {
		fl_alloc_fail_at(n);
		if (run(&c, &got, &e) == 0) {
			reached = 1;
			clean &= want && got && strcmp(got, want) == 0;
			if (!clean)
				printf("#   allocation %lu: got %s\n", n, got);
		} else if (!strstr(e.msg, "out of memory") && !strstr(e.msg, "annot allocate")) {
			printf("#   allocation %lu: %s\n", n, e.msg);
			clean = 0;
		}
		fl_alloc_fail_at(0);
		free(got);
		got = NULL;
	}
	json_set_alloc_funcs(malloc, free);
	ok(reached && clean, "ADD with %lu failed allocations: clean errors, then the same result",
	   n - 2);
	free(want);
	c.command = "DEL";
	ok(run(&c, &got, &e) == 0, "and DEL cleans up");
}

int main(void)
{
	fixtures();
	test_lifecycle();
	test_p_era_result();
	test_errors();
	test_refused_ids_create_nothing();
	test_del_vectors();
	test_delegate_failures();
	test_version_and_check();
	test_no_fd_leak();
	test_stderr_relayed();
	test_wait_message();
	test_alloc_failures();
	rm_tree();
	return tap_done();
}
