#!/usr/bin/env python3
"""faultproxy.py - an HTTP server for tests that serves S3-like objects, or
relays to another local server, and injects the faults of a real network.

Why: bootlace's downloads must survive throttling, resets, bodies cut short,
stalls and corruption, and must be tested against them without ever leaving
the machine.  This server binds 127.0.0.1 only, talks to loopback only, and
breaks exactly the requests a test asks it to.  Python 3 standard library
only.  Used through tests/emulators/lib.sh (faultproxy_start).

Modes (exactly one)
  --upstream http://127.0.0.1:PORT
        every request is forwarded verbatim (method, path and query, all
        headers including Host, which SigV4 signs, and the body) to the
        upstream (e.g. moto_server for S3 and EC2), one connection each; the
        response (status, headers, body) is relayed.  The upstream must be
        on loopback.  No answer from it: 502.
  --static DIR
        GET and HEAD of DIR/PATH, the way S3 answers GetObject: 200 with
        Content-Length, ETag (quoted MD5) and Last-Modified; with the request
        header x-amz-checksum-mode: ENABLED also x-amz-checksum-sha256 (base64
        SHA-256) and x-amz-checksum-type: FULL_OBJECT; 304 when If-None-Match
        matches the ETag; 404 with an S3 <Error><Code>NoSuchKey</Code> XML
        body for a missing file, a directory or a path outside DIR (symlinks
        are resolved first: nothing outside DIR is ever served); other
        methods 405.
  --tls-cert FILE --tls-key FILE   serve https instead of http (either mode).

Faults: a list of rules, tried in order for every request outside the control
API; the first that matches (and has times left) applies.  A rule is a JSON
object:
  "match"   substring of the request target (path and query); default: all
  "method"  only this method (e.g. "GET"); default: any
  "times"   how many requests it breaks (default 1; -1 = forever)
  "wait"    seconds to sleep before the action (default 0): a slow error
  "action"  one of
    status     reply "status" (default 503) with an AWS XML error body:
               "code" (default by status: 503 SlowDown, 500 InternalError,
               404 NoSuchKey, 403 AccessDenied, 301 PermanentRedirect, ...),
               "message", "headers" {"name": "value"} added to the reply (e.g.
               {"x-amz-bucket-region": "eu-west-1"} with a 301), "format"
               "s3" (<Error>...) or "ec2" (<Response><Errors>...); by default
               ec2 for form POSTs (the EC2 query API), s3 otherwise.  "body"
               (a string) is sent instead of the error body, as it is (e.g. a
               200 whose XML declares entities)
    reset      no reply: the connection is reset (SO_LINGER 0: a real RST),
               or closed cleanly with "rst": false
    truncate   the real headers (full Content-Length) and only "bytes" bytes
               of the body (default half), then the connection is closed, or
               reset with "rst": true (a reset mid-body)
    stall      the real headers and "bytes" bytes (default 0), then silence
               for "seconds" (default 30), then the connection is closed
    delay      sleep "seconds" (default 1), then serve normally
    corrupt    the real response with one body byte flipped (headers kept,
               checksum included)
    headers    the real response with "headers" {"name": "value"} set,
               replacing any of the same name (e.g. a wrong
               x-amz-checksum-sha256 for an intact body)
    chunked    the real response sent with Transfer-Encoding: chunked and no
               Content-Length (as some servers and proxies do)
    throttle   at most "rate" matching requests a second get through; the
               excess get 503 SlowDown (ec2: RequestLimitExceeded).  A request
               let through goes on to the later rules.  "times" counts the
               requests refused and defaults to -1 here.

Control API (never logged, never faulted, only under /_faultproxy/):
  GET    /_faultproxy/health     {"ok": true, "pid", "port", "mode"}
  GET    /_faultproxy/faults     the rules, with the times left
  POST   /_faultproxy/faults     JSON list of rules: replaces the list ([] = none);
                                 400 with {"error": ...} for a bad rule
  GET    /_faultproxy/requests   JSON list of the requests seen:
         {"seq", "time", "method", "path" (target with query), "host" (the
          Host header), "bytes" (request body length), "status" (null = no
          reply), "fault" (action name or null), "conn" (number of the
          client connection: equal numbers = a reused connection),
          "credential" (the SigV4 credential scope the request was signed
          with, KEYID/DATE/REGION/SERVICE/aws4_request, from Authorization
          or X-Amz-Credential; null if unsigned; the signature is not kept)}
         ?format=text            one line each: SEQ METHOD PATH STATUS|- FAULT|-
  DELETE /_faultproxy/requests   clear the log
  POST   /_faultproxy/reset      clear the rules and the log

Startup: prints exactly one line "READY <port>" on stdout once listening
(--port 0 = a free port), writes --pidfile/--portfile, exits 0 on SIGTERM,
SIGINT or SIGHUP (removing those files) and when --parent-pid dies.  Only
--host 127.0.0.1 is accepted.  Exit status 2 = bad arguments.
"""
import base64
import email.utils
import hashlib
import http.client
import itertools
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from urllib.parse import parse_qs, unquote, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import emulib  # noqa: E402  (the server plumbing the emulators share)

