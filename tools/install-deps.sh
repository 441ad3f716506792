#!/bin/sh
# install-deps.sh - install the Debian 12 packages Tollgate needs to build
# and test. Quick and silent when everything is already there; otherwise
# runs "apt-get update" once and installs only what is missing (as root).
# Usage: sh tools/install-deps.sh        (exit 0: all present)
# debhelper, dh-autoreconf and lintian build and check the Debian package
# (tests/pkg/debian.tap): about 80 s and 28 MB on a fresh Debian 12.
set -eu

PACKAGES="clang libclang-rt-14-dev
build-essential autoconf automake libtool pkg-config
libmilter-dev libsasl2-dev libspf2-dev libssl-dev libpcre2-dev
libhiredis-dev check miltertest sasl2-bin valgrind redis-server
redis-sentinel
libc-ares-dev libunbound-dev unbound
libmicrohttpd-dev mandoc curl
libopendkim-dev libopendmarc-dev libpsl-dev publicsuffix openssl
opendkim opendkim-tools opendmarc python3-dkim
postfix swaks libwrap0 libsasl2-modules m4 iproute2
python3
debhelper dh-autoreconf lintian python3-yaml"

# tests/mta/sendmail.tap runs Sendmail unpacked from these (it conflicts with
# postfix, so it is downloaded, not installed): see sendmail_fetch below.
SENDMAIL_PACKAGES="sendmail-bin sendmail-base sendmail-cf"
SENDMAIL_DIR=${TG_SENDMAIL_DIR:-/var/cache/tollgate-test/sendmail}

say() { printf 'install-deps: %s\n' "$*"; }

if ! command -v dpkg-query >/dev/null 2>&1; then
	say "dpkg-query not found: this script is for Debian 12; install by hand:"
	say "  " $PACKAGES
	exit 1
fi

# dpkg-query prints "installed" only for fully installed packages (not for
# removed-but-configured or half-installed ones).
missing=""
for p in $PACKAGES; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing="$missing $p"
done

# sendmail_fetch - unpack the Sendmail packages into $SENDMAIL_DIR (once;
# the tests only read it). "apt-get download" fetches without installing.
sendmail_fetch() {
	[ -x "$SENDMAIL_DIR/usr/libexec/sendmail/sendmail" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		say "Sendmail for tests/mta not unpacked in $SENDMAIL_DIR: run as root"
		return 1
	fi
	tmp=$(mktemp -d) && chmod 755 "$tmp" || return 1  # _apt reads it
	# shellcheck disable=SC2086 # word splitting of the list is wanted
	(cd "$tmp" && apt-get download -q $SENDMAIL_PACKAGES) || {
		apt-get update -q && (cd "$tmp" && apt-get download -q $SENDMAIL_PACKAGES)
	} || { rm -rf "$tmp"; return 1; }
	mkdir -p "$SENDMAIL_DIR"
	for deb in "$tmp"/*.deb; do
		dpkg -x "$deb" "$SENDMAIL_DIR" || { rm -rf "$tmp"; return 1; }
	done
	rm -rf "$tmp"
	say "Sendmail unpacked in $SENDMAIL_DIR (for tests/mta, not installed)"
}

# promtool_fetch - promtool, from Debian's prometheus package, into
# $PROMTOOL_DIR (once) for tests/dashboard.sh. Only that binary is
# unpacked: installing the package would start a Prometheus server and
# take 96 MB with its web assets (19 MB download, 48 MB unpacked, 5 s).
PROMTOOL_DIR=${TG_PROMTOOL_DIR:-/var/cache/tollgate-test/promtool}
promtool_fetch() {
	[ -x "$PROMTOOL_DIR/promtool" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		say "promtool for tests/dashboard.sh not unpacked in $PROMTOOL_DIR: run as root"
		return 1
	fi
	tmp=$(mktemp -d) && chmod 755 "$tmp" || return 1  # _apt reads it
	(cd "$tmp" && apt-get download -q prometheus) || {
		apt-get update -q && (cd "$tmp" && apt-get download -q prometheus)
	} || { rm -rf "$tmp"; return 1; }
	mkdir -p "$PROMTOOL_DIR" "$tmp/x"
	dpkg-deb --fsys-tarfile "$tmp"/prometheus_*.deb |
	    tar -x -C "$tmp/x" ./usr/bin/promtool &&
	    mv "$tmp/x/usr/bin/promtool" "$PROMTOOL_DIR/promtool" ||
	    { rm -rf "$tmp"; return 1; }
	rm -rf "$tmp"
	say "promtool unpacked in $PROMTOOL_DIR (for tests/dashboard.sh, not installed)"
}

if [ -z "$missing" ]; then
	sendmail_fetch || exit 1
	promtool_fetch || exit 1
	say "all build and test packages are installed"
	exit 0
fi

say "missing:$missing"
if [ "$(id -u)" -ne 0 ]; then
	say "not root: run as root (sudo sh tools/install-deps.sh), or:"
	say "  apt-get install$missing"
	exit 1
fi

export DEBIAN_FRONTEND=noninteractive
# Postfix is installed for the tests' private instances only: "No
# configuration" keeps it from setting up (and starting) a system MTA.
echo "postfix postfix/main_mailer_type select No configuration" |
    debconf-set-selections
apt-get update -q
# shellcheck disable=SC2086 # word splitting of the list is wanted
apt-get install -y -q --no-install-recommends $missing

still=""
for p in $missing; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || still="$still $p"
done
if [ -n "$still" ]; then
	say "still missing after apt-get install:$still"
	exit 1
fi
say "installed:$missing"
sendmail_fetch || exit 1
promtool_fetch || exit 1
