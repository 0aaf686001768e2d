#!/usr/bin/env python3
"""imds.py - a local EC2 instance metadata service (IMDS) emulator for tests.

Why: bootlace's IMDSv2 datasource must be tested without ever reaching the
real IMDS (169.254.169.254 / fd00:ec2::254).  This server binds 127.0.0.1
only and serves the amazon-ec2-metadata-mock (AEMM) default data set
(tests/data/imds/, see its README for the data's oddities) the way IMDS does,
plus switchable faults for the agent's retry logic.  Python 3 standard
library only.  Used through tests/emulators/lib.sh (imds_start).

IMDS behaviour
  PUT /latest/api/token   needs X-aws-ec2-metadata-token-ttl-seconds 1..21600
                          (missing/invalid: 400); X-Forwarded-For: 403; the
                          reply carries the token and the TTL header (the TTL
                          actually granted, i.e. capped by token_ttl_cap).
  GET /, /latest/, /latest/meta-data/..., /latest/dynamic/..., /latest/user-data
                          valid token header: 200; unknown/expired token: 401;
                          no token: 401 unless --allow-v1.  Directories list
                          their entries one per line, sub-directories with a
                          trailing "/".  Unknown path, or no user data: 404.
                          tags/ is absent (404) with --no-tags.
  other methods           405.

Data: the AEMM json (--aemm), then the overrides of --data FILE, a JSON object
whose keys are all optional (unknown keys are an error):
  "instance-id", "instance-type", "ami-id", "region", "availability-zone",
  "local-ipv4", "account-id"   strings; set both the meta-data item and the
                               matching field of the identity document
  "tags": {"Key": "value"} | null     replaces the instance tags; null removes
                               tags/ altogether (same as --no-tags); {} = none
  "role": "name" | null        IAM role name; null = no instance profile (iam/ 404)
  "credentials": {...}         merged over the role's credentials.  By default
                               LastUpdated = start time and Expiration = start
                               + 6 h (AEMM's own are in the past); a number as
                               Expiration/LastUpdated means seconds from now
                               (negative = past), a string is used verbatim.
  "identity-document": {...}   merged over dynamic/instance-identity/document
  "user-data": "text" | null, "user-data-base64": "..." | null   (null = none)
  "paths": {"meta-data/x/y": "value" | {json} | null}   raw items below
                               /latest/, applied last; null deletes a subtree
--user-data FILE replaces the user data with FILE's bytes.

Control API (never logged, never faulted, only under /_emulator/):
  GET  /_emulator/health          {"ok": true, "pid": ..., "port": ...}
  GET  /_emulator/faults          current faults
  POST /_emulator/faults  JSON    set some faults (null resets one); keys:
       unavailable_for  S   for the next S seconds IMDS requests fail, as set by
       unavailable_mode     "refuse" (connection closed without a reply,
                            default) or "status" (503)
       fail_next        N   the next N IMDS requests fail with fail_status
       fail_status          400..599, default 503 (e.g. 500, 429)
       fail_path            only requests whose path starts with this count
       delay            S   sleep S seconds before every IMDS reply
       token_ttl_cap    S   grant at most S seconds per token (0 = off)
       reject_tokens    N   the next N otherwise valid tokens get 401 and are
                            revoked (true = 1): the agent must fetch a new one
  GET  /_emulator/requests        JSON list of IMDS requests seen:
       {"seq", "time", "method", "path", "token": bool, "ttl": str|null,
        "status": int|null (null = closed without reply), "fault": str|null}
       ?format=text               one line each: SEQ METHOD PATH token=yes|no
                                  status=N|- fault=NAME|-
  DELETE /_emulator/requests      clear the log
  GET  /_emulator/tokens          every token issued since the start or reset
                                  (for tests that look for leaked secrets)
  GET|POST /_emulator/options     {"allow_v1": bool, "tags": bool}
  POST /_emulator/data    JSON    more --data overrides (top-level keys replace)
  POST /_emulator/reset           clear faults, log and tokens

Startup: prints exactly one line "READY <port>" on stdout once listening
(--port 0 = a free port), writes --pidfile/--portfile, exits 0 on SIGTERM,
SIGINT or SIGHUP (removing those files) and when --parent-pid dies.  Only
--host 127.0.0.1 is accepted.  Exit status 2 = bad arguments or data.
"""
import base64
import copy
import datetime
import json
import os
import re
import secrets
import sys
import threading
import time
from urllib.parse import parse_qs

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import emulib  # noqa: E402  (the server plumbing the emulators share)

