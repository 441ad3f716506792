"""t_packets.py - broken and hostile packets from the MTA's side: a length
past the protocol's limit or of 0, a packet cut off by the end of the
connection, unknown commands, commands out of order, malformed connect
information, HELO, header and macro packets (odd lists, no NUL, unknown
stages, 10,000 of them). Each gets a defined answer or a closed connection
(with the native engine: at once; libmilter ignores some commands without
answering, which leaves the MTA waiting); never a crash, and the daemon
serves the next client; its memory does not grow with the flood.
"""
import struct

from protolib import (FULL, NATIVE, Suite, memory_flat, pkt, transaction,
                      works)

t = Suite("packets")
d = t.tollgate("full", FULL)


def session(**kw):
    c = d.client(timeout=10, **kw)
    c.connect()
    c.helo("client.example.net")
    return c


def closed_or_answer(c, what, strict=NATIVE):
    """The connection closes (native: must); libmilter may instead answer
    or ignore the packet."""
    try:
        gone = c.closed(5 if strict else 1)
    except Exception:  # noqa: BLE001
        gone = True
    if strict:
        t.expect(gone, "%s: connection closed" % what)
    else:
        t.ok("%s: %s" % (what, "closed" if gone else "left open"))
    c.sock.close()
    works(t, d, what)


# Lengths.
c = session()
c.raw(struct.pack(">I", 65537) + b"B")
closed_or_answer(c, "65,536 bytes of data (past the limit)", strict=True)
c = session()
c.raw(struct.pack(">I", 0) + pkt(b"Q"))
closed_or_answer(c, "length 0")
c = session()
c.raw(struct.pack(">I", 1000) + b"H" + b"x" * 100)
c.sock.shutdown(1)
closed_or_answer(c, "a packet cut off by the end of the connection",
                 strict=True)
c = session()
c.raw(struct.pack(">I", 0xFFFFFFFF) + b"L")
closed_or_answer(c, "length 2^32-1")

# Commands.
c = session()
c.raw(pkt(b"Z", b"x"))
closed_or_answer(c, "unknown command", strict=True)
c = d.client(timeout=10)
c.raw(pkt(b"M", b"<a@b>\0"))
closed_or_answer(c, "MAIL before connect information")
c = session()
c.raw(pkt(b"O", struct.pack(">III", 6, 0x1FF, 0x1FFFFF)))
closed_or_answer(c, "a second negotiation")
c = session()
c.raw(pkt(b"E"))
closed_or_answer(c, "end of message without MAIL")

# Malformed arguments.
c = d.client(timeout=10)
c.raw(pkt(b"C", b"host\0" + b"4" + struct.pack(">H", 25) + b"1.2.3.4"))
closed_or_answer(c, "connect: address without its NUL")
c = d.client(timeout=10)
c.raw(pkt(b"C", b"host\0" + b"X" + struct.pack(">H", 25) + b"1.2.3.4\0"))
closed_or_answer(c, "connect: unknown address family")
c = d.client(timeout=10)
c.raw(pkt(b"C", b"host-without-family"))
closed_or_answer(c, "connect: nothing after the host name")
c = d.client(timeout=10)
c.raw(pkt(b"C", b"host\0" + b"4" + struct.pack(">H", 25) + b"1.2\0.3.4\0"))
closed_or_answer(c, "connect: a NUL inside the address")
c = d.client(timeout=10)
c.connect()
c.raw(pkt(b"H", b"no-nul"))
closed_or_answer(c, "HELO argument without its NUL")
c = session()
c.mail("<a@example.org>")
c.rcpt("<b@example.com>")
c.data()
c.raw(pkt(b"L", b"Subject-no-value\0"))
closed_or_answer(c, "header without a value")
c = session()
c.raw(pkt(b"M", b"<no-nul@example.org>"))
closed_or_answer(c, "MAIL without a NUL")

# Macro packets: odd lists, no NUL, unknown or no stage; then a message.
# (libmilter crashes on an odd list: SECURITY.md, "Known limits".)
c = d.client(timeout=10)
if not NATIVE:
    t.done()
for m in (b"Cj\0mx\0{daemon_name}", b"C{daemon_name}", b"", b"Z{x}\0y\0",
          b"Hj", b"M\0\0\0", b"Ei\0" + b"q" * 60000):
    c.raw(pkt(b"D", m))
c.connect(macros={})
r = transaction(c)
t.expect(r.action == "continue", "odd macro packets: ignored, the message "
         "passes", r)
c.close()
works(t, d, "odd macro packets")

# 10,000 macro packets of 1,000 bytes: each replaces the last.
c = session()
rss0 = d.status("VmRSS")
blob = pkt(b"D", b"M" + (b"{x}\0" + b"v" * 990 + b"\0"))
for i in range(100):
    c.raw(blob * 100)
r = c.mail("<a@example.org>")
rss1 = d.status("VmRSS")
t.expect(r.action == "continue", "10,000 macro packets: MAIL answered", r)
memory_flat(t, rss1 - rss0, 8192, "10,000 macro packets")
c.close()
works(t, d, "macro flood")
t.done()
