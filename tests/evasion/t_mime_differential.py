"""The MIME view, compared with another reader (time budget: about 60 s in
make check; TG_MIME_DIFF_SECONDS=N runs longer, TG_MIME_DIFF_SEED=S
replays a run, TG_MIME_DIFF_SEED=random hunts with a new one; make check
runs one fixed sequence; KEEP=1 keeps the messages that disagreed).

mimeview (built by make check) prints what tollgate extracts from a
message: each leaf part's type and file names, opaque parts, the malformed
flag. Python's email package (policy.default) parses the same bytes, as a
mail client would. Wherever Python sees an attachment type or name that
tollgate does not, tollgate must have said it could not tell: the message
malformed (mime.malformed) or a part opaque (every attachment test true).
Anything else is a way around the attachment rules.

Messages: the MIME corpus (tests/data/mime), the fuzzer's seeds
(tests/fuzz/corpus/mime), the regression cases in tests/evasion/mime/
(disagreements found by this test, fixed), then random mutations of them
(repeated Content- fields and parameters, boundaries inside boundaries,
transfer encodings, RFC 2231 and RFC 2047 names, truncated and overlong
lines, 1,000 header fields before Content-Type). Each message is also
parsed in 7-byte body chunks: the chunking must not change the view.

By hand: t_mime_differential.py FILE... prints both views of each message
and what tollgate misses (top_builddir or MIMEVIEW says where mimeview
is)."""
import email
import email.policy
import glob
import json
import os
import random
import re
import subprocess
import sys
import time

from evlib import Suite

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.abspath(os.environ.get("top_srcdir",
                                     os.path.join(HERE, "..", "..")))
BUILD = os.environ.get("top_builddir", ".")
MIMEVIEW = os.environ.get("MIMEVIEW", os.path.join(BUILD, "tests",
                                                   "evasion", "mimeview"))
SECONDS = float(os.environ.get("TG_MIME_DIFF_SECONDS", "60"))
FAILURES_MAX = 10
CI_SEED = 20261205


class View:
    """One mimeview process reading records "<len>\\n<bytes>"."""

    def __init__(self, chunk):
        self.p = subprocess.Popen([MIMEVIEW, "-c", str(chunk), "-"],
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE)

    def view(self, raw):
        self.p.stdin.write(b"%d\n" % len(raw) + raw)
        self.p.stdin.flush()
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError("mimeview died (exit %s)" % self.p.wait())
        v = json.loads(line)
        for part in v["parts"]:
            part["type"] = bytes.fromhex(part["type"]).decode(
                "utf-8", "replace")
            part["names"] = [bytes.fromhex(n).decode("utf-8", "replace")
                             for n in part["names"]]
        return v

    def close(self):
        self.p.stdin.close()
        self.p.wait()


HEADER_NAME = re.compile(rb"[\x21-\x39\x3b-\x7e]+[ \t]*:")


def mta_split(raw):
    """Where the MTA ends the message's header block is the MTA's
    business, not the MIME parser's: Postfix (is_header()) takes a line
    for a field when a name of at least one printable character, then
    white space, comes before the colon; Python's email also takes ":x"
    and not "Name :". mimeview splits as Postfix does; Python gets the
    same split, with the empty line put where the MTA saw the end."""
    lines = raw.split(b"\n")
    i, blank = 0, []
    while i < len(lines):
        line = lines[i]
        if line in (b"", b"\r"):
            blank = [lines.pop(i)]
            break
        if line[:1] in (b" ", b"\t") and i > 0:
            i += 1
            continue
        if not HEADER_NAME.match(line):
            break
        i += 1
    # Postfix keeps a bare CR inside a field; Python would split the
    # field there. mimeview hands it to tollgate, which makes a Content-
    # field with one opaque; Python gets the field without it.
    head = [re.sub(rb"^([^ \t:]+)[ \t]+:", rb"\1:",
                   l.rstrip(b"\r").replace(b"\r", b"") +
                   (b"\r" if l.endswith(b"\r") else b""))
            for l in lines[:i]]
    return b"\n".join(head + (blank or [b""]) + lines[i:])


def python_type(part):
    """get_content_type() keeps comments ("text/plain (c)"): RFC 2045
    allows them and mail clients drop them, as tollgate does."""
    ctype = part.get_content_type()
    while "(" in ctype:
        out = re.sub(r"\([^()]*\)", "", ctype)
        if out == ctype:
            break
        ctype = out
    return "".join(ctype.split()) if "/" in ctype else ctype


