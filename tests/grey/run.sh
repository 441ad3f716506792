#!/bin/sh
# run.sh - greylisting shared through a real Redis: starts its own
# redis-server on a free loopback port (29200-29299, own directory and
# pidfile, nothing saved) and three tollgate daemons on it (a and b fail
# closed, c fails open), then checks with milterload (which reads the
# reply codes at RCPT): a first attempt on a gets 451 4.7.1, its retry
# too early on b too, after the delay (2 s) the retry passes on b and the
# triplet on a; at end of message the triplets of every recipient go in
# one EVALSHA (Redis's own command statistics say so) and two passes
# allow-list the client for both daemons; tollgatectl shows the records;
# Redis stopped: 451 4.3.0 on a, mail passes on c, logged and counted;
# Redis restarted: greylisting again without a daemon restart. Everything
# started here is stopped by PID on exit. Skips (77) without
# redis-server, redis-cli or a tollgate built with hiredis.
# Environment: TOLLGATE, MILTERLOAD, top_srcdir, top_builddir; KEEP=1.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$top_builddir/tests/bench/milterload}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli)}
src=$(cd "$top_srcdir/tests/grey" && pwd)

for need in "$REDIS_SERVER" "$REDIS_CLI"; do
	if [ -z "$need" ] || [ ! -x "$need" ]; then
		echo "grey/run.sh: redis-server or redis-cli missing; skipped"
		exit 77
	fi
done
case $MILTERLOAD in
/*)	;;
*)	MILTERLOAD=$(pwd)/$MILTERLOAD ;;
esac

. "$src/../daemon.sh"
tg_dir grey
CTL=$(dirname "$TOLLGATE")/tollgatectl

. "$src/../redis.sh"
rcli() {
	"$REDIS_CLI" -h 127.0.0.1 -p "$port" "$@"
}

redis_pick 29200 29299
if [ -z "$port" ]; then
	fail "could not start redis-server on 29200-29299"
	exit 1
fi
ok "redis-server on 127.0.0.1:$port (pid $pid_redis)"

for c in shared open; do
	sed "s/@PORT@/$port/" "$src/$c.conf.in" >"$dir/$c.conf"
done
redis_policy_check grey/run.sh "$dir/shared.conf"

tg_up() {
	[ -S "$dir/$1/sock" ] && [ -S "$dir/$1/ctl" ]
}
start() {
	tg_start "$1" -d -c "$2" -P "$dir/$1/pid" -C "$dir/$1/ctl"
}

# send DAEMON CLIENT FROM EXPECT RCPT... - one message from CLIENT through
# DAEMON; EXPECT is milterload's expectation for each recipient ("451
# 4.7.1*", "continue"), or "eom:EXPECT" for the end of the message (the
# recipients then pass at RCPT). 0 when every expectation was met.
n_scn=0
send() {
	d=$1 ip=$2 from=$3 want=$4
	shift 4
	n_scn=$((n_scn + 1))
	scn=$dir/scn.$n_scn
	{
		echo "client mail.example.net $ip"
		echo "helo mail.example.net"
		echo "mail <$from>"
		for r; do
			echo "rcpt <$r>"
			case $want in
			eom:*)	echo "expect continue" ;;
			*)	echo "expect $want" ;;
			esac
		done
		echo "header Subject: greylisting test $n_scn"
		echo "body 100"
		echo "eom"
		case $want in
		eom:*)	echo "expect ${want#eom:}" ;;
		esac
	} >"$scn"
	# In the ASan build LeakSanitizer would fail milterload for what it
	# keeps until exit; the daemons keep leak checking.
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$MILTERLOAD" -v -s "unix:$dir/$d/sock" -f "$scn" >"$scn.out" 2>&1
}

# check TEXT COMMAND...: ok TEXT when COMMAND succeeds, else fail with
# the last scenario's output
check() {
	_t=$1
	shift
	if "$@"; then
		ok "$_t"
	else
		fail "$_t"
		sed 's/^/    /' "$scn.out"
	fi
}

start a "$dir/shared.conf"
start b "$dir/shared.conf"
start c "$dir/open.conf"

# 1. A first attempt on a, the retry too early on b: both deferred.
check "first attempt on a: 451 4.7.1 with the seconds left" \
    send a 192.0.2.10 alice@example.net \
    "451 4.7.1 Greylisted, please try again in 2 seconds" bob@example.org
check "a retry too early on b: 451 4.7.1" \
    send b 192.0.2.11 alice@example.net "451 4.7.1*" bob@example.org
# 2. After the delay the retry passes on b (the same /24), then on a.
sleep 2.2
check "the retry after the delay passes on the other daemon" \
    send b 192.0.2.12 alice@example.net continue bob@example.org
check "and the triplet passes on the first daemon too" \
    send a 192.0.2.10 alice@example.net continue bob@example.org
out=$("$CTL" -s "$dir/a/ctl" greylist mx show 192.0.2.99 \
    alice@example.net bob@example.org)
case $out in
"mx:greylist|192.0.2.0/24|alice@example.net|bob@example.org: passed,"*)
	ok "tollgatectl show on a: $out" ;;
*)	fail "tollgatectl show: got \"$out\"" ;;
esac
grep -q "greylist mx: first attempt deferred, 2s left" "$dir/a/log" ||
    fail "a did not log the deferral"
grep -q "greylist mx: passed after its delay" "$dir/b/log" ||
    fail "b did not log the pass"

# 3. At end of message: one round trip for every recipient's triplet;
# the message is deferred as a whole, its retry passes as a whole, and
# two passes allow-list 198.51.100.0/24 for both daemons.
rcli CONFIG RESETSTAT >/dev/null
check "eom: a message of 3 recipients deferred as a whole" \
    send a 198.51.100.5 x@eom.example "eom:451 4.7.1*" \
    r1@example.org r2@example.org r3@example.org
# The statistics count the script's own calls too: one EVALSHA, the
# script run once (its one TIME), and no command of another kind than
# those the script calls.
calls=$(rcli INFO commandstats | tr -d '\r' |
    sed -n 's/^cmdstat_\([a-z]*\):calls=\([0-9]*\),.*/\1=\2/p' | sort |
    tr '\n' ' ')
