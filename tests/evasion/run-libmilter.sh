#!/bin/sh
# run-libmilter.sh - run.sh (without the engine-free MIME differential test) with libmilter's engine (-E libmilter): make check
# runs the black-box suites under both engines (the default is native).
TG_ENGINE=libmilter
export TG_ENGINE
EVASION_TESTS=$(cd "${top_srcdir:-.}/tests/evasion" && ls t_*.py |
    grep -v t_mime_differential)
export EVASION_TESTS
exec sh "${top_srcdir:-.}/tests/evasion/run.sh"
