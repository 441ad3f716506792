#!/usr/bin/env python3
"""mutate.py - every rule of a shipped policy is covered by its session file.

Usage: mutate.py TOLLGATE_TEST POLICY SESSION...

Copies the directory of POLICY (its tables and included files) to a
scratch directory, then breaks one rule at a time in the copy: its
condition becomes "not ( CONDITION )", so the rule now matches exactly
where it did not. The session files, run against the broken copy with
tollgate-test -x, must fail (exit 1) for every rule; a rule whose breakage
no session notices is reported. The unbroken copy must pass first.
Exit 0 when every mutant is caught, 1 otherwise.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile


def negate(text, line, name):
    """text with the condition of rule NAME (written at line) negated."""
    lines = text.split("\n")
    start = sum(len(l) + 1 for l in lines[:line - 1])
    m = re.compile(r"\brule\s+" + re.escape(name) + r"\b").search(text, start)
    if m is None or text.count("\n", 0, m.start()) != line - 1:
        raise ValueError("rule %s not found at line %d" % (name, line))
    i = text.index(":", m.end())
    cond = i + 1
    # The "=>" that ends the condition, outside strings and comments.
    j = cond
    while j < len(text):
        c = text[j]
        if c == '"':
            j += 1
            while j < len(text) and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
        elif c == "#":
            j = text.index("\n", j)
        elif text.startswith("=>", j):
            break
        j += 1
    else:
        raise ValueError("no => after rule %s" % name)
    return text[:cond] + " not (" + text[cond:j] + ") " + text[j:]


def run(tool, policy, sessions):
    p = subprocess.run([tool, "-q", "-x", "-c", policy] + sessions,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       universal_newlines=True, timeout=600)
    return p.returncode, p.stdout


def main():
    tool, policy, sessions = sys.argv[1], sys.argv[2], sys.argv[3:]
    src = os.path.dirname(os.path.abspath(policy))
    tmp = tempfile.mkdtemp(prefix="tg-mutate.")
    bad = 0
    try:
        copy = os.path.join(tmp, "policies")
        shutil.copytree(src, copy)
        # A read-only source tree (make distcheck) gives a read-only copy.
        for d, _, files in os.walk(copy):
            os.chmod(d, 0o755)
            for f in files:
                os.chmod(os.path.join(d, f), 0o644)
        cpolicy = os.path.join(copy, os.path.basename(policy))
        rc, out = run(tool, cpolicy, sessions)
        if rc != 0:
            print("the session files fail on the unbroken copy:\n" + out)
            return 1
        lst = subprocess.run([tool, "-l", "-c", cpolicy],
                             stdout=subprocess.PIPE, check=True,
                             universal_newlines=True).stdout
        rules = []
        for l in lst.splitlines():
            m = re.match(r"(.*):(\d+): (\S+) (\S+)$", l)
            rules.append((m.group(1), int(m.group(2)), m.group(3),
                          m.group(4)))
        if not rules:
            print("no rule in %s" % policy)
            return 1
        for f, line, stage, name in rules:
            with open(f) as fp:
                orig = fp.read()
            with open(f, "w") as fp:
                fp.write(negate(orig, line, name))
            rc, out = run(tool, cpolicy, sessions)
            with open(f, "w") as fp:
                fp.write(orig)
            where = "%s:%d" % (os.path.basename(f), line)
            if rc == 1:
                first = [l for l in out.splitlines()
                         if "expectation failed" in l][:1]
                print("caught: %s rule %s (%s) negated: %s" %
                      (stage, name, where,
                       first[0] if first else "failed"))
            elif rc == 0:
                print("NOT CAUGHT: %s rule %s (%s): with its condition "
                      "negated every expectation still holds" %
                      (stage, name, where))
                bad += 1
            else:
                print("ERROR: %s rule %s (%s) negated: tollgate-test "
                      "exit %d\n%s" % (stage, name, where, rc, out))
                bad += 1
        print("%s: %d rules, %d mutants not caught" %
              (os.path.basename(policy), len(rules), bad))
    finally:
        shutil.rmtree(tmp)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