AEMM = os.path.join(HERE, "..", "data", "imds", "aemm-metadata-default-values.json")
CONTROL = "/_emulator/"
TOKEN_PATH = "/latest/api/token"
TTL_HDR = "X-aws-ec2-metadata-token-ttl-seconds"
TOKEN_HDR = "X-aws-ec2-metadata-token"
DOC = "dynamic/instance-identity/document"
CREDS = "meta-data/iam/security-credentials/"
TAGS = "meta-data/tags"
SIMPLE = {  # data-file key: (item below meta-data/, identity document field)
    "instance-id": ("instance-id", "instanceId"),
    "instance-type": ("instance-type", "instanceType"),
    "ami-id": ("ami-id", "imageId"),
    "region": ("placement/region", "region"),
    "availability-zone": ("placement/availability-zone", "availabilityZone"),
    "local-ipv4": ("local-ipv4", "privateIp"),
    "account-id": (None, "accountId"),
}
DATA_KEYS = set(SIMPLE) | {"tags", "role", "credentials", "identity-document",
                           "user-data", "user-data-base64", "paths"}
FAULTS = {"unavailable_for": 0, "unavailable_mode": "refuse", "fail_next": 0,
          "fail_status": 503, "fail_path": None, "delay": 0,
          "token_ttl_cap": 0, "reject_tokens": 0}


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def drop(vals, path):
    for k in [k for k in vals if k == path or k.startswith(path + "/")]:
        del vals[k]


def build(aemm, ov, now):
    """AEMM data + overrides -> ({path below /latest/: bytes}, user data or None)."""
    unknown = set(ov) - DATA_KEYS
    if unknown:
        raise ValueError("unknown data key(s): " + ", ".join(sorted(unknown)))
    vals = {}
    for sect in ("metadata", "dynamic"):
        for key, path in aemm[sect]["paths"].items():
            if key in aemm[sect]["values"]:
                vals[path[len("/latest/"):]] = copy.deepcopy(aemm[sect]["values"][key])
    ud = aemm.get("userdata", {}).get("values", {}).get("userdata")
    user_data = base64.b64decode(ud) if ud else None
    doc = vals[DOC]
    for key, (item, field) in SIMPLE.items():
        if key in ov:
            if item:
                vals["meta-data/" + item] = str(ov[key])
            doc[field] = str(ov[key])
    if "tags" in ov:
        drop(vals, TAGS)
        if ov["tags"] is not None:
            if not isinstance(ov["tags"], dict):
                raise ValueError("tags must be an object or null")
            for k, v in ov["tags"].items():
                if not k or "/" in k:
                    raise ValueError("bad tag key %r" % k)
                vals["%s/instance/%s" % (TAGS, k)] = str(v)
    roles = [k[len(CREDS):] for k in vals if k.startswith(CREDS) and "/" not in k[len(CREDS):]]
    role = roles[0] if roles else None
    creds = vals.pop(CREDS + role) if role else {"Code": "Success", "Type": "AWS-HMAC"}
    creds.update(LastUpdated=iso(now), Expiration=iso(now + 6 * 3600))
    if "role" in ov:
        role = ov["role"]
        if role is not None and (not isinstance(role, str) or not role or "/" in role):
            raise ValueError("bad role %r" % role)
    for k, v in (ov.get("credentials") or {}).items():
        creds[k] = iso(now + v) if isinstance(v, (int, float)) and k in ("Expiration", "LastUpdated") else v
    if role:
        vals[CREDS + role] = creds
        info = vals.get("meta-data/iam/info")
        if isinstance(info, dict) and "InstanceProfileArn" in info:
            info["InstanceProfileArn"] = re.sub(r"instance-profile/.*", "instance-profile/" + role,
                                                info["InstanceProfileArn"])
    else:
        drop(vals, "meta-data/iam")
    doc.update(ov.get("identity-document") or {})
    if "user-data" in ov:
        user_data = None if ov["user-data"] is None else ov["user-data"].encode()
    if "user-data-base64" in ov:
        user_data = None if ov["user-data-base64"] is None else base64.b64decode(ov["user-data-base64"])
    for path, v in (ov.get("paths") or {}).items():
        path = path.strip("/")
        drop(vals, path)
        if v is not None:
            vals[path] = v
    # AEMM serves some directories as items too (iam/security-credentials):
    # a path with children is a directory.
    for k in [k for k in vals if any(o.startswith(k + "/") for o in vals)]:
        del vals[k]
    files = {k: (v if isinstance(v, str) else json.dumps(v, indent=2)).encode() for k, v in vals.items()}
    return files, user_data


