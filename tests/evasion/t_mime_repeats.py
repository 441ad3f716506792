"""F7: a Content- field or parameter given twice is ambiguous (readers
take the first or the last): the message is malformed and, when the
values differ, the entity opaque, so every attachment rule matches it.
Before, tollgate took the first silently: two top-level Content-Type
fields or boundary="b1"; boundary="zzz" hid an .exe from the rules."""
from evlib import Suite

POLICY = r'''
stage eom {
    rule executable : attachment.extension in { exe, scr }
        => reject 554 5.7.1 "Executable attachments are not accepted"
    rule malformed : mime.malformed => quarantine "malformed MIME"
}
'''

EXE = (b"Content-Type: application/octet-stream\r\n"
       b"Content-Disposition: attachment; filename=\"evil.exe\"\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\nTVo=\r\n")
PDF = (b"--b1\r\nContent-Type: application/pdf\r\n"
       b"Content-Disposition: attachment; filename=\"a.pdf\"\r\n\r\n"
       b"JVBERi0=\r\n--b1--\r\n")
MULTI = ("Content-Type", 'multipart/mixed; boundary="b1"')


def send(d, fields, body):
    c = d.client()
    c.connect()
    c.helo("client.example.net")
    c.mail("<a@example.org>")
    c.rcpt("<bob@example.com>")
    r = c.message([("From", "a@example.org"), ("Subject", "hi"),
                   ("MIME-Version", "1.0")] + fields, body)
    c.close()
    return r


def rejected(r):
    return r.action == "reject" and r.code == "554" and r.xcode == "5.7.1"


t = Suite("MIME repeats")
d = t.tollgate("content", POLICY)

r = send(d, [MULTI], PDF)
t.expect(r.action == "continue", "a clean message passes", r)

exe_in_b1 = b"--b1\r\n" + EXE + b"--b1--\r\n"
r = send(d, [("Content-Type", "text/plain"), MULTI], exe_in_b1)
t.expect(rejected(r), "text/plain then multipart/mixed: the .exe is "
         "refused", r)
r = send(d, [MULTI, ("Content-Type", "text/plain")], exe_in_b1)
t.expect(rejected(r), "multipart/mixed then text/plain: refused", r)
r = send(d, [("Content-Type", "text/plain"), ("Content-Type", "text/html")],
         b"hello\r\n")
t.expect(rejected(r), "two different types without attachment: opaque, "
         "refused", r)
t.expect(d.logged("unparsable, taken as suspicious"),
         "the log says the part was taken as suspicious", d.log()[-400:])

hidden = (b"--b1\r\nContent-Type: text/plain\r\n\r\n--zzz\r\n" + EXE +
          b"--zzz--\r\n--b1--\r\n")
r = send(d, [("Content-Type", 'multipart/mixed; boundary="zzz"')], hidden)
t.expect(rejected(r), "boundary=\"zzz\" alone: the .exe is refused", r)
r = send(d, [("Content-Type",
              'multipart/mixed; boundary="b1"; boundary="zzz"')], hidden)
t.expect(rejected(r), "boundary=\"b1\"; boundary=\"zzz\": refused", r)

r = send(d, [MULTI, MULTI], PDF)
t.expect(r.action == "continue" and r.quarantine is not None,
         "the same Content-Type twice: malformed (quarantined), not "
         "opaque", r)

r = send(d, [MULTI], b"--b1\r\nContent-Type: application/pdf\r\n"
         b"Content-Disposition: attachment; filename=\"a.pdf\"; "
         b"filename=\"b.doc\"\r\n\r\nx\r\n--b1--\r\n")
t.expect(rejected(r), "a part's filename twice: opaque, refused", r)

r = send(d, [MULTI], b"--b1\r\nContent-Type: application/pdf\r\n"
         b"Content-Disposition: attachment; filename=\"a.pdf\"; "
         b"filename*=utf-8''evil.exe\r\n\r\nx\r\n--b1--\r\n")
t.expect(rejected(r), "filename=a.pdf and filename*=evil.exe: evil.exe "
         "(mail clients' choice) is tested", r)

r = send(d, [("Content-Type", "text/plain")] +
         [("X-Pad-%d" % i, "a") for i in range(1000)] + [MULTI], exe_in_b1)
t.expect(rejected(r), "a second Content-Type after 1,000 fields: "
         "refused", r)
t.done()
