"""F1: filler header fields must not hide the top-level Content-Type, a
second From: or any other header a rule reads. Headers past what tollgate
keeps (1,000 fields, 256 KiB) are counted; whatever a dropped field could
have changed is decided as the worst case, with a log line."""
from evlib import Suite

POLICY = r'''
stage eom {
    rule executable : attachment.extension in { exe, scr }
        => reject 554 5.7.1 "Executable attachments are not accepted"
    rule duplicate-from : header.occurrences "From" > 1
        => reject 554 5.6.0 "Duplicate From header"
    rule duplicate-subject : header.occurrences "Subject" > 1
        or header.occurrences "Date" > 1
        => reject 554 5.6.0 "Duplicate Subject or Date header"
}
'''
SUBJECT = r'''
stage eom {
    rule spam-subject : header.decoded "Subject" matches "viagra"
        => reject 554 5.7.1 "Spam"
}
'''

BODY = (b"--b1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTVogZmFrZSBleGU=\r\n"
        b"--b1--\r\n")
PDF = (b"--b1\r\nContent-Type: application/pdf\r\n"
       b"Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n"
       b"JVBERi0=\r\n--b1--\r\n")


def send(d, npad, padlen=1, extra=(), subject="hi", body=BODY):
    c = d.client()
    c.connect()
    c.helo("client.example.net")
    c.mail("<a@example.org>")
    c.rcpt("<bob@example.com>")
    headers = [("X-Pad-%d" % i, "a" * padlen) for i in range(npad)]
    headers += [("From", "a@example.org"), ("Date", "Mon, 1 Dec 2026 "
                                            "10:00:00 +0000")]
    headers += list(extra)
    headers += [("Subject", subject), ("MIME-Version", "1.0"),
                ("Content-Type", 'multipart/mixed; boundary="b1"')]
    r = c.message(headers, body)
    c.close()
    return r


def is_reply(r, code, xcode):
    return r.action == "reject" and r.code == code and r.xcode == xcode


t = Suite("header padding")
d = t.tollgate("content", POLICY)
for npad, padlen in ((0, 1), (1000, 1), (5000, 1), (5, 60 * 1024)):
    what = "%d filler headers of %d bytes" % (npad, padlen)
    r = send(d, npad, padlen, body=PDF)
    t.expect(r.action == "continue", "%s: a clean message passes" % what, r)
    r = send(d, npad, padlen)
    t.expect(is_reply(r, "554", "5.7.1"),
             "%s: the .exe attachment is refused" % what, r)
    for name, value in (("From", "ceo@example.com"), ("Subject", "again"),
                        ("Date", "Tue, 2 Dec 2026 10:00:00 +0000")):
        r = send(d, npad, padlen, extra=[(name, value)], body=PDF)
        t.expect(is_reply(r, "554", "5.6.0"),
                 "%s: a second %s: is refused" % (what, name), r)

# The Subject itself past the caps: header.decoded cannot read it, so the
# rule cannot be decided either way; a kept Subject decides as usual.
def subject_first(d, first):
    c = d.client()
    c.connect()
    c.helo("client.example.net")
    c.mail("<a@example.org>")
    c.rcpt("<bob@example.com>")
    pad = [("X-Pad-%d" % i, "a") for i in range(1000)]
    subj = [("Subject", "=?utf-8?q?v=69agra?=" if not first else "hello")]
    r = c.message((subj + pad if first else pad + subj) +
                  [("From", "a@example.org")], b"hello\r\n")
    c.close()
    return r


d = t.tollgate("subject", SUBJECT)
r = subject_first(d, False)
t.expect(r.action == "tempfail" and r.code == "451" and
         r.xcode == "4.3.0", "a Subject after 1,000 fields: header.decoded "
         "cannot decide, 451 4.3.0", r)
t.expect(d.logged("rule=spam-subject lookup failed") and
         d.logged('header.decoded "Subject"'),
         "the log line names the rule and the header", d.log()[-600:])
r = subject_first(d, True)
t.expect(r.action == "continue", "a kept Subject and 1,000 fields after "
         "it: decided", r)
t.done()
