/* vici.h - strongSwan's VICI protocol, our own small codec and client:
 * length-prefixed packets (u32 big-endian length, u8 type, a u8-length name
 * for the named types) carrying a message of elements (sections, key/value
 * pairs, lists).  The decoder takes bytes from a socket: it checks every
 * length and the nesting before anything is used. */
#ifndef FLANNEL_VICI_H
#define FLANNEL_VICI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

enum vici_type {
	VICI_CMD_REQUEST = 0,
	VICI_CMD_RESPONSE = 1,
	VICI_CMD_UNKNOWN = 2,
	VICI_EVENT_REGISTER = 3,
	VICI_EVENT_UNREGISTER = 4,
	VICI_EVENT_CONFIRM = 5,
	VICI_EVENT_UNKNOWN = 6,
	VICI_EVENT = 7,
};

enum vici_element {
	VICI_SECTION_START = 1,
	VICI_SECTION_END = 2,
	VICI_KEY_VALUE = 3,
	VICI_LIST_START = 4,
	VICI_LIST_ITEM = 5,
	VICI_LIST_END = 6,
};

/* charon's own limit for one packet (VICI_MESSAGE_SIZE_MAX). */
#define VICI_PACKET_MAX (512u * 1024u)
/* Sections and lists nested deeper than this are refused. */
#define VICI_DEPTH_MAX 32

/* ---- building a packet ---- */
struct vici_builder {
	struct buf b;
	int depth;
	bool in_list;
	bool bad; /* a name or value too long, an end without a start */
};

/* Start a packet of type with name (NULL for the unnamed types). */
void vici_begin(struct vici_builder *w, enum vici_type type, const char *name);
void vici_section(struct vici_builder *w, const char *name);
void vici_section_end(struct vici_builder *w);
void vici_kv(struct vici_builder *w, const char *key, const char *value);
void vici_kvf(struct vici_builder *w, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void vici_list(struct vici_builder *w, const char *name);
void vici_item(struct vici_builder *w, const char *value);
void vici_list_end(struct vici_builder *w);
/* The whole packet (length prefix included) in *pkt and *len, owned by w:
 * 0, or -1 when something was misused or memory ran out. */
int vici_finish(struct vici_builder *w, const char **pkt, size_t *len);
void vici_builder_free(struct vici_builder *w);

/* ---- a decoded packet ---- */
struct vici_node {
	uint8_t kind;      /* VICI_SECTION_START, VICI_KEY_VALUE, VICI_LIST_START, VICI_LIST_ITEM */
	int parent;        /* index of the section or list holding it; -1: the top */
	const char *name;  /* NUL-terminated; "" for list items */
	const char *value; /* NUL-terminated copy (key/values, list items); else NULL */
	size_t vlen;       /* the value's length (it may hold NUL bytes) */
};

struct vici_msg {
	uint8_t type;      /* enum vici_type */
	char name[256];    /* for the named types; else "" */
	struct vici_node *n;
	size_t count;
	char *text;        /* the names and values, NUL-terminated */
};

/*
 * Decode one packet without its length prefix (len bytes: the type, the
 * name, the elements).  0, or -1 with the reason in err (the message is then
 * empty).  Free with vici_msg_free either way.
 */
int vici_decode(const void *pkt, size_t len, struct vici_msg *m, char *err, size_t errlen);
void vici_msg_free(struct vici_msg *m);
/* The first direct child of parent (-1: the top) named name; -1: none. */
int vici_find(const struct vici_msg *m, int parent, const char *name);
/* The text of the key/value name under parent; NULL when missing, not a
 * key/value or not text (a NUL inside). */
const char *vici_str(const struct vici_msg *m, int parent, const char *name);
/* A command's answer: true when "success" is "yes"; else the errmsg (or a
 * reason) in err. */
bool vici_success(const struct vici_msg *m, char *err, size_t errlen);

#endif
