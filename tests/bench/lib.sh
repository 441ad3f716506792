# lib.sh - helpers shared by tests/bench/run.sh and postfix.sh (sourced).
# Daemons are started in the background and stopped by their PIDs only.

BENCH_PIDS=""

# cpu_ticks PID: user + system CPU of the process so far, in clock ticks
cpu_ticks() {
	# Fields 14 and 15 of /proc/PID/stat, counted after the ")" that
	# ends the command name (which may hold blanks).
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
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
