"""milterclient.py - the MTA side of the milter protocol (version 6), for
tests that send what an MTA would never send on its own: 1,000 headers,
repeated fields, a HELO of 1,000 bytes, no HELO at all.

    c = MilterClient(sock)
    c.connect("client.example", "198.51.100.7")
    c.helo("client.example")
    r = c.mail("<a@example.org>")    # a Reply
    r.action                         # "continue", "reject", ...

Every step returns a Reply: the final answer (action, and the SMTP code,
enhanced code and text of an SMFIR_REPLYCODE) and the modifications that
came before it (added and changed headers, quarantine). A step the filter
negotiated away (SMFIP_NO*) or asked no reply for (SMFIP_NR_*) returns a
Reply with action "continue" and skipped=True, as an MTA would go on.
"""
import socket
import struct

# Commands (mfdef.h).
ABORT, BODY, CONNECT, MACRO, BODYEOB, HELO = b"A", b"B", b"C", b"D", b"E", b"H"
HEADER, MAIL, EOH, OPTNEG, QUIT, RCPT, DATA = b"L", b"M", b"N", b"O", b"Q", b"R", b"T"

# Protocol flags.
NOCONNECT, NOHELO, NOMAIL, NORCPT = 0x1, 0x2, 0x4, 0x8
NOBODY, NOHDRS, NOEOH, NR_HDR = 0x10, 0x20, 0x40, 0x80
NODATA = 0x200
NR_CONN, NR_HELO, NR_MAIL, NR_RCPT = 0x1000, 0x2000, 0x4000, 0x8000
NR_DATA, NR_EOH, NR_BODY = 0x10000, 0x40000, 0x80000
ALL_STEPS = 0x1FFFFF   # every skip and no-reply flag an MTA may grant

FINAL = {b"a": "accept", b"c": "continue", b"d": "discard",
         b"r": "reject", b"t": "tempfail", b"y": "replycode"}


class Reply:
    """The answer to one step."""

    def __init__(self):
        self.action = None      # accept continue discard reject tempfail
        self.code = None        # "554" (SMFIR_REPLYCODE only)
        self.xcode = None       # "5.7.1"
        self.text = None
        self.added = []         # (name, value): SMFIR_ADDHEADER
        self.inserted = []      # (index, name, value): SMFIR_INSHEADER
        self.changed = []       # (index, name, value or None)
        self.quarantine = None
        self.skipped = False

    def __repr__(self):
        s = self.action or "?"
        if self.code:
            s += " %s %s %s" % (self.code, self.xcode, self.text)
        if self.quarantine is not None:
            s += " quarantine=%r" % self.quarantine
        if self.added or self.inserted:
            s += " headers=%r" % (self.added + [(n, v) for _, n, v in
                                                 self.inserted])
        return s

    @property
    def refused(self):
        """A reject or tempfail, with or without reply text."""
        return self.action in ("reject", "tempfail")

    def header(self, name):
        """Value of the first header added or inserted with that name."""
        for n, v in self.added + [(n, v) for _, n, v in self.inserted]:
            if n.lower() == name.lower():
                return v
        return None


def _b(s):
    return s if isinstance(s, bytes) else s.encode("utf-8", "surrogateescape")