class State:
    def __init__(self, aemm, overrides, user_data_file, allow_v1, tags):
        self.lock = threading.Lock()
        self.aemm, self.overrides, self.user_data_file = aemm, overrides, user_data_file
        self.allow_v1, self.tags = allow_v1, tags
        self.tokens, self.log, self.seq, self.issued = {}, [], 0, []
        self.faults, self.unavailable_until = dict(FAULTS), 0.0
        self.rebuild()

    def rebuild(self):
        self.files, self.user_data = build(self.aemm, self.overrides, time.time())
        if self.user_data_file:
            with open(self.user_data_file, "rb") as f:
                self.user_data = f.read()

    def set_data(self, ov):
        if not isinstance(ov, dict):
            raise ValueError("data must be a JSON object")
        with self.lock:
            old = self.overrides
            self.overrides = dict(old, **ov)
            try:
                self.rebuild()
            except (ValueError, TypeError, AttributeError, KeyError) as e:
                self.overrides = old
                raise ValueError(str(e))

    def get_faults(self):
        f = dict(self.faults)
        f["unavailable_for"] = round(max(0.0, self.unavailable_until - time.monotonic()), 3)
        return f

    def set_faults(self, d):
        if not isinstance(d, dict):
            raise ValueError("faults must be a JSON object")
        bad = set(d) - set(FAULTS)
        if bad:
            raise ValueError("unknown fault(s): " + ", ".join(sorted(bad)))
        new = dict(self.faults)
        for k, v in d.items():
            if v is None:
                v = FAULTS[k]
            if k == "reject_tokens" and isinstance(v, bool):
                v = int(v)
            if k == "unavailable_mode":
                if v not in ("refuse", "status"):
                    raise ValueError("unavailable_mode must be refuse or status")
            elif k == "fail_path":
                if v is not None and not isinstance(v, str):
                    raise ValueError("fail_path must be a string")
            elif isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or \
                    (k not in ("delay", "unavailable_for") and v != int(v)):
                raise ValueError("%s must be a non-negative %s" %
                                 (k, "number" if k in ("delay", "unavailable_for") else "integer"))
            elif k == "fail_status" and not 400 <= v <= 599:
                raise ValueError("fail_status must be 400..599")
            new[k] = v if k in ("delay", "unavailable_for", "unavailable_mode", "fail_path") else int(v)
        with self.lock:
            if "unavailable_for" in d:
                self.unavailable_until = time.monotonic() + new["unavailable_for"]
            self.faults = new
            return self.get_faults()

    def reset(self):
        with self.lock:
            self.faults, self.unavailable_until = dict(FAULTS), 0.0
            self.log, self.tokens, self.issued = [], {}, []

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry.update(seq=self.seq, time=round(time.time(), 3))
            self.log = self.log[-9999:] + [entry]

    def take_fault(self, path):
        """-> (fault name or None, status or None (None + fault = close), delay)"""
        with self.lock:
            f = self.faults
            if self.unavailable_until > time.monotonic():
                return "unavailable", (503 if f["unavailable_mode"] == "status" else None), f["delay"]
            if f["fail_next"] > 0 and path.startswith(f["fail_path"] or "/"):
                f["fail_next"] -= 1
                return "fail_next", f["fail_status"], f["delay"]
            return None, None, f["delay"]

    def serve(self, method, path, headers):
        """-> (status, body, extra headers, fault name or None)"""
        with self.lock:
            now = time.monotonic()
            if path == TOKEN_PATH:
                if method != "PUT":
                    return 405, None, [], None
                if "X-Forwarded-For" in headers:
                    return 403, None, [], None
                ttl = (headers.get(TTL_HDR) or "").strip()
                if not re.fullmatch("[0-9]{1,6}", ttl) or not 1 <= int(ttl) <= 21600:
                    return 400, None, [], None
                ttl = min(int(ttl), self.faults["token_ttl_cap"] or 21600)
                self.tokens = {t: e for t, e in self.tokens.items() if e > now}
                token = "AQAE" + base64.b64encode(secrets.token_bytes(39)).decode()
                self.tokens[token] = now + ttl
                self.issued.append(token)
                return 200, token.encode(), [(TTL_HDR, str(ttl))], None
            if method not in ("GET", "HEAD"):
                return 405, None, [], None
            token = headers.get(TOKEN_HDR)
            if token is not None:
                if self.tokens.get(token, 0) <= now:
                    return 401, None, [], None
                if self.faults["reject_tokens"] > 0:
                    self.faults["reject_tokens"] -= 1
                    del self.tokens[token]
                    return 401, None, [], "reject_tokens"
            elif not self.allow_v1:
                return 401, None, [], None
            body = self.lookup(path)
            return (404, None, [], None) if body is None else (200, body, [], None)

    def lookup(self, path):
        if path == "/":
            return b"latest"
        if path in ("/latest", "/latest/"):
            return b"dynamic\nmeta-data" + (b"\nuser-data" if self.user_data is not None else b"")
        if path == "/latest/user-data":
            return self.user_data
        if not path.startswith(("/latest/meta-data", "/latest/dynamic")):
            return None
        rel = path[len("/latest/"):].rstrip("/")
        files = self.files
        if not self.tags:
            files = {k: v for k, v in files.items() if k != TAGS and not k.startswith(TAGS + "/")}
        if rel in files:
            return files[rel]
        pre = rel + "/"
        names = sorted({k[len(pre):].split("/")[0] + ("/" if "/" in k[len(pre):] else "")
                        for k in files if k.startswith(pre)})
        return "\n".join(names).encode() if names else None


