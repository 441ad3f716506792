#!/bin/sh
# service.sh - systemd-analyze verify on the unit, made from
# service/tollgate.service.in with the built daemon's path; any message
# fails (a bad value is only a warning to systemd). Skips (77) without
# systemd-analyze. Environment: top_srcdir, top_builddir, SYSTEMD_ANALYZE.
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
SYSTEMD_ANALYZE=${SYSTEMD_ANALYZE:-$(command -v systemd-analyze)}
if [ -z "$SYSTEMD_ANALYZE" ]; then
	echo "service.sh: systemd-analyze not installed"
	exit 77
fi
sbindir=$(cd "$top_builddir/filter" && pwd)
dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-unit.XXXXXX") || exit 1
trap 'rm -rf "$dir"' EXIT
sed -e "s|@sbindir@|$sbindir|g" -e "s|@sysconfdir@|/etc|g" \
    "$top_srcdir/service/tollgate.service.in" >"$dir/tollgate.service"
out=$("$SYSTEMD_ANALYZE" verify --man=no "$dir/tollgate.service" 2>&1)
rc=$?
# Inside some containers systemd-analyze cannot run at all.
case $out in
*"Failed to initialize manager"*|*"System has not been booted"*)
	echo "service.sh: systemd-analyze cannot run here: $out"
	exit 77 ;;
esac
if [ $rc != 0 ] || [ -n "$out" ]; then
	echo "FAIL: systemd-analyze verify:"
	echo "$out"
	exit 1
fi
echo "ok - tollgate.service verifies"
