# redis.sh - sourced by the scripts that need Redis servers of their own
# (tests/rate/run.sh, tests/grey/run.sh, tests/sentinel/run.sh), after
# tests/daemon.sh and tg_dir: redis-server on 127.0.0.1 (a process of
# daemon.sh, "redis" unless named, in $dir/NAME, nothing saved), in the
# foreground, stopped by its PID. The caller sets REDIS_SERVER.

# redis_spawn NAME PORT [ARGS...]: a server of our own as process NAME
# (in $dir/NAME, its log emptied first), more settings in ARGS; 0 when it
# answers on PORT, else 1 with the server stopped
redis_spawn() {
	_rn=$1
	_rp=$2
	shift 2
	mkdir -p "$dir/$_rn"
	: >"$dir/$_rn/log"
	tg_spawn "$_rn" "$REDIS_SERVER" --port "$_rp" --bind 127.0.0.1 \
	    --dir "$dir/$_rn" --pidfile "$dir/$_rn/pid" --daemonize no \
	    --save "" --appendonly no --protected-mode yes "$@"
	tg_wait "$_rn" tg_logged "$_rn" "Ready to accept connections" &&
	    return 0
	tg_stop "$_rn"
	return 1
}

# redis_start PORT: process "redis" on PORT
redis_start() {
	redis_spawn redis "$1"
}

# redis_stop: and a fresh log, so that a restart's readiness is its own
redis_stop() {
	tg_stop redis
	: >"$dir/redis/log"
}

# redis_pick FIRST LAST: start on the first free port of FIRST..LAST; sets
# port; 1 when none would do
redis_pick() {
	port=""
	for p in $(seq "$1" "$2"); do
		if redis_start "$p"; then
			port=$p
			return 0
		fi
	done
	return 1
}

# redis_policy_check SCRIPT CONF: tollgate -n on CONF, a policy with a
# store redis; exits 77 (skipped) when tollgate was built without
# hiredis, 1 when the policy does not load
redis_policy_check() {
	if "$TOLLGATE" -n -c "$2" >"$dir/check.out" 2>&1; then
		return 0
	fi
	if grep -q "built without hiredis" "$dir/check.out"; then
		echo "$1: tollgate built without hiredis; skipped"
		exit 77
	fi
	cat "$dir/check.out"
	fail "$(basename "$2") does not load"
	exit 1
}
