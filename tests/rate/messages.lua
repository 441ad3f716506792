-- messages.lua - the (N+1)th message of a login is refused at MAIL with
-- the limit's reply, whichever daemon it goes to (N = 3, in Redis).
-- Globals: socket (daemon a), socket_b, login.
dofile(lib)

local function message(sock, want)
	local save = socket
	socket = sock
	local conn = T.connect()
	socket = save
	T.helo(conn, "client.example.net")
	mt.macro(conn, SMFIC_MAIL, "i", "QM", "{auth_type}", "PLAIN",
	    "{auth_authen}", login)
	T.mail(conn, want, "<" .. login .. ">")
	if want == SMFIR_CONTINUE then
		T.rcpt(conn, SMFIR_CONTINUE, "<x@example.net>")
		T.data(conn)
		T.message(conn, SMFIR_CONTINUE)
	end
	mt.disconnect(conn)
end

-- An aborted message does not count.
local conn = T.connect()
T.helo(conn, "client.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "QA", "{auth_type}", "PLAIN",
    "{auth_authen}", login)
T.mail(conn, SMFIR_CONTINUE, "<" .. login .. ">")
T.rcpt(conn, SMFIR_CONTINUE, "<x@example.net>")
mt.abort(conn)
mt.disconnect(conn)

message(socket, SMFIR_CONTINUE)
message(socket_b, SMFIR_CONTINUE)
message(socket, SMFIR_CONTINUE)
local m = T.log_mark()
message(socket_b, SMFIR_REPLYCODE)
message(socket, SMFIR_REPLYCODE)
T.log_has('rule=msg-quota limit=login-msgs action=tempfail', m)
T.log_has('reply="450 4.7.1 Message quota of ' .. login .. ' used up"', m)
T.done("the 4th message of a login is refused, across two daemons")
