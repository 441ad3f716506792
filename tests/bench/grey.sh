#!/bin/sh
# grey.sh - what greylisting costs (issue 16): policies/isp-antispam.conf
# with its greylisting against the same policy without it (lib.sh,
# bench_policy: the rule taken out), under a load of repeat senders whose
# triplets have passed: POOL sending servers that come back (milterload
# -k), each with a sender of its own, all answered from a local unbound
# with a TTL of an hour (DNS cached, as for senders an MX sees every
# day). Configurations, alternated within each round (A B C D A B C D
# ...) since the machine is shared:
#   off        the policy without greylisting
#   mem        greylisting in the memory store, auto-allow off: every
#              message's own triplet is looked up and renewed
#   mem-allow  the same with the shipped auto-allow (5 passes): the
#              clients' networks are allow-listed, one lookup a message
#   redis      greylisting in a local redis-server, auto-allow off: one
#              EVALSHA round trip a message
# Before the rounds each greylisting daemon sees every triplet once
# (deferred), then again after the delay (1 s in the copies; passed), and
# "off" the same messages, so that every daemon's DNS cache is warm.
# Prints msgs/s and filter CPU per message (medians of ROUNDS) and their
# ratios to "off"; a run with a refusal or an error is reported as such.
# With CALLGRIND=1 (the default, when valgrind is there) it also counts
# the filter's user-space instructions per message under callgrind,
# collected only after the warm-up: a figure the machine's load does not
# move.
# Not part of make check; by hand, from the build directory:
#   top_srcdir=SRC top_builddir=. sh SRC/tests/bench/grey.sh
# Environment: ROUNDS (5) MSGS (5000) CONNS (8) POOL (500) OUT CALLGRIND
#   REDIS_PORTS ("23700 23799") DNS_PORTS ("23600 23699").

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
src=$(cd "$top_srcdir" && pwd)
bld=$(cd "$top_builddir" && pwd)
TOLLGATE=${TOLLGATE:-$bld/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$bld/tests/bench/milterload}
REDIS_SERVER=${REDIS_SERVER:-$(command -v redis-server)}
ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-5000}
CONNS=${CONNS:-8}
POOL=${POOL:-500}
CALLGRIND=${CALLGRIND:-1}
REDIS_PORTS=${REDIS_PORTS:-23700 23799}
. "$src/tests/bench/lib.sh"

for p in "$TOLLGATE" "$MILTERLOAD" "$REDIS_SERVER"; do
	[ -x "$p" ] || { echo "grey.sh: $p missing (make; redis-server)"; exit 1; }
done
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tg-greybench.XXXXXX")}
mkdir -p "$OUT/run" "$OUT/redis"
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
HZ=$(getconf CLK_TCK)

DNS_TTL=3600
bench_dns_start "$OUT/dns" "$POOL" || exit 1

# redis-server of our own, nothing saved, stopped by PID at exit
rport=""
set -- $REDIS_PORTS
for p in $(seq "$1" "$2"); do
	"$REDIS_SERVER" --port "$p" --bind 127.0.0.1 --dir "$OUT/redis" \
	    --save "" --appendonly no --daemonize no \
	    >"$OUT/redis/log.$p" 2>&1 &
	rpid=$!
	n=0
	while ! grep -q "Ready to accept" "$OUT/redis/log.$p" 2>/dev/null; do
		kill -0 "$rpid" 2>/dev/null || break
		n=$((n + 1))
		[ $n -ge 50 ] && break
		sleep 0.1
	done
	if grep -q "Ready to accept" "$OUT/redis/log.$p"; then
		rport=$p
		BENCH_PIDS="$BENCH_PIDS $rpid"
		break
	fi
	kill -TERM "$rpid" 2>/dev/null
	wait "$rpid" 2>/dev/null
done
[ -n "$rport" ] || { echo "grey.sh: no redis-server on $REDIS_PORTS"; exit 1; }

