/* The extension backend: config, environment, stdin, validation, the
 * command runner and the applier's state. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "backend/extension.h"
#include "ext/ext.h"
#include "tap.h"

static char tmpdir[] = "/tmp/flannel-test-ext.XXXXXX";

static const char *env_get(char **env, const char *name)
{
	size_t n = strlen(name);

	for (; env && *env; env++)
		if (strncmp(*env, name, n) == 0 && (*env)[n] == '=')
			return *env + n + 1;
	return NULL;
}

static int env_count(char **env, const char *name)
{
	size_t n = strlen(name);
	int c = 0;

	for (; env && *env; env++)
		c += strncmp(*env, name, n) == 0 && (*env)[n] == '=';
	return c;
}

static int ext_config_text(struct ext_config *c, const char *text, char *err, size_t errlen)
{
	struct net_config net;
	int rc;

	config_init(&net);
	rc = config_parse(text, strlen(text), &net, err, errlen);
	if (rc == 0)
		rc = ext_config_from_net(c, &net, err, errlen);
	config_clear(&net);
	return rc;
}

static void test_config(void)
{
	struct ext_config c;
	char err[256];
	const char *good = "{\"Network\":\"100.64.0.0/16\",\"backend\":{\"type\":\"Extension\","
			   "\"subnetaddcommand\":\"ip route add $SUBNET via $PUBLIC_IP\","
			   "\"SubnetRemoveCommand\":\"ip route del $SUBNET via $PUBLIC_IP\","
			   "\"PreStartupCommand\":null}}";

	ext_config_init(&c);
	is_int(ext_config_set(&c, EXT_SUBNET_REMOVE, "echo flag"), 0, "flag set");
	is_int(ext_config_text(&c, good, err, sizeof(err)), 0,
	       "config with keys in any case parses");
	is_str(c.cmd[EXT_SUBNET_ADD], "ip route add $SUBNET via $PUBLIC_IP", "add from config");
	is_str(c.cmd[EXT_SUBNET_REMOVE], "echo flag", "a flag wins over the config");
	ok(c.cmd[EXT_PRE_STARTUP] == NULL, "null command: none");
	ext_config_clear(&c);

	is_int(ext_config_text(&c, "{\"Network\":\"100.64.0.0/16\"}", err, sizeof(err)), -1,
	       "no Backend: udp, refused");
	ok(strstr(err, "udp") != NULL, "error names udp: %s", err);
	is_int(ext_config_text(&c, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":"
			       "\"vxlan\"}}", err, sizeof(err)), -1, "vxlan refused");
	ok(strstr(err, "\"vxlan\"") != NULL, "error names the type: %s", err);
	is_int(ext_config_text(&c, "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":"
			       "\"extension\",\"SubnetAddCommand\":[\"ip\"]}}", err, sizeof(err)),
	       -1, "a command that is not a string is refused");
	ext_config_clear(&c);
}

static void lease_v4(struct lease *l, const char *subnet, const char *pub)
{
	lease_init(l);
	prefix_parse(subnet, &l->subnet);
	addr_parse(pub, &l->public_ip);
	snprintf(l->backend_type, sizeof(l->backend_type), "extension");
}

static bool safe_value(const char *v)
{
	return v && strspn(v, "0123456789abcdef.:/") == strlen(v);
}

static void test_env(void)
{
	char *base[] = { "PATH=/usr/bin:/bin", "SUBNET=$(touch /tmp/x)", "NETWORK=evil",
			 "IPV6SUBNET=`id`", "HOME=/root", NULL };
	struct ext_host h;
	struct lease l;
	char **env;

	lease_v4(&l, "100.64.2.0/24", "192.0.2.2");
	ext_host_from_lease(&h, &l);
	env = ext_env_build(base, &h, false);
	ok(env != NULL, "env built");
	is_str(env_get(env, "PATH"), "/usr/bin:/bin", "PATH kept");
	is_str(env_get(env, "HOME"), "/root", "HOME kept");
	is_str(env_get(env, "SUBNET"), "100.64.2.0/24", "SUBNET replaced");
	is_int(env_count(env, "SUBNET"), 1, "SUBNET once");
	is_str(env_get(env, "PUBLIC_IP"), "192.0.2.2", "PUBLIC_IP");
	is_str(env_get(env, "IPV6SUBNET"), "", "IPV6SUBNET empty, not inherited");
	is_str(env_get(env, "PUBLIC_IPV6"), "", "PUBLIC_IPV6 empty");
	ok(env_get(env, "NETWORK") == NULL, "no NETWORK for a remote lease, none inherited");
	ext_env_free(env);

	/* IPv6 only: upstream writes PublicIP 0.0.0.0; we give an empty value. */
	lease_init(&l);
	prefix_parse("2001:db8:1:5::/64", &l.subnet6);
	addr_parse("2001:db8::5", &l.public_ip6);
	ext_host_from_lease(&h, &l);
	env = ext_env_build(base, &h, false);
	is_str(env_get(env, "SUBNET"), "", "v6 only: SUBNET empty");
	is_str(env_get(env, "IPV6SUBNET"), "2001:db8:1:5::/64", "IPV6SUBNET");
	is_str(env_get(env, "PUBLIC_IP"), "", "PUBLIC_IP 0.0.0.0 is empty");
	is_str(env_get(env, "PUBLIC_IPV6"), "2001:db8::5", "PUBLIC_IPV6");
	for (int v = EXT_VAR_SUBNET; v < EXT_NVAR; v++)
		ok(safe_value(env_get(env, ext_var_name(v))), "%s holds only address characters",
		   ext_var_name(v));
	ext_env_free(env);

	memset(&h, 0, sizeof(h));
	prefix_parse("100.64.0.0/16", &h.network);
	prefix_parse("100.64.7.1/24", &h.subnet);
	env = ext_env_build(NULL, &h, true);
	is_str(env_get(env, "NETWORK"), "100.64.0.0/16", "post-startup NETWORK");
	is_str(env_get(env, "SUBNET"), "100.64.7.0/24", "post-startup SUBNET masked");
	is_int(env_count(env, "PUBLIC_IP"), 1, "post-startup PUBLIC_IP present");
	ext_env_free(env);
}

