#!/bin/sh
# mutate.sh - every rule of every shipped policy is covered by its session
# file: mutate.py breaks each rule in turn in a copy of the policy (its
# condition negated) and the session file must then fail. Run by make
# check with top_srcdir and TOLLGATE_TEST set (tests/Makefile.am); about
# 5 s in all.
set -u

: "${top_srcdir:=..}"
: "${TOLLGATE_TEST:=../filter/tollgate-test}"

T=$(cd "$(dirname "$TOLLGATE_TEST")" && pwd)/$(basename "$TOLLGATE_TEST")
top=$(cd "$top_srcdir" && pwd)
[ -x "$T" ] || { echo "mutate.sh: $T not built" >&2; exit 99; }
command -v python3 >/dev/null ||
    { echo "mutate.sh: python3 not found (tools/install-deps.sh)" >&2; exit 99; }

status=0
for conf in "$top"/policies/*.conf; do
	p=$(basename "$conf" .conf)
	# Relative names, as the session files give them.
	(cd "$top" && python3 tests/replay/mutate.py "$T" "policies/$p.conf" \
	    "policies/sessions/$p.session") || status=1
done
exit "$status"
