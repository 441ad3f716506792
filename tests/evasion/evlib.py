"""evlib.py - what every test of tests/evasion/ needs: a scratch
directory, tollgate daemons and a local unbound started and stopped by
their PIDs, and checks that print one "ok -" or "FAIL:" line each.

    from evlib import Suite
    t = Suite("header padding")             # scratch dir, cleanup at exit
    d = t.tollgate("content", POLICY_TEXT)  # a daemon on a unix socket
    c = d.client()                          # milterclient.MilterClient
    t.expect(r.action == "reject", "padding does not hide the .exe", r)
    t.done()                                # exit 0, or 1 after a FAIL

Environment (from tests/Makefile.am or evasion/run.sh): TOLLGATE (the
daemon), top_srcdir, UNBOUND_SERVER, KEEP=1 to keep the scratch directory.
"""
import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from milterclient import MilterClient  # noqa: E402

TOP_SRCDIR = os.path.abspath(os.environ.get("top_srcdir",
                                            os.path.join(HERE, "..", "..")))
TOLLGATE = os.path.abspath(os.environ.get(
    "TOLLGATE", os.path.join(os.environ.get("top_builddir", "."),
                             "filter", "tollgate")))


class Daemon:
    """One tollgate in the foreground (-f -R -d) on unix:DIR/sock, or on
    TCP at 127.0.0.1:port (port given)."""

    def __init__(self, suite, name, policy, args=(), port=None):
        self.suite = suite
        self.dir = os.path.join(suite.dir, name)
        os.makedirs(self.dir, exist_ok=True)
        self.port = port
        self.sock = os.path.join(self.dir, "sock")
        self.spec = ("inet:%d@127.0.0.1" % port if port is not None else
                     "unix:" + self.sock)
        self.conf = os.path.join(self.dir, "policy.conf")
        if "\n" in policy or not os.path.exists(policy):
            with open(self.conf, "w") as f:
                f.write(policy)
        else:
            # A policy file: its tables (named relative to it) too.
            shutil.copy(policy, self.conf)
            src = os.path.dirname(os.path.abspath(policy))
            for entry in os.listdir(src):
                if os.path.isdir(os.path.join(src, entry)):
                    os.symlink(os.path.join(src, entry),
                               os.path.join(self.dir, entry))
        self.logpath = os.path.join(self.dir, "log")
        self.proc = None
        self.args = list(args)
        self.start()

    def start(self):
        wrapper = os.environ.get("TG_WRAPPER", "").split()
        engine = os.environ.get("TG_ENGINE", "")
        with open(self.logpath, "ab") as log:
            self.proc = subprocess.Popen(
                wrapper + [TOLLGATE] + (["-E", engine] if engine else []) +
                ["-f", "-R", "-d", "-c", self.conf,
                           "-p", self.spec] + self.args,
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        for _ in range(300):
            if self.port is None and os.path.exists(self.sock):
                return
            if self.port is not None and "starting on" in self.log():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.suite.fail("daemon %s did not start:\n%s" % (
            os.path.basename(self.dir), self.log()[-3000:]))
        self.suite.done()

    def client(self, **kw):
        return MilterClient(self.sock if self.port is None else
                            ("127.0.0.1", self.port), **kw)

    def status(self, field):
        """A number from /proc/PID/status (VmRSS in kB, Threads...)."""
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return None

    def fds(self):
        return len(os.listdir("/proc/%d/fd" % self.proc.pid))

    def log(self):
        with open(self.logpath, "r", errors="replace") as f:
            return f.read()

    def logged(self, text):
        return text in self.log()

    def reload(self, policy):
        with open(self.conf, "w") as f:
            f.write(policy)
        self.proc.send_signal(signal.SIGHUP)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """SIGTERM by PID; the exit status (0 when it stopped cleanly)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc = None
        return rc


class Unbound:
    """unbound on 127.0.0.1 answering only from ZONES (server: clauses of
    local-zone and local-data lines), as tests/unbound.sh does."""

    def __init__(self, suite, zones, first=23300, last=23399):
        self.dir = os.path.join(suite.dir, "unbound")
        os.makedirs(self.dir, exist_ok=True)
        server = os.environ.get("UNBOUND_SERVER") or shutil.which(
            "unbound") or "/usr/sbin/unbound"
        self.proc, self.port = None, None
        for port in range(first, last + 1):
            conf = os.path.join(self.dir, "unbound.conf")
            with open(conf, "w") as f:
                f.write(self._conf(port) + zones +
                        "\nremote-control:\n\tcontrol-enable: no\n")
            log = open(os.path.join(self.dir, "unbound.log"), "w")
            self.proc = subprocess.Popen([server, "-d", "-c", conf],
                                         stdout=log, stderr=log)
            for _ in range(100):
                time.sleep(0.1)
                if "start of service" in open(log.name).read():
                    self.port = port
                    return
                if self.proc.poll() is not None:
                    break
            self.stop()
        suite.fail("unbound did not start")
        suite.done()

    def _conf(self, port):
        return ("server:\n\tinterface: 127.0.0.1\n\tport: %d\n"
                "\tdo-ip6: no\n\tdo-daemonize: no\n\tusername: \"\"\n"
                "\tchroot: \"\"\n\tdirectory: \"%s\"\n\tpidfile: \"\"\n"
                "\tlogfile: \"\"\n\tuse-syslog: no\n\tverbosity: 1\n"
                "\tnum-threads: 1\n\tmodule-config: \"iterator\"\n"
                "\taccess-control: 127.0.0.0/8 allow\n"
                "\tso-reuseport: no\n" % (port, self.dir))

    @property
    def resolver(self):
        return "127.0.0.1@%d" % self.port

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None


class Suite:
    def __init__(self, name):
        self.name = name
        self.failed = 0
        self.dir = tempfile.mkdtemp(prefix="tg-evasion.")
        self.daemons = []
        self.servers = []
        self.reported = False
        atexit.register(self._cleanup)

    def tollgate(self, name, policy, args=(), port=None):
        """A daemon with policy (its text, or a file); tables it names
        relative to itself are found in the same directory. port: on
        TCP at 127.0.0.1:port instead of a unix socket."""
        d = Daemon(self, name, policy, args, port)
        self.daemons.append(d)
        return d

    def unbound(self, zones):
        u = Unbound(self, zones)
        self.servers.append(u)
        return u

    def file(self, name, text):
        """Write text (or bytes) to a file in the scratch directory."""
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb" if isinstance(text, bytes) else "w") as f:
            f.write(text)
        return path

    def ok(self, what):
        print("ok - %s" % what)

    def fail(self, what):
        print("FAIL: %s" % what)
        self.failed += 1

    def expect(self, cond, what, got=None):
        if cond:
            self.ok(what)
        else:
            self.fail("%s (got: %r)" % (what, got))
        return cond

    def skip(self, why):
        print("SKIP: %s: %s" % (self.name, why))
        self._cleanup()
        sys.exit(77)

    def done(self):
        self._cleanup()
        sys.exit(1 if self.failed else 0)

    def _cleanup(self):
        for d in self.daemons:
            rc = d.stop()
            if rc not in (None, 0):
                self.fail("daemon %s exited with status %d:\n%s" % (
                    os.path.basename(d.dir), rc, d.log()[-3000:]))
        self.daemons = []
        for u in self.servers:
            u.stop()
        self.servers = []
        if os.path.isdir(self.dir) and not self.reported:
            self.reported = True
            if self.failed or os.environ.get("KEEP") == "1":
                print("%s: files kept in %s" % (self.name, self.dir))
            else:
                shutil.rmtree(self.dir, ignore_errors=True)


def engine():
    """The milter engine the daemons run: TG_ENGINE, or the default the
    daemon's usage names."""
    if os.environ.get("TG_ENGINE"):
        return os.environ["TG_ENGINE"]
    out = subprocess.run([TOLLGATE, "-h"], capture_output=True, text=True)
    import re
    m = re.search(r"\(default ([a-z]+)\)", out.stdout)
    return m.group(1) if m else "libmilter"


def free_port(first=23400, last=23499):
    """A TCP port on 127.0.0.1 nobody listens on now."""
    import socket as _s
    for port in range(first, last + 1):
        s = _s.socket()
        try:
            s.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            s.close()
    return None


def policy_file(name):
    """A shipped policy file, by name (policies/NAME)."""
    return os.path.join(TOP_SRCDIR, "policies", name)
