# lib.sh - harness shared by tests/mta/postfix.tap and sendmail.tap
# (sourced). It owns the temporary directory, the smtp-sink that receives
# accepted mail, the tollgate daemon and the TAP output; the MTA script
# sets up its MTA, sets pid_mta and defines mta_queue_empty. Scenarios
# (scenarios.sh) use the helpers below: smtp, dialog, expect, delivered,
# header, no_header. Every process is started and stopped by its PID:
# tollgate and smtp-sink with the helpers of tests/daemon.sh (tg_spawn,
# tg_wait, tg_stop; names tg and smtpsink), unbound with tests/unbound.sh.
# An MTA without XCLIENT gets clients from other addresses through the
# run's client network (clientnet.sh), removed here at exit.
#
# Environment: TOLLGATE, top_srcdir (from tests/Makefile.am);
# TG_MTA_PORT_BASE (first port to try), KEEP=1 (keep the directory),
# UNBOUND_SERVER (the unbound binary that answers tollgate's DNS checks).

mta_src=$(cd "${top_srcdir:-.}/tests/mta" && pwd)
. "$mta_src/../daemon.sh"	# also makes TOLLGATE absolute

dir=""
tap_n=0		# test points printed
tap_failed=0	# test points that failed
cur_fail=0	# failures in the running scenario
pid_smtpsink="" pid_tg=""
. "$mta_src/../unbound.sh"
. "$mta_src/clientnet.sh"
. "$mta_src/replies.sh"

# The MTA script defines this once it has an MTA to look at.
mta_queue_empty() { :; }

# mta_stop - SIGTERM to the MTA's master process, by the PID in pid_mta
# that the MTA script read from its pid file (not our child: we poll until
# it has gone, and it stops its own children)
mta_stop() {
	[ -n "${pid_mta:-}" ] || return 0
	kill -TERM "$pid_mta" 2>/dev/null
	n=0
	while kill -0 "$pid_mta" 2>/dev/null && [ $n -lt 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	pid_mta=""
}

# ---- TAP ------------------------------------------------------------------

skip_all() {
	echo "1..0 # SKIP $mta: $*"
	exit 0
}

bail() {
	echo "Bail out! $mta: $*"
	tap_failed=$((tap_failed + 1))
	exit 1
}

# diag [TEXT...] - TAP comment lines: the arguments, or else stdin
diag() {
	if [ $# -gt 0 ]; then
		printf '%s\n' "$*"
	else
		cat
	fi | sed 's/^/# /'
}

# point OK|FAIL|SKIP NAME TEXT - one TAP test point
point() {
	tap_n=$((tap_n + 1))
	case $1 in
	OK)	echo "ok $tap_n - $mta: $2: $3" ;;
	SKIP)	echo "ok $tap_n - $mta: $2: $3 # SKIP $skip_why" ;;
	*)	echo "not ok $tap_n - $mta: $2: $3"
		tap_failed=$((tap_failed + 1)) ;;
	esac
}

# fail TEXT - a failed check in the running scenario
fail() {
	diag "$cur: $*"
	cur_fail=$((cur_fail + 1))
}

# ---- set-up -----------------------------------------------------------------

# harness_init TOOL... - check we can run at all, make the directory
harness_init() {
	[ "$(id -u)" -eq 0 ] ||
	    skip_all "needs root (a private MTA instance runs as root)"
	for t in "$@" swaks smtp-sink perl; do
		command -v "$t" >/dev/null 2>&1 ||
		    bail "$t not found: run tools/install-deps.sh as root"
	done
	[ -x "$TOLLGATE" ] || bail "$TOLLGATE not built"
	[ -x "$UNBOUND_SERVER" ] ||
	    bail "unbound not found: run tools/install-deps.sh as root"
	# The socket directory must not be world-writable (Sendmail refuses
	# it), and unprivileged MTA processes must reach everything in it.
	dir=$(mktemp -d "${TMPDIR:-/tmp}/tg-$mta.XXXXXX") || bail "mktemp"
	chmod 755 "$dir"
	mkdir -p "$dir/out" "$dir/tg" "$dir/sink" "$dir/policy"
	trap harness_exit EXIT
	trap 'exit 1' INT TERM HUP PIPE
}

