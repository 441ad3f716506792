"""SPF for clients on loopback (issue 14): libspf2's
SPF_request_query_mailfrom() answers "pass" for 127.0.0.0/8 and ::1
before it fetches any record, so mail relayed to us over loopback (a
content filter, a proxy) got spf=pass for any sender. The record is
evaluated for such clients as for any other: lo.test allows only
192.0.2.1 and 2001:db8::1, lo-ok.test allows 127.0.0.1 and ::1."""
from evlib import Suite
from spfzones import ZONES, policy, message, spf_resinfo

t = Suite("spf loopback")
u = t.unbound(ZONES)
d = t.tollgate("spf", policy(u.resolver))

for addr in ("127.0.0.1", "127.3.2.1", "::1", "::ffff:127.0.0.1"):
    c = d.client()
    c.connect(hostname="localhost", addr=addr)
    c.helo("mail.good.test")
    r = message(c, "<a@lo.test>")
    t.expect(r.code == "550" and r.xcode == "5.7.23",
             "client %s, a record without it: refused 550 5.7.23" % addr, r)
    c.abort()
    r = message(c, "<a@victim.test>")
    t.expect(r.code == "550" and r.xcode == "5.7.23",
             "client %s, v=spf1 -all: refused 550 5.7.23" % addr, r)
    c.abort()
    r = message(c, "<a@soft.test>")
    t.expect(spf_resinfo(r.header("Authentication-Results")) ==
             ("softfail", "mailfrom", "a@soft.test"),
             "client %s, ~all: spf=softfail, not pass" % addr, r)
    if addr != "127.3.2.1":
        r = message(c, "<a@lo-ok.test>")
        t.expect(spf_resinfo(r.header("Authentication-Results")) ==
                 ("pass", "mailfrom", "a@lo-ok.test"),
                 "client %s, a record that names it: spf=pass" % addr, r)
    c.close()
t.done()
