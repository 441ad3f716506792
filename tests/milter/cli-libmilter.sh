#!/bin/sh
# cli-libmilter.sh - cli.sh with libmilter's engine (-E libmilter): make check
# runs the black-box suites under both engines (the default is native).
TG_ENGINE=libmilter
export TG_ENGINE
exec sh "${top_srcdir:-.}/tests/milter/cli.sh"
