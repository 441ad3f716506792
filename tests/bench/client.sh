#!/bin/sh
# client.sh - make check test of milterload as a test client: against the
# real tollgate daemon running policies/default.conf, it asserts the exact
# reply codes and texts at MAIL and RCPT (client.scn), and must itself
# fail on a wrong expectation and on a silent rejection (-A).
# Environment (from tests/Makefile.am): TOLLGATE, MILTERLOAD, top_srcdir.

top_srcdir=${top_srcdir:-.}
TOLLGATE=${TOLLGATE:-filter/tollgate}
MILTERLOAD=${MILTERLOAD:-tests/bench/milterload}
src=$(cd "$top_srcdir" && pwd)
. "$src/tests/bench/lib.sh"

for p in "$TOLLGATE" "$MILTERLOAD"; do
	if [ ! -x "$p" ]; then
		echo "client.sh: $p not built"
		exit 1
	fi
done

dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-mload.XXXXXX") || exit 1
pid=
cleanup() {
	if [ -n "$pid" ]; then
		kill -TERM "$pid" 2>/dev/null
		wait "$pid" 2>/dev/null
	fi
	rm -rf "$dir"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

"$TOLLGATE" -R -f -p "unix:$dir/sock" -c "$src/policies/default.conf" \
    2>"$dir/log" &
pid=$!
n=0
while [ ! -S "$dir/sock" ]; do
	if ! kill -0 "$pid" 2>/dev/null || [ $n -ge 100 ]; then
		echo "FAIL: tollgate did not start:"
		cat "$dir/log"
		exit 1
	fi
	sleep 0.1
	n=$((n + 1))
done

fail=0
# 1. The scripted session: every expectation met.
if ! mload -v -s "unix:$dir/sock" -f "$src/tests/bench/client.scn" \
    >"$dir/out1" 2>&1; then
	echo "FAIL: client.scn:"
	cat "$dir/out1"
	fail=1
fi
# Nine expectations are in client.scn: each must have been checked.
if [ "$(grep -c '^ok: ' "$dir/out1")" != 9 ]; then
	echo "FAIL: client.scn: want 9 checked expectations, got:"
	cat "$dir/out1"
	fail=1
fi

# 2. A wrong expectation is reported, with exit status 1.
cat >"$dir/wrong.scn" <<'SCN'
mail <x@example.net>
rcpt <y@elsewhere.example>
expect 550 5.7.1 Relay access denied
SCN
mload -s "unix:$dir/sock" -f "$dir/wrong.scn" >"$dir/out2" 2>&1
rc=$?
if [ $rc != 1 ] || ! grep -q \
    '^FAIL: line 3: rcpt: got "554 5.7.1 Relay access denied", want "550' \
    "$dir/out2"; then
	echo "FAIL: wrong expectation: status $rc, want 1, and the line:"
	cat "$dir/out2"
	fail=1
fi

# 3. Load mode with -A: a refused message fails the run (status 3) and
# the report counts the replies by text, so it cannot pass unnoticed.
cat >"$dir/relay.scn" <<'SCN'
mail <x@example.net>
rcpt <y@elsewhere.example>
SCN
mload -A -c 2 -n 20 -s "unix:$dir/sock" -f "$dir/relay.scn" \
    >"$dir/out3" 2>&1
rc=$?
if [ $rc != 3 ] || ! grep -q 'rcpt .* 20  554 5.7.1 Relay access denied' \
    "$dir/out3" || ! grep -q '^RESULT msgs=20 ok=0 refused=20 errors=0' \
    "$dir/out3"; then
	echo "FAIL: silent rejections: status $rc, want 3, and counts:"
	cat "$dir/out3"
	fail=1
fi

# 4. And a clean load run is accepted in full.
if ! mload -A -q -c 4 -n 200 -m 5 -s "unix:$dir/sock" \
    >"$dir/out4" 2>&1; then
	echo "FAIL: default load scenario:"
	cat "$dir/out4"
	fail=1
fi

# 5. Macros of attributes no rule reads are not copied (drive_macros.c
# fetches only what the pinned policy uses): default.conf does not read
# tls.cipher_bits, so its malformed value passes unnoticed; a policy that
# reads it says the value is bad.
cat >"$dir/macros.scn" <<'SCN'
client mail.example.net 192.0.2.10
macro helo {cipher_bits} not-bits
helo mail.example.net
mail <alice@example.net>
rcpt <postmaster@example.org>
eom
expect continue
SCN
mload -s "unix:$dir/sock" -f "$dir/macros.scn" >"$dir/out5" 2>&1 ||
    { echo "FAIL: macros.scn:"; cat "$dir/out5"; fail=1; }
if grep -q 'malformed value' "$dir/log"; then
	echo "FAIL: a macro no rule reads was copied:"
	grep 'malformed value' "$dir/log"
	fail=1
fi
printf 'stage mail {\n rule bits : tls.cipher_bits > 512 => %s\n}\n' \
    'reject 550 5.7.1 "no"' >"$dir/bits.conf"
"$TOLLGATE" -R -f -p "unix:$dir/sock2" -c "$dir/bits.conf" 2>"$dir/log2" &
pid2=$!
n=0
while [ ! -S "$dir/sock2" ] && kill -0 "$pid2" 2>/dev/null && [ $n -lt 100 ]
do
	sleep 0.1
	n=$((n + 1))
done
mload -s "unix:$dir/sock2" -f "$dir/macros.scn" >"$dir/out6" 2>&1
kill -TERM "$pid2" 2>/dev/null
wait "$pid2" 2>/dev/null
if ! grep -q 'macro {cipher_bits}: malformed value "not-bits"' \
    "$dir/log2"; then
	echo "FAIL: tls.cipher_bits in use: want {cipher_bits} copied:"
	cat "$dir/out6" "$dir/log2"
	fail=1
fi

[ $fail = 0 ] && echo "client.sh: ok"
exit $fail
