#!/usr/bin/env python3
# make-corpus.py - writes the MIME test messages of this directory (run it
# here). The .expect files next to them were checked by hand; when a
# message changes, update its .expect from check_mime's "got" output only
# after reading it.
import base64

def w(name, data):
    if isinstance(data, str):
        data = data.encode('utf-8')
    open(name, 'wb').write(data)

def b64(b):
    return base64.encodebytes(b).decode()

pdf = b"%PDF-1.4\n% tollgate test document\n" + bytes(range(256))
exe = b"MZ\x90\x00" + b"tollgate test executable\x00" * 20
zipb = b64(b"PK\x03\x04 not really a zip")

w("plain.eml", "From: a@example.org\nTo: b@example.net\nSubject: hello\n\n"
  "Just text.\nTwo lines.\n")
w("simple-attach.eml", f"""From: a@example.org
Subject: report
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="=_outer"

This is a multi-part message in MIME format.
--=_outer
Content-Type: text/plain; charset=us-ascii

See the attached report.
--=_outer
Content-Type: application/pdf; name="report.pdf"
Content-Disposition: attachment; filename="report.pdf"
Content-Transfer-Encoding: base64

{b64(pdf)}--=_outer--
epilogue is ignored
""")
w("double-ext.eml", f"""From: a@example.org
Subject: invoice
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=XyZ

--XyZ
Content-Type: text/plain

Please pay.
--XyZ
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="invoice.pdf.exe"
Content-Transfer-Encoding: base64

{b64(exe)}
--XyZ
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="PHOTO.JPG.SCR. . "
Content-Transfer-Encoding: base64

{b64(exe)}
--XyZ--
""")
inner = """From: c@example.com
Subject: forwarded
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="inner-b"

--inner-b
Content-Type: text/plain

inner text
--inner-b
Content-Type: application/javascript; name=inner.js
Content-Transfer-Encoding: quoted-printable

var x =3D 1;=
 alert(x);
--inner-b--
"""
w("nested.eml", f"""From: a@example.org
Subject: nested
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="b1"

--b1
Content-Type: multipart/alternative; boundary="b2"

--b2
Content-Type: text/plain; charset=utf-8

plain
--b2
Content-Type: text/html; charset=utf-8

<p>html</p>
--b2--
--b1
Content-Type: application/zip
Content-Disposition: attachment; filename=files.zip
Content-Transfer-Encoding: base64

{zipb}
--b1
Content-Type: message/rfc822
Content-Disposition: attachment

{inner}
--b1--
""")
w("rfc2231.eml", """From: a@example.org
Subject: continuations
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="c"

--c
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*0*=utf-8''%E2%82%AC-Rechnung;
 filename*1*=%20M%C3%A4rz;
 filename*2=".pdf.scr"

AAAA
--c
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=iso-8859-1'de'b%E4r.vbs

BBBB
--c
Content-Type: application/octet-stream; name*0="long"; name*1="name";
 name*3=".bat"

CCCC
--c--
""")
w("encoded-words.eml", """From: =?utf-8?q?J=C3=B6rg?= <j@example.org>
Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgS8O2bG4=?=
 =?ISO-8859-1?Q?_und_M=FCnchen?=
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="e"

--e
Content-Type: text/plain

hi
--e
Content-Type: application/octet-stream; name="=?utf-8?Q?Lieferschein=5F2024.js?="
Content-Disposition: attachment; filename="=?utf-8?Q?Lieferschein=5F2024.js?="

DDDD
--e
Content-Type: application/octet-stream; name="=?x-unknown?Q?setup.exe?="

EEEE
--e--
""")
w("broken-boundary.eml", f"""From: a@example.org
Subject: broken boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="abc"

--abd
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="evil.exe"
Content-Transfer-Encoding: base64

{b64(exe)}
--abd--
""")
w("missing-final.eml", f"""From: a@example.org
Subject: missing final boundary
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="m"

--m
Content-Type: text/plain

text
--m
Content-Type: application/x-msdownload
Content-Disposition: attachment; filename="evil.exe"
Content-Transfer-Encoding: base64

{b64(exe)}""")
w("no-boundary-param.eml", """From: a@example.org
Subject: no boundary
MIME-Version: 1.0
Content-Type: multipart/mixed

--x
Content-Type: application/octet-stream; name="hidden.exe"

AAAA
--x--
""")
w("header-8bit.eml", "From: a@example.org\nSubject: Grüße aus Köln\n"
  "MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=\"h\"\n\n"
  "--h\nContent-Type: application/vnd.ms-word.document.macroEnabled.12\n"
  "Content-Disposition: attachment; filename=\"résumé.docm\"\n\nFFFF\n"
  "--h\nContent-Type: application/octet-stream\n"
  "Content-Disposition: attachment; filename=\"".encode()
  + b"Lebenslauf\xe4.exe\"\n\nGGGG\n--h--\n")
