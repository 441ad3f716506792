#!/bin/sh
# run.sh - the milter protocol engine against hostile and broken MTA-side
# peers (tests/proto/README.md): every tests/proto/t_*.py in turn, each
# against daemons of its own (evlib.py of tests/evasion, started and
# stopped by PID), with the engine TG_ENGINE names (-E; unset: the
# daemon's default). A test exits 0 (passed), 77 (skipped, with its
# reason) or anything else (failed). Skips (77) as a whole only when
# python3 is missing.
# Environment (from tests/Makefile.am): TOLLGATE, top_srcdir,
# top_builddir, TG_ENGINE; PROTO_TESTS="t_a.py t_b.py" runs a few.

top_srcdir=${top_srcdir:-.}
src=$(cd "$top_srcdir/tests/proto" && pwd)
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "run.sh: $PYTHON not installed (apt-get install python3)"
	exit 77
fi
export TOLLGATE top_srcdir top_builddir TG_ENGINE
export PYTHONDONTWRITEBYTECODE=1	# nothing written into the source tree

failed=0
ran=0
for t in ${PROTO_TESTS:-$(cd "$src" && ls t_*.py)}; do
	echo "== $t (engine ${TG_ENGINE:-default})"
	"$PYTHON" "$src/$t"
	rc=$?
	case $rc in
	0)	ran=$((ran + 1)) ;;
	77)	;;
	*)	echo "FAIL: $t (exit $rc)"
		failed=1 ;;
	esac
done
echo "run.sh: $ran protocol tests passed"
exit $failed
