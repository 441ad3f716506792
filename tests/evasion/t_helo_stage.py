"""The helo rules of the shipped policies/isp-antispam.conf, and a client
that plays with HELO/EHLO:
- F3: a client that never sends HELO/EHLO skipped every helo rule; now
  they run at MAIL with helo unknown, so "not helo.valid" refuses it.
- RFC 5321 4.1.4 (issue 14): a HELO refusal stuck to the connection; a
  new HELO/EHLO is judged on its own name, good after bad passes, bad
  after good is refused. A connect-stage refusal stays. A helo rule's
  refusal is answered at MAIL, not at HELO: both MTAs take a milter's
  HELO reject for the whole connection and stop asking it.
- issue 14: EHLO [IPv6:::1] and our own IPv6 address are helo.ours like
  [127.0.0.1]."""
import re

from evlib import Suite, policy_file
from spfzones import ZONES

t = Suite("helo stage")
u = t.unbound(ZONES)
with open(policy_file("isp-antispam.conf")) as f:
    helo_stage = re.search(r"^stage helo \{.*?^\}\n", f.read(),
                           re.M | re.S).group(0)
t.file("helo/tables/local_domains.list", "example.com\n")
t.file("helo/tables/trusted.cidr", "203.0.113.0/24 trusted\n")
# What the shipped helo rules name: the trusted networks and the DNSWL
# list that exempt a client (here a zone nobody is listed in).
d = t.tollgate("helo", """
set resolver "%s"
table local_domains list "tables/local_domains.list"
table trusted_networks cidr "tables/trusted.cidr"
dnslist dnswl "dnswl.invalid" returns { 127.0.1.0-127.0.255.254 }
    weight -5 on-error skip
stage connect {
    rule blocked : client.address in { 192.0.2.66 }
        => reject 554 5.7.1 "Client [${client_address}] blocked"
}
%s
stage mail {
    rule spam : sender.domain == "spam.example" => reject 550 5.7.1 "no"
}
""" % (u.resolver, helo_stage))
GOOD = "client.h.test"


def conn(addr="198.51.100.7", listener=None):
    c = d.client()
    c.connect(addr=addr, macros={"{daemon_addr}": listener}
              if listener else None)
    return c


def refused(r, code):
    return r.refused and r.code == code


# F3: no HELO at all.
c = conn()
r = c.mail("<a@example.org>")
t.expect(refused(r, "501") and r.xcode == "5.5.2" and
         "Invalid name" in (r.text or ""),
         "no HELO: MAIL refused 501 5.5.2 by helo-invalid", r)
c.abort()
r = c.mail("<b@example.org>")
t.expect(refused(r, "501"), "no HELO: the next MAIL refused too", r)
c.abort()
r = c.helo(GOOD)
t.expect(r.action == "continue", "then EHLO %s: accepted" % GOOD, r)
r = c.mail("<a@example.org>")
t.expect(r.action == "continue", "then MAIL: accepted", r)
c.close()

def helo_mail(c, helo):
    """HELO/EHLO, then MAIL: the answer to MAIL. A helo rule's refusal is
    answered at MAIL (the MTAs answer EHLO 250 and refuse MAIL either
    way), so that the MTA does not shut the milter out of the rest of the
    connection and a new EHLO can be judged."""
    r = c.helo(helo)
    if r.action != "continue":
        return r
    r = c.mail("<a@example.org>")
    c.abort()
    return r


# A new EHLO is judged on its own name.
c = conn()
r = c.helo("localhost")
t.expect(r.action == "continue", "HELO localhost: refusal kept for MAIL, "
         "not answered at HELO (the MTA would refuse all that follows)", r)
r = c.mail("<a@example.org>")
t.expect(refused(r, "504"), "HELO localhost: MAIL refused 504", r)
c.abort()
r = helo_mail(c, GOOD)
t.expect(r.action == "continue",
         "then EHLO %s: MAIL accepted, localhost forgotten" % GOOD, r)
c.close()

c = conn()
r = helo_mail(c, GOOD)
t.expect(r.action == "continue", "EHLO %s: MAIL accepted" % GOOD, r)
r = helo_mail(c, "localhost")
t.expect(refused(r, "504") and "<localhost>" in (r.text or ""),
         "then HELO localhost: MAIL refused 504 naming localhost", r)
c.close()

# A connect-stage refusal stays, whatever the client says.
c = conn("192.0.2.66")
r = c.helo(GOOD)
t.expect(refused(r, "554"), "blocked client: EHLO refused 554", r)
r = c.helo(GOOD)
t.expect(refused(r, "554"), "blocked client: a second EHLO refused 554", r)
r = c.mail("<a@example.org>")
t.expect(refused(r, "554"), "blocked client: MAIL refused 554", r)
c.close()

# helo.ours: loopback and our own address in every spelling.
for helo, listener in (("[127.0.0.1]", None), ("[IPv6:::1]", None),
                       ("[IPv6:0:0:0:0:0:0:0:1]", None),
                       ("[IPv6:::ffff:127.0.0.1]", None),
                       ("[192.0.2.25]", "192.0.2.25"),
                       ("[IPv6:2001:db8::25]", "2001:db8::25"),
                       ("[IPv6:2001:DB8:0:0:0:0:0:25]", "2001:db8::25"),
                       ("[IPv6:::ffff:192.0.2.25]", "192.0.2.25")):
    c = conn(listener=listener)
    r = helo_mail(c, helo)
    t.expect(refused(r, "550") and "You are not me" in (r.text or ""),
             "EHLO %s%s: helo-is-us 550" % (
                 helo, " to %s" % listener if listener else ""), r)
    c.close()
for helo in ("[IPv6:2001:db8::7]", "[198.51.100.7]"):
    c = conn(listener="2001:db8::25")
    r = helo_mail(c, helo)
    t.expect(r.action == "continue", "EHLO %s: not ours, accepted" % helo, r)
    c.close()
t.done()
