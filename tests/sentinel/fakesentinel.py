#!/usr/bin/env python3
"""fakesentinel.py - a hostile Sentinel for tests/sentinel/run.sh.

Usage: fakesentinel.py PORT garbage | PORT liar HOST HOSTPORT

garbage: to every command of a connection, the next of a list of wrong
answers (an array of three, a host that is not one, a port out of range,
an integer, bytes that are not RESP, a reply cut short then silence).
liar: to SENTINEL get-master-addr-by-name, HOST HOSTPORT (a server that is
no master), and to SUBSCRIBE a confirmation, then nothing.
Prints "ready" once listening; stops on SIGTERM.
"""
import signal
import socketserver
import sys
import threading

GARBAGE = [
    b"*3\r\n$9\r\n127.0.0.1\r\n$4\r\n6379\r\n$1\r\nx\r\n",
    b"*2\r\n$9\r\nevil host\r\n$4\r\n6379\r\n",
    b"*2\r\n$9\r\n127.0.0.1\r\n$6\r\n999999\r\n",
    b":42\r\n",
    b"HTTP/1.1 200 OK\r\n\r\n",
    b"*2\r\n$9\r\n127.0.0.1\r\n$4\r\n63",
]
count = 0
lock = threading.Lock()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        global count
        while True:
            line = self.rfile.readline()
            if not line:
                return
            if not line.startswith(b"*"):
                continue
            n = int(line[1:].strip() or 0)
            args = []
            for _ in range(n):
                self.rfile.readline()
                args.append(self.rfile.readline().strip())
            cmd = [a.lower() for a in args[:1]]
            if MODE == "garbage":
                with lock:
                    reply = GARBAGE[count % len(GARBAGE)]
                    count += 1
                self.wfile.write(reply)
                self.wfile.flush()
                if reply.endswith(b"63"):
                    return
            elif cmd == [b"subscribe"]:
                self.wfile.write(b"*3\r\n$9\r\nsubscribe\r\n$14\r\n"
                                 b"+switch-master\r\n:1\r\n")
                self.wfile.flush()
            else:
                h, p = HOST.encode(), HOSTPORT.encode()
                self.wfile.write(b"*2\r\n$%d\r\n%s\r\n$%d\r\n%s\r\n" % (
                    len(h), h, len(p), p))
                self.wfile.flush()


class Server(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


PORT, MODE = int(sys.argv[1]), sys.argv[2]
HOST, HOSTPORT = (sys.argv[3], sys.argv[4]) if MODE == "liar" else ("", "")
srv = Server(("127.0.0.1", PORT), Handler)
signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
print("ready", flush=True)
srv.serve_forever()
