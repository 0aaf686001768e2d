#!/usr/bin/env python3
"""fleet_imds.py - one IMDS emulator process for a whole fleet of agents, for
the boot storm of tests/bench/run.sh.

Why: imds.py serves one instance, and a thousand imds.py processes do not fit
on a small machine.  This is imds.py's emulator (its State and Handler,
unchanged) behind a path prefix: agent K points AWS_EC2_METADATA_SERVICE_ENDPOINT
at http://127.0.0.1:PORT/ID where ID is its own instance id, and sees an
instance with that id, the --data of the world (tags, role, credentials) and
its own tokens.  Binds 127.0.0.1 only (emulib).

  fleet_imds.py --data FILE --instances N [emulib options]
      serves instances i-00000000000000001 .. (i- and K in 17 hex digits,
      K = 1..N; fleet_id()).
  GET /_emulator/requests   {"requests": total, "status": {"200": n, ...}}
      summed over the instances; the per-request logs stay in each State.
"""
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "emulators"))
import emulib  # noqa: E402
import imds  # noqa: E402


def fleet_id(k):
    return "i-%017x" % k


class View:
    """The server as one instance's requests see it: its own State."""

    def __init__(self, server, state):
        self.__dict__.update(_server=server, state=state)

    def __getattr__(self, name):
        return getattr(self._server, name)


class Handler(imds.Handler):
    def emulate(self, url, body):
        iid, _, rest = url.path.lstrip("/").partition("/")
        state = self.server.states.get(iid)
        if state is None:
            return self.reply(404)
        server, self.server = self.server, View(self.server, state)
        try:
            super().emulate(url._replace(path="/" + rest), body)
        finally:
            self.server = server

    def control(self, url, body):
        if url.path.rstrip("/") != imds.CONTROL + "requests" or self.command != "GET":
            return self.reply(404)
        status = {}
        for st in self.server.states.values():
            with st.lock:
                for e in st.log:
                    k = str(e["status"])
                    status[k] = status.get(k, 0) + 1
        out = {"requests": sum(status.values()), "status": status}
        self.reply(200, (json.dumps(out) + "\n").encode(), "application/json")


class Server(emulib.Server):
    # A fleet connects at once: a short accept queue would drop SYNs and
    # turn into one-second connect retries that S3 never caused.
    request_queue_size = 4096


def main():
    p = emulib.parser("IMDS emulator for a fleet of instances (127.0.0.1 only).")
    p.add_argument("--data", required=True, help="imds.py --data JSON, shared by all")
    p.add_argument("--instances", type=int, required=True)
    a = emulib.parse_args(p)
    stop = emulib.stop_event()
    try:
        with open(imds.AEMM) as f:
            aemm = json.load(f)
        with open(a.data) as f:
            ov = json.load(f)
        states = {fleet_id(k): imds.State(aemm, dict(ov, **{"instance-id": fleet_id(k)}),
                                          None, False, True)
                  for k in range(1, a.instances + 1)}
        server = Server(("127.0.0.1", a.port), Handler)
    except (OSError, ValueError, KeyError, TypeError) as e:
        print("fleet_imds.py: %s" % e, file=sys.stderr)
        return 2
    server.states, server.verbose = states, a.verbose
    return emulib.serve(server, a, stop)


if __name__ == "__main__":
    sys.exit(main())