harness_exit() {
	rc=$?
	trap - EXIT
	mta_stop
	[ -n "${pid_dialog:-}" ] && kill -TERM "$pid_dialog" 2>/dev/null
	# After the MTA: none of its connections to a client there is left.
	clientnet_down
	tg_stop_all
	unbound_stop
	if [ "${KEEP:-0}" = 1 ] || [ "$tap_failed" -ne 0 ] || [ "$rc" -ne 0 ]
	then
		diag "files kept in $dir"
	else
		rm -rf "$dir"
	fi
	exit "$rc"
}

# port_free PORT - true when nothing listens on 127.0.0.1:PORT
port_free() {
	perl -MIO::Socket::INET -e 'exit(IO::Socket::INET->new(
	    LocalAddr => "127.0.0.1", LocalPort => $ARGV[0], ReuseAddr => 1,
	    Listen => 1) ? 0 : 1)' "$1"
}

# port_wait PORT - wait until something listens on 127.0.0.1:PORT
port_wait() {
	perl -MIO::Socket::INET -e 'for (1 .. 200) {
	    exit 0 if IO::Socket::INET->new(PeerAddr => "127.0.0.1:$ARGV[0]");
	    select(undef, undef, undef, 0.05) } exit 1' "$1"
}

# pick_ports VAR... - set each VAR to a free loopback port, from
# TG_MTA_PORT_BASE (the MTA script's default) upwards
pick_ports() {
	first=${TG_MTA_PORT_BASE:-$port_base}
	p=$first
	for v in "$@"; do
		while ! port_free "$p"; do
			p=$((p + 1))
			[ "$p" -lt $((first + 500)) ] ||
			    bail "no free port from $first"
		done
		eval "$v=$p"
		p=$((p + 1))
	done
}

# sink_start - smtp-sink on $SINK_PORT; every message is dumped to a file
# of its own in $dir/sink, with the envelope as X-Rcpt-Args: lines (its
# log is in $dir/smtpsink: nothing but mail in $dir/sink)
sink_start() {
	chown nobody "$dir/sink"
	tg_spawn smtpsink smtp-sink -u nobody -d "$dir/sink/%H%M%S." \
	    "127.0.0.1:$SINK_PORT" 64
	port_wait "$SINK_PORT" || bail "smtp-sink did not start"
}

# dns_start - unbound (tests/unbound.sh) on $DNS_PORT (UDP and TCP) with
# unbound.zones: the DNS lists and SPF records of the policy
dns_start() {
	mkdir -p "$dir/dns"
	dkim_setup
	if ! unbound_start "$dir/dns" "$dir/unbound.zones" "$DNS_PORT"; then
		diag <"$dir/dns/unbound.log"
		bail "unbound did not start on $DNS_PORT"
	fi
}

# dkim_setup - DKIM keys of example.org for the submission listener to
# sign with (made for the run: a key kept in the tree could not keep mode
# 0600, which tollgate demands), their records added to a copy of
# unbound.zones, and the key and signing tables policy.conf.in names
dkim_setup() {
	sh "$mta_src/dkimkeys.sh" "$dir/dkim" "$dir/policy" \
	    "$mta_src/unbound.zones" "$dir/unbound.zones" || bail "dkimkeys.sh"
	chown "$TG_USER" "$dir/dkim/rsa.pem" "$dir/dkim/ed.pem"
}

