#!/bin/sh
# run.sh - fault tests at the milter-protocol level (issue 9): clients
# that hang up mid-message, 10,000 recipients, a streamed 50 MB body, NUL,
# CR/LF, % and 8-bit bytes in every field (nothing reaches a reply text or
# the log raw), SIGKILL mid-session and a restart over the stale socket and
# pidfile, SIGHUP with a broken policy while sessions are in flight, a
# burst of SIGHUPs during slow reloads, and
# pidfiles that cannot be written. The client is faultmilter.pl (Perl,
# raw milter packets). Daemons run on unix sockets in a temporary
# directory and are stopped by PID. Set KEEP=1 to keep the directory.
# Environment (from tests/Makefile.am): TOLLGATE, top_srcdir.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
TOLLGATE=${TOLLGATE:-$top_builddir/filter/tollgate}
src=$(cd "$top_srcdir/tests/fault" && pwd)
[ -x "$TOLLGATE" ] || { echo "run.sh: $TOLLGATE not built"; exit 1; }

. "$src/../daemon.sh"
tg_dir fault
# The daemon "d": $d/sock, its log $d/log (appended across the restart).
d=$dir/d
client="perl $src/faultmilter.pl $d/sock"


# start: the daemon with $dir/policy.conf. It is up when its socket is
# there and the log has its start-up line: $starts of them, since a
# restart after SIGKILL finds the old socket still there.
tg_up() {
	[ -S "$dir/$1/sock" ] &&
	    [ "$(grep -c 'starting on' "$dir/$1/log")" -ge "$starts" ]
}
start() {
	tg_start d -c "$dir/policy.conf" -P "$dir/pid"
}
starts=1

# expect WHAT RC CLIENT-ARGS...: the client exits with RC
expect() {
	what=$1 want=$2
	shift 2
	$client "$@" >"$dir/out" 2>&1
	rc=$?
	if [ $rc = "$want" ]; then
		ok "$what"
	else
		fail "$what: client exit $rc, want $want"
		cat "$dir/out"
	fi
}

alive() {
	if kill -0 "$pid_d" 2>/dev/null; then
		expect "$1: daemon alive and serving" 0 ok
	else
		fail "$1: daemon died"
		tail -20 "$d/log"
		exit 1
	fi
}

cp "$src/fault.conf" "$dir/policy.conf"
start

# 1. Clients that hang up: between commands and inside a packet.
for at in connect rcpt header body; do
	expect "client hangs up after $at" 0 drop "$at"
done
alive "hang-ups"

# 2. 10,000 recipients in one message, every other one refused.
expect "10,000 recipients" 0 rcpts 10000
grep -q "rcpts: c=5000 y=5000" "$dir/out" && ok "5000 accepted, 5000 refused" ||
    fail "recipient answers: $(grep rcpts: "$dir/out")"

# 3. A 50 MB body, streamed: counted in full (552 at 40 MB).
expect "50 MB body answered 552 5.3.4" 0 body 50

# 4. Hostile bytes in every field; replies stay one printable line.
expect "NUL, CR/LF, % and 8-bit bytes in every field" 0 bytes
grep -q "^mail 2: 550 5.7.1 Sender %%s%%n@bad.example refused" "$dir/out" &&
    ok "% in a quoted sender is doubled for libmilter" ||
    fail "mail 2 reply: $(grep '^mail 2' "$dir/out")"
grep -q "^rcpt 2: 550 5.1.1 " "$dir/out" && ok "rcpt reply with %" ||
    fail "rcpt 2 reply: $(grep '^rcpt 2' "$dir/out")"
expect "CR/LF in HELO quoted in a reply" 0 bytes helo
grep -q '^helo: 550 5.7.1 Bad HELO evil??250-injected %%s%%n? from ' \
    "$dir/out" && ok "CR/LF in a reply became ?" ||
    fail "helo reply: $(grep '^helo' "$dir/out")"
expect "NUL inside the connect host name" 0 badconnect
alive "hostile bytes"
# The log: one line per record, no raw control or 8-bit byte.
if perl -ne 'exit 1 if /[\x00-\x09\x0b-\x1f\x7f-\xff]/' "$d/log"; then
	ok "log has no raw control or 8-bit bytes"
else
	fail "raw bytes in the log"
fi
if grep -q '^c%s\|^250-injected\|^FAKE' "$d/log"; then
	fail "a client value started a log line"
else
	ok "no log line forged"
fi
grep -q 'QIDab\\x0d\\x0ac%s%n%%' "$d/log" && ok "queue id escaped in the log" ||
    fail "escaped queue id not in the log"

# 5. SIGHUP with a broken policy while five sessions are mid-message.
rm -f "$dir/go"
hpids=""
for i in 1 2 3 4 5; do
	$client hold "$dir/go" >"$dir/hold.$i" 2>&1 &
	hpids="$hpids $!"
done
n=0
while [ "$(cat "$dir"/hold.* | grep -c '^held')" -lt 5 ] && [ $n -lt 200 ]; do
	sleep 0.05
	n=$((n + 1))
