/* Escaping of text from outside before it is logged. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "tap.h"

/* What one log call printed on stderr. */
static const char *logged(char *buf, size_t len, const char *key, size_t n)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	char esc[LOG_ESC_MAX];
	size_t got;

	fflush(stderr);
	dup2(fileno(f), 2);
	log_warn("skip key %s: not a subnet lease key", log_escape(key, n, esc, sizeof(esc)));
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	got = fread(buf, 1, len - 1, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

/* Direct log of an unescaped string (a %s somewhere that was missed). */
static const char *logged_raw(char *buf, size_t len, const char *text)
{
	FILE *f = tmpfile();
	int saved = dup(2);
	size_t got;

	fflush(stderr);
	dup2(fileno(f), 2);
	log_err("got %s", text);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(f);
	got = fread(buf, 1, len - 1, f);
	buf[got] = '\0';
	fclose(f);
	return buf;
}

int main(void)
{
	char buf[16384], esc[16];
	char big[3000];

	log_init("flannel-test", 0);
	is_str(logged(buf, sizeof(buf), "/a/100.64.70.0-24\0x", 19),
	       "flannel-test: skip key /a/100.64.70.0-24\\x00x: not a subnet lease key\n",
	       "a NUL is shown, not cut");
	is_str(logged(buf, sizeof(buf), "k\nflanneld: all networks synced: ready", 38),
	       "flannel-test: skip key k\\x0aflanneld: all networks synced: ready: not a subnet "
	       "lease key\n", "a newline cannot forge a line");
	is_str(logged(buf, sizeof(buf), "\n<0>boom", 8),
	       "flannel-test: skip key \\x0a<0>boom: not a subnet lease key\n",
	       "nor a journald priority");
	is_str(logged(buf, sizeof(buf), "\x1b[31mred\x7f", 9),
	       "flannel-test: skip key \\x1b[31mred\\x7f: not a subnet lease key\n", "ANSI and DEL");
	is_str(logged(buf, sizeof(buf), "caf\xc3\xa9 \xff\xc3", 8),
	       "flannel-test: skip key caf\xc3\xa9 \\xff\\xc3: not a subnet lease key\n",
	       "UTF-8 kept, other bytes escaped");
	is_str(logged(buf, sizeof(buf), "\xe0\x80\xaf \xed\xa0\x80", 7),
	       "flannel-test: skip key \\xe0\\x80\\xaf \\xed\\xa0\\x80: not a subnet lease key\n",
	       "overlong form and surrogate escaped");
	is_str(logged(buf, sizeof(buf), "a\\x0ab", 6),
	       "flannel-test: skip key a\\x5cx0ab: not a subnet lease key\n",
	       "a backslash cannot fake an escape");
	is_str(log_escape("abcdefghijklmnopqrstuvwxyz", 26, esc, sizeof(esc)), "abcdefghijkl...",
	       "cut short with ...");
	is_str(log_escape("\n\n\n\n\n", 5, esc, sizeof(esc)), "\\x0a\\x0a\\x0a...", "cut between escapes");
	is_str(logged_raw(buf, sizeof(buf), "x\ny\r\x1b"), "flannel-test: got x\\x0ay\\x0d\\x1b\n",
	       "every message is escaped on its way out");
	memset(big, '\n', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	ok(strlen(logged_raw(buf, sizeof(buf), big)) == 18 + 4 * 2999 + 1,
	   "a message of control bytes escaped whole");
	return tap_done();
}
