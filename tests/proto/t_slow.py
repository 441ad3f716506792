"""t_slow.py - peers that are slow or stop half-way, and the sessions
beside them: a writer that sends one byte at a time, a reader that never
reads its answers (the daemon stops reading it once its answers pile up:
memory stays flat), a peer that shuts down its sending side after a
command (it still gets its answer) and one that vanishes mid-packet.
Meanwhile other clients get whole messages through at once: no session
waits for another.
"""
import socket
import threading
import time

from protolib import (ENVELOPE, Suite, memory_flat, pkt, transaction,
                      works)
import milterclient as mc  # noqa: E402 (protolib sets the path)

t = Suite("slow")
d = t.tollgate("env", ENVELOPE)


def fast_clients(n, what):
    """n messages through fresh clients; True when all passed."""
    for _ in range(n):
        c = d.client(timeout=10)
        c.connect()
        r = transaction(c)
        c.close()
        if r.action != "continue":
            t.fail("%s: a client beside it got %r" % (what, r))
            return False
    return True


# A writer sending a whole session a byte every 5 ms (~1.5 s).
slow = d.client(timeout=30)
stream = b"".join([
    pkt(b"D", b"Cj\0mx\0"),
    pkt(b"C", b"slow.example\0" + b"4" + b"\0\x19" + b"198.51.100.7\0"),
    pkt(b"H", b"slow.example\0"),
    pkt(b"M", b"<a@example.org>\0"),
    pkt(b"R", b"<b@example.com>\0"),
])
done = {}


def dribble():
    try:
        for i in range(len(stream)):
            slow.raw(stream[i:i + 1])
            time.sleep(0.005)
        done["sent"] = time.monotonic()
    except OSError as e:
        done["error"] = e


th = threading.Thread(target=dribble)
th.start()
time.sleep(0.1)
ok = fast_clients(20, "slow writer")
t.expect(ok and "sent" not in done,
         "slow writer: 20 messages beside it went through first")
th.join()
answers = []
slow.sock.settimeout(10)
due = 2 + (not slow.proto & mc.NR_CONN) + (not slow.proto & mc.NR_HELO)
try:
    while len(answers) < due:
        answers.append(slow.packet()[0])
except Exception as e:  # noqa: BLE001
    answers.append(e)
t.expect(len(answers) == due and all(a == b"c" for a in answers),
         "slow writer: its MAIL and RCPT answered in the end", answers)
slow.close()

# A reader that never reads: 200,000 unknown-command packets, each with
# an answer. The daemon stops reading it; memory stays flat; others pass.
rss0 = d.status("VmRSS")
hog = d.client(timeout=10)
hog.connect()
hog.helo("hog.example")
hog.sock.setblocking(False)
blob = pkt(b"U", b"XFOO\0") * 1000
sent = 0
deadline = time.monotonic() + 10
while sent < 200 and time.monotonic() < deadline:
    try:
        hog.sock.sendall(blob)
        sent += 1
    except BlockingIOError:
        time.sleep(0.05)
        break
    except OSError:
        break
ok = fast_clients(5, "reader that does not read")
rss1 = d.status("VmRSS")
t.expect(ok, "a reader that does not read: others pass beside it")
memory_flat(t, rss1 - rss0, 16384, "a reader that does not read (%d of "
            "200 batches taken)" % sent)
hog.sock.close()
works(t, d, "reader that does not read")

# Half-closed: RCPT sent, then the sending side shut; the answer comes.
c = d.client(timeout=10)
c.connect()
c.helo("half.example")
c.mail("<a@example.org>")
c.raw(pkt(b"R", b"<nobody@example.com>\0"))
c.sock.shutdown(socket.SHUT_WR)
try:
    cmd, data = c.packet()
except Exception as e:  # noqa: BLE001
    cmd, data = None, e
t.expect(cmd == b"y" and data.startswith(b"550"),
         "half-closed: the RCPT answer still comes", (cmd, data))
t.expect(c.closed(10), "half-closed: then the connection ends")
c.sock.close()

# Gone mid-packet, and mid-message.
for cut in (3, 7, 20):
    c = d.client(timeout=10)
    c.connect()
    c.helo("gone.example")
    c.mail("<a@example.org>")
    c.raw(pkt(b"R", b"<b@example.com>\0" + b"x" * 40)[:cut])
    c.sock.close()
works(t, d, "peers gone mid-packet")
t.expect(d.alive(), "the daemon lives")
t.done()
