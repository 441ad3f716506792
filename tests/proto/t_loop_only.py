"""t_loop_only.py - commands that cannot wait on the network stay on the
event loop (native engine; filter/mproto_block.c). Workers are started
only when a command is handed to one, so the daemon's thread count says
whether any was (counted once it holds still, after a first message):
20 whole messages through a policy with rules at every
stage that read only memory (tables, regular expressions, MIME, a limit in
the memory store, quarantine, added headers) start no thread; after a
reload to a policy whose recipient rule reads SPF (a resolver that never
answers, dns-timeout 1s; SPF stays on workers, DNS lists wait on the loop:
t_dnsloop.py), one such recipient starts a worker. The
libmilter engine runs a thread per connection: skipped there. About 2 s.
"""
import socket
import time

from protolib import FULL, NATIVE, Suite, transaction

t = Suite("loop only")
if not NATIVE:
    t.skip("the libmilter engine runs a thread per connection")
hole = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
hole.bind(("127.0.0.1", 0))    # a resolver that never answers
t.file("loop/nets.cidr", "10.0.0.0/8 blocked\n")
MEMORY = FULL + """
table nets cidr "nets.cidr"
limit per-sender { key sender count recipients max 1000 per 1h }
stage helo {
    rule net : client.address in nets => reject 550 5.7.1 "Listed"
}
stage rcpt {
    rule quota : limit per-sender exceeded
        => tempfail 451 4.7.1 "Slow down"
}
"""
d = t.tollgate("loop", MEMORY, args=["-t", "1"])


def messages(n, **kw):
    ok = 0
    for _ in range(n):
        c = d.client(timeout=20)
        c.connect()
        if transaction(c, **kw).action == "continue":
            ok += 1
        c.close()
    return ok




def settled():
    """The thread count once it holds still for 0.5 s (ThreadSanitizer
    starts a thread of its own a moment after the daemon starts)."""
    last = d.status("Threads")
    for _ in range(20):
        time.sleep(0.5)
        now = d.status("Threads")
        if now == last:
            return now
        last = now
    return last


messages(1)
before = settled()
n = messages(20)
after = d.status("Threads")
t.expect(n == 20, "20 messages through the memory-only policy", n)
t.expect(after == before, "no worker thread started for them (%d threads)"
         % before, (before, after))

d.reload("""
set resolver "127.0.0.1@%d"
set dns-timeout 1s
stage rcpt {
    rule spf : rcpt.local == "slow" and spf == "fail"
        => reject 550 5.7.1 "SPF"
}
""" % hole.getsockname()[1])
for _ in range(200):
    if d.logged("policy reloaded (generation 2"):
        break
    time.sleep(0.05)
n = messages(1, rcpt="<slow@example.com>")
grown = d.status("Threads")
t.expect(n == 1, "a recipient that asks the silent resolver: answered", n)
t.expect(grown > after, "it ran on a worker (%d -> %d threads)" %
         (after, grown), grown)
hole.close()
t.done()
