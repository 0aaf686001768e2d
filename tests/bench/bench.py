#!/usr/bin/env python3
"""bench.py - the measuring half of `make bench` (issue #7).  tests/bench/run.sh
starts the emulated AWS world (tests/emulators/aws.sh) and runs this inside it;
see docs/benchmarks.md for what is measured and why.

  bench.py --bootlace BIN --aws AWS_CLI --runtree BIN --tmp DIR --out DIR --runs N
           --storm N,... --rate R --idle SECONDS --libcurl NAME --ld-library-path DIR

--ld-library-path (run.sh --libcurl http-only) makes every contender's curl
and bootlace load the libcurl.so.4 in DIR instead of the system's.

The world comes from the environment run.sh exports (WORLD_*, IMDS_URL,
FAULTPROXY_URL).  Every contender runs with an environment built here from
scratch: no credentials, no proxy, every endpoint on 127.0.0.1.  A contender
run that fails, does not run its three layers, or gets an error answer from
S3 or EC2 fails the benchmark (exit status 1): no figure comes from a run
that did not do the work.  Nothing here asserts a time.
"""
import argparse
import datetime
import glob
import json
import os
import platform
import selectors
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from fleet_imds import fleet_id  # noqa: E402  (the instance ids it serves)
NOTIFY_LISTENER = os.path.join(HERE, "..", "integration", "notify-listener.py")
LAYERS = ("base", "roles/web", "environments/production")
MARK = "bench-layer %s/setup.sh ran"  # what each layer script prints
CONTENDERS = ("bootlace", "floor", "reference")
MIB = 1024.0
LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class Fail(Exception):
    pass


def http(method, url, data=None):
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"})
    with LOCAL.open(req, timeout=30) as r:
        return r.read()


def http_json(method, url, obj=None):
    body = http(method, url, None if obj is None else json.dumps(obj).encode())
    return json.loads(body) if body.strip() else None


class World:
    """The running world of aws.sh, and its two request logs."""

    def __init__(self):
        e = os.environ
        self.bucket, self.prefix = e["WORLD_BUCKET"], e["WORLD_PREFIX"]
        self.s3, self.ec2 = e["WORLD_S3_ENDPOINT"], e["WORLD_EC2_ENDPOINT"]
        self.imds, self.proxy, self.data = e["IMDS_URL"], e["FAULTPROXY_URL"], e["WORLD_DATA"]
        self.moto = e["MOTO_URL"]
        for url in (self.s3, self.ec2, self.imds, self.proxy, self.moto):
            if not url.startswith("http://127.0.0.1:"):
                raise Fail("%s: not a loopback endpoint; refusing to run" % url)

    def clear(self):
        http("DELETE", self.imds + "/_emulator/requests")
        http("DELETE", self.proxy + "/_faultproxy/requests")

    def requests(self):
        """[(service, method, path, status)] since clear(): imds, s3 or ec2."""
        out = [("imds", e["method"], e["path"], e["status"])
               for e in http_json("GET", self.imds + "/_emulator/requests")]
        for e in http_json("GET", self.proxy + "/_faultproxy/requests"):
            service = "ec2" if e["method"] == "POST" and e["path"] == "/" else "s3"
            out.append((service, e["method"], e["path"], e["status"]))
        return out


# --- processes -------------------------------------------------------------

