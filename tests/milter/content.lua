-- content.lua - header checks and attachment rules of content.conf over
-- the milter protocol: required and duplicate headers, decoded Subject,
-- attachments by extension, double extension, spoofed name, archive,
-- checksum, and malformed MIME. Bodies are sent in several chunks, split mid-line.
dofile(lib)

local function open()
	local conn = T.connect()
	T.helo(conn, "client.example.net")
	return conn
end

local std = {{"From", "a@example.org"}, {"Date", "Mon, 1 Jan 2024 00:00:00 +0000"},
    {"Subject", "hello"}}

-- message(conn, sender, headers, body chunks, want)
local function message(conn, sender, headers, chunks, want)
	T.mail(conn, SMFIR_CONTINUE, "<" .. sender .. ">")
	T.rcpt(conn, SMFIR_CONTINUE, "<bob@example.com>")
	for _, h in ipairs(headers) do
		T.header(conn, h[1], h[2])
	end
	T.eoh(conn)
	for _, c in ipairs(chunks) do
		T.body(conn, c)
	end
	T.eom(conn, want)
end

local function mime(extra)
	local h = {}
	for _, v in ipairs(std) do h[#h + 1] = v end
	h[#h + 1] = {"MIME-Version", "1.0"}
	h[#h + 1] = {"Content-Type", extra or 'multipart/mixed; boundary="b1"'}
	return h
end

local function part(ctype, disp, data)
	return "--b1\r\nContent-Type: " .. ctype .. "\r\n" ..
	    (disp and ("Content-Disposition: " .. disp .. "\r\n") or "") ..
	    "Content-Transfer-Encoding: base64\r\n\r\n" .. data .. "\r\n"
end
local text = "--b1\r\nContent-Type: text/plain\r\n\r\nHello.\r\n"

-- Required and duplicate headers.
local conn = open()
message(conn, "a@example.org", {{"Date", "Mon, 1 Jan 2024 00:00:00 +0000"}},
    {"Hello.\r\n"}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.6.0", "Message has no From header")
message(conn, "a@example.org", {{"From", "a@example.org"}}, {"Hello.\r\n"},
    SMFIR_REPLYCODE)
T.reply(conn, "554", "5.6.0", "Message has no Date header")
local dup = {{"From", "a@example.org"}, {"Date", "x"}, {"Subject", "a"},
    {"Subject", "b"}}
message(conn, "a@example.org", dup, {"Hello.\r\n"}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.6.0", "Duplicate From, Date or Subject header")
message(conn, "a@strict.example", std, {"Hello.\r\n"}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.6.0", "Message-ID required")
-- the same headers from another domain pass
message(conn, "a@example.org", std, {"Hello.\r\n"}, SMFIR_CONTINUE)
T.no_reply(conn)
mt.disconnect(conn)
T.done("required, duplicate and configurable headers")

-- Subject matched after RFC 2047 decoding, not as sent.
conn = open()
local enc = {{"From", "a@example.org"}, {"Date", "x"}, {"Subject",
    "=?UTF-8?B?R3LDvMOfZSBhdXM=?= =?ISO-8859-1?Q?_K=F6ln?="}}
message(conn, "a@example.org", enc, {"Hello.\r\n"}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Spam subject")
mt.disconnect(conn)
T.done("decoded Subject")

-- Attachments. The body is split inside the delimiter and the base64.
conn = open()
local body = text .. part("application/octet-stream",
    'attachment; filename="invoice.pdf.exe"', "TVogZmFrZSBleGU=") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body:sub(1, 30), body:sub(31, 47),
    body:sub(48)}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Double extension attachment refused")
-- Names that hide their type: a right-to-left override (RFC 2047) shows
-- "invoice\u202efdp.exe" as "invoiceexe.pdf"; a zero-width space (RFC 2231)
-- in a name ending in .pdf, which no extension rule would catch.
body = text .. part("application/octet-stream",
    'attachment; filename="=?UTF-8?B?aW52b2ljZeKArmZkcC5leGU=?="',
    "TVogZmFrZSBleGU=") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body:sub(1, 100), body:sub(101)},
    SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Attachment file name disguises its type")
body = part("application/pdf", "attachment; filename*=UTF-8''" ..
    "statement%E2%80%8B.pdf", "JVBERi0xLjQgZmluZQ==") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Attachment file name disguises its type")
-- legitimate non-ASCII names pass: RFC 2231 and RFC 2047 "R\u00e9sum\u00e9"
body = text .. part("application/pdf", "attachment; filename*=UTF-8''" ..
    "R%C3%A9sum%C3%A9.pdf", "JVBERi0xLjQgZmluZQ==") ..
    part('application/pdf; name="=?UTF-8?Q?R=C3=A9sum=C3=A9_2024.pdf?="',
    nil, "JVBERi0xLjQgZmluZQ==") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_CONTINUE)
T.no_reply(conn)
T.no_quarantine(conn)
-- the next message of the connection starts a fresh parser
body = text .. part("application/pdf", 'attachment; filename="report.pdf"',
    "JVBERi0xLjQgZmluZQ==") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_CONTINUE)
T.no_reply(conn)
T.no_quarantine(conn)
body = part("application/x-msdownload", nil, "TVogZmFrZSBleGU="):gsub(
    "x%-msdownload", 'x-msdownload; name="setup.exe"') .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Executable attachments are not accepted")
-- RFC 2231 continuations and charset
body = "--b1\r\nContent-Type: application/octet-stream\r\n" ..
    "Content-Disposition: attachment;\r\n filename*0*=utf-8''R%C3%A4t;\r\n" ..
    " filename*1=\"sel.vbs\"\r\n\r\nAAAA\r\n--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Executable attachments are not accepted")
mt.disconnect(conn)
T.done("extension, double extension, RFC 2231 name, spoofed names")

conn = open()
body = part("application/zip", 'attachment; filename="files.zip"',
    "UEsgemlw") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_CONTINUE)
T.quarantine(conn, "archive attachment")
-- checksum: a harmless name, a blocked content
body = part("text/plain; name=\"notes.txt\"", nil,
    "dG9sbGdhdGUgYmxvY2tlZCBwYXlsb2Fk") .. "--b1--\r\n"
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Attachment blocked by its checksum")
mt.disconnect(conn)
T.done("archive quarantined, checksum refused")

-- Malformed MIME: the policy decides first for hold.example...
conn = open()
body = "--wrong\r\nContent-Type: application/octet-stream; name=\"x.exe\"\r\n" ..
    "\r\nAAAA\r\n--wrong--\r\n"
message(conn, "a@hold.example", mime(), {body}, SMFIR_CONTINUE)
T.quarantine(conn, "malformed MIME")
-- ...otherwise the part it could not read is suspicious: the first
-- attachment rule (the checksum) fires although nothing was read.
local m = T.log_mark()
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Attachment blocked by its checksum")
T.log_has("(unparsable, taken as suspicious)", m)
-- a missing final boundary still shows the attachment
body = text .. part("application/octet-stream", 'attachment; filename=a.scr',
    "TVogZmFrZSBleGU=")
message(conn, "a@example.org", mime(), {body}, SMFIR_REPLYCODE)
T.reply(conn, "554", "5.7.1", "Executable attachments are not accepted")
mt.disconnect(conn)
T.done("malformed MIME")
