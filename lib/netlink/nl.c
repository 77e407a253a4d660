/* nl.c - the rtnetlink socket: batches, extended acks, dumps, monitors. */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/filter.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "base/hex.h"
#include "base/mem.h"
#include "netlink/nl.h"

/* Per sendmsg; measured, the size hardly matters once messages are not acked one by one. */
#define BATCH_BYTES (64 * 1024)
/* The largest message we build (a route or nexthop with every attribute). */
#define MSG_MAX 512
#define RCVBUF_BYTES (8 * 1024 * 1024)

struct nl {
	struct mnl_socket *sk;
	uint32_t portid;
	uint32_t seq;
	char *buf;            /* the batch */
	size_t len;
	uint32_t first_seq;   /* seq of the first message in the batch */
	unsigned nmsg;
	struct nlmsghdr *open; /* the message the caller is filling */
	unsigned char *cookies;
	size_t cookie_size;
	nl_error_fn on_error;
	void *arg;
	unsigned long total;
	char ext[256];        /* extended ack text of the last synchronous error */
	char errbuf[320];
};

static int setsockopt_int(struct mnl_socket *sk, int opt, int v)
{
	return mnl_socket_setsockopt(sk, opt, &v, sizeof(v));
}

static struct nl *nl_new(int proto, unsigned groups)
{
	struct nl *nl = fl_calloc(1, sizeof(*nl));
	int fd, sz = RCVBUF_BYTES;

	if (!nl)
		return NULL;
	nl->sk = mnl_socket_open2(proto, SOCK_CLOEXEC);
	if (!nl->sk)
		goto fail;
	if (mnl_socket_bind(nl->sk, groups, MNL_SOCKET_AUTOPID) < 0)
		goto fail;
	fd = mnl_socket_get_fd(nl->sk);
	/* Without CAP_NET_ADMIN FORCE fails; the plain limit still helps. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &sz, sizeof(sz)) < 0)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
	setsockopt_int(nl->sk, NETLINK_EXT_ACK, 1);
	setsockopt_int(nl->sk, NETLINK_CAP_ACK, 1);
	nl->portid = mnl_socket_get_portid(nl->sk);
	nl->seq = (uint32_t)time(NULL);
	return nl;
fail:
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl);
	return NULL;
}

struct nl *nl_open(void)
{
	return nl_open_proto(NETLINK_ROUTE);
}

struct nl *nl_open_proto(int proto)
{
	struct nl *nl = nl_new(proto, 0);

	if (!nl)
		return NULL;
	nl->buf = fl_calloc(1, BATCH_BYTES); /* no unset padding byte is ever sent */
	if (!nl->buf) {
		nl_close(nl);
		return NULL;
	}
	return nl;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	if (nl->sk)
		mnl_socket_close(nl->sk);
	free(nl->buf);
	free(nl->cookies);
	free(nl);
}

int nl_fd(const struct nl *nl)
{
	return mnl_socket_get_fd(nl->sk);
}

int nl_set_error_handler(struct nl *nl, size_t cookie_size, nl_error_fn fn, void *arg)
{
	/* A batch holds at most BATCH_BYTES / 16 messages (the smallest header). */
	size_t max = BATCH_BYTES / sizeof(struct nlmsghdr);

	free(nl->cookies);
	nl->cookies = NULL;
	nl->cookie_size = cookie_size;
	nl->on_error = fn;
	nl->arg = arg;
	if (cookie_size) {
		nl->cookies = fl_calloc(max, cookie_size);
		if (!nl->cookies)
			return -1;
	}
	return 0;
}

const char *nl_strerror(struct nl *nl, int err)
{
	if (err < 0)
		err = -err;
	if (nl->ext[0])
		snprintf(nl->errbuf, sizeof(nl->errbuf), "%s (kernel: %s)", strerror(err), nl->ext);
	else
		snprintf(nl->errbuf, sizeof(nl->errbuf), "%s", strerror(err));
	return nl->errbuf;
}

uint16_t nl_op_flags(enum nl_op op)
{
	switch (op) {
	case NL_REPLACE:
		return NLM_F_REQUEST | NLM_F_CREATE | NLM_F_REPLACE;
	case NL_CREATE:
		return NLM_F_REQUEST | NLM_F_CREATE | NLM_F_EXCL;
	default:
		return NLM_F_REQUEST;
	}
}

