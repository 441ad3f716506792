"""t_handoff_stages.py - t_handoff.py at every stage with a DNS check:
client.ptr at connect, helo.resolves at HELO, spf at MAIL, DKIM's key
lookup at end of message. For each, one session reaches that stage and
asks a resolver that never answers (dns-timeout 1s) while, on the same
single event loop (native engine, -t 1), 5 other clients get whole
messages through; they are all done before the waiting one is answered,
and its answer (a defined one) comes after the DNS timeout. One daemon
with a rule at each stage, each for its own client address (libmilter
takes 5 s to stop). About 5 s.
"""
import socket
import time

from protolib import NATIVE, Suite, beside

t = Suite("handoff stages")
hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hole.bind(("127.0.0.1", 0))    # a resolver that never answers
HEAD = """
set resolver "127.0.0.1@%d"
set dns-timeout 1s
""" % hole.getsockname()[1]
SLOW = {"connect": "198.51.100.99", "helo": "198.51.100.98",
        "mail": "198.51.100.97", "eom": "198.51.100.96"}
SIG = ("v=1; a=rsa-sha256; c=relaxed/relaxed; d=slow.test; s=s1; "
       "h=from:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NO4WVlEWzI/Y8=; "
       "b=AAAA")


def upto(c, stage):
    """The waiting session's steps up to stage; their replies."""
    r = [c.connect("slow.example", SLOW[stage]), c.helo("slow.example")]
    if stage == "connect":
        return r
    # HELO may be unanswered (SMFIP_NR_HELO): the MTA then waits at MAIL.
    r.append(c.mail("<a@slow.test>"))
    if stage != "eom":
        return r
    r.append(c.rcpt("<b@example.com>"))
    r.append(c.message([("DKIM-Signature", SIG), ("From", "a@slow.test"),
                        ("Subject", "slow")], b"hello\r\n"))
    return r


# Each stage's rule asks DNS for its own client only; DKIM looks the key
# up only for a message with a signature.
RULES = """
stage connect {
    rule noptr : client.address == "%(connect)s" and client.ptr == ""
        => tempfail 450 4.7.1 "No PTR"
}
stage helo {
    rule unresolved : client.address == "%(helo)s" and not helo.resolves
        => reject 550 5.7.1 "HELO does not resolve"
}
stage mail {
    rule spf-fail : client.address == "%(mail)s" and spf == "fail"
        => reject 550 5.7.1 "SPF"
}
stage eom {
    rule signed : dkim == "pass" => add-header X-Signed "yes"
}
""" % SLOW
CASES = ("connect", "helo", "mail", "eom")


def waiting(d, stage, result):
    c = d.client(timeout=30)
    try:
        t0 = time.monotonic()
        replies = upto(c, stage)
        result["took"] = time.monotonic() - t0
        result["at"] = time.monotonic()
        result["r"] = replies[-1]
    except Exception as e:  # noqa: BLE001
        result["error"] = e
    finally:
        c.close()


# One event loop: a command that held it would hold every session.
d = t.tollgate("stages", HEAD + RULES, args=["-t", "1"] if NATIVE else [])
for stage in CASES:
    n, fast_done, res = beside(d, waiting, 5, d, stage)
    t.expect(n == 5, "%s: 5 messages went through beside the waiting one"
             % stage, n)
    t.expect("at" in res and res["at"] > fast_done,
             "%s: they were all done before it was answered" % stage, res)
    r = res.get("r")
    t.expect(r is not None and r.action in ("continue", "tempfail") and
             res["took"] >= 0.9,
             "%s: the waiting session answered after the DNS timeout "
             "(%.1f s)" % (stage, res.get("took", -1)), r)
rc = d.stop()
t.expect(rc == 0, "the daemon exits 0", rc)
hole.close()
t.done()
