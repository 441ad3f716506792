#!/bin/sh
# start.sh - build Tollgate and run it with policies/default.conf on a
# loopback socket an MTA can be pointed at. Installs missing Debian
# packages first (as root). Builds in _build/, like tools/test.sh.
#
# Usage: sh tools/start.sh [-b] [SOCKET]
#   SOCKET  libmilter socket; default inet:8891@127.0.0.1 (also from
#           $TOLLGATE_SOCKET). A unix socket (unix:/run/tollgate/tollgate.sock)
#           is faster; see README.
#   -b      run in the background (pid in _build/tollgate.pid); default is
#           the foreground, stop it with Ctrl-C.
# Environment: TOLLGATE_CONF (policy file, default policies/default.conf),
#   TOLLGATE_USER (user to run as when started as root; default: none).
set -eu

prog=start.sh
top=$(cd "$(dirname "$0")/.." && pwd)
. "$top/tools/common.sh"

background=no
while [ $# -gt 0 ]; do
	case $1 in
	-b)	background=yes; shift ;;
	-h|--help)
		sed -n '2,/^set -eu/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'
		exit 0 ;;
	-*)	die "unknown option $1 (try -h)" ;;
	*)	break ;;
	esac
done
socket=${1:-${TOLLGATE_SOCKET:-inet:8891@127.0.0.1}}
conf=${TOLLGATE_CONF:-$top/policies/default.conf}
case $conf in /*) ;; *) conf=$(pwd)/$conf ;; esac

# 1. Packages.
sh "$top/tools/install-deps.sh" || die "missing packages (see above)"

# 2. Build: regenerate and configure only when needed, then make.
if need_autoreconf; then run_autoreconf; fi
if [ ! -f "$build/Makefile" ]; then run_configure; fi
say "make (in $build)"
make -C "$build" -j"$jobs" >"$build/make.log" 2>&1 || {
	tail -n 40 "$build/make.log" >&2
	die "build failed (full log: $build/make.log)"
}
tollgate=$build/filter/tollgate
[ -x "$tollgate" ] || die "$tollgate was not built"

# 3. Check the policy before starting, so errors show here, not in syslog.
[ -f "$conf" ] || die "policy file $conf not found"
"$tollgate" -n -c "$conf" || die "$conf is not valid (errors above)"

# 4. Tell the operator how to point the MTA at it.
case $socket in
inet:*@*)	port=${socket#inet:}; port=${port%%@*}; host=${socket#*@}
		pf="inet:$host:$port" ;;
inet6:*@*)	port=${socket#inet6:}; port=${port%%@*}; host=${socket#*@}
		host=${host#[}; host=${host%]}
		pf="inet:[$host]:$port" ;;
unix:*|local:*)	pf="unix:${socket#*:}" ;;
/*)		pf="unix:$socket" ;;
*)		pf="(see README)" ;;
esac
cat <<MSG
$prog: starting $tollgate
$prog:   policy  $conf
$prog:   socket  $socket
$prog: Postfix main.cf (see README for the macro lists and Sendmail):
    smtpd_milters = $pf
    milter_default_action = tempfail
    milter_protocol = 6
$prog: reload the policy with: kill -HUP <pid>; stop with: kill <pid>
MSG

# 5. Run. A unix socket's directory must exist (libmilter does not make it).
case $socket in
unix:*|local:*)	mkdir -p "$(dirname "${socket#*:}")" ;;
/*)		mkdir -p "$(dirname "$socket")" ;;
esac
set -- -p "$socket" -c "$conf"
if [ -n "${TOLLGATE_USER:-}" ]; then
	set -- "$@" -u "$TOLLGATE_USER"
elif [ "$(id -u)" = 0 ]; then
	# tollgate refuses root without -u or -R; a developer box may run it.
	say "note: running as root (-R); set TOLLGATE_USER to drop privileges"
	set -- "$@" -R
fi
if [ "$background" = yes ]; then
	pidfile=$build/tollgate.pid
	"$tollgate" "$@" -P "$pidfile"
	sleep 1
	if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		say "running in the background, pid $(cat "$pidfile") ($pidfile)"
	else
		die "tollgate did not stay up; see syslog (journalctl -t tollgate)"
	fi
else
	say "running in the foreground; Ctrl-C stops it"
	exec "$tollgate" "$@" -f
fi