# policy_install - the test policy (pointed at our unbound), in a directory
# of its own that the reload scenario may change; $policy_orig keeps it
policy_install() {
	cp "$mta_src/local-domains.list" \
	    "$mta_src/trusted.cidr" "$mta_src/sender-logins.map" \
	    "$dir/policy/" || bail "policy files"
	policy=$dir/policy/policy.conf
	policy_orig=$dir/policy.conf.orig
	sed "s|@DNS_PORT@|$DNS_PORT|g" "$mta_src/policy.conf.in" \
	    >"$policy_orig" || bail "policy.conf.in"
	cp "$policy_orig" "$policy"
	chmod 644 "$dir/policy"/*
}

# tollgate_start - run tollgate in the foreground (process tg, PID
# $pid_tg) on unix:$dir/tg/tollgate.sock as $TG_USER; wait until it
# serves (tollgate_up). tg_stop tg stops it.
tollgate_start() {
	# Up at its start-up line, which follows the listen: a restart finds
	# the old socket still there (a clean stop leaves it), and a session
	# sent while the new daemon replaces it would be refused.
	tg_starts=$(grep -c "starting on" "$dir/tg/log" 2>/dev/null)
	tg_spawn tg "$TOLLGATE" -f -d -c "$policy" \
	    -p "unix:$dir/tg/tollgate.sock" -u "$TG_USER"
	if ! tg_wait tg tollgate_up; then
		tail -n 20 "$dir/tg/log" | diag
		bail "tollgate did not start"
	fi
}

tollgate_up() {
	[ -S "$dir/tg/tollgate.sock" ] &&
	    [ "$(grep -c "starting on" "$dir/tg/log")" -gt "${tg_starts:-0}" ]
}

# tg_reload - SIGHUP; wait until the log says the reload is over
tg_reload() {
	before=$(grep -c -e 'policy reloaded' -e 'reload failed' "$dir/tg/log")
	kill -HUP "$pid_tg" || return 1
	n=0
	while [ "$(grep -c -e 'policy reloaded' -e 'reload failed' \
	    "$dir/tg/log")" -le "$before" ]; do
		n=$((n + 1))
		[ $n -le 100 ] || return 1
		sleep 0.1
	done
}

# ---- scenario helpers ---------------------------------------------------------

msg_n=0

# new_id - a fresh X-Test-Id for the next session, in $id; $out is where
# its transcript goes
new_id() {
	msg_n=$((msg_n + 1))
	id=$mta-$msg_n-$cur
	out=$dir/out/$id
}

# listener_port NAME - the port of listener mx or submission
listener_port() {
	case $1 in
	mx)		echo "$MX_PORT" ;;
	submission)	echo "$SUB_PORT" ;;
	*)		bail "unknown listener $1" ;;
	esac
}

# smtp LISTENER [swaks options] - one swaks session from 127.0.0.1 (unless
# the options say otherwise); the message carries X-Test-Id: $id
smtp() {
	smtp_run "" 127.0.0.1 "$@"
}

# smtp_as ADDR LISTENER [swaks options] - smtp with the MTA seeing the
# client as ADDR (one of clientnet.sh's cn_client_addrs): by XCLIENT where
# the MTA has it (client_via=xclient), else from ADDR itself in the run's
# client network (client_via=netns; the MTA listens on $cn_host_addr too)
smtp_as() {
	_as=$1
	shift
	case $client_via in
	xclient)	smtp "$@" --xclient-addr "$_as" ;;
	netns)		smtp_run clientnet_exec "$cn_host_addr" "$@" \
			    --local-interface "$_as" ;;
	*)		bail "client_via: $client_via" ;;
	esac
}

# smtp_run WRAPPER SERVER LISTENER [swaks options] - swaks (run by the
# command WRAPPER, if any) to LISTENER's port on address SERVER
smtp_run() {
	new_id
	_wrap=$1 _server=$2
	port=$(listener_port "$3")
	shift 3
	# shellcheck disable=SC2086 # no wrapper: no word
	$_wrap swaks --server "$_server:$port" --timeout 60 --suppress-data \
	    --helo client.example.net --from tester@example.net \
	    --header "X-Test-Id: $id" --header "Subject: tollgate test $id" \
	    "$@" >"$out" 2>&1
}

# dialog LISTENER [-b ADDR] STEP... - a dialog.pl session (see there);
# "@data BYTES" gets the session's X-Test-Id, "@wait" the file $out.go
dialog() {
	new_id
	dialog_run "$@"
}

# dialog_run - dialog for the current $id, one argument a line because
# the steps contain blanks
dialog_run() {
	port=$(listener_port "$1")
	shift
	{
		if [ "$1" = -b ]; then
			printf '%s\n' -b "$2"
			shift 2
		fi
		echo "127.0.0.1:$port"
		for s in "$@"; do
			case $s in
			@data\ *)	s="@data $id ${s#@data }" ;;
			@wait)		s="@wait $out.go" ;;
			esac
			printf '%s\n' "$s"
		done
	} | (
		IFS='
'
		set -f
		# shellcheck disable=SC2046
		exec perl "$mta_src/dialog.pl" $(cat) >"$out" 2>&1
	)
}

# dialog_bg ... - dialog in the background, up to its first @wait;
# resume with dialog_resume
dialog_bg() {
	new_id
	dialog_run "$@" &
	pid_dialog=$!
	n=0
	while [ ! -e "$out.go.paused" ]; do
		n=$((n + 1))
		if [ $n -gt 300 ] || ! kill -0 "$pid_dialog" 2>/dev/null; then
			fail "the session did not reach its pause"
			return 1
		fi
		sleep 0.1
	done
}

dialog_resume() {
	touch "$out.go"
	wait "$pid_dialog"
}

# reply STEP - the reply the client got at STEP of the last session:
# banner, ehlo, auth, mail, rcpt, data (to the DATA command), eom (after
# the message), fail (the first 4xx or 5xx); a number picks the Nth of a
# kind (rcpt3, mail2), none the first
reply() {
	awk -v want="$1" '
	/^ [-~]> / {
		c = toupper(substr($0, 5))
		if (c ~ /^(EHLO|HELO)/) s = "ehlo"
		else if (c ~ /^AUTH/) s = "auth"
		else if (c ~ /^MAIL FROM/) s = "mail"
		else if (c ~ /^RCPT TO/) s = "rcpt"
		else if (c ~ /^DATA/) s = "data"
		else if (c ~ /^[0-9]+ LINES SENT|^\.$/) s = "eom"
		else s = "other"
		step = s (++n[s])
		next
	}
	/^<(-|\*\*) +[0-9][0-9][0-9] / {
		r = $0
		sub(/^<(-|\*\*) +/, "", r)
		if (step == "") step = "banner1"
		if (!(step in got)) got[step] = r
		if (r ~ /^[45]/ && !("fail1" in got)) got["fail1"] = r
	}
	END {
		w = want ~ /[0-9]$/ ? want : want "1"
		if (w in got) print got[w]
	}' "$out"
}

# expect STEP CODE [ENH [TEXT]] - the reply at STEP starts with
# "CODE ENH" and contains TEXT
expect() {
	r=$(reply "$1")
	want="$2${3:+ $3}"
	case $r in
	"$want"*)
		case $r in
		*"${4:-}"*)	return 0 ;;
		esac ;;
	esac
	fail "at $1: got \"${r:-no reply}\", want \"$want${4:+ ... $4}\""
	diag "transcript ($out):"
	sed -n 's/^/    /p' "$out" | diag
	return 1
}

# sink_files - the sink's files holding message $id
sink_files() {
	grep -rlE "^X-Test-Id: $id"'\r?$' "$dir/sink" 2>/dev/null
}

# sink_rcpts - the sorted envelope recipients that reached the sink for $id
sink_rcpts() {
	# shellcheck disable=SC2046 # one file name a word
	sink_files | while read -r f; do
		sed -n "s/^X-Rcpt-Args:[^<]*<\([^>]*\)>.*/\1/p" "$f"
	done | sort | tr '\n' ' '
}

