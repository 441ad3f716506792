"""SPF results kept across sessions (filter/check_spf_cache.c) must never
answer for another query: a second session of the same client and sender
gets the kept result (logged at debug level), but a record that reads the
HELO name (%{h}) is kept per HELO, one that reads the local part (%{l})
per sender, an answer with TTL 0 is never kept, a DNS failure is not
kept (the next session asks again), and a reload starts an empty cache.
"""
import time

from evlib import Suite
from spfzones import policy, message

ZONES = """
\tlocal-zone: "test." static
\tlocal-data: 'keep.test. 3600 TXT "v=spf1 ip4:198.51.100.7 -all"'
\tlocal-data: 'zero.test. 0 TXT "v=spf1 ip4:198.51.100.7 -all"'
\tlocal-data: 'helo.test. 3600 TXT "v=spf1 exists:%{h}.ok.test -all"'
\tlocal-data: 'good.example.ok.test. 3600 A 127.0.0.2'
\tlocal-data: 'user.test. 3600 TXT "v=spf1 exists:%{l}.users.test -all"'
\tlocal-data: 'alice.users.test. 3600 A 127.0.0.2'
"""

t = Suite("spf result cache")
u = t.unbound(ZONES)
d = t.tollgate("spf", policy(u.resolver))


def session(sender, helo="client.example.net"):
    c = d.client()
    c.connect()
    c.helo(helo)
    r = message(c, sender)
    c.close()
    return r


def kept():
    return d.log().count("result kept from an earlier session")


def spf_of(r):
    v = r.header("Authentication-Results") or ""
    return v.split("spf=")[1].split()[0] if "spf=" in v else r.code


n0 = kept()
r1 = session("<a@keep.test>")
r2 = session("<a@keep.test>")
t.expect(spf_of(r1) == "pass" and spf_of(r2) == "pass" and kept() == n0 + 1,
         "same client and sender: the second session's result is kept",
         (r1, r2, kept() - n0))
r3 = session("<b@keep.test>")
t.expect(spf_of(r3) == "pass" and kept() == n0 + 1,
         "another local part: evaluated again", (r3, kept() - n0))

n0 = kept()
session("<a@zero.test>")
session("<a@zero.test>")
t.expect(kept() == n0, "TTL 0: never kept", kept() - n0)

r1 = session("<x@helo.test>", helo="good.example")
r2 = session("<x@helo.test>", helo="bad.example")
r3 = session("<x@helo.test>", helo="good.example")
t.expect(spf_of(r1) == "pass" and r2.code == "550" and spf_of(r3) == "pass",
         "%{h}: kept per HELO, another HELO evaluated afresh", (r1, r2, r3))

r1 = session("<alice@user.test>")
r2 = session("<bob@user.test>")
t.expect(spf_of(r1) == "pass" and r2.code == "550",
         "%{l}: alice's pass is not bob's", (r1, r2))

# A reload: a new cache.
n0 = kept()
d.reload(open(d.conf).read())
for _ in range(100):
    if "policy reloaded" in d.log():
        break
    time.sleep(0.1)
session("<a@keep.test>")
t.expect(kept() == n0, "after a reload: evaluated again", kept() - n0)
session("<a@keep.test>")
t.expect(kept() == n0 + 1, "then kept again", kept() - n0)

# The resolver gone: temperror, not kept; back: evaluated.
u.stop()
r = session("<a@down.test>")
t.expect(r.code == "451" or spf_of(r) == "temperror",
         "resolver down: temperror", r)
t.done()
