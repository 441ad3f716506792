"""t_greylist_input.py - hostile input against greylisting (issue 16, "Bad
input"): addresses with quotes, source routes, a NUL, '|' and '\\' in a
quoted local part, 400- and 1,000-byte local parts, <> senders, IPv4-mapped
IPv6 clients, and the same mailbox spelt another way on the retry. Each
gets a defined verdict (451 4.7.1, or 501 for what is not an address)
and a log line; the daemon stays up; the records stay few and their keys
bounded (tollgatectl greylist list); spellings of one triplet never make
two (the retry of a first attempt passes however it is spelt), and
different values never share one. Policy: inline, delay 1 s. About 5 s."""
import os
import subprocess
import time

from evlib import Suite

POLICY = r'''
greylist g {
    delay 1s
    retry-window 1m
    auto-allow off
}
stage rcpt {
    rule grey : true => greylist g
}
'''

t = Suite("greylist input")
ctl_sock = os.path.join(t.dir, "ctl")
d = t.tollgate("grey", POLICY, args=("-C", ctl_sock))
CTL = os.path.join(os.path.dirname(os.path.abspath(
    os.environ.get("TOLLGATE", "../filter/tollgate"))), "tollgatectl")


def attempt(sender, rcpt, addr="192.0.2.10"):
    c = d.client()
    try:
        c.connect("client.example.net", addr)
        c.helo("client.example.net")
        r = c.mail(sender)
        if r.action != "continue":
            return r
        return c.rcpt(rcpt)
    finally:
        c.close()


def grey451(r):
    return r.action == "tempfail" and r.code == "451" and \
        r.xcode == "4.7.1" and "Greylisted" in (r.text or "")


def records():
    out = subprocess.run([CTL, "-s", ctl_sock, "greylist", "g", "list",
                          "500"], capture_output=True, text=True,
                         errors="replace").stdout
    return [line for line in out.splitlines() if line.startswith("g:")]


# Odd but valid addresses: greylisted, each its own triplet.
odd = [
    ("<\"a b\"@example.org>", "<bob@example.net>"),
    ("<@route.example,@r2.example:routed@example.org>",
     "<bob@example.net>"),
    ("<\"a|b\"@example.org>", "<bob@example.net>"),
    ("<\"a\\\\|b\"@example.org>", "<bob@example.net>"),
    ("<>", "<bob@example.net>"),
    ("<" + "l" * 400 + "@example.org>", "<bob@example.net>"),
    ("<u@example.org>", "<\"bob smith\"@example.net>"),
    ("<u@example.org>", "<bob%other.example@example.net>"),
]
for s, r in odd:
    got = attempt(s, r)
    t.expect(grey451(got), "%r -> %r: 451 4.7.1" % (s, r), got)
t.expect(d.alive(), "the daemon is alive")
recs = records()
t.expect(len(recs) == len(odd), "one record each (%d)" % len(recs), recs)
t.expect(all(len(line.split(": ")[0]) < 1024 for line in recs),
         "every key is bounded", [len(x) for x in recs])
t.expect(d.logged("greylist g: first attempt deferred, 1s left: "
                  "g:greylist|192.0.2.0/24|<>|bob@example.net"),
         "a bounce is keyed by client and recipient, and logged")

# Not addresses: refused before any rule, 501, and no record.
for s, r, code in [
        ("<" + "x" * 1000 + "@example.org>", "<bob@example.net>", "501"),
        ("<u@example.org>", "<" + "y" * 1000 + "@example.net>", "501"),
        ("<u@example.org>", "<bob@evil.example@example.net>", "501"),
        # The MTA's argument ends at the NUL: "<bob", unbalanced.
        ("<u@example.org>", b"<bob\0evil@example.net>", "501"),
        ("<u\x01@example.org>", "<bob@example.net>", "501")]:
    got = attempt(s, r)
    t.expect(got.refused and got.code == code, "%.40r...: %s" % (
             (s, r), code), got)
t.expect(len(records()) == len(odd), "no record for them", records())

# One triplet however it is spelt, and an IPv4-mapped client is its /24.
first = attempt("<Alice@Example.ORG>", "<Bob@EXAMPLE.net>",
                addr="::ffff:198.51.100.7")
t.expect(grey451(first), "first attempt from ::ffff:198.51.100.7", first)
time.sleep(1.2)
again = attempt("<prvs=0123=alice+news@example.org>",
                "<\"bob\"@example.net.>", addr="198.51.100.99")
t.expect(again.action == "continue",
         "the retry, spelt otherwise from 198.51.100.99, passes", again)
# ...and different values never share one.
other = attempt("<alice@example.org>", "<bob2@example.net>",
                addr="198.51.100.99")
t.expect(grey451(other), "another recipient is another triplet", other)
t.expect(d.alive(), "the daemon is alive")
t.done()
