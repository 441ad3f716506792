-- down.lua - the DNS server is stopped: DNS lists are skipped (their
-- default), the checks that must not pass unchecked tempfail with 451
-- 4.7.1, and SPF gives temperror, 451 4.7.24 (RFC 7372).
dofile(lib)

-- 192.0.2.20 is listed, but the lists cannot be asked: skipped. An
-- address literal needs no lookup; SPF does.
local m = T.log_mark()
local conn = T.connect("192.0.2.20")
T.helo(conn, "[192.0.2.20]")
T.log_has("dnslist bl: lookup of 20.2.0.192.bl.test failed; skipped", m)
T.mail(conn, SMFIR_REPLYCODE, "<alice@good.test>")
T.log_has('rule=spf-temperror action=tempfail client=192.0.2.20 ' ..
    'sender=<alice@good.test> reply="451 4.7.24 SPF validation error ' ..
    '(DNS), try again later"', m)
mt.disconnect(conn)
T.done("lists skipped, SPF temperror: 451 4.7.24")

m = T.log_mark()
conn = T.connect("198.51.100.7")
T.helo(conn, "mail.good.test", SMFIR_CONTINUE)
T.mail(conn, SMFIR_REPLYCODE, "<x@good.test>")
T.log_has('stage=mail rule=helo-unknown action=tempfail ' ..
    'client=198.51.100.7 sender=<x@good.test> ' ..
    'reply="451 4.7.1 Temporary DNS lookup failure, try again later"', m)
mt.disconnect(conn)
T.done("HELO lookup failed: 451 4.7.1")

m = T.log_mark()
conn = T.connect("192.0.2.42")
T.helo(conn, "[192.0.2.42]", SMFIR_REPLYCODE)
T.log_has('rule=no-rdns action=tempfail client=192.0.2.42 ' ..
    'reply="451 4.7.1 Temporary DNS lookup failure, try again later"', m)
mt.disconnect(conn)
T.done("reverse lookup failed: 451 4.7.1")
