-- lists.lua - DNS block and allow lists: reversed IPv4 and IPv6 names,
-- matching on the answer (address, range, bit mask), weights and a
-- threshold, the TXT reason in the reply, a domain list, and a failing
-- list with on-error tempfail and skip. A connect-stage refusal is
-- answered at HELO; its reply text is in the log line.
dofile(lib)

local function refused(ip, text)
	local m = T.log_mark()
	local conn = T.connect(ip)
	T.helo(conn, "mail.good.test", SMFIR_REPLYCODE)
	T.log_has(text, m)
	mt.disconnect(conn)
end

-- In bl (weight 2) and bl2 (mask, weight 2): score 4 reaches the
-- threshold; the last matching list and its TXT record are in the text.
refused("192.0.2.20", 'reply="554 5.7.1 Service unavailable; client ' ..
    '[192.0.2.20] blocked using bl2: Listed in bl2"')
T.done("score 4 of two lists: refused with the TXT reason")

-- 127.0.0.5 lies in bl's range 127.0.0.4-127.0.0.7; bl2's 127.0.0.2 has
-- no 0.0.0.4 bit: score 2, below the threshold; the bl rule refuses.
refused("192.0.2.22", 'rule=dnsbl-bl action=reject client=192.0.2.22 ' ..
    'reply="554 5.7.1 Client [192.0.2.22] blocked using bl"')
T.done("range match")

refused("2001:db8::20", 'reply="554 5.7.1 Client [2001:db8::20] ' ..
    'blocked using bl"')
T.done("IPv6 nibbles")

-- 127.0.0.10 is outside what bl counts: not listed.
local conn = T.connect("192.0.2.21")
T.helo(conn, "mail.good.test")
T.mail(conn, SMFIR_CONTINUE, "<x@neutral.test>")
mt.disconnect(conn)
T.done("answer outside the match list: not listed")

-- Listed in bl but in the allow list, whose rule comes first.
conn = T.connect("192.0.2.23")
T.helo(conn, "mail.good.test")
T.mail(conn, SMFIR_CONTINUE, "<x@spammer.test>")
mt.disconnect(conn)
T.done("allow list accepts")

-- A domain list on the sender's domain.
local m = T.log_mark()
conn = T.connect()
T.helo(conn, "mail.good.test")
T.mail(conn, SMFIR_REPLYCODE, "<x@spammer.test>")
T.log_has('reply="554 5.7.1 Sender address rejected: dbl: Domain ' ..
    'listed in dbl"', m)
T.mail(conn, SMFIR_CONTINUE, "<x@neutral.test>")
mt.disconnect(conn)
T.done("domain list")

-- The list's zone answers REFUSED: on-error tempfail gives 451 4.7.1,
-- on-error skip lets the client through.
refused("192.0.2.50", 'rule=broken action=tempfail client=192.0.2.50 ' ..
    'reply="451 4.7.1 Temporary DNS lookup failure, try again later"')
T.done("failing list, on-error tempfail")
conn = T.connect("192.0.2.51")
T.helo(conn, "mail.good.test")
mt.disconnect(conn)
T.done("failing list, on-error skip")
