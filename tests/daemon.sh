# daemon.sh - sourced by the black-box test scripts (milter/run.sh,
# milter/dns.sh, ops/run.sh, rate/run.sh, rate/snapshot.sh, fault/run.sh,
# soak/run.sh; mta/lib.sh uses the process helpers only): a scratch
# directory removed at exit unless a test failed or KEEP=1, and the
# processes a test runs (tollgate daemons, redis-server, unbound), each
# under a NAME with its files in $dir/NAME, started and stopped by PID.
# The caller may set TOLLGATE and TG_WRAPPER (e.g. valgrind; it runs the
# daemon in its own process, so $! stays its PID), and TG_ENGINE (the
# milter engine, -E: libmilter or native; unset: the daemon's default).

pids=""
tg_termed=""
# -E ENGINE for daemons a script starts without tg_try (empty: default)
TG_E=${TG_ENGINE:+-E $TG_ENGINE}
# The daemon, made absolute (default: the build tree's)
TOLLGATE=${TOLLGATE:-${top_builddir:-.}/filter/tollgate}
case $TOLLGATE in
/*)	;;
*)	TOLLGATE=$(pwd)/$TOLLGATE ;;
esac

# tg_dir NAME: $dir, $pids, $failed, and the exit traps. A script that runs
# processes of its own (clients) stops them in a tg_cleanup_hook function.
tg_dir() {
	tg_name=$1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-$1.XXXXXX") || exit 1
	pids=""
	failed=0
	trap tg_cleanup EXIT
	trap 'failed=1; exit 1' INT TERM HUP
}

# ok TEXT, fail TEXT: a passed check, a failed one (the script goes on)
ok() { echo "ok - $*"; }
fail() { echo "FAIL: $*"; failed=1; }

tg_cleanup() {
	command -v tg_cleanup_hook >/dev/null 2>&1 && tg_cleanup_hook
	tg_stop_all
	if [ "${KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
		echo "$tg_name: logs kept in $dir"
	else
		rm -rf "$dir"
	fi
}

# tg_stop_all: SIGTERM to every process still running, then wait for each
tg_stop_all() {
	for p in $pids; do
		case "$tg_termed " in
		*" $p "*)	;;
		*)	kill -TERM "$p" 2>/dev/null ;;
		esac
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	pids=""
}

# tg_spawn NAME COMMAND...: COMMAND in the background, stdout and stderr
# appended to $dir/NAME/log (kept across restarts); its PID in pid_NAME.
tg_spawn() {
	_n=$1
	shift
	mkdir -p "$dir/$_n"
	"$@" >>"$dir/$_n/log" 2>&1 &
	eval "pid_$_n=$!"
	pids="$pids $!"
}

# tg_wait NAME COMMAND...: until COMMAND succeeds; 1 when process NAME
# ended first, or after 30 s
tg_wait() {
	eval "_w=\$pid_$1"
	shift
	_i=0
	until "$@"; do
		if ! kill -0 "$_w" 2>/dev/null || [ $_i -ge 300 ]; then
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# tg_logged NAME PATTERN: $dir/NAME/log has a line matching PATTERN
tg_logged() {
	grep -q "$2" "$dir/$1/log" 2>/dev/null
}

# tg_stop NAME [SIGNAL]: SIGNAL (TERM) by PID and wait; rc is its exit
# status. 1 when it had already ended (or was not started). SIGNAL 0
# sends nothing: for a daemon told to stop some other way.
tg_stop() {
	eval "_p=\$pid_$1"
	[ -n "$_p" ] || return 1
	# One SIGTERM a daemon: tollgate's and libmilter's signal threads
	# both wait for one, and a second would stop a stopped listener.
	case "$tg_termed " in
	*" $_p "*)	_k=0 ;;
	*)	kill -"${2:-TERM}" "$_p" 2>/dev/null
		_k=$? ;;
	esac
	wait "$_p" 2>/dev/null
	rc=$?
	pids=$(echo " $pids " | sed "s/ $_p / /")
	eval "pid_$1="
	[ $_k = 0 ]
}

# tg_stop_ok NAME: tg_stop, and the daemon must still have been running
# and exit 0 (no sanitizer or valgrind error); else a FAIL line with the
# end of its log, failed=1, and 1
tg_stop_ok() {
	if ! tg_stop "$1"; then
		echo "FAIL: daemon $1 had died (status $rc); log:"
	elif [ "$rc" != 0 ]; then
		echo "FAIL: daemon $1 exited with status $rc; log:"
	else
		return 0
	fi
	tail -n 40 "$dir/$1/log"
	failed=1
	return 1
}

# tg_term NAME...: SIGTERM to each at once, so that stopping several
# daemons costs one wait for libmilter (it sees a stop only when its 5 s
# poll of the listening socket ends), not one each; tg_stop or tg_stop_ok
# then waits for each and checks it
tg_term() {
	for _s; do
		eval "_p=\$pid_$_s"
		kill -TERM "$_p" 2>/dev/null && tg_termed="$tg_termed $_p"
	done
}

# tg_engine: the milter engine the daemons run, TG_ENGINE or the default
# the daemon names in its usage
tg_engine() {
	if [ -n "${TG_ENGINE:-}" ]; then
		echo "$TG_ENGINE"
	else
		"$TOLLGATE" -h | sed -n 's/.*(default \([a-z]*\)).*/\1/p'
	fi
}

# tg_up NAME: what tg_start waits for, the daemon's socket. A script may
# define its own after sourcing this file (e.g. a control socket too).
tg_up() {
	[ -S "$dir/$1/sock" ]
}

# tg_try NAME ARGS...: tollgate -R -f on unix:$dir/NAME/sock with ARGS
# (log $dir/NAME/log, PID pid_NAME); 0 once tg_up NAME, else 1 with the
# daemon stopped
tg_try() {
	_t=$1
	shift
	# shellcheck disable=SC2086 # TG_WRAPPER: e.g. valgrind and options
	# shellcheck disable=SC2086 # TG_E: -E and the engine, or nothing
	tg_spawn "$_t" ${TG_WRAPPER:-} "$TOLLGATE" -R -f \
	    $TG_E -p "unix:$dir/$_t/sock" "$@"
	tg_wait "$_t" tg_up "$_t" && return 0
	tg_stop "$_t"
	return 1
}

# tg_start NAME ARGS...: tg_try, and a daemon that does not start fails
# the test: its log is shown and the script exits 1
tg_start() {
	tg_try "$@" && return 0
	echo "FAIL: daemon $1 did not start:"
	tail -n 40 "$dir/$1/log"
	failed=1
	exit 1
}

# tg_threads NAME: the threads of process NAME
tg_threads() {
	eval "_p=\$pid_$1"
	awk '/^Threads:/ { print $2 }' "/proc/$_p/status" 2>/dev/null
}

# tg_rss NAME, tg_fds NAME: resident size (kB) and open descriptors of
# process NAME
tg_rss() {
	eval "_p=\$pid_$1"
	awk '/^VmRSS:/ { print $2 }' "/proc/$_p/status" 2>/dev/null
}

# tg_sanitized: true when $TOLLGATE is built with AddressSanitizer. Its
# allocator keeps freed memory in a quarantine (256 MB) and size-class
# regions it does not give back, so RSS there does not measure the
# daemon: the plain build's make check does (LeakSanitizer finds leaks).
tg_sanitized() {
	grep -qa __asan_init "$TOLLGATE"
}

tg_fds() {
	eval "_p=\$pid_$1"
	ls "/proc/$_p/fd" 2>/dev/null | wc -l
}
