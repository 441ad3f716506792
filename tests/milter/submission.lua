-- submission.lua - the outgoing-server policy (submission-rules.inc) over
-- the milter protocol, against a daemon whose Cyrus SASL sasldb run.sh
-- made with saslpasswd2 (users alice and bob in realm example.org).
-- Reply codes before end of message are read from the daemon's log line
-- (miltertest only reports that a reply was set).
dofile(lib)

local sasldb = string.gsub(conf, "policy%.conf$", "sasl/sasldb2")

-- connect to a listener port; tls: nil or {version, bits, verify, issuer}
local function submit(port, tls)
	local conn = mt.connect("unix:" .. socket, 20, 0.25)
	if conn == nil then
		T.fail("mt.connect failed")
	end
	mt.macro(conn, SMFIC_CONNECT, "j", "mail.example.org",
	    "{daemon_name}", "submission", "{daemon_port}", tostring(port))
	if mt.conninfo(conn, "client.example.net", "198.51.100.7") ~= nil then
		T.fail("conninfo")
	end
	T.check(conn, SMFIR_CONTINUE, "connect")
	if tls ~= nil then
		mt.macro(conn, SMFIC_HELO, "{tls_version}", tls[1],
		    "{cipher}", "TLS_AES_256_GCM_SHA384",
		    "{cipher_bits}", tostring(tls[2]),
		    "{verify}", tls[3] or "NO",
		    "{cert_issuer}", tls[4] or "")
	end
	T.helo(conn, "client.example.net")
	return conn
end

local TLS = {"TLSv1.3", 256}

-- mail(conn, login, mech, from): MAIL FROM with the auth macros
local function mail(conn, want, from, login, mech)
	if login ~= nil then
		mt.macro(conn, SMFIC_MAIL, "{auth_type}", mech or "PLAIN",
		    "{auth_authen}", login)
	end
	T.mail(conn, want, from)
end

local function refused(conn, m, reply, step)
	T.log_has('reply="' .. reply .. '"', m)
	mt.disconnect(conn)
	T.done(step)
end

-- Unauthenticated: 530 5.7.0.
local m = T.log_mark()
local conn = submit(2525, TLS)
mail(conn, SMFIR_REPLYCODE, "<alice@example.org>")
refused(conn, m, "530 5.7.0 Authentication required", "no AUTH: 530 5.7.0")

-- Port 587 without STARTTLS.
m = T.log_mark()
conn = submit(587)
mail(conn, SMFIR_REPLYCODE, "<alice@example.org>", "alice")
refused(conn, m, "530 5.7.0 Must issue a STARTTLS command first",
    "587 without TLS: 530 5.7.0")

-- PLAIN without TLS on a listener that does not require TLS.
m = T.log_mark()
conn = submit(2525)
mail(conn, SMFIR_REPLYCODE, "<alice@example.org>", "alice", "PLAIN")
refused(conn, m, "538 5.7.11 Encryption required for requested " ..
    "authentication mechanism", "PLAIN without TLS: 538 5.7.11")

-- A mechanism not on the list; old TLS.
m = T.log_mark()
conn = submit(587, TLS)
mail(conn, SMFIR_REPLYCODE, "<alice@example.org>", "alice", "CRAM-MD5")
refused(conn, m, "534 5.7.9 Authentication mechanism is too weak",
    "CRAM-MD5: 534 5.7.9")
m = T.log_mark()
conn = submit(587, {"TLSv1", 256})
mail(conn, SMFIR_REPLYCODE, "<alice@example.org>", "alice")
refused(conn, m, "530 5.7.0 TLS too weak: use TLS 1.2 or later",
    "TLSv1: refused")

-- A relay with a verified client certificate needs no AUTH.
conn = submit(587, {"TLSv1.3", 256, "OK", "CN=Example Relay CA"})
mail(conn, SMFIR_CONTINUE, "<anyone@example.net>")
mt.disconnect(conn)
T.done("certified relay: accepted without AUTH")

