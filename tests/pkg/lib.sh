# lib.sh - sourced by tests/pkg/debian.tap: TAP output, the machine state
# the test changes and how it is undone, the package build (cached by the
# content of the tree), and tollgate started the way tollgate.service
# starts it when systemd cannot run here.
#
# What the test changes is recorded in $undo before each change is made,
# so that undo_all (at exit, and at the start of the next run when a run
# was killed halfway) puts back exactly that: the package is purged (only
# if this test installed it), the system Postfix it started is stopped,
# /etc/postfix/main.cf and master.cf are restored (or removed when there
# were none), files new in /var/spool/postfix and /var/lib/postfix are
# removed, and the tollgate it started is stopped by its PID.

STATE=${TG_PKG_STATE:-/var/cache/tollgate-test/pkg}
undo=$STATE/undo
UNIT=/lib/systemd/system/tollgate.service

# ---- TAP ------------------------------------------------------------------

tap_n=0
tap_failed=0
cur_fail=0

skip_all() {
	echo "1..0 # SKIP debian package: $*"
	exit 0
}

bail() {
	echo "Bail out! debian package: $*"
	tap_failed=$((tap_failed + 1))
	exit 1
}

diag() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$*"
	else
		cat
	fi | sed 's/^/# /'
}

# fail TEXT - a failed check in the current test point
fail() {
	diag "$*"
	cur_fail=$((cur_fail + 1))
}

# point NAME TEXT - close the current test point: ok unless a check failed
point() {
	tap_n=$((tap_n + 1))
	if [ "$cur_fail" -eq 0 ]; then
		echo "ok $tap_n - $1: $2 [at $(elapsed) s]"
	else
		echo "not ok $tap_n - $1: $2 [at $(elapsed) s]"
		tap_failed=$((tap_failed + 1))
	fi
	cur_fail=0
}

# elapsed - seconds since the test started
elapsed() {
	echo $(($(date +%s) - t_start))
}

# ---- undoing what the test changed -------------------------------------------

# spool_list - the files and directories Postfix keeps outside /etc
spool_list() {
	find /var/spool/postfix /var/lib/postfix -xdev 2>/dev/null |
	    LC_ALL=C sort
}

# undo_begin - start recording; the listing of Postfix's spool first
undo_begin() {
	mkdir -p "$undo"
	spool_list >"$undo/spool.before"
	for f in main.cf master.cf; do
		if [ -f "/etc/postfix/$f" ]; then
			cp -p "/etc/postfix/$f" "$undo/$f"
		else
			: >"$undo/$f.absent"
		fi
	done
}

# pid_is PID NAME - PID runs a program called NAME (comm; a daemon whose
# binary was removed by dpkg still has it)
pid_is() {
	[ -n "$1" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = "$2" ]
}

