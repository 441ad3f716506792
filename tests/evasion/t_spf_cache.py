"""F2: the SPF result of one sender must never be reused for another in
the same connection. The per-session cache key was cut at 699 bytes, so
after a long HELO (1,000 bytes, or a valid 253-byte name plus a 440-byte
local part) a later sender inherited the first one's "pass" and its
Authentication-Results / Received-SPF text. Each case: one connection,
a sender that passes, then (RSET) a sender whose domain says -all, which
must get 550 5.7.23, then a softfail sender whose headers must name it."""
from evlib import Suite
from spfzones import ZONES, policy, message, spf_resinfo, received_spf

t = Suite("spf cache")
u = t.unbound(ZONES)
d = t.tollgate("spf", policy(u.resolver))

labels = ["a" * 63, "b" * 63, "c" * 63]
VALID_HELO = ".".join(labels + ["d" * (253 - 3 * 64 - len(".h.test"))]) + \
    ".h.test"
assert len(VALID_HELO) == 253
CASES = [
    ("1,000-byte HELO", "x" * 1000, ""),
    ("253-byte HELO, 440-byte local parts", VALID_HELO, "u" * 440),
    ("short HELO", "mail.good.test", ""),
]


def check_headers(r, what, result, sender):
    ar = spf_resinfo(r.header("Authentication-Results"))
    t.expect(ar == (result, "mailfrom", sender),
             "%s: Authentication-Results says spf=%s for %s" % (
                 what, result, sender[-20:]), r)
    rs = received_spf(r.header("Received-SPF"))
    t.expect(rs is not None and rs[0] == result and
             rs[1].get("envelope-from") == sender,
             "%s: Received-SPF says %s for %s" % (what, result,
                                                 sender[-20:]), r)


for what, helo, lp in CASES:
    good, victim, soft = ("%s@good.test" % (lp or "a"),
                          "%s@victim.test" % (lp or "ceo"),
                          "%s@soft.test" % (lp or "x"))
    for rset in (False, True):
        how = what + (", RSET after MAIL" if rset else "")
        c = d.client()
        c.connect(addr="198.51.100.7")
        c.helo(helo)
        if rset:
            r = c.mail("<%s>" % good)
            t.expect(r.action == "continue", "%s: good.test passes" % how,
                     r)
            c.abort()
        else:
            r = message(c, "<%s>" % good)
            t.expect(r.action == "continue", "%s: good.test accepted" % how,
                     r)
            check_headers(r, how + ", good.test", "pass", good)
        r = message(c, "<%s>" % victim)
        t.expect(r.code == "550" and r.xcode == "5.7.23",
                 "%s: then victim.test (-all) is refused 550 5.7.23" % how, r)
        c.abort()
        r = message(c, "<%s>" % soft)
        t.expect(r.action == "continue", "%s: then soft.test accepted" % how,
                 r)
        check_headers(r, how + ", soft.test", "softfail", soft)
        c.close()

# Same sender, other HELO: the null sender's identity is the HELO name.
c = d.client()
c.connect(addr="198.51.100.7")
c.helo("mail.good.test")
r = message(c, "<>")
t.expect(spf_resinfo(r.header("Authentication-Results")) ==
         ("pass", "helo", "mail.good.test"), "<> after HELO mail.good.test: "
         "spf=pass smtp.helo=mail.good.test", r)
c.helo("victim.test")
r = message(c, "<>")
t.expect(r.code == "550" and r.xcode == "5.7.23",
         "<> after a new HELO victim.test: refused 550 5.7.23", r)
c.close()
t.done()
