/* The event line reader: line numbers, and lines too long to keep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "model/event.h"
#include "model/event_stream.h"
#include "tap.h"

/* A file holding text, then n bytes of c, then tail; its fd at offset 0. */
static int file_with(const char *head, size_t n, char c, const char *tail)
{
	FILE *f = tmpfile();
	int fd;

	fputs(head, f);
	for (size_t i = 0; i < n; i++)
		fputc(c, f);
	fputs(tail, f);
	fflush(f);
	fd = dup(fileno(f));
	fclose(f);
	lseek(fd, 0, SEEK_SET);
	return fd;
}

/* The next line, or NULL in *line when there is none (an earlier one's
 * buffer may be gone once reading more failed). */
static int next_line(struct line_reader *r, char **line, unsigned long *lineno)
{
	int n = line_reader_next(r, line, lineno);

	if (n != 1)
		*line = NULL;
	return n;
}

int main(void)
{
	struct line_reader *r;
	unsigned long lineno;
	char *line;
	int fd;

	log_init("test_event", 0);
	/* Issue 12 #2: a line over the limit was fatal (-1, EMSGSIZE); it is
	 * reported (LINE_TOO_LONG with its number) and skipped. */
	fd = file_with("{\"type\":\"snapshot\"}\n", EVENT_LINE_MAX + 512 * 1024, 'x',
		       "\n{\"type\":\"sync\"}\n");
	r = line_reader_new(fd, EVENT_LINE_MAX);
	need(r);
	is_int(next_line(r, &line, &lineno), 1, "first line");
	is_str(line, "{\"type\":\"snapshot\"}", "its text");
	is_int(next_line(r, &line, &lineno), LINE_TOO_LONG, "the over-long line reported");
	is_int(lineno, 2, "with its number");
	is_int(next_line(r, &line, &lineno), 1, "and skipped");
	is_str(line, "{\"type\":\"sync\"}", "the next line comes");
	is_int(lineno, 3, "with its own number");
	is_int(next_line(r, &line, &lineno), 0, "then EOF");
	line_reader_free(r);
	close(fd);

	fd = file_with("a\n", 3 * EVENT_LINE_MAX, 'y', "");
	r = line_reader_new(fd, EVENT_LINE_MAX);
	need(r);
	is_int(next_line(r, &line, &lineno), 1, "a line");
	is_int(next_line(r, &line, &lineno), LINE_TOO_LONG,
	       "an over-long last line without newline reported");
	is_int(next_line(r, &line, &lineno), 0, "then EOF");
	line_reader_free(r);
	close(fd);

	fd = file_with("", EVENT_LINE_MAX - 2, 'z', "\nb");
	r = line_reader_new(fd, EVENT_LINE_MAX);
	need(r);
	is_int(next_line(r, &line, &lineno), 1, "a line just under the limit is kept");
	is_int(line ? strlen(line) : 0, EVENT_LINE_MAX - 2, "whole");
	is_int(next_line(r, &line, &lineno), 1, "a last line without newline");
	is_str(line, "b", "its text");
	line_reader_free(r);
	close(fd);
	return tap_done();
}