done
printf 'stage mail {\n  rule broken : sender ==\n' >"$dir/policy.conf"
kill -HUP "$pid_d"
n=0
until grep -q 'reload failed' "$d/log" || [ $n -ge 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
grep -q 'reload failed, keeping generation 1' "$d/log" &&
    ok "broken policy refused, generation 1 kept" ||
    fail "no 'reload failed' in the log"
touch "$dir/go"
i=0
for p in $hpids; do
	i=$((i + 1))
	if wait "$p"; then
		ok "session $i in flight during the reload finished"
	else
		fail "session $i: $(tail -2 "$dir/hold.$i")"
	fi
done
expect "old policy still applies after the failed reload" 0 bytes helo

# 5b. A burst of SIGHUPs while reloads load a large table. libmilter has
# a signal thread of its own that stops the milter on SIGHUP; every one of
# these must reach tollgate's reload thread instead (several per reload
# are coalesced), and the daemon keeps serving.
awk 'BEGIN { for (i = 0; i < 300000; i++)
    printf "%d.%d.%d.0/24 x\n", 11 + int(i / 65536), int(i / 256) % 256,
        i % 256 }' >"$dir/big.cidr"
{ cat "$src/fault.conf"; printf 'table big cidr "%s"\n' "$dir/big.cidr"; } \
    >"$dir/policy.conf"
reloads() { grep -c -e 'policy reloaded' -e 'reload failed' "$d/log"; }
before=$(reloads)
i=0
while [ $i -lt 30 ] && kill -HUP "$pid_d" 2>/dev/null; do
	sleep 0.02
	i=$((i + 1))
done
# Settled: as many reloads ended as began, twice in a row.
n=0 last=
while [ $n -lt 300 ]; do
	now="$(grep -c 'SIGHUP: reloading' "$d/log") $(reloads)"
	set -- $now
	[ "$1" = "$2" ] && [ "$now" = "$last" ] && break
	last=$now
	sleep 0.2
	n=$((n + 1))
done
[ $i = 30 ] && ! grep -q 'stopping\|tollgate stopped' "$d/log" &&
    [ "$(reloads)" -gt "$before" ] &&
    ok "30 SIGHUPs during slow reloads: $(($(reloads) - before)) reloads, still running" ||
    fail "SIGHUP burst: $i sent, $(($(reloads) - before)) reloads; $(tail -3 "$d/log")"
alive "SIGHUP burst"

# 6. SIGKILL mid-session: the client sees the drop; a new daemon starts
# over the stale socket and pidfile and serves.
rm -f "$dir/go"
$client hold "$dir/go" >"$dir/kill.out" 2>&1 &
kpid=$!
n=0
until grep -q '^held' "$dir/kill.out" || [ $n -ge 200 ]; do
	sleep 0.05
	n=$((n + 1))
done
old=$pid_d
tg_stop d KILL
touch "$dir/go"
wait "$kpid"
rc=$?
[ $rc = 2 ] && grep -q 'closed by the daemon' "$dir/kill.out" &&
    ok "SIGKILL: the client saw the connection drop" ||
    fail "SIGKILL: client exit $rc: $(tail -2 "$dir/kill.out")"
[ -S "$d/sock" ] && [ -f "$dir/pid" ] &&
    ok "SIGKILL left a stale socket and pidfile" ||
    echo "note: no stale socket or pidfile left to test the restart with"
cp "$src/fault.conf" "$dir/policy.conf"
starts=2
start
[ "$(cat "$dir/pid")" = "$pid_d" ] && [ "$pid_d" != "$old" ] &&
    ok "restart: pidfile rewritten with the new PID" ||
    fail "restart: pidfile holds $(cat "$dir/pid"), want $pid_d"
alive "restart"

# A second daemon on a socket that is served refuses to take it over.
if "$TOLLGATE" $TG_E -R -f -p "unix:$d/sock" -c "$dir/policy.conf" \
    2>"$dir/second.log"; then
	fail "a second daemon started on a live socket"
else
	grep -q 'another process is serving' "$dir/second.log" &&
	    ok "a second daemon refuses a live socket" ||
	    fail "second daemon: $(cat "$dir/second.log")"
fi
alive "second daemon refused"

if tg_stop_ok d; then
	[ ! -e "$dir/pid" ] && ok "SIGTERM: exit 0, pidfile removed" ||
	    fail "SIGTERM: exit 0, but the pidfile is left"
fi

# 7. A pidfile that cannot be written: a clear error, exit 1, the socket
# removed again, and (detached) the parent exits 1 too.
mkdir -p "$dir/ro"
for pf in /dev/full "$dir/no-such-dir/pid" /proc/tollgate-test.pid; do
	for mode in -f ""; do
		rm -f "$dir/sock2"
		"$TOLLGATE" $TG_E -R $mode -p "unix:$dir/sock2" -c "$src/fault.conf" \
		    -P "$pf" >"$dir/pf.log" 2>&1
		rc=$?
		what="pidfile $pf${mode:+ (foreground)}"
		if [ $rc = 1 ] && grep -q "pidfile $pf" "$dir/pf.log" &&
		    [ ! -e "$dir/sock2" ]; then
			ok "$what: exit 1, error shown, no socket left"
		else
			fail "$what: exit $rc, socket $(ls "$dir/sock2" 2>&1)"
			cat "$dir/pf.log"
		fi
	done
done
# No daemon left behind by the detached attempts.
if perl -MIO::Socket::UNIX -e 'exit(IO::Socket::UNIX->new(Peer => $ARGV[0])
    ? 1 : 0)' "$dir/sock2"; then
	ok "no half-started daemon"
else
	fail "a daemon serves $dir/sock2"
fi

exit $failed
