-- burst.lua - messages of several recipients each for one login, against
-- one daemon; prints "accepted=N" (recipients accepted and committed at
-- end of message). Globals from run.sh: socket, login, messages, rcpts.
dofile(lib)

local accepted = 0
for m = 1, tonumber(messages) do
	local conn = T.connect()
	T.helo(conn, "client.example.net")
	mt.macro(conn, SMFIC_MAIL, "i", "Q" .. m, "{auth_type}", "PLAIN",
	    "{auth_authen}", login)
	T.mail(conn, SMFIR_CONTINUE, "<" .. login .. ">")
	local ok = 0
	for r = 1, tonumber(rcpts) do
		if mt.rcptto(conn, "<r" .. r .. "@example.net>") ~= nil then
			T.fail("rcptto failed")
		end
		local got = mt.getreply(conn)
		if got == SMFIR_CONTINUE then
			ok = ok + 1
		elseif got ~= SMFIR_REPLYCODE then
			T.fail("rcpt: unexpected reply " .. tostring(got))
		end
	end
	if ok > 0 then
		T.data(conn)
		T.message(conn, SMFIR_CONTINUE)
		accepted = accepted + ok
	end
	mt.disconnect(conn)
end
mt.echo("accepted=" .. accepted)
