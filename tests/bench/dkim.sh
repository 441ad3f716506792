#!/bin/sh
# dkim.sh - DKIM + DMARC verification through a private Postfix (README.md,
# "DKIM and DMARC"): tollgate alone against OpenDKIM + OpenDMARC chained as
# two milters (Debian's opendkim and opendmarc, run from their binaries
# with private configurations and sockets, stopped by PID), and no filter.
# smtp-source sends the same DKIM-signed message (RSA 2048, relaxed/
# relaxed, signed by python3-dkim) from example.org, whose key, DMARC
# record (p=reject) and SPF record a private unbound serves; every
# configuration verifies the signature, evaluates SPF and DMARC and adds
# Authentication-Results. Configurations alternate within each round
# (the machine is shared: ratios within a round, medians of ROUNDS); CPU
# per message from /proc/PID/stat of the filters (OpenDKIM + OpenDMARC
# summed). OpenDMARC asks the system resolver (libresolv), so the unbound
# listens on 127.0.0.77:53 and OpenDMARC runs in a mount namespace whose
# /etc/resolv.conf names it; OpenDKIM and tollgate are told so directly.
# Needs root, postfix, unbound, opendkim, opendmarc, python3-dkim, openssl
# (tools/install-deps.sh). Run by hand:
#   make -C _build/tests bench-dkim   (or sh tests/bench/dkim.sh from the
#   top of a build: top_srcdir, top_builddir)
# Environment: ROUNDS (5) MSGS (1000) SESSIONS (20) PORT (32100: uses
#   PORT..PORT+9) OUT
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
src=$(cd "$top_srcdir" && pwd)
bld=$(cd "$top_builddir" && pwd)
TOLLGATE=${TOLLGATE:-$bld/filter/tollgate}
MILTERLOAD=${MILTERLOAD:-$bld/tests/bench/milterload}
NULLMILTER=${NULLMILTER:-$bld/tests/bench/nullmilter}
ROUNDS=${ROUNDS:-5}
MSGS=${MSGS:-1000}
SESSIONS=${SESSIONS:-20}
PORT=${PORT:-32100}
DNS_ADDR=127.0.0.77
. "$src/tests/bench/lib.sh"
. "$src/tests/unbound.sh"

PATH=$PATH:/usr/sbin
for p in postfix smtp-source smtp-sink opendkim opendmarc openssl unshare; do
	command -v $p >/dev/null ||
	    { echo "dkim.sh: $p not installed; skipped"; exit 77; }
done
/usr/bin/python3 -c 'import dkim' 2>/dev/null ||
    { echo "dkim.sh: python3-dkim not installed; skipped"; exit 77; }
