#!/usr/bin/python3
"""dashboard.py - the checks of tests/dashboard.sh that read JSON and YAML.

Usage: dashboard.py DASHBOARD RULES METRICS OUTDIR

DASHBOARD is contrib/grafana/tollgate.json, RULES contrib/prometheus/
tollgate.rules.yml, METRICS a scrape of a live tollgate (Prometheus text
format). Checks that the dashboard is one Grafana loads (unique panel ids,
panels inside the 24-column grid and not overlapping, the Prometheus data
source variable on every query panel, every target with a refId and an
expression), that the rules file has groups of rules with an expression
and, for alerts, a severity and a summary, and that every tollgate_*
metric either uses is one the daemon exports (a histogram's _bucket,
_sum and _count included). Writes OUTDIR/dashboard.rules.yml, every
dashboard expression as a recording rule with the Grafana variables
replaced, so that promtool can parse them. Prints one line per problem;
exits 1 when there is one.
"""
import json
import re
import sys

import yaml

problems = []


def problem(text):
    problems.append(text)
    print("FAIL: " + text)


def exported(path):
    """Metric names in a scrape: from its # TYPE lines (present even for
    metrics without a sample yet, such as per-rule counters)."""
    names = set()
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"# TYPE (\S+) (\S+)", line)
            if not m:
                continue
            names.add(m.group(1))
            if m.group(2) == "histogram":
                for s in ("_bucket", "_sum", "_count"):
                    names.add(m.group(1) + s)
    return names


def walk_panels(panels):
    for p in panels:
        yield p
        yield from walk_panels(p.get("panels", []))


def check_grid(panels):
    """Panels must fit the 24 columns and not overlap (Grafana would move
    them): the top-level ones together, and those inside each collapsed
    row together (placed as if the row were open; Grafana pushes the rest
    down when it is)."""
    layers = [panels] + [p.get("panels", []) for p in panels
                         if p.get("collapsed")]
    for layer in layers:
        boxes = []
        for q in layer:
            g = q.get("gridPos")
            if not g:
                problem("panel %s has no gridPos" % q.get("id"))
                continue
            if g["x"] < 0 or g["w"] <= 0 or g["x"] + g["w"] > 24:
                problem("panel %s is outside the 24 columns" % q["id"])
            for (oid, og) in boxes:
                if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                        and g["y"] < og["y"] + og["h"]
                        and og["y"] < g["y"] + g["h"]):
                    problem("panels %s and %s overlap" % (oid, q["id"]))
            boxes.append((q["id"], g))


def dashboard_exprs(d):
    exprs = []
    if not d.get("uid") or not d.get("title"):
        problem("the dashboard has no uid or title")
    variables = {v["name"]: v for v in d.get("templating", {}).get("list", [])}
    ds = variables.get("datasource")
    if not ds or ds.get("type") != "datasource" or ds.get("query") != "prometheus":
        problem("no Prometheus data source variable $datasource")
    for name in ("job", "instance"):
        v = variables.get(name)
        if not v:
            problem("no variable $%s" % name)
            continue
        q = v.get("query")
        q = q.get("query") if isinstance(q, dict) else q
        m = re.fullmatch(r"label_values\((.*), *\w+\)", q or "")
        if not m:
            problem("variable $%s: not a label_values() query: %s" % (name, q))
        else:
            exprs.append(("variable " + name, m.group(1)))
    ids = set()
    for p in walk_panels(d.get("panels", [])):
        pid = p.get("id")
        if pid in ids:
            problem("panel id %s used twice" % pid)
        ids.add(pid)
        if p.get("type") in ("row", "text"):
            continue
        if p.get("datasource", {}).get("uid") != "${datasource}":
            problem("panel %s (%s) does not query $datasource" %
                    (pid, p.get("title")))
        targets = p.get("targets") or []
        if not targets:
            problem("panel %s (%s) has no query" % (pid, p.get("title")))
        refs = set()
        for t in targets:
            if not t.get("expr") or not t.get("refId") or t["refId"] in refs:
                problem("panel %s (%s): a target without expr or refId" %
                        (pid, p.get("title")))
                continue
            refs.add(t["refId"])
            exprs.append(("panel %s %s" % (pid, t["refId"]), t["expr"]))
    check_grid(d.get("panels", []))
    return exprs


def rules_exprs(r):
    exprs = []
    groups = r.get("groups") if isinstance(r, dict) else None
    if not groups:
        problem("the rules file has no groups")
        return exprs
    for g in groups:
        for rule in g.get("rules") or []:
            name = rule.get("alert") or rule.get("record")
            if not name or not rule.get("expr"):
                problem("group %s: a rule without a name or expr" % g.get("name"))
                continue
            if rule.get("alert"):
                if not rule.get("labels", {}).get("severity"):
                    problem("alert %s has no severity" % name)
                if not rule.get("annotations", {}).get("summary"):
                    problem("alert %s has no summary" % name)
            exprs.append(("rule " + name, rule["expr"]))
    return exprs


def grafana_to_promql(expr):
    """What Grafana sends Prometheus: its variables replaced."""
    return (expr.replace("$__rate_interval", "5m")
            .replace("$__range", "6h").replace("$__interval", "1m")
            .replace("$job", "tollgate").replace("$instance", ".*"))


def main():
    dash_path, rules_path, metrics_path, outdir = sys.argv[1:5]
    have = exported(metrics_path)
    print("ok - the live scrape exports %d tollgate metric names" %
          len([n for n in have if n.startswith("tollgate_")]))
    with open(dash_path, encoding="utf-8") as f:
        dash = json.load(f)
    dexprs = dashboard_exprs(dash)
    with open(rules_path, encoding="utf-8") as f:
        rexprs = rules_exprs(yaml.safe_load(f))
    used = set()
    for where, expr in dexprs + rexprs:
        for name in re.findall(r"\btollgate_[a-zA-Z0-9_]+", expr):
            used.add(name)
            if name not in have:
                problem("%s uses %s, which tollgate does not export" %
                        (where, name))
        # Prometheus' own metric: only up.
        for name in re.findall(r"\b(up)\b\s*\{", expr):
            used.add(name)
    print("ok - %d dashboard queries and %d rules use %d metric names" %
          (len(dexprs), len(rexprs), len(used)))
    rules = {"groups": [{"name": "dashboard", "rules": [
        {"record": "dashboard:expr_%d" % i, "expr": grafana_to_promql(e)}
        for i, (_, e) in enumerate(dexprs)]}]}
    with open(outdir + "/dashboard.rules.yml", "w", encoding="utf-8") as f:
        yaml.safe_dump(rules, f)
    with open(outdir + "/dashboard.where", "w", encoding="utf-8") as f:
        for i, (where, _) in enumerate(dexprs):
            f.write("dashboard:expr_%d %s\n" % (i, where))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
