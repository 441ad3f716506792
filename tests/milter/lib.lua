-- lib.lua - step helpers for the tollgate miltertest scripts, so that each
-- protocol step of a test is one line. Loaded with dofile(lib); run.sh
-- passes the globals socket (the daemon's socket path), log (its stderr
-- log file), srcdir (tests/milter) and lib (this file).
-- Every helper raises an error naming the step and what it got; miltertest
-- then exits non-zero and run.sh reports the script as failed.

T = {}

local names = {}
names[SMFIR_CONTINUE] = "CONTINUE"
names[SMFIR_ACCEPT] = "ACCEPT"
names[SMFIR_REJECT] = "REJECT"
names[SMFIR_TEMPFAIL] = "TEMPFAIL"
names[SMFIR_DISCARD] = "DISCARD"
names[SMFIR_REPLYCODE] = "REPLYCODE"

local function rname(r)
	return names[r] or ("'" .. string.char(r) .. "'")
end

-- T.fail(msg): say what failed, then stop the script. (miltertest does
-- not always print the error of a failed script itself.)
function T.fail(msg, level)
	local where = debug.getinfo((level or 2) + 1, "Sl")
	if where ~= nil then
		msg = where.short_src .. ":" .. where.currentline .. ": " .. msg
	end
	mt.echo("not ok - " .. msg)
	error(msg, 0)
end

-- T.check(conn, want, step): the last reply must be want
function T.check(conn, want, step)
	local got = mt.getreply(conn)
	if got ~= want then
		T.fail(step .. ": got " .. rname(got) .. ", want " ..
		    rname(want), 3)
	end
end

local function ok(err, step)
	if err ~= nil then
		T.fail(step .. ": " .. tostring(err), 3)
	end
end

-- T.connect(ip, host): a new connection through negotiate and connect
-- (with the listener macros an MTA would send); returns the handle.
function T.connect(ip, host, macros)
	local conn = mt.connect("unix:" .. socket, 20, 0.25)
	if conn == nil then
		T.fail("mt.connect(" .. socket .. ") failed")
	end
	if macros ~= false then
		mt.macro(conn, SMFIC_CONNECT, "j", "mx.example.net",
		    "{daemon_name}", "smtpd", "{daemon_addr}", "192.0.2.1",
		    "{daemon_port}", "25")
	end
	ok(mt.conninfo(conn, host or "client.example.net", ip or "198.51.100.7"),
	    "conninfo")
	T.check(conn, SMFIR_CONTINUE, "connect")
	return conn
end

function T.helo(conn, name, want)
	ok(mt.helo(conn, name), "helo")
	T.check(conn, want or SMFIR_CONTINUE, "helo " .. name)
end

-- T.mail(conn, want, from, params...): MAIL FROM with ESMTP parameters
function T.mail(conn, want, from, ...)
	ok(mt.mailfrom(conn, from, ...), "mailfrom")
	T.check(conn, want, "mail " .. from)
end

function T.rcpt(conn, want, to, ...)
	ok(mt.rcptto(conn, to, ...), "rcptto")
	T.check(conn, want, "rcpt " .. to)
end

-- DATA is skipped when the daemon negotiated it away (the native engine
-- does on a unix socket when no rule is at DATA): then nothing can refuse
-- there.
function T.data(conn, want)
	if mt.test_option(conn, SMFIP_NODATA) then
		if want ~= nil and want ~= SMFIR_CONTINUE then
			T.fail("data: negotiated away, but an answer was due", 2)
		end
		return
	end
	ok(mt.data(conn), "data")
	T.check(conn, want or SMFIR_CONTINUE, "data")
end

-- Headers, end of headers and body are skipped when the daemon negotiated
-- them away (its policy does not need them).
function T.header(conn, name, value)
	if mt.test_option(conn, SMFIP_NOHDRS) then
		return
	end
	ok(mt.header(conn, name, value), "header")
	T.check(conn, SMFIR_CONTINUE, "header " .. name)
end

function T.eoh(conn)
	if mt.test_option(conn, SMFIP_NOEOH) then
		return
	end
	ok(mt.eoh(conn), "eoh")
	T.check(conn, SMFIR_CONTINUE, "eoh")
end

function T.body(conn, text)
	if mt.test_option(conn, SMFIP_NOBODY) then
		return
	end
	ok(mt.bodystring(conn, text), "body")
	T.check(conn, SMFIR_CONTINUE, "body")
end

function T.eom(conn, want)
	ok(mt.eom(conn), "eom")
	T.check(conn, want, "eom")
end

-- T.message(conn, want, headers): headers (a list of {name, value}), a
-- short body and end of message, expecting want at eom.
function T.message(conn, want, headers)
	for _, h in ipairs(headers or {}) do
		T.header(conn, h[1], h[2])
	end
	T.eoh(conn)
	T.body(conn, "Hello.\r\n")
	T.eom(conn, want)
end

-- T.reply(conn, code, xcode, text): the reply set at end of message
function T.reply(conn, code, xcode, text)
	if not mt.eom_check(conn, MT_SMTPREPLY, code, xcode, text) then
		T.fail("eom: no reply \"" .. code .. " " .. xcode .. " " ..
		    text .. "\"")
	end
end

function T.no_reply(conn)
	if mt.getreply(conn) == SMFIR_REPLYCODE then
		T.fail("eom: unexpected SMTP reply")
	end
end

function T.hdradd(conn, name, value)
	if not mt.eom_check(conn, MT_HDRADD, name, value) then
		T.fail("eom: header " .. name .. ": " .. tostring(value) ..
		    " not added")
	end
end

function T.no_hdradd(conn)
	if mt.eom_check(conn, MT_HDRADD) then
		T.fail("eom: unexpected header added")
	end
end

function T.quarantine(conn, reason)
	if not mt.eom_check(conn, MT_QUARANTINE, reason) then
		T.fail("eom: no quarantine \"" .. tostring(reason) .. "\"")
	end
end

function T.no_quarantine(conn)
	if mt.eom_check(conn, MT_QUARANTINE) then
		T.fail("eom: unexpected quarantine")
	end
end

-- Log checks: the daemon runs with -f, its stderr goes to the file log.
-- Lines are written before the reply is sent, so they are there by now.
local function log_lines()
	local f = io.open(log, "r")
	if f == nil then
		T.fail("cannot read " .. log, 3)
	end
	local t = f:read("*a")
	f:close()
	return t
end

-- T.log_mark(): remember the end of the log; T.log_has(text[, since])
-- asserts that text (a plain string, not a pattern) was logged after it.
function T.log_mark()
	return #log_lines()
end

function T.log_has(text, since)
	local t = log_lines():sub((since or 0) + 1)
	if t:find(text, 1, true) == nil then
		T.fail("log: \"" .. text .. "\" not found")
	end
end

function T.log_count(text, since)
	local t = log_lines():sub((since or 0) + 1)
	local n, i = 0, 1
	while true do
		local s, e = t:find(text, i, true)
		if s == nil then
			return n
		end
		n, i = n + 1, e + 1
	end
end

-- T.sh(cmd): run a helper; fail the test if it fails.
function T.sh(cmd)
	local rc = os.execute(cmd)
	if rc ~= 0 and rc ~= true then
		T.fail("command failed (" .. tostring(rc) .. "): " .. cmd)
	end
end

function T.done(name)
	mt.echo("ok - " .. name)
end