CONTROL = "/_faultproxy/"
LOOPBACK = ("127.0.0.1", "localhost", "::1")
ACTIONS = {  # action: {parameter: default}
    "status": {"status": 503, "code": None, "message": None, "headers": {}, "format": None,
               "body": None},
    "reset": {"rst": True},
    "truncate": {"bytes": None, "rst": False},
    "stall": {"bytes": 0, "seconds": 30},
    "delay": {"seconds": 1},
    "corrupt": {},
    "headers": {"headers": {}},
    "chunked": {},
    "throttle": {"rate": None},
}
RULE_KEYS = {"match", "method", "times", "wait", "action"}
CODES = {301: "PermanentRedirect", 307: "TemporaryRedirect", 400: "InvalidRequest",
         403: "AccessDenied", 404: "NoSuchKey", 405: "MethodNotAllowed",
         429: "SlowDown", 500: "InternalError", 502: "BadGateway", 503: "SlowDown"}
EC2_CODES = {503: "RequestLimitExceeded", 429: "RequestLimitExceeded", 403: "UnauthorizedOperation",
             400: "InvalidParameterValue", 500: "InternalError"}
MESSAGES = {
    "PermanentRedirect": "The bucket you are attempting to access must be addressed using "
                         "the specified endpoint. Please send all future requests to this endpoint.",
    "AccessDenied": "Access Denied",
    "NoSuchKey": "The specified key does not exist.",
    "MethodNotAllowed": "The specified method is not allowed against this resource.",
    "SlowDown": "Please reduce your request rate.",
    "InternalError": "We encountered an internal error. Please try again.",
    "RequestLimitExceeded": "Request limit exceeded.",
    "BadGateway": "The upstream server did not answer.",
}
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection"}


def check_rule(r):
    """A rule as given -> the rule with every default filled in; ValueError."""
    if not isinstance(r, dict):
        raise ValueError("a rule must be a JSON object")
    action = r.get("action")
    if action not in ACTIONS:
        raise ValueError("action must be one of " + ", ".join(sorted(ACTIONS)))
    params = ACTIONS[action]
    bad = set(r) - RULE_KEYS - set(params)
    if bad:
        raise ValueError("%s: unknown key(s) %s" % (action, ", ".join(sorted(bad))))
    out = {"match": r.get("match", ""), "method": r.get("method"), "action": action,
           "times": r.get("times", -1 if action == "throttle" else 1), "wait": r.get("wait", 0)}
    out.update({k: r.get(k, v) for k, v in params.items()})
    if not isinstance(out["match"], str):
        raise ValueError("match must be a string")
    if out["method"] is not None:
        if not isinstance(out["method"], str) or not out["method"].isalpha():
            raise ValueError("method must be a method name")
        out["method"] = out["method"].upper()
    for k in ("times", "wait", "status", "bytes", "seconds", "rate"):
        v = out.get(k)
        if k in out and v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))):
            raise ValueError("%s must be a number" % k)
    for k in ("times", "status", "bytes"):
        if out.get(k) is not None and out[k] != int(out[k]):
            raise ValueError("%s must be an integer" % k)
    if out["times"] < -1:
        raise ValueError("times must be -1 (forever) or more")
    if "headers" in out and (not isinstance(out["headers"], dict) or
                             any(not isinstance(v, str) for v in out["headers"].values())):
        raise ValueError('headers must be {"name": "value"}')
    if action == "status":
        if not 100 <= out["status"] <= 599:
            raise ValueError("status must be 100..599")
        if out["format"] not in (None, "s3", "ec2"):
            raise ValueError("format must be s3 or ec2")
        for k in ("code", "message", "body"):
            if out[k] is not None and not isinstance(out[k], str):
                raise ValueError("%s must be a string" % k)
    if "rst" in out and not isinstance(out["rst"], bool):
        raise ValueError("rst must be true or false")
    if out.get("bytes") is not None and out["bytes"] < 0 or out.get("seconds", 0) < 0 or \
            out["wait"] < 0:
        raise ValueError("bytes, seconds and wait must not be negative")
    if action == "throttle" and (out["rate"] is None or out["rate"] <= 0):
        raise ValueError("throttle needs a rate > 0")
    return out