# delivered RCPT... - message $id reaches the sink for exactly these
# recipients (waits for the MTA's delivery); recorded for the final check
delivered() {
	want=$(printf '%s\n' "$@" | sort | tr '\n' ' ')
	echo "$id $want" >>"$dir/expected"
	n=0
	while [ "$(sink_rcpts)" != "$want" ]; do
		n=$((n + 1))
		if [ $n -gt 300 ]; then
			fail "message $id: at the sink for \"$(sink_rcpts)\"," \
			    "want \"$want\""
			return 1
		fi
		sleep 0.1
	done
}

# header "Name: value" - the delivered message $id has this header line
header() {
	f=$(sink_files | head -n 1)
	if [ -z "$f" ] || ! tr -d '\r' <"$f" | grep -qxF "$1"; then
		fail "message $id: no header \"$1\" at the sink"
		[ -n "$f" ] && sed -n '1,/^$/s/^/    /p' "$f" | diag
		return 1
	fi
}

# header_match REGEX - the delivered message $id has a header line (its
# first line) that matches the extended REGEX
header_match() {
	f=$(sink_files | head -n 1)
	if [ -z "$f" ] || ! sed -n '1,/^\r\{0,1\}$/p' "$f" | tr -d '\r' |
	    grep -qE "$1"; then
		fail "message $id: no header matching \"$1\" at the sink"
		[ -n "$f" ] && sed -n '1,/^$/s/^/    /p' "$f" | diag
		return 1
	fi
}

