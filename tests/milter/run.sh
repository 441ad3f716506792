#!/bin/sh
# run.sh - black-box tests of the tollgate daemon over the milter protocol.
# Starts the real daemon in the foreground on unix sockets in a fresh
# temporary directory, runs every tests/milter/*.lua with miltertest, and
# stops the daemons by their PIDs (also on failure). Skips (77) only when
# miltertest is not installed.
# Environment (from tests/Makefile.am): TOLLGATE, MILTERTEST, top_srcdir,
# top_builddir. Set KEEP=1 to keep the temporary directory and logs.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
TG_WRAPPER=${TG_WRAPPER:-}
MILTERTEST=${MILTERTEST:-$(command -v miltertest)}
src=$(cd "$top_srcdir/tests/milter" && pwd)

if [ -z "$MILTERTEST" ] || [ ! -x "$MILTERTEST" ]; then
	echo "run.sh: miltertest not installed (apt-get install miltertest)"
	exit 77
fi
if [ ! -x "$TOLLGATE" ]; then
	echo "run.sh: $TOLLGATE not built"
	exit 1
fi

. "$src/../daemon.sh"
tg_dir milter
engine=$(tg_engine)
echo "engine: $engine"

# start NAME CONF: run a daemon as $dir/NAME/{sock,pid,log}, wait for its
# socket. The PID is $! (-f: no fork), also written to the pidfile.
start() {
	tg_start "$1" -d -c "$2" -P "$dir/$1/pid"
}

# stop NAME: SIGTERM by PID; the daemon must exit 0 and remove its pidfile
stop() {
	tg_stop_ok "$1" || return
	if [ -e "$dir/$1/pid" ]; then
		echo "FAIL: daemon $1 left its pidfile"
		failed=1
	else
		echo "ok - daemon $1 stopped cleanly"
	fi
}

# alive NAME: the daemon still runs (after the stress scripts)
alive() {
	eval "p=\$pid_$1"
	if kill -0 "$p" 2>/dev/null; then
		echo "ok - daemon $1 still alive"
	else
		echo "FAIL: daemon $1 died; log:"
		tail -20 "$dir/$1/log"
		failed=1
	fi
}

# run NAME SCRIPT: one miltertest script against daemon NAME
run() {
	if "$MILTERTEST" -D socket="$dir/$1/sock" -D log="$dir/$1/log" \
	    -D pidfile="$dir/$1/pid" -D conf="$dir/$1/policy.conf" \
	    -D srcdir="$src" -D lib="$src/lib.lua" -D engine="$engine" \
	    -s "$2" \
	    >"$dir/out" 2>&1; then
		cat "$dir/out"
		echo "PASS: $(basename "$2")"
	else
		cat "$dir/out"
		echo "FAIL: $(basename "$2") (daemon log: $dir/$1/log)"
		tail -15 "$dir/$1/log"
		failed=1
	fi
}

# The main daemon: one policy for every scenario but reload.
start main "$src/policy.conf"
for t in "$src"/[0-9]*.lua; do
	run main "$t"
done
alive main

# Reload: a daemon of its own, whose policy file the test rewrites.
mkdir -p "$dir/reload"
cp "$src/reload-v1.conf" "$dir/reload/policy.conf"
start reload "$dir/reload/policy.conf"
run reload "$src/reload.lua"
alive reload

# Submission: a daemon of its own, with a Cyrus sasldb made here.
submit=0
if command -v saslpasswd2 >/dev/null 2>&1; then
	submit=1
	mkdir -p "$dir/submit/sasl"
	printf 'pwcheck_method: auxprop\nauxprop_plugin: sasldb\nsasldb_path: %s\n' \
	    "$dir/submit/sasl/sasldb2" >"$dir/submit/sasl/tgsubmit.conf"
	for u in alice bob; do
		echo pw | saslpasswd2 -p -c -f "$dir/submit/sasl/sasldb2" \
		    -u example.org "$u" || failed=1
	done
	printf 'sasl { service "tgsubmit" config-path "sasl" realm "example.org" }\ninclude "%s/submission-rules.inc"\n' \
	    "$src" >"$dir/submit/policy.conf"
	start submit "$dir/submit/policy.conf"
	run submit "$src/submission.lua"
	alive submit
else
	echo "run.sh: saslpasswd2 not installed (sasl2-bin): submission" \
	    "scenarios skipped"
fi

# Limits (size, recipients, headers, relay): a daemon of its own.
start limits "$src/limits.conf"
run limits "$src/limits.lua"
alive limits

# Header and attachment rules: a daemon of its own, since its header
# rules would refuse the other scenarios' messages.
start content "$src/content.conf"
run content "$src/content.lua"
alive content

tg_term main reload limits submit content
stop main
stop reload
stop limits
[ $submit = 1 ] && stop submit
stop content
exit $failed
