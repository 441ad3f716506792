# lib.sh - helpers shared by tests/bench/run.sh, postfix.sh and the make
# check tests client.sh and isp.sh (sourced; the caller sets src).
# Daemons are started in the background and stopped by their PIDs only.

BENCH_PIDS=""

# mload ARGS...: milterload as a test client. In the ASan build
# LeakSanitizer would fail it for what it keeps until exit (its scenario
# and counters); the daemons under test keep leak checking.
mload() {
	ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" \
	    "$MILTERLOAD" "$@"
}

# cpu_ticks PID: user + system CPU of the process so far, in clock ticks
cpu_ticks() {
	# Fields 14 and 15 of /proc/PID/stat, counted after the ")" that
	# ends the command name (which may hold blanks).
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# ctx_switches PID: voluntary + involuntary context switches of the
# process's threads alive now (a thread that ended takes its count with
# it: the native engine's loops and workers stay, libmilter's do not)
ctx_switches() {
	cat /proc/"$1"/task/*/status 2>/dev/null | awk '
	    /^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# rss_kb PID: resident memory in KiB
rss_kb() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status"
}

# threads PID
threads() {
	awk '/^Threads:/ { print $2 }' "/proc/$1/status"
}

# median: of the numbers on standard input, one a line
median() {
	sort -g | awk '{ v[NR] = $1 } END {
		if (NR == 0) { print "-"; exit }
		if (NR % 2) print v[(NR + 1) / 2];
		else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# ratio A B: A / B to two decimals
ratio() {
	awk -v a="$1" -v b="$2" 'BEGIN {
		if (b + 0 == 0 || a == "-") print "-";
		else printf "%.2f\n", a / b }'
}

# bench_wait SOCK PID: wait until a milter answers on SOCK (a one-message
# milterload probe), or fail when PID died or 20 s passed
bench_wait() {
	_n=0
	while ! "$MILTERLOAD" -q -t 2 -s "$1" >/dev/null 2>&1; do
		if ! kill -0 "$2" 2>/dev/null || [ $_n -ge 200 ]; then
			echo "bench: milter on $1 did not start" >&2
			return 1
		fi
		sleep 0.1
		_n=$((_n + 1))
	done
}

# bench_stop PID: SIGTERM, then wait for it
bench_stop() {
	kill -TERM "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	BENCH_PIDS=$(echo " $BENCH_PIDS " | sed "s/ $1 / /")
}

bench_cleanup() {
	for _p in $BENCH_PIDS; do
		kill -TERM "$_p" 2>/dev/null
	done
	for _p in $BENCH_PIDS; do
		wait "$_p" 2>/dev/null
	done
	BENCH_PIDS=""
}

# machine: one line on where and how a run was made
machine() {
	echo "machine: $(nproc) cores, $(awk -F': ' '/model name/ {
	    print $2; exit }' /proc/cpuinfo); load average $(cut -d' ' -f1-3 \
	    /proc/loadavg); $(uname -sr); $(date -u '+%Y-%m-%d %H:%M UTC')"
}

# ---- DNS: a local unbound for the policies that look names up -----------
# A policy P with DNS checks has tests/bench/P.zones, the answers its load
# needs (P.scn). The server answers from those and from a pool of client
# names; it is started with tests/unbound.sh on a port in DNS_PORTS.
. "$src/tests/unbound.sh"
DNS_TTL=${DNS_TTL:-0}
DNS_PORTS=${DNS_PORTS:-23600 23699}

# bench_dns_pool N: the PTR record of each of the first N client addresses
# of milterload's %BIP (198.18.0.0, .1, ...), mtaK.example.net, and the A
# record of that name (forward-confirmed, in no DNS list)
bench_dns_pool() {
	awk -v n="$1" -v ttl="$DNS_TTL" 'BEGIN {
	    for (k = 0; k < n && k < 131072; k++) {
		a = sprintf("198.%d.%d.%d", 18 + int(k / 65536),
		    int(k / 256) % 256, k % 256)
		printf "\tlocal-data-ptr: \"%s %d mta%d.example.net\"\n",
		    a, ttl, k
		printf "\tlocal-data: \"mta%d.example.net. %d IN A %s\"\n",
		    k, ttl, a } }'
}

# bench_dns_start DIR N: unbound with every tests/bench/*.zones (TTLs of
# DNS_TTL seconds) and a pool of N client names; 1 when it did not start
bench_dns_start() {
	mkdir -p "$1"
	{
		sed "s/@TTL@/$DNS_TTL/g" "$src"/tests/bench/*.zones
		bench_dns_pool "$2"
	} >"$1/zones"
	# shellcheck disable=SC2086
	unbound_start "$1" "$1/zones" $DNS_PORTS || {
		echo "bench: unbound did not start:" >&2
		cat "$1/unbound.log" >&2
		return 1
	}
	BENCH_PIDS="$BENCH_PIDS $unbound_pid"
}

# bench_policy POLICY COPY [TRUSTED]: COPY is the shipped POLICY with
# only what a benchmark must change: its commented-out "set resolver"
# line asks our unbound, its relative table paths point into the shipped
# directory, and with TRUSTED, the table trusted_networks is that file
# (Postfix's clients come from 127.0.0.1, which the shipped one trusts)
# and the per-client limits (limit client-...) get a max of a million:
# every connection comes from that one address, so they still count but
# never refuse. Greylisting (isp-antispam.conf) would defer every message
# of a load whose senders are new: the rule that greylists is taken out
# unless BENCH_GREYLIST says "memory" (kept as shipped) or "redis:PORT"
# (kept, its records in a Redis on 127.0.0.1:PORT; tests/bench/grey.sh).
bench_policy() {
	_d=$(cd "$(dirname "$1")" && pwd)
	case ${BENCH_GREYLIST:-off} in
	off)	_g='/^ *rule greylisting *:/,/=> *greylist /d' ;;
	memory)	_g='' ;;
	redis:*) _g="s|^greylist \([^ ]*\) {|store redis { address \"127.0.0.1:${BENCH_GREYLIST#redis:}\" prefix \"tgbench:\" } greylist \1 {|; s|^\( *\)# *store redis *\$|\1store redis|" ;;
	esac
	sed -e "s|^# *set resolver \"[^\"]*\"|set resolver \"127.0.0.1@$unbound_port\"|" \
	    -e "s|^\(table [^ ]* [a-z]* \"\)\([^/\"]\)|\1$_d/\2|" \
	    -e "s|^\(include \"\)\([^/\"]\)|\1$_d/\2|" \
	    ${3:+-e "s|^\(table trusted_networks [a-z]* \"\)[^\"]*|\1$3|"} \
	    ${3:+-e "/^limit client-/,/^}/s|^\( *max\) [0-9][0-9]*|\1 1000000|"} \
	    ${_g:+-e "$_g"} \
	    "$1" >"$2"
	grep -q "^set resolver \"127.0.0.1@$unbound_port\"" "$2" || {
		echo "bench: $1 has no \"# set resolver\" line to change" >&2
		return 1
	}
	case ${BENCH_GREYLIST:-off} in
	off)	! grep -q "=> *greylist " "$2" || {
		echo "bench: $1: a greylist rule is left in the copy" >&2
		return 1
	} ;;
	redis:*) ! grep -q "^greylist " "$2" ||
	    grep -q "^ *store redis$" "$2" || {
		echo "bench: $1: no \"# store redis\" line in its greylist" >&2
		return 1
	} ;;
	esac
}
