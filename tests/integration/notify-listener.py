#!/usr/bin/env python3
"""notify-listener.py - plays systemd's side of sd_notify for the daemon tests.

Binds an AF_UNIX datagram socket at PATH (what NOTIFY_SOCKET names) and
appends every message it receives to OUT, one "KEY=value" per line, as
sd_notify sends them.  Exits when --parent-pid is gone (so a failing test
never leaves it behind) or on SIGTERM.  Standard library only.

    notify-listener.py --socket PATH --out FILE --parent-pid PID
"""
import argparse
import os
import signal
import socket
import sys


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--parent-pid", type=int, required=True)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(a.socket)
    s.settimeout(0.5)
    print("READY", flush=True)
    with open(a.out, "a", buffering=1) as out:
        while True:
            try:
                msg = s.recv(4096)
            except socket.timeout:
                try:
                    os.kill(a.parent_pid, 0)
                except ProcessLookupError:
                    return 0
                continue
            out.write(msg.decode(errors="replace").rstrip("\n") + "\n")


if __name__ == "__main__":
    sys.exit(main())
