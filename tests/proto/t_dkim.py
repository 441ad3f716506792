"""t_dkim.py - DKIM over raw milter packets: what the header values are
on the wire decides what gets signed and verified. A policy that verifies
(Authentication-Results with ${dkim_auth}) and signs (rsa-sha256 and
ed25519-sha256, keys made here, public keys served by a local unbound),
against two peers: one that offers SMFIP_HDR_LEADSPC and sends every
value as it was received (the white space after the colon, tabs, folded
lines with CRLF and with a bare LF), and one that does not offer it and
takes the leading white space away, as an MTA then does.

For each peer: the DKIM-Signature fields tollgate adds verify (dkimpy,
python3-dkim) over the message as that peer writes it back (the fields
put where the MTA puts them, "Name:" + value with the flag, "Name: " +
value without), and tollgate itself verifies both of its signatures when
that message comes back; a message signed by another domain with
simple/simple canonicalisation passes with the flag (whatever its
spacing), and without it when its fields have one space after the colon
(what the filter must assume); one with a field changed after signing
fails; simple canonicalisation over a tab the MTA took away is never a
pass. About 3 s.
"""
import os
import re
import subprocess
import sys

try:
    import dkim
except ImportError:
    # python3-dkim is a Debian package: a python3 from elsewhere first in
    # PATH (pyenv) does not see it; Debian's does.
    if os.path.realpath(sys.executable) != os.path.realpath(
            "/usr/bin/python3") and os.path.exists("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    print("SKIP: t_dkim: python3-dkim not installed (tools/install-deps.sh)")
    sys.exit(77)

from protolib import Suite

LEADSPC = 0x100000          # SMFIP_HDR_LEADSPC
ALL_STEPS = 0x1FFFFF

t = Suite("dkim")


def genkey(path, alg):
    args = ["openssl", "genpkey", "-algorithm", alg, "-out", path]
    if alg == "RSA":
        args += ["-pkeyopt", "rsa_keygen_bits:2048"]
    old = os.umask(0o077)
    try:
        subprocess.run(args, check=True, capture_output=True)
    finally:
        os.umask(old)
    der = subprocess.run(["openssl", "pkey", "-in", path, "-pubout",
                          "-outform", "DER"], check=True,
                         capture_output=True).stdout
    return der


def b64(data):
    import base64
    return base64.b64encode(data).decode()


keys = os.path.join(t.dir, "keys")
os.makedirs(keys)
rsa_der = genkey(os.path.join(keys, "rsa.pem"), "RSA")
ed_der = genkey(os.path.join(keys, "ed.pem"), "ED25519")
py_der = genkey(os.path.join(keys, "py.pem"), "RSA")
with open(os.path.join(keys, "py.pem"), "rb") as f:
    PY_KEY = f.read()

TXT = {
    "tg1._domainkey.example.org.": "v=DKIM1; k=rsa; p=" + b64(rsa_der),
    # Ed25519: the raw 32-byte key, the end of the DER.
    "tg2._domainkey.example.org.": "v=DKIM1; k=ed25519; p=" +
    b64(ed_der[-32:]),
    "py._domainkey.sender.test.": "v=DKIM1; k=rsa; p=" + b64(py_der),
}


def zone_line(name, txt):
    chunks = " ".join('"%s"' % txt[i:i + 200] for i in range(0, len(txt),
                                                             200))
    return "\tlocal-data: '%s 60 IN TXT %s'\n" % (name, chunks)


u = t.unbound('\tlocal-zone: "." static\n' +
              "".join(zone_line(n, v) for n, v in TXT.items()))
t.file("dkim/dkim.keys", "rsa example.org:tg1:%s\ned example.org:tg2:%s\n" %
       (os.path.join(keys, "rsa.pem"), os.path.join(keys, "ed.pem")))
t.file("dkim/dkim.signers", "*@example.org rsa\n*@example.org ed\n")
d = t.tollgate("dkim", """
set resolver "%s"
dkim-sign {
    key-table "dkim.keys"
    signing-table "refile:dkim.signers"
    multiple-signatures yes
}
stage eom {
    rule ar : true
        => add-header Authentication-Results "mx.example.test; ${dkim_auth}"
    rule sign : true => dkim-sign
}
""" % u.resolver)


def dnsfunc(name, timeout=5):
    n = name.decode() if isinstance(name, bytes) else name
    return TXT.get(n if n.endswith(".") else n + ".", "").encode()


def split(msg):
    """A message (CRLF) into [(name, raw value after the colon)], body."""
    head, _, body = msg.partition(b"\r\n\r\n")
    fields = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            n, v = fields[-1]
            fields[-1] = (n, v + b"\r\n" + line)
        else:
            n, v = line.split(b":", 1)
            fields.append((n, v))
    return fields, body


def crlf(v):
    return re.sub(rb"\r?\n", b"\r\n", v)


def send(fields, body, steps, sender="<alice@example.org>"):
    """One message through the daemon from a peer offering steps; the
    fields as that peer sends them: raw values with SMFIP_HDR_LEADSPC,
    without it their leading white space taken away. Returns the
    end-of-message Reply and the message as the peer writes it back."""
    c = d.client(steps=steps)
    lead = bool(c.proto & LEADSPC)
    try:
        c.connect("mail.example.net", "198.51.100.7")
        c.helo("mail.example.net")
        c.mail(sender)
        c.rcpt("<bob@example.com>")
        sent = [(n, v if lead else v.lstrip(b" \t")) for n, v in fields]
        r = c.message([(n.decode(), v) for n, v in sent], body)
    finally:
        c.close()
    out = list(sent)
    for idx, n, v in r.inserted:
        out.insert(idx, (n.encode("latin-1"), v.encode("latin-1")))
    for n, v in r.added:
        out.append((n.encode("latin-1"), v.encode("latin-1")))
    sep = b":" if lead else b": "
    msg = b"".join(crlf(n + sep + v) + b"\r\n" for n, v in out)
    return r, lead, msg + b"\r\n" + body


def ar_of(r):
    return r.header("Authentication-Results") or ""


BODY = b"Hello Bob,\r\n\r\n  indented line\r\n\r\n\r\n"
OURS = [(b"From", b" Alice <alice@example.org>"),
        (b"To", b"\tbob@example.com,\r\n\tcarol@example.com"),
        (b"Subject", b"  two spaces,\n\ta folded line with a bare LF"),
        (b"Date", b" Sun, 06 Dec 2026 02:00:00 +0000"),
        (b"Message-ID", b" <sig1@example.org>")]

for what, steps in (("with HDR_LEADSPC", ALL_STEPS),
                    ("without HDR_LEADSPC", ALL_STEPS & ~LEADSPC)):
    r, lead, msg = send(OURS, BODY, steps)
    t.expect(lead == (steps == ALL_STEPS),
             "%s: the flag is negotiated as offered" % what, lead)
    sigs = [v for _, n, v in r.inserted if n == "DKIM-Signature"]
    t.expect(r.action == "continue" and len(sigs) == 2,
             "%s: two DKIM-Signature fields inserted" % what, r)
    # The MTA writes "Name:" + value with the flag: the space is ours.
    t.expect(all(v[:1] == " " and v[1:2] not in (" ", "\t") if lead else
                 v[:1] not in (" ", "\t") for v in sigs + [ar_of(r)]),
             "%s: the values we add start as the MTA expects" % what,
             sigs + [ar_of(r)])
    # dkimpy verifies the signature of its choice (idx): the rsa one.
    order = [b"a=rsa-sha256" in v for n, v in split(msg)[0]
             if n.lower() == b"dkim-signature"]
    idx = order.index(True) if True in order else 0
    t.expect(dkim.DKIM(msg).verify(idx=idx, dnsfunc=dnsfunc),
             "%s: our rsa-sha256 signature verifies (dkimpy) over the "
             "message as the peer writes it" % what, msg[:600])
    ed_first = idx != 0
    # Ours back through tollgate: both signatures pass (ed25519 has no
    # dkimpy verifier here: python3-nacl is not installed).
    fields, body = split(msg)
    fields = [(n, v) for n, v in fields if n != b"Authentication-Results"]
    r2, _, _ = send(fields, body, steps, sender="<x@example.net>")
    ar = ar_of(r2)
    t.expect(ar.count("dkim=pass") == 2 and "header.s=tg1" in ar and
             "header.s=tg2" in ar,
             "%s: tollgate verifies both of its signatures (%s first)" %
             (what, "ed25519" if ed_first else "rsa"), ar)


def py_signed(fields, canon, include=(b"from", b"to", b"subject", b"date",
                                      b"message-id")):
    msg = b"".join(crlf(n + b":" + v) + b"\r\n" for n, v in fields)
    msg += b"\r\n" + BODY
    sig = dkim.sign(msg, b"py", b"sender.test", PY_KEY,
                    canonicalize=canon, include_headers=list(include))
    return split(sig + msg)[0]


THEIRS = [(b"From", b"  Carol <carol@sender.test>"),
          (b"To", b"\tbob@example.com,\r\n  dave@example.com"),
          (b"Subject", b" minutes\n\tfolded with a bare LF"),
          (b"Date", b"\tSun, 06 Dec 2026 01:00:00 +0000"),
          (b"Message-ID", b" <x1@sender.test>")]
SINGLE = [(b"From", b" Carol <carol@sender.test>"),
          (b"To", b" bob@example.com,\r\n dave@example.com"),
          (b"Subject", b" minutes"),
          (b"Date", b" Sun, 06 Dec 2026 01:00:00 +0000"),
          (b"Message-ID", b" <x2@sender.test>")]
SIMPLE, RELAXED = (b"simple", b"simple"), (b"relaxed", b"relaxed")


def verdict(fields, steps, tamper=False):
    if tamper:
        fields = [(n, b" other minutes" if n == b"Subject" else v)
                  for n, v in fields]
    r, _, _ = send(fields, BODY, steps, sender="<carol@sender.test>")
    m = re.search(r"dkim=(\w+)[^;]*header\.d=sender\.test", ar_of(r))
    return m.group(1) if m else ar_of(r)


for what, steps in (("with HDR_LEADSPC", ALL_STEPS),
                    ("without HDR_LEADSPC", ALL_STEPS & ~LEADSPC)):
    lead = steps == ALL_STEPS
    got = verdict(py_signed(THEIRS, RELAXED), steps)
    t.expect(got == "pass", "%s: relaxed/relaxed, tabs and folding: "
             "dkim=pass" % what, got)
    got = verdict(py_signed(SINGLE, SIMPLE), steps)
    t.expect(got == "pass", "%s: simple/simple, one space after each "
             "colon: dkim=pass" % what, got)
    got = verdict(py_signed(THEIRS, SIMPLE), steps)
    if lead:
        t.expect(got == "pass", "%s: simple/simple over tabs and two "
                 "spaces: dkim=pass (the values as received)" % what, got)
    else:
        t.expect(got == "fail", "%s: simple/simple over white space the "
                 "MTA took away: fail, never a guessed pass" % what, got)
    got = verdict(py_signed(THEIRS, RELAXED), steps, tamper=True)
    t.expect(got == "fail", "%s: Subject changed after signing "
             "(relaxed): dkim=fail" % what, got)
    got = verdict(py_signed(SINGLE, SIMPLE), steps, tamper=True)
    t.expect(got == "fail", "%s: Subject changed after signing "
             "(simple): dkim=fail" % what, got)

t.expect(d.alive(), "the daemon still serves", d.log()[-2000:])
t.done()