def spawn(argv, env, out, stdin=None):
    """argv in the background, stdin the fd stdin or /dev/null, stdout and
    stderr to out."""
    actions = [(os.POSIX_SPAWN_DUP2, stdin, 0) if stdin is not None else
               (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
               (os.POSIX_SPAWN_OPEN, 1, out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
               (os.POSIX_SPAWN_DUP2, 1, 2)]
    return os.posix_spawn(argv[0], argv, env, file_actions=actions)


def measure(runtree, argv, env, out):
    """Runs argv to its end through runtree (runtree.c says why): wall and
    CPU seconds and peak RSS (KiB) of its whole process tree, exit status."""
    p = subprocess.run([runtree, out] + argv, env=env, stdout=subprocess.PIPE, check=True)
    return json.loads(p.stdout)


def stop(pid, timeout=20):
    """SIGTERM, SIGKILL after timeout seconds; returns the exit status."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
        time.sleep(0.05)


def wait_until(pred, timeout, what):
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise Fail("timed out after %ds waiting for %s" % (timeout, what))
        time.sleep(0.005)


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def rss_by_file(pid, top=8):
    """The largest contributors to a process's RSS (KiB): its mapped files,
    and [anon] for everything else."""
    rss, name = {}, "[anon]"
    for line in read("/proc/%d/smaps" % pid).splitlines():
        head = line.split()
        if head and "-" in head[0] and ":" not in head[0]:
            name = head[5] if len(head) > 5 and head[5].startswith("/") else "[anon]"
        elif head and head[0] == "Rss:":
            rss[name] = rss.get(name, 0) + int(head[1])
    return dict(sorted(rss.items(), key=lambda kv: -kv[1])[:top])


def proc_sample(pid):
    """RSS figures (KiB), context switches summed over the threads, and CPU
    seconds of a live process, from /proc."""
    status = dict(line.split(":", 1) for line in read("/proc/%d/status" % pid).splitlines())
    switches = 0
    for task in os.listdir("/proc/%d/task" % pid):
        for line in read("/proc/%d/task/%s/status" % (pid, task)).splitlines():
            if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                switches += int(line.split()[1])
    stat = read("/proc/%d/stat" % pid).rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    rollup = dict(line.split(":", 1) for line in read("/proc/%d/smaps_rollup" % pid).splitlines()[1:])
    return {"vmrss": int(status["VmRSS"].split()[0]), "rssanon": int(status["RssAnon"].split()[0]),
            "pss": int(rollup["Pss"].split()[0]),
            "threads": int(status["Threads"]), "switches": switches,
            "cpu": (int(stat[11]) + int(stat[12])) / tick}


# --- the contenders -------------------------------------------------------------

class Bench:
    def __init__(self, a, world):
        self.a, self.world = a, world
        self.tmp = a.tmp
        home = os.path.join(self.tmp, "home")
        os.makedirs(home, exist_ok=True)
        # From scratch: what a boot script would have, and the loopback world.
        self.env = {"PATH": "%s:/usr/local/bin:/usr/bin:/bin" % os.path.dirname(a.aws),
                    "HOME": home, "LANG": "C.UTF-8", "TMPDIR": self.tmp,
                    "no_proxy": "127.0.0.1", "NO_PROXY": "127.0.0.1",
                    "AWS_EC2_METADATA_SERVICE_ENDPOINT": world.imds}
        if a.ld_library_path:
            self.env["LD_LIBRARY_PATH"] = a.ld_library_path
        self.config = self.write_config("bootlace.yaml", "")

    def write_config(self, name, extra):
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write("datasource: ec2\nsource: s3://%s/%s\n%s" % (self.world.bucket, self.world.prefix, extra))
        return path

    def bootlace_env(self, imds=None):
        return dict(self.env, AWS_ENDPOINT_URL_S3=self.world.s3, AWS_ENDPOINT_URL_EC2=self.world.ec2,
                    AWS_EC2_METADATA_SERVICE_ENDPOINT=imds or self.world.imds)

    def script_env(self):
        return dict(self.env, BENCH_BUCKET=self.world.bucket, BENCH_PREFIX=self.world.prefix,
                    BENCH_S3=self.world.s3, BENCH_EC2=self.world.ec2,
                    AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull)

    def state(self, name):
        d = os.path.join(self.tmp, name)
        shutil.rmtree(d, ignore_errors=True)
        return d

    def run_contender(self, name, i):
        """One first boot of a contender from a clean slate: its figures."""
        out = os.path.join(self.tmp, "%s.out" % name)
        work = self.state(name + ".d")
        if name == "bootlace":
            argv = [self.a.bootlace, "run", "--config", self.config, "--state-dir", work]
            env = self.bootlace_env()
        elif name == "floor":
            argv, env = ["/bin/sh", os.path.join(HERE, "floor.sh"), work], self.script_env()
        else:
            argv, env = ["/bin/bash", os.path.join(HERE, "reference.sh"), work], self.script_env()
        self.world.clear()
        m = measure(self.a.runtree, argv, env, out)
        reqs = self.world.requests()
        text = read(out)
        if name == "bootlace":  # its scripts' output goes to the run log
            text += "".join(read(f) for f in glob.glob(os.path.join(work, "logs", "*.log")))
        self.check(name, i, m, reqs, text)
        m["requests"] = count(reqs)
        if i == 0:
            m["request_list"] = ["%s %s %s %s" % r for r in reqs]
        return m

    def check(self, name, i, m, reqs, text):
        missing = [layer for layer in LAYERS if MARK % layer not in text]
        bad = [r for r in reqs if r[0] != "imds" and (r[3] is None or r[3] >= 400)]
        if m["rc"] != 0 or missing or bad:
            raise Fail("%s, run %d: exit status %d, layers not run: %s, S3/EC2 errors: %s\n%s" % (
                name, i + 1, m["rc"], missing or "none", bad or "none", text[-3000:]))

    def converge_cycle(self, i):
        """bootlace converge after the first boot of run_contender: the first
        cycle records the layers, the second is the unchanged one measured."""
        work = os.path.join(self.tmp, "bootlace.d")
        argv = [self.a.bootlace, "converge", "--config", self.config, "--state-dir", work]
        out = os.path.join(self.tmp, "converge.out")
        first = measure(self.a.runtree, argv, self.bootlace_env(), out)
        if first["rc"] != 0:
            raise Fail("bootlace converge (first cycle) exit status %d:\n%s" % (first["rc"], read(out)))
        self.world.clear()
        m = measure(self.a.runtree, argv, self.bootlace_env(), out)
        reqs = self.world.requests()
        if m["rc"] != 0:
            raise Fail("bootlace converge exit status %d:\n%s" % (m["rc"], read(out)))
        m["requests"] = count(reqs)
        m["s3_statuses"] = sorted({r[3] for r in reqs if r[0] == "s3"})
        if i == 0:
            m["request_list"] = ["%s %s %s %s" % r for r in reqs]
        return m

    def load_floor(self):
        """Peak RSS (KiB, median of 5) of `bootlace --version`: what loading
        the binary and its libraries costs before any work."""
        out = os.path.join(self.tmp, "version.out")
        rss = [measure(self.a.runtree, [self.a.bootlace, "--version"], self.env, out)["rss"]
               for _ in range(5)]
        return statistics.median(rss)

    def runs(self):
        samples = {n: [] for n in CONTENDERS}
        converge = []
        for i in range(self.a.runs):
            # A different order each run: no contender always follows the same one.
            order = CONTENDERS[i % 3:] + CONTENDERS[:i % 3]
            for name in order:
                samples[name].append(self.run_contender(name, i))
                if name == "bootlace":
                    converge.append(self.converge_cycle(i))
            print("bench: run %d/%d: %s" % (i + 1, self.a.runs, ", ".join(
                "%s %.0f ms" % (n, samples[n][-1]["wall"] * 1000) for n in CONTENDERS)), flush=True)
        return samples, converge

    # --- the daemon --------------------------------------------------------

    def daemon(self, settle):
        """Starts bootlace daemon (fresh state, its next cycle an hour away)
        with a notify socket, waits for READY=1 and its first idle STATUS=,
        then settle seconds; returns (pid, notify log path, listener)."""
        sock = os.path.join(self.tmp, "notify.sock")
        log = os.path.join(self.tmp, "notify.log")
        for p in (sock, log):
            if os.path.exists(p):
                os.unlink(p)
        open(log, "w").close()
        listener = subprocess.Popen([sys.executable, NOTIFY_LISTENER, "--socket", sock, "--out", log,
                                     "--parent-pid", str(os.getpid())], stdout=subprocess.PIPE)
        if listener.stdout.readline().strip() != b"READY":
            raise Fail("%s did not start" % NOTIFY_LISTENER)
        cfg = self.write_config("daemon.yaml", "converge:\n  interval: 3600\n  splay: 0\n")
        env = dict(self.bootlace_env(), NOTIFY_SOCKET=sock)
        pid = spawn([self.a.bootlace, "daemon", "--config", cfg, "--state-dir", self.state("daemon.d")],
                    env, os.path.join(self.tmp, "daemon.out"))
        try:
            wait_until(lambda: "READY=1" in read(log) and "STATUS=idle" in read(log), 60,
                       "the daemon's READY=1 and idle status (%s)" % os.path.join(self.tmp, "daemon.out"))
            time.sleep(settle)
        except BaseException:
            stop(pid)
            end_popen(listener)
            raise
        return pid, log, listener

    def end_daemon(self, pid, listener):
        rc = stop(pid)
        end_popen(listener)
        if rc != 0:
            raise Fail("bootlace daemon exit status %d:\n%s" % (
                rc, read(os.path.join(self.tmp, "daemon.out"))))

    def daemon_idle(self):
        """Idle RSS and wakeups between cycles, the interval far away."""
        pid, _, listener = self.daemon(1.0)
        try:
            self.world.clear()
            a = proc_sample(pid)
            time.sleep(self.a.idle)
            b = proc_sample(pid)
            reqs = self.world.requests()
            by_file = rss_by_file(pid)
        finally:
            self.end_daemon(pid, listener)
        return {"window": self.a.idle, "vmrss": b["vmrss"], "rssanon": b["rssanon"], "pss": b["pss"],
                "rss_by_file": by_file, "threads": b["threads"], "switches": b["switches"] - a["switches"],
                "wakeups_per_min": (b["switches"] - a["switches"]) * 60.0 / self.a.idle,
                "cpu": b["cpu"] - a["cpu"], "requests": count(reqs)}

    def daemon_cycles(self, k):
        """k unchanged cycles of one daemon, each started by SIGUSR1 once the
        last has ended (STATUS=idle): their requests and CPU time, per cycle.
        So many cycles that /proc's 10 ms CPU ticks do not matter."""
        pid, log, listener = self.daemon(0)
        try:
            idle = lambda: read(log).count("STATUS=idle (")  # noqa: E731
            unchanged = lambda: read(log).count("STATUS=idle (no change)")  # noqa: E731
            for i in range(k + 1):
                if i == 1:  # the first cycle only records the layers
                    self.world.clear()
                    a, u0 = proc_sample(pid), unchanged()
                n = idle()
                os.kill(pid, signal.SIGUSR1)
                wait_until(lambda: idle() > n, 30, "the end of the daemon's cycle %d" % (i + 1))
            b, u1 = proc_sample(pid), unchanged()
            reqs = self.world.requests()
        finally:
            self.end_daemon(pid, listener)
        if u1 - u0 != k:
            raise Fail("%d of %d cycles with nothing changed said \"no change\":\n%s" % (
                u1 - u0, k, read(log)))
        kinds = {}
        for r in reqs:
            kinds["%s %s %s %s" % r] = kinds.get("%s %s %s %s" % r, 0) + 1
        return {"cycles": k, "cpu_per_cycle": (b["cpu"] - a["cpu"]) / k,
                "requests_per_cycle": {key: v / k for key, v in count(reqs).items()},
                "request_list": ["%s ×%g" % (key, v / k) for key, v in sorted(kinds.items())],
                "s3_statuses": sorted({r[3] for r in reqs if r[0] == "s3"})}

    # --- the fleet boot storm -----------------------------------------------

    def storm(self, n, rate):
        """n agents at once, each with its own instance id and state dir,
        against S3 (moto) behind a fault proxy of its own that lets rate
        GET/s through and answers the rest 503 SlowDown."""
        root = self.state("storm")
        os.makedirs(root)
        servers, agents, log = [], {}, None
        gate, release = os.pipe()
        try:
            fleet = start_server(servers, "fleet_imds.py",
                                 ["--data", self.world.data, "--instances", str(n)], self.tmp)
            proxy = start_server(servers, "storm_proxy.py", ["--upstream", self.world.moto], self.tmp)
            http_json("POST", proxy + "/_faultproxy/faults", [
                {"match": "/%s/" % self.world.bucket, "method": "GET", "action": "throttle", "rate": rate}])
            log = ProxyLog(proxy)
            # Each agent waits at a gate (a pipe's EOF), then execs bootlace:
            # all start at once, however long a thousand spawns take.
            for k in range(1, n + 1):
                iid = fleet_id(k)
                work = os.path.join(root, iid)
                argv = ["/bin/sh", "-c", 'read _ || :; exec "$@"', "agent", self.a.bootlace, "run",
                        "--config", self.config, "--state-dir", work]
                env = dict(self.bootlace_env("%s/%s" % (fleet, iid)), AWS_ENDPOINT_URL_S3=proxy)
                pid = spawn(argv, env, work + ".out", stdin=gate)
                agents[pid] = {"id": iid, "dir": work}
            log.start()
            overflows = listen_overflows()
            t0 = time.monotonic()
            os.close(release)
            release = None
            reap(agents)
            overflows = listen_overflows() - overflows
            log.finish()
            imds = http_json("GET", fleet + "/_emulator/requests")
        finally:
            for fd in (gate, release):
                if fd is not None:
                    os.close(fd)
            for pid, ag in agents.items():
                if "end" not in ag:  # only after a failure here
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
            if log:
                log.stop()
            for p in servers:
                end_popen(p)
        failed = [{"id": ag["id"], "rc": ag["rc"],
                   "last_line": (read(ag["dir"] + ".out").strip().splitlines() or [""])[-1]}
                  for ag in agents.values() if not converged(ag)]
        times = [ag["end"] - t0 for ag in agents.values()]
        shutil.rmtree(root, ignore_errors=True)
        return {"agents": n, "rate": rate, "total": max(times), "ideal": n * len(LAYERS) / rate,
                "worst_agent": max(times), "median_agent": statistics.median(times),
                "converged": n - len(failed), "failed": failed[:20],
                "s3_requests": log.total, "s3_logged": len(log.entries),
                "s3_status": status_counts(log.entries),
                "s3_throttled": sum(1 for e in log.entries if e["fault"] == "throttle"),
                "imds_requests": imds["requests"], "imds_status": imds["status"],
                "listen_overflows": overflows}


def reap(agents):
    """Waits for every agent of {pid: agent}, noting when each one ended:
    a pidfd each, so that the first to end is the first seen."""
    sel = selectors.DefaultSelector()
    for pid in agents:
        sel.register(os.pidfd_open(pid), selectors.EVENT_READ, pid)
    while sel.get_map():
        for key, _ in sel.select():
            _, status, _ = os.wait4(key.data, 0)
            agents[key.data].update(end=time.monotonic(), rc=os.waitstatus_to_exitcode(status))
            sel.unregister(key.fd)
            os.close(key.fd)


def listen_overflows():
    """TcpExt ListenOverflows: connections a full accept queue turned away
    (the client retries its SYN a second later).  Counts the whole network
    namespace."""
    lines = [l.split() for l in read("/proc/net/netstat").splitlines() if l.startswith("TcpExt:")]
    return int(dict(zip(lines[0][1:], lines[1][1:]))["ListenOverflows"]) if len(lines) == 2 else 0


def status_counts(entries):
    out = {}
    for e in entries:
        k = str(e["status"] if e["status"] is not None else "none")
        out[k] = out.get(k, 0) + 1
    return out


def converged(agent):
    record = read(os.path.join(agent["dir"], "runs", "setup.json"))
    rec = json.loads(record) if record else {}
    return agent["rc"] == 0 and rec.get("state") == "succeeded" and rec.get("instance_id") == agent["id"]


def end_popen(p):
    p.terminate()
    try:
        p.wait(10)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


def start_server(servers, script, args, tmp):
    """tests/bench/SCRIPT, an emulib server, on a free port: appended to
    servers (to be stopped by the caller), its URL returned."""
    err = os.path.join(tmp, script + ".err")
    with open(err, "w") as f:
        p = subprocess.Popen([sys.executable, os.path.join(HERE, script), "--port", "0",
                              "--parent-pid", str(os.getpid())] + args, stdout=subprocess.PIPE, stderr=f)
    servers.append(p)
    line = p.stdout.readline().decode().split()
    if len(line) != 2 or line[0] != "READY":
        raise Fail("%s did not start:\n%s" % (script, read(err)))
    return "http://127.0.0.1:%s" % line[1]


class ProxyLog(threading.Thread):
    """Reads the fault proxy's request log while a storm runs: the proxy
    keeps only its last 10,000 entries, a storm can make more.  Entries are
    merged by sequence number; total counts the ones the log lost too."""

    def __init__(self, proxy):
        super().__init__(daemon=True)
        self.url = proxy + "/_faultproxy/requests"
        http("DELETE", self.url)
        self.seen, self.halt = {}, threading.Event()
        self.first = self.last = self.error = None
        self.entries, self.total = [], 0

    def poll(self):
        # The text form costs the busy proxy less than JSON: SEQ METHOD PATH STATUS FAULT
        for line in http("GET", self.url + "?format=text").decode().splitlines():
            seq, method, _, status, fault = line.split()
            seq = int(seq)
            self.seen[seq] = {"method": method, "status": None if status == "-" else int(status),
                              "fault": None if fault == "-" else fault}
            self.first = seq if self.first is None else min(self.first, seq)
            self.last = seq if self.last is None else max(self.last, seq)

    def run(self):
        try:
            while not self.halt.wait(1.0):
                self.poll()
        except OSError as e:
            self.error = e

    def stop(self):
        self.halt.set()
        if self.is_alive():
            self.join()

    def finish(self):
        """The last poll, and the log as read: entries, and total."""
        self.stop()
        if self.error:
            raise Fail("%s: %s" % (self.url, self.error))
        self.poll()
        self.entries = [self.seen[k] for k in sorted(self.seen)]
        self.total = 0 if self.first is None else self.last - self.first + 1


def count(reqs):
    c = {"imds": 0, "s3": 0, "ec2": 0}
    for r in reqs:
        c[r[0]] += 1
    c["total"] = sum(c.values())
    return c


# --- figures and the report ----------------------------------------------------

def stats(values):
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def first_line(argv):
    """The first line argv prints (on stdout, else stderr: aws --version)."""
    p = subprocess.run(argv, capture_output=True, text=True)
    return ((p.stdout or p.stderr).splitlines() or ["?"])[0]


def machine(bootlace, aws, env):
    model = next((line.split(":", 1)[1].strip() for line in read("/proc/cpuinfo").splitlines()
                  if line.startswith("model name")), platform.processor() or "unknown CPU")
    return {"cpu": model, "cores": os.cpu_count(), "kernel": platform.release(),
            "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "bootlace": first_line([bootlace, "--version"]),
            "curl": first_line(["curl", "--version"]).split(" (")[0],
            "libcurl": libcurl_loaded(env),
            "aws": first_line([aws, "--version"]).split()[0]}


def libcurl_loaded(env):
    """The libcurl the contenders load, as curl --version names it in env:
    version, TLS library and protocols."""
    p = subprocess.run(["curl", "--version"], env=env, capture_output=True, text=True, check=True)
    lines = p.stdout.splitlines()
    lib = next((w for w in lines[0].split() if w.startswith("libcurl/")), "libcurl/?")
    tls = lines[0].split(lib, 1)[1].split()[0] if lib in lines[0] else "?"
    protocols = next((line.split(":", 1)[1].split() for line in lines if line.startswith("Protocols:")), [])
    return "%s %s, %d protocols" % (lib, tls, len(protocols))


def binary(path):
    text = subprocess.run(["size", path], capture_output=True, text=True, check=True).stdout
    return {"text": int(text.splitlines()[1].split()[0]), "file": os.stat(path).st_size}


def summarize(samples):
    fig = {}
    for name, runs in samples.items():
        fig[name] = {k: stats([r[k] for r in runs]) for k in ("wall", "cpu", "rss")}
        fig[name]["requests"] = stats([r["requests"]["total"] for r in runs])
        fig[name]["requests_split"] = runs[0]["requests"]
    ratios = {}
    for k in ("wall", "cpu", "rss"):
        pairs = zip(samples["bootlace"], samples["floor"], samples["reference"])
        b_f, r_b = zip(*[(b[k] / f[k], r[k] / b[k]) for b, f, r in pairs])
        ratios["bootlace/floor " + k], ratios["reference/bootlace " + k] = stats(b_f), stats(r_b)
    return fig, ratios


def paper_model(boot, cycle):
    """What fleets of 10k and 100k put on S3 and IMDS, from one instance's
    measured requests (docs/benchmarks.md explains the rows): [(row, value
    at 10k, value at 100k)]."""
    interval, splay, limit = 300.0, 30.0, 5500.0
    period = interval + splay / 2
    rows = [
        ("S3 GETs of a boot of the whole fleet", lambda n: "%d" % (n * boot["s3"])),
        ("… as GET/s if the fleet boots over 60 s", lambda n: pct(n * boot["s3"] / 60.0, limit)),
        ("… seconds of S3 at 5,500/s if it boots at once", lambda n: "%.1f" % (n * boot["s3"] / limit)),
        ("S3 GET/s of reconvergence, steady", lambda n: pct(n * cycle["s3"] / period, limit)),
        ("S3 GET/s of the first cycles if every setup ended in the same second",
         lambda n: pct(n * cycle["s3"] / splay, limit)),
        ("IMDS requests per instance: boot; then per second",
         lambda n: "%g; %.4f" % (boot["imds"], cycle["imds"] / period)),
    ]
    return [(name, f(10000), f(100000)) for name, f in rows]


def pct(rate, limit):
    return "%.0f (%.0f%%)" % (rate, 100 * rate / limit)


def ms(s):
    return "%.0f" % (s * 1000) if s >= 0.1 else "%.1f" % (s * 1000)


def cell(st, fmt):
    return "%s (%s–%s)" % (fmt(st["median"]), fmt(st["min"]), fmt(st["max"]))


def report(r):
    m = r["machine"]
    fig, ratios = r["figures"], r["ratios"]
    mib = lambda kib: "%.1f" % (kib / MIB)  # noqa: E731
    num = lambda v: "%g" % v  # noqa: E731
    ratio = lambda v: "%.2f" % v  # noqa: E731
    lines = ["Machine: %s, %d cores, Linux %s, %s; %s, %s, %s; %d runs" % (
        m["cpu"], m["cores"], m["kernel"], m["date"], m["bootlace"], m["curl"], m["aws"], r["runs"]), "",
        "libcurl (%s): %s, loaded by bootlace and curl" % (r["libcurl"], m["libcurl"]), "",
        "First boot (3 layers, IMDSv2, tags, S3 with auth on): median (min–max) of %d runs" % r["runs"], "",
        "| figure | bootlace | floor (curl) | reference (AWS CLI) | bootlace/floor | reference/bootlace |",
        "|---|---|---|---|---|---|"]
    for k, label, fmt in (("wall", "wall time, ms", ms), ("cpu", "CPU time (user+sys, tree), ms", ms),
                          ("rss", "peak RSS (largest process), MiB", mib)):
        lines.append("| %s | %s | %s | %s | %s | %s |" % (
            label, cell(fig["bootlace"][k], fmt), cell(fig["floor"][k], fmt), cell(fig["reference"][k], fmt),
            cell(ratios["bootlace/floor " + k], ratio), cell(ratios["reference/bootlace " + k], ratio)))
    split = lambda n: "%(total)d (IMDS %(imds)d, S3 %(s3)d, EC2 %(ec2)d)" % fig[n]["requests_split"]  # noqa: E731
    lines.append("| requests | %s | %s | %s | | |" % (split("bootlace"), split("floor"), split("reference")))
    b, idle, cyc, conv = r["binary"], r["daemon_idle"], r["daemon_cycle"], r["converge"]
    lines += ["", "| bootlace | figure |", "|---|---|",
              "| binary size | %d bytes text (size(1)), %d bytes file |" % (b["text"], b["file"]),
              "| peak RSS of `bootlace --version` (loading it and its libraries) | %.1f MiB |" % (
                  b["load_rss"] / MIB),
              "| daemon idle RSS | VmRSS %.1f MiB, RssAnon %.1f MiB, PSS %.1f MiB (%d threads) |" % (
                  idle["vmrss"] / MIB, idle["rssanon"] / MIB, idle["pss"] / MIB, idle["threads"]),
              "| daemon wakeups while idle | %.1f per minute (%d context switches in %ds; %d requests, %.2f s CPU) |" % (
                  idle["wakeups_per_min"], idle["switches"], idle["window"], idle["requests"]["total"], idle["cpu"]),
              "| unchanged cycle, `bootlace converge` | %s requests (IMDS %s, S3 %s, answers %s); CPU %s ms; wall %s ms; peak RSS %s MiB |" % (
                  num(conv["requests"]["median"]), num(conv["imds"]), num(conv["s3"]),
                  "/".join(map(str, conv["s3_statuses"])), cell(conv["cpu"], ms), cell(conv["wall"], ms),
                  cell(conv["rss"], mib)),
              "| unchanged cycle, daemon (SIGUSR1) | %.1f requests (IMDS %.1f, S3 %.1f, answers %s); CPU %.1f ms; over %d cycles |" % (
                  cyc["requests_per_cycle"]["total"], cyc["requests_per_cycle"]["imds"],
                  cyc["requests_per_cycle"]["s3"], "/".join(map(str, cyc["s3_statuses"])),
                  cyc["cpu_per_cycle"] * 1000, cyc["cycles"])]
    lines += ["", "Targets (issue #7)", "", "| target | measured | met |", "|---|---|---|"]
    for t in r["targets"]:
        lines.append("| %s | %s | %s |" % (t["target"], t["measured"], "yes" if t["met"] else "**no**"))
    if r["storms"]:
        lines += ["", "Fleet boot storm: N × `bootlace run` released at once, each its own instance id and state; "
                  "S3 GETs throttled to R/s (503 SlowDown)", "",
                  "| N | R/s | converged | total = worst agent, s | ideal N·3/R, s | total/ideal | median agent, s "
                  "| S3 requests | 503 SlowDown (retried or given up) | IMDS requests |",
                  "|---|---|---|---|---|---|---|---|---|---|"]
        for s in r["storms"]:
            lines.append("| %d | %d | %d/%d | %.1f | %.1f | %.2f | %.1f | %d | %d | %d |" % (
                s["agents"], s["rate"], s["converged"], s["agents"], s["total"], s["ideal"],
                s["total"] / s["ideal"], s["median_agent"], s["s3_requests"], s["s3_throttled"],
                s["imds_requests"]))
    lines += ["", "Paper model: one instance's measured requests (boot: bootlace run; cycle: the daemon's), "
              "times a fleet; cycles every 300 s + 0–30 s splay; S3: 5,500 GET/s per prefix", "",
              "| instances | 10,000 | 100,000 |", "|---|---|---|"]
    lines += ["| %s | %s | %s |" % row for row in r["paper_model"]]
    return "\n".join(lines) + "\n"


def targets(fig, ratios, idle, conv, cyc, load_rss):
    bl = fig["bootlace"]
    wall_ratio = ratios["bootlace/floor wall"]["median"]
    speedup = ratios["reference/bootlace wall"]["median"]
    req = bl["requests"]["max"]
    cond = all(s == 304 for s in conv["s3_statuses"]) and all(s == 304 for s in cyc["s3_statuses"])
    return [
        {"target": "first boot ≤ 0.7× the floor's wall time", "measured": "%.2f×" % wall_ratio,
         "met": wall_ratio <= 0.7},
        {"target": "≥ 80× faster than the reference", "measured": "%.0f×" % speedup,
         "met": speedup >= 80},
        {"target": "peak RSS ≤ 8 MiB", "measured": "%.1f MiB" % (bl["rss"]["median"] / MIB),
         "met": bl["rss"]["median"] <= 8 * MIB},
        {"target": "idle daemon RSS ≤ 4 MiB", "measured": "%.1f MiB VmRSS (loading alone: %.1f)" % (
            idle["vmrss"] / MIB, load_rss / MIB),
         "met": idle["vmrss"] <= 4 * MIB},
        {"target": "no wakeups between cycles", "measured": "%.1f per minute" % idle["wakeups_per_min"],
         "met": idle["switches"] == 0},
        {"target": "an unchanged cycle makes only conditional GETs",
         "measured": "S3 answers %s" % "/".join(map(str, sorted(set(conv["s3_statuses"] + cyc["s3_statuses"])))),
         "met": cond},
        {"target": "first boot ≤ 12 requests", "measured": "%d" % req, "met": req <= 12},
    ]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--bootlace", required=True)
    p.add_argument("--aws", required=True)
    p.add_argument("--runtree", required=True)
    p.add_argument("--tmp", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--runs", type=int, required=True)
    p.add_argument("--storm", required=True)
    p.add_argument("--rate", type=int, required=True)
    p.add_argument("--idle", type=int, required=True)
    p.add_argument("--libcurl", required=True)
    p.add_argument("--ld-library-path", default="")
    a = p.parse_args()
    if a.runs < 1 or a.rate < 1 or a.idle < 1:
        p.error("--runs, --rate and --idle must be at least 1")
    # A TERM (run.sh's trap, a CI timeout) unwinds like an error: the
    # daemons, agents and servers started here are stopped by the finally
    # blocks, by PID.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        storms = [int(x) for x in a.storm.split(",") if x]
    except ValueError:
        p.error("--storm: a comma-separated list of agent counts")
    try:
        world = World()
        b = Bench(a, world)
        r = {"machine": machine(a.bootlace, a.aws, b.env), "libcurl": a.libcurl, "runs": a.runs,
             "binary": binary(a.bootlace)}
        r["binary"]["load_rss"] = b.load_floor()
        samples, converge = b.runs()
        r["figures"], r["ratios"] = summarize(samples)
        r["converge"] = {k: stats([c[k] for c in converge]) for k in ("wall", "cpu", "rss")}
        r["converge"]["requests"] = stats([c["requests"]["total"] for c in converge])
        r["converge"].update(imds=converge[0]["requests"]["imds"], s3=converge[0]["requests"]["s3"],
                             s3_statuses=sorted({s for c in converge for s in c["s3_statuses"]}))
        print("bench: daemon idle for %ds" % a.idle, flush=True)
        r["daemon_idle"] = b.daemon_idle()
        r["daemon_cycle"] = b.daemon_cycles(100)
        r["targets"] = targets(r["figures"], r["ratios"], r["daemon_idle"], r["converge"], r["daemon_cycle"],
                               r["binary"]["load_rss"])
        r["storms"] = []
        for n in storms:
            print("bench: storm of %d agents, S3 at %d GET/s" % (n, a.rate), flush=True)
            r["storms"].append(b.storm(n, a.rate))
        r["paper_model"] = paper_model(r["figures"]["bootlace"]["requests_split"],
                                       r["daemon_cycle"]["requests_per_cycle"])
        r["samples"], r["converge_samples"] = samples, converge
    except Fail as e:
        print("bench: FAILED: %s" % e, file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(r, f, indent=1)
        f.write("\n")
    md = report(r)
    with open(os.path.join(a.out, "results.md"), "w") as f:
        f.write(md)
    print(md)
    unconverged = [s for s in r["storms"] if s["converged"] != s["agents"]]
    for s in unconverged:
        print("bench: FAILED: storm of %d: %d agents did not converge; the first: %s" % (
            s["agents"], s["agents"] - s["converged"], "; ".join(
                "%(id)s exit %(rc)d: %(last_line)s" % f for f in s["failed"][:3])), file=sys.stderr)
    return 1 if unconverged else 0


if __name__ == "__main__":
    sys.exit(main())