def error_xml(fmt, code, message, request_id, key=None):
    if fmt == "ec2":
        return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error><Code>%s</Code>'
                '<Message>%s</Message></Error></Errors><RequestID>%s</RequestID></Response>' %
                (xml_escape(code), xml_escape(message), request_id)).encode()
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>%s'
            '<RequestId>%s</RequestId><HostId>faultproxy</HostId></Error>' %
            (xml_escape(code), xml_escape(message),
             "<Key>%s</Key>" % xml_escape(key) if key is not None else "", request_id)).encode()


def xml_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.rules, self.log, self.seq = [], [], 0
        self.passed = {}  # id(rule) -> times of the requests a throttle let through

    def set_rules(self, rules):
        if not isinstance(rules, list):
            raise ValueError("faults must be a JSON list of rules")
        rules = [check_rule(r) for r in rules]
        with self.lock:
            self.rules, self.passed = rules, {}
            return [dict(r) for r in rules]

    def reset(self):
        with self.lock:
            self.rules, self.passed, self.log = [], {}, []

    def take(self, method, target):
        """-> a copy of the rule that applies to this request, or None."""
        with self.lock:
            now = time.monotonic()
            for r in self.rules:
                if r["times"] == 0 or r["match"] not in target or \
                        r["method"] not in (None, method):
                    continue
                if r["action"] == "throttle":
                    seen = [t for t in self.passed.get(id(r), []) if t > now - 1.0]
                    self.passed[id(r)] = seen
                    if len(seen) < r["rate"]:
                        seen.append(now)
                        continue
                if r["times"] > 0:
                    r["times"] -= 1
                return dict(r)
            return None

    def record(self, entry):
        with self.lock:
            self.seq += 1
            entry.update(seq=self.seq, time=round(time.time(), 3))
            self.log = self.log[-9999:] + [entry]
            return self.seq


