#!/bin/sh
# run.sh - a bounded soak of the daemon: SOAK_CLIENTS concurrent milter
# clients (soakclient.pl, raw milter packets; default 20) open session
# after session for SOAK_SECONDS (default 20), every answer checked.
# Passes when no answer was wrong and no connection dropped, every message
# the clients sent was accepted, RSS stays flat (the second half's peak at
# most 10% + 2 MB over the first half's) and the daemon holds as many file
# descriptors after the load as before it. Loopback only (a unix socket),
# stops by itself; the daemon is stopped by its PID.
# The same kind of load through Postfix and smtp-sink is postfix.tap.
# Long run by hand (figures in tests/README.md):
#   SOAK_CLIENTS=1000 SOAK_SECONDS=600 make -C tests check TESTS=soak/run.sh
# Environment (from tests/Makefile.am): TOLLGATE, top_srcdir.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
clients=${SOAK_CLIENTS:-20}
secs=${SOAK_SECONDS:-20}
src=$(cd "$top_srcdir/tests/soak" && pwd)
[ -x "$TOLLGATE" ] || { echo "run.sh: $TOLLGATE not built"; exit 1; }

. "$src/../daemon.sh"
tg_dir soak
cpids=""
# the clients go first at exit
tg_cleanup_hook() {
	for p in $cpids; do kill "$p" 2>/dev/null; done
}

rss() { tg_rss d; }
fds() { tg_fds d; }

# More sessions at once than libmilter's listen backlog would refuse.
ulimit -n 65536 2>/dev/null || ulimit -n 4096 2>/dev/null
# The daemon "d" itself, never under TG_WRAPPER: RSS and descriptors are
# read from its /proc entry.
TG_WRAPPER=
tg_start d -c "$src/soak.conf"
fd0=$(fds)
rss0=$(rss)

i=0
while [ $i -lt "$clients" ]; do
	perl "$src/soakclient.pl" "$dir/d/sock" "$secs" >"$dir/c.$i" 2>&1 &
	cpids="$cpids $!"
	i=$((i + 1))
done
# Ten RSS samples over the run.
: >"$dir/rss"
step=$(awk "BEGIN { print $secs / 10 }")
for k in 1 2 3 4 5 6 7 8 9 10; do
	sleep "$step"
	echo "$(rss) $(fds)" >>"$dir/rss"
done
for p in $cpids; do wait "$p"; done
cpids=""

# Sessions end when the clients hang up; libmilter's threads may take a
# moment more to let go of their descriptors.
fds_back() { [ "$(fds)" -le "$fd0" ]; }
tg_wait d fds_back

cat "$dir"/c.* | awk -v clients="$clients" '
	{ for (i = 1; i <= NF; i++) { split($i, kv, "="); t[kv[1]] += kv[2] } }
	END { printf "sessions=%d accepted=%d wrong=%d dropped=%d clients=%d\n",
	    t["sessions"], t["accepted"], t["wrong"], t["dropped"], clients }' \
	    >"$dir/total"
read -r total <"$dir/total"
echo "soak: $clients clients, ${secs}s: $total"
echo "soak: RSS kB / fds: start $rss0 / $fd0; samples:" \
    "$(awk '{ printf "%s/%s ", $1, $2 }' "$dir/rss")"
case $total in
*" wrong=0 dropped=0 "*) ok "no wrong answer, no dropped session" ;;
*) fail "wrong answers or dropped sessions: $total" ;;
esac
s=$(echo "$total" | sed 's/.*sessions=\([0-9]*\).*/\1/')
a=$(echo "$total" | sed 's/.*accepted=\([0-9]*\).*/\1/')
[ "$s" -gt 0 ] && [ "$s" = "$a" ] && ok "every message accepted ($a)" ||
    fail "$a of $s messages accepted"
if tg_sanitized; then
	ok "RSS not judged under ASan (tg_sanitized in daemon.sh)"
elif awk 'NR <= 5 && $1 > a { a = $1 } NR > 5 && $1 > b { b = $1 }
    END { exit !(b <= a * 1.10 + 2048) }' "$dir/rss"; then
	ok "RSS flat"
else
	fail "RSS grew: $(awk '{ printf "%s ", $1 }' "$dir/rss")"
fi
[ "$(fds)" -le "$fd0" ] && ok "file descriptors back to $fd0" ||
    fail "file descriptors: $(fds) after the load, $fd0 before"
grep -qi 'error\|fatal' "$dir/d/log" && fail "errors in the daemon log: \
$(grep -i 'error\|fatal' "$dir/d/log" | head -3)"

tg_stop_ok d && ok "daemon stopped cleanly"
exit $failed
