"""protolib.py - what the tests of tests/proto/ share: evlib.py and
milterclient.py of tests/evasion, the engine under test, raw packets, and
a policy with rules at every stage.
"""
import os
import struct
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "evasion"))
from evlib import Suite, engine, free_port  # noqa: E402,F401
from milterclient import MilterClient  # noqa: E402,F401

ENGINE = engine()
NATIVE = ENGINE == "native"


def _sanitized():
    """The daemon is built with AddressSanitizer: its allocator keeps
    freed memory (a 256 MB quarantine), so RSS does not measure the
    daemon there (tests/daemon.sh, tg_sanitized)."""
    from evlib import TOLLGATE
    try:
        with open(TOLLGATE, "rb") as f:
            return b"__asan_init" in f.read()
    except OSError:
        return False


SANITIZED = _sanitized()


def memory_flat(t, grew_kb, limit_kb, what):
    """An RSS check, skipped (with the figure) under ASan."""
    if SANITIZED:
        t.ok("%s: %d kB more (not judged under ASan)" % (what, grew_kb))
    else:
        t.expect(grew_kb < limit_kb, "%s: memory flat (%d kB more)" %
                 (what, grew_kb), grew_kb)

# Everything the protocol carries has a rule reading it: connect (answered
# at HELO), DATA, headers, body; reject, tempfail, add-header, quarantine.
FULL = """
stage connect {
    rule blocked-net : client.address in { 10.0.0.0/8 }
        => reject 550 5.7.1 "Network blocked"
}
stage mail {
    rule leaked : listener.name == "submission"
        => reject 550 5.7.1 "Submission macro leaked"
    rule null : sender == "" => reject 550 5.7.1 "No null sender"
}
stage rcpt {
    rule nobody : rcpt.local == "nobody" => reject 550 5.1.1 "No such user"
}
stage data {
    rule old-tls : tls.version == "TLSv1" => reject 554 5.7.0 "Old TLS"
}
stage eom {
    rule spam : header "Subject" matches "^SPAM" => add-header X-Spam "yes"
    rule exe : attachment.extension == "exe"
        => reject 554 5.7.1 "No executables"
    rule hold : header "Subject" == "hold me" => quarantine "held"
}
"""

# Only the envelope: headers, body and DATA are not needed.
ENVELOPE = """
stage mail { rule null : sender == "" => reject 550 5.7.1 "No null sender" }
stage rcpt {
    rule nobody : rcpt.local == "nobody" => reject 550 5.1.1 "No such user"
}
"""


def pkt(cmd, data=b""):
    """A milter packet as it goes on the wire."""
    return struct.pack(">I", len(data) + 1) + cmd + data


def transaction(c, sender="<a@example.org>", rcpt="<b@example.com>",
                subject="hello"):
    """HELO to end of message on client c; the end-of-message Reply."""
    c.helo("client.example.net")
    r = c.mail(sender)
    if r.action != "continue":
        return r
    r = c.rcpt(rcpt)
    if r.action != "continue":
        return r
    return c.message([("From", "a@example.org"), ("Subject", subject)],
                     b"hello\r\n")


def beside(d, waiting, n, *args):
    """Run waiting(*args, result) in a thread, a session that will wait;
    0.3 s later n whole messages from fresh clients of daemon d, one after
    the other. Returns (messages that went through, when the last was
    done, result once waiting has ended): a waiting session that holds up
    the others shows as result["at"] after that time."""
    result = {}
    th = threading.Thread(target=waiting, args=args + (result,))
    th.start()
    time.sleep(0.3)
    ok = 0
    for _ in range(n):
        c = d.client(timeout=10)
        c.connect()
        if transaction(c).action == "continue":
            ok += 1
        c.close()
    done = time.monotonic()
    th.join()
    return ok, done, result


def works(t, d, what):
    """A fresh client gets a whole message through daemon d."""
    try:
        c = d.client(timeout=20)
        c.connect()
        r = transaction(c)
        c.close()
        ok = r.action == "continue"
    except Exception as e:  # noqa: BLE001
        ok, r = False, e
    t.expect(ok and d.alive(), "%s: the daemon still serves" % what, r)
