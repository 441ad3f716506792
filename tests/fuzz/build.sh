#!/bin/sh
# build.sh - build the libFuzzer targets with clang (Debian's clang):
#   sh tests/fuzz/build.sh SRCDIR BUILDDIR     (or: make fuzz)
# BUILDDIR is a configured build (for config.h). Binaries go to
# BUILDDIR/tests/fuzz-bin/. Run one for a bounded time, e.g.:
#   tests/fuzz-bin/fuzz_mime -max_total_time=60 -max_len=65536 \
#       SRCDIR/tests/fuzz/seed/mime
set -eu
src=${1:-.}
build=${2:-.}
CC=${FUZZ_CC:-clang}
out="$build/tests/fuzz-bin"
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all
    -I$build -I$src/include"
core="$src/filter/mime.c $src/filter/mime_hdr.c $src/filter/mem.c
    $src/filter/str.c"
for t in mime hdr; do
	# shellcheck disable=SC2086 # word splitting of the lists is wanted
	$CC $flags -o "$out/fuzz_$t" "$src/tests/fuzz/fuzz_$t.c" $core -lcrypto
	echo "built $out/fuzz_$t"
done
