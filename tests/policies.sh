#!/bin/sh
# policies.sh - every policies/*.conf must pass "tollgate -n -c FILE", and a
# broken policy must fail it with a file:line:col diagnostic (so that a
# checker that accepts everything cannot pass this test).
# Run by "make check" with TOLLGATE and top_srcdir set (tests/Makefile.am).
set -u

: "${top_srcdir:=..}"
: "${TOLLGATE:=../filter/tollgate}"

if [ ! -x "$TOLLGATE" ]; then
	echo "policies.sh: $TOLLGATE not built" >&2
	exit 99
fi

status=0
n=0
for conf in "$top_srcdir"/policies/*.conf; do
	[ -f "$conf" ] || continue
	n=$((n + 1))
	if out=$("$TOLLGATE" -n -c "$conf" 2>&1); then
		echo "ok: $conf"
	else
		echo "FAIL: $conf is not a valid policy:" >&2
		printf '%s\n' "$out" >&2
		status=1
	fi
done
if [ "$n" -eq 0 ]; then
	echo "FAIL: no policies/*.conf found under $top_srcdir" >&2
	exit 1
fi

# The negative case: an undeclared table and an unknown action.
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-policies.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/broken.conf" <<'POLICY'
stage rcpt {
    rule r1 : rcpt.domain in no_such_table => reject 554 5.7.1 "x"
    rule r2 : true => explode
}
POLICY
out=$("$TOLLGATE" -n -c "$tmp/broken.conf" 2>&1)
rc=$?
if [ "$rc" -ne 1 ]; then
	echo "FAIL: tollgate -n on a broken policy exited $rc, want 1" >&2
	printf '%s\n' "$out" >&2
	status=1
elif ! printf '%s\n' "$out" | grep -q 'broken\.conf:[0-9][0-9]*:[0-9][0-9]*: error: '; then
	echo "FAIL: no file:line:col: error: diagnostic for a broken policy; got:" >&2
	printf '%s\n' "$out" >&2
	status=1
else
	echo "ok: a broken policy is refused:"
	printf '%s\n' "$out" | sed 's/^/  /'
fi
exit $status
