-- 05-robust.lua - hostile message content: 8-bit bytes in header values,
-- a large body, a 1 MB header value and NUL bytes (sent by rawmilter.pl,
-- since miltertest cannot); the daemon must survive all of it.
dofile(lib)

local function open()
	local conn = T.connect()
	T.helo(conn, "client.example.net")
	T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
	T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
	return conn
end

-- 8-bit and control bytes in header values; a header rule still applies.
local conn = open()
T.header(conn, "Subject", "caf\233 \255\254 \1\2\127 d\195\169j\195\160")
T.header(conn, "X-Bin", string.rep("\200", 800))
T.message(conn, SMFIR_CONTINUE)
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_REPLYCODE, {{"Subject", "buy now \200\201"}})
T.reply(conn, "554", "5.7.1", "Spam subject from 198.51.100.7")
mt.disconnect(conn)
T.done("8-bit bytes in header values")

-- A 10 MB body in 60 KB chunks (libmilter's packets stop at 64 KB).
conn = open()
T.header(conn, "Subject", "big")
T.eoh(conn)
local chunk = string.rep(string.rep("b", 78) .. "\r\n", 750)
for i = 1, 170 do
	T.body(conn, chunk)
end
T.eom(conn, SMFIR_CONTINUE)
mt.disconnect(conn)
T.done("10 MB body")

-- Raw protocol: a 1 MB header value, then NUL/CR/LF bytes in a value.
T.sh("perl " .. srcdir .. "/rawmilter.pl " .. socket .. " bighdr")
T.sh("perl " .. srcdir .. "/rawmilter.pl " .. socket .. " nulhdr")

-- Still alive and still judging.
conn = open()
T.message(conn, SMFIR_REPLYCODE, {{"Subject", "Buy now"}})
T.reply(conn, "554", "5.7.1", "Spam subject from 198.51.100.7")
mt.disconnect(conn)
T.done("1 MB header value and NUL bytes: daemon still answers")
