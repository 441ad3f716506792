#!/bin/sh
# man.sh - the manual pages must be free of warnings: mandoc -Tlint at
# level warning (style hints are not failures: they include "referenced
# manual not found" before installation), else groff -wall. Skips (77)
# when neither is installed. Environment: top_srcdir, MANDOC.
top_srcdir=${top_srcdir:-.}
MANDOC=${MANDOC:-$(command -v mandoc)}
failed=0
if [ -n "$MANDOC" ]; then
	lint() { "$MANDOC" -Tlint -W warning "$1" 2>&1; }
elif command -v groff >/dev/null 2>&1; then
	lint() { groff -wall -z -mandoc "$1" 2>&1; }
else
	echo "man.sh: neither mandoc nor groff (apt-get install mandoc)"
	exit 77
fi
for f in "$top_srcdir"/man/*.[0-9]; do
	out=$(lint "$f")
	if [ $? != 0 ] || [ -n "$out" ]; then
		echo "FAIL: $f:"
		echo "$out"
		failed=1
	else
		echo "ok - $(basename "$f")"
	fi
done
exit $failed
