-- spf.lua - SPF with libspf2 through the local server: each result and
-- its RFC 7372 reply, the HELO identity for <>, authenticated clients
-- skipped, and the Authentication-Results and Received-SPF headers.
dofile(lib)

local function mail(ip, from, want, text)
	local m = T.log_mark()
	local conn = T.connect(ip)
	T.helo(conn, "mail.good.test")
	T.mail(conn, want, from)
	if text ~= nil then
		T.log_has(text, m)
	end
	return conn
end

local conn = mail("198.51.100.7", "<alice@good.test>", SMFIR_REPLYCODE,
    'rule=spf-fail action=reject client=198.51.100.7 ' ..
    'sender=<alice@good.test> reply="550 5.7.23 SPF validation failed ' ..
    'for <alice@good.test>"')
mt.disconnect(conn)
T.done("fail: 550 5.7.23")

conn = mail("198.51.100.7", "<x@perm.test>", SMFIR_REPLYCODE,
    'reply="550 5.7.24 SPF validation error (bad record) for <x@perm.test>"')
mt.disconnect(conn)
T.done("permerror: 550 5.7.24")

conn = mail("198.51.100.7", "<x@temp.test>", SMFIR_REPLYCODE,
    'reply="451 4.7.24 SPF validation error (DNS), try again later"')
mt.disconnect(conn)
T.done("temperror: 451 4.7.24")

-- pass, with the headers at end of message
conn = mail("192.0.2.40", "<alice@good.test>", SMFIR_CONTINUE)
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.org>")
T.data(conn)
T.message(conn, SMFIR_CONTINUE, {{"Subject", "spf"}})
T.hdradd(conn, "Authentication-Results",
    "mx.example.net; spf=pass smtp.mailfrom=alice@good.test")
-- RFC 7208 9.1, the host named by gethostname() (libspf2's receiving
-- domain); the mailbox quoted, it is not a dot-atom.
local p = io.popen("uname -n")
local host = p:read("*l")
p:close()
T.hdradd(conn, "Received-SPF", "pass (" .. host .. ": domain of good.test " ..
    "designates 192.0.2.40 as permitted sender) client-ip=192.0.2.40; " ..
    "envelope-from=\"alice@good.test\"; helo=mail.good.test; " ..
    "identity=mailfrom;")
mt.disconnect(conn)
T.done("pass: Authentication-Results and Received-SPF added")

-- softfail, neutral and none are only reported
for _, c in ipairs({{"soft.test", "softfail"}, {"neutral.test", "neutral"},
    {"none.test", "none"}}) do
	conn = mail("198.51.100.7", "<x@" .. c[1] .. ">", SMFIR_CONTINUE)
	T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.org>")
	T.data(conn)
	T.message(conn, SMFIR_CONTINUE, {{"Subject", "spf"}})
	T.hdradd(conn, "Authentication-Results", "mx.example.net; spf=" ..
	    c[2] .. " smtp.mailfrom=x@" .. c[1])
	mt.disconnect(conn)
end
T.done("softfail, neutral, none: accepted and reported")

-- <>: the HELO name is checked (mail.good.test: v=spf1 a -all)
conn = mail("192.0.2.40", "<>", SMFIR_CONTINUE)
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.org>")
T.data(conn)
T.message(conn, SMFIR_CONTINUE, {{"Subject", "bounce"}})
T.hdradd(conn, "Authentication-Results",
    "mx.example.net; spf=pass smtp.helo=mail.good.test")
mt.disconnect(conn)
conn = mail("198.51.100.7", "<>", SMFIR_REPLYCODE, 'reply="550 5.7.23')
mt.disconnect(conn)
T.done("null sender: HELO identity")

-- An authenticated client is not checked.
conn = T.connect("198.51.100.7")
T.helo(conn, "mail.good.test")
mt.macro(conn, SMFIC_MAIL, "{auth_type}", "PLAIN", "{auth_authen}", "alice")
T.mail(conn, SMFIR_CONTINUE, "<alice@good.test>")
mt.disconnect(conn)
T.done("authenticated: SPF skipped")
