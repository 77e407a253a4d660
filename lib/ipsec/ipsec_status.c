/* ipsec_status.c - flannel-ipsec status: every connection of ours that
 * charon has loaded, with its IKE_SA and CHILD_SA states, as a table or as
 * JSON lines. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "ipsec/ipsec.h"

struct row {
	char name[200];
	struct ipsec_peer_conf pc;
	bool has_sa;
	struct ipsec_sa sa;
};

struct rows {
	struct row *v;
	size_t n, cap;
};

static int add_conn(void *arg, const char *name)
{
	struct rows *r = arg;
	struct ipsec_peer_conf pc;

	if (ipsec_conn_parse(name, &pc) < 0 || strlen(name) >= sizeof(r->v->name))
		return 0; /* not one of ours */
	if (r->n == r->cap) {
		size_t cap = r->cap ? 2 * r->cap : 16;
		struct row *v = realloc(r->v, cap * sizeof(*v));

		if (!v)
			return -1;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n] = (struct row){ .pc = pc };
	snprintf(r->v[r->n].name, sizeof(r->v[r->n].name), "%s", name);
	r->n++;
	return 0;
}

static int add_sa(void *arg, const struct ipsec_sa *sa)
{
	struct rows *r = arg;

	for (size_t i = 0; i < r->n; i++) {
		struct row *w = &r->v[i];

		/* The established one wins over one still connecting. */
		if (strcmp(w->name, sa->name) == 0 &&
		    (!w->has_sa || strcmp(sa->ike_state, "ESTABLISHED") == 0)) {
			w->has_sa = true;
			w->sa = *sa;
		}
	}
	return 0;
}

static void print_json(const struct row *w)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN];
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", "peer", "connection",
			      w->name, "subnet", prefix_format(&w->pc.peer, a, sizeof(a)),
			      "public_ip", addr_format(&w->pc.peer_ip, b, sizeof(b)), "ike",
			      w->has_sa ? w->sa.ike_state : "NONE", "child",
			      w->has_sa && w->sa.child_state[0] ? w->sa.child_state : "NONE");
	char *s;

	if (!o)
		return;
	if (w->has_sa) {
		if (w->sa.reqid)
			json_object_set_new(o, "reqid", json_integer((json_int_t)w->sa.reqid));
		if (w->sa.ike_rekey >= 0)
			json_object_set_new(o, "ike_rekey_in", json_integer(w->sa.ike_rekey));
		if (w->sa.child_rekey >= 0)
			json_object_set_new(o, "child_rekey_in", json_integer(w->sa.child_rekey));
		json_object_set_new(o, "bytes_in", json_integer((json_int_t)w->sa.bytes_in));
		json_object_set_new(o, "bytes_out", json_integer((json_int_t)w->sa.bytes_out));
	}
	s = json_dumps(o, JSON_COMPACT);
	if (s)
		printf("%s\n", s);
	free(s);
	json_decref(o);
}

static void print_row(const struct row *w)
{
	char a[ADDR_STRLEN], b[ADDR_STRLEN], ike[32], child[32];

	snprintf(ike, sizeof(ike), "%s", w->has_sa ? w->sa.ike_state : "NONE");
	snprintf(child, sizeof(child), "%s",
		 w->has_sa && w->sa.child_state[0] ? w->sa.child_state : "NONE");
	printf("%-18s %-15s %-12s %-12s", prefix_format(&w->pc.peer, a, sizeof(a)),
	       addr_format(&w->pc.peer_ip, b, sizeof(b)), ike, child);
	if (w->has_sa && w->sa.ike_rekey >= 0)
		printf(" %lds", w->sa.ike_rekey);
	else
		printf(" -");
	if (w->has_sa && w->sa.child_rekey >= 0)
		printf("/%lds", w->sa.child_rekey);
	printf("\n");
}

static int cmp_rows(const void *a, const void *b)
{
	return strcmp(((const struct row *)a)->name, ((const struct row *)b)->name);
}

int ipsec_status(const char *vici, bool json)
{
	struct vici_conn c;
	struct rows r = { 0 };
	char err[4400];
	int rc = 0;

	if (vici_connect(&c, vici, err, sizeof(err)) < 0) {
		log_err("%s (is flannel-ipsec apply running? --run-dir or --vici name its charon)",
			err);
		return FL_ERR_UNAVAILABLE;
	}
	if (ipsec_list_conns(&c, add_conn, &r, err, sizeof(err)) < 0 ||
	    ipsec_list_sas(&c, add_sa, &r, err, sizeof(err)) < 0) {
		log_err("ask charon: %s", err);
		rc = FL_ERR_UNAVAILABLE;
		goto out;
	}
	qsort(r.v, r.n, sizeof(*r.v), cmp_rows);
	if (!json)
		printf("%-18s %-15s %-12s %-12s %s\n", "PEER", "PUBLIC-IP", "IKE", "CHILD",
		       "REKEY-IN");
	for (size_t i = 0; i < r.n; i++)
		json ? print_json(&r.v[i]) : print_row(&r.v[i]);
	if (fflush(stdout) != 0)
		rc = FL_ERR_IO;
out:
	free(r.v);
	vici_disconnect(&c);
	return rc;
}
