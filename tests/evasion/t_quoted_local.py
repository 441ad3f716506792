"""t_quoted_local.py - quoted local parts (issue 14, operator test run):
MAIL FROM:<"alice"@example.org> from the login that owns alice@example.org
was refused 553, because the quoted spelling was compared as written.
"alice", "al\\ice" and alice are one mailbox (RFC 5321 4.1.2, RFC 5322
3.4.1); tollgate compares every address in one canonical form, and that
must open no way around the ownership rules: "bob" is bob, and "alice."
(not a dot-atom, so another mailbox) is nobody's.

Policy: the shipped policies/submission.conf with its
tables/sender_logins.map (alice@example.org: alice; bob@example.org: bob).
The login comes as {auth_authen} at MAIL, with a mechanism the policy
accepts without TLS (SCRAM-SHA-256). About 1 s.
"""
from evlib import Suite, policy_file

t = Suite("quoted local parts")
d = t.tollgate("submission", policy_file("submission.conf"))


def send(login, sender, from_hdr=None):
    """MAIL as login; with from_hdr, the whole message. The first answer
    that is not continue, or the last one."""
    c = d.client()
    try:
        c.connect("client.example.net", "198.51.100.7", port=2525)
        c.helo("client.example.net")
        r = c.mail(sender, macros={"{auth_type}": "SCRAM-SHA-256",
                                   "{auth_authen}": login})
        if r.action != "continue" or from_hdr is None:
            return r
        r = c.rcpt("<someone@example.net>")
        if r.action != "continue":
            return r
        return c.message([("From", from_hdr), ("To", "someone@example.net"),
                          ("Subject", "hello")], b"hi\r\n")
    finally:
        c.close()


def passes(r):
    return r.action in ("continue", "accept")


def refused_553(r):
    return r.action == "reject" and r.code == "553"


# The envelope sender.
for sender in ("<alice@example.org>", '<"alice"@example.org>',
               '<"al\\ice"@example.org>', '<"al"ice@example.org>'):
    r = send("alice", sender)
    t.expect(passes(r), "alice may send as %s" % sender, r)
for sender in ("<bob@example.org>", '<"bob"@example.org>',
               '<"b\\ob"@example.org>', '<"alice."@example.org>',
               '<"alice "@example.org>', '<"alice@example.org"@example.org>'):
    r = send("alice", sender)
    t.expect(refused_553(r), "alice may not send as %s" % sender, r)
r = send("bob", '<"bob"@example.org>')
t.expect(passes(r), 'bob may send as <"bob"@example.org>', r)

# The From: header, with an envelope alice owns.
for hdr in ('"alice"@example.org', 'Alice <"al\\ice"@example.org>'):
    r = send("alice", "<alice@example.org>", hdr)
    t.expect(passes(r), "alice may send with From: %s" % hdr, r)
for hdr in ('"bob"@example.org', 'Bob <"bob"@example.org>',
            '"alice."@example.org'):
    r = send("alice", "<alice@example.org>", hdr)
    t.expect(refused_553(r), "alice may not send with From: %s" % hdr, r)
t.done()