[ "$(id -u)" = 0 ] || { echo "dkim.sh: needs root"; exit 77; }
OUT=${OUT:-$(mktemp -d "${TMPDIR:-/tmp}/tg-dkim.XXXXXX")}
D=$OUT/pf
mkdir -p "$D/etc" "$D/queue" "$D/data" "$OUT/sock" "$OUT/run" "$OUT/dns"
chmod 755 "$OUT" "$OUT/sock"
chown postfix "$D/data"
SINK=$((PORT + 1))
pf_started=0
cleanup() {
	[ $pf_started = 1 ] && postfix -c "$D/etc" stop >/dev/null 2>&1
	unbound_stop
	bench_cleanup
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- the key, the records, the message -----------------------------------
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 \
    -out "$OUT/key.pem" 2>/dev/null || exit 1
pub=$(openssl pkey -in "$OUT/key.pem" -pubout -outform DER | base64 -w0 |
    fold -w 200 | sed 's/.*/"&"/' | tr '\n' ' ')
cat >"$OUT/zones" <<EOF
	local-zone: "." static
	local-data: 'bench._domainkey.example.org. 3600 TXT "v=DKIM1; k=rsa; p=" $pub'
	local-data: '_dmarc.example.org. 3600 TXT "v=DMARC1; p=reject"'
	local-data: 'example.org. 3600 TXT "v=spf1 ip4:127.0.0.0/8 -all"'
	local-data: 'example.org. 3600 MX 10 mx.example.org.'
	local-data: 'mx.example.org. 3600 A 127.0.0.1'
EOF
# unbound_conf's interface is 127.0.0.1: this one must be on port 53.
sed "s/interface: 127.0.0.1/interface: $DNS_ADDR/" "$src/tests/unbound.sh" \
    >"$OUT/unbound.sh"
. "$OUT/unbound.sh"
unbound_start "$OUT/dns" "$OUT/zones" 53 ||
    { cat "$OUT/dns/unbound.log"; echo "dkim.sh: no unbound on $DNS_ADDR:53"; exit 1; }
BENCH_PIDS="$BENCH_PIDS $unbound_pid"
/usr/bin/python3 - "$OUT" <<'PY' || exit 1
import sys, dkim
out = sys.argv[1]
body = b"".join(b"Line %d of a message of about two kilobytes, "
                b"signed once and sent again and again.\r\n" % i
                for i in range(24))
msg = (b"From: Sender <sender@example.org>\r\n"
       b"To: user@example.org\r\nSubject: DKIM benchmark\r\n"
       b"Date: Sat, 05 Dec 2026 10:00:00 +0000\r\n"
       b"Message-ID: <bench@example.org>\r\nMIME-Version: 1.0\r\n"
       b"Content-Type: text/plain; charset=us-ascii\r\n\r\n" + body)
sig = dkim.sign(msg, b"bench", b"example.org", open(out + "/key.pem",
    "rb").read(), canonicalize=(b"relaxed", b"relaxed"),
    include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                     b"mime-version", b"content-type"])
open(out + "/signed.eml", "wb").write((sig + msg).replace(b"\r\n", b"\n"))
PY

# ---- the filters ---------------------------------------------------------
cat >"$OUT/tollgate.conf" <<EOF
set resolver "$DNS_ADDR@53"
stage eom {
    rule dmarc-reject : dmarc == "fail" and dmarc.policy == "reject"
        => reject 550 5.7.1 "DMARC policy of \${dmarc_domain}"
    rule dmarc-temperror : dmarc == "temperror"
        => tempfail 451 4.7.5 "try again later"
    rule ar : true
        => add-header Authentication-Results "\${mta_name}; \${spf_auth}; \${dkim_auth}; \${dmarc_auth}"
}
EOF
cat >"$OUT/opendkim.conf" <<EOF
Syslog no
Mode v
Socket local:$OUT/sock/opendkim
PidFile $OUT/run/opendkim.pid
UserID postfix
Nameservers $DNS_ADDR
AuthservID mx.example.org
Background no
EOF
cat >"$OUT/opendmarc.conf" <<EOF
Syslog false
Socket local:$OUT/sock/opendmarc
PidFile $OUT/run/opendmarc.pid
UserID postfix
AuthservID mx.example.org
TrustedAuthservIDs mx.example.org
SPFSelfValidate true
SPFIgnoreResults true
RejectFailures true
PublicSuffixList /usr/share/publicsuffix/public_suffix_list.dat
IgnoreHosts $OUT/ignore-hosts
Background false
EOF
# OpenDMARC skips 127.0.0.1 by default; the load comes from there.
echo 192.0.2.255 >"$OUT/ignore-hosts"
printf 'nameserver %s\n' "$DNS_ADDR" >"$OUT/resolv.conf"
chown postfix "$OUT/sock" "$OUT/run"
"$TOLLGATE" -f -u postfix -c "$OUT/tollgate.conf" \
    -p "unix:$OUT/sock/tollgate" 2>>"$OUT/run/tollgate.log" &
