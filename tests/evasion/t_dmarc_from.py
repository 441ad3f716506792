"""DMARC must judge the From a reader sees (issue 17). The shipped DKIM
and DMARC rules of policies/isp-antispam.conf, against a domain that
publishes p=reject: an unsigned message in its name is refused; so is one
that adds a From of its own above or below the victim's (several From
fields: RFC 7489 6.6.1, treated as failing with p=reject), one that hides
the victim's From behind 1,000 filler fields (From fields are counted past
tollgate's header caps), one with the victim among several addresses, and
one carrying a forged Authentication-Results that claims dmarc=pass.
50 garbage DKIM-Signature fields get a defined answer, the daemon
lives. About 2 s."""
import re

from evlib import Suite, policy_file

ZONES = r'''
	local-zone: "." static
	local-data: '_dmarc.victim.test. 60 IN TXT "v=DMARC1; p=reject"'
	local-data: 'victim.test. 60 IN TXT "v=spf1 -all"'
	local-data: '_dmarc.quiet.test. 60 IN TXT "v=DMARC1; p=quarantine"'
	local-data: 'attacker.test. 60 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
'''

t = Suite("dmarc from")
u = t.unbound(ZONES)
with open(policy_file("isp-antispam.conf")) as f:
    dmarc_stage = re.search(r"^stage eom \{\n    rule dmarc-reject.*?^\}\n",
                            f.read(), re.M | re.S).group(0)
t.file("dmarc/trusted.cidr", "203.0.113.0/24 trusted\n")
d = t.tollgate("dmarc", """
set resolver "%s"
table trusted_networks cidr "trusted.cidr"
%s
stage eom {
    rule ar : true => add-header Authentication-Results "mx.example.org; ${dkim_auth}; ${dmarc_auth}"
}
""" % (u.resolver, dmarc_stage))


def send(headers, sender="<a@attacker.test>"):
    c = d.client()
    try:
        for step in (lambda: c.connect("mail.attacker.test", "198.51.100.7"),
                     lambda: c.helo("mail.attacker.test"),
                     lambda: c.mail(sender),
                     lambda: c.rcpt("<bob@example.org>")):
            r = step()
            if r.action != "continue":
                return r
        return c.message(headers + [("To", "bob@example.org"),
                                    ("Subject", "invoice")], b"Pay now.\r\n")
    finally:
        c.close()


REJECT = "550 5.7.1"
r = send([("From", "Accounts <billing@victim.test>")])
t.expect(r.refused and r.code == "550" and "victim.test" in r.text,
         "unsigned mail From victim.test (p=reject): %s" % REJECT, r)
r = send([("From", "a@attacker.test")])
t.expect(r.action == "continue" and "dmarc=none" in
         (r.header("Authentication-Results") or ""),
         "the attacker's own domain (no DMARC record): accepted, dmarc=none",
         r)
for order in ((("From", "a@attacker.test"), ("From", "billing@victim.test")),
              (("From", "billing@victim.test"), ("From", "a@attacker.test"))):
    r = send(list(order))
    t.expect(r.refused and r.code == "550",
             "two From fields (%s first): refused" % order[0][1], r)
pad = [("X-Filler-%d" % i, "x") for i in range(1000)]
r = send([("From", "a@attacker.test")] + pad +
         [("From", "billing@victim.test")])
t.expect(r.refused and r.code == "550",
         "a second From behind 1,000 filler fields: refused", r)
r = send(pad + [("From", "billing@victim.test")])
t.expect(r.refused and r.code == "550",
         "the only From behind 1,000 filler fields: still judged", r)
r = send([("From", "a@attacker.test, billing@victim.test")])
t.expect(r.refused and r.code == "550",
         "victim.test among two addresses of one From: refused", r)
r = send([("Authentication-Results", "mx.example.org; dmarc=pass"),
          ("From", "billing@victim.test")])
t.expect(r.refused and r.code == "550",
         "a forged Authentication-Results saying dmarc=pass changes nothing",
         r)
r = send([("From", "q@quiet.test")])
t.expect(r.action == "continue" and r.quarantine is not None,
         "p=quarantine: accepted into the MTA's quarantine", r)
r = send([("DKIM-Signature", "v=1; a=rsa-sha256; d=x%d.test; s=s; h=from; "
           "bh=AAAA; b=AAAA" % i) for i in range(50)] +
         [("From", "a@attacker.test")])
t.expect(r.action == "continue" and "dkim=permerror" in
         (r.header("Authentication-Results") or ""),
         "50 DKIM-Signature fields: answered (permerror), no crash", r)
t.expect(d.alive(), "the daemon is alive", None)
t.done()
