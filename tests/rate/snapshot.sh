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

dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-snap.XXXXXX") || exit 1
pid=""
failed=0

cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	if [ "${KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
		echo "rate/snapshot.sh: logs kept in $dir"
	else
		rm -rf "$dir"
	fi
}
trap cleanup EXIT
trap 'failed=1; exit 1' INT TERM HUP

fail() {
	echo "FAIL: $*"
	failed=1
}

# start CONF: the daemon, logging to $dir/log (appended)
start() {
	rm -f "$dir/sock"
	started=$(grep -c "starting on" "$dir/log" 2>/dev/null)
	# shellcheck disable=SC2086 # TG_WRAPPER: e.g. valgrind and options
	${TG_WRAPPER:-} "$TOLLGATE" -R -f -d -p "unix:$dir/sock" -c "$1" \
	    2>>"$dir/log" &
	pid=$!
	n=0
	# The socket opens before the snapshot is read: wait for the line
	# that follows both (slow under valgrind).
	while [ ! -S "$dir/sock" ] ||
	    [ "$(grep -c "starting on" "$dir/log")" -le "${started:-0}" ]; do
		if [ $n -ge 100 ] || ! kill -0 "$pid" 2>/dev/null; then
			cat "$dir/log"
			fail "daemon did not start"
			exit 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
}

# stop: SIGTERM, and the daemon must exit 0
stop() {
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	pid=""
	[ $rc = 0 ] || fail "daemon exited with status $rc"
}

# probe LOGIN WANT: one message; WANT is CONTINUE or REPLYCODE
probe() {
	"$MILTERTEST" -D socket="$dir/sock" -D log="$dir/log" -D lib="$lib" \
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
grep -q "counter snapshot $snap: No such file" "$dir/log" ||
    fail "a missing snapshot is not logged"
probe alice@example.org CONTINUE
probe alice@example.org CONTINUE
stop
grep -q "counter snapshot $snap: 1 counters saved" "$dir/log" ||
    fail "no snapshot saved at SIGTERM"
start "$dir/good.conf"
grep -q "counter snapshot $snap: 1 counters restored" "$dir/log" ||
    fail "snapshot not restored"
probe alice@example.org CONTINUE
if probe alice@example.org REPLYCODE; then
	grep -q 'limit=login-msgs action=tempfail .*reply="450 4.7.1' \
	    "$dir/log" || fail "no 450 4.7.1 verdict after the restart"
fi
stop
[ $failed = 0 ] &&
    echo "ok - a restart keeps the quota: the 4th message gets 450 4.7.1"

# 2. A corrupt snapshot: one line, empty counters, the daemon serves.
printf 'TGSNAP\r\n\001\000garbage' >"$snap"
: >"$dir/log"
start "$dir/good.conf"
grep -q "counter snapshot $snap: .*; starting with empty counters" \
    "$dir/log" || fail "a corrupt snapshot is not logged"
probe alice@example.org CONTINUE
stop
[ $failed = 0 ] && echo "ok - a corrupt snapshot: started empty, logged"

# 3. An unwritable snapshot path: logged at shutdown, not fatal.
: >"$dir/log"
start "$dir/unwritable.conf"
probe bob@example.org CONTINUE
stop
grep -q "counter snapshot $dir/no/such/dir/counters: cannot create" \
    "$dir/log" || fail "an unwritable snapshot path is not logged"
[ $failed = 0 ] && echo "ok - an unwritable snapshot path: logged, exit 0"

# 4. SIGTERM with a session open: libmilter does not wait for sessions
# (its worker pool abandons idle ones), so neither does the daemon: it
# stops at once, exit 0, snapshot written; the client is cut off.
rm -f "$snap"
: >"$dir/log"
start "$dir/good.conf"
# The probe's verdict does not matter: its RCPT finds no daemon.
"$MILTERTEST" -D socket="$dir/sock" -D log="$dir/log" -D lib="$lib" \
    -D login=carol@example.org -D hold="sh $src/term-wait.sh $pid $dir/log" \
    -s "$src/probe.lua" >"$dir/out" 2>&1
wait "$pid"
rc=$?
pid=""
[ $rc = 0 ] || fail "daemon exited with status $rc with a session open"
grep -q "term-wait.sh" "$dir/out" && fail "the daemon did not stop"
grep -q "counter snapshot $snap: 0 counters saved" "$dir/log" ||
    fail "no snapshot saved at SIGTERM with a session open"
grep -q "callbacks still run" "$dir/log" &&
    fail "an idle session counted as a running callback"
[ $failed = 0 ] &&
    echo "ok - SIGTERM with a session open: stopped at once, snapshot saved"
exit $failed
