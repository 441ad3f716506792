-- 06-reset.lua - several messages on one connection (RSET after end of
-- message and after abort): message state starts empty, connection state
-- (client, accept at connect, connect verdict) stays.
dofile(lib)

-- Message state: accept, added headers and recipients do not leak.
local conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_CONTINUE, "<vip@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
T.message(conn, SMFIR_CONTINUE)
T.mail(conn, SMFIR_CONTINUE, "<news@tagged.example>")
T.rcpt(conn, SMFIR_REPLYCODE, "<someone@elsewhere.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE)
T.hdradd(conn, "X-Tollgate", "tagged by tag")
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE)
T.no_hdradd(conn)
T.done("accept and add-header are per message")

-- Abort in the middle of a message, then a new one.
T.mail(conn, SMFIR_CONTINUE, "<vip@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
mt.abort(conn)
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_REPLYCODE, "<someone@elsewhere.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_REPLYCODE, {{"Subject", "Buy now"}})
T.reply(conn, "554", "5.7.1", "Spam subject from 198.51.100.7")
-- a rejected message does not taint the next one
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "fine"}})
mt.disconnect(conn)
T.done("abort and reject reset the message only")

-- Connection state stays: a relay client relays in every message, a
-- trusted client stays trusted after abort.
conn = T.connect("10.20.30.40")
T.helo(conn, "client.example.net")
for i = 1, 3 do
	T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
	T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
	T.message(conn, SMFIR_CONTINUE)
end
mt.disconnect(conn)
conn = T.connect("192.0.2.10")
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_CONTINUE, "<spammer@bad.example>")
mt.abort(conn)
T.mail(conn, SMFIR_CONTINUE, "<spammer@bad.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "buy now"}})
mt.disconnect(conn)
T.done("client and accept at connect last for the connection")