static void test_text(void)
{
	char err[128], *s;
	size_t len = 0;
	json_t *j;

	is_int(ext_text_check("aa:bb\n\tcc", 9, err, sizeof(err)), 0, "newline and tab pass");
	is_int(ext_text_check("a\033[2Jb", 6, err, sizeof(err)), -1, "escape refused");
	is_int(ext_text_check("a\rb", 3, err, sizeof(err)), -1, "carriage return refused");
	is_int(ext_text_check("a\0b", 3, err, sizeof(err)), -1, "NUL refused");
	is_int(ext_text_check("a\177b", 3, err, sizeof(err)), -1, "DEL refused");

	j = json_string("aa:bb:cc:dd:ee:ff");
	s = ext_stdin_text(j, &len, err, sizeof(err));
	is_str(s, "aa:bb:cc:dd:ee:ff\n", "a JSON string is decoded, newline added");
	is_int(len, 18, "its length");
	free(s);
	json_decref(j);

	j = json_stringn("a\0b", 3);
	s = ext_stdin_text(j, &len, err, sizeof(err));
	ok(s == NULL, "decoded NUL refused");
	ok(strstr(err, "0x00") != NULL, "error names the byte: %s", err);
	free(s); /* not NULL when building j failed */
	json_decref(j);

	j = json_loads("{\"VNI\":1,\"VtepMAC\":\"aa:bb\"}", 0, NULL);
	s = ext_stdin_text(j, &len, err, sizeof(err));
	is_str(s, "{\"VNI\":1,\"VtepMAC\":\"aa:bb\"}\n", "an object as compact JSON");
	free(s);
	json_decref(j);

	s = ext_stdin_text(NULL, &len, err, sizeof(err));
	is_str(s, "\n", "no BackendData: a newline");
	free(s);

	j = ext_backend_data("  aa:bb:cc\n\n", 12, err, sizeof(err));
	is_str(json_string_value(j), "aa:bb:cc", "pre-startup output trimmed");
	s = json_dumps(j, JSON_ENCODE_ANY);
	is_str(s, "\"aa:bb:cc\"", "stored as a JSON string, as upstream");
	free(s);
	json_decref(j);
	ok(ext_backend_data("a\033b", 3, err, sizeof(err)) == NULL, "output with ESC refused");
	ok(ext_backend_data("a\xff", 2, err, sizeof(err)) == NULL, "output not UTF-8 refused");
}

