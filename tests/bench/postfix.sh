#!/bin/sh
# postfix.sh - end-to-end benchmark: a private Postfix on loopback, driven
# by smtp-source, delivering to smtp-sink. One smtpd listener per
# configuration, so nothing is reloaded between runs: no filter, the null
# milter (every step / envelope steps), tollgate with each of POLICIES
# under each of ENGINES (tg-P: native, tg-P-lm: libmilter), each milter
# on the socket kinds of KINDS, postfwd with the rules of default.conf as
# a policy service (without -L, which writes log lines into the policy
# connection and stalls every request), and rspamd reduced to the checks
# of isp-antispam.conf (rspamd.sh). Configurations alternate within each
# round; medians of ROUNDS rounds; filter CPU per message from
# /proc/PID/stat, over the whole process tree for postfwd and rspamd.
# isp-antispam.conf and rspamd ask a local unbound whose answers have a
# TTL of DNS_TTL (0: every lookup a round trip), and the -cached
# configurations a second one with a TTL of an hour (lib.sh; 127.0.0.1,
# where smtp-source connects from, is not trusted there); submission.conf
# gets the SASL login alice and TLS from Postfix's milter_macro_defaults,
# since smtp-source cannot authenticate. The load average is printed at
# the start and the end: on a shared machine, read the ratios.
# Needs root, postfix and unbound (tools/install-deps.sh), postfwd and
# rspamd (apt-get install postfwd rspamd; only this benchmark uses them,
# so the test set-up does not install them; without rspamd its rows are
# left out).
# Environment: top_srcdir, top_builddir; ROUNDS (3) MSGS (2000)
#   SESSIONS (20) SIZE (2048) PORT (23500: uses PORT..PORT+79)
#   POLICIES ("default isp-antispam submission") ENGINES ("native
#   libmilter") KINDS ("unix inet") PEERS ("postfwd rspamd") DNS_TTL
#   DNS_PORTS OUT

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
src=$(cd "$top_srcdir" && pwd)
bld=$(cd "$top_builddir" && pwd)
TOLLGATE=${TOLLGATE:-$bld/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$bld/tests/bench/milterload}
NULLMILTER=${NULLMILTER:-$bld/tests/bench/nullmilter}
ROUNDS=${ROUNDS:-3}
MSGS=${MSGS:-2000}
SESSIONS=${SESSIONS:-20}
SIZE=${SIZE:-2048}
PORT=${PORT:-23500}
POLICIES=${POLICIES:-default isp-antispam submission}
ENGINES=${ENGINES:-native libmilter}
KINDS=${KINDS:-unix inet}
PEERS=${PEERS:-postfwd rspamd}
. "$src/tests/bench/lib.sh"
. "$src/tests/bench/rspamd.sh"
command -v rspamd >/dev/null || PEERS=$(echo "$PEERS" | sed 's/rspamd//')

for p in postfix smtp-source smtp-sink postfwd2; do
	if ! command -v $p >/dev/null && [ ! -x /usr/sbin/$p ]; then
		echo "postfix.sh: $p not installed (apt-get install postfix" \
		    "postfwd); skipped"
		exit 77
	fi