pid_tg=$!
BENCH_PIDS="$BENCH_PIDS $pid_tg"
opendkim -f -x "$OUT/opendkim.conf" 2>>"$OUT/run/opendkim.log" &
pid_odk=$!
BENCH_PIDS="$BENCH_PIDS $pid_odk"
unshare -m sh -c 'mount --bind "$1" /etc/resolv.conf && shift &&
    exec "$@"' sh "$OUT/resolv.conf" opendmarc -f -c "$OUT/opendmarc.conf" \
    2>>"$OUT/run/opendmarc.log" &
pid_odm_sh=$!
BENCH_PIDS="$BENCH_PIDS $pid_odm_sh"
# The protocol's floor: a milter that reads every step and does nothing.
(umask 0; exec "$NULLMILTER" -s all -p "unix:$OUT/sock/null") \
    2>>"$OUT/run/null.log" &
pid_null=$!
BENCH_PIDS="$BENCH_PIDS $pid_null"
for s in tollgate opendkim opendmarc null; do
	bench_wait "unix:$OUT/sock/$s" "$pid_tg" || exit 1
done
# unshare execs sh, which execs opendmarc: the same PID
pid_odm=$pid_odm_sh

# ---- Postfix -------------------------------------------------------------
cat >"$D/etc/main.cf" <<CF
compatibility_level = 3.6
queue_directory = $D/queue
data_directory = $D/data
maillog_file = $D/maillog
maillog_file_prefixes = $D
myhostname = mx.example.org
mydestination =
relay_domains = example.org
mynetworks = 127.0.0.0/8
inet_interfaces = loopback-only
inet_protocols = ipv4
smtp_dns_support_level = disabled
smtpd_peername_lookup = no
in_flow_delay = 0
smtpd_client_connection_rate_limit = 0
alias_maps =
local_recipient_maps =
relayhost = [127.0.0.1]:$SINK
default_transport = smtp:[127.0.0.1]:$SINK
milter_default_action = tempfail
milter_protocol = 6
milter_connect_macros = j {daemon_name} {daemon_addr} {daemon_port} {client_addr} {client_name} {client_ptr} v _
milter_mail_macros = i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer}
CF
cat >"$OUT/listeners" <<EOF
$((PORT + 2)) none
$((PORT + 5)) null-milter -o smtpd_milters=unix:$OUT/sock/null
$((PORT + 3)) tollgate -o smtpd_milters=unix:$OUT/sock/tollgate
$((PORT + 4)) opendkim+opendmarc -o smtpd_milters=unix:$OUT/sock/opendkim,unix:$OUT/sock/opendmarc
EOF
{
	while read -r p name opts; do
		echo "127.0.0.1:$p inet n - n - - smtpd"
		echo "  -o milter_macro_daemon_name=$name $opts"
	done <"$OUT/listeners"
	sed -n '/^pickup/,/^postlog/p' "$src/tests/mta/postfix.tap"
} >"$D/etc/master.cf"
# The sink keeps the probes (below), then only counts.
mkdir -p "$OUT/probe"
chown postfix "$OUT/probe"
smtp-sink -u postfix -d "$OUT/probe/%M." 127.0.0.1:$SINK 256 \
    >/dev/null 2>&1 &
pid_sink=$!
BENCH_PIDS="$BENCH_PIDS $pid_sink"
postfix -c "$D/etc" start >"$OUT/run/postfix.start" 2>&1 ||
    { cat "$OUT/run/postfix.start"; exit 1; }
pf_started=1
sleep 1

queued() {
	find "$D/queue/incoming" "$D/queue/active" "$D/queue/deferred" \
	    "$D/queue/maildrop" -type f 2>/dev/null | wc -l
}
cpu_of() {
	case $1 in
	none)		echo 0 ;;
	tollgate)	cpu_ticks "$pid_tg" ;;
	null-milter)	cpu_ticks "$pid_null" ;;
	*)		echo $(($(cpu_ticks "$pid_odk") + $(cpu_ticks "$pid_odm"))) ;;
	esac
}

