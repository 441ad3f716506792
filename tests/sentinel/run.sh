#!/bin/sh
# run.sh - shared state through a Redis failover: starts its own Redis
# master, a replica and three Sentinels on free loopback ports
# (28100-28199; short Sentinel timeouts, nothing saved) and two tollgate
# daemons whose store redis names the Sentinels (and, first, a port where
# nothing listens and a Redis that is no Sentinel). Both daemons are
# loaded with milterload in small batches; the master is killed (SIGKILL,
# by PID) mid-run. Checks: both daemons move to the new master within the
# Sentinel failover time plus one backoff step, with a log line and the
# tollgate_store_master_switches_total metric; every reply in the gap is
# the configured failure (451 4.3.0), none hangs (milterload reports no
# error or timeout); afterwards both count on the new master, the limit
# of N admitted at most N plus the writes the failover lost (measured),
# and greylisting works across the daemons. Then the old master comes
# back, made a replica by the Sentinels: nothing writes to it (its
# command statistics). Everything started here is stopped by PID on
# exit. Skips (77) without redis-server, redis-cli or a tollgate built
# with hiredis; redis-sentinel is redis-server --sentinel when missing.
# Environment: TOLLGATE, MILTERLOAD, top_srcdir, top_builddir; KEEP=1.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$top_builddir/tests/bench/milterload}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
REDIS_CLI=${REDIS_CLI:-$(command -v redis-cli)}
REDIS_SENTINEL=${REDIS_SENTINEL:-$(command -v redis-sentinel)}
src=$(cd "$top_srcdir/tests/sentinel" && pwd)
N=5

for need in "$REDIS_SERVER" "$REDIS_CLI"; do
	if [ -z "$need" ] || [ ! -x "$need" ]; then
		echo "sentinel/run.sh: redis-server or redis-cli missing" \
		    "(tools/install-deps.sh installs redis-server and" \
		    "redis-sentinel); skipped"
		exit 77
	fi
done
if ! "$REDIS_SERVER" --version | grep -q 'v=[67]\.'; then
	echo "sentinel/run.sh: redis-server 6 or 7 needed (ROLE, TIME in" \
	    "scripts); skipped"
	exit 77
