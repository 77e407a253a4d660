/* The state writer (lib/status/state.c) and its readers (state_doc.c,
 * report.c, metrics.c): events into peers, refusals, the once-a-second write with a
 * rename, failures, and the report of a directory of state files. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "base/mem.h"
#include "status/report.h"
#include "status/state.h"
#include "tap.h"

static char dir[64];

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st;
	(void)flag;
	(void)f;
	return remove(path);
}

/* One of the report's problems mentions text. */
static bool has_problem(const json_t *probs, const char *text)
{
	const json_t *p;
	size_t i;

	json_array_foreach(probs, i, p)
		if (strstr(json_string_value(json_object_get(p, "problem")), text))
			return true;
	return false;
}

static struct event ev_of(enum event_type t, const char *v4, const char *v6, const char *pub,
			  bool self)
{
	struct event ev;

	event_init(&ev);
	ev.type = t;
	ev.revision = 42;
	if (v4)
		prefix_parse(v4, &ev.lease.subnet);
	if (v6)
		prefix_parse(v6, &ev.lease.subnet6);
	if (pub)
		addr_parse(pub, &ev.lease.public_ip);
	snprintf(ev.lease.backend_type, sizeof(ev.lease.backend_type), "vxlan");
	ev.lease.self = self;
	return ev;
}

static void feed(struct state *st, enum event_type t, const char *v4, const char *v6,
		 const char *pub, bool self)
{
	struct event ev = ev_of(t, v4, v6, pub, self);

	state_event(st, &ev);
}

/* The peer of subnet s in the document, or NULL. */
static json_t *peer(json_t *doc, const char *s)
{
	json_t *p;
	size_t i;

	json_array_foreach(json_object_get(doc, "peers"), i, p) {
		const char *a = json_string_value(json_object_get(p, "subnet"));
		const char *b = json_string_value(json_object_get(p, "ipv6_subnet"));

		if ((a && !strcmp(a, s)) || (b && !strcmp(b, s)))
			return p;
	}
	return NULL;
}

static long long counter(json_t *doc, const char *k)
{
	return json_integer_value(json_object_get(json_object_get(doc, "counters"), k));
}

static void test_disabled(void)
{
	ok(state_new("", "flannel-x", true) == NULL, "an empty directory: no state file");
	ok(state_new("-", "flannel-x", true) == NULL, "\"-\": no state file");
	/* Every call takes a NULL state. */
	feed(NULL, EV_SYNC, NULL, NULL, NULL, false);
	state_refused(NULL, NULL, "x");
	state_set(NULL, "x", json_integer(1));
	state_count(NULL, STATE_ERRORS, 1);
	is_int(state_tick(NULL), -1, "a NULL state has nothing pending");
	is_int(state_flush(NULL), 0, "and flushes nothing");
	state_free(NULL);
}