/* The errno and extended-ack text of an NLMSG_ERROR. */
static int parse_error(const struct nlmsghdr *nlh, char *ext, size_t extlen)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *attr;
	size_t off = sizeof(*e), plen;

	if (ext)
		ext[0] = '\0';
	if (nlh->nlmsg_len < mnl_nlmsg_size(sizeof(*e)))
		return -EBADMSG;
	if (!ext || !(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return e->error;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(struct nlmsghdr);
	plen = mnl_nlmsg_get_payload_len(nlh);
	if (off >= plen)
		return e->error;
	const void *tlvs = (const char *)e + off;

	mnl_attr_for_each_payload(tlvs, plen - off) {
		if (mnl_attr_get_type(attr) == NLMSGERR_ATTR_MSG &&
		    mnl_attr_validate(attr, MNL_TYPE_NUL_STRING) == 0)
			snprintf(ext, extlen, "%s", mnl_attr_get_str(attr));
	}
	return e->error;
}

unsigned long nl_batch_total(const struct nl *nl)
{
	return nl->total;
}

/* The caller fills a message after nl_batch_msg: its length is known only
 * at the next message or at the flush. */
static void close_open_msg(struct nl *nl)
{
	if (!nl->open)
		return;
	nl->len = (size_t)((char *)nl->open - nl->buf) + MNL_ALIGN(nl->open->nlmsg_len);
	nl->open = NULL;
}

struct nlmsghdr *nl_batch_msg(struct nl *nl, uint16_t type, enum nl_op op, void **cookie)
{
	struct nlmsghdr *nlh;

	close_open_msg(nl);
	if (nl->len + MSG_MAX > BATCH_BYTES && nl_batch_flush(nl) < 0)
		return NULL;
	if (nl->nmsg == 0)
		nl->first_seq = nl->seq + 1;
	nlh = mnl_nlmsg_put_header(nl->buf + nl->len);
	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = nl_op_flags(op);
	nlh->nlmsg_seq = ++nl->seq;
	if (cookie) {
		*cookie = nl->cookies ? nl->cookies + (size_t)nl->nmsg * nl->cookie_size : NULL;
		if (*cookie)
			memset(*cookie, 0, nl->cookie_size);
	}
	nl->nmsg++;
	nl->total++;
	nl->open = nlh;
	return nlh;
}

static void report_batch_error(struct nl *nl, const struct nlmsghdr *nlh)
{
	char ext[256];
	int err = parse_error(nlh, ext, sizeof(ext));
	uint32_t idx = nlh->nlmsg_seq - nl->first_seq;
	void *cookie = NULL;

	if (err == 0)
		return;
	if (nl->cookies && idx < nl->nmsg)
		cookie = nl->cookies + (size_t)idx * nl->cookie_size;
	if (nl->on_error)
		nl->on_error(nl->arg, cookie, -err, ext);
}

/* Errors are queued before sendmsg returns: read until the socket is empty. */
static void drain_errors(struct nl *nl)
{
	char rbuf[16384];

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nl->sk), rbuf, sizeof(rbuf), MSG_DONTWAIT);
		const struct nlmsghdr *nlh = (const struct nlmsghdr *)rbuf;
		int len = (int)n;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == ENOBUFS || errno == EINTR)
				continue;
			return;
		}
		for (; mnl_nlmsg_ok(nlh, len); nlh = mnl_nlmsg_next(nlh, &len))
			if (nlh->nlmsg_type == NLMSG_ERROR && nlh->nlmsg_pid == nl->portid)
				report_batch_error(nl, nlh);
	}
}