fi
case $MILTERLOAD in
/*)	;;
*)	MILTERLOAD=$(pwd)/$MILTERLOAD ;;
esac

. "$src/../daemon.sh"
. "$src/../redis.sh"
tg_dir sentinel
CTL=$(dirname "$TOLLGATE")/tollgatectl

rcli() {
	_p=$1
	shift
	"$REDIS_CLI" -h 127.0.0.1 -p "$_p" "$@" 2>/dev/null | tr -d '\r'
}

# next_port: the next port of 28100-28199 after $p that no one answers
# on (the server started on it says whether it was really free)
p=28099
next_port() {
	while [ $p -lt 28199 ]; do
		p=$((p + 1))
		if ! "$REDIS_CLI" -h 127.0.0.1 -p $p PING >/dev/null 2>&1; then
			return 0
		fi
	done
	return 1
}

# redis NAME [ARGS...]: a Redis server on the next free port (port_NAME)
redis() {
	_n=$1
	shift
	while next_port; do
		if redis_spawn "$_n" $p "$@"; then
			eval "port_$_n=$p"
			return 0
		fi
	done
	return 1
}

# sentinel NAME: a Sentinel of the master on the next free port
sentinel() {
	_n=$1
	while next_port; do
		mkdir -p "$dir/$_n"
		: >"$dir/$_n/log"
		cat >"$dir/$_n/sentinel.conf" <<-EOC
		port $p
		bind 127.0.0.1
		daemonize no
		dir $dir/$_n
		sentinel monitor tgmaster 127.0.0.1 $port_m 2
		sentinel down-after-milliseconds tgmaster 1000
		sentinel failover-timeout tgmaster 4000
		sentinel parallel-syncs tgmaster 1
		EOC
		if [ -n "$REDIS_SENTINEL" ]; then
			tg_spawn "$_n" "$REDIS_SENTINEL" "$dir/$_n/sentinel.conf"
		else
			tg_spawn "$_n" "$REDIS_SERVER" \
			    "$dir/$_n/sentinel.conf" --sentinel
		fi
		if tg_wait "$_n" tg_logged "$_n" "+monitor master"; then
			eval "port_$_n=$p"
			return 0
		fi
		tg_stop "$_n"
	done
	return 1
}

redis m || { fail "no free port for the master in 28100-28199"; exit 1; }
redis r --replicaof 127.0.0.1 "$port_m" ||
    { fail "no free port for the replica"; exit 1; }
for s in s1 s2 s3; do
	sentinel $s || { fail "cannot start Sentinel $s"; exit 1; }
done
next_port || { fail "no free port left"; exit 1; }
port_down=$p
# fake NAME MODE ARGS...: a hostile Sentinel (fakesentinel.py) on the
# next free port
fake() {
	_n=$1
	shift
	while next_port; do
		mkdir -p "$dir/$_n"
		: >"$dir/$_n/log"
		tg_spawn "$_n" python3 "$src/fakesentinel.py" $p "$@"
		if tg_wait "$_n" tg_logged "$_n" "^ready"; then
			eval "port_$_n=$p"
			return 0
		fi
		tg_stop "$_n"
	done
	return 1
}
fake garbage garbage || { fail "cannot start the garbage Sentinel"; exit 1; }
fake liar liar 127.0.0.1 "$port_r" ||
    { fail "cannot start the lying Sentinel"; exit 1; }
i=0
until rcli "$port_r" INFO replication | grep -q master_link_status:up; do
	i=$((i + 1))
	[ $i -lt 100 ] || { fail "the replica does not sync"; exit 1; }
	sleep 0.1
done
ok "master :$port_m, replica :$port_r, Sentinels :$port_s1 :$port_s2" \
    ":$port_s3 (nothing on :$port_down; garbage :$port_garbage, a liar" \
    "naming the replica :$port_liar)"

sed -e "s/@S1@/$port_s1/" -e "s/@S2@/$port_s2/" -e "s/@S3@/$port_s3/" \
    -e "s/@DOWN@/$port_down/" -e "s/@REPLICA@/$port_r/" -e "s/@N@/$N/" \
    -e "s/@GARBAGE@/$port_garbage/" -e "s/@LIAR@/$port_liar/" \
    "$src/shared.conf.in" >"$dir/shared.conf"
redis_policy_check sentinel/run.sh "$dir/shared.conf"

tg_up() {
	[ -S "$dir/$1/sock" ] && [ -S "$dir/$1/ctl" ]
}
tg_start a -d -c "$dir/shared.conf" -P "$dir/a/pid" -C "$dir/a/ctl"
tg_start b -d -c "$dir/shared.conf" -P "$dir/b/pid" -C "$dir/b/ctl"

# scn FILE FROM RCPT-EXPECT: a scenario of one message
scn() {
	{
		echo "client mail.example.net 192.0.2.10"
		echo "helo mail.example.net"
		echo "mail <$2>"
		echo "rcpt <bob@example.org>"
		[ -n "$3" ] && echo "expect $3"
		echo "body 100"
		echo "eom"
	} >"$dir/$1.scn"
}
scn load load@load.example ""
scn cap cap@cap.example ""

# mload DAEMON SCN N: N messages in one connection; the report on stdout
mload() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$MILTERLOAD" -s "unix:$dir/$1/sock" -f "$dir/$2.scn" -n "$3" \
	    -t 10
}

# counter LIMIT PORT [SENDER]: the sum of the slots of LIMIT's counter of
# SENDER (load@load.example) on the server at PORT (every limit counts
# every message, each sender under its own key)
counter() {
	for _k in $(rcli "$2" KEYS "tgs:$1:*${3:-load@load.example}*"); do
		rcli "$2" HVALS "$_k"
	done | awk '{ s += $1 } END { print s + 0 }'
}

# 1. Both daemons find the master past the hostile Sentinels (a first
# message may meet the backoff after the liar's replica), then count on
# it.
scn prime prime@prime.example ""
for d in a b; do
	i=0
	until mload $d prime 1 | grep -q "RESULT msgs=1 ok=1"; do
		i=$((i + 1))
		[ $i -lt 50 ] || { fail "$d never reached the master"; exit 1; }
		sleep 0.1
	done
done
ok "both daemons found the master past the down, garbage and lying" \
    "Sentinels"
grep -q "is not a master (ROLE: slave)" "$dir/a/log" &&
    ok "the replica the liar named was refused (ROLE)" ||
    fail "a did not check ROLE against the liar's replica"
mload a load 5 >"$dir/warm.a"
mload b load 5 >"$dir/warm.b"
v=$(counter load "$port_m")
if [ "$v" = 10 ]; then
	ok "both daemons count on the master (10)"
else
	fail "the master counted $v of 10"
	cat "$dir/warm.a" "$dir/warm.b"
fi

# 2. Load from both daemons in batches of 4 (load) and 1 (cap) messages,
# each batch logged as "START END OK REFUSED ERRORS replies...".
loop() {
	while [ ! -f "$dir/stop" ]; do
		for s in load cap; do
			n=4
			[ $s = cap ] && n=1
			t0=$(date +%s.%N)
			out=$(mload "$1" $s $n)
			t1=$(date +%s.%N)
			res=$(echo "$out" | sed -n 's/^RESULT msgs=[0-9]* ok=\([0-9]*\) refused=\([0-9]*\) errors=\([0-9]*\).*/\1 \2 \3/p')
			rep=$(echo "$out" | sed -n 's/^  [a-z]* *[0-9]*  //p' |
			    grep -v -x -e continue -e accept | sort -u |
			    tr '\n' '|')
			echo "$s $t0 $t1 ${res:-0 0 1} |$rep"
		done
	done >"$dir/loop.$1"
}
loop a &
pid_la=$!
loop b &
pid_lb=$!
tg_cleanup_hook() {
	: >"$dir/stop"
	[ -n "$pid_la" ] && wait "$pid_la"
	[ -n "$pid_lb" ] && wait "$pid_lb"
	pid_la="" pid_lb=""
}
sleep 2
t_kill=$(date +%s.%N)
tg_stop m KILL
ok "master killed (SIGKILL) at $t_kill"

