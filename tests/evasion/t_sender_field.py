"""t_sender_field.py - a Sender: field that the guard of submission.conf's
sender-not-owner rule does not see: an empty first Sender: field made
`header.sender` false (it reads the first field only), so a second,
forged Sender: went unchecked. The shipped rule now asks whether any
Sender: field is present (header.occurrences), and owned-by judges every
one of them. Policy: the shipped policies/submission.conf. About 1 s."""
from evlib import Suite, policy_file

t = Suite("Sender: fields")
d = t.tollgate("submission", policy_file("submission.conf"))


def send(headers):
    c = d.client()
    try:
        c.connect("client.example.net", "198.51.100.7", port=2525)
        c.helo("client.example.net")
        r = c.mail("<alice@example.org>", macros={
            "{auth_type}": "SCRAM-SHA-256", "{auth_authen}": "alice"})
        if r.action != "continue":
            return r
        r = c.rcpt("<someone@example.net>")
        if r.action != "continue":
            return r
        return c.message([("From", "alice@example.org"),
                          ("To", "someone@example.net"),
                          ("Subject", "hello")] + headers, b"hi\r\n")
    finally:
        c.close()


r = send([])
t.expect(r.action == "continue", "no Sender: field: accepted", r)
r = send([("Sender", "alice@example.org")])
t.expect(r.action == "continue", "Sender: alice's own: accepted", r)
r = send([("Sender", "bob@example.org")])
t.expect(r.refused and r.code == "553", "Sender: bob's: 553", r)
for first in ("", " ", "(comment only)"):
    r = send([("Sender", first), ("Sender", "bob@example.org")])
    t.expect(r.refused and r.code == "553",
             "Sender: %r, then bob's: 553" % first, r)
r = send([("Sender", "")])
t.expect(r.refused, "a lone empty Sender: names no owner: refused", r)
t.done()