-- alice as herself, "alice" typed without realm: accepted, with our
-- Authentication-Results on top and a forged one removed.
m = T.log_mark()
conn = submit(587, TLS)
mail(conn, SMFIR_CONTINUE, "<alice@example.org>", "alice")
T.rcpt(conn, SMFIR_CONTINUE, "<friend@elsewhere.example>")
T.data(conn)
T.message(conn, SMFIR_CONTINUE, {
    {"Authentication-Results", "mail.example.org; auth=pass smtp.auth=boss"},
    {"Authentication-Results", "other.example; spf=pass"},
    {"From", "Alice <alice@example.org>"},
    {"Subject", "hi"}})
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results",
    "mail.example.org; auth=pass smtp.auth=alice@example.org") then
	T.fail("eom: our Authentication-Results not inserted")
end
if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then
	T.fail("eom: forged Authentication-Results not removed")
end
T.log_has("removed forged Authentication-Results #1", m)
if T.log_count("removed forged Authentication-Results", m) ~= 1 then
	T.fail("only the header claiming our authserv-id may go")
end
-- RSET: a new message on the same connection keeps the login.
mt.abort(conn)
mail(conn, SMFIR_CONTINUE, "<sales@example.org>")
mt.disconnect(conn)
T.done("alice as herself: accepted, Authentication-Results, RSET")

-- alice as bob: by envelope, then by From: (envelope fine).
m = T.log_mark()
conn = submit(587, TLS)
mail(conn, SMFIR_REPLYCODE, "<bob@example.org>", "alice@example.org")
T.log_has('reply="553 5.7.1 Sender address rejected: not owned by user ' ..
    'alice@example.org"', m)
mail(conn, SMFIR_CONTINUE, "<alice@example.org>")
T.rcpt(conn, SMFIR_CONTINUE, "<friend@elsewhere.example>")
T.data(conn)
T.message(conn, SMFIR_REPLYCODE, {{"From", "Bob <bob@example.org>"}})
T.reply(conn, "553", "5.7.1",
    "From address rejected: not owned by user alice@example.org")
mt.disconnect(conn)
T.done("alice as bob: 553 5.7.1 by envelope and by From:")

-- Display-name and encoded-word forgery in From:.
for _, from in ipairs({
    "\"bob@example.org\" <alice@example.org>",
    "=?UTF-8?B?Ym9iQGV4YW1wbGUub3Jn?= <alice@example.org>",
    "alice@example.org, bob@example.org"}) do
	conn = submit(587, TLS)
	mail(conn, SMFIR_CONTINUE, "<alice@example.org>", "alice")
	T.rcpt(conn, SMFIR_CONTINUE, "<friend@elsewhere.example>")
	T.data(conn)
	T.message(conn, SMFIR_REPLYCODE, {{"From", from}})
	T.reply(conn, "553", "5.7.1",
	    "From address rejected: not owned by user alice")
	mt.disconnect(conn)
end
T.done("From: display name, encoded word, two addresses: 553 5.7.1")

-- A deleted account is refused at once, in a session that logged in.
conn = submit(587, TLS)
mail(conn, SMFIR_CONTINUE, "<bob@example.org>", "bob")
T.sh("saslpasswd2 -d -f '" .. sasldb .. "' -u example.org bob")
m = T.log_mark()
mail(conn, SMFIR_REPLYCODE, "<bob@example.org>")
T.log_has('reply="535 5.7.8 Authentication credentials no longer valid"', m)
mt.disconnect(conn)
T.done("deleted account: 535 5.7.8")

-- The MTA sent {auth_type} but not {auth_authen}: said, unauthenticated.
m = T.log_mark()
conn = submit(587, TLS)
mt.macro(conn, SMFIC_MAIL, "{auth_type}", "PLAIN")
T.mail(conn, SMFIR_REPLYCODE, "<alice@example.org>")
T.log_has("sent {auth_type} but not {auth_authen}", m)
refused(conn, m, "530 5.7.0 Authentication required",
    "auth_type without auth_authen: warned, 530")

-- Logins the MTA should never send: tempfail, not 5xx.
for _, login in ipairs({"al\1ice", "j\246rg", string.rep("x", 300)}) do
	m = T.log_mark()
	conn = submit(587, TLS)
	mail(conn, SMFIR_REPLYCODE, "<alice@example.org>", login)
	refused(conn, m, "451 4.7.0 SASL login not usable, try again later",
	    "bad login (" .. #login .. " bytes): 451 4.7.0")
end
