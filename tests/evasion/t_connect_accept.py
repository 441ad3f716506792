"""F13: in the shipped policies/isp-antispam.conf an "accept" at connect
(trusted networks, the DNSWL allow list) ended evaluation for the whole
connection: an allow-listed or trusted client's executable attachment
went through. Now trusted networks skip the anti-spam checks and the
allow list the checks of who the client is (reverse DNS, HELO), and the
malware rules (and for the allow list SPF) apply to every message."""
import os

from evlib import Suite, policy_file

ZONES = r'''
	local-zone: "." static
	local-zone: "list.dnswl.org." static
	local-data: "list.dnswl.org. 60 IN SOA ns.t.test. h.t.test. 1 60 60 60 60"
	local-data: "7.100.51.198.list.dnswl.org. 60 IN A 127.0.10.2"
	local-zone: "example.net." static
	local-data: "example.net. 60 IN SOA ns.t.test. h.t.test. 1 60 60 60 60"
	local-data: 'example.net. 60 IN TXT "v=spf1 ip4:198.51.100.0/24 -all"'
	local-zone: "victim.test." static
	local-data: "victim.test. 60 IN SOA ns.t.test. h.t.test. 1 60 60 60 60"
	local-data: 'victim.test. 60 IN TXT "v=spf1 -all"'
'''

EXE = (b"--b1\r\nContent-Type: text/plain\r\n\r\nSee attached.\r\n"
       b"--b1\r\nContent-Type: application/octet-stream\r\n"
       b"Content-Disposition: attachment; filename=\"invoice.exe\"\r\n"
       b"Content-Transfer-Encoding: base64\r\n\r\nTVogZmFrZSBleGU=\r\n"
       b"--b1--\r\n")
CLEAN = b"--b1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n--b1--\r\n"


def send(d, addr, body, sender="<a@example.net>", rcpt="<bob@example.org>"):
    """One message from addr (no PTR record); the first refusal, or the
    end-of-message answer. An accept at connect ends the test's message
    there: the MTA would not ask again for this connection."""
    c = d.client()
    r = c.connect("[%s]" % addr, addr)
    if r.action != "continue":
        c.close()
        return r
    for step in (lambda: c.helo("mail.example.net"),
                 lambda: c.mail(sender), lambda: c.rcpt(rcpt)):
        r = step()
        if r.action != "continue":
            c.close()
            return r
    r = c.message([("From", "a@example.net"), ("To", "bob@example.org"),
                   ("Date", "Sat, 5 Dec 2026 10:00:00 +0000"),
                   ("Subject", "invoice"), ("Message-ID", "<1@example.net>"),
                   ("MIME-Version", "1.0"),
                   ("Content-Type", 'multipart/mixed; boundary="b1"')], body)
    c.close()
    return r


t = Suite("connect accept")
dns = t.unbound(ZONES)
# The shipped policy, pointed at our unbound, next to its tables.
with open(policy_file("isp-antispam.conf")) as f:
    text = f.read()
conf = t.file("pol/isp-antispam.conf",
              'set resolver "%s"\n' % dns.resolver + text)
os.symlink(os.path.join(os.path.dirname(policy_file("isp-antispam.conf")),
                        "tables"), os.path.join(t.dir, "pol", "tables"))
d = t.tollgate("isp", conf)

# Trusted network (tables/trusted.cidr: 127.0.0.0/8).
r = send(d, "127.0.0.1", EXE, rcpt="<someone@elsewhere.example>")
t.expect(r.action == "reject" and r.code == "554",
         "trusted client: the .exe attachment is refused (554)", r)
r = send(d, "127.0.0.1", CLEAN, rcpt="<someone@elsewhere.example>")
t.expect(not r.refused, "trusted client: relays clean mail unchecked", r)

# On the DNSWL allow list, no PTR record.
r = send(d, "198.51.100.7", EXE)
t.expect(r.action == "reject" and r.code == "554",
         "allow-listed client: the .exe attachment is refused (554)", r)
r = send(d, "198.51.100.7", CLEAN)
t.expect(not r.refused,
         "allow-listed client: no reverse DNS needed, clean mail passes", r)
r = send(d, "198.51.100.7", CLEAN, sender="<ceo@victim.test>")
t.expect(r.action == "reject" and r.code == "550" and r.xcode == "5.7.23",
         "allow-listed client: SPF -all still refuses (550 5.7.23)", r)

# Neither: the connection checks apply (no PTR record).
r = send(d, "198.51.100.8", CLEAN)
t.expect(r.action == "reject" and r.code == "550" and r.xcode == "5.7.25",
         "a stranger without reverse DNS is refused (550 5.7.25)", r)
t.done()
