-- limits.lua - size, recipient, header and relay limits through the
-- milter protocol, against the "limits" daemon (limits.conf): each reply
-- at its stage with its code. Replies before end of message are checked
-- in the log (miltertest shows reply text only at eom).
dofile(lib)

local SIZE_TEXT = "Message size exceeds fixed maximum message size"

-- body(n): about n bytes of body, in 72-byte lines
local function body(n)
	local line = string.rep("x", 70) .. "\r\n"
	return string.rep(line, math.ceil(n / #line))
end

local function session(listener)
	local conn = mt.connect("unix:" .. socket, 20, 0.25)
	if conn == nil then
		T.fail("mt.connect failed")
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.net", "{daemon_name}",
	    listener or "smtpd", "{daemon_port}", "25")
	if mt.conninfo(conn, "client.example.net", "198.51.100.7") ~= nil then
		T.fail("conninfo")
	end
	T.check(conn, SMFIR_CONTINUE, "connect")
	T.helo(conn, "client.example.net")
	return conn
end

local function login(conn, name)
	mt.macro(conn, SMFIC_MAIL, "{auth_type}", "PLAIN", "{auth_authen}", name)
end

local function message(conn, want, n, headers)
	for _, h in ipairs(headers or {{"Subject", "limits"}}) do
		T.header(conn, h[1], h[2])
	end
	T.eoh(conn)
	T.body(conn, body(n))
	T.eom(conn, want)
end

-- SIZE= at MAIL: over the default 10k limit, exactly at it, malformed.
local m = T.log_mark()
local conn = session()
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>", "SIZE=10241")
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>", "SIZE=10240")
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>", "SIZE=-1")
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>", "SIZE=184467440737095516160")
T.log_has('stage=mail rule=size-declared action=reject client=198.51.100.7 ' ..
    'sender=<a@example.net> reply="552 5.3.4 ' .. SIZE_TEXT .. '"', m)
if T.log_count('reply="501 5.5.4 Invalid SIZE parameter"', m) ~= 2 then
	T.fail("malformed SIZE= must get 501 5.5.4")
end
mt.disconnect(conn)
T.done("SIZE= over the limit: 552 5.3.4 at MAIL; malformed: 501 5.5.4")

-- A client that declares a small SIZE= or none is still measured at eom.
conn = session()
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>", "SIZE=100")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
T.data(conn)
message(conn, SMFIR_REPLYCODE, 12000)
T.reply(conn, "552", "5.3.4", SIZE_TEXT)
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
T.data(conn)
message(conn, SMFIR_REPLYCODE, 12000)
T.reply(conn, "552", "5.3.4", SIZE_TEXT)
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
T.data(conn)
message(conn, SMFIR_CONTINUE, 9000)
mt.disconnect(conn)
T.done("real size checked at eom: lying and missing SIZE= refused")

-- Per-login limits from a map: alice 50k, bob 1k.
conn = session()
login(conn, "alice")
T.mail(conn, SMFIR_CONTINUE, "<alice@example.com>", "SIZE=40000")
T.rcpt(conn, SMFIR_CONTINUE, "<x@elsewhere.example>")
T.data(conn)
message(conn, SMFIR_CONTINUE, 40000)
mt.disconnect(conn)
conn = session()
login(conn, "bob")
T.mail(conn, SMFIR_REPLYCODE, "<bob@example.com>", "SIZE=2000")
T.mail(conn, SMFIR_CONTINUE, "<bob@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<x@elsewhere.example>")
T.data(conn)
message(conn, SMFIR_REPLYCODE, 2000)
T.reply(conn, "552", "5.3.4", SIZE_TEXT)
mt.disconnect(conn)
T.done("size limits per SASL login")

-- Recipients: 3 per message on this listener; past it 452 4.5.3, the
-- earlier ones stay accepted and the message goes through. A refused
-- recipient does not count.
m = T.log_mark()
conn = session()
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<r1@example.com>")
T.rcpt(conn, SMFIR_REPLYCODE, "<r@elsewhere.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<r2@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<r3@example.com>")
T.rcpt(conn, SMFIR_REPLYCODE, "<r4@example.com>")
T.rcpt(conn, SMFIR_REPLYCODE, "<r5@example.com>")
T.data(conn)
message(conn, SMFIR_CONTINUE, 100)
if T.log_count('reply="452 4.5.3 Too many recipients"', m) ~= 2 then
	T.fail("the 4th and 5th recipients must get 452 4.5.3")
end
T.log_has('rcpt=<r4@example.com> reply="452 4.5.3 Too many recipients"', m)
-- The next message starts counting again.
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<r1@example.com>")
mt.disconnect(conn)
T.done("recipients past the limit: 452 4.5.3, refused ones not counted")

-- The submission listener allows 5 (map keyed by listener.name).
conn = session("submission")
login(conn, "alice")
T.mail(conn, SMFIR_CONTINUE, "<alice@example.com>")
for i = 1, 5 do
	T.rcpt(conn, SMFIR_CONTINUE, "<s" .. i .. "@elsewhere.example>")
end
m = T.log_mark()
T.rcpt(conn, SMFIR_REPLYCODE, "<s6@elsewhere.example>")
T.log_has('rcpt=<s6@elsewhere.example> reply="452 4.5.3 Too many recipients"',
    m)
mt.disconnect(conn)
T.done("recipient limit per listener")

-- Anti-relay: one MAIL per address, so that the recipient limit stays out
-- of the way. want: C (continue), R (554 relay), S (501 syntax).
local relay = {
	{"<bob@example.com>", "C"},
	{"<Bob@EXAMPLE.COM.>", "C"},
	{"<postmaster>", "C"},
	{"<\"bob smith\"@example.com>", "C"},
	{"<bob%evil.example@example.com>", "R"},
	{"<evil.example!bob@example.com>", "R"},
	{"<\"bob@evil.example\"@example.com>", "R"},
	{"<\"bob%evil.example\"@example.com>", "R"},
	{"<@evil.example:bob@example.com>", "R"},
	{"<@example.com:bob@evil.example>", "R"},
	{"<bob%example.com@evil.example>", "R"},
	{"<bob@evil.example>", "R"},
	{"<bob@[192.0.2.1]>", "C"},
	{"<bob@[IPv6:::ffff:192.0.2.1]>", "C"},
	{"<bob@[192.0.2.2]>", "R"},
	{"<bob@mx.example.org>", "C"},
	{"<bob@example.org>", "R"},
	{"<bob@evil.example@example.com>", "S"},
	{"<bob@[evil.example]>", "S"},
	{"<bob@example.com..>", "S"},
}
local nrelay, nsyntax = 0, 0
m = T.log_mark()
conn = session()
for _, c in ipairs(relay) do
	T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
	T.rcpt(conn, c[2] == "C" and SMFIR_CONTINUE or SMFIR_REPLYCODE, c[1])
	if c[2] == "R" then nrelay = nrelay + 1 end
	if c[2] == "S" then nsyntax = nsyntax + 1 end
end
if T.log_count('reply="554 5.7.1 Relay access denied"', m) ~= nrelay then
	T.fail("want " .. nrelay .. " relay refusals")
end
if T.log_count('reply="501 5.1.3 Bad recipient address syntax"', m) ~=
    nsyntax then
	T.fail("want " .. nsyntax .. " syntax refusals")
end
-- Logged in, the same client may relay, routed addresses included.
login(conn, "alice")
T.mail(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob%evil.example@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@evil.example>")
mt.disconnect(conn)
T.done("anti-relay: routed, quoted, literal and subdomain addresses")

-- Header limits at eom.
local many, big = {}, {}
for i = 1, 31 do
	many[i] = {"X-H" .. i, "v"}
end
for i = 1, 8 do
	big[i] = {"X-Big" .. i, string.rep("y", 600)}
end
conn = session()
for _, c in ipairs({
	{many, "Too many header fields"},
	{big, "Header section too large"},
	{{{"X-Long", string.rep("z", 1000)}}, "Header line too long"},
}) do
	T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
	T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
	T.data(conn)
	message(conn, SMFIR_REPLYCODE, 10, c[1])
	T.reply(conn, "552", "5.3.4", c[2])
end
-- A folded header of short lines passes the line limit.
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
T.data(conn)
message(conn, SMFIR_CONTINUE, 10, {{"X-Folded", string.rep("w", 500) ..
    "\n\t" .. string.rep("w", 500)}})
mt.disconnect(conn)
T.done("header count, header bytes and longest header line")
