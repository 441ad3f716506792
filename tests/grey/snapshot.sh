#!/bin/sh
# snapshot.sh - greylisting's records in the memory store across a daemon
# restart: a first attempt deferred, SIGTERM (the snapshot says one
# greylist record), down for longer than the delay, started again (one
# record restored), and the retry passes at once: the time the daemon was
# down counted (wall-clock ages), the first attempt was not forgotten.
# milterload reads the reply codes at RCPT. Every daemon is stopped by
# PID. Environment: TOLLGATE, MILTERLOAD, top_srcdir, top_builddir; KEEP=1.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$top_builddir/tests/bench/milterload}
src=$(cd "$top_srcdir/tests/grey" && pwd)
case $MILTERLOAD in
/*)	;;
*)	MILTERLOAD=$(pwd)/$MILTERLOAD ;;
esac

. "$src/../daemon.sh"
tg_dir greysnap
d=$dir/d
snap=$dir/counters
sed "s|@SNAPSHOT@|$snap|" "$src/snapshot.conf.in" >"$dir/grey.conf"

# start: the daemon "d", up once its socket is there and the snapshot
# has been read (the start line follows both)
tg_up() {
	[ -S "$d/sock" ] &&
	    [ "$(grep -c "starting on" "$d/log")" -gt "${started:-0}" ]
}
start() {
	rm -f "$d/sock"
	started=$(grep -c "starting on" "$d/log" 2>/dev/null)
	tg_start d -d -c "$dir/grey.conf"
}

# send EXPECT: one message of the triplet; EXPECT is milterload's
# expectation at RCPT
send() {
	cat >"$dir/scn" <<SCN
client mail.example.net 192.0.2.10
helo mail.example.net
mail <alice@example.net>
rcpt <bob@example.org>
expect $1
body 100
eom
SCN
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$MILTERLOAD" -v -s "unix:$d/sock" -f "$dir/scn" >"$dir/out" 2>&1
}

start
send "451 4.7.1 Greylisted, please try again in 2 seconds" ||
    fail "first attempt: $(cat "$dir/out")"
tg_stop_ok d
grep -q "counter snapshot $snap: 0 counters saved, and 1 greylist records" \
    "$d/log" || fail "the greylist record was not saved at SIGTERM"
sleep 2.2
start
grep -q "counter snapshot $snap: 0 counters restored, and 1 greylist records" \
    "$d/log" || fail "the greylist record was not restored"
send continue || fail "the retry after the restart: $(cat "$dir/out")"
grep -q "greylist mx: passed after its delay" "$d/log" ||
    fail "the pass was not logged"
tg_stop_ok d
[ $failed = 0 ] && echo "ok - a first attempt survives a restart; the" \
    "time down counts towards its delay"
exit $failed