static bool exists(const char *name)
{
	char p[256];

	snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
	return access(p, F_OK) == 0;
}

/* Gone, or a zombie waiting for whoever adopted it. */
static bool is_dead(pid_t pid)
{
	char p[64], st[256];
	FILE *f;
	bool dead = true;

	for (int i = 0; i < 50; i++) {
		snprintf(p, sizeof(p), "/proc/%d/stat", (int)pid);
		if (!(f = fopen(p, "r")))
			return true;
		dead = fgets(st, sizeof(st), f) && strstr(st, ") Z ") != NULL;
		fclose(f);
		if (dead)
			return true;
		usleep(20000);
	}
	return false;
}

static void test_run(void)
{
	struct cmdrun_opts o = { .timeout_ms = 5000 };
	struct cmdrun_result r;
	char cmd[512], mark[300], desc[96];
	char *env[] = { "SUBNET=$(touch mark1); `touch mark2`; touch mark3", NULL };
	FILE *f;
	pid_t bg = 0;

	is_int(cmdrun_shell("read a; echo \"in=$a\"; echo err >&2; exit 3", env, "hello\n", 6, &o,
			    &r), 0, "shell ran");
	ok(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 3, "exit status 3");
	is_str(r.output, "in=hello\nerr\n", "stdin read, stdout and stderr captured");
	ok(!cmdrun_ok(&r), "non-zero exit is not ok");
	is_str(cmdrun_describe(&r, desc, sizeof(desc)), "exit status 3", "described");
	cmdrun_result_clear(&r);

	snprintf(cmd, sizeof(cmd), "cd %s && echo $SUBNET; echo \"$SUBNET\"", tmpdir);
	is_int(cmdrun_shell(cmd, env, "", 0, &o, &r), 0, "injection attempt ran");
	ok(cmdrun_ok(&r), "exit 0");
	ok(!exists("mark1") && !exists("mark2") && !exists("mark3"),
	   "values in the environment run nothing, quoted or not");
	cmdrun_result_clear(&r);

	/* A hanging command and its background child: the whole group dies. */
	o.timeout_ms = 300;
	snprintf(mark, sizeof(mark), "%s/bg.pid", tmpdir);
	snprintf(cmd, sizeof(cmd), "sleep 60 & echo $! > %s; sleep 60", mark);
	is_int(cmdrun_shell(cmd, env, "", 0, &o, &r), 0, "hanging command started");
	ok(r.timed_out, "timed out");
	ok(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGTERM, "killed by SIGTERM");
	ok(r.elapsed_ms >= 300 && r.elapsed_ms < 10000, "returned after the timeout: %lld ms",
	   (long long)r.elapsed_ms);
	ok(strstr(cmdrun_describe(&r, desc, sizeof(desc)), "timeout") != NULL, "%s", desc);
	cmdrun_result_clear(&r);
	if ((f = fopen(mark, "r"))) {
		if (fscanf(f, "%d", &bg) != 1)
			bg = 0;
		fclose(f);
	}
	ok(bg > 0, "background child pid %d recorded", (int)bg);
	ok(bg > 0 && is_dead(bg), "background child killed with the group");

	/* A command that ignores SIGTERM gets SIGKILL after the grace time. */
	o.grace_ms = 200;
	is_int(cmdrun_shell("trap '' TERM; while :; do sleep 0.05; done", env, "", 0, &o, &r),
	       0, "TERM-ignoring command started");
	ok(WIFSIGNALED(r.status) && WTERMSIG(r.status) == SIGKILL, "killed by SIGKILL");
	cmdrun_result_clear(&r);

	/* Output beyond the limit is dropped, counted as truncated. */
	o.output_max = 10;
	o.timeout_ms = 5000;
	is_int(cmdrun_shell("echo 0123456789abcdef", env, "", 0, &o, &r), 0, "long output");
	is_int(r.output_len, 10, "kept 10 bytes");
	ok(r.truncated, "truncated");
	cmdrun_result_clear(&r);

	/* A background child holding stdout open does not keep us waiting. */
	o.output_max = 0;
	is_int(cmdrun_shell("sleep 3 & echo done", env, "", 0, &o, &r), 0, "backgrounding cmd");
	ok(cmdrun_ok(&r) && r.elapsed_ms < 2500, "returned when the shell exited (%lld ms)",
	   (long long)r.elapsed_ms);
	cmdrun_result_clear(&r);
}