int nl_batch_flush(struct nl *nl)
{
	ssize_t n;
	size_t len;
	int rc = 0;

	close_open_msg(nl);
	if (nl->nmsg == 0)
		return 0;
	len = nl->len;
	do {
		n = mnl_socket_sendto(nl->sk, nl->buf, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		rc = -1;
	else
		drain_errors(nl);
	nl->len = 0;
	nl->nmsg = 0;
	return rc;
}

struct nlmsghdr *nl_msg_init(char *buf, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh;

	memset(buf, 0, MNL_SOCKET_BUFFER_SIZE);
	nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	return nlh;
}

struct talk {
	mnl_cb_t cb;
	void *data;
	int err;
	bool intr, cb_failed;
	char *ext;
	size_t extlen;
};

static int talk_error(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	int err = parse_error(nlh, t->ext, t->extlen);

	if (err == 0)
		return MNL_CB_STOP;
	t->err = err;
	return MNL_CB_ERROR;
}

static int talk_data(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;

	if (nlh->nlmsg_flags & NLM_F_DUMP_INTR)
		t->intr = true;
	if (!t->cb || t->cb_failed)
		return MNL_CB_OK;
	/* A failed callback (out of memory) still reads the dump to its end,
	 * or its rest would be taken for the answer to the next request. */
	if (t->cb(nlh, t->data) == MNL_CB_ERROR) {
		t->cb_failed = true;
		t->err = -ENOMEM; /* our callbacks fail only to allocate */
	}
	return MNL_CB_OK;
}

static int talk_done(const struct nlmsghdr *nlh, void *data)
{
	struct talk *t = data;
	const int *err = mnl_nlmsg_get_payload(nlh);

	/* A dump can end with an error in NLMSG_DONE. */
	if (mnl_nlmsg_get_payload_len(nlh) >= sizeof(int) && *err < 0) {
		t->err = *err;
		return MNL_CB_ERROR;
	}
	return MNL_CB_STOP;
}

static int talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	static mnl_cb_t ctl[NLMSG_MIN_TYPE] = {
		[NLMSG_ERROR] = talk_error,
		[NLMSG_DONE] = talk_done,
	};
	char rbuf[32768];
	struct talk t = { .cb = cb, .data = data, .ext = nl->ext, .extlen = sizeof(nl->ext) };
	uint32_t seq;
	ssize_t n;
	int rc;

	if (nl_batch_flush(nl) < 0)
		return -errno;
	nl->ext[0] = '\0';
	seq = nlh->nlmsg_seq = ++nl->seq;
	if (mnl_socket_sendto(nl->sk, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	for (;;) {
		n = mnl_socket_recvfrom(nl->sk, rbuf, sizeof(rbuf));
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		rc = mnl_cb_run2(rbuf, (size_t)n, seq, nl->portid, talk_data, &t, ctl,
				 NLMSG_MIN_TYPE);
		if (rc == MNL_CB_STOP)
			break;
		if (rc == MNL_CB_ERROR)
			return t.err ? t.err : (errno ? -errno : -EIO);
	}
	if (t.cb_failed)
		return t.err;
	return t.intr ? -EINTR : 0;
}

int nl_request(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	return talk(nl, nlh, cb, data);
}

int nl_dump(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_DUMP;
	return talk(nl, nlh, cb, data);
}

struct nl *nl_open_monitor(const unsigned *groups, int ngroups)
{
	struct nl *nl = nl_new(NETLINK_ROUTE, 0);

	if (!nl)
		return NULL;
	for (int i = 0; i < ngroups; i++) {
		unsigned g = groups[i];

		if (mnl_socket_setsockopt(nl->sk, NETLINK_ADD_MEMBERSHIP, &g, sizeof(g)) < 0) {
			nl_close(nl);
			return NULL;
		}
	}
	return nl;
}

/*
 * A classic BPF filter on the monitor socket: our own batches generate one
 * notification per object, and only deletions (plus link changes) matter for
 * self-healing.  BPF loads are big-endian; netlink headers are host order,
 * hence the htons() on the constants.
 */
int nl_monitor_filter_deletions(struct nl *nl, uint8_t protocol)
{
	enum { OFF_TYPE = 4, OFF_RTM_PROTO = 16 + 5, OFF_NHM_PROTO = 16 + 2 };
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_H | BPF_ABS, OFF_TYPE),
		/* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELROUTE), 6, 0),
		/* 2 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELNEXTHOP), 9, 0),
		/* 3 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELNEIGH), 3, 0),
		/* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_NEWLINK), 2, 0),
		/* 5 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, htons(RTM_DELLINK), 1, 0),
		/* 6 */ BPF_STMT(BPF_RET | BPF_K, 0),
		/* 7 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 8: route */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, OFF_RTM_PROTO),
		/* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, protocol, 0, 1),
		/* 10 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 11 */ BPF_STMT(BPF_RET | BPF_K, 0),
		/* 12: nexthop */ BPF_STMT(BPF_LD | BPF_B | BPF_ABS, OFF_NHM_PROTO),
		/* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, protocol, 0, 1),
		/* 14 */ BPF_STMT(BPF_RET | BPF_K, 0xffff),
		/* 15 */ BPF_STMT(BPF_RET | BPF_K, 0),
	};
	struct sock_fprog prog = { .len = sizeof(f) / sizeof(f[0]), .filter = f };

	return setsockopt(mnl_socket_get_fd(nl->sk), SOL_SOCKET, SO_ATTACH_FILTER, &prog,
			  sizeof(prog));
}

int nl_monitor_read(struct nl *nl, mnl_cb_t cb, void *data)
{
	char rbuf[32768];

	for (;;) {
		ssize_t n = recv(mnl_socket_get_fd(nl->sk), rbuf, sizeof(rbuf), MSG_DONTWAIT);
		int rc;

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return 0;
			return -errno;
		}
		rc = mnl_cb_run(rbuf, (size_t)n, 0, 0, cb, data);
		if (rc == MNL_CB_ERROR)
			return -EIO;
	}
}

void nl_put_addr(struct nlmsghdr *nlh, uint16_t type, const struct ipaddr *a)
{
	mnl_attr_put(nlh, type, a->family == AF_INET6 ? 16 : 4, a->b);
}

int nl_get_addr(const struct nlattr *attr, int family, struct ipaddr *out)
{
	size_t want = family == AF_INET6 ? 16 : 4;

	memset(out, 0, sizeof(*out));
	if (mnl_attr_get_payload_len(attr) != want)
		return -1;
	memcpy(out->b, mnl_attr_get_payload(attr), want);
	out->family = family;
	return 0;
}

int mac_parse(const char *s, uint8_t mac[6])
{
	if (!s || strlen(s) != 17)
		return -1;
	for (int i = 0; i < 6; i++) {
		int hi = hex_value(s[i * 3]), lo = hex_value(s[i * 3 + 1]);

		if (hi < 0 || lo < 0 || (i < 5 && s[i * 3 + 2] != ':'))
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

const char *mac_format(const uint8_t mac[6], char *buf, size_t len)
{
	snprintf(buf, len, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
		 mac[4], mac[5]);
	return buf;
}
