#!/bin/sh
# dns.sh - the DNS checks (DNS lists, client name, HELO, SPF) end to end,
# offline: starts a local unbound server on 127.0.0.1 (a free port in
# 22053-22099, tests/unbound.sh) serving tests/milter/dns/unbound.zones, runs tollgate with
# dns/policy.conf.in pointed at it, and every dns/[a-z]*.lua scenario but
# down.lua with miltertest. Then it stops the server and runs down.lua
# against a fresh daemon (empty cache): the failure behaviour. Servers are
# stopped by their PIDs, also on failure. Skips (77) without miltertest or
# unbound. Environment: TOLLGATE, MILTERTEST, UNBOUND_SERVER, top_srcdir.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
TG_WRAPPER=${TG_WRAPPER:-}	# e.g. valgrind, as in run.sh
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
src=$(cd "$top_srcdir/tests/milter" && pwd)
. "$src/../unbound.sh"

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "dns.sh: miltertest not installed (apt-get install miltertest)"
	exit 77
fi
if [ ! -x "$UNBOUND_SERVER" ]; then
	echo "dns.sh: unbound not installed (apt-get install unbound)"
	exit 77
fi

. "$src/../daemon.sh"
tg_dir dns
# tg_cleanup_hook - the DNS server goes too (by its PID)
tg_cleanup_hook() {
	unbound_stop
}

# start_dns: unbound (tests/unbound.sh) on the first free port
start_dns() {
	if ! unbound_start "$dir" "$src/dns/unbound.zones" 22053 22099; then
		echo "FAIL: unbound did not start:"
		cat "$dir/unbound.log"
		failed=1
		exit 1
	fi
	port=$unbound_port
	echo "ok - unbound serving on 127.0.0.1@$port"
}

# start NAME TIMEOUT [ADDR]: a daemon with the test policy, asking the
# server at ADDR (default 127.0.0.1) on $port
start() {
	mkdir -p "$dir/$1"
	sed -e "s|127.0.0.1@@PORT@|${3:-127.0.0.1}@$port|g" \
	    -e "s|@TIMEOUT@|$2|g" \
	    "$src/dns/policy.conf.in" >"$dir/$1/policy.conf"
	tg_start "$1" -d -c "$dir/$1/policy.conf" -P "$dir/$1/pid"
}

# stop NAME: SIGTERM by PID; the daemon must exit 0 (no sanitizer or
# valgrind error, lookups in flight cancelled cleanly)
stop() {
	tg_stop_ok "$1" && echo "ok - daemon $1 stopped cleanly"
}

run() {
	if "$MILTERTEST" -D socket="$dir/$1/sock" -D log="$dir/$1/log" \
	    -D srcdir="$src" -D lib="$src/lib.lua" -s "$2" \
	    >"$dir/out" 2>&1; then
		cat "$dir/out"
		echo "PASS: dns/$(basename "$2")"
	else
		cat "$dir/out"
		echo "FAIL: dns/$(basename "$2") (daemon log: $dir/$1/log)"
		tail -15 "$dir/$1/log"
		failed=1
	fi
}

start_dns
start up 2s
for t in "$src"/dns/[a-z]*.lua; do
	[ "$(basename "$t")" = down.lua ] && continue
	run up "$t"
done

# The server goes away: lookups fail (ICMP unreachable or timeout).
unbound_stop
echo "ok - unbound stopped"
# Another run of this test (a developer's, in parallel) may have started
# its own server on the port just freed: ask an address where no test
# server ever listens.
start down 1s 127.0.0.254
run down "$src/dns/down.lua"
tg_term up down
stop up
stop down
# The native engine runs the connect and HELO checks on its loops with
# their lookups made ahead; one it did not plan would be made on the loop
# thread, logged (filter/dns.c). None may be, answers or failures.
for n in up down; do
	if tg_logged "$n" "was not prefetched"; then
		echo "FAIL: $n: a DNS lookup was made on an event loop:"
		grep "was not prefetched" "$dir/$n/log" | head -5
		failed=1
	else
		echo "ok - $n: every loop lookup was prefetched"
	fi
done
exit $failed
