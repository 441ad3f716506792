"""spfzones.py - the DNS data and the policy of the SPF evasion tests
(t_spf_*.py): a local unbound serves it (evlib.Suite.unbound); and
strict readers of the Authentication-Results (RFC 8601) and Received-SPF
(RFC 7208 9.1) values tollgate adds."""
import re

ZONES = """
\tlocal-zone: "test." static
\tlocal-data: 'good.test. TXT "v=spf1 ip4:198.51.100.7 -all"'
\tlocal-data: 'victim.test. TXT "v=spf1 -all"'
\tlocal-data: 'soft.test. TXT "v=spf1 ~all"'
\tlocal-data: 'lo.test. TXT "v=spf1 ip4:192.0.2.1 ip6:2001:db8::1 -all"'
\tlocal-data: 'lo-ok.test. TXT "v=spf1 ip4:127.0.0.1 ip6:::1 -all"'
\tlocal-data: 'mail.good.test. A 198.51.100.7'
\tlocal-data: 'mail.good.test. TXT "v=spf1 a -all"'
\tlocal-zone: "h.test." redirect
\tlocal-data: 'h.test. A 192.0.2.1'
"""


def policy(resolver):
    """The review's pol/spf.conf: SPF fail refused at MAIL, the results
    reported in Authentication-Results and Received-SPF."""
    return """
set resolver "%s"
set dns-timeout 3s
stage mail {
    rule spf-fail : not authenticated and spf == "fail"
        => reject 550 5.7.23 "SPF validation failed for <${sender}>"
}
stage eom {
    rule auth-results : not authenticated
        => add-header Authentication-Results "${mta_name}; ${spf_auth}",
           add-header Received-SPF "${spf_received}"
}
""" % resolver


def message(c, sender, rcpt="<bob@example.com>"):
    """MAIL, RCPT and a short message; the first answer that is not
    "continue" (MAIL's, RCPT's) or the end-of-message answer."""
    r = c.mail(sender)
    if r.action != "continue":
        return r
    r = c.rcpt(rcpt)
    if r.action != "continue":
        return r
    return c.message([("From", "x@example.org"), ("Subject", "spf")],
                     b"hi\r\n")


QSTRING = r'"(?:[^"\\\r\n]|\\.)*"'
ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]"
DOT_ATOM = r"%s+(?:\.%s+)*" % (ATEXT, ATEXT)
TOKEN = r"[^\x00-\x20\x7f()<>@,;:\\\"/\[\]?=]+"
DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?" \
         r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
# RFC 8601 pvalue: a value (token / quoted-string) or [local-part]@domain
PVALUE = r"(?:%s|(?:%s|%s)?@%s|%s)" % (QSTRING, DOT_ATOM, QSTRING, DOMAIN,
                                        TOKEN)
RESINFO = re.compile(r"^spf=(pass|fail|softfail|neutral|none|temperror|"
                     r"permerror)(?: smtp\.(mailfrom|helo)=(%s))?$" % PVALUE)
RSPF = re.compile(r"^(pass|fail|softfail|neutral|none|temperror|permerror)"
                  r" \((?:[^()\\\r\n]|\\.)*\)((?: [a-z-]+=(?:%s|%s);)*)$"
                  % (DOT_ATOM, QSTRING))
RSPF_PAIR = re.compile(r" ([a-z-]+)=(%s|%s);" % (DOT_ATOM, QSTRING))


def split_results(value):
    """An Authentication-Results value split at its top-level ";" (not
    inside quoted strings or comments): [authserv-id, resinfo, ...]."""
    parts, cur, i, depth = [], "", 0, 0
    while i < len(value):
        ch = value[i]
        if depth == 0 and ch == '"':
            m = re.match(QSTRING, value[i:])
            if not m:
                return None         # an unterminated quoted string
            cur += m.group(0)
            i += len(m.group(0))
            continue
        if ch == "(":
            depth += 1
        elif ch == ")" and depth > 0:
            depth -= 1
        elif ch == ";" and depth == 0:
            parts.append(cur.strip())
            cur = ""
            i += 1
            continue
        cur += ch
        i += 1
    parts.append(cur.strip())
    return parts


def unquote(v):
    """A whole quoted-string without its quotes and escapes; anything
    else (a token, "local"@domain) as it is."""
    if re.fullmatch(QSTRING, v):
        return re.sub(r"\\(.)", r"\1", v[1:-1])
    return v


def spf_resinfo(value):
    """The one SPF result of an Authentication-Results value as (result,
    property, value unquoted), or None when the value has another number
    of results or is not RFC 8601 syntax."""
    parts = split_results(value or "")
    if parts is None or len(parts) != 2:
        return None
    m = RESINFO.match(parts[1])
    if not m:
        return None
    return m.group(1), m.group(2), unquote(m.group(3) or "")


def received_spf(value):
    """A Received-SPF value (RFC 7208 9.1) as (result, {key: value}),
    or None when it is not that syntax."""
    m = RSPF.match(value or "")
    if not m:
        return None
    return m.group(1), {k: unquote(v)
                        for k, v in RSPF_PAIR.findall(m.group(2))}
