"""t_redis_stall.py - a Redis that stops answering holds up only the
sessions that count in it. The policy's one Redis-kept limit counts
recipients per SASL login (timeout 2s, on-error tempfail): an
unauthenticated session has no key, so nothing of it goes to Redis. A
redis-server of our own is stopped (SIGSTOP) while an authenticated
recipient is being counted: beside it, 10 unauthenticated clients get
whole messages through (with the native engine, on one event loop:
the counting command runs on a worker and the loop goes on), all before
the counted one is answered; that one gets 451 4.3.0 after the store's
timeout, a defined answer. SIGCONT: counting works again without a
restart. Skipped (77) without redis-server or a tollgate built with
hiredis. About 5 s.
"""
import os
import shutil
import signal
import subprocess
import time

from protolib import NATIVE, Suite, beside, free_port
from evlib import TOLLGATE

t = Suite("redis stall")
server = os.environ.get("REDIS_SERVER") or shutil.which("redis-server")
if not server:
    t.skip("redis-server not installed (tools/install-deps.sh)")

POLICY = """
store redis {
    address "127.0.0.1:%d"
    prefix "tgstall:"
    timeout 2s
}
limit per-login {
    key sasl.login
    count recipients
    max 100 per 1h
    store redis
    on-error tempfail
}
stage rcpt {
    rule quota : limit per-login exceeded
        => tempfail 451 4.7.1 "Too many recipients"
}
"""


class Redis:
    """redis-server on 127.0.0.1, nothing saved, stopped by PID."""

    def __init__(self, suite):
        self.dir = os.path.join(suite.dir, "redis")
        os.makedirs(self.dir)
        self.proc = None
        for _ in range(5):
            self.port = free_port(29700, 29799)
            log = os.path.join(self.dir, "log")
            with open(log, "w") as f:
                self.proc = subprocess.Popen(
                    [server, "--port", str(self.port), "--bind", "127.0.0.1",
                     "--dir", self.dir, "--save", "", "--appendonly", "no",
                     "--daemonize", "no"], stdout=f, stderr=subprocess.STDOUT)
            for _ in range(100):
                time.sleep(0.05)
                with open(log) as f:
                    if "Ready to accept connections" in f.read():
                        return
                if self.proc.poll() is not None:
                    break
            self.stop()
        suite.fail("redis-server did not start")
        suite.done()

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGCONT)
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


redis = Redis(t)
conf = t.file("check.conf", POLICY % redis.port)
chk = subprocess.run([TOLLGATE, "-n", "-c", conf], capture_output=True,
                     text=True)
if "built without hiredis" in chk.stdout + chk.stderr:
    redis.stop()
    t.skip("tollgate built without hiredis")
try:
    # One event loop: a command that held it would hold every session.
    d = t.tollgate("stall", POLICY % redis.port,
                   args=["-t", "1"] if NATIVE else [])

    def counted_rcpt(result=None, timeout=30):
        c = d.client(timeout=timeout)
        c.connect()
        c.helo("submit.example")
        c.mail("<alice@example.org>", macros={"{auth_type}": "PLAIN",
                                              "{auth_authen}": "alice"})
        t0 = time.monotonic()
        r = c.rcpt("<bob@example.com>")
        if result is not None:
            result["r"], result["took"] = r, time.monotonic() - t0
            result["at"] = time.monotonic()
        c.close()
        return r

    r = counted_rcpt()
    t.expect(r.action == "continue", "Redis up: the counted recipient "
             "passes", r)

    redis.proc.send_signal(signal.SIGSTOP)
    n, fast_done, res = beside(d, counted_rcpt, 10)
    t.expect(n == 10, "Redis stopped: 10 unauthenticated messages went "
             "through beside the counted one", n)
    t.expect("at" in res and res["at"] > fast_done,
             "they were all done before it was answered", res)
    r = res.get("r")
    t.expect(r is not None and r.code == "451" and r.xcode == "4.3.0" and
             res["took"] >= 1.5,
             "the counted recipient: 451 4.3.0 after the store's timeout "
             "(%.1f s)" % res.get("took", -1), r)

    redis.proc.send_signal(signal.SIGCONT)
    # The store is not asked again for 100 ms after a failure (doubling
    # while it keeps failing): retry for a while.
    deadline = time.monotonic() + 15
    while True:
        r = counted_rcpt(timeout=10)
        if r.action == "continue" or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    t.expect(r.action == "continue", "SIGCONT: counting works again", r)
    t.expect(d.alive(), "the daemon still serves", d.log()[-2000:])
finally:
    redis.stop()
t.done()
