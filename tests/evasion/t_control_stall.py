"""t_control_stall.py - F12 (review 2026-12): the control socket (-C) is
served by one thread, which wrote the answer with blocking writes and gave
a client 2 s per read() of its command line: a client of the daemon's user
that asks for the metrics and never reads (or sends its line a byte at a
time) held the thread, and every tollgatectl after it hung.

A policy of 1,000 rules makes the metrics answer (about 1 MB) larger than
a socket's buffer. One client asks for it and never reads, another sends
its command a byte a second; meanwhile tollgatectl must still be answered
(within a generous 20 s; the daemon gives each client 2 s). The control
socket is mode 0600. About 10 s.
"""
import os
import socket
import stat
import subprocess
import threading
import time

from evlib import Suite, TOLLGATE

t = Suite("control stall")
CTL = os.path.join(os.path.dirname(TOLLGATE), "tollgatectl")
if not os.access(CTL, os.X_OK):
    t.skip("%s not built" % CTL)

rules = "".join(
    ' rule r%04d-%s : sender == "nobody@invalid.example" => '
    'reject 550 5.7.1 "x"\n' % (i, "x" * 54) for i in range(1000))
ctl = os.path.join(t.dir, "ctl")
d = t.tollgate("stall", "stage mail {\n" + rules + "}\n", args=["-C", ctl])
for _ in range(100):
    if os.path.exists(ctl):
        break
    time.sleep(0.1)
st = os.lstat(ctl)
t.expect(stat.S_ISSOCK(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600,
         "the control socket is mode 0600", oct(st.st_mode))


def tollgatectl(*args, timeout=20):
    """(exit status, output), or (None, "") if it did not end in time."""
    try:
        r = subprocess.run([CTL, "-s", ctl] + list(args), timeout=timeout,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        return r.returncode, r.stdout.decode(errors="replace")
    except subprocess.TimeoutExpired:
        return None, ""


rc, out = tollgatectl("metrics")
t.expect(rc == 0 and len(out) > 500000 and "r0999-" in out,
         "the metrics answer is larger than a socket buffer (%d bytes)"
         % len(out), rc)

# A client that asks and never reads.
stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
stalled.connect(ctl)
stalled.sendall(b"metrics\n")
time.sleep(0.5)     # the daemon is writing to it by now
rc, out = tollgatectl("metrics")
t.expect(rc == 0 and "tollgate_sessions_total" in out,
         "tollgatectl is answered while a client does not read its answer",
         rc)
t.expect(d.logged("answer not taken within"),
         "the client that does not read is dropped, with a log line")
stalled.close()

# A client that sends its command a byte a second, for up to 30 s.
stop = threading.Event()


def trickle():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(ctl)
    try:
        for c in b"limits" + b" " * 30:
            if stop.wait(1):
                break
            s.send(bytes([c]))
    except OSError:
        pass            # dropped by the daemon
    s.close()


th = threading.Thread(target=trickle)
th.start()
time.sleep(0.5)
rc, out = tollgatectl("limits")
stop.set()
th.join()
t.expect(rc is not None and rc in (0, 1) and out != "",
         "tollgatectl is answered while a client sends its line slowly", rc)
t.expect(d.logged("no command line within"),
         "the slow client is dropped, with a log line")
t.expect(d.alive(), "the daemon still runs")
t.done()