/* The applier, with commands that append what they see to a log file. */
static char *slurp_log(void)
{
	static char buf[8192];
	char p[256];
	FILE *f;
	size_t n;

	snprintf(p, sizeof(p), "%s/log", tmpdir);
	buf[0] = '\0';
	if (!(f = fopen(p, "r")))
		return buf;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	unlink(p);
	return buf;
}

static int feed(struct ext_applier *a, const char *line)
{
	struct event ev;
	char err[256];
	int rc;

	event_init(&ev);
	if (event_parse(line, &ev, err, sizeof(err)) < 0) {
		printf("# parse: %s\n", err);
		return -2;
	}
	rc = ext_applier_event(a, &ev);
	event_clear(&ev);
	return rc;
}

#define ADD(sub, ip, data)                                                              \
	"{\"type\":\"added\",\"subnet\":\"" sub "\",\"public_ip\":\"" ip "\","         \
	"\"backend_type\":\"extension\",\"backend_data\":\"" data "\",\"revision\":1}"

static void test_applier(void)
{
	struct ext_config c;
	struct cmdrun_opts o = { .timeout_ms = 5000 };
	struct ext_applier *a;
	char add[300], del[300];
	char *base[] = { "PATH=/usr/bin:/bin", NULL };

	ext_config_init(&c);
	snprintf(add, sizeof(add), "read d; echo \"add $SUBNET $PUBLIC_IP $d\" >> %s/log; "
		 "[ \"$d\" != fail ]", tmpdir);
	snprintf(del, sizeof(del), "read d; echo \"del $SUBNET $PUBLIC_IP $d\" >> %s/log", tmpdir);
	ext_config_set(&c, EXT_SUBNET_ADD, add);
	ext_config_set(&c, EXT_SUBNET_REMOVE, del);
	a = ext_applier_new(&c, base, &o, "extension");
	need(a);
	ok(a != NULL, "applier");

	feed(a, "{\"type\":\"snapshot\",\"revision\":1}");
	feed(a, ADD("100.64.2.0/24", "192.0.2.2", "m2"));
	feed(a, ADD("100.64.3.0/24", "192.0.2.3", "m3"));
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.1.0/24\",\"public_ip\":\"192.0.2.1\","
		"\"backend_type\":\"extension\",\"self\":true}");
	feed(a, "{\"type\":\"sync\",\"revision\":1}");
	is_str(slurp_log(), "add 100.64.2.0/24 192.0.2.2 m2\nadd 100.64.3.0/24 192.0.2.3 m3\n",
	       "snapshot: add for each remote lease, none for self");
	is_int(ext_applier_known(a), 2, "two known");

	feed(a, ADD("100.64.2.0/24", "192.0.2.2", "m2"));
	is_str(slurp_log(), "", "the same lease again (a renewal) runs nothing");

	feed(a, "{\"type\":\"removed\",\"subnet\":\"100.64.2.0/24\",\"revision\":2}");
	is_str(slurp_log(), "del 100.64.2.0/24 192.0.2.2 m2\n",
	       "removed without attrs: remove runs with the stored values");

	feed(a, ADD("100.64.3.0/24", "192.0.2.33", "m33"));
	is_str(slurp_log(), "del 100.64.3.0/24 192.0.2.3 m3\nadd 100.64.3.0/24 192.0.2.33 m33\n",
	       "new values for a subnet: remove the old, add the new, in order");

	feed(a, "{\"type\":\"snapshot\",\"revision\":5}");
	feed(a, ADD("100.64.4.0/24", "192.0.2.4", "m4"));
	feed(a, "{\"type\":\"sync\",\"revision\":5}");
	is_str(slurp_log(), "add 100.64.4.0/24 192.0.2.4 m4\ndel 100.64.3.0/24 192.0.2.33 m33\n",
	       "sync after a snapshot removes what vanished");
	is_int(ext_applier_known(a), 1, "one known");

	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.5.0/24\",\"public_ip\":\"192.0.2.5\","
		"\"backend_type\":\"vxlan\",\"backend_data\":{\"VNI\":1}}");
	is_str(slurp_log(), "", "a lease of another backend type is skipped");

	feed(a, ADD("100.64.6.0/24", "192.0.2.6", "fail"));
	feed(a, ADD("100.64.6.0/24", "192.0.2.6", "fail"));
	is_str(slurp_log(), "add 100.64.6.0/24 192.0.2.6 fail\nadd 100.64.6.0/24 192.0.2.6 fail\n",
	       "a failed add is retried when the lease comes again");
	is_int(ext_applier_failures(a), 2, "two failures counted");

	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.7.0/24\",\"public_ip\":\"192.0.2.7\","
		"\"backend_type\":\"extension\",\"backend_data\":\"a\\u001bb\"}");
	is_str(slurp_log(), "", "BackendData with a control character runs nothing");

	feed(a, "{\"type\":\"removed\",\"subnet\":\"100.64.9.0/24\",\"public_ip\":\"192.0.2.9\","
		"\"backend_type\":\"extension\",\"backend_data\":\"m9\"}");
	feed(a, "{\"type\":\"removed\",\"subnet\":\"100.64.8.0/24\"}");
	is_str(slurp_log(), "", "removed for a lease never added here runs nothing (issue 12 #4)");
	is_int(feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.10.0/24\","
		       "\"public_ip\":\"192.0.2.10;id\"}"), -2,
	       "a bad public_ip never reaches the applier");
	ext_applier_free(a);
	ext_config_clear(&c);
}

