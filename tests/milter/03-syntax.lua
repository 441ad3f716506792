-- 03-syntax.lua - malformed envelope input is refused with 501 before any
-- rule runs: bad sender and recipient syntax, over-long addresses, bad
-- ESMTP SIZE= values.
dofile(lib)

local conn = T.connect()
T.helo(conn, "client.example.net")

local m = T.log_mark()
T.mail(conn, SMFIR_REPLYCODE, "<a@b@c>")
T.log_has('stage=mail rule=- action=reject client=198.51.100.7 ' ..
    'reply="501 5.1.7 Bad sender address syntax"', m)
T.mail(conn, SMFIR_REPLYCODE, "<unbalanced")
T.mail(conn, SMFIR_REPLYCODE, "<" .. string.rep("a", 600) .. "@example.com>")
T.mail(conn, SMFIR_REPLYCODE, "<a@" .. string.rep("b", 600) .. ".example>")
if T.log_count("501 5.1.7 Bad sender address syntax", m) ~= 4 then
	T.fail("want four 501 5.1.7 lines")
end
T.done("malformed and over-long senders: 501 5.1.7")

m = T.log_mark()
T.mail(conn, SMFIR_REPLYCODE, "<x@example.net>", "SIZE=abc")
T.mail(conn, SMFIR_REPLYCODE, "<x@example.net>", "SIZE=-5")
T.mail(conn, SMFIR_REPLYCODE, "<x@example.net>", "SIZE=99999999999999999999999")
T.mail(conn, SMFIR_REPLYCODE, "<x@example.net>", "BODY=8BITMIME", "SIZE=")
if T.log_count('reply="501 5.5.4 Invalid SIZE parameter"', m) ~= 4 then
	T.fail("want four 501 5.5.4 lines")
end
-- valid SIZE=: under and over the too-big rule's 10m
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>", "SIZE=1000", "BODY=8BITMIME")
T.mail(conn, SMFIR_REPLYCODE, "<x@example.net>", "size=20000000")
T.log_has('rule=too-big action=reject', m)
T.done("bad SIZE=: 501 5.5.4; size.declared from SIZE=")

m = T.log_mark()
T.mail(conn, SMFIR_CONTINUE, "<>")
T.rcpt(conn, SMFIR_REPLYCODE, "<a@b@c>")
T.rcpt(conn, SMFIR_REPLYCODE, "<broken")
T.rcpt(conn, SMFIR_REPLYCODE, "<" .. string.rep("r", 700) .. "@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
if T.log_count('reply="501 5.1.3 Bad recipient address syntax"', m) ~= 3 then
	T.fail("want three 501 5.1.3 lines")
end
T.message(conn, SMFIR_CONTINUE)
mt.disconnect(conn)
T.done("malformed and over-long recipients: 501 5.1.3; null sender ok")
