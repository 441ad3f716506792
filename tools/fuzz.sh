#!/bin/sh
# fuzz.sh - build the libFuzzer targets (clang, ASan+UBSan) in _build-fuzz
# and run each for FUZZ_SECONDS (default 30) from the seed corpus in
# tests/fuzz/corpus. New inputs go to a scratch copy, not the repository.
# A crash leaves its input in _build-fuzz/crashes/ and fails the run: add
# it to the corpus and a regression test named after it.
# Usage: sh tools/fuzz.sh [target ...]
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
build=${TOLLGATE_FUZZDIR:-$top/_build-fuzz}
secs=${FUZZ_SECONDS:-30}
say() { printf 'fuzz.sh: %s\n' "$*"; }

[ -x "$top/configure" ] || (cd "$top" && autoreconf -fi)
mkdir -p "$build"
if [ ! -f "$build/config.status" ]; then
	(cd "$build" && CC=clang "$top/configure" -q --enable-fuzzing) ||
	    { say "configure failed"; exit 1; }
fi
make -C "$build" -j2 -s >/dev/null
make -C "$build/tests" -j2 -s fuzz/fuzz_policy fuzz/fuzz_table \
    fuzz/fuzz_addr fuzz/fuzz_engine fuzz/fuzz_mime fuzz/fuzz_hdr \
    fuzz/fuzz_txn fuzz/fuzz_session >/dev/null

targets=${*:-policy table addr engine mime hdr txn session}
mkdir -p "$build/crashes"
failed=0
for t in $targets; do
	work="$build/corpus-$t"
	rm -rf "$work" && mkdir -p "$work"
	cp "$top/tests/fuzz/corpus/$t/"* "$work/" 2>/dev/null || true
	say "fuzz_$t for ${secs}s"
	if ! "$build/tests/fuzz/fuzz_$t" -max_total_time="$secs" \
	    -max_len=4096 -timeout=10 -rss_limit_mb=1024 -print_final_stats=1 \
	    -artifact_prefix="$build/crashes/$t-" "$work" \
	    >"$build/fuzz_$t.log" 2>&1; then
		tail -n 40 "$build/fuzz_$t.log"
		say "FAIL: fuzz_$t (input in $build/crashes/)"
		failed=$((failed + 1))
	else
		grep -E '^stat::number_of_executed_units' "$build/fuzz_$t.log" |
		    sed "s/^/fuzz.sh: fuzz_$t /" || true
	fi
done
[ "$failed" -eq 0 ] || exit 1
say "PASS: $targets"
