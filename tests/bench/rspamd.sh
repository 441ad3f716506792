# rspamd.sh - rspamd as a peer of tollgate in tests/bench/postfix.sh
# (sourced; the caller sets src, OUT, BENCH_PIDS and the helpers of
# lib.sh): Debian's rspamd 3.4, its proxy worker speaking the milter
# protocol and scanning by itself, reduced to the checks that
# policies/isp-antispam.conf makes, so that the two do the same work:
#   - DNS lists of the client address (zen, spamcop, barracuda, dnswl)
#     and of the sender's domain (dbl): module rbl;
#   - SPF: module spf; the HELO name and the client's host name: hfilter;
#   - the header checks of its eom stage (no From or Date, duplicates;
#     no Message-ID and the Subject pattern only logged): a small Lua file;
#   - attachment types: mime_types; Authentication-Results: milter_headers.
# Nothing else: no Bayes, no fuzzy hashes (they would ask servers on the
# Internet), no stock Lua rules, no Redis. What keeps the comparison fair:
# every DNS query goes to the same local unbound as tollgate's, and
# 127.0.0.1, where the load comes from, is checked like any client
# (check_local, and the rbl module's exclusions of local and private
# addresses off), as tollgate's trusted_networks is emptied.
# Config files are written into a copy of /etc/rspamd under DIR.

# rspamd_config DIR DNSPORT CTLPORT SOCKET: the reduced configuration in
# DIR/etc; its workers bind CTLPORT (controller) and CTLPORT-1 (normal,
# idle: the proxy scans itself), the milter listens on the unix SOCKET
rspamd_config() {
	_r=$1 _e=$1/etc
	rm -rf "$_r"
	mkdir -p "$_r/db" "$_r/run" "$_r/log"
	cp -a /etc/rspamd "$_e"
	chown -R _rspamd:_rspamd "$_r/db" "$_r/run" "$_r/log"
	cat >"$_e/override.d/worker-proxy.inc" <<EOF
# The milter front end, scanning in the same process (no second hop).
bind_socket = "$4 mode=0666 owner=_rspamd";
milter = yes;
timeout = 120s;
count = 1;
upstream "local" {
  default = yes;
  self_scan = yes;
}
discard_on_reject = false;
quarantine_on_reject = false;
EOF
	printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\n' $(($3 - 1)) \
	    >"$_e/override.d/worker-normal.inc"
	printf 'bind_socket = "127.0.0.1:%s";\ncount = 1;\npassword = "bench";\nsecure_ip = "127.0.0.1";\n' \
	    "$3" >"$_e/override.d/worker-controller.inc"
	# Our unbound; loopback checked as any client; no composite filters.
	printf 'dns {\n  nameserver = ["127.0.0.1:%s"];\n}\ncheck_local = true;\nfilters = "";\n' \
	    "$2" >"$_e/local.d/options.inc"
	printf 'enabled = false;\n' >"$_e/local.d/fuzzy_check.conf"
	# Only the modules of the checks above.
	find "$_e/modules.d" -name '*.conf' ! -name spf.conf \
	    ! -name mime_types.conf -delete
	: >"$_e/statistic.conf"
	sed -i 's|^lua = .*|lua = "$CONFDIR/bench.lua"|' "$_e/common.conf"
	cat >"$_e/modules.d/rbl.conf" <<'EOF'
# The lists of isp-antispam.conf; the bench's unbound has them all empty.
rbl {
  default_exclude_private_ips = false;
  default_exclude_local = false;
  default_exclude_users = true;
  rbls {
    zen { symbol = "RBL_ZEN"; rbl = "zen.spamhaus.org"; checks = ["from"]; }
    spamcop { symbol = "RBL_SPAMCOP"; rbl = "bl.spamcop.net";
      checks = ["from"]; }
    barracuda { symbol = "RBL_BARRACUDA"; rbl = "b.barracudacentral.org";
      checks = ["from"]; }
    dnswl { symbol = "RCVD_IN_DNSWL"; rbl = "list.dnswl.org";
      checks = ["from"]; is_whitelist = true; }
    # A selector rule: no "checks" list (rspamd 3.4 then fails to load
    # the whole module).
    dbl { symbol = "DBL_SENDER"; rbl = "dbl.spamhaus.org";
      selector = "from('smtp'):domain"; }
  }
}
EOF
	cat >"$_e/modules.d/hfilter.conf" <<'EOF'
# The HELO name (syntax, FQDN, bare address, resolves) and the client's
# host name (reverse DNS, forward-confirmed), as isp-antispam's connect
# and helo stages; none of its URL, From, recipient or Message-ID checks.
hfilter {
  helo_enabled = true;
  hostname_enabled = true;
  url_enabled = false;
  from_enabled = false;
  rcpt_enabled = false;
  mid_enabled = false;
}
EOF
	cat >"$_e/modules.d/milter_headers.conf" <<'EOF'
milter_headers {
  use = ["authentication-results"];
  skip_local = false;
  skip_authenticated = true;
}
EOF
	cat >"$_e/bench.lua" <<'EOF'
-- isp-antispam.conf's header rules: no From, no Date, a second From,
-- Date or Subject refuse (score 15); no Message-ID and the Subject
-- pattern only count (score 0), as its dry-run rules only log.
require "global_functions" ()
local re = require "rspamd_regexp"
config['regexp'] = {}
rspamd_maps = {}
local function count(task, name)
  local h = task:get_header_full(name)
  return h and #h or 0
end
rspamd_config.BENCH_NO_FROM = { score = 15.0, group = 'headers',
  callback = function(task) return count(task, 'From') == 0 end }
rspamd_config.BENCH_NO_DATE = { score = 15.0, group = 'headers',
  callback = function(task) return count(task, 'Date') == 0 end }
rspamd_config.BENCH_TWICE = { score = 15.0, group = 'headers',
  callback = function(task)
    return count(task, 'From') > 1 or count(task, 'Date') > 1 or
      count(task, 'Subject') > 1
  end }
rspamd_config.BENCH_NO_MID = { score = 0.0, group = 'headers',
  callback = function(task) return count(task, 'Message-ID') == 0 end }
local subject = re.create_cached('/\\b(viagra|cialis)\\b/i')
rspamd_config.BENCH_SUBJECT = { score = 0.0, group = 'headers',
  callback = function(task)
    local s = task:get_subject()
    return s ~= nil and subject:match(s)
  end }
EOF
}

# rspamd_start DIR: rspamd in the foreground on DIR/etc; its PID (the
# main process, whose children are the workers) in rspamd_pid
rspamd_start() {
	rspamd -f -u _rspamd -g _rspamd -c "$1/etc/rspamd.conf" \
	    --var="CONFDIR=$1/etc" --var="LOCAL_CONFDIR=$1/etc" \
	    --var="DBDIR=$1/db" --var="RUNDIR=$1/run" --var="LOGDIR=$1/log" \
	    >"$1/stdout.log" 2>&1 &
	rspamd_pid=$!
	BENCH_PIDS="$BENCH_PIDS $rspamd_pid"
}

# rspamd_scanned CTLPORT: "scanned no-action other" from the controller
rspamd_scanned() {
	curl -s "http://127.0.0.1:$1/stat" | python3 -c 'import json, sys
s = json.load(sys.stdin)
a = s.get("actions", {})
print(s.get("scanned", 0), a.get("no action", 0),
      sum(v for k, v in a.items() if k != "no action"))'
}