def python_view(raw):
    """The leaf parts Python sees: [(type, filename or None)], or None
    when Python gives up on the message."""
    try:
        msg = email.message_from_bytes(mta_split(raw),
                                       policy=email.policy.default)
        leaves = []
        for part in msg.walk():
            if part.is_multipart():
                continue
            leaves.append((python_type(part), part.get_filename()))
        return leaves
    except Exception:   # a reader that crashes shows nothing
        return None


def norm_name(name):
    """What attachment rules compare: tollgate drops NUL and control
    bytes of folding; Python keeps a folded quoted name's line break as
    white space. Both are the same name to a mail client."""
    return " ".join(name.replace("\ufffd", "?").split())


def expected(raw, tg):
    """A regression case says what tollgate must make of it (X-Expect:
    opaque, malformed, or names: evil.exe seen as such); None when it
    does, or says nothing."""
    m = re.match(rb"X-Expect: (\w+)", raw)
    if m is None:
        return None
    want = m.group(1).decode()
    opaque = any(p["opaque"] for p in tg["parts"])
    names = {n for p in tg["parts"] for n in p["names"]}
    if want == "opaque" and opaque:
        return None
    if want == "malformed" and (tg["malformed"] or opaque):
        return None
    if want == "names" and "evil.exe" in names and not opaque:
        return None
    return "want %s, got malformed=%s opaque=%s names %s" % (
        want, tg["malformed"], opaque, sorted(names))


def compare(raw, tg, py):
    """None when tollgate's view is good enough, else what it misses."""
    if py is None or tg["malformed"] or any(p["opaque"]
                                           for p in tg["parts"]):
        return None     # agreed, or tollgate fails closed
    names = {norm_name(n) for p in tg["parts"] for n in p["names"]}
    types = {p["type"] for p in tg["parts"]}
    missing = []
    for ctype, fname in py:
        if ctype not in types:
            missing.append("type %s" % ctype)
        if fname is not None and norm_name(fname) not in names:
            missing.append("name %r" % fname)
    return ", ".join(missing) if missing else None


# -- the corpus ---------------------------------------------------------

def corpus():
    msgs = []
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "data", "mime",
                                              "*.eml")) +
                       glob.glob(os.path.join(HERE, "mime", "*.eml"))):
        with open(path, "rb") as f:
            msgs.append((os.path.basename(path), f.read()))
    # F1: the message's Content-Type after 1,000 fields or 256 KiB of
    # them, and a second one after the filler (regression cases).
    exe = (b"--b1\nContent-Type: application/octet-stream\n"
           b"Content-Disposition: attachment; filename=\"evil.exe\"\n\n"
           b"MZ\n--b1--\n")
    pad = b"".join(b"X-Pad-%d: a\n" % i for i in range(1000))
    big = b"".join(b"X-Pad-%d: %s\n" % (i, b"a" * 60000) for i in range(5))
    ctype = b"Content-Type: multipart/mixed; boundary=\"b1\"\n\n"
    msgs += [("padded-content-type", b"X-Expect: names\n" + pad + ctype +
              exe),
             ("padded-256k", b"X-Expect: names\n" + big + ctype + exe),
             ("padded-repeated-type", b"X-Expect: opaque\n"
              b"Content-Type: text/plain\n" + pad + ctype + exe)]
    # Fuzzer seeds: the first line is the top-level Content-Type.
    for path in sorted(glob.glob(os.path.join(TOP, "tests", "fuzz",
                                              "corpus", "mime", "*"))):
        with open(path, "rb") as f:
            data = f.read()
        ctype, _, body = data.partition(b"\n")
        msgs.append(("seed:" + os.path.basename(path),
                     b"MIME-Version: 1.0\nContent-Type: " + ctype +
                     b"\n\n" + body))
    return msgs


# -- mutations ----------------------------------------------------------

FIELDS = (b"Content-Type", b"Content-Disposition",
          b"Content-Transfer-Encoding")
PARAMS = (b"boundary", b"name", b"filename", b"charset")


def lines_of(raw):
    return raw.split(b"\n")


def field_lines(lines):
    """Indexes of lines that start a Content- field."""
    return [i for i, l in enumerate(lines)
            if any(l.lower().startswith(f.lower() + b":") for f in FIELDS)]


