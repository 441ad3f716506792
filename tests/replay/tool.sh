#!/bin/sh
# tool.sh - tollgate-test itself (tollgate-test(8)): every shipped policy's
# session file passes with every rule matched (-u); errors in session and
# records files are reported as file:line:column (exit 2); expectations
# that do not hold print a diff (exit 1); a binary 10 MB message gets a
# defined verdict; a policy's Redis store is replaced by a private one
# unless -S; and the DNS sessions need no network at all. Run by make
# check with top_srcdir and TOLLGATE_TEST set (tests/Makefile.am).
set -u

: "${top_srcdir:=..}"
: "${TOLLGATE_TEST:=../filter/tollgate-test}"
: "${TOLLGATE:=../filter/tollgate}"

T=$(cd "$(dirname "$TOLLGATE_TEST")" && pwd)/$(basename "$TOLLGATE_TEST")
top=$(cd "$top_srcdir" && pwd)
data=$top/tests/replay/data
if [ ! -x "$T" ]; then
	echo "tool.sh: $T not built" >&2
	exit 99
fi
tmp=$(mktemp -d "${TMPDIR:-/tmp}/tg-tool.XXXXXX") || exit 99
trap 'rm -rf "$tmp"' EXIT
failed=0

ok() { echo "ok: $*"; }
bad() {
	echo "FAIL: $*" >&2
	failed=$((failed + 1))
}

# want RC EXPECTED-FILE: the last run's status and output
want() {
	if [ "$rc" -ne "$1" ]; then
		bad "$name: exit $rc, want $1"
		sed 's/^/    /' "$tmp/out" >&2
	elif [ -n "${2:-}" ] && ! diff -u "$2" "$tmp/out" >"$tmp/diff"; then
		bad "$name: output differs from $2"
		cat "$tmp/diff" >&2
	else
		ok "$name"
	fi
}

# 1. The shipped policies: each has a session file, which passes, and
# makes every rule of the policy match at least once.
n=0
for conf in "$top"/policies/*.conf; do
	p=$(basename "$conf" .conf)
	s=$top/policies/sessions/$p.session
	n=$((n + 1))
	name="policies/sessions/$p.session"
	if [ ! -f "$s" ]; then
		bad "$p.conf has no session file ($s)"
		continue
	fi
	(cd "$top" && "$T" -q -u "policies/sessions/$p.session") \
	    >"$tmp/out" 2>&1
	rc=$?
	want 0
done
[ "$n" -gt 0 ] || bad "no policies/*.conf under $top"

# 2. Syntax errors: all of them, with line and column, nothing run.
name="syntax errors"
(cd "$data" && "$T" -c ../../../policies/default.conf syntax.session) \
    >"$tmp/out" 2>&1
rc=$?
want 2 "$data/syntax.expected"

name="records file errors"
(cd "$data" && "$T" records-bad.session) >"$tmp/out" 2>&1
rc=$?
want 2 "$data/records-bad.expected"

# 3. Expectations that do not hold: one diff each, exit 1.
name="failed expectations"
(cd "$data" && "$T" -q fail.session) >"$tmp/out" 2>&1
rc=$?
want 1 "$data/fail.expected"

name="-x stops after the first step that fails"
(cd "$data" && "$T" -q -x fail.session) >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] && grep -q 'expect 451' "$tmp/out" &&
    ! grep -q 'rcpt <carol@example.net>' "$tmp/out"; then
	ok "$name"
else
	want 1
fi

name="-n checks only"
(cd "$top" && "$T" -n policies/sessions) >"$tmp/out" 2>&1
rc=$?
want 0 /dev/null

name="a policy with errors"
printf 'stage rcpt { rule r : rcpt.domain in nowhere => reject 554 5.7.1 "x" }\n' \
    >"$tmp/broken.conf"
printf 'session s\n  mail <a@example.org>\n' >"$tmp/s.session"
"$T" -c "$tmp/broken.conf" "$tmp/s.session" >"$tmp/out" 2>&1
rc=$?
if [ "$rc" -eq 2 ] && grep -q "broken.conf:1:[0-9]*: error:" "$tmp/out"; then
	ok "$name"
else
	want 2
fi

# 4. A binary message of 10 MB (every byte value, NULs too), from a file.
name="a 10 MB binary message"
perl -e 'binmode STDOUT; print "Subject: binary\r\n",
    "Content-Type: application/octet-stream\r\n\r\n";
    print join("", map { chr } 0 .. 255) for 1 .. 40960' >"$tmp/big.eml"
cat >"$tmp/big.session" <<EOF
policy "$top/policies/mx-inbound.conf"
client 203.0.113.50 mail.example.com
session binary
  mail <sender@example.com>
  rcpt <bob@example.org>
  data big.eml
  expect 250
  expect rule -
session binary, over the size limit
  mail <sender@example.com>
  rcpt <bob@example.org>
  data big.eml pad 16m
  expect 552 5.3.4 "Message size exceeds fixed maximum message size"
EOF
"$T" -q "$tmp/big.session" >"$tmp/out" 2>&1
rc=$?
want 0

# 5. Counters never reach a shared store: a policy's Redis store (here a
# port nobody listens on) is the private memory store unless -S.
cat >"$tmp/redis.conf" <<'EOF'
store redis { address "127.0.0.1:1" timeout 100ms }
limit two { key sasl.login count messages max 2 per 1h store redis }
stage mail { rule quota : limit two exceeded
    => tempfail 450 4.7.1 "quota" }
EOF
cat >"$tmp/redis.session" <<'EOF'
session two messages, then the quota
  auth alice
  repeat 2
    mail <alice@example.org>
    expect 250
    rcpt <bob@example.org>
    data
Subject: %n

.
    expect 250
  end
  mail <alice@example.org>
  expect 450 4.7.1 "quota"
EOF
name="a Redis store is replaced by a private one"
"$T" -q -c "$tmp/redis.conf" "$tmp/redis.session" >"$tmp/out" 2>&1
rc=$?
want 0
if "$TOLLGATE" -n -c "$tmp/redis.conf" >/dev/null 2>&1; then
	name="-S uses the policy's Redis store"
	"$T" -q -S -c "$tmp/redis.conf" "$tmp/redis.session" >"$tmp/out" 2>&1
	rc=$?
	if [ "$rc" -eq 1 ] && grep -q "mail <alice@example.org>: 451 4.3.0" \
	    "$tmp/out"; then
		ok "$name"
	else
		want 1
	fi
else
	echo "skip: -S with Redis (tollgate built without hiredis)"
fi

# 6. Nothing is sent anywhere: the DNS sessions pass with no network at
# all (a network namespace of their own, without even loopback up).
name="isp-antispam.session without a network"
if unshare -n true 2>/dev/null; then
	(cd "$top" && unshare -n "$T" -q policies/sessions/isp-antispam.session) \
	    >"$tmp/out" 2>&1
	rc=$?
	want 0
else
	echo "skip: $name (unshare -n not permitted here)"
fi

[ "$failed" -eq 0 ] || { echo "tool.sh: $failed failed" >&2; exit 1; }
echo "tool.sh: all passed"