# tollgate_stop - SIGTERM to the tollgate this test started, by the PID it
# recorded; wait until it is gone (libmilter notices within 5 s)
tollgate_stop() {
	p=$(cat "$undo/tollgate.pid" 2>/dev/null)
	rm -f "$undo/tollgate.pid"
	pid_is "$p" tollgate || return 0
	kill -TERM "$p" 2>/dev/null
	n=0
	while pid_is "$p" tollgate && [ $n -lt 300 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	wait "$p" 2>/dev/null
	! pid_is "$p" tollgate
}

# postfix_stop - "postfix stop" for the system instance this test
# started, then wait for its master (PID recorded at start) to end
postfix_stop() {
	[ -f "$undo/postfix.pid" ] || return 0
	p=$(cat "$undo/postfix.pid")
	if pid_is "$p" master; then
		postfix stop >/dev/null 2>&1
		n=0
		while pid_is "$p" master && [ $n -lt 300 ]; do
			sleep 0.1
			n=$((n + 1))
		done
	fi
	pid_is "$p" master && return 1
	rm -f "$undo/postfix.pid"
}

# undo_all - put the machine back as undo_begin found it
undo_all() {
	[ -d "$undo" ] || return 0
	tollgate_stop
	postfix_stop || diag "the system Postfix (PID $p) did not stop"
	for f in main.cf master.cf; do
		if [ -f "$undo/$f.absent" ]; then
			rm -f "/etc/postfix/$f"
		elif [ -f "$undo/$f" ]; then
			cp -p "$undo/$f" "/etc/postfix/$f"
		fi
	done
	if [ -f "$undo/installed" ] && pkg_known; then
		dpkg_do --purge tollgate >"$undo/purge.log" 2>&1 ||
		    diag "dpkg --purge tollgate failed: $(tail -n 3 "$undo/purge.log")"
	fi
	# What Postfix made while it ran here (pid files, the chroot's
	# copies of /etc files, caches): deepest first.
	if [ -f "$undo/spool.before" ]; then
		spool_list | LC_ALL=C comm -13 "$undo/spool.before" - |
		    sort -r | while read -r f; do
			if [ -d "$f" ] && [ ! -L "$f" ]; then
				rmdir "$f"
			else
				rm -f "$f"
			fi
		done
	fi
	rm -rf "$undo"
}

# ---- dpkg ---------------------------------------------------------------------

# pkg_status - dpkg's status of the package: installed, config-files, ...,
# or not-installed
pkg_status() {
	s=$(dpkg-query -W -f='${db:Status-Status}' tollgate 2>/dev/null)
	echo "${s:-not-installed}"
}

pkg_known() {
	[ "$(pkg_status)" != not-installed ]
}

# dpkg_do ARGS... - dpkg, waiting (up to 5 min) while another dpkg or
# apt-get holds the lock instead of failing
dpkg_do() {
	n=0
	while :; do
		out=$(dpkg "$@" </dev/null 2>&1)
		rc=$?
		printf '%s\n' "$out"
		case $out in
		*"dpkg frontend lock"*|*"dpkg status database is locked"*)
			[ $n -lt 300 ] || return $rc
			sleep 1
			n=$((n + 1)) ;;
		*)	return $rc ;;
		esac
	done
}

# ---- the package build --------------------------------------------------------

