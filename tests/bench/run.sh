#!/bin/sh
# run.sh - "make bench": milter-protocol benchmarks of tollgate against a
# null libmilter filter, driven by milterload. Configurations alternate
# within each round (A B C A B C ...) and medians are quoted, since the
# machine is shared and noisy. Figures: messages/s, filter CPU per message
# (/proc/PID/stat), per-stage p99 at 100 sessions, RSS idle / with 100 and
# 1,000 sessions / growth over many messages, callgrind instructions per
# message. See tests/bench/README.md for what each figure means.
# Environment: top_srcdir, top_builddir (from make), and to scale it:
#   ROUNDS (3) MSGS (5000) CONNS (8) LAT_CONNS (100) LAT_RATE (1500)
#   GROWTH_MSGS (20000; the long run: 1000000, README.md)
#   SESSIONS ("100 1000") CALLGRIND (1: on) POLICIES (policies/*.conf)
#   PORT (23400: inet sockets use PORT..PORT+19) OUT (result directory)
#   DNS_TTL (0) DNS_PORTS ("23600 23699"): a policy P with DNS checks has
#   tests/bench/P.zones and runs pointed at a local unbound (lib.sh)
#   ENGINES ("native libmilter"): tollgate's engines; tg-P runs the
#   native one, tg-P-lm libmilter's
#   REPEAT_POOL (500) REPEAT_TTL (3600): such a policy runs a second time
#   as tg-P-repeat, its clients cycling over REPEAT_POOL addresses
#   (milterload -k) whose answers a second unbound gives with a TTL of
#   REPEAT_TTL s: senders that come back, as on a real MX (0: not run)

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
src=$(cd "$top_srcdir" && pwd)
bld=$(cd "$top_builddir" && pwd)
TOLLGATE=${TOLLGATE:-$bld/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$bld/tests/bench/milterload}
NULLMILTER=${NULLMILTER:-$bld/tests/bench/nullmilter}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-5000}
CONNS=${CONNS:-8}
LAT_CONNS=${LAT_CONNS:-100}
LAT_RATE=${LAT_RATE:-1500}
GROWTH_MSGS=${GROWTH_MSGS:-20000}
SESSIONS=${SESSIONS:-100 1000}
CALLGRIND=${CALLGRIND:-1}
PORT=${PORT:-23400}
REPEAT_POOL=${REPEAT_POOL:-500}
REPEAT_TTL=${REPEAT_TTL:-3600}
ENGINES=${ENGINES:-native libmilter}
. "$src/tests/bench/lib.sh"

for p in "$TOLLGATE" "$MILTERLOAD" "$NULLMILTER"; do
	[ -x "$p" ] || { echo "run.sh: $p not built (make bench)"; exit 1; }
done
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tg-bench.XXXXXX")}
mkdir -p "$OUT/run"
trap bench_cleanup EXIT
trap 'exit 1' INT TERM HUP
HZ=$(getconf CLK_TCK)

# The DNS server for the policies with DNS checks: one client name per
# connection of the longest run (connection numbers restart each run).
pool=$MSGS
for k in $((GROWTH_MSGS / 10)) $SESSIONS; do
	[ "$k" -gt "$pool" ] && pool=$k
