-- ops.lua - dry runs and log levels through the milter protocol. run.sh
-- passes mode: "dry" (set dry-run yes), "quiet" (-D and set log-level
-- warning) or "enforce" (the same rules, enforced), and redis=1 when the
-- policy has a limit on a Redis store that is down.
dofile(lib)

local dry = mode ~= "enforce"
local verbose = mode ~= "quiet"

local function open()
	local conn = T.connect()
	T.helo(conn, "client.example.net")
	return conn
end

-- Policy verdicts: logged with dry-run=yes and not enforced in a dry run.
local m = T.log_mark()
local conn = open()
T.mail(conn, SMFIR_CONTINUE, "<a@example.net>")
local refused = dry and SMFIR_CONTINUE or SMFIR_REPLYCODE
T.rcpt(conn, refused, "<blocked@example.org>")
T.rcpt(conn, refused, "<later@example.org>")
T.rcpt(conn, SMFIR_CONTINUE, "<tag@example.org>")
T.rcpt(conn, SMFIR_CONTINUE, "<hold@example.org>")
T.rcpt(conn, SMFIR_CONTINUE, "<ok@example.org>")
T.message(conn, SMFIR_CONTINUE)
if dry then
	T.no_quarantine(conn)
	T.no_hdradd(conn)
else
	T.quarantine(conn, "held")
	T.hdradd(conn, "X-Tag", "tagged")
end
mt.disconnect(conn)
if mode == "dry" then
	T.log_has('rule=block action=reject dry-run=yes client=198.51.100.7 ' ..
	    'sender=<a@example.net> rcpt=<blocked@example.org> ' ..
	    'reply="550 5.7.1 Recipient blocked@example.org blocked"', m)
	T.log_has('rule=defer action=tempfail dry-run=yes', m)
	T.log_has('rule=hold action=quarantine dry-run=yes', m)
	T.log_has('dry-run=yes: not applied: add-header quarantine', m)
elseif mode == "enforce" then
	T.log_has('rule=block action=reject client=', m)
end
if not verbose and T.log_count("rule=block", m) ~= 0 then
	T.fail("log-level warning: verdict lines still logged")
end
T.done(mode .. ": policy verdicts")

-- A store that is down gives 451 4.3.0, enforced even in a dry run.
if redis == "1" then
	m = T.log_mark()
	conn = open()
	mt.macro(conn, SMFIC_MAIL, "{auth_type}", "PLAIN",
	    "{auth_authen}", "carol")
	T.mail(conn, SMFIR_CONTINUE, "<carol@example.net>")
	T.rcpt(conn, SMFIR_REPLYCODE, "<ok@example.org>")
	mt.disconnect(conn)
	T.log_has("limit login-rcpts: redis store unavailable", m)
	if verbose then
		T.log_has('limit=login-rcpts action=tempfail client=', m)
		T.log_has('reply="451 4.3.0 ', m)
	end
	T.done(mode .. ": store errors are enforced")
end
