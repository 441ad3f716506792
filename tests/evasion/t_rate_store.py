"""F4 and F10: clients must not switch rate limits off for others or for
themselves. F4: the memory store put keys in shards by an unkeyed hash
(FNV-1a) and refused new keys of a full shard: senders chosen to land in
one shard (MAIL, RCPT, RSET each, nothing counted) made a victim sender's
RCPT fail 451 4.3.0 "store is full"; a store full of live counters
refused every new key. F10: a limit whose key was longer than 1,024 bytes
(long sender and recipient) neither tripped nor counted.
Bounded: max-keys 1000 (the smallest allowed), about 1,200 messages."""
from evlib import Suite

POLICY = r'''
store memory { max-keys 1000 }
limit rcpts-per-sender {
    key sender
    count recipients
    max 1000 per 1h
}
limit pair {
    key sender, rcpt
    count recipients
    max 1 per 1h
}
stage rcpt {
    rule r : limit rcpts-per-sender exceeded
        => tempfail 450 4.7.1 "Too many recipients from ${sender}"
    rule p : limit pair exceeded
        => tempfail 450 4.7.1 "Too many messages for this pair"
}
'''
PREFIX = "rcpts-per-sender:recipients:3600|"


def old_shard(addr):
    """The shard the old store gave the key of addr: top 6 bits of
    FNV-1a."""
    h = 2166136261
    for ch in (PREFIX + addr.lower()).encode():
        h = ((h ^ ch) * 16777619) & 0xffffffff
    return h >> 26


def message(c, sender, rcpt, send=True):
    """MAIL and RCPT, then end of message (send) or abort; the first
    answer that is not continue, or the last one."""
    r = c.mail("<%s>" % sender)
    if r.action != "continue":
        return r
    r = c.rcpt("<%s>" % rcpt)
    if r.action != "continue" or not send:
        c.abort()
        return r
    return c.message([("From", sender), ("Subject", "hi")], b"hi\r\n")


t = Suite("rate store")
d = t.tollgate("rate", POLICY)

# F10: a 507-byte sender and a 506-byte recipient.
long_from = "x" * 495 + "@example.org"
long_to = "bob+" + "y" * 490 + "@example.com"
c = d.client()
c.connect()
c.helo("client.example.net")
got = [message(c, long_from, long_to) for _ in range(4)]
c.close()
t.expect(not got[0].refused, "long pair: the first message passes", got[0])
t.expect(all(r.code == "450" for r in got[1:]),
         "long pair: the 2nd to 4th message get 450 4.7.1", got[1:])

# F4: 40 senders in the victim's old shard (15 fill it), nothing counted.
victim = "ceo@victim.example"
crafted, i = [], 0
while len(crafted) < 40:
    a = "x%d@attacker.example" % i
    if old_shard(a) == old_shard(victim):
        crafted.append(a)
    i += 1
c = d.client()
c.connect()
c.helo("attacker.example")
fill = [message(c, a, "bob@example.com", send=False) for a in crafted]
r = message(c, victim, "bob@example.com", send=False)
c.close()
t.expect(not any(f.refused for f in fill),
         "40 MAIL/RCPT/RSET in one old shard are not refused", fill[-1])
t.expect(not r.refused, "then the victim sender's RCPT passes", r)
t.expect(not d.logged("is full"), "no 'store is full' logged")

# F4: the store full of live counters (1,100 accepted messages from as
# many senders): a new sender is still counted, and the eviction logged.
c = d.client()
c.connect()
c.helo("attacker.example")
bad = [a for a in ("f%d@flood.example" % n for n in range(1100))
       if message(c, a, "bob@example.com").refused]
r = message(c, "new@victim.example", "bob@example.com")
c.close()
t.expect(not bad, "1,100 messages from new senders are not refused",
         bad[:3])
t.expect(not r.refused, "a new sender passes in a full store", r)
t.expect(d.logged("memory store full (max-keys 1000)"),
         "the eviction of live counters is logged")
t.done()
