# daemon.sh - sourced by the black-box test scripts (milter/run.sh,
# milter/dns.sh, ops/run.sh): a scratch directory removed at exit unless a
# test failed or KEEP=1, and tollgate daemons started and stopped by PID.
# The caller sets TOLLGATE (an absolute path) and may set TG_WRAPPER (e.g.
# valgrind; it runs the daemon in its own process, so $! stays its PID).

# tg_dir NAME: $dir, $pids, $failed, and the exit traps. A script that runs
# other servers stops them in a tg_cleanup_hook function of its own.
tg_dir() {
	tg_name=$1
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-$1.XXXXXX") || exit 1
	pids=""
	failed=0
	trap tg_cleanup EXIT
	trap 'failed=1; exit 1' INT TERM HUP
}

tg_cleanup() {
	command -v tg_cleanup_hook >/dev/null 2>&1 && tg_cleanup_hook
	for p in $pids; do
		kill -TERM "$p" 2>/dev/null
	done
	for p in $pids; do
		wait "$p" 2>/dev/null
	done
	if [ "${KEEP:-0}" = 1 ] || [ "$failed" != 0 ]; then
		echo "$tg_name: logs kept in $dir"
	else
		rm -rf "$dir"
	fi
}

# tg_start NAME ARGS...: tollgate -R -f on unix:$dir/NAME/sock with ARGS,
# stderr in $dir/NAME/log; the PID goes to pid_NAME. Waits for the socket:
# 0, or 1 (log shown, failed set) when the daemon did not start.
tg_start() {
	_n=$1
	shift
	mkdir -p "$dir/$_n"
	${TG_WRAPPER:-} "$TOLLGATE" -R -f -p "unix:$dir/$_n/sock" "$@" \
	    2>"$dir/$_n/log" &
	eval "pid_$_n=$!"
	pids="$pids $!"
	_i=0
	while [ ! -S "$dir/$_n/sock" ]; do
		if ! kill -0 "$!" 2>/dev/null || [ $_i -ge 300 ]; then
			echo "FAIL: daemon $_n did not start:"
			cat "$dir/$_n/log"
			failed=1
			return 1
		fi
		sleep 0.1
		_i=$((_i + 1))
	done
}

# tg_stop NAME: SIGTERM by PID and wait; rc is its exit status.
tg_stop() {
	eval "_p=\$pid_$1"
	kill -TERM "$_p"
	wait "$_p"
	rc=$?
	pids=$(echo "$pids" | sed "s/ $_p\$//; s/ $_p / /")
}
