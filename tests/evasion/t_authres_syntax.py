"""F8: client values in our Authentication-Results (RFC 8601) and
Received-SPF (RFC 7208 9.1) must stay values. A HELO such as
"evil.example;dkim=pass header.d=paypal.com" put raw after smtp.helo=
added a second result, dkim=pass, under our own authserv-id. Every value
that is not a token (smtp.mailfrom: local-part@domain, smtp.helo: a
domain) is quoted; Received-SPF gets helo= only for a valid domain and
quotes what is not a dot-atom. The same for the login in our
auth=pass header."""
from evlib import Suite
from spfzones import ZONES, policy, message, spf_resinfo, received_spf, \
    split_results

t = Suite("authres syntax")
u = t.unbound(ZONES)
d = t.tollgate("spf", policy(u.resolver) +
               'authentication-results "mx.example.test"\n')

HELOS = [
    "evil.example;dkim=pass header.d=paypal.com",
    "evil.example; dkim=pass (good) header.d=paypal.com",
    'x"; dkim=pass header.d=paypal.com; "',
    "x\\\"; dkim=pass",
    "(comment) evil.example; dkim=pass",
    "evil.example) ; dkim=pass (",
    "[192.0.2.1]",
    "[IPv6:2001:db8::7];dkim=pass",
    "mail.good.test",
]
SENDERS = [
    '<"x;dkim=pass header.d=paypal.com"@soft.test>',
    '<"x\\"; dkim=pass"@soft.test>',
    '<"a)(b; dkim=pass"@soft.test>',
    "<x@soft.test>",
]

for helo in HELOS:
    for sender in ["<>"] + SENDERS:
        c = d.client()
        c.connect(addr="198.51.100.7")
        c.helo(helo)
        r = message(c, sender)
        c.close()
        what = "HELO %r, MAIL FROM:%s" % (helo, sender)
        if r.action != "continue":
            t.fail("%s: not accepted (%r)" % (what, r))
            continue
        ar = spf_resinfo(r.header("Authentication-Results"))
        want = ("helo", helo) if sender == "<>" else ("mailfrom",
                                                     sender[1:-1])
        t.expect(ar is not None and ar[1:] == want,
                 "%s: Authentication-Results has one spf result naming "
                 "the %s" % (what, want[0]), r)
        rs = received_spf(r.header("Received-SPF"))
        t.expect(rs is not None, "%s: Received-SPF is RFC 7208 syntax" %
                 what, r)
        if rs is not None:
            t.expect(rs[1].get("helo") == (helo if helo == "mail.good.test"
                                           else None),
                     "%s: helo= only for a valid domain" % what, r)
            if sender != "<>":
                t.expect(rs[1].get("envelope-from") == sender[1:-1],
                         "%s: envelope-from= names the sender" % what, r)

# The login in our own auth=pass result.
for login in ("alice", "alice@example.org", "a;dkim=pass header.d=x.example",
              'a"b;dkim=pass'):
    c = d.client()
    c.connect(addr="198.51.100.7")
    c.helo("mail.good.test")
    r = c.mail("<x@soft.test>", macros={"{auth_type}": "PLAIN",
                                         "{auth_authen}": login})
    if r.action == "continue":
        r = c.rcpt("<bob@example.com>")
        r = c.message([("From", "x@soft.test")], b"hi\r\n")
    c.close()
    ours = [v for _, n, v in r.inserted if n == "Authentication-Results"]
    parts = split_results(ours[0]) if ours else None
    t.expect(parts is not None and len(parts) == 2 and
             parts[1].startswith("auth=pass smtp.auth=") and
             parts[1][len("auth=pass smtp.auth="):].strip('"')
             .replace('\\"', '"') == login,
             "login %r: one auth=pass result naming it" % login, r)
t.done()