# A probe through each filter first: it must verify and pass (not bench a
# failure path); the headers show what each adds.
for port in $((PORT + 3)) $((PORT + 4)); do
	smtp-source -m 1 -F "$OUT/signed.eml" -f sender@example.org \
	    -t user@example.org 127.0.0.1:$port >/dev/null 2>&1
done
w=0
while [ "$(cat "$OUT"/probe/* 2>/dev/null | grep -c '^X-Rcpt-Args')" -lt 2 ] &&
    [ $w -lt 100 ]; do
	sleep 0.1
	w=$((w + 1))
done
probe_ok=1
for f in "$OUT"/probe/*; do
	grep -i -A2 '^Authentication-Results' "$f"
	grep -qi 'dkim=pass' "$f" && grep -qi 'dmarc=pass' "$f" || probe_ok=0
done
[ "$probe_ok" = 1 ] || { echo "dkim.sh: a probe did not pass DKIM and DMARC"; exit 1; }
bench_stop "$pid_sink"
smtp-sink -c -u postfix 127.0.0.1:$SINK 256 >/dev/null 2>&1 &
BENCH_PIDS="$BENCH_PIDS $!"
sleep 0.5
echo "== DKIM + DMARC through Postfix $(postconf -d -h mail_version);" \
    "results in $OUT"
machine | tee "$OUT/machine"
grep -h "reject\|milter" "$D/maillog" | tail -n 5
echo "load: smtp-source -s $SESSIONS -m $MSGS -F (a 2.4 KB signed message)," \
    "one message per session; $ROUNDS rounds"
HZ=$(getconf CLK_TCK)
res="$OUT/res"
: >"$res"
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
		smtp-source -s "$SESSIONS" -m "$MSGS" -F "$OUT/signed.eml" \
		    -M client.example.org -f sender@example.org \
		    -t user@example.org 127.0.0.1:"$p" >"$OUT/run/$name.$r" 2>&1
		t1=$(date +%s.%N)
		c1=$(cpu_of "$name")
		rej1=$(grep -c 'reject' "$D/maillog" 2>/dev/null)
		awk -v n="$name" -v r="$r" -v t0="$t0" -v t1="$t1" \
		    -v c=$((c1 - c0)) -v hz="$HZ" -v m="$MSGS" \
		    -v rj=$((rej1 - rej0)) -v la="$(cut -d' ' -f1 /proc/loadavg)" \
		    'BEGIN { printf "%s %s %.1f %.1f %d %s\n", n, r,
		    m / (t1 - t0), c * 1e6 / hz / m, rj, la }' >>"$res"
	done <"$OUT/listeners"
	r=$((r + 1))
done
echo
printf "%-20s %9s %12s %9s %s\n" config msgs/s cpu_us/msg rejects \
    "load avg (per round)"
for n in none null-milter tollgate opendkim+opendmarc; do
	rt=$(awk -v n="$n" '$1 == n { print $3 }' "$res" | median)
	cu=$(awk -v n="$n" '$1 == n { print $4 }' "$res" | median)
	rj=$(awk -v n="$n" '$1 == n { s += $5 } END { print s + 0 }' "$res")
	la=$(awk -v n="$n" '$1 == n { printf "%s ", $6 }' "$res")
	printf "%-20s %9.0f %12s %9s %s\n" "$n" "$rt" "$cu" "$rj" "$la"
done
awk '{ v[$2, $1] = $3; c[$2, $1] = $4; if ($2 > R) R = $2 }
    END { for (r = 1; r <= R; r++)
	printf "round %d: tollgate/opendkim+opendmarc msgs/s %.2f, " \
	    "CPU/msg %.2f\n", r, v[r, "tollgate"] / v[r, "opendkim+opendmarc"],
	    c[r, "tollgate"] / c[r, "opendkim+opendmarc"] }' "$res"
echo "raw results: $res"
