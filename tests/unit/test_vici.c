/* lib/ipsec: the VICI codec against hand-made bytes of the protocol
 * (strongSwan's src/libcharon/plugins/vici/README.md layout), malformed
 * packets refused with the reason, a packet read in pieces from a socket,
 * and our connection names both ways. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "ipsec/ipsec.h"
#include "ipsec/vici.h"
#include "ipsec/vici_client.h"
#include "tap.h"

/* A load-shared request as the protocol lays it out. */
static const uint8_t load_shared[] = {
	0, 0, 0, 49,                              /* length of the rest */
	0, 11, 'l', 'o', 'a', 'd', '-', 's', 'h', 'a', 'r', 'e', 'd', /* CMD_REQUEST */
	3, 4, 't', 'y', 'p', 'e', 0, 3, 'I', 'K', 'E', /* type = IKE */
	4, 6, 'o', 'w', 'n', 'e', 'r', 's',        /* owners [ */
	5, 0, 9, '1', '9', '2', '.', '0', '.', '2', '.', '1', /* 192.0.2.1 */
	6,                                        /* ] */
	1, 1, 's', 2,                             /* s { } */
};

static void build(void)
{
	struct vici_builder w;
	const char *p;
	size_t n;

	vici_begin(&w, VICI_CMD_REQUEST, "load-shared");
	vici_kv(&w, "type", "IKE");
	vici_list(&w, "owners");
	vici_item(&w, "192.0.2.1");
	vici_list_end(&w);
	vici_section(&w, "s");
	vici_section_end(&w);
	ok(vici_finish(&w, &p, &n) == 0, "build a request");
	ok(n == sizeof(load_shared) && memcmp(p, load_shared, n) == 0,
	   "the bytes are the protocol's (%zu)", n);
	vici_builder_free(&w);

	vici_begin(&w, VICI_CMD_REQUEST, "x");
	vici_section_end(&w);
	ok(vici_finish(&w, &p, &n) < 0, "an end without a start is refused");
	vici_builder_free(&w);
	vici_begin(&w, VICI_CMD_REQUEST, "x");
	vici_list(&w, "l");
	vici_kv(&w, "k", "v");
	vici_list_end(&w);
	ok(vici_finish(&w, &p, &n) < 0, "a key/value inside a list is refused");
	vici_builder_free(&w);
	vici_begin(&w, VICI_CMD_REQUEST, "x");
	vici_section(&w, "open");
	ok(vici_finish(&w, &p, &n) < 0, "a section left open is refused");
	vici_builder_free(&w);
	vici_begin(&w, VICI_CMD_REQUEST, "x");
	vici_kv(&w, "", "v");
	ok(vici_finish(&w, &p, &n) < 0, "an empty key is refused");
	vici_builder_free(&w);
}

static void decode(void)
{
	struct vici_msg m;
	char err[200];
	int l, s;

	ok(vici_decode(load_shared + 4, sizeof(load_shared) - 4, &m, err, sizeof(err)) == 0,
	   "decode the request");
	is_int(m.type, VICI_CMD_REQUEST, "its type");
	is_str(m.name, "load-shared", "its name");
	is_str(vici_str(&m, -1, "type"), "IKE", "a key/value at the top");
	l = vici_find(&m, -1, "owners");
	ok(l >= 0 && m.n[l].kind == VICI_LIST_START, "the list");
	ok(l >= 0 && (size_t)l + 1 < m.count && m.n[l + 1].parent == l &&
	   !strcmp(m.n[l + 1].value, "192.0.2.1"), "its item");
	s = vici_find(&m, -1, "s");
	ok(s >= 0 && m.n[s].kind == VICI_SECTION_START, "the empty section");
	ok(vici_str(&m, -1, "owners") == NULL, "a list is not a key/value");
	ok(vici_str(&m, s, "type") == NULL, "nor is a key found under the wrong parent");
	vici_msg_free(&m);
}

static void bad(const char *what, const uint8_t *p, size_t n, const char *why)
{
	struct vici_msg m;
	char err[200] = "";
	int rc = vici_decode(p, n, &m, err, sizeof(err));

	ok(rc < 0 && strstr(err, why) && m.count == 0 && !m.n, "%s refused: %s", what, err);
	vici_msg_free(&m);
}

