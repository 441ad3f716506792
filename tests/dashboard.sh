#!/bin/sh
# dashboard.sh - the Grafana dashboard (contrib/grafana/tollgate.json) and
# the Prometheus alert rules (contrib/prometheus/tollgate.rules.yml)
# against a live tollgate: it runs the built daemon with a policy that
# has rules and a rate limit, scrapes /metrics (tollgate -M, with curl;
# "tollgatectl metrics" in a build without libmicrohttpd), and
# dashboard.py checks that every tollgate_* metric they use is exported
# and that the dashboard is one Grafana loads. Then, with promtool (from
# Debian's prometheus package, unpacked by tools/install-deps.sh into
# /var/cache/tollgate-test/promtool, or PROMTOOL, or on PATH): "promtool
# check rules" on the rules and on every dashboard query (as recording
# rules, Grafana's variables replaced: PromQL syntax), and "promtool test
# rules" on tollgate.rules.test.yml (each alert fires when it should and
# not otherwise). Without promtool those steps are skipped with a line
# saying so (the YAML parse and the name check still run). Grafana itself
# is not run (not in Debian 12). The metrics port is taken in
# 27900-28399. Environment: TOLLGATE, CURL, PROMTOOL, top_srcdir,
# top_builddir; KEEP=1 keeps the directory.

top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
CURL=${CURL:-$(command -v curl)}
contrib=$(cd "$top_srcdir/contrib" && pwd)
tests=$(cd "$top_srcdir/tests" && pwd)
. "$tests/daemon.sh"
CTL=$(dirname "$TOLLGATE")/tollgatectl

if ! python3 -c 'import yaml' 2>/dev/null; then
	echo "dashboard.sh: python3-yaml not installed (tools/install-deps.sh)"
	exit 77
fi
if [ -z "${PROMTOOL:-}" ]; then
	for p in /var/cache/tollgate-test/promtool/promtool \
	    "$(command -v promtool 2>/dev/null)"; do
		[ -n "$p" ] && [ -x "$p" ] && PROMTOOL=$p && break
	done
fi

tg_dir dashboard

# A policy with rules at several stages and a rate limit, so that the
# per-rule and per-limit series exist too.
cat >"$dir/policy.conf" <<'EOF'
limit per-client { key client.address count sessions max 50 }
stage connect {
    rule busy : limit per-client exceeded => tempfail 421 4.7.0 "busy"
}
stage rcpt {
    rule no-relay : rcpt.domain != "example.org"
        => reject 554 5.7.1 "Relay access denied"
}
EOF
"$TOLLGATE" -n -c "$dir/policy.conf" || fail "the test policy is not valid"

port=""
mkdir -p "$dir/tg"
for try in 1 2 3 4 5; do
	p=$((27900 + $(od -An -N2 -tu2 /dev/urandom) % 500))
	: >"$dir/tg/log"
	if tg_try tg -c "$dir/policy.conf" -M "127.0.0.1:$p" -C "$dir/ctl"; then
		port=$p
		break
	fi
	tg_logged tg 'cannot listen' || break
done
if [ -n "$port" ] && [ -n "$CURL" ]; then
	"$CURL" -sf "http://127.0.0.1:$port/metrics" >"$dir/metrics" ||
	    fail "curl http://127.0.0.1:$port/metrics failed"
	how="curl http://127.0.0.1:$port/metrics"
else
	# No HTTP listener in this build (or no curl): the control socket
	# gives the same text.
	tg_try tg -c "$dir/policy.conf" -C "$dir/ctl" ||
	    { fail "tollgate did not start:"; cat "$dir/tg/log"; exit 1; }
	n=0
	until [ -S "$dir/ctl" ] || [ $n -ge 100 ]; do
		sleep 0.1
		n=$((n + 1))
	done
	"$CTL" -s "$dir/ctl" metrics >"$dir/metrics" ||
	    fail "tollgatectl metrics failed"
	how="tollgatectl metrics"
fi
ok "scraped with $how ($(grep -c '^tollgate_' "$dir/metrics") samples)"
tg_stop_ok tg

python3 "$tests/dashboard.py" "$contrib/grafana/tollgate.json" \
    "$contrib/prometheus/tollgate.rules.yml" "$dir/metrics" "$dir" ||
    failed=1

if [ -z "${PROMTOOL:-}" ]; then
	echo "SKIP: promtool not found (tools/install-deps.sh unpacks it):" \
	    "rules and queries only parsed as YAML and checked by name"
else
	if "$PROMTOOL" check rules "$contrib/prometheus/tollgate.rules.yml" \
	    >"$dir/check.out" 2>&1; then
		ok "promtool check rules tollgate.rules.yml"
	else
		fail "promtool check rules tollgate.rules.yml:"
		cat "$dir/check.out"
	fi
	if (cd "$contrib/prometheus" &&
	    "$PROMTOOL" test rules tollgate.rules.test.yml) \
	    >"$dir/test.out" 2>&1; then
		ok "promtool test rules: every alert fires when it should"
	else
		fail "promtool test rules tollgate.rules.test.yml:"
		cat "$dir/test.out"
	fi
	if "$PROMTOOL" check rules "$dir/dashboard.rules.yml" \
	    >"$dir/dash.out" 2>&1; then
		ok "promtool parses every dashboard query"
	else
		fail "a dashboard query is not valid PromQL:"
		cat "$dir/dash.out" "$dir/dashboard.where"
	fi
fi
exit "$failed"