static void test_events(void)
{
	struct state *st = state_new(dir, "flannel-vxlan", true);
	struct prefix s;
	json_t *doc, *p;

	ok(st != NULL, "a writer");
	need(st);
	feed(st, EV_SNAPSHOT, NULL, NULL, NULL, false);
	feed(st, EV_ADDED, "100.64.1.0/24", NULL, "192.0.2.1", true);
	feed(st, EV_ADDED, "100.64.2.0/24", NULL, "192.0.2.2", false);
	feed(st, EV_ADDED, "100.64.3.0/24", "2001:db8:1:3::/64", "192.0.2.3", false);
	feed(st, EV_ADDED, NULL, "2001:db8:1:4::/64", NULL, false);
	doc = state_to_json(st);
	ok(json_is_false(json_object_get(doc, "synced")), "not synced inside a snapshot");
	json_decref(doc);
	feed(st, EV_SYNC, NULL, NULL, NULL, false);
	doc = state_to_json(st);
	is_str(json_string_value(json_object_get(doc, "type")), "state", "type state");
	is_str(json_string_value(json_object_get(doc, "tool")), "flannel-vxlan", "the tool");
	is_int(json_integer_value(json_object_get(doc, "pid")), getpid(), "our pid");
	ok(json_integer_value(json_object_get(doc, "pid_start")) > 0, "our start time");
	ok(json_is_true(json_object_get(doc, "synced")), "synced after the sync");
	is_int(json_integer_value(json_object_get(json_object_get(doc, "sync"), "revision")), 42,
	       "the sync's revision");
	is_int(json_array_size(json_object_get(doc, "peers")), 3, "three peers, ours apart");
	is_str(json_string_value(json_object_get(json_object_get(doc, "self"), "subnet")),
	       "100.64.1.0/24", "our own subnet");
	p = peer(doc, "100.64.3.0/24");
	ok(p && json_is_true(json_object_get(p, "installed")), "a peer is installed by default");
	is_str(json_string_value(json_object_get(p, "ipv6_subnet")), "2001:db8:1:3::/64",
	       "with its IPv6 subnet");
	is_str(json_string_value(json_object_get(p, "public_ip")), "192.0.2.3", "and public IP");
	ok(peer(doc, "2001:db8:1:4::/64") != NULL, "an IPv6-only peer");
	is_int(counter(doc, "events"), 6, "six events counted");
	json_decref(doc);

	/* Refused by the IPv6 half of a dual-stack lease, twice: counted once. */
	prefix_parse("2001:db8:1:3::/64", &s);
	state_refused(st, &s, "bad\x01" "MAC \xff");
	state_refused(st, &s, "bad\x01" "MAC \xff");
	doc = state_to_json(st);
	p = peer(doc, "100.64.3.0/24");
	ok(p && json_is_false(json_object_get(p, "installed")), "refused: not installed");
	is_str(json_string_value(json_object_get(p, "reason")), "bad\\x01MAC \\xff",
	       "the reason, escaped");
	is_int(counter(doc, "skipped"), 1, "one refusal counted");
	json_decref(doc);
	state_installed(st, &s);
	doc = state_to_json(st);
	p = peer(doc, "100.64.3.0/24");
	ok(json_is_true(json_object_get(p, "installed")) && json_is_null(json_object_get(p, "reason")),
	   "installed again, no reason");
	json_decref(doc);

	/* A removal forgets; a new snapshot drops what it does not announce. */
	feed(st, EV_REMOVED, "100.64.2.0/24", NULL, NULL, false);
	feed(st, EV_SNAPSHOT, NULL, NULL, NULL, false);
	feed(st, EV_ADDED, NULL, "2001:db8:1:4::/64", NULL, false);
	feed(st, EV_SYNC, NULL, NULL, NULL, false);
	doc = state_to_json(st);
	is_int(json_array_size(json_object_get(doc, "peers")), 1, "only the re-announced peer");
	ok(peer(doc, "2001:db8:1:4::/64") != NULL, "it is the IPv6-only one");
	json_decref(doc);

	/* The tool's own fields; the common ones cannot be overwritten. */
	state_set_str(st, "backend", "vxlan");
	state_set(st, "type", json_string("other"));
	state_set(st, "peers", json_integer(3));
	state_etcd(st, "http://192.0.2.254:2379", 1700000000, "");
	doc = state_to_json(st);
	is_str(json_string_value(json_object_get(doc, "backend")), "vxlan", "a field of the tool");
	is_str(json_string_value(json_object_get(doc, "type")), "state", "type is kept");
	ok(json_is_array(json_object_get(doc, "peers")), "peers is kept");
	is_str(json_string_value(json_object_get(json_object_get(doc, "etcd"), "last_contact")),
	       "2023-11-14T22:13:20Z", "etcd's last contact as RFC 3339");
	ok(json_is_null(json_object_get(json_object_get(doc, "etcd"), "error")), "no etcd error");
	json_decref(doc);
	state_set(st, "backend", NULL);
	doc = state_to_json(st);
	ok(!json_object_get(doc, "backend"), "NULL removes a field");
	json_decref(doc);
	state_free(st);
}