# The load: isp-antispam.scn with a sender per sending server (%IP
# follows the -k pool) and one recipient, so each server's triplet comes
# back.
sed -e 's/^mail <sender%M@example.net>/mail <s-%IP@example.net>/' \
    -e 's/^rcpt <user%M@example.org>/rcpt <user@example.org>/' \
    -e 's/^header From: <sender%M@example.net>/header From: <s-%IP@example.net>/' \
    "$src/tests/bench/isp-antispam.scn" >"$OUT/grey.scn"
grep -q '^mail <s-%IP@example.net>$' "$OUT/grey.scn" &&
    grep -q '^rcpt <user@example.org>$' "$OUT/grey.scn" ||
    { echo "grey.sh: isp-antispam.scn changed; adapt the sed"; exit 1; }

# policy NAME GREYLIST [SED]: the bench copy for configuration NAME
policy() {
	BENCH_GREYLIST=$2 bench_policy "$src/policies/isp-antispam.conf" \
	    "$OUT/$1.conf.0" || exit 1
	sed -e "s/^\( *delay\) 5m$/\1 1s/" ${3:+-e "$3"} "$OUT/$1.conf.0" \
	    >"$OUT/$1.conf"
	"$TOLLGATE" -n -c "$OUT/$1.conf" >/dev/null ||
	    { echo "grey.sh: $OUT/$1.conf does not load"; exit 1; }
}
noallow='s/^\( *auto-allow\) .*/\1 off/'
policy off off
policy mem memory "$noallow"
policy mem-allow memory
policy redis "redis:$rport" "$noallow"
configs="off mem mem-allow redis"

for c in $configs; do
	"$TOLLGATE" -R -f -c "$OUT/$c.conf" -p "unix:$OUT/run/$c.sock" \
	    2>>"$OUT/run/$c.log" &
	eval "pid_$(echo "$c" | tr - _)=$!"
	BENCH_PIDS="$BENCH_PIDS $!"
	bench_wait "unix:$OUT/run/$c.sock" "$!" || exit 1
done

load() {
	mload -q -c "$CONNS" -m 1 -k "$POOL" -f "$OUT/grey.scn" \
	    -s "unix:$OUT/run/$1.sock" "$@"
}

# warm CONFIG SOCK: every triplet deferred once, then passed after the
# delay; the DNS answers cached everywhere ("off" gets the same messages)
warm() {
	if [ "$1" = off ]; then
		mload -A -q -c "$CONNS" -m 1 -k "$POOL" -n $((2 * POOL)) \
		    -f "$OUT/grey.scn" -s "$2" >"$OUT/run/off.warm" 2>&1 ||
		    { echo "grey.sh: off: not all accepted:"
		      cat "$OUT/run/off.warm"; exit 1; }
		return
	fi
	mload -q -c "$CONNS" -m 1 -k "$POOL" -n "$POOL" -f "$OUT/grey.scn" \
	    -s "$2" >"$OUT/run/$1.warm1" 2>&1
	grep -q "refused=$POOL " "$OUT/run/$1.warm1" ||
	    { echo "grey.sh: $1: warm-up did not defer every triplet:"
	      cat "$OUT/run/$1.warm1"; exit 1; }
	sleep 1.5
	mload -A -q -c "$CONNS" -m 1 -k "$POOL" -n "$POOL" -f "$OUT/grey.scn" \
	    -s "$2" >"$OUT/run/$1.warm2" 2>&1 ||
	    { echo "grey.sh: $1: the retries did not all pass:"
	      cat "$OUT/run/$1.warm2"; exit 1; }
}
for c in $configs; do
	warm "$c" "unix:$OUT/run/$c.sock"
done

echo "== greylisting benchmark; results in $OUT"
machine | tee "$OUT/machine"
echo "load: isp-antispam.scn, $POOL repeat sending servers (-k $POOL), a" \
    "sender each, DNS TTL $DNS_TTL s; $CONNS connections x $MSGS" \
    "messages, one per connection; $ROUNDS rounds"