class MilterClient:
    """path: a unix socket's path, or (host, port) for TCP. version: the
    protocol version offered (2 to 6)."""

    def __init__(self, path, timeout=30, actions=0x1FF, steps=ALL_STEPS,
                 version=6):
        if isinstance(path, tuple):
            self.sock = socket.create_connection(path, timeout)
        else:
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.settimeout(timeout)
            self.sock.connect(path)
        self._send(OPTNEG, struct.pack(">III", version, actions, steps))
        cmd, data = self._recv()
        if cmd != OPTNEG:
            raise ProtocolError("negotiation answered with %r" % cmd)
        self.version, self.actions, self.proto = struct.unpack(
            ">III", data[:12])

    # -- packets ----------------------------------------------------------
    def _send(self, cmd, data=b""):
        self.sock.sendall(struct.pack(">I", len(data) + 1) + cmd + data)

    def _read(self, n):
        buf = b""
        while len(buf) < n:
            chunk = self.sock.recv(n - len(buf))
            if not chunk:
                raise EOFError("the filter closed the connection")
            buf += chunk
        return buf

    def _recv(self):
        (n,) = struct.unpack(">I", self._read(4))
        body = self._read(n)
        return body[:1], body[1:]

    def _step(self, cmd, data=b"", skip=0, noreply=0):
        r = Reply()
        if self.proto & skip:
            r.action, r.skipped = "continue", True
            return r
        self._send(cmd, data)
        if self.proto & noreply:
            r.action, r.skipped = "continue", True
            return r
        while True:
            c, d = self._recv()
            if c in FINAL:
                r.action = FINAL[c]
                if c == b"y":
                    self._replycode(r, d)
                return r
            self._modification(r, c, d)

    @staticmethod
    def _replycode(r, d):
        text = d.rstrip(b"\0").decode("latin-1")
        parts = text.split(" ", 2)
        r.code = parts[0]
        r.action = "reject" if r.code.startswith("5") else "tempfail"
        if len(parts) > 1:
            r.xcode = parts[1]
        if len(parts) > 2:
            r.text = parts[2].replace("%%", "%")

    @staticmethod
    def _modification(r, c, d):
        if c == b"h":
            name, value = d.split(b"\0")[:2]
            r.added.append((name.decode("latin-1"), value.decode("latin-1")))
        elif c in (b"i", b"m"):
            (idx,) = struct.unpack(">I", d[:4])
            name, value = d[4:].split(b"\0")[:2]
            entry = (idx, name.decode("latin-1"),
                     value.decode("latin-1") if value or c == b"i" else None)
            (r.inserted if c == b"i" else r.changed).append(entry)
        elif c == b"q":
            r.quarantine = d.rstrip(b"\0").decode("latin-1")
        elif c == b"p":
            pass                    # progress: keep waiting
        else:
            raise ProtocolError("unexpected reply %r" % c)

    def macros(self, stage, values):
        data = _b(stage)
        for k, v in values.items():
            data += _b(k) + b"\0" + _b(v) + b"\0"
        self._send(MACRO, data)

    # -- SMTP stages ------------------------------------------------------
    def connect(self, hostname="client.example.net", addr="198.51.100.7",
                port=25, macros=None, bare=False):
        """bare: only the macros given, none of the usual ones."""
        m = {} if bare else {"j": "mx.example.test", "{daemon_name}": "mx",
                             "{client_addr}": addr}
        m.update(macros or {})
        if m:
            self.macros(CONNECT, m)
        family = b"6" if ":" in addr else b"4"
        return self._step(CONNECT, _b(hostname) + b"\0" + family +
                          struct.pack(">H", port) + _b(addr) + b"\0",
                          NOCONNECT, NR_CONN)

    def helo(self, name, macros=None):
        if macros:
            self.macros(HELO, macros)
        return self._step(HELO, _b(name) + b"\0", NOHELO, NR_HELO)

    def mail(self, sender, args=(), macros=None):
        m = {"i": "4QID000001"}
        m.update(macros or {})
        self.macros(MAIL, m)
        data = _b(sender) + b"\0" + b"".join(_b(a) + b"\0" for a in args)
        return self._step(MAIL, data, NOMAIL, NR_MAIL)

    def rcpt(self, rcpt, macros=None):
        if macros:
            self.macros(RCPT, macros)
        return self._step(RCPT, _b(rcpt) + b"\0", NORCPT, NR_RCPT)

    def data(self):
        return self._step(DATA, b"", NODATA, NR_DATA)

    def header(self, name, value):
        return self._step(HEADER, _b(name) + b"\0" + _b(value) + b"\0",
                          NOHDRS, NR_HDR)

    def eoh(self):
        return self._step(EOH, b"", NOEOH, NR_EOH)

    def body(self, data):
        data = _b(data)
        r = Reply()
        r.action = "continue"
        for i in range(0, len(data), 65535):
            r = self._step(BODY, data[i:i + 65535], NOBODY, NR_BODY)
            if r.action != "continue":
                break
        return r

    def eom(self, data=b""):
        return self._step(BODYEOB, _b(data))

    def abort(self):
        self._send(ABORT)

    def quit_nc(self):
        """SMFIC_QUIT_NC: this SMTP session ends, a new one follows on the
        same connection (connect() again)."""
        self._send(b"K")

    def raw(self, data):
        """Bytes as they are, packets or not."""
        self.sock.sendall(data)

    def packet(self):
        """The next packet from the filter: (command, data)."""
        return self._recv()

    def closed(self, timeout=10):
        """True when the filter closes the connection within timeout
        seconds without sending anything more."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except socket.timeout:
            return False
        except OSError:
            return True

    def close(self):
        try:
            self._send(QUIT)
        except OSError:
            pass
        self.sock.close()

    # -- a whole message --------------------------------------------------
    def message(self, headers, body=b""):
        """DATA, the headers [(name, value)], end of headers, the body and
        end of message; the first answer that is not "continue", or the
        end-of-message answer."""
        for step in ([lambda: self.data()] +
                     [lambda n=n, v=v: self.header(n, v) for n, v in headers] +
                     [lambda: self.eoh(), lambda: self.body(body)]):
            r = step()
            if r.action != "continue":
                return r
        return self.eom()


class ProtocolError(Exception):
    pass


def parse_message(raw):
    """Split an RFC 5322 message (bytes, CRLF or LF) into the header list
    the MTA would send to a milter (names without the colon, values with
    the leading space removed and folding kept) and the body."""
    raw = raw.replace(b"\r\n", b"\n")
    head, sep, body = raw.partition(b"\n\n")
    if not sep:
        head, body = raw, b""
    headers = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t") and headers:
            n, v = headers[-1]
            headers[-1] = (n, v + b"\r\n" + line)
        elif b":" in line:
            n, v = line.split(b":", 1)
            headers.append((n.rstrip(), v[1:] if v[:1] == b" " else v))
    return headers, body.replace(b"\n", b"\r\n")
