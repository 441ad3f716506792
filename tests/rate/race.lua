-- race.lua - one client of the concurrent race in run.sh: a message of
-- several recipients for one login, started at the same moment as every
-- other client. The client opens its session up to MAIL FROM, creates
-- READY..ID, then waits for the file GO (run.sh creates it once every
-- client is ready), so the recipients of all clients hit the two daemons
-- together. Prints "accepted=N". Globals: socket, login, rcpts, ready, id,
-- go.
dofile(lib)

local conn = T.connect()
T.helo(conn, "client.example.net")
mt.macro(conn, SMFIC_MAIL, "i", "QR" .. id, "{auth_type}", "PLAIN",
    "{auth_authen}", login)
T.mail(conn, SMFIR_CONTINUE, "<" .. login .. ">")

local f = io.open(ready .. id, "w")
f:close()
local waited = 0
while true do
	f = io.open(go, "r")
	if f ~= nil then
		f:close()
		break
	end
	waited = waited + 1
	if waited > 1500 then
		T.fail("no go after 15s")
	end
	os.execute("sleep 0.01")
end

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
end
mt.disconnect(conn)
mt.echo("accepted=" .. ok)
