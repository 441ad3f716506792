# redis.sh - sourced by the scripts that need a Redis server of their own
# (tests/rate/run.sh, tests/grey/run.sh), after tests/daemon.sh and
# tg_dir: redis-server on 127.0.0.1 (process "redis" of daemon.sh, in
# $dir/redis, nothing saved), in the foreground, stopped by its PID. The
# caller sets REDIS_SERVER.

# redis_start PORT: our own server; 0 when it answers on PORT, else 1
# with the server stopped
redis_start() {
	tg_spawn redis "$REDIS_SERVER" --port "$1" --bind 127.0.0.1 \
	    --dir "$dir/redis" --pidfile "$dir/redis/pid" --daemonize no \
	    --save "" --appendonly no --protected-mode yes
	tg_wait redis tg_logged redis "Ready to accept connections" && return 0
	tg_stop redis
	return 1
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
