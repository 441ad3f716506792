-- probe.lua - one message of one recipient for login; prints
-- "result=CONTINUE" when it went through (and is counted), or
-- "result=REPLYCODE" when MAIL or RCPT was refused. Globals: socket, login;
-- hold, if set, is a command run once MAIL is accepted (snapshot.sh: stop
-- the daemon while this message is in flight).
dofile(lib)

local conn = T.connect()
T.helo(conn, "client.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "QP", "{auth_type}", "PLAIN",
    "{auth_authen}", login)
if mt.mailfrom(conn, "<" .. login .. ">") ~= nil then
	T.fail("mailfrom failed")
end
local got = mt.getreply(conn)
if got == SMFIR_CONTINUE and hold ~= nil then
	T.sh(hold)
end
if got == SMFIR_CONTINUE then
	if mt.rcptto(conn, "<probe@example.net>") ~= nil then
		T.fail("rcptto failed")
	end
	got = mt.getreply(conn)
end
if got == SMFIR_CONTINUE then
	T.data(conn)
	T.message(conn, SMFIR_CONTINUE)
	mt.echo("result=CONTINUE")
elseif got == SMFIR_REPLYCODE then
	mt.echo("result=REPLYCODE")
else
	T.fail("unexpected reply " .. tostring(got))
end
mt.disconnect(conn)