/* Issue 12 #6: the commands' base environment holds PATH and what is named. */
static void test_env_base(void)
{
	char *env[] = { "HOME=/root", "PATH=/x/bin", "FLANNELD_ETCD_PASSWORD=s3cret",
			"NOTIFY_SOCKET=/run/n", "FOO=1", "FOOBAR=2", "SUBNET=forged", NULL };
	char *none[] = { "HOME=/", NULL };
	char **b;

	b = ext_env_base(env, NULL);
	ok(b && !strcmp(b[0], "PATH=/x/bin") && !b[1], "nothing named: PATH only");
	ext_env_free(b);
	b = ext_env_base(env, "FOO,SUBNET,,NOPE,PATH");
	ok(b && !strcmp(b[0], "PATH=/x/bin") && b[1] && !strcmp(b[1], "FOO=1") && !b[2],
	   "named FOO kept (not FOOBAR); a lease variable, an absent one, PATH twice: not");
	ext_env_free(b);
	b = ext_env_base(none, "HOME");
	ok(b && !strcmp(b[0], "PATH=" EXT_DEFAULT_PATH) && !strcmp(b[1], "HOME=/") && !b[2],
	   "no PATH: the default one");
	ext_env_free(b);
}

/* Issue 12 #4: the kernel appliers' subnet checks, and no remove command for
 * what was refused. */
