"""t_socket_swap.py - F6 (review 2026-12): started as root with -u,
tollgate chmodded and chowned the milter socket by its path some time after
libmilter created it, following whatever was there by then: whoever may
write to the socket's directory could swap in a symlink (or a hard link)
and have root give any file to the -u user.

No race is needed to show it: the pidfile is a FIFO, so the daemon waits in
its open() between creating the socket and dropping privileges; meanwhile
the socket is replaced by a symlink, then by a hard link, to a root-owned
file of the scratch directory (never a real system file). That file must
stay root's and the daemon must refuse to start. Also: a symlink placed at
the path before the start (libmilter refuses it); a normal start (the
socket is a socket of the -u user, mode 0660); and a socket directory
others may write to (refused, but not a sticky one). Root only (as in CI);
skipped otherwise. About 6 s (the daemons that start stop together).
"""
import os
import pwd
import signal
import stat
import subprocess
import time

from evlib import Suite, TOLLGATE

t = Suite("socket swap")
if os.geteuid() != 0:
    t.skip("needs root (the chown of the socket happens only as root)")
try:
    NOBODY = pwd.getpwnam("nobody")
except KeyError:
    t.skip("no user nobody to drop to")

CONF = t.file("policy.conf", "")
running = []


def start(name, mode=0o755, pidfile=None, before=None):
    """tollgate -f -u nobody on DIR/NAME/sock; the directory gets mode;
    before(sock) runs first. Returns (process, socket path, log path)."""
    d = os.path.join(t.dir, name)
    os.makedirs(d)
    os.chmod(d, mode)
    sock = os.path.join(d, "sock")
    if before is not None:
        before(sock)
    log = os.path.join(t.dir, name + ".log")
    args = [TOLLGATE, "-f", "-d", "-u", "nobody", "-c", CONF,
            "-p", "unix:" + sock]
    if pidfile is not None:
        args += ["-P", pidfile]
    with open(log, "wb") as f:
        p = subprocess.Popen(args, stdout=f, stderr=subprocess.STDOUT,
                             stdin=subprocess.DEVNULL)
    running.append(p)
    return p, sock, log


def wait_socket(p, sock):
    """True once sock is a socket (the daemon made it), False if the
    daemon ended first or after 30 s."""
    for _ in range(300):
        try:
            if stat.S_ISSOCK(os.lstat(sock).st_mode):
                return True
        except FileNotFoundError:
            pass
        if p.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def ended(p, secs=30):
    """The exit status, or None if it still runs after secs."""
    try:
        return p.wait(secs)
    except subprocess.TimeoutExpired:
        return None


def victim(name):
    """A root-owned file, mode 0600, in the scratch directory."""
    path = t.file(name, "root's secret\n")
    os.chown(path, 0, 0)
    os.chmod(path, 0o600)
    return path


def untouched(path, what):
    st = os.lstat(path)
    t.expect(st.st_uid == 0 and st.st_gid == 0 and
             stat.S_IMODE(st.st_mode) == 0o600,
             "%s: the root-owned file stays root's, mode 0600" % what,
             "uid %d gid %d mode %o" % (st.st_uid, st.st_gid,
                                        stat.S_IMODE(st.st_mode)))


def logged(log, text):
    with open(log, errors="replace") as f:
        return text in f.read()


# The socket replaced while the daemon waits on its pidfile (a FIFO).
for how in ("symlink", "hard link"):
    tag = how.replace(" ", "")
    target = victim("victim-" + tag)
    fifo = os.path.join(t.dir, "pid-" + tag)
    os.mkfifo(fifo)
    p, sock, log = start("swap-" + tag, pidfile=fifo)
    if not t.expect(wait_socket(p, sock), "%s: the socket is created" % how):
        continue
    tmp = sock + ".new"
    if how == "symlink":
        os.symlink(target, tmp)
    else:
        os.link(target, tmp)
    os.rename(tmp, sock)
    with open(fifo) as f:          # lets the daemon go on to the drop
        f.read()
    rc = ended(p)
    untouched(target, how)
    t.expect(rc == 1, "%s: the daemon refuses to start" % how, rc)
    t.expect(logged(log, "was replaced after it was created"),
             "%s: and says why" % how)
    t.expect(os.path.lexists(sock) and os.path.samefile(sock, target),
             "%s: what was put there is left alone" % how)

# A symlink at the path before the start: libmilter refuses a path that
# is not a socket; the file it names is not touched.
target = victim("victim-pre")
p, sock, log = start("preplaced",
                     before=lambda s: os.symlink(target, s))
t.expect(ended(p) == 1, "pre-placed symlink: the daemon does not start")
untouched(target, "pre-placed symlink")

# A normal start: the socket is a socket of nobody's, mode 0660.
p, sock, log = start("normal")
if t.expect(wait_socket(p, sock), "normal start: the socket is created"):
    for _ in range(100):       # the chown comes a moment after the bind
        st = os.lstat(sock)
        if st.st_uid == NOBODY.pw_uid or p.poll() is not None:
            break
        time.sleep(0.1)
    t.expect(stat.S_ISSOCK(st.st_mode) and st.st_uid == NOBODY.pw_uid and
             st.st_gid == NOBODY.pw_gid and
             stat.S_IMODE(st.st_mode) == 0o660,
             "normal start: the socket is nobody's, mode 0660",
             "uid %d gid %d mode %o" % (st.st_uid, st.st_gid,
                                        stat.S_IMODE(st.st_mode)))

# A directory others may write to: they could replace the socket.
p, sock, log = start("worldwritable", mode=0o777)
t.expect(ended(p) == 1 and not os.path.lexists(sock),
         "a world-writable socket directory is refused, nothing created")
t.expect(logged(log, "may be written by others"), "and says why")
p, sock, log = start("groupwritable", mode=0o770)
t.expect(ended(p) == 1, "a group-writable socket directory is refused")
p, sock, log = start("sticky", mode=0o1777)
t.expect(wait_socket(p, sock), "a sticky world-writable directory is not")

# Stop what runs, all at once (libmilter notices within its 5 s poll).
for p in running:
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
for p in running:
    if ended(p) is None:
        t.fail("a daemon did not stop")
        p.kill()
        p.wait()
t.done()
