"""t_idle.py - 10,000 idle connections (half of them negotiated and
connected, half that never say a word): the daemon keeps serving other
clients at once, each idle connection costs it a few kB (the figure is
printed; no more than 8 kB), and all of them can go again. With
libmilter's engine (a thread per session) 500 only. Needs as many file
descriptors: the test raises its own limit to the hard one and skips with
the reason when that is too low.
"""
import resource
import socket
import time

from protolib import ENVELOPE, NATIVE, SANITIZED, Suite, works

N = 10000 if NATIVE else 500
t = Suite("idle")
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
if hard != resource.RLIM_INFINITY and hard < N + 200:
    t.skip("%d descriptors needed, the hard limit is %d" % (N + 200, hard))
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
d = t.tollgate("env", ENVELOPE)
works(t, d, "before")
rss0 = d.status("VmRSS")
idle = []
for i in range(N):
    if i % 2 == 0:
        c = d.client(timeout=30)
        c.connect()
        idle.append(c.sock)
    else:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(d.sock)
        idle.append(s)
# The last ones may still wait in the backlog: a full session through.
t0 = time.monotonic()
works(t, d, "%d idle connections open" % N)
took = time.monotonic() - t0
t.ok("a message beside %d idle connections: %.3f s" % (N, took))
time.sleep(0.5)
rss1 = d.status("VmRSS")
per = (rss1 - rss0) * 1024.0 / N
t.ok("%d idle connections: %d kB, %.0f bytes each" % (N, rss1 - rss0, per))
if NATIVE and not SANITIZED:
    t.expect(per <= 8192, "idle connections cost at most 8 kB each", per)
if NATIVE:
    t.expect(d.fds() >= N, "every connection still open", d.fds())
for s in idle:
    s.close()
time.sleep(1)
works(t, d, "after they left")
t.done()