REASONS = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
           405: "Method Not Allowed", 429: "Too Many Requests", 500: "Internal Server Error",
           503: "Service Unavailable"}


def error_page(status):
    """The shape of real IMDS error bodies, so an agent that uses the body of
    a failed request as data gets caught."""
    title = "%d - %s" % (status, REASONS.get(status, "Error"))
    return ('<?xml version="1.0" encoding="iso-8859-1"?>\n<!DOCTYPE html PUBLIC '
            '"-//W3C//DTD XHTML 1.0 Transitional//EN"\n\t"http://www.w3.org/TR/xhtml1/DTD/'
            'xhtml1-transitional.dtd">\n<html xmlns="http://www.w3.org/1999/xhtml" '
            'xml:lang="en" lang="en">\n <head>\n  <title>%s</title>\n </head>\n <body>\n'
            '  <h1>%s</h1>\n </body>\n</html>\n' % (title, title)).encode()


class Handler(emulib.Handler):
    name, control_path = "imds", CONTROL

    def version_string(self):
        return "EC2ws"

    def reply(self, status, body=None, ctype="text/plain", headers=()):
        if body is None:
            body, ctype = (error_page(status), "text/html") if status >= 400 else (b"", ctype)
        self.send_response(status, REASONS.get(status))
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def bad_body(self):
        self.reply(400)

    def emulate(self, url, body):
        st, path = self.server.state, url.path
        entry = {"method": self.command, "path": path, "token": TOKEN_HDR in self.headers,
                 "ttl": self.headers.get(TTL_HDR), "status": None, "fault": None}
        fault, status, delay = st.take_fault(path)
        if delay:
            time.sleep(delay)
        if fault:
            entry.update(fault=fault, status=status)
            st.record(entry)  # before replying: the client may read the log next
            if status is None:
                self.close_connection = True
                return
            return self.reply(status)
        status, body, headers, fault = st.serve(self.command, path, self.headers)
        entry.update(status=status, fault=fault)
        st.record(entry)
        self.reply(status, body, headers=headers)

    def control(self, url, body):
        st, name, m = self.server.state, url.path[len(CONTROL):].strip("/"), self.command
        try:
            data = json.loads(body) if body.strip() else {}
            if name == "health" and m == "GET":
                out = {"ok": True, "pid": os.getpid(), "port": self.server.server_address[1]}
            elif name == "faults" and m == "GET":
                with st.lock:
                    out = st.get_faults()
            elif name == "faults" and m == "POST":
                out = st.set_faults(data)
            elif name == "requests" and m == "GET":
                with st.lock:
                    log = list(st.log)
                if parse_qs(url.query).get("format") == ["text"]:
                    return self.reply(200, "".join(
                        "%d %s %s token=%s status=%s fault=%s\n" % (
                            e["seq"], e["method"], e["path"], "yes" if e["token"] else "no",
                            e["status"] if e["status"] is not None else "-", e["fault"] or "-")
                        for e in log).encode())
                out = log
            elif name == "tokens" and m == "GET":
                with st.lock:
                    out = list(st.issued)
            elif name == "requests" and m == "DELETE":
                with st.lock:
                    st.log = []
                out = []
            elif name == "options" and m in ("GET", "POST"):
                if m == "POST":
                    if not isinstance(data, dict) or set(data) - {"allow_v1", "tags"} or \
                            any(not isinstance(v, bool) for v in data.values()):
                        raise ValueError('options: {"allow_v1": bool, "tags": bool}')
                    with st.lock:
                        st.allow_v1 = data.get("allow_v1", st.allow_v1)
                        st.tags = data.get("tags", st.tags)
                out = {"allow_v1": st.allow_v1, "tags": st.tags}
            elif name == "data" and m == "POST":
                st.set_data(data)
                out = {"ok": True}
            elif name == "reset" and m == "POST":
                st.reset()
                out = {"ok": True}
            else:
                return self.reply(404, json.dumps({"error": "no such control endpoint"}).encode(),
                                  "application/json")
        except ValueError as e:
            return self.reply(400, json.dumps({"error": str(e)}).encode(), "application/json")
        self.reply(200, (json.dumps(out, indent=1) + "\n").encode(), "application/json")


