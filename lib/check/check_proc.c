/* check_proc.c - two instances for one subnet file: every flannel-lease
 * and flanneld of this PID namespace with their --subnet-file (resolved, so
 * that a symlink or a relative path does not hide one; the PID locks are
 * per path, so they do not), a flanneld's own flannel-lease counted with
 * it; and the holders of the locks (/proc/locks), which must be among them. */
#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "check/check_priv.h"

#define MAX_INST 16

struct inst {
	pid_t pid, ppid;
	char prog[16];
};

/* The whole of /proc/PID/FILE, NUL-terminated; its length, or -1. */
static ssize_t read_proc(pid_t pid, const char *file, char *buf, size_t len)
{
	char path[64];
	ssize_t n, got = 0;
	int fd;

	snprintf(path, sizeof(path), "/proc/%ld/%s", (long)pid, file);
	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
		return -1;
	while ((size_t)got < len - 1 && (n = read(fd, buf + got, len - 1 - (size_t)got)) > 0)
		got += n;
	close(fd);
	buf[got] = '\0';
	return got;
}

/* The subnet file a flannel-lease or flanneld command line names,
 * resolved against its working directory; false when it is another program. */
static bool subnet_file_of(pid_t pid, char *prog, size_t proglen, char *out, size_t outlen)
{
	char cmd[8192], cwd[PATH_MAX], link[64], path[PATH_MAX];
	const char *file = "/run/flannel/subnet.env", *base;
	ssize_t n = read_proc(pid, "cmdline", cmd, sizeof(cmd)), k;

	if (n <= 0)
		return false;
	base = strrchr(cmd, '/') ? strrchr(cmd, '/') + 1 : cmd;
	if (strcmp(base, "flannel-lease") != 0 && strcmp(base, "flanneld") != 0)
		return false;
	if (snprintf(prog, proglen, "%s", base) >= (int)proglen)
		return false;
	for (char *a = cmd + strlen(cmd) + 1; a < cmd + n; a += strlen(a) + 1) {
		const char *v = a + strspn(a, "-");

		if (a == v || strncmp(v, "subnet-file", 11) != 0)
			continue;
		if (v[11] == '=')
			file = v + 12;
		else if (!v[11] && a + strlen(a) + 1 < cmd + n)
			file = a + strlen(a) + 1;
	}
	if (file[0] != '/') {
		snprintf(link, sizeof(link), "/proc/%ld/cwd", (long)pid);
		k = readlink(link, cwd, sizeof(cwd) - 1);
		if (k <= 0)
			return false;
		cwd[k] = '\0';
		if (snprintf(path, sizeof(path), "%s/%s", cwd, file) >= (int)sizeof(path))
			return false;
		file = path;
	}
	if (!realpath(file, out))
		snprintf(out, outlen, "%s", file);
	return true;
}

static pid_t ppid_of(pid_t pid)
{
	char st[512], *p;
	long pp;

	if (read_proc(pid, "stat", st, sizeof(st)) <= 0 || !(p = strrchr(st, ')')))
		return 0;
	return sscanf(p + 1, " %*c %ld", &pp) == 1 ? (pid_t)pp : 0;
}

/* Who holds an flock on path (/proc/locks): its PID, 0 for nobody. */
static pid_t lock_holder(const char *path)
{
	struct stat st;
	char line[256];
	pid_t holder = 0;
	FILE *f;

	if (stat(path, &st) < 0 || !(f = fopen("/proc/locks", "re")))
		return 0;
	while (!holder && fgets(line, sizeof(line), f)) {
		unsigned maj, min;
		unsigned long ino;
		long pid;

		if (strstr(line, "->") || !strstr(line, "FLOCK"))
			continue;
		if (sscanf(line, "%*d: FLOCK %*s %*s %ld %x:%x:%lu", &pid, &maj, &min, &ino) == 4 &&
		    ino == st.st_ino && maj == major(st.st_dev) && min == minor(st.st_dev))
			holder = (pid_t)pid;
	}
	fclose(f);
	return holder;
}

static bool listed(const struct inst *in, int n, pid_t pid)
{
	for (int i = 0; i < n; i++)
		if (in[i].pid == pid)
			return true;
	return false;
}

static int scan(const char *want, struct inst *in)
{
	char prog[16], file[PATH_MAX];
	struct dirent *de;
	int n = 0;
	DIR *d = opendir("/proc");

	while (d && (de = readdir(d)) && n < MAX_INST) {
		pid_t pid;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		pid = (pid_t)strtol(de->d_name, NULL, 10);
		if (pid == getpid() || !subnet_file_of(pid, prog, sizeof(prog), file, sizeof(file)) ||
		    strcmp(file, want) != 0)
			continue;
		in[n] = (struct inst){ .pid = pid, .ppid = ppid_of(pid) };
		snprintf(in[n].prog, sizeof(in[n].prog), "%s", prog);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

void check_instances(struct check *c)
{
	struct inst in[MAX_INST];
	char want[PATH_MAX], lock[PATH_MAX + 16], list[512] = "", fix[600] = "stop all but one of pids";
	const char *const sfx[] = { ".lock", ".flanneld.lock" };
	size_t off = 0, foff = strlen(fix);
	int n, groups = 0;

	if (!realpath(c->o->subnet_file, want))
		snprintf(want, sizeof(want), "%s", c->o->subnet_file);
	n = scan(want, in);
	for (int i = 0; i < n; i++) {
		/* a flanneld's own flannel-lease is part of that flanneld */
		if (!strcmp(in[i].prog, "flannel-lease") && listed(in, n, in[i].ppid))
			continue;
		groups++;
		off += (size_t)snprintf(list + off, off < sizeof(list) ? sizeof(list) - off : 0,
					"%s%s pid %ld", groups > 1 ? ", " : "", in[i].prog,
					(long)in[i].pid);
		foff += (size_t)snprintf(fix + foff, foff < sizeof(fix) ? sizeof(fix) - foff : 0,
					 " %ld", (long)in[i].pid);
		if (off >= sizeof(list) || foff >= sizeof(fix))
			break;
	}
	for (int i = 0; i < 2; i++) {
		pid_t h;
		char comm[32] = "?";

		snprintf(lock, sizeof(lock), "%s%s", c->o->subnet_file, sfx[i]);
		h = lock_holder(lock);
		if (!h || listed(in, n, h))
			continue;
		if (read_proc(h, "comm", comm, sizeof(comm)) > 0)
			comm[strcspn(comm, "\n")] = '\0';
		check_report(c, CHECK_FAIL, "instances", c->o->subnet_file,
			     "stop that process: the lease's keeper cannot take the lock",
			     "%s is held by pid %ld (%s), which keeps no lease for this file", lock,
			     (long)h, comm);
		return;
	}
	if (groups > 1)
		check_report(c, CHECK_FAIL, "instances", c->o->subnet_file, fix,
			     "%d instances keep the lease of this file (%s): they renew it and "
			     "rewrite the file against each other", groups, list);
	else if (groups == 1)
		check_report(c, CHECK_OK, "instances", c->o->subnet_file, NULL, "one: %s", list);
	else
		check_report(c, CHECK_FAIL, "instances", c->o->subnet_file,
			     "start flanneld (or flannel-lease): without it the lease expires",
			     "no flannel-lease or flanneld for this file runs here (in this PID "
			     "namespace)");
}
