"""t_negotiate.py - option negotiation, protocol versions 2 to 6 as
Postfix and Sendmail speak them. The version answered is the lower of the
MTA's and 6; only actions and steps the MTA offered are taken; a version
below 2 closes the connection. Skipped steps and steps without answers
follow what the policy needs: headers and body only when a rule reads
them; the native engine also drops the answers no rule can change and the
DATA step, but only on a unix socket: on TCP, Postfix's next write would
wait ~40 ms for our delayed ACK after each command we do not answer
(../../MTA-NOTES), so there every command is answered (libmilter's
engine: always). A whole message goes through every combination.
"""
import struct

from protolib import (ENVELOPE, FULL, NATIVE, Suite, free_port, pkt,
                      transaction)
import milterclient as mc

t = Suite("negotiate")
env = t.tollgate("env", ENVELOPE)
full = t.tollgate("full", FULL)
port = free_port()
tcp = t.tollgate("tcp", ENVELOPE, port=port) if port else None
NR_ALL = (mc.NR_CONN | mc.NR_HELO | mc.NR_MAIL | mc.NR_RCPT | mc.NR_DATA |
          mc.NR_HDR | mc.NR_EOH | mc.NR_BODY)


def flags(c):
    return "version %d actions 0x%x steps 0x%x" % (c.version, c.actions,
                                                   c.proto)


# Versions: the answer is min(offered, 6); steps and actions a subset.
for v, acts, steps in ((2, 0x3F, 0x7F), (3, 0x3F, 0x7F), (4, 0x3F, 0xFF),
                       (5, 0x1FF, 0x3FF), (6, 0x1FF, mc.ALL_STEPS)):
    c = env.client(version=v, actions=acts, steps=steps)
    t.expect(c.version == v and c.actions & ~acts == 0 and
             c.proto & ~steps == 0,
             "version %d: answered %d, within what was offered" % (v, v),
             flags(c))
    c.connect()
    r = transaction(c)
    t.expect(r.action == "continue", "version %d: a message passes" % v, r)
    c.close()

# No flags at all: those of version 1 (libmilter reads it so too).
c = env.client(actions=0, steps=0)
t.expect(c.proto & ~0x3F == 0 and c.actions & ~0xF == 0,
         "no flags offered: only version 1's taken", flags(c))
c.connect()
t.expect(transaction(c).action == "continue", "no flags: a message passes")
c.close()

# Version 1 is refused.
c = mc.MilterClient.__new__(mc.MilterClient)
import socket  # noqa: E402
c.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.sock.settimeout(10)
c.sock.connect(env.sock)
c.raw(pkt(b"O", struct.pack(">III", 1, 0x1FF, mc.ALL_STEPS)))
t.expect(c.closed(), "version 1: the connection is closed")

# What the envelope-only policy lets go.
c = env.client()
t.expect(c.proto & mc.NOHDRS and c.proto & mc.NOEOH and c.proto & mc.NOBODY,
         "envelope policy: headers, end of headers and body skipped",
         flags(c))
if NATIVE:
    want = mc.NR_CONN | mc.NR_HELO | mc.NODATA
    t.expect(c.proto & want == want,
             "native, unix: no answer at connect and HELO, DATA skipped",
             flags(c))
else:
    t.expect(not c.proto & (NR_ALL | mc.NODATA),
             "libmilter: every step answered, DATA never skipped", flags(c))
c.connect()
t.expect(transaction(c).action == "continue", "envelope: a message passes")
c.close()

# The full policy: connect rules answer at HELO, a DATA rule keeps DATA,
# headers and body are read.
c = full.client()
t.expect(not c.proto & (mc.NOHDRS | mc.NOBODY | mc.NOEOH | mc.NODATA |
                        mc.NR_HELO | mc.NR_DATA),
         "full policy: headers, body, DATA and the HELO answer kept",
         flags(c))
if NATIVE:
    want = mc.NR_CONN | mc.NR_HDR | mc.NR_EOH | mc.NR_BODY
    t.expect(c.proto & want == want,
             "native, unix: headers, end of headers and body unanswered",
             flags(c))
c.connect(addr="10.1.2.3")
r = c.helo("client.example.net")
t.expect(r.code == "550", "full: a connect refusal is answered at HELO", r)
c.close()
c = full.client()
c.connect()
r = transaction(c, subject="SPAM offer")
t.expect(r.action == "continue" and r.header("X-Spam") == "yes",
         "full: header added at end of message", r)
c.close()

# An MTA that offers no "no reply" steps gets every answer.
c = full.client(steps=0x3FF & ~mc.NR_HDR)
t.expect(not c.proto & NR_ALL, "no NR_* offered: none taken", flags(c))
c.connect()
t.expect(transaction(c).action == "continue", "without NR_*: a message "
         "passes")
c.close()

# TCP: every command answered, DATA never skipped (the 40 ms stall).
if tcp is None:
    t.fail("no free TCP port for the inet daemon")
else:
    for i in range(3):
        c = tcp.client()
        t.expect(not c.proto & (NR_ALL | mc.NODATA),
                 "TCP: every step answered, DATA never skipped",
                 flags(c))
        c.connect()
        t.expect(transaction(c).action == "continue",
                 "TCP: a message passes")
        c.close()
t.done()
