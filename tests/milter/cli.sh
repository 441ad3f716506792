#!/bin/sh
# cli.sh - the tollgate command line: -n (check the policy), -V, -h, bad
# options, a broken policy at start, no policy file, -u. Environment as for
# run.sh (TOLLGATE, top_srcdir, top_builddir; TG_ENGINE: the engine, -E).

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
src=$(cd "$top_srcdir/tests/milter" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-cli.XXXXXX") || exit 1
failed=0
daemon=""
TG_E=${TG_ENGINE:+-E $TG_ENGINE}

cleanup() {
	if [ -n "$daemon" ]; then
		kill -TERM "$daemon" 2>/dev/null
		wait "$daemon" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT

ok() { echo "ok - $1"; }
fail() { echo "FAIL: $1"; failed=1; }

# expect STATUS NAME CMD...: run CMD, stdout+stderr in $dir/out
expect() {
	want=$1 name=$2
	shift 2
	"$@" >"$dir/out" 2>&1
	rc=$?
	if [ "$rc" = "$want" ]; then
		ok "$name"
	else
		fail "$name: exit $rc, want $want"
		cat "$dir/out"
	fi
}

# has NAME TEXT: $dir/out contains the fixed string TEXT
has() {
	if grep -qF -- "$2" "$dir/out"; then
		ok "$1"
	else
		fail "$1: \"$2\" not in output:"
		cat "$dir/out"
	fi
}

# -n on a valid policy
expect 0 "-n: valid policy" "$TOLLGATE" -n -c "$src/policy.conf"
if [ -s "$dir/out" ]; then
	fail "-n: a valid policy prints nothing"
	cat "$dir/out"
fi

# -n on a policy with two errors: both, with file:line:col, exit 1
cat >"$dir/two-errors.conf" <<'CONF'
stage mail {
    rule one : sender == "a@example.com" => reject 450 5.7.1 "x"
    rule two : nonsense.attr == "b" => accept
}
CONF
expect 1 "-n: two errors" "$TOLLGATE" -n -c "$dir/two-errors.conf"
has "-n: first error" "$dir/two-errors.conf:2:"
has "-n: second error" "$dir/two-errors.conf:3:"
if [ "$(grep -c ': error: ' "$dir/out")" = 2 ]; then
	ok "-n: one line per error"
else
	fail "-n: want exactly two error lines"
	cat "$dir/out"
fi
if grep -qE "^$dir/two-errors.conf:[0-9]+:[0-9]+: error: " "$dir/out"; then
	ok "-n: file:line:col: error: msg"
else
	fail "-n: diagnostics not in file:line:col form"
fi

expect 1 "-n: missing file" "$TOLLGATE" -n -c "$dir/nonexistent.conf"
has "-n: missing file named" "$dir/nonexistent.conf"

# every policy shipped with the tests is valid
for f in "$src"/*.conf; do
	case $f in
	*broken*) expect 1 "-n: $(basename "$f") is invalid" \
	    "$TOLLGATE" -n -c "$f" ;;
	*) expect 0 "-n: $(basename "$f")" "$TOLLGATE" -n -c "$f" ;;
	esac
done

expect 0 "-V" "$TOLLGATE" -V
has "-V prints the version" "tollgate "
expect 0 "-h" "$TOLLGATE" -h
has "-h documents the socket mode" "0660"
expect 2 "unknown option" "$TOLLGATE" -Z
expect 1 "bad -p" "$TOLLGATE" $TG_E -R -f -p "tcp:25" -c "$src/policy.conf"

# A broken policy at start is fatal, with its errors.
expect 1 "start with a broken policy" "$TOLLGATE" $TG_E -R -f \
    -p "unix:$dir/sock" -c "$dir/two-errors.conf"
has "start: errors shown" "$dir/two-errors.conf:3:"
[ -e "$dir/sock" ] && fail "start: socket left behind"

# wait_sock: the daemon $daemon (stderr in $dir/log) is up on $dir/sock
wait_sock() {
	n=0
	while [ ! -S "$dir/sock" ] || ! grep -q "starting on" "$dir/log"; do
		if ! kill -0 "$daemon" 2>/dev/null || [ $n -ge 100 ]; then
			return 1
		fi
		sleep 0.1
		n=$((n + 1))
	done
	return 0
}

# stop_daemon NAME: SIGTERM by PID, exit status 0
stop_daemon() {
	kill -TERM "$daemon"
	wait "$daemon"
	rc=$?
	daemon=""
	if [ $rc = 0 ]; then ok "$1: stopped cleanly"; else
		fail "$1: exit status $rc"; fi
}

# Unix socket mode 0660, stale socket file replaced, pidfile.
# a socket left behind by a daemon that died
perl -MIO::Socket::UNIX -e 'IO::Socket::UNIX->new(Type => SOCK_STREAM(),
    Local => $ARGV[0], Listen => 1) or die "$!\n"' "$dir/sock"
[ -S "$dir/sock" ] || fail "could not make a stale socket"
"$TOLLGATE" $TG_E -R -f -p "unix:$dir/sock" -c "$src/policy.conf" -P "$dir/pid" \
    2>"$dir/log" &
daemon=$!
if wait_sock; then
	ok "stale socket file replaced"
	mode=$(stat -c %a "$dir/sock")
	[ "$mode" = 660 ] && ok "socket mode 0660" ||
	    fail "socket mode $mode, want 660"
	[ "$(cat "$dir/pid")" = "$daemon" ] && ok "pidfile" ||
	    fail "pidfile holds $(cat "$dir/pid"), want $daemon"
	stop_daemon "unix socket"
	[ -e "$dir/pid" ] && fail "pidfile not removed" || ok "pidfile removed"
else
	fail "daemon did not start"
	cat "$dir/log"
fi
rm -f "$dir/sock"

# No -c and no default file: empty policy, with a loud warning.
if "$TOLLGATE" -h | grep -q "default .*tollgate.conf" &&
    conf=$("$TOLLGATE" -h | sed -n 's/.*-c config.*(default \(.*\)).*/\1/p') &&
    [ -n "$conf" ] && [ ! -e "$conf" ]; then
	"$TOLLGATE" $TG_E -R -f -p "unix:$dir/sock" 2>"$dir/log" &
	daemon=$!
	if wait_sock; then
		cp "$dir/log" "$dir/out"
		has "no config: loud warning" "EVERY MESSAGE IS PASSED THROUGH"
		stop_daemon "no config"
	else
		fail "no config: daemon did not start"
		cat "$dir/log"
	fi
	rm -f "$dir/sock"
else
	echo "skip - default config exists or unknown: no-config start"
fi

# As root, neither -u nor -R: refused before anything is opened.
if [ "$(id -u)" = 0 ]; then
	expect 1 "root without -u or -R" "$TOLLGATE" $TG_E -f -p "unix:$dir/sock" \
	    -c "$src/policy.conf"
	has "root refused" "refusing to run as root"
	[ -e "$dir/sock" ] && fail "root refused: socket created" ||
	    ok "root refused: no socket"
fi

# -u: an unknown user is refused; as root, the drop takes effect.
expect 1 "-u unknown user" "$TOLLGATE" $TG_E -f -p "unix:$dir/sock" \
    -c "$src/policy.conf" -u no-such-user-tollgate
has "-u unknown user refused" "refusing to run"
rm -f "$dir/sock"
if [ "$(id -u)" = 0 ] && id nobody >/dev/null 2>&1; then
	"$TOLLGATE" $TG_E -f -p "unix:$dir/sock" -c "$src/policy.conf" -u nobody \
	    2>"$dir/log" &
	daemon=$!
	if wait_sock; then
		sleep 0.2
		uid=$(awk '/^Uid:/ { print $2 $3 $4 $5 }' /proc/$daemon/status)
		nob=$(id -u nobody)
		[ "$uid" = "$nob$nob$nob$nob" ] && ok "-u nobody: uid dropped" ||
		    fail "-u nobody: Uid line $uid"
		stop_daemon "-u nobody"
	else
		fail "-u nobody: daemon did not start"
		cat "$dir/log"
	fi
else
	echo "skip - not root: -u privilege drop"
fi

exit $failed
