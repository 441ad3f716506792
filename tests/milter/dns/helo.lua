-- helo.lua - HELO/EHLO conditions with Postfix's replies: bare IP,
-- invalid syntax, not fully qualified, our own name or address, and a
-- name that does not resolve (nor one whose A lookup fails: down.lua).
-- A refusal is logged at HELO and answered at MAIL.
dofile(lib)

local function helo(name, want, text)
	local m = T.log_mark()
	local conn = T.connect()
	T.helo(conn, name, SMFIR_CONTINUE)
	if want ~= SMFIR_CONTINUE then
		T.mail(conn, want, "<x@none.test>")
	end
	if text ~= nil then
		T.log_has(text, m)
	end
	mt.disconnect(conn)
end

helo("mail.good.test", SMFIR_CONTINUE)
helo("[198.51.100.7]", SMFIR_CONTINUE)
helo("[IPv6:2001:db8::7]", SMFIR_CONTINUE)
T.done("valid names and address literals pass")

-- A is asked first; AAAA and MX only for a name without one.
helo("v6only.good.test", SMFIR_CONTINUE)
helo("mxonly.good.test", SMFIR_CONTINUE)
T.done("a name with only AAAA or only MX resolves")

helo("198.51.100.7", SMFIR_REPLYCODE, 'rule=helo-bare-ip action=reject ' ..
    'client=198.51.100.7 reply="504 5.5.2 Helo command rejected: ' ..
    'address literals need brackets"')
T.done("bare IP")

helo("bad_name!.test", SMFIR_REPLYCODE, 'reply="501 5.5.2 Helo command ' ..
    'rejected: Invalid name"')
helo("[300.1.2.3]", SMFIR_REPLYCODE, 'reply="501 5.5.2 Helo command ' ..
    'rejected: Invalid name"')
helo("-bad.good.test", SMFIR_REPLYCODE, 'rule=helo-invalid')
T.done("invalid syntax")

helo("mailhost", SMFIR_REPLYCODE, 'reply="504 5.5.2 Helo command ' ..
    'rejected: need fully-qualified hostname"')
helo("host.123", SMFIR_REPLYCODE, 'rule=helo-fqdn')
T.done("not fully qualified")

helo("mx.example.net", SMFIR_REPLYCODE, 'reply="550 5.7.1 Helo command ' ..
    'rejected: You are not me"')
helo("[192.0.2.1]", SMFIR_REPLYCODE, 'rule=helo-ours')
T.done("our own name and address")

helo("nothere.good.test", SMFIR_REPLYCODE, 'reply="550 5.7.1 Helo ' ..
    'command rejected: Host not found"')
T.done("name that does not resolve")
