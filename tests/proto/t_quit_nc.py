"""t_quit_nc.py - SMFIC_QUIT_NC: the MTA ends an SMTP session and starts
the next on the same milter connection. The next session is a new one:
its own id, connect-stage verdicts and macros of its own (nothing of the
last one's leaks: a {daemon_name} sent for the first session is gone), a
message that passes. libmilter takes QUIT_NC only after a whole message
(else it ignores it and the next connect, leaving the MTA waiting); the
native engine anywhere after connect (a message in progress is aborted).
"""
import re

from protolib import NATIVE, Suite, transaction

POLICY = """
stage connect {
    rule blocked-net : client.address in { 10.0.0.0/8 }
        => reject 550 5.7.1 "Network blocked"
}
stage eom {
    rule leaked : listener.name == "submission" => add-header X-Leak "yes"
}
"""
t = Suite("quit_nc")
d = t.tollgate("qnc", POLICY)

c = d.client()
# Session 1 on "submission": its message is marked.
c.connect(macros={"{daemon_name}": "submission"})
r = transaction(c)
t.expect(r.header("X-Leak") == "yes", "session 1: its own macros seen", r)
c.quit_nc()
# Session 2: connect macros without {daemon_name}.
c.connect(macros={"j": "mx.example.test"}, bare=True)
r = transaction(c)
t.expect(r.action == "continue" and r.header("X-Leak") is None,
         "session 2: nothing of session 1 leaked", r)
c.quit_nc()
# Session 3: from a refused network: answered at HELO, and at MAIL.
c.connect(addr="10.9.9.9")
r = c.helo("three.example")
t.expect(r.code == "550", "session 3: its connect verdict, at HELO", r)
if NATIVE:
    r = c.mail("<a@example.org>")
    t.expect(r.code == "550", "session 3: and at MAIL", r)
    c.quit_nc()
    # In the middle of a message, and before any.
    c.connect()
    c.helo("five.example")
    c.mail("<a@example.org>")
    c.rcpt("<b@example.com>")
    c.quit_nc()
    c.connect()
    c.quit_nc()
    c.connect()
    r = transaction(c)
    t.expect(r.action == "continue", "QUIT_NC mid-message and before any: "
             "the next session passes", r)
c.close()
# Session 2 lacks {daemon_name}, session 3 is refused: each says so
# under its own id.
ids = set(re.findall(r"tollgate: ([0-9A-F]{8,}): ", d.log()))
t.expect(len(ids) >= 2, "sessions logged under their own ids", ids)
t.done()