res="$OUT/results"
: >"$res"
r=1
while [ "$r" -le "$ROUNDS" ]; do
	for c in $configs; do
		eval "p=\$pid_$(echo "$c" | tr - _)"
		c0=$(cpu_ticks "$p")
		mload -q -c "$CONNS" -n "$MSGS" -m 1 -k "$POOL" \
		    -f "$OUT/grey.scn" -s "unix:$OUT/run/$c.sock" \
		    >"$OUT/run/$c.$r" 2>&1
		c1=$(cpu_ticks "$p")
		awk -v n="$c" -v r="$r" -v c=$((c1 - c0)) -v hz="$HZ" \
		    '/^RESULT/ {
			for (i = 2; i <= NF; i++) {
				split($i, kv, "="); f[kv[1]] = kv[2] }
			printf "%s %s %s %.1f %s %s\n", n, r, f["rate"],
			    c * 1e6 / hz / f["msgs"], f["refused"],
			    f["errors"] }' "$OUT/run/$c.$r" >>"$res"
	done
	r=$((r + 1))
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"

base_rate=$(awk '$1 == "off" { print $3 }' "$res" | median)
base_cpu=$(awk '$1 == "off" { print $4 }' "$res" | median)
printf '%-10s %8s %6s %11s %6s %8s\n' config msgs/s x/off cpu_us/msg \
    x/off refused
for c in $configs; do
	rate=$(awk -v n="$c" '$1 == n { print $3 }' "$res" | median)
	cpu=$(awk -v n="$c" '$1 == n { print $4 }' "$res" | median)
	bad=$(awk -v n="$c" '$1 == n { s += $5 + $6 } END { print s + 0 }' \
	    "$res")
	printf '%-10s %8s %6s %11s %6s %8s\n' "$c" "$rate" \
	    "$(ratio "$rate" "$base_rate")" "$cpu" "$(ratio "$cpu" "$base_cpu")" \
	    "$bad"
done
echo "per-round ratios to off (msgs/s), same round:"
for c in mem mem-allow redis; do
	printf '  %-10s' "$c"
	r=1
	while [ "$r" -le "$ROUNDS" ]; do
		a=$(awk -v n="$c" -v r="$r" '$1 == n && $2 == r { print $3 }' \
		    "$res")
		b=$(awk -v r="$r" '$1 == "off" && $2 == r { print $3 }' "$res")
		printf ' %s' "$(ratio "$a" "$b")"
		r=$((r + 1))
	done
	echo
done

# ---- Instructions per message (callgrind), after the warm-up --------------
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null &&
    command -v callgrind_control >/dev/null; then
	for c in $configs; do
		eval "bench_stop \$pid_$(echo "$c" | tr - _)"
	done
	# The Redis records from scratch, for the warm-up to defer again.
	"$(dirname "$REDIS_SERVER")/redis-cli" -p "$rport" FLUSHALL \
	    >/dev/null 2>&1
	echo "user-space instructions per message (callgrind, 1000 messages" \
	    "after the warm-up, all threads):"
	cgbase=""
	for c in $configs; do
		sock="unix:$OUT/run/$c.cg.sock"
		valgrind --tool=callgrind --instr-atstart=no \
		    --callgrind-out-file="$OUT/run/$c.cg" "$TOLLGATE" -R -f \
		    -c "$OUT/$c.conf" -p "$sock" 2>"$OUT/run/$c.cg.log" &
		pid=$!
		BENCH_PIDS="$BENCH_PIDS $pid"
		bench_wait "$sock" "$pid" || exit 1
		warm "$c" "$sock"
		callgrind_control -i on "$pid" >/dev/null 2>&1
		mload -q -c 2 -n 1000 -m 1 -k "$POOL" -t 30 -f "$OUT/grey.scn" \
		    -s "$sock" >"$OUT/run/$c.cg.load" 2>&1
		bench_stop "$pid"
		ir=$(awk '/^summary:/ { printf "%.0f", $2 / 1000 }' \
		    "$OUT/run/$c.cg")
		[ -z "$cgbase" ] && cgbase=$ir
		printf '  %-10s %9s  x/off %s  +%s\n' "$c" "$ir" \
		    "$(ratio "$ir" "$cgbase")" $((ir - cgbase))
	done
fi
