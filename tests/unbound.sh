# unbound.sh - sourced by the scripts that need a DNS server of their own
# (tests/milter/dns.sh, tests/mta/lib.sh, tests/bench/run.sh and
# postfix.sh): unbound on 127.0.0.1, answering only from the local data it
# is given (nothing is forwarded or asked of the internet), in the
# foreground, stopped by its PID. The caller may set UNBOUND_SERVER.

UNBOUND_SERVER=${UNBOUND_SERVER:-$(command -v unbound ||
    echo /usr/sbin/unbound)}
unbound_pid=""
unbound_port=""

# unbound_conf DIR ZONES PORT: the configuration: our settings, then the
# local-zone and local-data lines of the file ZONES (server: clauses)
unbound_conf() {
	cat <<CONF
server:
	interface: 127.0.0.1
	port: $3
	do-ip6: no
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$1"
	pidfile: "$1/unbound.pid"
	logfile: ""
	use-syslog: no
	verbosity: 1
	num-threads: 1
	module-config: "iterator"
	access-control: 127.0.0.0/8 allow
	so-reuseport: no
CONF
	cat "$2"
	printf 'remote-control:\n\tcontrol-enable: no\n'
}

# unbound_start DIR ZONES FIRST [LAST]: unbound serving ZONES on the first
# port from FIRST to LAST (default: FIRST only) where it starts (another
# test may hold one); its configuration and log go to DIR. Sets
# unbound_pid and unbound_port; 1 when it did not start (see
# DIR/unbound.log).
unbound_start() {
	_ub_p=$3
	while [ "$_ub_p" -le "${4:-$3}" ]; do
		unbound_conf "$1" "$2" "$_ub_p" >"$1/unbound.conf"
		"$UNBOUND_SERVER" -d -c "$1/unbound.conf" \
		    >"$1/unbound.log" 2>&1 &
		unbound_pid=$!
		_ub_n=0
		while kill -0 "$unbound_pid" 2>/dev/null && [ $_ub_n -lt 100 ]
		do
			if grep -q "start of service" "$1/unbound.log"; then
				unbound_port=$_ub_p
				return 0
			fi
			sleep 0.1
			_ub_n=$((_ub_n + 1))
		done
		unbound_stop
		_ub_p=$((_ub_p + 1))
	done
	return 1
}

# unbound_stop: SIGTERM by PID, and wait for it
unbound_stop() {
	[ -n "$unbound_pid" ] || return 0
	kill -TERM "$unbound_pid" 2>/dev/null
	wait "$unbound_pid" 2>/dev/null
	unbound_pid=""
}
