-- 01-stages.lua - a rule at every stage: connect (answered at HELO and
-- MAIL), helo, mail, rcpt (one of two recipients), data, eom (header and
-- size conditions). Exact reply texts are checked at eom, and in the log
-- for the earlier stages.
dofile(lib)

-- connect: reject, answered at the next commands (after a refused MAIL
-- an MTA sends no RCPT, and libmilter would not answer one). The reply
-- text is in the log: miltertest shows it only at eom.
local m = T.log_mark()
local conn = T.connect("192.0.2.66")
T.helo(conn, "client.example.net", SMFIR_REPLYCODE)
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>")
T.mail(conn, SMFIR_REPLYCODE, "<b@example.net>")
T.log_has("stage=connect rule=conn-reject action=reject client=192.0.2.66 " ..
    'reply="554 5.7.1 Connection from 192.0.2.66 refused"', m)
T.log_has("stage=helo rule=conn-reject action=reject", m)
T.log_has("stage=mail rule=conn-reject action=reject client=192.0.2.66 " ..
    'sender=<b@example.net> reply="554 5.7.1 Connection from 192.0.2.66 refused"', m)
mt.disconnect(conn)
T.done("connect reject delivered at helo and every mail")

-- connect: tempfail, the same way; the helo is not even looked at.
m = T.log_mark()
conn = T.connect("192.0.2.77")
T.helo(conn, "bad.helo.example", SMFIR_REPLYCODE)
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>")
T.log_has('stage=mail rule=conn-tempfail action=tempfail client=192.0.2.77 ' ..
    'sender=<a@example.net> reply="450 4.7.0 Too busy for 192.0.2.77"', m)
mt.disconnect(conn)
T.done("connect tempfail delivered later")

-- helo: logged at HELO, answered at MAIL (as the MTAs would anyway), so
-- that a new HELO/EHLO can still be judged.
m = T.log_mark()
conn = T.connect()
T.helo(conn, "bad.helo.example", SMFIR_CONTINUE)
T.log_has('stage=helo rule=helo-reject action=reject client=198.51.100.7 ' ..
    'reply="550 5.7.1 Bad HELO bad.helo.example"', m)
T.mail(conn, SMFIR_REPLYCODE, "<a@example.net>")
T.log_has('stage=mail rule=helo-reject action=reject client=198.51.100.7 ' ..
    'sender=<a@example.net> reply="550 5.7.1 Bad HELO bad.helo.example"', m)
mt.disconnect(conn)
T.done("helo reject")

-- mail: a blocked sender (list table, @domain entry), then a good one.
m = T.log_mark()
conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_REPLYCODE, "<joe@evil.example>")
T.log_has('stage=mail rule=blocked-sender action=reject ' ..
    'client=198.51.100.7 sender=<joe@evil.example> ' ..
    'reply="550 5.7.1 Sender <joe@evil.example> blocked"', m)
T.mail(conn, SMFIR_REPLYCODE, "<spammer@bad.example>")
T.mail(conn, SMFIR_CONTINUE, "<good@example.net>")
-- rcpt: the relay rule refuses the second recipient only.
m = T.log_mark()
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.rcpt(conn, SMFIR_REPLYCODE, "<victim@elsewhere.example>")
T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.org>")
T.log_has('stage=rcpt rule=relay action=reject client=198.51.100.7 ' ..
    'sender=<good@example.net> rcpt=<victim@elsewhere.example> ' ..
    'reply="554 5.7.1 Relay access denied for <victim@elsewhere.example>"', m)
T.data(conn, SMFIR_CONTINUE)
T.message(conn, SMFIR_CONTINUE, {{"Subject", "hello"}})

mt.disconnect(conn)
T.done("mail reject; rcpt reject of one recipient out of three")

-- data
m = T.log_mark()
conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_CONTINUE, "<data@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.data(conn, SMFIR_REPLYCODE)
T.log_has('stage=data rule=data-reject action=reject', m)
mt.disconnect(conn)
T.done("data reject")

-- eom: a header condition
conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_CONTINUE, "<someone@example.net>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.data(conn, SMFIR_CONTINUE)
T.message(conn, SMFIR_REPLYCODE, {{"From", "x@example.net"},
    {"Subject", "BUY NOW cheap"}})
T.reply(conn, "554", "5.7.1", "Spam subject from 198.51.100.7")
mt.disconnect(conn)
T.done("eom reject on a header")

-- eom: a size condition (header + body bytes), under and over 100k.
conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_CONTINUE, "<size@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "small"}})

T.mail(conn, SMFIR_CONTINUE, "<size@example.com>")
T.rcpt(conn, SMFIR_CONTINUE, "<alice@example.com>")
T.header(conn, "Subject", "large")
T.eoh(conn)
local line = string.rep("x", 998) .. "\r\n"
for i = 1, 120 do
	T.body(conn, line)
end
T.eom(conn, SMFIR_REPLYCODE)
T.reply(conn, "552", "5.3.4", "Message too large")
mt.disconnect(conn)
T.done("eom reject on size")
