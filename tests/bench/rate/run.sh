#!/bin/sh
# run.sh - the rate-limit store benchmark (not part of make check). Starts
# its own redis-server on a loopback port in 21200-21299 (own directory and
# pidfile, stopped by PID at exit), then runs bench_rate.
# usage: sh tests/bench/rate/run.sh BUILDDIR [threads] [checks]
build=${1:?usage: run.sh BUILDDIR [threads] [checks]}
threads=${2:-8}
checks=${3:-200000}
make -C "$build/tests" bench/rate/bench_rate >/dev/null || exit 1
dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-bench-rate.XXXXXX") || exit 1
pid=""
trap '[ -n "$pid" ] && kill "$pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$dir"' EXIT
port=""
for p in $(seq 21200 21299); do
	redis-server --port "$p" --bind 127.0.0.1 --dir "$dir" \
	    --pidfile "$dir/pid" --save "" --appendonly no >"$dir/log" 2>&1 &
	pid=$!
	sleep 0.3
	if grep -q "Ready to accept" "$dir/log"; then
		port=$p
		break
	fi
	wait "$pid" 2>/dev/null
	pid=""
done
[ -n "$port" ] || { echo "no free port for redis-server"; exit 1; }
"$build/tests/bench/rate/bench_rate" -t "$threads" -n "$checks" -r "$port"