def m_dup_field(rng, raw):
    """A Content- field given twice: the same value, or another one."""
    lines = lines_of(raw)
    idx = field_lines(lines)
    if not idx:
        return raw
    i = rng.choice(idx)
    name = lines[i].split(b":", 1)[0]
    other = rng.choice([lines[i],
                        name + b": text/plain",
                        name + b": multipart/mixed; boundary=\"zzz\"",
                        name + b": application/x-msdownload; name=evil.exe",
                        name + b": attachment; filename=\"evil.exe\"",
                        name + b": base64", name + b": quoted-printable"])
    j = i + 1 if rng.random() < 0.5 else max(0, i - rng.randint(0, 3))
    lines.insert(j, other)
    return b"\n".join(lines)


def m_dup_param(rng, raw):
    """A parameter of a Content- field given twice, or in both the plain
    and the RFC 2231 form."""
    lines = lines_of(raw)
    idx = field_lines(lines)
    if not idx:
        return raw
    i = rng.choice(idx)
    p = rng.choice(PARAMS)
    v = rng.choice([b"\"zzz\"", b"evil.exe", b"\"report.pdf\"",
                    b"utf-8", b"\"b1\""])
    form = rng.choice([p + b"=" + v, p + b"*=utf-8''" + v.strip(b"\""),
                       p + b"*0=" + v, p + b" = " + v])
    if rng.random() < 0.5:
        lines[i] += b"; " + form
    else:
        name, _, rest = lines[i].partition(b":")
        typ, sep, params = rest.partition(b";")
        lines[i] = name + b":" + typ + b"; " + form + sep + params
    return b"\n".join(lines)


def m_nest_boundary(rng, raw):
    """A part whose boundary is the outer one with something added, or a
    delimiter of the outer one inside a part's content."""
    lines = lines_of(raw)
    delims = [l for l in lines if l.startswith(b"--") and len(l) > 2]
    if not delims:
        return raw
    d = rng.choice(delims).rstrip(b"\r").rstrip(b"-")[2:]
    inner = rng.choice([d + b"x", d[:-1] or b"x", d + b"--", d + b" "])
    part = (b"--" + d + b"\nContent-Type: multipart/mixed; boundary=\"" +
            inner + b"\"\n\n--" + inner +
            b"\nContent-Type: application/octet-stream; name=\"nest.exe\""
            b"\n\nMZ\n--" + inner + b"--\n")
    at = rng.randrange(len(lines) + 1)
    lines[at:at] = part.split(b"\n")
    return b"\n".join(lines)


def m_encoding(rng, raw):
    """Another Content-Transfer-Encoding (or an odd spelling of one)."""
    lines = lines_of(raw)
    idx = [i for i in field_lines(lines)
           if lines[i].lower().startswith(b"content-type")]
    if not idx:
        return raw
    i = rng.choice(idx)
    cte = rng.choice([b"base64", b"BASE64 ", b"quoted-printable",
                      b"x-uuencode", b"7bit (comment)", b"binary", b""])
    lines.insert(i + 1, b"Content-Transfer-Encoding: " + cte)
    return b"\n".join(lines)