class Handler(emulib.Handler):
    name, control_path = "faultproxy", CONTROL

    def setup(self):
        super().setup()
        self.conn_id = next(self.server.conn_ids)

    def version_string(self):
        return "faultproxy"

    def bad_body(self):
        self.send(400, [("Content-Type", "text/plain")], b"bad request body\n")

    # --- the proxied or served request, and its faults -----------------------

    def emulate(self, url, body):
        st, srv = self.server.state, self.server
        rule = st.take(self.command, self.path)
        action = rule["action"] if rule else None
        entry = {"method": self.command, "path": self.path, "host": self.headers.get("Host"),
                 "bytes": len(body), "status": None, "fault": action, "conn": self.conn_id,
                 "credential": self.credential(url)}
        if rule and rule["wait"]:
            srv.stop.wait(rule["wait"])
        if action == "delay":
            time.sleep(rule["seconds"])
        if action in ("reset", "status", "throttle"):
            if action == "reset":
                st.record(entry)  # before the reply: the client may read the log next
                return self.drop(rule["rst"])
            status, headers, data = self.error_reply(rule)
        elif srv.upstream:
            status, headers, data = self.forward(body)
        else:
            status, headers, data = self.static()
        entry["status"] = status
        st.record(entry)
        if self.command == "HEAD" or status in (204, 304) or status < 200:
            data = b""
        if action == "corrupt" and data:
            data = bytearray(data)
            data[len(data) // 2] ^= 0xFF
            data = bytes(data)
        if action == "headers":
            names = {k.lower() for k in rule["headers"]}
            headers = [(k, v) for k, v in headers if k.lower() not in names]
            headers += list(rule["headers"].items())
        if action == "chunked":
            headers = [(k, v) for k, v in headers if k.lower() != "content-length"]
            headers.append(("Transfer-Encoding", "chunked"))
            data = (b"%x\r\n%s\r\n" % (len(data), data) if data else b"") + b"0\r\n\r\n"
        if action == "truncate":
            n = rule["bytes"] if rule["bytes"] is not None else len(data) // 2
            self.send(status, headers, data[:min(n, max(len(data) - 1, 0))], close=True)
            if rule["rst"]:
                # A moment for the client to read what came before the reset.
                self.wfile.flush()
                srv.stop.wait(0.1)
                self.drop(True)
            return
        if action == "stall":
            self.send(status, headers, data[:rule["bytes"]], close=True)
            srv.stop.wait(rule["seconds"])
            return
        self.send(status, headers, data)

    def send(self, status, headers, data, close=False):
        """Writes a response as given: headers verbatim, no Content-Length
        added (truncate and stall lie about it on purpose)."""
        close = close or self.close_connection
        lines = ["HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0])]
        lines += ["%s: %s" % kv for kv in headers]
        if close:
            lines.append("Connection: close")
            self.close_connection = True
        self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + data)

    def drop(self, rst):
        self.close_connection = True
        if rst:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.connection.close()  # the RST goes out when finish() closes rfile

    def error_reply(self, rule):
        status = rule["status"] if rule["action"] == "status" else 503
        fmt = rule.get("format")
        if fmt is None:
            form = self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded")
            fmt = "ec2" if self.command == "POST" and form else "s3"
        code = rule.get("code") or (EC2_CODES if fmt == "ec2" else CODES).get(status) or \
            ("InternalError" if status >= 500 else "InvalidRequest")
        message = rule.get("message") or MESSAGES.get(code, code)
        if rule.get("body") is not None:
            body = rule["body"].encode()
        else:
            body = error_xml(fmt, code, message, self.request_id())
        headers = self.base_headers() + [("Content-Type", "application/xml"),
                                         ("Content-Length", str(len(body)))]
        return status, headers + list(rule.get("headers", {}).items()), body

    def credential(self, url):
        """The SigV4 credential scope of the request, or None: never the
        signature, which is all that would let a reader replay it."""
        m = re.search(r"Credential=([^,\s]+)", self.headers.get("Authorization", ""))
        if m:
            return m.group(1)
        q = parse_qs(url.query).get("X-Amz-Credential")
        return q[0] if q else None

    def request_id(self):
        return "FP%014d" % (self.server.state.seq + 1)

    def base_headers(self):
        return [("x-amz-request-id", self.request_id()), ("Date", self.date_time_string()),
                ("Server", "AmazonS3")]

    def forward(self, body):
        up = self.server.upstream
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=30)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
            for k, v in self.headers.items():
                conn.putheader(k, v)
            conn.endheaders(body if body or chunked else None, encode_chunked=chunked)
            resp = conn.getresponse()
            data = resp.read()
            headers = [(k, v) for k, v in resp.getheaders() if k.lower() not in HOP_BY_HOP]
            if not any(k.lower() == "content-length" for k, _ in headers) and \
                    self.command != "HEAD" and resp.status not in (204, 304) and resp.status >= 200:
                headers.append(("Content-Length", str(len(data))))
            return resp.status, headers, data
        except (OSError, http.client.HTTPException) as e:
            sys.stderr.write("faultproxy: upstream %s: %s\n" % (up.geturl(), e))
            return self.error_reply({"action": "status", "status": 502, "format": "s3"})
        finally:
            conn.close()

    def static(self):
        root = self.server.root
        key = unquote(urlsplit(self.path).path).lstrip("/")
        path = os.path.realpath(os.path.join(root, key))
        if self.command not in ("GET", "HEAD"):
            return self.s3_error(405, key)
        if not path.startswith(root + os.sep) or not os.path.isfile(path):
            return self.s3_error(404, key)
        try:
            with open(path, "rb") as f:
                data = f.read()
            mtime = os.stat(path).st_mtime
        except OSError:
            return self.s3_error(404, key)
        etag = '"%s"' % hashlib.md5(data).hexdigest()
        headers = self.base_headers() + [
            ("Last-Modified", email.utils.formatdate(mtime, usegmt=True)), ("ETag", etag)]
        if self.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
            headers += [("x-amz-checksum-sha256", base64.b64encode(hashlib.sha256(data).digest()).decode()),
                        ("x-amz-checksum-type", "FULL_OBJECT")]
        inm = self.headers.get("If-None-Match")
        if inm is not None and (inm.strip() == "*" or etag in [t.strip() for t in inm.split(",")]):
            return 304, headers, b""
        headers += [("Accept-Ranges", "bytes"), ("Content-Type", "binary/octet-stream"),
                    ("Content-Length", str(len(data)))]
        return 200, headers, data

    def s3_error(self, status, key):
        code = CODES[status]
        body = error_xml("s3", code, MESSAGES[code], self.request_id(), key if status == 404 else None)
        return status, self.base_headers() + [("Content-Type", "application/xml"),
                                              ("Content-Length", str(len(body)))], body

    # --- control API ----------------------------------------------------------

    def control(self, url, body):
        st, name, m = self.server.state, url.path[len(CONTROL):].strip("/"), self.command
        try:
            data = json.loads(body) if body.strip() else None
            if name == "health" and m == "GET":
                out = {"ok": True, "pid": os.getpid(), "port": self.server.server_address[1],
                       "mode": "upstream" if self.server.upstream else "static"}
            elif name == "faults" and m == "GET":
                with st.lock:
                    out = [dict(r) for r in st.rules]
            elif name == "faults" and m == "POST":
                out = st.set_rules(data)
            elif name == "requests" and m == "GET":
                with st.lock:
                    log = list(st.log)
                if parse_qs(url.query).get("format") == ["text"]:
                    text = "".join("%d %s %s %s %s\n" % (
                        e["seq"], e["method"], e["path"], "-" if e["status"] is None else e["status"],
                        e["fault"] or "-") for e in log)
                    return self.reply(200, text.encode(), "text/plain")
                out = log
            elif name == "requests" and m == "DELETE":
                with st.lock:
                    st.log = []
                out = []
            elif name == "reset" and m == "POST":
                st.reset()
                out = {"ok": True}
            else:
                return self.reply(404, json.dumps({"error": "no such control endpoint"}).encode())
        except ValueError as e:
            return self.reply(400, json.dumps({"error": str(e)}).encode())
        self.reply(200, (json.dumps(out, indent=1) + "\n").encode())

    def reply(self, status, body, ctype="application/json"):
        self.send(status, [("Content-Type", ctype), ("Content-Length", str(len(body)))], body)


