-- 04-auth.lua - SASL macros: missing {auth_authen} means unauthenticated
-- (and is logged once per session); present, it feeds authenticated and
-- sasl.login. Listener and queue-id macros reach the log lines.
dofile(lib)

-- No auth macros at all: the need-auth rule refuses, once logged.
local m = T.log_mark()
local conn = T.connect()
T.helo(conn, "client.example.net")
T.mail(conn, SMFIR_REPLYCODE, "<alice@submit.example>")
T.mail(conn, SMFIR_REPLYCODE, "<bob@submit.example>")
T.log_has("macro {auth_authen} not sent by the MTA; treating the session " ..
    "as unauthenticated", m)
if T.log_count("macro {auth_authen} not sent", m) ~= 1 then
	T.fail("the missing macro must be logged once per session")
end
T.log_has('rule=need-auth action=reject client=198.51.100.7 ' ..
    'sender=<bob@submit.example> reply="530 5.7.0 Authentication required"', m)
-- Unauthenticated clients may not relay either.
T.mail(conn, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(conn, SMFIR_REPLYCODE, "<someone@elsewhere.example>")
mt.disconnect(conn)
T.done("missing auth macros: unauthenticated, logged once")

-- Authenticated: MAIL passes, relaying is allowed, the login is tagged.
m = T.log_mark()
conn = T.connect()
T.helo(conn, "client.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "4XyZ1", "{auth_type}", "PLAIN",
    "{auth_authen}", "alice@submit.example")
T.mail(conn, SMFIR_CONTINUE, "<alice@submit.example>")
mt.macro(conn, SMFIC_RCPT, "i", "4XyZ1", "{rcpt_addr}", "x@elsewhere.example")
T.rcpt(conn, SMFIR_CONTINUE, "<someone@elsewhere.example>")
T.message(conn, SMFIR_CONTINUE, {{"Subject", "hi"}})
T.hdradd(conn, "X-Tollgate-Login", "alice@submit.example")
if T.log_count("macro {auth_authen} not sent", m) ~= 0 then
	T.fail("macro reported missing although sent")
end
mt.disconnect(conn)
T.done("auth macros: authenticated, sasl.login")

-- The queue id from "i" is in the log lines from then on.
m = T.log_mark()
conn = T.connect()
T.helo(conn, "client.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "QID42")
T.mail(conn, SMFIR_REPLYCODE, "<later@example.com>")
T.log_has(": QID42: stage=mail rule=deferred-sender action=tempfail", m)
mt.disconnect(conn)
T.done("queue id in log lines")