static void test_applier_scope(void)
{
	struct ext_config c;
	struct cmdrun_opts o = { .timeout_ms = 5000 };
	struct ext_applier *a;
	struct prefix own, own6, net, net6;
	char add[300], del[300];
	char *base[] = { "PATH=/usr/bin:/bin", NULL };
	static const char *const bad[] = { "0.0.0.0/1", "100.64.0.0/16", "100.64.1.0/25",
					   "100.64.0.0/23", "198.51.100.0/24", "100.0.0.0/8" };

	ext_config_init(&c);
	snprintf(add, sizeof(add), "echo \"add $SUBNET $IPV6_SUBNET\" >> %s/log", tmpdir);
	snprintf(del, sizeof(del), "echo \"del $SUBNET $IPV6_SUBNET\" >> %s/log", tmpdir);
	ext_config_set(&c, EXT_SUBNET_ADD, add);
	ext_config_set(&c, EXT_SUBNET_REMOVE, del);
	a = ext_applier_new(&c, base, &o, "extension");
	need(a);
	prefix_parse("100.64.1.0/24", &own);
	prefix_parse("2001:db8:1:1::/64", &own6);
	prefix_parse("100.64.0.0/16", &net);
	prefix_parse("2001:db8:1::/48", &net6);
	ext_applier_set_scope(a, &own, &own6, &net, &net6);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char line[300];

		snprintf(line, sizeof(line), "{\"type\":\"added\",\"subnet\":\"%s\","
			 "\"public_ip\":\"192.0.2.2\",\"backend_type\":\"extension\"}", bad[i]);
		feed(a, line);
		snprintf(line, sizeof(line), "{\"type\":\"removed\",\"subnet\":\"%s\"}", bad[i]);
		feed(a, line);
		is_str(slurp_log(), "", "%s: refused, and no remove command either", bad[i]);
	}
	feed(a, "{\"type\":\"added\",\"ipv6_subnet\":\"::/0\",\"public_ipv6\":\"2001:db8::2\","
		"\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"added\",\"ipv6_subnet\":\"2001:db8:1:1::/80\","
		"\"public_ipv6\":\"2001:db8::2\",\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.2.0/24\",\"ipv6_subnet\":\"2001:db8:2::/64\","
		"\"public_ip\":\"192.0.2.2\",\"public_ipv6\":\"2001:db8::2\","
		"\"backend_type\":\"extension\"}");
	is_str(slurp_log(), "", "::/0, inside our IPv6 subnet, IPv6 outside the network: refused");
	is_int(ext_applier_known(a), 0, "none remembered");
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.2.0/24\",\"public_ip\":\"192.0.2.2\","
		"\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"removed\",\"subnet\":\"100.64.2.0/24\"}");
	is_str(slurp_log(), "add 100.64.2.0/24 \ndel 100.64.2.0/24 \n", "a good lease still works");
	/* Another host's subnet, or its address, is not for a second lease. */
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.4.0/24\",\"public_ip\":\"192.0.2.4\","
		"\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.4.0/25\",\"public_ip\":\"192.0.2.9\","
		"\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.4.128/26\",\"public_ip\":\"192.0.2.9\","
		"\"backend_type\":\"extension\"}");
	feed(a, "{\"type\":\"added\",\"subnet\":\"100.64.4.0/23\",\"public_ip\":\"192.0.2.9\","
		"\"backend_type\":\"extension\"}");
	is_str(slurp_log(), "add 100.64.4.0/24 \n",
	       "inside another lease, or at its address: refused, the first one kept");
	ext_applier_free(a);
	ext_config_clear(&c);
}

/* The applier with each allocation of an add and a remove failing in turn:
 * either it worked or it says ENOMEM; ASan sees no leak, no crash. */
