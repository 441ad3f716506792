#!/bin/sh
# snapshot.sh - the memory store's snapshot across a daemon restart, over
# the milter protocol: two of three messages of a login, SIGTERM, start
# again, and the quota still holds (the 4th message gets 450 4.7.1). Also
# a corrupt snapshot (start empty, logged) and an unwritable snapshot path
# (logged at shutdown, exit status still 0). Unix sockets only; every
# daemon is stopped by PID. Skips (77) without miltertest.
# Environment: TOLLGATE, MILTERTEST, top_srcdir, top_builddir; KEEP=1.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
src=$(cd "$top_srcdir/tests/rate" && pwd)
lib=$(cd "$top_srcdir/tests/milter" && pwd)/lib.lua

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "rate/snapshot.sh: miltertest missing; skipped"
	exit 77
fi

. "$src/../daemon.sh"
tg_dir snap
# The daemon's files: $d/sock and its log $d/log (appended across
# restarts; emptied by the steps that look at one start only).
d=$dir/d

# start CONF: the daemon "d". The old socket goes first: as root, a clean
# stop leaves it behind (libmilter removes it only for other users). The
# socket opens before the snapshot is read: the daemon is up at the start
# line that follows both (slow under valgrind).
tg_up() {
	[ -S "$d/sock" ] &&
	    [ "$(grep -c "starting on" "$d/log")" -gt "${started:-0}" ]
}
start() {
	rm -f "$d/sock"
	started=$(grep -c "starting on" "$d/log" 2>/dev/null)
	tg_start d -d -c "$1"
}

# probe LOGIN WANT: one message; WANT is CONTINUE or REPLYCODE
probe() {
	"$MILTERTEST" -D socket="$d/sock" -D log="$d/log" -D lib="$lib" \
	    -D login="$1" -s "$src/probe.lua" >"$dir/out" 2>&1
	if ! grep -q "result=$2" "$dir/out"; then
		fail "message of $1: want $2, got: $(cat "$dir/out")"
		return 1
	fi
}

snap="$dir/counters"
sed "s|@SNAPSHOT@|$snap|" "$src/snapshot.conf.in" >"$dir/good.conf"
sed "s|@SNAPSHOT@|$dir/no/such/dir/counters|" "$src/snapshot.conf.in" \
    >"$dir/unwritable.conf"

# 1. Near the limit, restart, and the limit still holds.
start "$dir/good.conf"
grep -q "counter snapshot $snap: No such file" "$d/log" ||
    fail "a missing snapshot is not logged"
probe alice@example.org CONTINUE
probe alice@example.org CONTINUE
tg_stop_ok d
grep -q "counter snapshot $snap: 1 counters saved" "$d/log" ||
    fail "no snapshot saved at SIGTERM"
start "$dir/good.conf"
grep -q "counter snapshot $snap: 1 counters restored" "$d/log" ||
    fail "snapshot not restored"
probe alice@example.org CONTINUE
if probe alice@example.org REPLYCODE; then
	grep -q 'limit=login-msgs action=tempfail .*reply="450 4.7.1' \
	    "$d/log" || fail "no 450 4.7.1 verdict after the restart"
fi
tg_stop_ok d
[ $failed = 0 ] &&
    echo "ok - a restart keeps the quota: the 4th message gets 450 4.7.1"

# 2. A corrupt snapshot: one line, empty counters, the daemon serves.
printf 'TGSNAP\r\n\001\000garbage' >"$snap"
: >"$d/log"
start "$dir/good.conf"
grep -q "counter snapshot $snap: .*; starting with empty counters" \
    "$d/log" || fail "a corrupt snapshot is not logged"
probe alice@example.org CONTINUE
tg_stop_ok d
[ $failed = 0 ] && echo "ok - a corrupt snapshot: started empty, logged"

# 3. An unwritable snapshot path: logged at shutdown, not fatal.
: >"$d/log"
start "$dir/unwritable.conf"
probe bob@example.org CONTINUE
tg_stop_ok d
grep -q "counter snapshot $dir/no/such/dir/counters: .*No such file.*; \
counters not saved" "$d/log" || fail "an unwritable snapshot path is not logged"
[ $failed = 0 ] && echo "ok - an unwritable snapshot path: logged, exit 0"

# 4. SIGTERM with a session open: libmilter does not wait for sessions
# (its worker pool abandons idle ones), so neither does the daemon: it
# stops at once, exit 0, snapshot written; the client is cut off.
rm -f "$snap"
: >"$d/log"
start "$dir/good.conf"
# The probe's verdict does not matter: its RCPT finds no daemon.
"$MILTERTEST" -D socket="$d/sock" -D log="$d/log" -D lib="$lib" \
    -D login=carol@example.org -D hold="sh $src/term-wait.sh $pid_d $d/log" \
    -s "$src/probe.lua" >"$dir/out" 2>&1
# term-wait.sh sent the SIGTERM: only wait
tg_stop d 0
[ $rc = 0 ] || fail "daemon exited with status $rc with a session open"
grep -q "term-wait.sh" "$dir/out" && fail "the daemon did not stop"
grep -q "counter snapshot $snap: 0 counters saved" "$d/log" ||
    fail "no snapshot saved at SIGTERM with a session open"
grep -q "callbacks still run" "$d/log" &&
    fail "an idle session counted as a running callback"
[ $failed = 0 ] &&
    echo "ok - SIGTERM with a session open: stopped at once, snapshot saved"
exit $failed