static int count_files(const char *d)
{
	DIR *dp = opendir(d);
	struct dirent *e;
	int n = 0;

	while (dp && (e = readdir(dp)))
		n += e->d_name[0] != '.' || (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."));
	if (dp)
		closedir(dp);
	return n;
}

static void test_writes(void)
{
	char path[128], sub[96];
	struct state *st;
	struct stat a, b;
	json_error_t jerr;
	json_t *doc;
	int t;

	snprintf(sub, sizeof(sub), "%s/w/deeper", dir);
	st = state_new(sub, "flannel-route", true);
	snprintf(path, sizeof(path), "%s/flannel-route.json", sub);
	is_int(state_tick(st), -1, "the first tick writes at once");
	ok(stat(path, &a) == 0, "the file is there (directories made)");
	is_int(count_files(sub), 1, "and nothing else beside it");
	doc = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
	ok(json_is_object(doc), "it is one JSON object");
	json_decref(doc);
	is_int(state_tick(st), -1, "nothing changed: nothing pending");
	feed(st, EV_ADDED, "100.64.9.0/24", NULL, "192.0.2.9", false);
	t = state_tick(st);
	ok(t > 0 && t <= STATE_PERIOD_MS, "a change within the second waits (%d ms)", t);
	stat(path, &b);
	ok(a.st_ino == b.st_ino, "not written yet");
	usleep((useconds_t)t * 1000 + 20000);
	is_int(state_tick(st), -1, "written once due");
	stat(path, &b);
	ok(a.st_ino != b.st_ino, "a new file renamed over the old one");
	doc = json_load_file(path, 0, &jerr);
	ok(peer(doc, "100.64.9.0/24") != NULL, "with the change");
	json_decref(doc);
	state_free(st);

	/* The directory cannot be made: the write fails, is retried a second later. */
	snprintf(sub, sizeof(sub), "%s/w/deeper/flannel-route.json/x", dir);
	st = state_new(sub, "flannel-udp", false);
	is_int(state_flush(st), -1, "a failed write says so");
	t = state_tick(st);
	ok(t > STATE_PERIOD_MS - 100 && t <= STATE_PERIOD_MS, "and is retried a period later (%d ms)", t);
	state_free(st);
	ok(state_proc_start(getpid()) > 0, "our own start time from /proc");
	{
		pid_t z = fork();

		if (z == 0)
			_exit(0);
		usleep(100000); /* a zombie until reaped */
		is_int(state_proc_start(z), -1, "a zombie has ended");
		waitpid(z, NULL, 0);
	}
	is_int(state_proc_start(0x7ffffff0), -1, "no such process");
}

/* A state file of tool for pid, with one refused peer. */
static void write_doc(const char *tool, long pid, long long start)
{
	char path[160];
	FILE *f;

	snprintf(path, sizeof(path), "%s/r/%s.json", dir, tool);
	f = fopen(path, "w");
	fprintf(f, "{\"type\":\"state\",\"version\":1,\"tool\":\"%s\",\"pid\":%ld,\"pid_start\":%lld,"
		   "\"synced\":true,\"sync\":{\"revision\":7,\"time\":\"2026-01-01T00:00:00Z\"},"
		   "\"counters\":{\"events\":3,\"errors\":0,\"skipped\":1,\"heals\":0,\"restarts\":0},"
		   "\"peers\":[{\"subnet\":\"100.64.5.0/24\",\"ipv6_subnet\":null,\"public_ip\":\"192.0.2.5\","
		   "\"public_ipv6\":null,\"backend\":\"vxlan\",\"installed\":false,\"reason\":\"no \\\"way\\\"\","
		   "\"last_seen\":null,\"expires\":null}]}\n",
		tool, pid, start);
	fclose(f);
}

static void test_report(void)
{
	char d[96], path[160];
	struct report r;
	pid_t child;
	char *m;
	FILE *f;
	json_t *probs;

	snprintf(d, sizeof(d), "%s/r", dir);
	mkdir(d, 0755);
	write_doc("flannel-route", (long)getpid(), state_proc_start(getpid()));
	child = fork();
	if (child == 0)
		_exit(0);
	waitpid(child, NULL, 0);
	write_doc("flannel-udp", (long)child, 1);
	snprintf(path, sizeof(path), "%s/broken.json", d);
	f = fopen(path, "w");
	fputs("{\"type\":\"state\",", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/other.json", d);
	f = fopen(path, "w");
	fputs("{\"type\":\"lease\",\"version\":1}", f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/.flannel-x.json.123", d);
	f = fopen(path, "w");
	fputs("half", f);
	fclose(f);
	is_int(report_collect(&r, d, false), REPORT_OK, "a report of the directory");
	probs = json_object_get(r.doc, "problems");
	is_int(r.problems, 4, "four problems: bad file, other type, dead pid, refused peer");
	is_int(json_array_size(json_object_get(r.doc, "pieces")), 2, "two pieces read");
	ok(json_is_false(json_object_get(r.doc, "ok")), "not ok");
	ok(has_problem(probs, "broken.json: not JSON"), "the broken file named");
	ok(!json_object_get(json_array_get(probs, 0), "tool"), "a problem of no tool has no \"tool\"");
	ok(has_problem(probs, "other.json: not a state document"), "the other document named");
	ok(has_problem(probs, "not running (pid"), "the dead piece named");
	ok(has_problem(probs, "peer 100.64.5.0/24 (192.0.2.5) is not installed: no \"way\""),
	   "the refused peer named with its reason");
	m = report_metrics(&r);
	ok(m && strstr(m, "# HELP flannel_up ") && strstr(m, "# TYPE flannel_up gauge\n"),
	   "metrics with HELP and TYPE");
	ok(m && strstr(m, "flannel_up{tool=\"flannel-udp\"} 0\n") &&
		   strstr(m, "flannel_up{tool=\"flannel-route\"} 1\n"),
	   "the dead piece is down, the live one up");
	ok(m && strstr(m, "flannel_peer_installed{tool=\"flannel-route\",subnet=\"100.64.5.0/24\","
			  "public_ip=\"192.0.2.5\",backend=\"vxlan\"} 0\n"),
	   "a refused peer is 0");
	ok(m && strstr(m, "flannel_problems 4\n"), "the problems counted");
	free(m);
	report_free(&r);
	is_int(report_collect(&r, "/nonexistent/flannel-state", false), REPORT_NO_DIR,
	       "a missing directory");
	report_free(&r);
}

/* The document read back: checked fields, the process asked, a peer found by
 * either subnet. */
static void test_doc(void)
{
	char path[160], why[192];
	struct prefix p;
	json_t *doc;
	FILE *f;

	snprintf(path, sizeof(path), "%s/r", dir);
	mkdir(path, 0755);
	write_doc("flannel-udp", (long)getpid(), state_proc_start(getpid()));
	snprintf(path, sizeof(path), "%s/r/flannel-udp.json", dir);
	doc = state_doc_load(path, why, sizeof(why));
	ok(doc != NULL, "a state document loads");
	ok(state_doc_running(doc), "its process (ours) runs");
	prefix_parse("100.64.5.0/24", &p);
	ok(state_doc_peer(doc, &p) != NULL, "its peer found by subnet");
	prefix_parse("100.64.6.0/24", &p);
	ok(state_doc_peer(doc, &p) == NULL, "another subnet is not one of its peers");
	json_decref(doc);
	write_doc("flannel-udp", (long)getpid(), state_proc_start(getpid()) + 1);
	doc = state_doc_load(path, why, sizeof(why));
	ok(doc && !state_doc_running(doc), "the same pid started at another time: not running");
	json_decref(doc);
	f = fopen(path, "w");
	fputs("{\"type\":\"state\",\"version\":2,\"tool\":\"x\",\"pid\":1}\n", f);
	fclose(f);
	ok(!state_doc_load(path, why, sizeof(why)) && strstr(why, "version"),
	   "an unknown version is refused: %s", why);
	f = fopen(path, "w");
	fputs("{\"type\":\"state\",\"version\":1,\"tool\":\"a/b\",\"pid\":1}\n", f);
	fclose(f);
	ok(!state_doc_load(path, why, sizeof(why)) && strstr(why, "tool"),
	   "a tool name with a slash is refused: %s", why);
	ok(!state_doc_load(dir, why, sizeof(why)) && strstr(why, "regular"),
	   "a directory is not read: %s", why);
	snprintf(path, sizeof(path), "%s/r/none.json", dir);
	ok(!state_doc_load(path, why, sizeof(why)) && strstr(why, "No such file"),
	   "a missing file says so: %s", why);
	unlink(path);
}

/* Every allocation of a document failing in turn: NULL or a document, no leak. */
static void test_alloc_failures(void)
{
	struct state *st = state_new(dir, "flannel-ext", true);
	int nulls = 0, n;

	feed(st, EV_ADDED, "100.64.2.0/24", NULL, "192.0.2.2", false);
	fl_alloc_hook_jansson();
	for (n = 1; n < 200; n++) {
		json_t *doc;

		fl_alloc_fail_at((unsigned long)n);
		doc = state_to_json(st);
		fl_alloc_fail_at(0);
		nulls += doc == NULL;
		json_decref(doc);
	}
	ok(nulls > 0, "allocation failures seen (%d of %d)", nulls, n - 1);
	ok(nulls < n - 1, "and the document once they are past");
	state_free(st);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/test_state.%ld", (long)getpid());
	mkdir(dir, 0755);
	test_disabled();
	test_events();
	test_writes();
	test_report();
	test_doc();
	test_alloc_failures();
	nftw(dir, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return tap_done();
}
