-- 02-actions.lua - tempfail, discard, quarantine, add-header, accept
-- short-circuit, dry-run, and the relay rule with a cidr and a list table.
dofile(lib)

local function open(ip)
	local conn = T.connect(ip)
	T.helo(conn, "client.example.net")
	return conn
end

-- tempfail at MAIL
local m = T.log_mark()
local conn = open()
T.mail(conn, SMFIR_REPLYCODE, "<later@example.com>")
T.log_has('rule=deferred-sender action=tempfail client=198.51.100.7 ' ..
    'sender=<later@example.com> reply="451 4.7.1 Sender deferred"', m)
-- tempfail at eom, exact text
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_REPLYCODE, {{"X-Defer", "yes"}})
T.reply(conn, "451", "4.3.2", "Deferred at end of message")
mt.disconnect(conn)
T.done("tempfail at mail and at eom")

-- discard at RCPT: the whole message is dropped
m = T.log_mark()
conn = open()
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_DISCARD, "<discard@example.com>")
T.log_has("rule=rcpt-discard action=discard", m)
mt.disconnect(conn)
T.done("discard")

-- quarantine at RCPT, applied at eom with the expanded reason
conn = open()
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<hold@example.com>")
T.message(conn, SMFIR_CONTINUE)
T.quarantine(conn, "held by rcpt-quarantine")
-- the next message of the connection is not quarantined
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE)
T.no_quarantine(conn)
mt.disconnect(conn)
T.done("quarantine, for one message only")

-- add-header
conn = open()
T.mail(conn, SMFIR_CONTINUE, "<news@tagged.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "news"}})
T.hdradd(conn, "X-Tollgate", "tagged by tag")
T.no_quarantine(conn)
mt.disconnect(conn)
T.done("add-header")

-- accept at MAIL: the relay rule and the eom rules no longer apply
conn = open()
T.mail(conn, SMFIR_CONTINUE, "<vip@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "buy now!"}})
mt.disconnect(conn)
T.done("accept at mail short-circuits rcpt and eom")

-- accept at connect: the whole connection is trusted (even a bad HELO)
conn = T.connect("192.0.2.10")
T.helo(conn, "bad.helo.example")
T.mail(conn, SMFIR_CONTINUE, "<spammer@bad.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "buy now!"}})
mt.disconnect(conn)
T.done("accept at connect short-circuits the connection")

-- dry-run: logged, not enforced
m = T.log_mark()
conn = open()
T.mail(conn, SMFIR_CONTINUE, "<dry@example.com>")
T.log_has("rule=would-reject dry-run: would reject 550 5.7.1", m)
T.log_has("stage=mail rule=would-reject action=continue dry-run=yes", m)
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE)
mt.disconnect(conn)
T.done("dry-run is not enforced")

-- relay: a client in the cidr table may relay (IPv4 and IPv6) ...
conn = open("10.9.8.7")
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
mt.disconnect(conn)
conn = open("2001:db8::25")
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
mt.disconnect(conn)
-- ... one outside may not, except to domains of the list table
conn = open("192.0.2.127")
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_REPLYCODE, "<someone@elsewhere.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@EXAMPLE.ORG>")
mt.disconnect(conn)
T.done("relay rule with a cidr table and a list table")
