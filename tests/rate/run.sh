#!/bin/sh
# run.sh - rate limits against a real Redis: starts its own redis-server on
# a free loopback port (29000-29099, own directory and pidfile, nothing
# saved), two tollgate daemons sharing it, and checks that together they
# hold a limit exactly under a real race (8 clients at once), that the
# (N+1)th message of a login is refused, and both failure modes while
# Redis is stopped and restarted. Everything
# started here is stopped by PID on exit. Skips (77) without redis-server,
# miltertest, or a tollgate built with hiredis.
# Environment: TOLLGATE, MILTERTEST, top_srcdir, top_builddir; KEEP=1.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
src=$(cd "$top_srcdir/tests/rate" && pwd)
lib=$(cd "$top_srcdir/tests/milter" && pwd)/lib.lua

for need in "$MILTERTEST" "$REDIS_SERVER"; do
	if [ -z "$need" ] || [ ! -x "$need" ]; then
		echo "rate/run.sh: miltertest or redis-server missing; skipped"
		exit 77
	fi
done

. "$src/../daemon.sh"
tg_dir rate
CTL=$(dirname "$TOLLGATE")/tollgatectl

. "$src/../redis.sh"
redis_pick 29000 29099
if [ -z "$port" ]; then
	echo "rate/run.sh: could not start redis-server on 29000-29099"
	failed=1
	exit 1
fi
echo "ok - redis-server on 127.0.0.1:$port (pid $pid_redis)"

for c in shared open; do
	sed "s/@PORT@/$port/" "$src/$c.conf.in" >"$dir/$c.conf"
done
redis_policy_check rate/run.sh "$dir/shared.conf"

# start NAME CONF: a daemon in $dir/NAME with a control socket; up once
# both sockets are there
tg_up() {
	[ -S "$dir/$1/sock" ] && [ -S "$dir/$1/ctl" ]
}
start() {
	tg_start "$1" -d -c "$2" -P "$dir/$1/pid" -C "$dir/$1/ctl"
}

# mt NAME SCRIPT [VAR=VALUE...]: miltertest against daemon NAME; output
# in $dir/out.NAME
mt() {
	d=$1
	s=$2
	shift 2
	defs=""
	for kv in "$@"; do
		defs="$defs -D $kv"
	done
	# shellcheck disable=SC2086 # the -D list is split on purpose
	"$MILTERTEST" -D socket="$dir/$d/sock" -D log="$dir/$d/log" \
	    -D lib="$lib" -D srcdir="$src" $defs -s "$src/$s" \
	    >"$dir/out.$d" 2>&1
}

start a "$dir/shared.conf"
start b "$dir/shared.conf"
start c "$dir/open.conf"

# 1. A real race: 8 clients at once, 4 on each daemon, each a message of
# 10 recipients for one login, against a limit of 20 recipients. Every
# client opens its session up to MAIL FROM, then all send their
# recipients together (race.lua waits for $dir/go): together they must
# get exactly 20 through, whichever daemon each went to.
clients=8
jobs=""
i=1
while [ $i -le $clients ]; do
	d=a
	[ $((i % 2)) = 0 ] && d=b
	"$MILTERTEST" -D socket="$dir/$d/sock" -D log="$dir/$d/log" \
	    -D lib="$lib" -D login=burst@example.org -D rcpts=10 \
	    -D ready="$dir/ready." -D id=$i -D go="$dir/go" \
	    -s "$src/race.lua" >"$dir/race.$i" 2>&1 &
	jobs="$jobs $!"
	i=$((i + 1))
done
n=0
while [ "$(find "$dir" -maxdepth 1 -name 'ready.*' | wc -l)" -lt $clients ]
do
	n=$((n + 1))
	[ $n -ge 150 ] && break
	sleep 0.1
done
: >"$dir/go"
bad=0
for j in $jobs; do
	wait "$j" || bad=1
done
na=0
nb=0
i=1
while [ $i -le $clients ]; do
	got=$(sed -n 's/^accepted=//p' "$dir/race.$i")
	if [ -z "$got" ]; then
		bad=1
	elif [ $((i % 2)) = 0 ]; then
		nb=$((nb + got))
	else
		na=$((na + got))
	fi
	i=$((i + 1))