# held - message $id was accepted into the MTA's quarantine (Postfix: the
# hold queue; Sendmail: a quarantined queue file), not delivered; it is
# then removed from the queue, so that the final check sees it drain
held() {
	n=0
	until mta_held "$id"; do
		n=$((n + 1))
		if [ $n -gt 100 ]; then
			fail "message $id: not in the MTA's quarantine"
			return 1
		fi
		sleep 0.1
	done
	mta_held_drop "$id"
}

# resend LISTENER FILE [swaks options] - send a message file as it is (its
# own headers, no Subject of ours), marked X-Test-Id: $id (a new id)
resend() {
	new_id
	port=$(listener_port "$1")
	tr -d '\r' <"$2" | grep -v '^X-Rcpt-Args:' | grep -v '^X-Test-Id:' \
	    >"$out.eml"
	shift 2
	swaks --server "127.0.0.1:$port" --timeout 60 --suppress-data \
	    --helo client.example.net --data "$out.eml" \
	    --add-header "X-Test-Id: $id" "$@" >"$out" 2>&1
}

# no_header Name - the delivered message $id has no such header
no_header() {
	f=$(sink_files | head -n 1)
	if [ -n "$f" ] && grep -qi "^$1:" "$f"; then
		fail "message $id: unexpected header $(grep -i "^$1:" "$f")"
		return 1
	fi
}

# readme_check LINES - a test point: every line (blanks squeezed) is a line
# of the README, so the settings it documents are the ones tested
readme_check() {
	cur=readme
	cur_fail=0
	squeeze='s/^[[:space:]]*//; s/[[:space:]][[:space:]]*/ /g; s/ $//'
	sed "$squeeze" "${top_srcdir:-.}/README" >"$dir/readme" ||
	    fail "no README"
	printf '%s\n' "$1" | sed "$squeeze" | while read -r l; do
		grep -qxF -- "$l" "$dir/readme" || echo "$l"
	done >"$dir/readme.missing"
	while read -r l; do
		fail "not in the README: $l"
	done <"$dir/readme.missing"
	if [ "$cur_fail" -eq 0 ]; then
		point OK readme "the README shows the $mta settings tested here"
	else
		point FAIL readme "the README shows the $mta settings tested here"
	fi
}

# ---- the replies, for tollgate-test --------------------------------------------

# replies_record - the replies the client got in the running scenario's
# sessions, in the order they ran, into $dir/replies (replies.sh), if
# tests/mta/scenarios.session has the scenario
replies_record() {
	grep -q "^session $cur\( [0-9]*\)\{0,1\}\$" \
	    "$mta_src/scenarios.session" || return 0
	ls "$dir/out" | grep -E "^$mta-[0-9]+-$cur\$" | sort -t- -k2,2n |
	    while read -r f; do
		replies_transcript "$cur" "$dir/out/$f"
	done >>"$dir/replies"
}