done
dns_new="" dns_repeat=""
if ls "$src"/tests/bench/*.zones >/dev/null 2>&1; then
	bench_dns_start "$OUT/dns" $((pool + LAT_CONNS + 1000)) || exit 1
	dns_new=$unbound_port
	if [ "$REPEAT_POOL" -gt 0 ]; then
		_ttl=$DNS_TTL
		DNS_TTL=$REPEAT_TTL
		bench_dns_start "$OUT/dns-repeat" "$REPEAT_POOL" || exit 1
		DNS_TTL=$_ttl
		dns_repeat=$unbound_port
	fi
fi

# Configurations: name, then the daemon command with @SOCK@ for the
# socket. The null milter twice: every step, and only an envelope
# policy's steps. Then tollgate with each shipped policy it accepts (one
# with DNS checks pointed at our unbound: bench_policy).
configs="$OUT/configs"
{
	echo "null-all $NULLMILTER -s all -p @SOCK@"
	echo "null-env $NULLMILTER -s policy -p @SOCK@"
	for f in ${POLICIES:-$src/policies/*.conf}; do
		n=$(basename "$f" .conf)
		rep=""
		if [ -f "$src/tests/bench/$n.zones" ]; then
			unbound_port=$dns_new
			bench_policy "$f" "$OUT/$n.conf" || exit 1
			if [ -n "$dns_repeat" ]; then
				unbound_port=$dns_repeat
				bench_policy "$f" "$OUT/$n-repeat.conf" || exit 1
				rep="$OUT/$n-repeat.conf"
			fi
			f=$OUT/$n.conf
		fi
		if "$TOLLGATE" -n -c "$f" >/dev/null 2>&1; then
			for e in $ENGINES; do
				x=""
				[ "$e" = native ] || x=-lm
				echo "tg-$n$x $TOLLGATE -E $e -R -f -c $f -p @SOCK@"
				[ -n "$rep" ] && echo "tg-$n$x-repeat $TOLLGATE" \
				    "-E $e -R -f -c $rep -p @SOCK@"
			done
		else
			echo "run.sh: skipping $f: tollgate -n refuses it" >&2
		fi
	done
} >"$configs"

# start NAME KIND: start configuration NAME on a unix or inet socket;
# sets $pid and $sock
start() {
	_cmd=$(awk -v n="$1" '$1 == n { $1 = ""; print }' "$configs")
	if [ "$2" = unix ]; then
		sock="unix:$OUT/run/$1.sock"
	else
		sock="inet:$port_next@127.0.0.1"
		port_next=$((port_next + 1))
	fi
	# shellcheck disable=SC2086
	$(echo "$_cmd" | sed "s|@SOCK@|$sock|") 2>>"$OUT/run/$1.log" &
	pid=$!
	BENCH_PIDS="$BENCH_PIDS $pid"
	bench_wait "$sock" "$pid" || exit 1
}
port_next=$PORT
names=$(awk '{ print $1 }' "$configs")

# scn NAME: milterload's -f option for configuration NAME: a policy with
# a scenario of its own (tests/bench/POLICY.scn: the SASL macros, client
# addresses and senders under which it accepts) runs under it, so that
# every configuration measures the accept path, not refusals. A -repeat
# configuration has its policy's scenario with the clients' addresses
# cycling over REPEAT_POOL (-k). Both engines run the same scenario.
scn() {
	_n=${1#tg-}
	case $1 in
	tg-*-repeat)	_n=${_n%-repeat}; echo "-k $REPEAT_POOL" ;;
	esac
	_n=${_n%-lm}			# the engine is not the scenario's
	_f="$src/tests/bench/$_n.scn"
	case $1 in
	tg-*)	[ -f "$_f" ] && echo "-f $_f" ;;
	esac
}

echo "== tollgate milter benchmarks; results in $OUT"
machine | tee "$OUT/machine"
echo "load: milterload default scenario (1 recipient, 4 headers, 2 KiB" \
    "body) or the policy's own (tests/bench/POLICY.scn), one message per" \
    "connection; $CONNS connections x $MSGS messages; $ROUNDS rounds"
[ -n "$dns_new" ] && echo "DNS: unbound on 127.0.0.1@$dns_new," \
    "answers with TTL $DNS_TTL s ($OUT/dns)"
[ -n "$dns_repeat" ] && echo "DNS for tg-*-repeat: unbound on" \
    "127.0.0.1@$dns_repeat, $REPEAT_POOL clients, TTL $REPEAT_TTL s" \
    "($OUT/dns-repeat)"

# ---- 1. Throughput and CPU per message, both socket types -----------------
# One daemon per configuration and socket type, all started first and
# left idle while the others run.
for kind in unix inet; do
	for n in $names; do
		start "$n" "$kind"
		eval "pid_${kind}_$(echo "$n" | tr -c 'a-z0-9\n' _)=$pid"
		eval "sock_${kind}_$(echo "$n" | tr -c 'a-z0-9\n' _)=$sock"
	done
done
res="$OUT/throughput"
: >"$res"
r=1
while [ $r -le "$ROUNDS" ]; do
	for kind in unix inet; do
		for n in $names; do
			v=$(echo "$n" | tr -c 'a-z0-9\n' _)
			eval "p=\$pid_${kind}_$v; s=\$sock_${kind}_$v"
			c0=$(cpu_ticks "$p")
			x0=$(ctx_switches "$p")
			# shellcheck disable=SC2046
			"$MILTERLOAD" -q -c "$CONNS" -n "$MSGS" -m 1 -s "$s" \
			    $(scn "$n") \
			    >"$OUT/run/$n.$kind.$r" 2>&1
			c1=$(cpu_ticks "$p")
			x1=$(ctx_switches "$p")
			awk -v n="$n" -v k="$kind" -v r="$r" -v c=$((c1 - c0)) \
			    -v x=$((x1 - x0)) -v hz="$HZ" '/^RESULT/ {
				for (i = 2; i <= NF; i++) {
					split($i, kv, "="); f[kv[1]] = kv[2] }
				printf "%s %s %s %s %.1f %s %s %.2f\n", k, n, r,
				    f["rate"], c * 1e6 / hz / f["msgs"],
				    f["refused"], f["errors"], x / f["msgs"] }' \
			    "$OUT/run/$n.$kind.$r" >>"$res"
		done
	done
	r=$((r + 1))
done
# Keep the unix daemons for the latency runs; the inet ones go.
for n in $names; do
	v=$(echo "$n" | tr -c 'a-z0-9\n' _)
	eval "bench_stop \$pid_inet_$v"
done

# ---- 2. Per-stage latency with LAT_CONNS sessions (unix socket) -----------
# Paced at LAT_RATE messages/s, well below saturation on 2 cores: at full
# load every stage waits for a CPU and p99 measures only the queue.
lat="$OUT/latency"
: >"$lat"
r=1
while [ $r -le "$ROUNDS" ]; do
	for n in $names; do
		v=$(echo "$n" | tr -c 'a-z0-9\n' _)
		eval "s=\$sock_unix_$v"
		# shellcheck disable=SC2046
		"$MILTERLOAD" -c "$LAT_CONNS" -n "$MSGS" -m 10 \
		    -r "$LAT_RATE" -s "$s" $(scn "$n") \
		    >"$OUT/run/$n.lat.$r" 2>&1
		awk -v n="$n" -v r="$r" '/^stage/ { t = 1; next }
		    /^replies:/ { t = 0 } t { print n, r, $1, $3, $4, $5 }' \
		    "$OUT/run/$n.lat.$r" >>"$lat"
	done
	r=$((r + 1))
done
for n in $names; do
	v=$(echo "$n" | tr -c 'a-z0-9\n' _)
	eval "bench_stop \$pid_unix_$v"
done

# ---- 3. Memory: idle, SESSIONS held open, growth over GROWTH_MSGS ---------
mem="$OUT/memory"
: >"$mem"
for n in $names; do
	start "$n" unix
	echo "$n idle $(rss_kb "$pid") $(threads "$pid")" >>"$mem"
	for k in $SESSIONS; do
		: >"$OUT/run/$n.hold.$k"
		# shellcheck disable=SC2046
		"$MILTERLOAD" -q -c "$k" -n "$k" -m 1 -H 3 -t 30 -s "$sock" \
		    $(scn "$n") \
		    >"$OUT/run/$n.hold.$k" 2>&1 &
		lp=$!
		# milterload says "holding" once all k sessions are inside
		# their first message; measure in the middle of the hold.
		w=0
		while ! grep -q holding "$OUT/run/$n.hold.$k" && [ $w -lt 600 ]
		do
			sleep 0.1
			w=$((w + 1))
		done
		sleep 1
		echo "$n sessions$k $(rss_kb "$pid") $(threads "$pid")" >>"$mem"
		wait $lp
	done
	# shellcheck disable=SC2046
	"$MILTERLOAD" -q -c "$CONNS" -n $((GROWTH_MSGS / 10)) -m 1 -s "$sock" \
	    $(scn "$n") \
	    >"$OUT/run/$n.grow1" 2>&1
	echo "$n after$((GROWTH_MSGS / 10)) $(rss_kb "$pid") $(threads "$pid")" \
	    >>"$mem"
	# shellcheck disable=SC2046
	"$MILTERLOAD" -q -c "$CONNS" -n "$GROWTH_MSGS" -m 10 -s "$sock" \
	    $(scn "$n") \
	    >"$OUT/run/$n.grow2" 2>&1
	echo "$n after$((GROWTH_MSGS + GROWTH_MSGS / 10)) $(rss_kb "$pid")" \
	    "$(threads "$pid")" >>"$mem"
	bench_stop "$pid"
done

# ---- 4. Callgrind: instructions per message (repeatable under load) ------
# Two runs of N and N+1000 messages; the difference divided by 1000
# leaves out start-up and policy loading.
cg="$OUT/callgrind"
: >"$cg"
if [ "$CALLGRIND" = 1 ] && command -v valgrind >/dev/null; then
	for n in $names; do
		for m in 200 1200; do
			_cmd=$(awk -v n="$n" '$1 == n { $1 = ""; print }' \
			    "$configs")
			sock="unix:$OUT/run/$n.cg.sock"
			# shellcheck disable=SC2086
			valgrind --tool=callgrind \
			    --callgrind-out-file="$OUT/run/$n.cg.$m" \
			    $(echo "$_cmd" | sed "s|@SOCK@|$sock|") \
			    2>"$OUT/run/$n.cg.$m.log" &
			pid=$!
			BENCH_PIDS="$BENCH_PIDS $pid"
			bench_wait "$sock" "$pid" || exit 1
			# shellcheck disable=SC2046
			"$MILTERLOAD" -q -c 2 -n $((m - 1)) -m 1 -t 30 \
			    -s "$sock" $(scn "$n") >/dev/null 2>&1
			bench_stop "$pid"
			ir=$(awk '/^summary:/ { print $2 }' "$OUT/run/$n.cg.$m")
			echo "$n $m $ir" >>"$cg"
		done
	done
	# Where tollgate's instructions go, for the README.
	for f in "$OUT"/run/tg-*.cg.1200; do
		[ -f "$f" ] && callgrind_annotate "$f" 2>/dev/null |
		    head -40 >"$f.top"
	done
fi

# ---- Summary ----------------------------------------------------------------
# Ratios are against the null milter measured in the same run: null-all
# (every step) and null-env (no header/eoh/body steps, what tollgate
# negotiates for a policy without header or body rules).
echo
echo "== throughput and filter CPU ($ROUNDS rounds, medians)"
printf "%-6s %-22s %9s %6s %6s %9s %6s %6s %7s %s\n" socket config msgs/s \
    x/all x/env cpu_us/msg x/all x/env csw/msg refused
for kind in unix inet; do
	ra=$(awk -v k=$kind '$1 == k && $2 == "null-all" { print $4 }' "$res" |
	    median)
	re=$(awk -v k=$kind '$1 == k && $2 == "null-env" { print $4 }' "$res" |
	    median)
	ca=$(awk -v k=$kind '$1 == k && $2 == "null-all" { print $5 }' "$res" |
	    median)
	ce=$(awk -v k=$kind '$1 == k && $2 == "null-env" { print $5 }' "$res" |
	    median)
	for n in $names; do
		rt=$(awk -v k=$kind -v n="$n" '$1 == k && $2 == n { print $4 }' \
		    "$res" | median)
		cu=$(awk -v k=$kind -v n="$n" '$1 == k && $2 == n { print $5 }' \
		    "$res" | median)
		rf=$(awk -v k=$kind -v n="$n" '$1 == k && $2 == n { s += $6 }
		    END { print s + 0 }' "$res")
		cs=$(awk -v k=$kind -v n="$n" '$1 == k && $2 == n { print $8 }' \
		    "$res" | median)
		printf "%-6s %-22s %9.0f %6s %6s %9s %6s %6s %7s %s\n" $kind \
		    "$n" "$rt" "$(ratio "$rt" "$ra")" "$(ratio "$rt" "$re")" \
		    "$cu" "$(ratio "$cu" "$ca")" "$(ratio "$cu" "$ce")" "$cs" \
		    "$rf"
	done
done
echo
echo "== p99 per stage, microseconds, $LAT_CONNS sessions paced at" \
    "$LAT_RATE msgs/s, unix (median of $ROUNDS)"
stages=$(awk '{ print $3 }' "$lat" | awk '!s[$0]++' | tr '\n' ' ')
printf "%-22s" config
for st in $stages; do printf " %9s" "$st"; done
echo
for n in $names; do
	printf "%-22s" "$n"
	for st in $stages; do
		printf " %9s" "$(awk -v n="$n" -v s="$st" '$1 == n && $3 == s {
		    print $5 }' "$lat" | median)"
	done
	echo
done
echo
echo "== memory: RSS KiB (threads)"
printf "%-22s" config
awk '{ print $2 }' "$mem" | awk '!s[$0]++' | while read -r w; do
	printf " %16s" "$w"
done
echo
for n in $names; do
	printf "%-22s" "$n"
	awk -v n="$n" '$1 == n { printf " %9s (%4s)", $3, $4 }' "$mem"
	echo
done
if [ -s "$cg" ]; then
	echo
	echo "== callgrind: instructions per message (user space, all threads)"
	ia=$(awk '$1 == "null-all" { v[$2] = $3 } END {
	    print (v[1200] - v[200]) / 1000 }' "$cg")
	ie=$(awk '$1 == "null-env" { v[$2] = $3 } END {
	    print (v[1200] - v[200]) / 1000 }' "$cg")
	for n in $names; do
		i=$(awk -v n="$n" '$1 == n { v[$2] = $3 } END {
		    printf "%.0f\n", (v[1200] - v[200]) / 1000 }' "$cg")
		printf "%-22s %9s  x/all %s  x/env %s\n" "$n" "$i" \
		    "$(ratio "$i" "$ia")" "$(ratio "$i" "$ie")"
	done
fi
echo
echo "raw results: $OUT (throughput, latency, memory, callgrind, run/)"