w("conflicting-names.eml", """From: a@example.org
Subject: two names
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="n"

--n
Content-Type: text/plain; name="notes.txt"
Content-Disposition: attachment; filename="notes.exe"

plain text
--n--
""")
w("qp-and-bad-b64.eml", """From: a@example.org
Subject: encodings
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="q"

--q
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9 soft=
break=3D
--q
Content-Type: application/octet-stream; name="bad.bin"
Content-Transfer-Encoding: base64

QUJD!!!RA
--q
Content-Type: application/octet-stream; name="odd.uu"
Content-Transfer-Encoding: x-uuencode

begin 644 odd
--q--
""")
w("single-part-attachment.eml", f"""From: a@example.org
Subject: the body is the attachment
MIME-Version: 1.0
Content-Type: application/x-msdos-program; name="run.com"
Content-Disposition: attachment; filename="run.com"
Content-Transfer-Encoding: base64

{b64(exe)}""")
w("headers-not-ended.eml", """From: a@example.org
Subject: part headers run into the delimiter
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="t"

--t
Content-Type: application/octet-stream; name="payload.js"
--t
Content-Type: text/plain

after
--t--
""")
# File names that hide what they are: a right-to-left override in RFC
# 2231 and RFC 2047 forms, C1 and zero-width characters, padding with
# spaces and with no-break spaces before the real extension.
rlo = base64.b64encode("photo\u202egpj.scr".encode()).decode()
w("spoofed-names.eml", f"""From: a@example.org
Subject: your invoice
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="s"

--s
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=UTF-8''invoice%E2%80%AEfdp.exe

{b64(exe)}
--s
Content-Type: application/octet-stream;
 name="=?UTF-8?B?{rlo}?="

AAAA
--s
Content-Type: application/pdf
Content-Disposition: attachment; filename="=?utf-8?q?statement=E2=80=8B.pdf?="

BBBB
--s
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=iso-8859-1''order%85.js

CCCC
--s
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="report.pdf                    .exe"

DDDD
--s
Content-Type: application/octet-stream
Content-Disposition: attachment;
 filename*=utf-8''scan%C2%A0%C2%A0%C2%A0%C2%A0%C2%A0%C2%A0%C2%A0%C2%A0%C2%A0_.hta

EEEE
--s
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="=?utf-8?q?isolate=E2=81=A6cod.bat?="

FFFF
--s--
""")
# Names with legitimate non-ASCII that must not count as spoofed: accents
# (RFC 2231, RFC 2047, raw UTF-8), Persian with ZWNJ, an emoji ZWJ
# sequence, a no-break space, two spaces, an ellipsis before the dot.
w("clean-names.eml", """From: a@example.org
Subject: documents
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="k"

--k
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''R%C3%A9sum%C3%A9.pdf

AAAA
--k
Content-Type: application/pdf; name="=?UTF-8?Q?R=C3=A9sum=C3=A9_2024.pdf?="

BBBB
--k
Content-Type: application/pdf
Content-Disposition: attachment; filename="Résumé (copie).pdf"

CCCC
--k
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''%DA%A9%D8%AA%D8%A7%D8%A8%E2%80%8C%D9%87%D8%A7.pdf

DDDD
--k
Content-Type: image/jpeg
Content-Disposition: attachment; filename*=UTF-8''%F0%9F%91%A9%E2%80%8D%F0%9F%92%BB.jpg

EEEE
--k
Content-Type: application/pdf
Content-Disposition: attachment; filename*=UTF-8''Facture%20n%C2%B0%C2%A012.pdf

FFFF
--k
Content-Type: video/mp4
Content-Disposition: attachment; filename="My  holiday, wait for it....mp4"

GGGG
--k--
""")
# Bytes that are not valid in the charset the name declares (or in
# UTF-8, with none): broken, so malformed, not spoofed; a bidi control
# next to them still counts.
w("bad-utf8-names.eml", b"""From: a@example.org
Subject: bad bytes
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="u"

--u
Content-Type: application/octet-stream
Content-Disposition: attachment; filename*=utf-8''bad%FF%FE.exe

AAAA
--u
Content-Type: application/octet-stream; name="=?utf-8?b?/w==?=.scr"

BBBB
--u
Content-Type: application/octet-stream
Content-Disposition: attachment; filename="raw\xc3(\xe2\x80\xaefdp.exe"

CCCC
--u--
""")
