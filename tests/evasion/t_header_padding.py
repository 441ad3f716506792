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
}
'''

BODY = (b"--b1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"
        b"--b1\r\nContent-Type: application/octet-stream\r\n"
        b"Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\nTVogZmFrZSBleGU=\r\n"
        b"--b1--\r\n")


def send(d, npad, padlen=1, dup_from=False):
    c = d.client()
    c.connect()
    c.helo("client.example.net")
    c.mail("<a@example.org>")
    c.rcpt("<bob@example.com>")
    headers = [("X-Pad-%d" % i, "a" * padlen) for i in range(npad)]
    headers += [("From", "a@example.org")]
    if dup_from:
        headers += [("From", "ceo@example.com")]
    headers += [("Subject", "hi"), ("MIME-Version", "1.0"),
                ("Content-Type", 'multipart/mixed; boundary="b1"')]
    r = c.message(headers, BODY)
    c.close()
    return r


t = Suite("header padding")
d = t.tollgate("content", POLICY)
for npad, padlen in ((0, 1), (1000, 1), (5000, 1), (5, 60 * 1024)):
    what = "%d filler headers of %d bytes" % (npad, padlen)
    r = send(d, npad, padlen)
    t.expect(r.refused, "%s: the .exe attachment is refused" % what, r)
    r = send(d, npad, padlen, dup_from=True)
    t.expect(r.refused, "%s: a second From: is refused" % what, r)
t.done()
