#!/usr/bin/env python3
"""storm_proxy.py - tests/emulators/faultproxy.py, unchanged, with a long
accept queue: the S3 front of the boot storm in tests/bench/bench.py.
Takes faultproxy.py's options.

Why: the emulators listen with a queue of 64 (emulib.Server), plenty for a
test and far too short for a thousand agents connecting at once.  A full
queue drops SYNs, and each costs its agent a one-second connect retry that
S3 would never cause, so the storm would measure the emulator's backlog
instead of the agents' answer to throttling.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulators"))
import emulib  # noqa: E402

emulib.Server.request_queue_size = 4096  # capped by net.core.somaxconn
import faultproxy  # noqa: E402

if __name__ == "__main__":
    sys.exit(faultproxy.main())