class Server(emulib.Server):
    def process_request_thread(self, request, client_address):
        # The TLS handshake runs in the request's own thread, so that a slow
        # or broken client never holds up the others.
        if self.tls:
            try:
                request = self.tls.wrap_socket(request, server_side=True)
            except (OSError, ssl.SSLError):
                return self.shutdown_request(request)
        super().process_request_thread(request, client_address)


def main():
    p = emulib.parser("Fault-injecting HTTP server and proxy (127.0.0.1 only).")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--upstream", metavar="URL", help="forward to http://127.0.0.1:PORT")
    mode.add_argument("--static", metavar="DIR", help="serve the files under DIR like S3")
    p.add_argument("--tls-cert", metavar="FILE", help="serve https with this certificate chain")
    p.add_argument("--tls-key", metavar="FILE", help="and this private key")
    a = emulib.parse_args(p)
    upstream = urlsplit(a.upstream) if a.upstream else None
    if upstream and (upstream.scheme != "http" or upstream.hostname not in LOOPBACK or
                     not upstream.port or upstream.path not in ("", "/")):
        p.error("--upstream must be http://127.0.0.1:PORT (loopback only)")
    if a.static and not os.path.isdir(a.static):
        p.error("--static %s: not a directory" % a.static)
    if bool(a.tls_cert) != bool(a.tls_key):
        p.error("--tls-cert and --tls-key go together")

    stop = emulib.stop_event()
    try:
        tls = None
        if a.tls_cert:
            tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            tls.load_cert_chain(a.tls_cert, a.tls_key)
        server = Server(("127.0.0.1", a.port), Handler)
    except (OSError, ssl.SSLError) as e:
        print("faultproxy: %s" % e, file=sys.stderr)
        return 2
    server.state, server.verbose, server.tls, server.stop = State(), a.verbose, tls, stop
    server.upstream = upstream
    server.root = os.path.realpath(a.static) if a.static else None
    server.conn_ids = itertools.count(1)
    return emulib.serve(server, a, stop)


if __name__ == "__main__":
    sys.exit(main())
