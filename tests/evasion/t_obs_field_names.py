"""t_obs_field_names.py - white space between a field name and its colon
("Content-Type : ...", RFC 5322 4.5.3 obsolete syntax). Postfix strips it
before a milter sees the name; Sendmail and libmilter clients need not.
To a reader it is the same field, so it must not hide a repeat from a rule
nor the message's structure from the MIME parser; readers disagree on it,
so a Content- field written so makes the MIME structure malformed; and a
forged Authentication-Results so written cannot be removed reliably, so it
is a tempfail. About 2 s."""
from evlib import Suite

POLICY = r'''
authentication-results "mx.example.test"
stage eom {
    rule duplicate-headers :
        header.occurrences "From" > 1 or header.occurrences "Subject" > 1
        => reject 554 5.6.0 "Duplicate From or Subject header"
    rule executable-attachment : attachment.extension in { exe, scr }
        => reject 554 5.7.1 "Executable attachments are not accepted"
    rule mime-malformed : mime.malformed => quarantine "malformed MIME"
}
'''

BODY = (b"--b1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTVogZmFrZSBleGU=\r\n"
        b"--b1--\r\n")
MULTI = 'multipart/mixed; boundary="b1"'

t = Suite("white space before the colon")
d = t.tollgate("obs", POLICY)


def send(headers, body=BODY):
    c = d.client()
    try:
        c.connect()
        c.helo("client.example.net")
        c.mail("<a@example.org>")
        c.rcpt("<bob@example.com>")
        return c.message([("Subject", "hi"), ("MIME-Version", "1.0")] +
                         headers, body)
    finally:
        c.close()


r = send([("From", "a@example.org"), ("Content-Type", MULTI)])
t.expect(r.code == "554" and r.xcode == "5.7.1", "plain: .exe refused", r)
for name in ("Content-Type ", "Content-Type\t", "Content-Type  \t "):
    r = send([("From", "a@example.org"), (name, MULTI)])
    t.expect(r.code == "554" and r.xcode == "5.7.1",
             "%r: read as Content-Type, .exe refused" % name, r)
r = send([("From", "a@example.org"), ("Content-Type", "text/plain"),
          ("Content-Type ", MULTI)])
t.expect(r.refused, "Content-Type text/plain, then 'Content-Type ' "
         "multipart: refused (opaque)", r)
r = send([("From", "a@example.org"), ("Content-Type ", "text/plain")],
         b"hello\r\n")
t.expect(r.quarantine is not None and r.action == "continue",
         "'Content-Type ' alone: malformed, held", r)
r = send([("From", "a@example.org"), ("From ", "ceo@example.com"),
          ("Content-Type", "text/plain")], b"hello\r\n")
t.expect(r.code == "554" and r.xcode == "5.6.0",
         "'From ' after From: a duplicate", r)
r = send([("From", "a@example.org"), ("Content-Type", "text/plain"),
          ("Authentication-Results", "mx.example.test; dkim=pass")],
         b"hello\r\n")
t.expect(r.action == "continue" and len(r.changed) == 1 and
         r.changed[0][2] is None, "a forged Authentication-Results is "
         "removed", r)
r = send([("From", "a@example.org"), ("Content-Type", "text/plain"),
          ("Authentication-Results ", "mx.example.test; dkim=pass")],
         b"hello\r\n")
t.expect(r.action == "tempfail" and r.code == "451",
         "a forged 'Authentication-Results ' cannot be removed: 451", r)
r = send([("From", "a@example.org"), ("Content-Type", "text/plain"),
          ("Authentication-Results ", "other.example; dkim=pass")],
         b"hello\r\n")
t.expect(r.action == "continue", "another host's 'Authentication-Results "
         "' is left alone", r)
t.done()
