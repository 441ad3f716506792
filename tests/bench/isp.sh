#!/bin/sh
# isp.sh - make check test of the shipped policies/isp-antispam.conf as an
# operator runs it, with its DNS answered by a local unbound (the
# benchmark's zones, tests/bench/isp-antispam.zones): 200 strangers'
# servers, each from an address of its own with forward-confirmed reverse
# DNS, a resolving HELO name and SPF, are accepted with every check run;
# one address that opens more connections in a minute than the policy's
# limit client-connections allows gets 421 4.7.0 at the next one, also
# when milterload -k 1 makes every connection come from one address. The
# policy's greylisting is taken out for that (lib.sh, bench_policy: the
# load's senders are all new); a second daemon keeps it as shipped, and
# a stranger's first message there gets 451 4.7.1 at RCPT while the
# postmaster is exempt. With the native engine, no DNS lookup may be made
# on an event loop thread that its prefetch did not plan.
# Environment (from tests/Makefile.am): TOLLGATE, MILTERLOAD, top_srcdir,
# UNBOUND_SERVER.

top_srcdir=${top_srcdir:-.}
src=$(cd "$top_srcdir" && pwd)
TOLLGATE=$(cd "$(dirname "${TOLLGATE:-filter/tollgate}")" && pwd)/$(basename \
    "${TOLLGATE:-filter/tollgate}")
MILTERLOAD=${MILTERLOAD:-tests/bench/milterload}
DNS_PORTS="22100 22149"
. "$src/tests/daemon.sh"
. "$src/tests/bench/lib.sh"

if [ ! -x "$UNBOUND_SERVER" ]; then
	echo "isp.sh: unbound not installed (tools/install-deps.sh)"
	exit 77
fi
tg_dir isp
tg_cleanup_hook() { unbound_stop; }

# The limit, read from the shipped policy, so the test follows an edit.
max=$(awk '/^limit client-connections/ { f = 1 }
    f && $1 == "max" { print $2; exit }' "$src/policies/isp-antispam.conf")
case $max in
''|*[!0-9]*) echo "FAIL: no max in limit client-connections"; exit 1 ;;
esac
bench_dns_start "$dir/dns" 512 || { failed=1; exit 1; }
bench_policy "$src/policies/isp-antispam.conf" "$dir/isp.conf" ||
    { failed=1; exit 1; }
tg_start isp -c "$dir/isp.conf" || exit 1
sock=unix:$dir/isp/sock

# 1. The accept path: 200 connections from 198.18.0.0-198.18.0.199, every
# message accepted (-A), each with its two added headers.
if ! mload -A -q -c 4 -n 200 -m 1 -s "$sock" \
    -f "$src/tests/bench/isp-antispam.scn" >"$dir/out1" 2>&1 ||
    ! grep -q '^RESULT msgs=200 ok=200 refused=0 errors=0' "$dir/out1"; then
	echo "FAIL: isp-antispam.scn, 200 clients: want all accepted:"
	cat "$dir/out1"
	failed=1
fi

# 2. One client address (mta300.example.net, not used above): max
# connections in a row are accepted, the next one is told to come back.
sed 's/^client mta\.example\.net %BIP$/client mta300.example.net 198.18.1.44/' \
    "$src/tests/bench/isp-antispam.scn" >"$dir/one.scn"
if ! mload -A -q -c 2 -n "$max" -m 1 -s "$sock" -f "$dir/one.scn" \
    >"$dir/out2" 2>&1; then
	echo "FAIL: $max connections from one address: want all accepted:"
	cat "$dir/out2"
	failed=1
fi
cat >"$dir/over.scn" <<'SCN'
client mta300.example.net 198.18.1.44
helo mail.example.net
expect 421 4.7.0 Too many connections per minute from [198.18.1.44], try again later
mail <sender@example.net>
rcpt <user@example.org>
SCN
if ! mload -v -s "$sock" -f "$dir/over.scn" >"$dir/out3" 2>&1; then
	echo "FAIL: connection $((max + 1)) from one address: want 421:"
	cat "$dir/out3"
	failed=1
fi
# ... and only that address: the next stranger is still welcome.
if ! mload -A -q -c 1 -n 1 -m 1 -s "$sock" \
    -f "$src/tests/bench/isp-antispam.scn" >"$dir/out4" 2>&1; then
	echo "FAIL: another address after the limit: want accepted:"
	cat "$dir/out4"
	failed=1
fi
if ! grep -q 'rule=connection-rate' "$dir/isp/log"; then
	echo "FAIL: no log line naming rule connection-rate:"
	tail -5 "$dir/isp/log"
	failed=1
fi

# 3. milterload -k 1: every connection from the first address of %BIP,
# 198.18.0.0, which steps 1 and 4 used once each: max - 2 more are
# accepted, the last two refused (without -k each would come from an
# address of its own).
mload -q -c 1 -n "$max" -m 1 -k 1 -s "$sock" \
    -f "$src/tests/bench/isp-antispam.scn" >"$dir/out5" 2>&1
if ! grep -q "^RESULT msgs=$max ok=$((max - 2)) refused=2 " "$dir/out5"; then
	echo "FAIL: -k 1, $max connections from 198.18.0.0: want the last" \
	    "two refused:"
	cat "$dir/out5"
	failed=1
fi

# 4. The shipped greylisting: a stranger's first message is deferred at
# RCPT with the seconds left; postmaster@ (tables/greylist_recipients.list)
# is not greylisted.
BENCH_GREYLIST=memory bench_policy "$src/policies/isp-antispam.conf" \
    "$dir/grey.conf" || { failed=1; exit 1; }
tg_start grey -c "$dir/grey.conf" || exit 1
cat >"$dir/grey.scn" <<'SCN'
client mta7.example.net 198.18.0.7
helo mail.example.net
mail <sender@example.net>
rcpt <user@example.org>
expect 451 4.7.1 Greylisted, please try again in 300 seconds
rcpt <postmaster@example.org>
expect continue
header From: <sender@example.net>
header Date: Wed, 25 Nov 2026 12:00:00 +0000
header Subject: greylisting
header Message-ID: <1.grey@example.net>
body 100
eom
expect continue
SCN
if ! mload -v -s "unix:$dir/grey/sock" -f "$dir/grey.scn" >"$dir/out6" \
    2>&1; then
	echo "FAIL: the shipped greylisting: want 451 4.7.1 for user@," \
	    "postmaster@ accepted:"
	cat "$dir/out6"
	failed=1
fi

# The native engine runs CONNECT and HELO of this policy on its loops,
# with their DNS looked up ahead: a lookup the prefetch did not plan is
# made on the loop thread and logged (filter/dns.c). None may be.
for n in isp grey; do
	if tg_logged "$n" "was not prefetched"; then
		echo "FAIL: $n: a DNS lookup was made on an event loop:"
		grep "was not prefetched" "$dir/$n/log" | head -5
		failed=1
	fi
done

[ "$failed" = 0 ] && echo "isp.sh: ok"
exit "$failed"
