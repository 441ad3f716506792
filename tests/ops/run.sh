#!/bin/sh
# run.sh - operations tests: the global dry run (set dry-run yes, -D), the
# log level, and the metrics (scraped over HTTP with curl and read with
# tollgatectl metrics) after a few sessions sent with miltertest. Daemons
# run in the foreground and are stopped by PID (also on failure). The
# metrics listener takes a port in 27400-27899; a down Redis store is
# simulated with a port where nothing listens (27001). Skips (77) without
# miltertest. Environment: TOLLGATE, MILTERTEST, CURL, top_srcdir,
# top_builddir (tests/Makefile.am). KEEP=1 keeps the temporary directory.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
CURL=${CURL:-$(command -v curl)}
src=$(cd "$top_srcdir/tests/ops" && pwd)
lib=$(cd "$top_srcdir/tests/milter" && pwd)/lib.lua

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "ops/run.sh: miltertest not installed (apt-get install miltertest)"
	exit 77
fi

. "$src/../daemon.sh"
tg_dir ops
CTL=$(dirname "$TOLLGATE")/tollgatectl

# policy NAME SETTINGS: $dir/NAME/policy.conf = settings + the rules
redis=0
probe="$dir/probe.conf"
printf 'store redis { address "127.0.0.1:27001" timeout 100ms }\n' >"$probe"
"$TOLLGATE" -n -c "$probe" >/dev/null 2>&1 && redis=1
policy() {
	mkdir -p "$dir/$1"
	{
		printf '%s\n' "$2"
		if [ $redis = 1 ]; then
			cat "$probe"
			printf 'limit login-rcpts { key sasl.login '
			printf 'count recipients max 100 per 1h store redis }\n'
		fi
		printf 'include "%s/rules.inc"\n' "$src"
	} >"$dir/$1/policy.conf"
}

# start NAME FLAGS...: the daemon on $dir/NAME/sock; waits for the socket
# (a daemon that does not start fails the test)
start() {
	name=$1
	shift
	tg_start "$name" -c "$dir/$name/policy.conf" "$@"
}

run() {
	if "$MILTERTEST" -D socket="$dir/$1/sock" -D log="$dir/$1/log" \
	    -D lib="$lib" -D mode="$1" -D redis="$redis" -s "$src/ops.lua" \
	    >"$dir/out" 2>&1; then
		cat "$dir/out"
		echo "PASS: ops.lua mode $1"
	else
		cat "$dir/out"
		fail "ops.lua mode $1; daemon log:"
		tail -15 "$dir/$1/log"
	fi
}

policy dry "set dry-run yes"
policy quiet "set log-level warning"
policy enforce ""
for n in dry quiet enforce; do
	"$TOLLGATE" -n -c "$dir/$n/policy.conf" || fail "policy $n not valid"
done

# The dry daemon serves metrics: try ports until one is free.
port=""
for try in 1 2 3 4 5; do
	p=$((27400 + $(od -An -N2 -tu2 /dev/urandom) % 500))
	: >"$dir/dry/log"
	if tg_try dry -c "$dir/dry/policy.conf" -M "127.0.0.1:$p" \
	    -C "$dir/dry/ctl"; then
		port=$p
		break
	fi
	grep -q 'cannot listen' "$dir/dry/log" || break
done
if [ -z "$port" ]; then
	fail "daemon dry did not start:"
	cat "$dir/dry/log"
	exit 1
fi
start quiet -D
start enforce
grep -q 'dry run: no verdict is enforced' "$dir/quiet/log" &&
    fail "log-level warning: the info start line was logged"
for n in dry quiet enforce; do
	run $n
done

# metric LINE-START: the value of the sample whose name and labels are
# given, from $dir/metrics
metric() {
	awk -v k="$1" 'index($0, k " ") == 1 { print $NF; found = 1 }
	    END { if (!found) print "missing" }' "$dir/metrics"
}
want() {
	got=$(metric "$1")
	if [ "$got" = "$2" ]; then
		echo "ok - $1 = $2"
	else
		fail "$1: got $got, want $2"
	fi
}

# Sessions close asynchronously after miltertest disconnects: wait (no
# timing is asserted, only the final count).
scrape() {
	n=0
	while :; do
		if [ -n "$CURL" ]; then
			"$CURL" -sf "http://127.0.0.1:$port/metrics" \
			    >"$dir/metrics" || fail "curl /metrics"
		else
			"$CTL" -s "$dir/dry/ctl" metrics >"$dir/metrics"
		fi
		[ "$(metric tollgate_sessions_open)" = 0 ] && break
		[ $n -ge 100 ] && break
		sleep 0.1
		n=$((n + 1))
	done
}
scrape
sessions=$((1 + redis))
want tollgate_sessions_open 0
want tollgate_sessions_total $sessions
want 'tollgate_rule_evaluated_total{stage="rcpt",rule="block"}' $((4 + redis))
want 'tollgate_rule_matched_total{stage="rcpt",rule="block"}' 1
want 'tollgate_rule_matched_total{stage="rcpt",rule="hold"}' 1
want 'tollgate_rule_actions_total{stage="rcpt",rule="block",action="reject"}' 0
want 'tollgate_dry_run_verdicts_total{stage="rcpt",action="reject"}' 1
want 'tollgate_dry_run_verdicts_total{stage="rcpt",action="tempfail"}' 1
want 'tollgate_dry_run_verdicts_total{stage="rcpt",action="quarantine"}' 1
want 'tollgate_verdicts_total{stage="rcpt",action="tempfail"}' $redis
want 'tollgate_stage_duration_seconds_count{stage="rcpt"}' $((5 + redis))
want 'tollgate_stage_duration_seconds_bucket{stage="rcpt",le="+Inf"}' \
    $((5 + redis))
want 'tollgate_stage_duration_seconds_count{stage="mail"}' $sessions
[ $redis = 1 ] && [ "$(metric tollgate_store_errors_total)" = 0 ] &&
    fail "tollgate_store_errors_total is 0 after a store failure"
grep -q '^# TYPE tollgate_stage_duration_seconds histogram$' \
    "$dir/metrics" || fail "no histogram TYPE line"
[ -n "$CURL" ] && { "$CURL" -s -o /dev/null -w '%{http_code}' \
    "http://127.0.0.1:$port/nothing" | grep -q 404 ||
    fail "GET /nothing is not 404"; }

# The same counters through the control socket.
"$CTL" -s "$dir/dry/ctl" metrics >"$dir/ctl.out" ||
    fail "tollgatectl metrics failed"
grep -q '^tollgate_rule_matched_total{stage="rcpt",rule="block"} 1$' \
    "$dir/ctl.out" || fail "tollgatectl metrics: rule block not counted"

tg_term dry quiet enforce
tg_stop_ok dry
tg_stop_ok quiet
tg_stop_ok enforce
exit $failed
