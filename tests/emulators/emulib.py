"""emulib.py - the server plumbing that the test emulators share (imds.py,
faultproxy.py and world.py's serve), kept here once.

Why: every emulator must behave the same way for lib.sh, aws.sh and the unit
tests' emulator.h to start and stop it: bind 127.0.0.1 only, print exactly
one line "READY <port>" on stdout once listening, write --pidfile/--portfile,
exit 0 on SIGTERM, SIGINT or SIGHUP (removing those files), and exit by
itself when --parent-pid is gone, so that nothing outlives a test shell
killed with SIGKILL.  Python 3 standard library only.
"""
import argparse
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def parser(description):
    """An ArgumentParser with the options every HTTP emulator has; the
    emulator adds its own, then calls parse_args()."""
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--host", default="127.0.0.1", help="must be 127.0.0.1")
    p.add_argument("--port", type=int, default=0, help="0 = pick a free port")
    p.add_argument("--pidfile")
    p.add_argument("--portfile")
    p.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    p.add_argument("--verbose", action="store_true", help="log requests on stderr")
    return p


def parse_args(p):
    """p's arguments; exit status 2 for any --host but 127.0.0.1."""
    a = p.parse_args()
    if a.host != "127.0.0.1":
        p.error("only --host 127.0.0.1 is allowed")
    return a


def stop_event():
    """An Event that SIGTERM, SIGINT and SIGHUP set: the clean way out."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: stop.set())
    return stop


def alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True


def write_file(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text + "\n")
    os.replace(path + ".tmp", path)


def announce(port, pidfile=None, portfile=None):
    """Writes the pid and port files asked for, then the READY line that
    the starters wait for (so the files are there when they read them);
    returns the files written, for remove()."""
    files = []
    for path, value in ((pidfile, os.getpid()), (portfile, port)):
        if path:
            write_file(path, str(value))
            files.append(path)
    print("READY %d" % port, flush=True)
    return files


def wait(stop, parent_pid):
    """Returns once stop is set or parent_pid (if any) is gone."""
    while not stop.wait(0.5):
        if parent_pid and not alive(parent_pid):
            break


def remove(files):
    for f in files:
        try:
            os.unlink(f)
        except OSError:
            pass


def serve(server, a, stop):
    """Serves until stop or the parent's death (a from parser()), then
    shuts down and removes the files; returns the exit status, 0."""
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.2}, daemon=True).start()
    files = announce(server.server_address[1], a.pidfile, a.portfile)
    wait(stop, a.parent_pid)
    stop.set()  # also ends whatever waits on it, e.g. faultproxy's stalls
    server.shutdown()
    server.server_close()
    remove(files)
    return 0


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def handle_error(self, request, client_address):
        if not isinstance(sys.exc_info()[1], (ConnectionError, TimeoutError)):
            super().handle_error(request, client_address)


class Handler(BaseHTTPRequestHandler):
    """Keep-alive HTTP/1.1 with the request body read whole, every method
    sent to either control() (the paths under control_path) or emulate().
    A subclass sets name (for log lines) and control_path, and defines
    bad_body(), control(url, body) and emulate(url, body)."""
    protocol_version = "HTTP/1.1"
    timeout = 30  # idle keep-alive connections
    # http.server writes headers and body separately: without TCP_NODELAY,
    # Nagle + delayed ACK stall every keep-alive request ~40 ms.
    disable_nagle_algorithm = True
    name = control_path = None

    def log_message(self, fmt, *args):
        if self.server.verbose:
            sys.stderr.write("%s: %s\n" % (self.name, fmt % args))

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n > 0 else b""

    def dispatch(self):
        try:
            body = self.read_body()
        except ValueError:
            self.close_connection = True
            return self.bad_body()
        url = urlsplit(self.path)
        if url.path.startswith(self.control_path) or url.path == self.control_path.rstrip("/"):
            return self.control(url, body)
        self.emulate(url, body)

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = dispatch
