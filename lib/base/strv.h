/* strv.h - a vector of formatted strings: command lines being built. */
#ifndef FLANNEL_STRV_H
#define FLANNEL_STRV_H

#include <stdbool.h>

/* Zero-initialise; after an allocation failure it stays failed. */
struct strv {
	char **v;      /* NULL-terminated once anything was added */
	int n, cap;
	bool failed;
};

void strv_addf(struct strv *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or -1 with errno ENOMEM when an addition failed. */
int strv_status(const struct strv *s);
void strv_clear(struct strv *s);

#endif
