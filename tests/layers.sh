#!/bin/sh
# layers.sh - the modules of libtgcore.a and libtgproto.a call each other
# one way only (README, "Layout"): base (names, strings, addresses,
# counters), services (DNS, stores, tables, MIME, replies), checks, the
# engine and the session's life, the driver, the front ends. From each
# object's defined and undefined symbols (nm) a graph of modules is made;
# a cycle in it fails the test, with the calls that make it. A module
# split over files for size, which share one *_impl.h (dkim*.c and dmarc.c,
# metrics*.c, store_mem*.c, store_redis*.c), is one module. One cycle is
# known and allowed: the policy parser's recursive descent (conf_parse.c,
# conf_expr.c, conf_auth.c, conf_dkim.c, conf_dns.c parse each other's
# nested constructs).
# Skips (77) without python3 or nm. Environment: top_builddir.
top_builddir=${top_builddir:-.}
for t in python3 nm; do
	command -v "$t" >/dev/null 2>&1 ||
	    { echo "layers.sh: $t not installed"; exit 77; }
done
exec python3 - "$top_builddir/filter/libtgcore.a" \
    "$top_builddir/filter/libtgproto.a" <<'PY'
import collections
import subprocess
import sys

ALLOWED = {frozenset(["conf_parse", "conf_expr", "conf_auth", "conf_dkim",
                      "conf_dns"])}
# Files of one module (they share an *_impl.h): one node of the graph.
GROUP = {"dkim_sign": "dkim", "dkim_verify": "dkim", "dkim_keys": "dkim",
         "dkim_ed25519": "dkim", "dmarc": "dkim",
         "metrics_ops": "metrics", "store_mem_grey": "store_mem",
         "store_redis_grey": "store_redis"}
defs, undefs = collections.defaultdict(set), collections.defaultdict(set)
for lib in sys.argv[1:]:
    out = subprocess.run(["nm", lib], capture_output=True, text=True,
                         check=True).stdout
    mod = None
    for line in out.splitlines():
        if line.endswith(".o:"):
            mod = line[:-3].split("-", 1)[-1]
            mod = GROUP.get(mod, mod)
            continue
        f = line.split()
        if mod is None or not f:
            continue
        if len(f) == 3 and f[1] in "TDBRC":
            defs[mod].add(f[2])
        elif len(f) == 2 and f[0] == "U":
            undefs[mod].add(f[1])
owner = {s: m for m, ss in defs.items() for s in ss}
edges = collections.defaultdict(lambda: collections.defaultdict(set))
for m, ss in undefs.items():
    for s in ss:
        o = owner.get(s)
        if o is not None and o != m:
            edges[m][o].add(s)
index, low, stack, on, sccs, n = {}, {}, [], set(), [], [0]
sys.setrecursionlimit(10000)


def visit(v):
    index[v] = low[v] = n[0]
    n[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = set()
        while True:
            w = stack.pop()
            on.discard(w)
            comp.add(w)
            if w == v:
                break
        sccs.append(comp)


for v in sorted(defs):
    if v not in index:
        visit(v)
failed = 0
for comp in sccs:
    if len(comp) < 2:
        continue
    if frozenset(comp) in ALLOWED:
        print("ok - known cycle (the parser's recursive descent): %s" %
              " ".join(sorted(comp)))
        continue
    failed = 1
    print("FAIL: modules calling each other: %s" % " ".join(sorted(comp)))
    for a in sorted(comp):
        for b in sorted(edges[a]):
            if b in comp:
                print("  %s -> %s: %s" % (a, b, ", ".join(sorted(edges[a][b]))))
if not failed:
    print("ok - %d modules, no other cycle" % len(defs))
sys.exit(failed)
PY
