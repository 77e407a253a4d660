/* check_out.c - flannel-check's output: one line per check, as text
 * ("FAIL device flannel.1: is down; fix: ...") or as a JSON line of type
 * "check", and a last line of type "summary". */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check/check_priv.h"

static const char *const status_word[] = { "ok", "FAIL", "SKIP", "WARN" };
static const char *const status_json[] = { "ok", "fail", "skip", "warn" };

static void put_json(json_t *o)
{
	char *s = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	if (s) {
		printf("%s\n", s);
		free(s);
	}
	json_decref(o);
	fflush(stdout);
}

/* name is in the comma-separated list. */
static bool listed(const char *list, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = list; p && *p; p += strcspn(p, ","), p += *p == ',') {
		if (strncmp(p, name, n) == 0 && (p[n] == ',' || !p[n]))
			return true;
	}
	return false;
}

void check_report(struct check *c, enum check_status st, const char *name, const char *subject,
		  const char *fix, const char *fmt, ...)
{
	const char *why = "could not check: ", *was = NULL;
	bool shows_fix;
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (listed(c->o->skip, name) && st != CHECK_SKIP) {
		/* the operator accepts it (--skip): shown, never a fault */
		why = st == CHECK_FAIL	? "skipped as asked, was FAIL: "
		      : st == CHECK_WARN ? "skipped as asked, was WARN: "
					 : "skipped as asked, was ok: ";
		was = status_json[st];
		st = CHECK_SKIP;
	}
	if (st == CHECK_OK)
		c->n_ok++;
	else if (st == CHECK_FAIL)
		c->n_fail++;
	else if (st == CHECK_WARN)
		c->n_warn++;
	else
		c->n_skip++;
	shows_fix = st == CHECK_FAIL || st == CHECK_WARN;
	if (c->o->json) {
		json_t *o = json_pack("{s:s,s:s,s:s,s:s?,s:s,s:s?,s:s?}", "type", "check", "check",
				      name, "status", status_json[st], "subject", subject, "message",
				      msg, "fix", st == CHECK_FAIL || st == CHECK_WARN ? fix : NULL, "was", was);

		put_json(o);
		return;
	}
	printf("%-4s %s%s%s: %s%s%s%s\n", status_word[st], name, subject ? " " : "",
	       subject ? subject : "", st == CHECK_SKIP ? why : "", msg,
	       shows_fix && fix ? "; fix: " : "", shows_fix && fix ? fix : "");
	fflush(stdout);
}

void check_summary(struct check *c)
{
	if (c->o->json) {
		put_json(json_pack("{s:s,s:I,s:I,s:I,s:I}", "type", "summary", "ok",
				   (json_int_t)c->n_ok, "fail", (json_int_t)c->n_fail, "skip",
				   (json_int_t)c->n_skip, "warn", (json_int_t)c->n_warn));
		return;
	}
	printf("%u ok, %u FAIL, %u SKIP, %u WARN\n", c->n_ok, c->n_fail, c->n_skip, c->n_warn);
	fflush(stdout);
}