def m_name_encoding(rng, raw):
    """A file name rewritten as RFC 2231 (sections, charsets) or RFC 2047
    (B or Q, split in words), or with folding inside its quotes."""
    lines = lines_of(raw)
    idx = [i for i, l in enumerate(lines) if b"name=" in l.lower()]
    if not idx:
        return raw
    i = rng.choice(idx)
    low = lines[i].lower()
    k = low.index(b"name=")
    head = lines[i][:k]
    rest = lines[i][k + 5:]
    val, _, tail = rest.partition(b";")
    fname = val.strip().strip(b"\"") or b"x.exe"
    which = rng.randrange(6)
    import base64 as b64
    if which == 0:
        new = b"name*=utf-8''" + b"".join(b"%%%02X" % c for c in fname)
    elif which == 1:
        half = max(1, len(fname) // 2)
        new = (b"name*0=\"" + fname[:half] + b"\"; " + head.split(b";")[-1]
               .strip() + b"name*1=\"" + fname[half:] + b"\"")
    elif which == 2:
        new = b"name=\"=?utf-8?B?" + b64.b64encode(fname) + b"?=\""
    elif which == 3:
        half = max(1, len(fname) // 2)
        new = (b"name=\"=?utf-8?Q?" + fname[:half] + b"?= =?utf-8?Q?" +
               fname[half:] + b"?=\"")
    elif which == 4:
        new = b"name=\"" + fname[:1] + b"\n " + fname[1:] + b"\""
    else:
        new = b"name*=iso-8859-1'en'" + fname + b"%E4"
    lines[i] = head + new + (b";" + tail if tail else b"")
    return b"\n".join(lines)


def m_truncate(rng, raw):
    return raw[:rng.randrange(len(raw) + 1)]


def m_long_line(rng, raw):
    """A line longer than the parser buffers (1 KiB), or a delimiter with
    a long run of white space after it."""
    lines = lines_of(raw)
    at = rng.randrange(len(lines) + 1)
    delims = [l for l in lines if l.startswith(b"--")]
    if delims and rng.random() < 0.5:
        lines.insert(at, rng.choice(delims).rstrip(b"\r") +
                     b" " * rng.choice((10, 1100, 3000)))
    else:
        lines.insert(at, b"A" * rng.choice((1023, 1024, 1025, 5000)))
    return b"\n".join(lines)


def m_padding(rng, raw):
    """Header fields before the message's own (F1): 1,000 short ones, or
    past 256 KiB."""
    if rng.random() < 0.7:
        pad = b"".join(b"X-Pad-%d: a\n" % i for i in range(1000))
    else:
        pad = b"".join(b"X-Pad-%d: %s\n" % (i, b"a" * 60000)
                       for i in range(5))
    return pad + raw


def m_case_space(rng, raw):
    """Case and white space and comments in Content- fields."""
    lines = lines_of(raw)
    idx = field_lines(lines)
    if not idx:
        return raw
    i = rng.choice(idx)
    l = lines[i]
    which = rng.randrange(4)
    if which == 0:
        l = l.upper()
    elif which == 1:
        l = l.replace(b"=", b" = ")
    elif which == 2:
        l = l.replace(b";", b" (c);", 1)
    else:
        l = l.replace(b"; ", b";\n\t", 1)
    lines[i] = l
    return b"\n".join(lines)


def m_line_ends(rng, raw):
    which = rng.randrange(3)
    if which == 0:
        return raw.replace(b"\n", b"\r\n")
    if which == 1:
        lines = lines_of(raw)
        i = rng.randrange(len(lines))
        lines[i] += b"\r"
        return b"\n".join(lines)
    lines = lines_of(raw)
    blanks = [i for i, l in enumerate(lines) if l == b""]
    if blanks:
        del lines[rng.choice(blanks)]
    return b"\n".join(lines)


def m_bytes(rng, raw):
    """A few bytes changed in the first 2 KiB (the header blocks)."""
    b = bytearray(raw)
    for _ in range(rng.randint(1, 4)):
        if not b:
            break
        i = rng.randrange(min(len(b), 2048))
        b[i] = rng.choice(b";\"=:\n -*'%?\\(")
    return bytes(b)


def m_splice(rng, raw, others):
    """A part of another message inside this one."""
    other = rng.choice(others)[1]
    a = rng.randrange(len(other) + 1)
    piece = other[a:a + rng.randint(0, 600)]
    at = rng.randrange(len(raw) + 1)
    return raw[:at] + piece + raw[at:]


def m_wrap(rng, raw):
    """The message forwarded inside another: message/rfc822 (or another
    message/ type, or with a transfer encoding no reader should need)."""
    import base64 as b64
    ctype = rng.choice([b"message/rfc822", b"message/global",
                        b"message/x-other"])
    inner = raw.replace(b"\r\n", b"\n")
    cte = b""
    if rng.random() < 0.3:
        cte = b"Content-Transfer-Encoding: base64\n"
        inner = b64.encodebytes(inner)
    return (b"MIME-Version: 1.0\nContent-Type: multipart/mixed; "
            b"boundary=\"wrap\"\n\n--wrap\nContent-Type: " + ctype +
            b"\n" + cte + b"\n" + inner + b"\n--wrap--\n")


def m_quoting(rng, raw):
    """Backslashes and quotes inside quoted parameter values."""
    lines = lines_of(raw)
    idx = [i for i, l in enumerate(lines) if b'="' in l]
    if not idx:
        return raw
    i = rng.choice(idx)
    k = lines[i].index(b'="') + 2
    k = rng.randrange(k, len(lines[i]) + 1)
    lines[i] = lines[i][:k] + rng.choice([b"\\", b"\\\"", b"\\.",
                                          b'"', b"\\="]) + lines[i][k:]
    return b"\n".join(lines)


MUTATORS = (m_wrap, m_quoting, m_dup_field, m_dup_param, m_nest_boundary, m_encoding,
            m_name_encoding, m_truncate, m_long_line, m_padding,
            m_case_space, m_line_ends, m_bytes)


def mutate(rng, raw, others):
    chain = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.1:
            raw = m_splice(rng, raw, others)
            chain.append("m_splice")
            continue
        m = rng.choice(MUTATORS)
        if m is m_padding and "m_padding" in chain:
            continue
        raw = m(rng, raw)
        chain.append(m.__name__)
    return raw, chain


# -- the run ------------------------------------------------------------

def main():
    t = Suite("MIME differential")
    if not os.path.exists(MIMEVIEW):
        print("t_mime_differential.py: %s not built (make check builds "
              "it)" % MIMEVIEW)
        sys.exit(77)
    # make check runs one fixed sequence, so that a CI run fails only for
    # a change of ours; TG_MIME_DIFF_SEED=random hunts for new cases (a
    # disagreement found so becomes a regression message in mime/).
    seed = os.environ.get("TG_MIME_DIFF_SEED", str(CI_SEED))
    seed = (random.SystemRandom().randrange(1 << 31) if seed == "random"
            else int(seed))
    print("# seed %d (TG_MIME_DIFF_SEED=%d replays this run), %g s" %
          (seed, seed, SECONDS))
    rng = random.Random(seed)
    big, small = View(65535), View(7)
    failures = []

    stats = {"same": 0, "opaque": 0, "malformed": 0, "python gave up": 0}

    def check(label, raw, mutated=True):
        tg = big.view(raw)
        if small.view(raw) != tg:
            failures.append((label, raw, "7-byte chunks give another view"))
            return
        py = python_view(raw)
        why = None if mutated else expected(raw, tg)
        if why is not None:
            failures.append((label, raw, why))
            return
        why = compare(raw, tg, py)
        if why is not None:
            failures.append((label, raw, "tollgate misses " + why))
        elif py is None:
            stats["python gave up"] += 1
        elif compare(raw, dict(tg, malformed=False, parts=[
                dict(p, opaque=False) for p in tg["parts"]]), py) is None:
            stats["same"] += 1
        elif any(p["opaque"] for p in tg["parts"]):
            stats["opaque"] += 1
        else:
            stats["malformed"] += 1

    msgs = corpus()
    for label, raw in msgs:
        check(label, raw, mutated=False)
    t.expect(not failures, "%d corpus and regression messages: tollgate "
             "agrees or fails closed" % len(msgs),
             "; ".join("%s: %s" % (f[0], f[2]) for f in failures))
    ncorpus = len(failures)

    deadline = time.monotonic() + SECONDS
    n = 0
    while time.monotonic() < deadline and len(failures) < FAILURES_MAX:
        label, raw = rng.choice(msgs)
        raw, chain = mutate(rng, raw, msgs)
        n += 1
        check("%s + %s" % (label, " + ".join(chain)), raw)
    big.close()
    small.close()
    print("# tollgate sees what Python sees in %(same)d messages, fails "
          "closed with an opaque part in %(opaque)d and marks %(malformed)d "
          "malformed; Python gave up on %(python gave up)d" % stats)
    found = failures[ncorpus:]
    for i, (label, raw, why) in enumerate(found):
        path = os.path.join(t.dir, "disagree-%d.eml" % i)
        with open(path, "wb") as f:
            f.write(raw)
        print("# %s: %s (message in %s)" % (label, why, path))
    if found:
        os.environ["KEEP"] = "1"
    t.expect(not found, "%d mutated messages (seed %d): tollgate agrees or "
             "fails closed" % (n, seed), "%d disagreements" % len(found))
    t.done()


def show(paths):
    """Both views of each file, and the verdict."""
    v = View(65535)
    for path in paths:
        with open(path, "rb") as f:
            raw = f.read()
        tg, py = v.view(raw), python_view(raw)
        print("== %s" % path)
        print("tollgate: malformed=%s (%s), dropped %d" % (
            tg["malformed"], tg["why"], tg["dropped"]))
        for p in tg["parts"]:
            print("  %s%s %r" % (p["type"] or "?", " opaque" if p["opaque"]
                                else "", p["names"]))
        print("python:")
        for ctype, fname in py or []:
            print("  %s %r" % (ctype, fname))
        print("verdict: %s" % (compare(raw, tg, py) or "agrees or fails "
                                                      "closed"))
    v.close()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        show(sys.argv[1:])
    else:
        main()
