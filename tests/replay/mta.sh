#!/bin/sh
# mta.sh - tollgate-test's replies agree with what real Postfix answered:
# the sessions of tests/mta/scenarios.session (the end-to-end scenarios of
# scenarios.sh, command for command) are replayed against the same policy
# (tests/mta/policy.conf.in) and DNS data (unbound.zones, -z: no server
# asked), and every command's reply must be the one recorded from Postfix
# in tests/mta/postfix-replies.txt (how it was recorded: its first lines).
# tests/mta/postfix.tap makes the same comparison live when it runs
# (root). Run by make check with top_srcdir and TOLLGATE_TEST set.
set -u

: "${top_srcdir:=..}"
: "${TOLLGATE_TEST:=../filter/tollgate-test}"

T=$(cd "$(dirname "$TOLLGATE_TEST")" && pwd)/$(basename "$TOLLGATE_TEST")
mta=$(cd "$top_srcdir/tests/mta" && pwd)
[ -x "$T" ] || { echo "mta.sh: $T not built" >&2; exit 99; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-replay-mta.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
. "$mta/replies.sh"

# The policy as lib.sh installs it, with any port for the resolver it
# will not ask.
cp "$mta/local-domains.list" "$mta/trusted.cidr" "$mta/sender-logins.map" \
    "$tmp/" || exit 99
sed 's|@DNS_PORT@|53|g' "$mta/policy.conf.in" >"$tmp/policy.conf" || exit 99
# The DKIM key tables it names, and their keys in the zone data.
sh "$mta/dkimkeys.sh" "$tmp/dkim" "$tmp" "$mta/unbound.zones" \
    "$tmp/unbound.zones" || exit 99

"$T" -z "$tmp/unbound.zones" -c "$tmp/policy.conf" "$mta/scenarios.session" \
    >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -ne 0 ]; then
	echo "FAIL: tollgate-test exit $rc (scenarios.session's expectations):"
	sed 's/^/    /' "$tmp/out"
	exit 1
fi
replies_tool <"$tmp/out" >"$tmp/tool"
if ! replies_compare "$mta/postfix-replies.txt" "$tmp/tool"; then
	echo "FAIL: tollgate-test and Postfix answered differently"
	exit 1
fi
n=$(awk '!/^#/ { print $1 }' "$mta/postfix-replies.txt" | uniq | wc -l)
l=$(grep -vc '^#' "$mta/postfix-replies.txt")
echo "mta.sh: the $l replies of $n scenarios are Postfix's"