# tree_copy DEST - the source tree as a clean checkout has it: the files
# git knows (tracked, and new ones not ignored) in a git checkout, else
# (a release tarball) every file but make distcheck's build directories
tree_copy() {
	mkdir -p "$1"
	if git -C "$top_srcdir" rev-parse --is-inside-work-tree >/dev/null 2>&1
	then
		(cd "$top_srcdir" && git ls-files -z -co --exclude-standard |
		    xargs -0 sh -c 'for f; do [ -f "$f" ] && printf "%s\n" "$f"
		    done' sh | tar -cf - -T -)
	else
		(cd "$top_srcdir" && find . \( -path ./_build -o -path ./_inst \
		    -o -path ./autom4te.cache \) -prune -o -type f -print |
		    tar -cf - -T -)
	fi | tar -xf - -C "$1"
}

# tree_hash DIR - a digest of every file's path and content, and of the
# debhelper that builds it: the key of the cached package
tree_hash() {
	{
		dpkg-query -W debhelper 2>/dev/null
		(cd "$1" && find . -type f -print0 | LC_ALL=C sort -z |
		    xargs -0 sha256sum)
	} | sha256sum | cut -c1-16
}

# pkg_build - $deb and $changes: built by dpkg-buildpackage -us -uc -b
# from a copy of the tree in $dir/build/src, or taken from
# $STATE/deb/HASH when this very tree was built before (TG_PKG_REBUILD=1:
# build anyway). Only the latest build is kept there.
pkg_build() {
	tree_copy "$dir/build/src" || return 1
	hash=$(tree_hash "$dir/build/src")
	cache=$STATE/deb/$hash
	if [ "${TG_PKG_REBUILD:-0}" != 1 ] &&
	    [ -f "$cache/tollgate.changes" ]; then
		built="cached from an earlier run of the same tree ($hash)"
	else
		t0=$(date +%s)
		# The tree's tests run in make check already (nocheck): the
		# package build's own run of them is left to builds by hand.
		if ! (cd "$dir/build/src" &&
		    DEB_BUILD_OPTIONS="nocheck parallel=2" \
		    dpkg-buildpackage -us -uc -b) >"$dir/build.log" 2>&1; then
			tail -n 30 "$dir/build.log" | diag
			return 1
		fi
		rm -rf "$STATE/deb"
		mkdir -p "$cache"
		cp "$dir"/build/*.deb "$dir"/build/*.buildinfo "$cache/"
		cp "$dir"/build/*.changes "$cache/tollgate.changes"
		built="in $(($(date +%s) - t0)) s ($hash)"
	fi
	deb=$(ls "$cache"/tollgate_*.deb)
	changes=$cache/tollgate.changes
}

# ---- tollgate as tollgate.service starts it -----------------------------------

# unit_get KEY - the value of KEY= in the installed unit (the last one)
unit_get() {
	sed -n "s/^$1=//p" "$UNIT" | tail -n 1
}

# unit_cmd KEY - the command line of KEY= (the first one), for eval "set --":
# ${VAR} stays one word and $VAR is split at blanks, as systemd does
unit_cmd() {
	sed -n "s/^$1=//p" "$UNIT" | head -n 1 |
	    sed 's/\${\([A-Za-z_][A-Za-z0-9_]*\)}/"${\1}"/g'
}

# unit_env - the unit's Environment= settings, then its EnvironmentFile
# ("-": may be missing), into this (sub)shell
unit_env() {
	eval "$(sed -n 's/^Environment=\([A-Za-z_][A-Za-z0-9_]*\)=\(.*\)/\1="\2"/p' \
	    "$UNIT")"
	f=$(unit_get EnvironmentFile)
	f=${f#-}
	if [ -f "$f" ]; then
		set -a
		. "$f"
		set +a
	fi
}

# unit_dirs - RuntimeDirectory and StateDirectory, made as systemd makes
# them before the start (owner User:Group, their modes)
unit_dirs() {
	u=$(unit_get User)
	g=$(unit_get Group)
	install -d -o "$u" -g "$g" -m "$(unit_get RuntimeDirectoryMode)" \
	    "/run/$(unit_get RuntimeDirectory)" &&
	install -d -o "$u" -g "$g" -m "$(unit_get StateDirectoryMode)" \
	    "/var/lib/$(unit_get StateDirectory)"
}

# unit_exec KEY - exec the unit's KEY= command as systemd would run it:
# its User and Group with the user's other groups, UMask, no capabilities
# and no new privileges (the namespace settings, ProtectSystem= and the
# like, are not reproduced). Run it in a subshell: (unit_exec KEY)
unit_exec() {
	unit_env
	umask "$(unit_get UMask)"
	eval "set -- $(unit_cmd "$1")"
	exec setpriv --reuid="$(unit_get User)" --regid="$(unit_get Group)" \
	    --init-groups --no-new-privs --inh-caps=-all --bounding-set=-all \
	    "$@"
}

# unit_sock - the unix socket path of the unit's $SOCKET
unit_sock() {
	(
		unit_env
		echo "${SOCKET#unix:}"
	)
}

# unit_start LOG - ExecStartPre, then ExecStart in the background (its PID
# recorded for tollgate_stop); 0 once its socket is there
unit_start() {
	unit_dirs || return 1
	(unit_exec ExecStartPre) >>"$1" 2>&1 || return 1
	# A backgrounded subshell that execs: $! is tollgate's PID.
	(unit_exec ExecStart) >>"$1" 2>&1 &
	echo $! >"$undo/tollgate.pid"
	sock=$(unit_sock)
	n=0
	until [ -S "$sock" ]; do
		kill -0 "$(cat "$undo/tollgate.pid")" 2>/dev/null || return 1
		[ $n -lt 300 ] || return 1
		sleep 0.1
		n=$((n + 1))
	done
}
