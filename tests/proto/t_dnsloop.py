"""t_dnsloop.py - DNS on the event loop (native engine, mproto_dns.c): a
command that waits on the DNS checks alone is parked on its loop, not
handed to a worker, while its lookups go out on the loop's own resolver
channel. One event loop (-t 1) and a resolver of this test (UDP) that
answers by the client address's last octet:
  .1 listed (TTL 0), with a TXT reason   .3 never answers
  .12 listed, half a second late         others: not listed
  PTR of .20 names fc.example, whose A is .20 (forward-confirmed);
  PTR of .21 names nofc.example, whose A is another address.
Checked: twenty sessions parked on the silent resolver hold up neither
each other nor a session that is answered meanwhile (it gets its verdict
first), and no worker thread is started for them (the thread count stays
that of the loop); each gets the DNS-failure tempfail of its list after
dns-timeout; a late answer within dns-timeout, TTL 0 answers, the TXT
reason and the two rounds of FCrDNS give the verdicts the synchronous
checks give; an end-of-message packet that carries body (whose size
the plan could not see) runs on a worker; and no lookup was missed by the prefetch (no "was not
prefetched" line), also across a reload while sessions wait. With libmilter (run-libmilter.sh) the verdicts are
checked, not the threads.
"""
import socket
import struct
import threading
import time

from protolib import NATIVE, Suite

t = Suite("dnsloop")


def qparse(pkt):
    qid = struct.unpack(">H", pkt[:2])[0]
    i, labels = 12, []
    while pkt[i]:
        n = pkt[i]
        labels.append(pkt[i + 1:i + 1 + n].decode("ascii", "replace"))
        i += n + 1
    qtype = struct.unpack(">H", pkt[i + 1:i + 3])[0]
    return qid, ".".join(labels), qtype, pkt[12:i + 5]


def wire(name):
    return b"".join(bytes([len(x)]) + x.encode() for x in
                    name.split(".")) + b"\0"


def rr(name, rtype, rdata):
    return wire(name) + struct.pack(">HHIH", rtype, 1, 0, len(rdata)) + rdata


def reply(qid, question, rcode=0, answers=()):
    return struct.pack(">HHHHHH", qid, 0x8180 | rcode, 1, len(answers), 0,
                       0) + question + b"".join(answers)


def answer(q):
    """(delay, reply) or None for no answer."""
    qid, name, qtype, question = q
    first = name.split(".")[0]
    if qtype == 12:                     # PTR
        host = {"20": "fc.example", "21": "nofc.example"}.get(first)
        if host is None:
            return 0, reply(qid, question, 3)
        return 0, reply(qid, question, 0, [rr(name, 12, wire(host))])
    if name in ("fc.example", "nofc.example") and qtype == 1:
        ip = bytes([192, 0, 2, 20]) if name == "fc.example" else \
            bytes([198, 51, 100, 1])
        return 0, reply(qid, question, 0, [rr(name, 1, ip)])
    if qtype == 16 and first in ("1", "12"):
        return 0, reply(qid, question, 0,
                        [rr(name, 16, b"\x0ctest listing")])
    if first == "3":
        return None
    if first in ("1", "12") and qtype == 1:
        return (0.5 if first == "12" else 0), reply(
            qid, question, 0, [rr(name, 1, bytes([127, 0, 0, 2]))])
    return 0, reply(qid, question, 3)


srv = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
srv.bind(("127.0.0.1", 0))


def serve():
    while True:
        try:
            pkt, peer = srv.recvfrom(4096)
            a = answer(qparse(pkt))
        except Exception:  # noqa: BLE001
            continue
        if a is None:
            continue
        if a[0]:
            threading.Timer(a[0], srv.sendto, (a[1], peer)).start()
        else:
            srv.sendto(a[1], peer)


threading.Thread(target=serve, daemon=True).start()
POLICY = """
set resolver "127.0.0.1@%d"
set dns-timeout 2s
dnslist bl "bl.test" returns { 127.0.0.2 } on-error tempfail
dnslist sd "sd.test" returns { 127.0.0.2 } lookup sender.domain
stage connect {
    rule listed : dnslist "bl" => reject 554 5.7.1 "Listed: ${dnslist_reason}"
    rule nofc : client.address in { 192.0.2.20, 192.0.2.21 }
        and not client.fcrdns => reject 550 5.7.25 "No FCrDNS"
}
stage eom {
    rule big : size > 100 and dnslist "sd" => reject 554 5.7.1 "Big, listed"
}
""" % srv.getsockname()[1]
d = t.tollgate("dnsloop", POLICY, args=["-t", "1"] if NATIVE else [])