static void test_applier_alloc_failures(void)
{
	struct cmdrun_opts o = { .timeout_ms = 5000 };
	char *base[] = { "PATH=/bin:/usr/bin", NULL };
	const char *add = ADD("100.64.2.0/24", "192.0.2.2", "m2");
	const char *del = "{\"type\":\"removed\",\"subnet\":\"100.64.2.0/24\"}";
	int n, bad = 0, enomem = 0;
	struct ext_config c;

	ext_config_init(&c);
	ext_config_set(&c, EXT_SUBNET_ADD, "read d; [ \"$d\" = m2 ]");
	ext_config_set(&c, EXT_SUBNET_REMOVE, "read d; [ \"$d\" = m2 ]");
	for (n = 1; n < 300; n++) {
		struct ext_applier *a = ext_applier_new(&c, base, &o, "extension");
		struct event ev1, ev2;
		char err[128];
		int r1, r2;

		event_init(&ev1);
		event_init(&ev2);
		if (!a || event_parse(add, &ev1, err, sizeof(err)) < 0 ||
		    event_parse(del, &ev2, err, sizeof(err)) < 0) {
			ext_applier_free(a);
			event_clear(&ev1);
			event_clear(&ev2);
			bad++;
			break;
		}
		fl_alloc_fail_at((unsigned long)n);
		r1 = ext_applier_event(a, &ev1);
		if (r1 < 0)
			enomem += errno == ENOMEM;
		r2 = r1 < 0 ? 0 : ext_applier_event(a, &ev2);
		if (r2 < 0)
			enomem += errno == ENOMEM;
		bad += (r1 < 0 && errno != ENOMEM) || (r2 < 0 && errno != ENOMEM);
		fl_alloc_fail_at(0);
		event_clear(&ev1);
		event_clear(&ev2);
		if (r1 == 0 && r2 == 0 && ext_applier_failures(a) == 0) {
			ext_applier_free(a);
			break;
		}
		ext_applier_free(a);
	}
	ok(bad == 0 && n < 300 && enomem > 0,
	   "applier: %d allocation failures reported as ENOMEM, then a clean run", enomem);
	ext_config_clear(&c);
}

/* Every allocation on the way fails once: a clean error, never a crash or leak. */
static void test_alloc_failures(void)
{
	const char *cfg = "{\"Network\":\"100.64.0.0/16\",\"Backend\":{\"Type\":\"extension\","
			  "\"SubnetAddCommand\":\"true\"}}";
	char *base[] = { "PATH=/bin", "HOME=/", NULL };
	int fails = 0, n;
	struct ext_host h;
	struct lease l;
	char err[128];

	lease_v4(&l, "100.64.2.0/24", "192.0.2.2");
	ext_host_from_lease(&h, &l);
	for (n = 1; n < 200; n++) {
		struct ext_config c;
		char **env;
		int rc;

		ext_config_init(&c);
		fl_alloc_fail_at((unsigned long)n);
		rc = ext_config_text(&c, cfg, err, sizeof(err));
		env = ext_env_build(base, &h, true);
		fl_alloc_fail_at(0);
		if (rc < 0 || !env)
			fails++;
		ext_env_free(env);
		ext_config_clear(&c);
		if (rc == 0 && env)
			break;
	}
	ok(fails > 0 && n < 200, "%d allocation failures handled cleanly", fails);
	test_applier_alloc_failures();
}

int main(void)
{
	char cmd[300], *env[] = { "PATH=/bin:/usr/bin", NULL };
	struct cmdrun_opts o = { .timeout_ms = 5000 };
	struct cmdrun_result r;

	fl_alloc_hook_jansson();
	log_init("test_ext", 0);
	log_set_verbosity(0);
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_config();
	test_env();
	test_text();
	test_run();
	test_applier();
	test_applier_scope();
	test_env_base();
	test_alloc_failures();
	snprintf(cmd, sizeof(cmd), "rm -rf -- %s", tmpdir);
	/* Only our own mkdtemp directory; a test may use the shell. */
	if (cmdrun_shell(cmd, env, "", 0, &o, &r) < 0)
		printf("# could not remove %s\n", tmpdir);
	else
		cmdrun_result_clear(&r);
	return tap_done();
}
