#!/bin/sh
# run.sh - the standing evasion suite (tests/evasion/README.md): every
# tests/evasion/t_*.py in turn, each against daemons of its own (started
# and stopped by PID by evlib.py). A test exits 0 (passed), 77 (skipped,
# with its reason) or anything else (failed). Skips (77) as a whole only
# when python3 is missing.
# Environment (from tests/Makefile.am): TOLLGATE, top_srcdir,
# top_builddir, UNBOUND_SERVER; EVASION_TESTS="t_a.py t_b.py" runs a few.

top_srcdir=${top_srcdir:-.}
src=$(cd "$top_srcdir/tests/evasion" && pwd)
PYTHON=${PYTHON:-python3}
if ! command -v "$PYTHON" >/dev/null 2>&1; then
	echo "run.sh: $PYTHON not installed (apt-get install python3)"
	exit 77
fi
export TOLLGATE top_srcdir top_builddir UNBOUND_SERVER
export PYTHONDONTWRITEBYTECODE=1	# nothing written into the source tree

failed=0
ran=0
for t in ${EVASION_TESTS:-$(cd "$src" && ls t_*.py)}; do
	echo "== $t"
	"$PYTHON" "$src/$t"
	rc=$?
	case $rc in
	0)	ran=$((ran + 1)) ;;
	77)	;;
	*)	echo "FAIL: $t (exit $rc)"
		failed=1 ;;
	esac
done
echo "run.sh: $ran evasion tests passed"
exit $failed