def verdict(octet, out=None):
    c = d.client(timeout=20)
    c.connect(addr="192.0.2.%d" % octet)
    r = c.helo("client.example.net")
    c.close()
    if out is not None:
        out.append((octet, r, time.monotonic()))
    return r


r = verdict(1)
t.expect(r.code == "554" and "test listing" in (r.text or ""),
         "listed (TTL 0): 554 with the TXT reason", r)
r = verdict(2)
t.expect(r.action == "continue", "not listed: continue", r)
r = verdict(12)
t.expect(r.code == "554", "listed, half a second late: 554", r)
r = verdict(20)
t.expect(r.action == "continue", "PTR, then A: forward-confirmed", r)
r = verdict(21)
t.expect(r.code == "550", "PTR, then A of another address: 550", r)

threads0 = d.status("Threads")
out = []
slow = [threading.Thread(target=verdict, args=(3, out)) for _ in range(20)]
t0 = time.monotonic()
for th in slow:
    th.start()
time.sleep(0.3)
verdict(1, out)
peak = d.status("Threads")
for th in slow:
    th.join()
order = [o for o, _, _ in out]
t.expect(order and order[0] == 1 and len(order) == 21,
         "twenty sessions wait on a silent resolver; one started after them "
         "is answered first", order)
late = [r for o, r, _ in out if o == 3]
t.expect(all(r.code == "451" for r in late) and
         all(at - t0 >= 1.5 for o, _, at in out if o == 3),
         "each waiting one: the list's DNS-failure tempfail after "
         "dns-timeout", [str(r) for r in late[:3]])
if NATIVE:
    t.expect(peak == threads0 and d.status("Threads") == threads0,
             "no worker thread started for them: parked on the loop "
             "(%s threads before, %s while they waited)" % (threads0, peak),
             (threads0, peak))
# A reload while sessions wait: the new policy's resolver (another
# dns-timeout: another resolver object) gets a channel of its own on the
# loop; the waiting sessions keep theirs until answered or timed out.
out = []
slow = [threading.Thread(target=verdict, args=(3, out)) for _ in range(5)]
for th in slow:
    th.start()
time.sleep(0.3)
d.reload(POLICY.replace("dns-timeout 2s", "dns-timeout 1s"))
time.sleep(0.5)
verdict(1, out)
verdict(21, out)
for th in slow:
    th.join()
byo = {}
for o, r, _ in out:
    byo.setdefault(o, []).append(r.code)
t.expect(byo.get(1) == ["554"] and byo.get(21) == ["550"] and
         byo.get(3) == ["451"] * 5,
         "a reload while sessions wait: those waiting get their tempfail, "
         "new ones their verdicts through the new resolver", byo)
# The last piece of body in the end-of-message packet (the MTAs send it
# empty): the size the rule reads is only known once the command runs,
# so the plan, made before, cannot see it: a worker runs it, and the
# sender's list is not looked up on the loop unplanned. (After the
# thread counts above: it starts a worker.)
misses0 = d.log().count("was not prefetched")
c = d.client(timeout=20)
c.connect(addr="192.0.2.2")
c.helo("client.example.net")
c.mail("<a@1.example>")
c.rcpt("<b@example.net>")
c.data()
c.header("Subject", "x")
c.eoh()
r = c.eom(b"x" * 200)
c.close()
t.expect(r.code == "554" and
         d.log().count("was not prefetched") == misses0,
         "body in the end-of-message packet: 554, the list not looked up "
         "unplanned on the loop", r)

t.expect(not d.logged("was not prefetched"),
         "every lookup was prefetched (no lookup made on the loop thread)")
t.expect(d.alive(), "the daemon lives")
rc = d.stop()
t.expect(rc == 0, "SIGTERM: the daemon exits 0", rc)
srv.close()
t.done()
