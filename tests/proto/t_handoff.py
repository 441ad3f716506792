"""t_handoff.py - commands that wait on the network never hold up other
sessions. A recipient whose rule asks a DNS list waits for a resolver that
never answers (dns-timeout 2s); meanwhile other clients get whole messages
through (with the native engine, on one event loop, the waiting command runs on
a worker and the loop goes on). Then the waiting one gets its answer (the list is
skipped on error: it passes), and SIGTERM while such a command runs waits
for it: its answer still comes, the daemon exits 0.
"""
import signal
import socket
import threading
import time

from protolib import NATIVE, Suite, beside

t = Suite("handoff")
hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hole.bind(("127.0.0.1", 0))    # a resolver that never answers
POLICY = """
set resolver "127.0.0.1@%d"
set dns-timeout 2s
dnslist bl "bl.test"
stage rcpt {
    rule listed : rcpt.local == "slow" and dnslist "bl"
        => reject 550 5.7.1 "Listed"
}
""" % hole.getsockname()[1]
# One event loop: a command that held it would hold every session.
d = t.tollgate("dns", POLICY, args=["-t", "1"] if NATIVE else [])


def waiting_rcpt(result):
    c = d.client(timeout=30)
    c.connect()
    c.helo("slow.example")
    c.mail("<a@example.org>")
    t0 = time.monotonic()
    result["r"] = c.rcpt("<slow@example.com>")
    result["took"] = time.monotonic() - t0
    result["at"] = time.monotonic()
    c.close()


n, fast_done, res = beside(d, waiting_rcpt, 10)
t.expect(n == 10, "10 messages went through beside the waiting one", n)
t.expect("at" in res and res["at"] > fast_done,
         "they were all done before it was answered", res)
t.expect(res.get("r") is not None and res["r"].action == "continue" and
         res["took"] >= 1.5,
         "the waiting recipient: answered after the DNS timeout (%.1f s)" %
         res.get("took", -1), res.get("r"))

# SIGTERM while a command waits: its answer comes, the exit is clean.
res = {}
th = threading.Thread(target=waiting_rcpt, args=(res,))
th.start()
time.sleep(0.5)
d.proc.send_signal(signal.SIGTERM)
th.join()
t.expect(res.get("r") is not None and res["r"].action in ("continue",
                                                           "tempfail"),
         "SIGTERM: the command that was waiting is answered", res.get("r"))
rc = d.stop()
t.expect(rc == 0, "SIGTERM: the daemon exits 0", rc)
hole.close()
t.done()
