#!/bin/sh
# run-libmilter.sh - run.sh with libmilter's engine (-E libmilter): make check
# runs the black-box suites under both engines (the default is native).
TG_ENGINE=libmilter
export TG_ENGINE
exec sh "${top_srcdir:-.}/tests/grey/run.sh"
