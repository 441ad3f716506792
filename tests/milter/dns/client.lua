-- client.lua - the client's name from DNS: reverse DNS present,
-- forward-confirmed, and a pattern for dynamic-looking names.
dofile(lib)

local function refused(ip, text)
	local m = T.log_mark()
	local conn = T.connect(ip)
	T.helo(conn, "mail.good.test", SMFIR_REPLYCODE)
	T.log_has(text, m)
	mt.disconnect(conn)
end

local conn = T.connect("192.0.2.40")
T.helo(conn, "mail.good.test")
T.mail(conn, SMFIR_CONTINUE, "<x@good.test>")
mt.disconnect(conn)
T.done("PTR mail.good.test, confirmed by its A record")

refused("192.0.2.41", 'rule=no-fcrdns action=reject client=192.0.2.41 ' ..
    'reply="550 5.7.25 Client host rejected: cannot find your hostname, ' ..
    '[192.0.2.41]"')
T.done("PTR name that does not point back")

refused("192.0.2.42", 'rule=no-rdns action=reject client=192.0.2.42 ' ..
    'reply="550 5.7.25 Client host rejected: cannot find your reverse ' ..
    'hostname, [192.0.2.42]"')
T.done("no PTR record")

refused("192.0.2.43", 'rule=dynamic action=reject client=192.0.2.43 ' ..
    'reply="550 5.7.1 Client host rejected: dynamic-looking name"')
T.done("dynamic-looking name")
