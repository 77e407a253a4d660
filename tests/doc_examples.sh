#!/bin/sh
# doc_examples.sh FILE...: print the shell examples of man pages (EXAMPLES:
# .Bd -literal blocks and .Dl lines, mdoc escapes undone, "$ "/"# " prompts
# dropped) and of Markdown files (```sh blocks), each block as
# "#### FILE:LINE" and its lines.  Data blocks (JSON, ini) are left out.
set -eu

for f in "$@"; do
	case $f in
	*.md)
		awk -v f="$f" '
			/^```sh$/ { inb = 1; print "#### " f ":" NR; next }
			/^```/ { inb = 0; next }
			inb { print }' "$f"
		;;
	*)
		awk -v f="$f" '
			/^\.Sh EXAMPLES/ { ex = 1; next }
			/^\.Sh / { ex = 0 }
			!ex { next }
			/^\.Bd -literal/ { inb = 1; first = 1; start = NR; next }
			/^\.Ed/ { inb = 0; next }
			/^\.Dl / { sub(/^\.Dl /, ""); print "#### " f ":" NR; print unesc($0); next }
			inb {
				line = unesc($0)
				if (first && line ~ /^[ \t]*[\[{]/) { inb = 0; next }
				if (first) print "#### " f ":" start
				first = 0
				sub(/^[$#] /, "", line)
				print line
			}
			function unesc(s) {
				gsub(/\\e/, "\\", s); gsub(/\\&/, "", s); gsub(/\\\(dq/, "\"", s)
				return s
			}' "$f"
		;;
	esac
done