# replies_point - a test point: tollgate-test, given the sessions of
# scenarios.session, answers each command as the MTA did (the scenarios
# not run, skipped ones, are not compared). With TG_RECORD_REPLIES=FILE
# the MTA's replies are also copied to FILE (tests/mta/postfix-replies.txt
# is made so).
replies_point() {
	cur=replay
	cur_fail=0
	tool=$(dirname "$TOLLGATE")/tollgate-test
	touch "$dir/replies"
	if [ ! -x "$tool" ]; then
		fail "$tool not built"
		tool=false
	fi
	"$tool" -z "$dir/unbound.zones" -c "$policy" \
	    "$mta_src/scenarios.session" >"$dir/replay.out" 2>&1
	case $? in
	0)	;;
	1)	fail "expectations of scenarios.session failed:"
		grep -A2 'expectation failed' "$dir/replay.out" | diag ;;
	*)	fail "tollgate-test did not run:"
		diag <"$dir/replay.out" ;;
	esac
	if [ -s "$dir/replay.out" ]; then
		replies_tool <"$dir/replay.out" >"$dir/replay.replies"
		replies_compare "$dir/replies" "$dir/replay.replies" \
		    >"$dir/replay.diff" || { fail "replies differ:"; \
		    diag <"$dir/replay.diff"; }
	fi
	if [ -n "${TG_RECORD_REPLIES:-}" ]; then
		{
			echo "# $mta $(postconf -d -h mail_version 2>/dev/null):" \
			    "what the client got in each scenario of scenarios.sh"
			echo "# that scenarios.session replays (replies.sh);" \
			    "recorded by"
			echo "#   TG_RECORD_REPLIES=\$PWD/postfix-replies.txt" \
			    "make check TESTS=mta/postfix.tap"
			cat "$dir/replies"
		} >"$TG_RECORD_REPLIES"
	fi
	n=$(awk '{ print $1 }' "$dir/replies" | uniq | wc -l | tr -d ' ')
	if [ "$cur_fail" -eq 0 ]; then
		point OK replay "tollgate-test gives the $mta replies of $n scenarios"
	else
		point FAIL replay "tollgate-test gives the $mta replies of $n scenarios"
	fi
}

# ---- running ------------------------------------------------------------------

scenarios=""

# scenario NAME "description" - register sc_NAME (scenarios.sh)
scenario() {
	scenarios="$scenarios $1"
	eval "desc_$(echo "$1" | tr - _)=\"\$2\""
}

# run_scenarios - every registered scenario, one TAP point each, then a
# final point: the queue drains and the sink holds exactly the expected mail
run_scenarios() {
	for cur in $scenarios; do
		cur_fail=0
		skip_why=""
		f=sc_$(echo "$cur" | tr - _)
		eval "d=\$desc_$(echo "$cur" | tr - _)"
		$f
		[ -n "$skip_why" ] || replies_record
		if [ -n "$skip_why" ]; then
			point SKIP "$cur" "$d"
		elif [ "$cur_fail" -eq 0 ]; then
			point OK "$cur" "$d"
		else
			point FAIL "$cur" "$d"
		fi
	done
	[ -n "${replies_compare:-}" ] && replies_point
	cur=final
	cur_fail=0
	final_check
	if [ "$cur_fail" -eq 0 ]; then
		point OK final "the queue drained; the sink has exactly the expected mail"
	else
		point FAIL final "the queue drained; the sink has exactly the expected mail"
	fi
	echo "1..$tap_n"
	diag "$mta: $((tap_n - tap_failed)) passed, $tap_failed failed"
	[ "$tap_failed" -eq 0 ]
}

final_check() {
	n=0
	until mta_queue_empty; do
		n=$((n + 1))
		if [ $n -gt 300 ]; then
			fail "mail still queued after 30s"
			break
		fi
		sleep 0.1
	done
	touch "$dir/expected"
	while read -r id want; do
		got=$(sink_rcpts)
		[ "$got" = "$want " ] ||
		    fail "message $id: at the sink for \"$got\", want \"$want \""
	done <"$dir/expected"
	for f in $(grep -rL -e "^X-Test-Id: " "$dir/sink" 2>/dev/null); do
		fail "a message without X-Test-Id at the sink: $f"
	done
	grep -rh '^X-Test-Id: ' "$dir/sink" 2>/dev/null | tr -d '\r' |
	    sed 's/^X-Test-Id: //' | sort -u | while read -r id; do
		grep -q "^$id " "$dir/expected" ||
		    echo "message $id reached the sink but should not have"
	done >"$dir/unexpected"
	while read -r line; do
		fail "$line"
	done <"$dir/unexpected"
}
