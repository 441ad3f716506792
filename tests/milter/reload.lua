-- reload.lua - SIGHUP reloads the policy: a message in flight finishes on
-- the policy it started with, later messages and new connections see the
-- new one, a connection never moves to a policy that needs protocol steps
-- it did not negotiate, and a broken policy keeps the previous one.
-- Runs against its own daemon (run.sh: the globals conf and pidfile).
dofile(lib)

local function reload(name)
	T.sh(srcdir .. "/reload.sh " .. srcdir .. "/" .. name .. " " .. conf ..
	    " " .. pidfile .. " " .. log)
end

local function open()
	local conn = T.connect()
	T.helo(conn, "client.example.net")
	return conn
end

-- v1 reads no header: headers, end of header and body are negotiated
-- away. DATA never is by libmilter's engine (inet sockets would stall
-- without it); the native engine skips it on unix sockets only, when no
-- rule is at DATA (v1 has none).
local a = open()
if not mt.test_option(a, SMFIP_NOHDRS) or not mt.test_option(a, SMFIP_NOBODY)
    or not mt.test_option(a, SMFIP_NOEOH) then
	T.fail("v1: headers/body/eoh should be negotiated away")
end
if engine ~= "native" and mt.test_option(a, SMFIP_NODATA) then
	T.fail("DATA must never be negotiated away")
end
if engine == "native" and not mt.test_option(a, SMFIP_NODATA) then
	T.fail("native engine, unix socket, no DATA rule: DATA not skipped")
end
T.mail(a, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(a, SMFIR_REPLYCODE, "<v1only@example.com>")

local m = T.log_mark()
reload("reload-v2.conf")
T.log_has("policy reloaded (generation 2, 2 rules)", m)

-- the message in flight: still v1
T.rcpt(a, SMFIR_REPLYCODE, "<v1only@example.com>")
T.rcpt(a, SMFIR_CONTINUE, "<v2only@example.com>")
T.data(a)
T.eom(a, SMFIR_CONTINUE)
T.done("message in flight finishes on the old policy")

-- a new connection: v2
local b = open()
T.mail(b, SMFIR_REPLYCODE, "<new@example.com>")
T.mail(b, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(b, SMFIR_CONTINUE, "<v1only@example.com>")
T.rcpt(b, SMFIR_REPLYCODE, "<v2only@example.com>")
mt.disconnect(b)
-- the old connection's next message: v2 too
T.mail(a, SMFIR_REPLYCODE, "<new@example.com>")
T.mail(a, SMFIR_CONTINUE, "<x@example.net>")
T.rcpt(a, SMFIR_CONTINUE, "<v1only@example.com>")
T.done("new connection and next message see the new policy")

-- v3 reads headers: connection a (no headers negotiated) keeps v2.
m = T.log_mark()
reload("reload-v3.conf")
T.log_has("policy reloaded (generation 3, 2 rules)", m)
T.mail(a, SMFIR_REPLYCODE, "<new@example.com>")
T.mail(a, SMFIR_CONTINUE, "<third@example.com>")
mt.disconnect(a)
local c = open()
if mt.test_option(c, SMFIP_NOHDRS) then
	T.fail("v3: headers must be negotiated")
end
T.mail(c, SMFIR_REPLYCODE, "<third@example.com>")
T.mail(c, SMFIR_CONTINUE, "<new@example.com>")
T.rcpt(c, SMFIR_CONTINUE, "<a@example.com>")
T.message(c, SMFIR_REPLYCODE, {{"Subject", "v3 test"}})
T.reply(c, "554", "5.7.1", "Subject refused by v3")
mt.disconnect(c)
T.done("a policy needing more protocol steps waits for new connections")

-- A broken policy: every error logged, generation 3 kept.
m = T.log_mark()
reload("reload-broken.conf")
T.log_has("reload failed, keeping generation 3", m)
T.log_has("policy.conf:3:", m)
T.log_has("policy.conf:4:", m)
c = open()
T.mail(c, SMFIR_REPLYCODE, "<third@example.com>")
T.mail(c, SMFIR_CONTINUE, "<x@example.com>")
mt.disconnect(c)
T.done("broken policy: reload fails, the previous policy stays")
