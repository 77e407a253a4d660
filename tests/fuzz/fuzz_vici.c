/* VICI packets as charon's socket delivers them (after the length prefix).
 * Invariant: a packet the decoder accepts, built again from its nodes with
 * the builder, decodes to the same nodes (kinds, parents, names, values). */
#include "fuzz.h"
#include "ipsec/vici.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	log_set_verbosity(-1);
	return 0;
}

/* Names and values the builder can write again: no NUL inside. */
static int rebuildable(const struct vici_msg *m)
{
	for (size_t i = 0; i < m->count; i++)
		if (m->n[i].value && strlen(m->n[i].value) != m->n[i].vlen)
			return 0;
	return 1;
}

static void close_to(struct vici_builder *w, const struct vici_msg *m, int *open, int want)
{
	while (*open != want) {
		if (m->n[*open].kind == VICI_LIST_START)
			vici_list_end(w);
		else
			vici_section_end(w);
		*open = m->n[*open].parent;
	}
}

static void rebuild(const struct vici_msg *m, struct vici_builder *w)
{
	int open = -1;

	vici_begin(w, m->type, m->name[0] ? m->name : NULL);
	for (size_t i = 0; i < m->count; i++) {
		const struct vici_node *n = &m->n[i];

		close_to(w, m, &open, n->parent);
		switch (n->kind) {
		case VICI_SECTION_START: vici_section(w, n->name); open = (int)i; break;
		case VICI_LIST_START: vici_list(w, n->name); open = (int)i; break;
		case VICI_KEY_VALUE: vici_kv(w, n->name, n->value); break;
		default: vici_item(w, n->value); break;
		}
	}
	close_to(w, m, &open, -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vici_msg m, back;
	struct vici_builder w;
	const char *p;
	char err[256];
	size_t n;

	if (vici_decode(data, size, &m, err, sizeof(err)) < 0) {
		FUZZ_ASSERT(m.count == 0 && m.n == NULL && err[0]);
		return 0;
	}
	for (size_t i = 0; i < m.count; i++)
		FUZZ_ASSERT(m.n[i].parent < (int)i && m.n[i].name);
	if (rebuildable(&m)) {
		rebuild(&m, &w);
		/* Only a name with a NUL inside (cut to "" by strlen) stops the builder. */
		if (vici_finish(&w, &p, &n) == 0) {
			FUZZ_ASSERT(vici_decode(p + 4, n - 4, &back, err, sizeof(err)) == 0);
			FUZZ_ASSERT(back.type == m.type && back.count == m.count);
			FUZZ_ASSERT(strcmp(back.name, m.name) == 0);
			for (size_t i = 0; i < m.count; i++) {
				FUZZ_ASSERT(back.n[i].kind == m.n[i].kind);
				FUZZ_ASSERT(back.n[i].parent == m.n[i].parent);
				FUZZ_ASSERT(strcmp(back.n[i].name, m.n[i].name) == 0);
				FUZZ_ASSERT(!m.n[i].value ||
					    (back.n[i].vlen == m.n[i].vlen &&
					     memcmp(back.n[i].value, m.n[i].value, m.n[i].vlen) == 0));
			}
			vici_msg_free(&back);
		}
		vici_builder_free(&w);
	}
	vici_msg_free(&m);
	return 0;
}