def main():
    p = emulib.parser("Local EC2 IMDS emulator (127.0.0.1 only).")
    p.add_argument("--aemm", default=AEMM, help="AEMM-format default data")
    p.add_argument("--data", help="JSON overrides (see the top of this file)")
    p.add_argument("--user-data", dest="user_data_file", metavar="FILE", help="serve FILE as user data")
    p.add_argument("--allow-v1", action="store_true", help="answer requests without a token")
    p.add_argument("--no-tags", action="store_true", help="instance tags not in metadata (404)")
    for k, v in FAULTS.items():
        p.add_argument("--" + k.replace("_", "-"), dest=k, default=None, metavar="VALUE",
                       type=(str if isinstance(v, str) or v is None else float),
                       help="fault %s (see the control API)" % k)
    a = emulib.parse_args(p)

    stop = emulib.stop_event()
    try:
        with open(a.aemm) as f:
            aemm = json.load(f)
        ov = {}
        if a.data:
            with open(a.data) as f:
                ov = json.load(f)
            if not isinstance(ov, dict):
                raise ValueError("%s: not a JSON object" % a.data)
        state = State(aemm, ov, a.user_data_file, a.allow_v1, not a.no_tags)
        state.set_faults({k: getattr(a, k) for k in FAULTS if getattr(a, k) is not None})
        server = emulib.Server(("127.0.0.1", a.port), Handler)
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as e:
        print("imds: %s" % e, file=sys.stderr)
        return 2
    server.state, server.verbose = state, a.verbose
    return emulib.serve(server, a, stop)


if __name__ == "__main__":
    sys.exit(main())
