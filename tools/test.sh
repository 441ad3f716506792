#!/bin/sh
# test.sh - what CI runs (.ci/run): install missing Debian packages (as
# root), regenerate the build system, configure a developer build with
# warnings as errors in _build/, build, run every test, then "make
# distcheck". Exits non-zero at the first failing step and prints the logs
# of the failing tests. The last line is a one-line summary.
# Usage: sh tools/test.sh
set -eu

prog=test.sh
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/common.sh"

step=setup
fail() {
	say "FAIL at step '$step': $*"
	exit 1
}

step=deps
sh "$top/tools/install-deps.sh" || fail "missing Debian packages"

step=autoreconf
(cd "$top" && autoreconf -fi) || fail "autoreconf -fi"

step=configure
# A stale configuration (other flags, older configure) must not leak in.
if [ -f "$build/Makefile" ] && [ "$build" != "$top" ]; then
	make -C "$build" distclean >/dev/null 2>&1 || true
fi
mkdir -p "$build"
say "configure --enable-werror (in $build)"
(cd "$build" && "$top/configure" --enable-werror) || {
	[ -f "$build/config.log" ] && tail -n 40 "$build/config.log"
	fail "configure (see $build/config.log)"
}

step=build
say "make -j$jobs"
make -C "$build" -j"$jobs" || fail "make"

step=check
say "make check"
if ! make -C "$build" -j"$jobs" check; then
	# test-suite.log holds the log of every test that did not pass.
	logs=$(find "$build" -name test-suite.log -newer "$build/config.status")
	[ -n "$logs" ] || fail "make check: tests not built or not run (errors above)"
	for log in $logs; do
		printf '\n===== %s =====\n' "$log"
		cat "$log"
	done
	fail "make check: some tests failed (logs above)"
fi
# Totals from the test-suite logs, e.g. "# PASS: 8".
count() {
	find "$build" -name test-suite.log -newer "$build/config.status" \
	    -exec sed -n "s/^# $1: *//p" {} + | awk '{ n += $1 } END { print n + 0 }'
}
pass=$(count PASS); skip=$(count SKIP); xfail=$(count XFAIL)

# Reliability (issue 9): the same tests under AddressSanitizer and
# UndefinedBehaviorSanitizer; the concurrency tests under ThreadSanitizer; the black-box suite once under valgrind
# memcheck (zero errors, zero definite leaks); each fuzz target for a
# bounded time (FUZZ_SECONDS, default 30).
step=sanitizers
asan=$top/_build-asan
mkdir -p "$asan"
say "configure --enable-sanitizers (in $asan), make check"
if [ ! -f "$asan/config.status" ]; then
	(cd "$asan" && "$top/configure" -q --enable-sanitizers) ||
	    fail "configure --enable-sanitizers"
fi
make -C "$asan" -j"$jobs" >/dev/null || fail "sanitizer build"
if ! make -C "$asan" -j"$jobs" check; then
	find "$asan" -name test-suite.log -exec cat {} +
	fail "make check under ASan+UBSan"
fi

# ThreadSanitizer: the thread stress test (sessions against a policy being
# republished, shared store counters), the engine and rate tests, and the
# daemon suites, reload included. A race aborts the process (exit 66).
# tests/tsan.supp names libmilter's own shutdown races (not instrumented).
step=tsan
tsan=$top/_build-tsan
mkdir -p "$tsan"
say "configure --enable-tsan (in $tsan), thread, engine, rate, milter, sentinel tests"
if [ ! -f "$tsan/config.status" ]; then
	(cd "$tsan" && "$top/configure" -q --enable-tsan) ||
	    fail "configure --enable-tsan"
fi
make -C "$tsan" -j"$jobs" >/dev/null || fail "ThreadSanitizer build"
if ! TSAN_OPTIONS="halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
    suppressions=$top/tests/tsan.supp" make -C "$tsan/tests" -j"$jobs" check \
    TESTS="check_threads check_engine check_rate check_ratekey milter/run.sh \
    rate/run.sh fault/run.sh proto/run.sh check_greystore grey/run.sh \
    sentinel/run.sh"
then
	find "$tsan/tests" -name '*.log' -newer "$tsan/config.status" \
	    -exec cat {} +
	fail "ThreadSanitizer found a race"
fi

step=valgrind
say "milter suite with the daemon under valgrind memcheck"
if ! TG_WRAPPER="valgrind -q --error-exitcode=99 --leak-check=full \
    --errors-for-leak-kinds=definite --show-leak-kinds=definite" \
    make -C "$build/tests" check TESTS="milter/run.sh milter/dns.sh"; then
	cat "$build/tests/milter/run.sh.log" "$build/tests/milter/dns.sh.log"
	fail "valgrind memcheck on the milter suite"
fi

step=fuzz
sh "$top/tools/fuzz.sh" || fail "fuzzing found a crash"

step=distcheck
say "make distcheck"
make -C "$build" -j"$jobs" distcheck || fail "make distcheck"
tarball=$(ls -t "$build"/tollgate-*.tar.gz 2>/dev/null | head -n 1)

say "PASS: build (-Werror), make check ($pass passed, $skip skipped, $xfail expected failures), make distcheck (${tarball##*/})"
# The plain closing line CI reads: test programs and scripts run by make check.
echo "tests: $pass passed, 0 failed, $skip skipped"