case " $calls" in
*" evalsha=1 "*" time=1 "*)
	other=$(echo "$calls" | tr ' ' '\n' | sed 's/=.*//' |
	    grep -v -x -e evalsha -e time -e hget -e hmget -e hset \
	    -e pexpire -e hincrby -e del -e '')
	if [ -z "$other" ]; then
		ok "eom: 3 triplets and the allow entry in one EVALSHA ($calls)"
	else
		fail "eom: Redis saw other commands: $calls"
	fi ;;
*)	fail "eom: Redis saw \"$calls\", want one evalsha" ;;
esac
sleep 2.2
check "eom: the retry passes on b" \
    send b 198.51.100.6 x@eom.example eom:continue \
    r1@example.org r2@example.org r3@example.org
check "eom: the client's network, allow-listed, passes a new triplet" \
    send a 198.51.100.7 y@eom.example eom:continue new@example.org
out=$("$CTL" -s "$dir/b/ctl" greylist whole show client 198.51.100.1)
case $out in
"whole:greylist-allow|198.51.100.0/24: allowed,"*)
	ok "tollgatectl show client on b: $out" ;;
*)	fail "tollgatectl show client: got \"$out\"" ;;
esac
"$CTL" -s "$dir/a/ctl" greylist mx list >"$dir/list.out" ||
    fail "tollgatectl greylist list"
grep -q "^1 record(s) shown$" "$dir/list.out" ||
    fail "tollgatectl list: $(cat "$dir/list.out")"
"$CTL" -s "$dir/a/ctl" greylist mx delete 192.0.2.1 alice@example.net \
    bob@example.org >/dev/null || fail "tollgatectl delete"
check "a deleted triplet is greylisted again (on the other daemon)" \
    send b 192.0.2.10 alice@example.net "451 4.7.1*" bob@example.org

# 4. Redis stopped: a fails closed (451 4.3.0), c lets mail through.
redis_stop
check "redis down, on-error tempfail: 451 4.3.0" \
    send a 192.0.2.20 down@example.net "451 4.3.0*" bob@example.org
check "redis down, on-error skip: the mail passes" \
    send c 192.0.2.20 down@example.net continue bob@example.org
grep -q "greylist mx: redis store unavailable; tempfail" "$dir/a/log" ||
    fail "redis down: a did not log it"
grep -q "greylist mx: redis store unavailable; not greylisted, mail passes" \
    "$dir/c/log" || fail "redis down: c did not log it"
m=$("$CTL" -s "$dir/c/ctl" metrics |
    sed -n 's/^tollgate_greylist_checks_total{result="store_failed"} //p')
[ "${m:-0}" -ge 1 ] && ok "redis down: counted ($m)" ||
    fail "redis down: the metric says \"$m\""

# 5. Redis back (empty): greylisting again, without a daemon restart.
redis_start "$port" || { fail "redis did not restart on $port"; exit 1; }
n=0
until send a 192.0.2.30 back@example.net "451 4.7.1*" bob@example.org; do
	n=$((n + 1))
	if [ $n -ge 60 ]; then
		fail "daemon a did not reconnect to redis"
		sed 's/^/    /' "$scn.out"
		break
	fi
	sleep 0.25
done
sleep 2.2
check "redis restarted: the retry passes on b" \
    send b 192.0.2.30 back@example.net continue bob@example.org
grep -q "redis 127.0.0.1:$port: back" "$dir/a/log" ||
    fail "reconnection not logged"

# The daemons stop cleanly (exit 0: under the sanitizers, no leak).
tg_term a b c
for d in a b c; do
	tg_stop_ok $d
done
[ $failed = 0 ] && ok "daemons stopped cleanly"
exit $failed
