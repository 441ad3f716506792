# common.sh - shared by tools/start.sh and tools/test.sh (sourced, not run).
# The caller sets "top" to the absolute path of the source tree.
#
# Builds go to $top/_build (git-ignored) so the source tree stays clean and
# several builds do not trample each other. TOLLGATE_BUILDDIR overrides it.
# A source tree that was already configured in place cannot also be built
# out of tree (configure refuses), so then we build in place.

say() { printf '%s: %s\n' "$prog" "$*"; }
die() { printf '%s: error: %s\n' "$prog" "$*" >&2; exit 1; }

if [ -n "${TOLLGATE_BUILDDIR:-}" ]; then
	build=$TOLLGATE_BUILDDIR
elif [ -f "$top/config.status" ]; then
	say "note: $top is configured in place; building there (run 'make distclean' in it to use _build/)"
	build=$top
else
	build=$top/_build
fi

jobs=2

# need_autoreconf - true when configure is missing or older than its inputs.
need_autoreconf() {
	[ -x "$top/configure" ] || return 0
	[ -f "$top/build-aux/install-sh" ] || return 0
	for f in "$top/configure.ac" "$top"/Makefile.am "$top"/*/Makefile.am; do
		[ -f "$f" ] || continue
		[ "$f" -nt "$top/configure" ] && return 0
		case $f in
		*/Makefile.am)
			[ -f "${f%.am}.in" ] || return 0
			[ "$f" -nt "${f%.am}.in" ] && return 0 ;;
		esac
	done
	return 1
}

run_autoreconf() {
	say "autoreconf -fi"
	(cd "$top" && autoreconf -fi) || die "autoreconf failed"
}

# run_configure ARGS... - configure into $build.
run_configure() {
	mkdir -p "$build"
	say "configure${*:+ $*} (in $build; details in config.log)"
	(cd "$build" && "$top/configure" -q "$@") || {
		[ -f "$build/config.log" ] && tail -n 40 "$build/config.log" >&2
		die "configure failed (see $build/config.log)"
	}
}