# The Sentinels elect the replica: their failover time.
i=0
until [ "$(rcli "$port_s1" SENTINEL get-master-addr-by-name tgmaster |
    tail -n 1)" = "$port_r" ]; do
	i=$((i + 1))
	[ $i -lt 300 ] || { fail "no failover within 30 s"; exit 1; }
	sleep 0.1
done
t_switch=$(date +%s.%N)
ok "the Sentinels named the replica after" \
    "$(echo "$t_switch $t_kill" | awk '{ printf "%.1f", $1 - $2 }') s"
# Load goes on until both daemons count again, at most 8 s.
i=0
while [ $i -lt 80 ]; do
	n=0
	for d in a b; do
		awk -v t="$t_switch" '$1 == "load" && $2 > t && $4 > 0' \
		    "$dir/loop.$d" | grep -q . && n=$((n + 1))
	done
	[ $n = 2 ] && break
	i=$((i + 1))
	sleep 0.1
done
sleep 1
tg_cleanup_hook

# Each daemon: the first batch that counted after the kill started
# within the failover time plus one backoff step (5 s at most: the
# +switch-master message resets it); every refusal in the gap is 451
# 4.3.0 (a batch of four may carry more than one text with that code: one
# run saw two); no milterload error (timeout, broken session).
for d in a b; do
	first=$(awk -v t="$t_kill" '$1 == "load" && $2 > t && $4 > 0 {
	    print $3; exit }' "$dir/loop.$d")
	if [ -z "$first" ]; then
		fail "$d never counted after the failover"
		continue
	fi
	late=$(echo "$first $t_switch" | awk '{ printf "%.1f", $1 - $2 }')
	if echo "$late" | awk '{ exit !($1 <= 5.0) }'; then
		ok "$d counts again $late s after the Sentinels switched"
	else
		fail "$d counted again only $late s after the switch"
	fi
	bad=$(awk '$6 != 0 { print }' "$dir/loop.$d")
	[ -z "$bad" ] && ok "$d: no milterload error or timeout" ||
	    fail "$d: errors: $bad"
	bad=$(awk '$1 == "load" && $5 > 0 &&
	    $0 !~ / (\|451 4\.3\.0 [^|]*)+\|$/' "$dir/loop.$d")
	gap=$(awk '$1 == "load" && $5 > 0' "$dir/loop.$d" | wc -l)
	if [ -z "$bad" ] && [ "$gap" -gt 0 ]; then
		ok "$d: every refusal in the gap ($gap batches) is 451 4.3.0"
	else
		fail "$d: refusals other than 451 4.3.0 (or none): $bad"
	fi
	n=$(grep -c "redis sentinel:tgmaster: master switched from 127.0.0.1:$port_m to 127.0.0.1:$port_r" \
	    "$dir/$d/log")
	[ "$n" = 1 ] && ok "$d logged the switch once" ||
	    fail "$d logged the switch $n times"
	m=$("$CTL" -s "$dir/$d/ctl" metrics |
	    sed -n 's/^tollgate_store_master_switches_total //p')
	[ "$m" = 1 ] && ok "$d: tollgate_store_master_switches_total 1" ||
	    fail "$d: tollgate_store_master_switches_total \"$m\""
done

# What the failover lost: messages the daemons counted (accepted) minus
# the new master's counter, for both limits (the cap counter holds only
# admitted messages: a refusal adds nothing). The bound checked: no more
# than was admitted in the last second before the kill (the replica's
# lag on loopback is far below that), and the new master's cap counter
# itself never above N.
admitted=$(cat "$dir/loop.a" "$dir/loop.b" | awk '$1 == "load" {
    s += $4 } END { print s + 10 }')
v=$(counter load "$port_r" load@load.example)
capped=$(cat "$dir/loop.a" "$dir/loop.b" | awk '$1 == "cap" {
    s += $4 } END { print s + 0 }')
vc=$(counter cap "$port_r" cap@cap.example)
lost=$((admitted - v + capped - vc))
last=$(cat "$dir/loop.a" "$dir/loop.b" | awk -v t="$t_kill" '
    $3 > t - 1 && $2 < t { s += $4 } END { print s + 0 }')
ok "the failover lost $lost of $((admitted + capped)) counts ($last" \
    "admitted in batches of the last second before the kill)"
[ $((admitted - v)) -ge 0 ] && [ $((capped - vc)) -ge 0 ] ||
    fail "the new master has more counts than admitted"
[ $lost -le "$last" ] || fail "more lost than the last second's counts"
bad=$(cat "$dir/loop.a" "$dir/loop.b" | awk '$1 == "cap" && $5 > 0 &&
    $0 !~ / \|550 5\.7\.1 cap reached\|$/ &&
    $0 !~ / (\|451 4\.3\.0 [^|]*)+\|$/')
[ -z "$bad" ] || fail "cap: unexpected replies: $bad"
if [ "$vc" -le $N ] && [ "$capped" -le $((N + capped - vc)) ]; then
	ok "limit of $N: $capped admitted (bound $N + $((capped - vc))" \
	    "lost for its key; the new master counts $vc)"
else
	fail "limit of $N: $capped admitted, the new master counts $vc"
fi

# Both daemons count on the new master.
mload a load 5 >"$dir/after.a"
mload b load 5 >"$dir/after.b"
v2=$(counter load "$port_r")
[ $((v2 - v)) = 10 ] && ok "both daemons count on the new master" ||
    fail "the new master counted $((v2 - v)) of 10"

# Greylisting on the new master: a first attempt on a, its retry on b.
scn g1 x@grey.example "451 4.7.1*"
scn g2 x@grey.example continue
mload a g1 1 >"$dir/g1.out" && grep -q "expect_fail=0" "$dir/g1.out" &&
    ok "greylisting on the new master: first attempt deferred on a" ||
    fail "greylisting: $(cat "$dir/g1.out")"
sleep 1.2
mload b g2 1 >"$dir/g2.out" && grep -q "expect_fail=0" "$dir/g2.out" &&
    ok "greylisting: its retry passes on b" ||
    fail "greylisting retry: $(cat "$dir/g2.out")"

# 3. The old master comes back: the Sentinels make it a replica, and
# nothing writes to it.
redis_spawn m2 "$port_m" || fail "the old master did not restart on $port_m"
i=0
until rcli "$port_m" INFO replication | grep -q master_link_status:up; do
	i=$((i + 1))
	[ $i -lt 150 ] || { fail "the old master was not made a replica"; break; }
	sleep 0.1
done
[ $i -lt 150 ] && ok "the old master is back as a replica"
rcli "$port_m" CONFIG RESETSTAT >/dev/null
mload a load 10 >/dev/null
mload b load 10 >/dev/null
mload a cap 1 >/dev/null
calls=$(rcli "$port_m" INFO commandstats |
    sed -n 's/^cmdstat_\([a-z|]*\):calls=\([0-9]*\),.*/\1=\2/p' | tr '\n' ' ')
errs=$(rcli "$port_m" INFO errorstats | grep '^errorstat' | tr '\n' ' ')
v3=$(counter load "$port_r")
case " $calls" in
*evalsha*|*" eval="*)
	fail "the old master (a replica) got scripts: $calls" ;;
*)	if [ $((v3 - v2)) = 20 ] && [ -z "$errs" ]; then
		ok "nothing writes to the old master (commands: $calls)"
	else
		fail "new master counted $((v3 - v2)) of 20; replica errors: $errs"
	fi ;;
esac

tg_term a b
for d in a b; do
	tg_stop_ok $d
done
[ $failed = 0 ] && ok "daemons stopped cleanly"
exit $failed