done
[ "$(id -u)" = 0 ] || { echo "postfix.sh: needs root"; exit 77; }
PATH=$PATH:/usr/sbin
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tg-e2e.XXXXXX")}
D=$OUT/pf
mkdir -p "$D/etc" "$D/queue" "$D/data" "$D/sock" "$OUT/run"
chmod 755 "$OUT" "$D" "$D/sock"
chown postfix "$D/data"
SINK=$((PORT + 1))
PFW=$((PORT + 2))
RSPAMD_CTL=$((PORT + 70))	# and the next ones: controllers, workers
pf_started=0
cleanup() {
	[ $pf_started = 1 ] && postfix -c "$D/etc" stop >/dev/null 2>&1
	[ -f "$D/postfwd.pid" ] && kill -TERM "$(cat "$D/postfwd.pid")" \
	    2>/dev/null
	bench_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- the filters --------------------------------------------------------
# milter NAME KIND CMD...: start a milter on $D/sock/NAME (unix) or the
# next inet port; the socket is left in $msock
mport=$((PORT + 3))
# tg_name POLICY ENGINE: the configuration's name
tg_name() {
	case $2 in
	native)	echo "tg-$1" ;;
	*)	echo "tg-$1-lm" ;;
	esac
}
milter() {
	_n=$1 _k=$2
	shift 2
	if [ "$_k" = unix ]; then
		msock="unix:$D/sock/$_n"
		pfsock="unix:$D/sock/$_n"
	else
		msock="inet:$mport@127.0.0.1"
		pfsock="inet:127.0.0.1:$mport"
		mport=$((mport + 1))
	fi
	# umask 0: the null milter's socket must be writable by postfix
	(umask 0; exec "$@" -p "$msock") 2>>"$OUT/run/$_n.$_k.log" &
	BENCH_PIDS="$BENCH_PIDS $!"
	eval "pid_$(echo "$_n" | tr - _)_$_k=$!"
	eval "pfsock_$(echo "$_n" | tr - _)_$_k=$pfsock"
	bench_wait "$msock" $! || exit 1
}
# A policy with DNS checks (tests/bench/P.zones) asks our unbound; the
# shipped trusted.cidr would let 127.0.0.1 skip every check.
# A policy with DNS checks runs twice: as P (answers with TTL DNS_TTL)
# and as P-cached (a second unbound, TTL 3600: answers from caches).
dns0="" dns3600="" pols=""
if ls "$src"/tests/bench/*.zones >/dev/null 2>&1; then
	bench_dns_start "$OUT/dns" 1 || exit 1
	dns0=$unbound_port
	_ttl=$DNS_TTL
	DNS_TTL=3600
	bench_dns_start "$OUT/dns-cached" 1 || exit 1
	DNS_TTL=$_ttl
	dns3600=$unbound_port
fi
printf '# nobody: the load comes from 127.0.0.1\n::1/128\n' >"$OUT/trusted.cidr"
for p in $POLICIES; do
	f=$src/policies/$p.conf
	pols="$pols $p"
	if [ -f "$src/tests/bench/$p.zones" ]; then
		unbound_port=$dns0
		bench_policy "$f" "$OUT/$p.conf" "$OUT/trusted.cidr" || exit 1
		unbound_port=$dns3600
		bench_policy "$f" "$OUT/$p-cached.conf" "$OUT/trusted.cidr" ||
		    exit 1
		pols="$pols $p-cached"
	fi
done
chmod 644 "$OUT"/*.conf "$OUT/trusted.cidr" 2>/dev/null
for k in $KINDS; do
	milter null-all $k "$NULLMILTER" -s all
	milter null-env $k "$NULLMILTER" -s policy
	for p in $pols; do
		f=$src/policies/$p.conf
		[ -f "$OUT/$p.conf" ] && f=$OUT/$p.conf
		for e in $ENGINES; do
			milter "$(tg_name "$p" "$e")" $k "$TOLLGATE" -E "$e" \
			    -f -u postfix -c "$f"
		done
	done
done
# rspamd reduced, on each DNS server (unix socket only).
rpeers=""
case $PEERS in
*rspamd*)
	c=$RSPAMD_CTL
	for v in "rspamd:$dns0" "rspamd-cached:$dns3600"; do
		n=${v%%:*}
		[ -n "${v#*:}" ] || continue
		rspamd_config "$OUT/$n" "${v#*:}" $c "$D/sock/$n"
		rspamd_start "$OUT/$n"
		eval "pid_$(echo "$n" | tr - _)=$rspamd_pid"
		eval "ctl_$(echo "$n" | tr - _)=$c"
		bench_wait "unix:$D/sock/$n" "$rspamd_pid" || {
			tail -20 "$OUT/$n/log/rspamd.log" "$OUT/$n/stdout.log"
			exit 1
		}
		rpeers="$rpeers $n"
		c=$((c + 2))
	done ;;
esac

# postfwd with the rules of policies/default.conf: no relay for strangers
# (at RCPT) and at most 100 recipients (at DATA: postfwd sees the count
# only there). Its request cache is off (-c 0): smtp-source repeats the
# same request, which a cache would answer without evaluating the rules.
cat >"$D/postfwd.cf" <<'CF'
id=NORELAY; client_address=!!(127.0.0.0/8); sasl_username=!!(.); recipient_domain=!!(^example\.org$); protocol_state=RCPT; action=REJECT Relay access denied
id=TOOMANY; protocol_state=DATA; recipient_count=101; action=452 4.5.3 Too many recipients
id=DEFAULT; action=DUNNO
CF
postfwd2 -f "$D/postfwd.cf" -i 127.0.0.1 -p $PFW -c 0 \
    --pidfile "$D/postfwd.pid" -u nobody -g nogroup >"$OUT/run/postfwd.log" 2>&1
n=0
while [ ! -s "$D/postfwd.pid" ] && [ $n -lt 100 ]; do
	sleep 0.1
	n=$((n + 1))
done
pid_postfwd=$(cat "$D/postfwd.pid")

# ---- Postfix -------------------------------------------------------------
cat >"$D/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $D/queue
data_directory = $D/data
maillog_file = $D/maillog
maillog_file_prefixes = $D
mail_owner = postfix
myhostname = mx.example.org
mydomain = example.org
mydestination =
relay_domains = example.org
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_client_recipient_rate_limit = 0
alias_maps =
alias_database =
local_recipient_maps =
relayhost = [127.0.0.1]:$SINK
default_transport = smtp:[127.0.0.1]:$SINK
relay_transport = smtp:[127.0.0.1]:$SINK
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
milter_default_action = tempfail
milter_protocol = 6
milter_connect_macros = j {daemon_name} {daemon_addr} {daemon_port} {client_addr} {client_name} {client_ptr} v _
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
milter_rcpt_macros = i {rcpt_addr} {rcpt_host} {rcpt_mailer}
# For the submission.conf listener: what Postfix would send after STARTTLS
# and AUTH as alice (a macro's default applies when Postfix has no value).
bench_submission_macros = { {auth_type} = PLAIN }, { {auth_authen} = alice },
    { {tls_version} = TLSv1.3 }, { {cipher} = TLS_AES_256_GCM_SHA384 },
    { {cipher_bits} = 256 }
CF
# One listener per configuration: port, name, smtpd options.
lport=$((PORT + 10))
listeners="$OUT/listeners"
{
	echo "$lport none"
	for n in null-all null-env $(for p in $pols; do for e in $ENGINES; do
	    tg_name "$p" "$e"; done; done)
	do
		for k in $KINDS; do
			lport=$((lport + 1))
			eval "s=\$pfsock_$(echo "$n" | tr - _)_$k"
			o=""
			case $n in
			tg-submission*) o="-o milter_macro_defaults=\$bench_submission_macros" ;;
			esac
			echo "$lport $n-$k -o smtpd_milters=$s $o"
		done
	done
	for n in $rpeers; do
		lport=$((lport + 1))
		echo "$lport $n -o smtpd_milters=unix:$D/sock/$n"
	done
	lport=$((lport + 1))
	echo "$lport postfwd" \
	    "-o smtpd_recipient_restrictions=check_policy_service," \
	    "inet:127.0.0.1:$PFW" \
	    "-o smtpd_data_restrictions=check_policy_service," \
	    "inet:127.0.0.1:$PFW"
} | sed 's/, /,/g' >"$listeners"
{
	while read -r p name opts; do
		echo "127.0.0.1:$p inet n - n - - smtpd"
		echo "  -o milter_macro_daemon_name=$name $opts"
	done <"$listeners"
	cat <<'MC'
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
MC
} >"$D/etc/master.cf"
smtp-sink -c -u postfix 127.0.0.1:$SINK 256 >/dev/null 2>&1 &
BENCH_PIDS="$BENCH_PIDS $!"
if ! postfix -c "$D/etc" start >"$OUT/run/postfix.start" 2>&1; then
	echo "postfix.sh: postfix did not start:"
	cat "$OUT/run/postfix.start"
	script -qc "postfix -c $D/etc check" /dev/null
	exit 1
fi
pf_started=1
sleep 1

# queued: messages still in the queue (wait for it to drain between runs
# so that one configuration's deliveries do not slow the next)
queued() {
	find "$D/queue/incoming" "$D/queue/active" "$D/queue/deferred" \
	    "$D/queue/maildrop" -type f 2>/dev/null | wc -l
}

# tree_pids PID: PID and all its descendants (postfwd2 forks a master,
# a cache and policy servers)
tree_pids() {
	echo "$1"
	for _c in $(ps -o pid= --ppid "$1"); do
		tree_pids "$_c"
	done
}

# cpu_of NAME: CPU ticks of the filter behind a configuration (postfwd:
# its master and children)
cpu_of() {
	case $1 in
	none)	echo 0 ;;
	postfwd|rspamd*)
		eval "_r=\$pid_$(echo "$1" | tr - _)"
		_t=0
		for _p in $(tree_pids "$_r"); do
			_t=$((_t + $(cpu_ticks "$_p" 2>/dev/null || echo 0)))
		done
		echo $_t ;;
	*)	eval "cpu_ticks \$pid_$(echo "${1%-*}" | tr - _)_${1##*-}" ;;
	esac
}

echo "== end to end through Postfix $(postconf -d -h mail_version);" \
    "results in $OUT"
machine | tee "$OUT/machine"
echo "load: smtp-source -s $SESSIONS -m $MSGS -l $SIZE, one message per" \
    "session; $ROUNDS rounds"
HZ=$(getconf CLK_TCK)
res="$OUT/e2e"
: >"$res"
names=$(awk '{ print $2 }' "$listeners")
r=1
while [ $r -le "$ROUNDS" ]; do
	while read -r p name opts; do
		w=0
		while [ "$(queued)" -gt 0 ] && [ $w -lt 600 ]; do
			sleep 0.1
			w=$((w + 1))
		done
		rej0=$(grep -c 'reject' "$D/maillog" 2>/dev/null)
		c0=$(cpu_of "$name")
		t0=$(date +%s.%N)
		# alice@example.org: the address her login owns
		# (submission.conf); example.net's SPF allows 127.0.0.1
		from=sender@example.net
		case $name in tg-submission-*) from=alice@example.org ;; esac
		smtp-source -s "$SESSIONS" -m "$MSGS" -l "$SIZE" \
		    -M mail.example.net -f "$from" -t user@example.org \
		    127.0.0.1:"$p" >"$OUT/run/$name.$r" 2>&1
		t1=$(date +%s.%N)
		c1=$(cpu_of "$name")
		rej1=$(grep -c 'reject' "$D/maillog" 2>/dev/null)
		awk -v n="$name" -v r="$r" -v t0="$t0" -v t1="$t1" \
		    -v c=$((c1 - c0)) -v hz="$HZ" -v m="$MSGS" \
		    -v rj=$((rej1 - rej0)) 'BEGIN {
			printf "%s %s %.1f %.1f %d\n", n, r, m / (t1 - t0),
			    c * 1e6 / hz / m, rj }' >>"$res"
	done <"$listeners"
	r=$((r + 1))
done

echo
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== messages/s through Postfix (median of $ROUNDS); ratios to no" \
    "filter and to the null milter on the same socket"
printf "%-22s %9s %7s %9s %9s %11s %8s %s\n" config msgs/s x/none \
    x/null-all x/null-env cpu_us/msg x/n-env rejects
base=$(awk '$1 == "none" { print $3 }' "$res" | median)
for n in $names; do
	rt=$(awk -v n="$n" '$1 == n { print $3 }' "$res" | median)
	cu=$(awk -v n="$n" '$1 == n { print $4 }' "$res" | median)
	k=${n##*-}
	case $k in unix|inet) ;; *) k=unix ;; esac
	na=$(awk -v n="null-all-$k" '$1 == n { print $3 }' "$res" | median)
	ne=$(awk -v n="null-env-$k" '$1 == n { print $3 }' "$res" | median)
	ce=$(awk -v n="null-env-$k" '$1 == n { print $4 }' "$res" | median)
	rj=$(awk -v n="$n" '$1 == n { s += $5 } END { print s + 0 }' "$res")
	printf "%-22s %9.0f %7s %9s %9s %11s %8s %s\n" "$n" "$rt" \
	    "$(ratio "$rt" "$base")" "$(ratio "$rt" "$na")" \
	    "$(ratio "$rt" "$ne")" "$cu" "$(ratio "$cu" "$ce")" "$rj"
done
echo "(postfwd and rspamd compare with the unix-socket null milter)"
# The peers of isp-antispam.conf: rspamd reduced to its checks, with the
# same DNS answers; a ratio per round, then their median (both ran in the
# same round, one after the other).
for v in ":" "-cached:-cached"; do
	tn=tg-isp-antispam${v%%:*}-unix rn=rspamd${v#*:}
	grep -q "^$tn " "$res" && grep -q "^$rn " "$res" || continue
	for e in "" -lm; do
		t=tg-isp-antispam${v%%:*}$e-unix
		awk -v t="$t" -v r="$rn" '$1 == t { rt[$2] = $3; ct[$2] = $4 }
		    $1 == r { rr[$2] = $3; cr[$2] = $4 }
		    END { for (k in rt) if (k in rr && rr[k] > 0 && cr[k] > 0)
			printf "%s %.3f %.3f\n", k, rt[k] / rr[k], ct[k] / cr[k] }' \
		    "$res" >"$OUT/ratio.$t"
		printf "%-30s x %-14s msgs/s %s  CPU/msg %s  (per round: %s)\n" \
		    "$t" "$rn" "$(awk '{ print $2 }' "$OUT/ratio.$t" | median)" \
		    "$(awk '{ print $3 }' "$OUT/ratio.$t" | median)" \
		    "$(awk '{ printf "%s/%s ", $2, $3 }' "$OUT/ratio.$t")"
	done
done
echo "raw results: $OUT"