static void malformed(void)
{
	static const uint8_t cut_kv[] = { 1, 3, 1, 'k', 0, 5, 'a' };
	static const uint8_t stray_end[] = { 1, 2 };
	static const uint8_t item_out[] = { 1, 5, 0, 1, 'a' };
	static const uint8_t kv_in_list[] = { 1, 4, 1, 'l', 3, 1, 'k', 0, 0, 6 };
	static const uint8_t unclosed[] = { 1, 1, 1, 's' };
	static const uint8_t open_list[] = { 1, 4, 1, 'l', 5, 0, 0 };
	static const uint8_t unknown[] = { 1, 9 };
	static const uint8_t bad_type[] = { 8 };
	static const uint8_t no_name[] = { 0, 5, 'a', 'b' };
	static const uint8_t empty_key[] = { 1, 3, 0, 0, 0 };
	uint8_t deep[1 + 3 * 40];
	uint8_t *big = calloc(1, VICI_PACKET_MAX + 1);

	bad("a cut key/value", cut_kv, sizeof(cut_kv), "cut short");
	bad("an end without a section", stray_end, sizeof(stray_end), "never started");
	bad("an item outside a list", item_out, sizeof(item_out), "outside a list");
	bad("a key/value inside a list", kv_in_list, sizeof(kv_in_list), "only items");
	bad("a section not closed", unclosed, sizeof(unclosed), "not closed");
	bad("a list not closed", open_list, sizeof(open_list), "not closed");
	bad("an unknown element", unknown, sizeof(unknown), "unknown element");
	bad("an unknown packet type", bad_type, sizeof(bad_type), "unknown packet type");
	bad("a request without its name", no_name, sizeof(no_name), "name is cut short");
	bad("an empty key", empty_key, sizeof(empty_key), "cut short");
	bad("an empty packet", no_name, 0, "empty");
	deep[0] = VICI_CMD_RESPONSE;
	for (int i = 0; i < 40; i++) {
		deep[1 + 3 * i] = VICI_SECTION_START;
		deep[2 + 3 * i] = 1;
		deep[3 + 3 * i] = 's';
	}
	bad("sections 40 deep", deep, sizeof(deep), "too deep");
	if (big) {
		big[0] = VICI_CMD_RESPONSE;
		bad("a packet over 512 KiB", big, VICI_PACKET_MAX + 1, "512 KiB");
	}
	free(big);
}

static void success(void)
{
	static const uint8_t yes[] = { 1, 3, 7, 's', 'u', 'c', 'c', 'e', 's', 's', 0, 3, 'y', 'e', 's' };
	static const uint8_t no[] = { 1, 3, 7, 's', 'u', 'c', 'c', 'e', 's', 's', 0, 2, 'n', 'o',
				      3, 6, 'e', 'r', 'r', 'm', 's', 'g', 0, 3, 'b', 'a', 'd' };
	struct vici_msg m;
	char err[100];

	vici_decode(yes, sizeof(yes), &m, err, sizeof(err));
	ok(vici_success(&m, err, sizeof(err)), "success yes");
	vici_msg_free(&m);
	vici_decode(no, sizeof(no), &m, err, sizeof(err));
	ok(!vici_success(&m, err, sizeof(err)) && !strcmp(err, "bad"), "success no: errmsg (%s)",
	   err);
	vici_msg_free(&m);
}

/* A packet that arrives in two pieces, then one that lies about its length. */
static void pieces(void)
{
	struct vici_conn c = { .fd = -1 };
	struct vici_msg m;
	char err[200];
	int sv[2], rc;
	static const uint8_t huge[] = { 0x7f, 0, 0, 0, 1 };

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) < 0) {
		ok(0, "socketpair");
		return;
	}
	c.fd = sv[0];
	ok(write(sv[1], load_shared, 10) == 10, "write the first part");
	rc = vici_poll(&c, &m, err, sizeof(err));
	is_int(rc, 0, "half a packet: not yet");
	ok(write(sv[1], load_shared + 10, sizeof(load_shared) - 10) ==
	   (ssize_t)(sizeof(load_shared) - 10), "write the rest");
	rc = vici_poll(&c, &m, err, sizeof(err));
	ok(rc == 1 && !strcmp(m.name, "load-shared"), "then the whole packet");
	if (rc == 1)
		vici_msg_free(&m);
	ok(write(sv[1], huge, sizeof(huge)) == (ssize_t)sizeof(huge), "write a bad length");
	rc = vici_poll(&c, &m, err, sizeof(err));
	ok(rc < 0 && strstr(err, "a packet of") && c.fd < 0, "a length over 512 KiB breaks the "
	   "connection (%s)", err);
	close(sv[1]);
	vici_disconnect(&c);
}

static void names(void)
{
	struct ipsec_peer_conf p = { 0 }, q;
	char name[200];

	addr_parse("192.0.2.1", &p.own_ip);
	addr_parse("192.0.2.2", &p.peer_ip);
	prefix_parse("100.64.1.0/24", &p.own);
	prefix_parse("100.64.2.0/24", &p.peer);
	ok(ipsec_conn_name(&p, name, sizeof(name)) == 0, "name a connection");
	is_str(name, "192.0.2.1-100.64.1.0/24-100.64.2.0/24-192.0.2.2", "upstream's name");
	ok(ipsec_conn_parse(name, &q) == 0 && prefix_equal(&q.peer, &p.peer) &&
	   addr_equal(&q.peer_ip, &p.peer_ip) && prefix_equal(&q.own, &p.own), "and back");
	ok(ipsec_conn_parse("home-net", &q) < 0, "another name is not ours");
	ok(ipsec_conn_parse("192.0.2.1-100.64.1.0/24-100.64.2.0/24-192.0.2.2-x", &q) < 0,
	   "nor one with a fifth part");
}

int main(void)
{
	/* A failed allocation (FAIL_ALLOC_AT) makes the client close its end
	 * early: the test's writes then fail with EPIPE instead of killing it. */
	signal(SIGPIPE, SIG_IGN);
	build();
	decode();
	malformed();
	success();
	pieces();
	names();
	return tap_done();
}