done
if [ $bad != 0 ]; then
	cat "$dir"/race.*
	fail "race clients failed"
elif [ $((na + nb)) -ne 20 ]; then
	fail "8 concurrent clients on two daemons got $na + $nb recipients \
through, want 20"
else
	echo "ok - 8 concurrent clients on two daemons: exactly 20 accepted \
($na on a + $nb on b)"
fi
out=$("$CTL" -s "$dir/b/ctl" show login-rcpts burst@example.org)
if [ "$out" = "login-rcpts:recipients:3600|burst@example.org: 20 of 20" ]
then
	echo "ok - tollgatectl show: $out"
else
	fail "tollgatectl show: got \"$out\""
fi
grep -q "rule=rcpt-quota limit=login-rcpts action=tempfail" \
    "$dir/a/log" "$dir/b/log" ||
    fail "no verdict line naming the limit"

# 2. Reset through the control socket: the login may send again.
# The race also committed one message per client that got a recipient
# through: free the message quota too.
for lim in login-rcpts login-msgs; do
	"$CTL" -s "$dir/a/ctl" reset $lim burst@example.org >/dev/null ||
	    fail "tollgatectl reset $lim"
done
mt b probe.lua login=burst@example.org
grep -q "result=CONTINUE" "$dir/out.b" && echo "ok - reset frees the quota" ||
    fail "after reset: $(cat "$dir/out.b")"
"$CTL" -s "$dir/a/ctl" show nosuch x >/dev/null 2>&1
[ $? = 1 ] || fail "tollgatectl: an unknown limit must exit 1"

# 3. The (N+1)th message of a login, across both daemons.
if mt a messages.lua login=msgs@example.org socket_b="$dir/b/sock"; then
	cat "$dir/out.a"
else
	cat "$dir/out.a"
	fail "messages.lua"
fi

# 4. Redis stopped: fail closed (451 4.3.0) on a and b, open on c.
redis_stop
mt a probe.lua login=down@example.org
grep -q "result=REPLYCODE" "$dir/out.a" ||
    fail "redis down, on-error tempfail: $(cat "$dir/out.a")"
grep -q 'limit=login-msgs action=tempfail .*reply="451 4.3.0' "$dir/a/log" ||
    fail "redis down: no 451 4.3.0 verdict in the log"
grep -q "redis 127.0.0.1:$port: .*retrying with backoff" "$dir/a/log" ||
    fail "redis down: not logged"
mt c probe.lua login=down@example.org
grep -q "result=CONTINUE" "$dir/out.c" ||
    fail "redis down, on-error skip: $(cat "$dir/out.c")"
grep -q "limit login-rcpts: redis store unavailable; not counted" \
    "$dir/c/log" || fail "redis down, skip: not logged"
[ $failed = 0 ] && echo "ok - redis down: a fails closed, c fails open"

# 5. Redis back: the daemons reconnect by themselves (backoff <= 5s).
redis_start "$port" || { fail "redis did not restart on $port"; exit 1; }
n=0
until mt a probe.lua login=back@example.org &&
    grep -q "result=CONTINUE" "$dir/out.a"; do
	n=$((n + 1))
	if [ $n -ge 60 ]; then
		fail "daemon a did not reconnect to redis"
		break
	fi
	sleep 0.25
done
grep -q "redis 127.0.0.1:$port: back" "$dir/a/log" ||
    fail "reconnection not logged"
out=$("$CTL" -s "$dir/b/ctl" show login-rcpts back@example.org)
[ "$out" = "login-rcpts:recipients:3600|back@example.org: 1 of 20" ] ||
    fail "after restart, b sees \"$out\""
[ $failed = 0 ] && echo "ok - redis restarted: reconnected, counting again"

# The daemons stop cleanly (exit 0: under the sanitizers, no leak).
tg_term a b c
for d in a b c; do
	tg_stop_ok $d
done
[ $failed = 0 ] && echo "ok - daemons stopped cleanly"
exit $failed
