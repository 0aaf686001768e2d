#!/usr/bin/env python3
"""world.py - an emulated AWS account on moto, with request authentication
and IAM authorization ON, for bootlace's integration tests.

Why: bootlace signs its own S3 and EC2 requests (SigV4) with the instance
role's temporary credentials from IMDS.  An emulator that accepts anything
hides every signing, session-token and policy mistake, so this world runs
moto with authentication enforced and gives the agent only what a real
instance gets: an instance id, tags and a role's STS credentials, through the
IMDS emulator (imds.py).  The role's policy is the shipped example
(examples/iam/instance-role-policy.json), so the example is what is tested.
Used through tests/emulators/aws.sh.  Talks to 127.0.0.1 only.

Subcommands (exit status 0 ok, 1 failed (one line naming the call), 2 usage,
3 moto/boto3 missing):
  serve [--pidfile F] [--parent-pid PID] [--verbose]
        moto's server (the app behind moto_server) on 127.0.0.1, a free port.
        Its first BOOTSTRAP_CALLS requests are not authenticated; every later
        one must be signed by a known access key and is authorized against the
        signer's IAM policies.  Prints "READY <port>" once it answers; exits 0
        on SIGTERM/SIGINT/SIGHUP and when --parent-pid is gone (moto_server
        itself has no such backstop).
  setup --endpoint URL --state FILE --out FILE [--layers DIR] [--tags JSON |
        --no-tags] [--imds-tags true|false] [--region R] [--bucket B]
        [--prefix P] [--role NAME]
        Spends the unauthenticated calls on an admin user and its access key,
        then, signed as that admin: the role (trusting ec2.amazonaws.com and
        the admin) with the example policy for B and P; bucket B in region R
        holding every file of DIR under P; an instance of one of moto's AMIs
        with the tags (default role=web, environment=production); AssumeRole
        credentials for the role (session name = the instance id, 1 h, as EC2
        does).  Writes --out, the IMDS data (imds.py --data format, no user
        data; "tags": null with --imds-tags false so that only DescribeTags
        has them), and --state, the world and the admin's keys (both 0600).
        Prints the world as shell assignments: WORLD_BUCKET, WORLD_PREFIX,
        WORLD_REGION, WORLD_INSTANCE_ID, WORLD_ROLE.
  put --state FILE KEY FILE | delete --state FILE KEY
        writes or deletes object KEY (the whole key, prefix included) as the
        admin.
  assume-role --state FILE
        new AssumeRole credentials: rewrites "credentials" in --out and
        prints {"credentials": {...}} for imds.py's POST /_emulator/data.

What moto 5.2 enforces here: the access key id must be an IAM user's or an
AssumeRole result's; an assumed role's X-Amz-Security-Token must be its own
(S3 400 InvalidToken) and a user key must come without one; the signature is
recomputed (S3 403 SignatureDoesNotMatch, EC2 401 AuthFailure); the action
and resource must be allowed by the signer's identity policies, Deny wins
(S3 403 AccessDenied).  What it does not: policy conditions other than
StringEquals (the s3:prefix condition is ignored, so ListBucket is granted
for any prefix), X-Amz-Date skew, credential expiry (credentials replaced by
assume-role keep working), S3's 403-instead-of-404 for a missing key without
s3:ListBucket (moto answers 404 NoSuchKey either way).  Valid requests it
rejects: EC2 Query requests sent as GET (401 AuthFailure: it hashes the
re-encoded parameters as a body); form bodies not encoded exactly as
Python's urlencode does (space as +, uppercase hex, ~ kept, * escaped: the
body is re-encoded before hashing, so a%20b fails); S3 keys or query values
with characters such as + = , % or an encoded / (e.g. ListObjects
prefix=a/), so put refuses keys outside [A-Za-z0-9/._~ -].
"""
import argparse
import datetime
import json
import os
import re
import shlex
import sys
import threading
import urllib.request
from urllib.parse import urlsplit

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import emulib  # noqa: E402  (the server plumbing the emulators share)

POLICY = os.path.normpath(os.path.join(HERE, "..", "..", "examples", "iam", "instance-role-policy.json"))
POLICY_BUCKET, POLICY_PREFIX = "example-bootstrap-bucket", "bootstrap/"
BOOTSTRAP_CALLS = 3  # CreateUser, PutUserPolicy, CreateAccessKey
ADMIN = "bootlace-world-admin"
WARM = ("iam", "sts", "s3", "ec2")  # the services setup calls, in order
INSTALL = ("install with: pip install 'moto[server]>=5.2' boto3 "
           "(Debian 12 has no python3-moto package)")
SAFE_KEY = re.compile(r"[A-Za-z0-9/._~ -]+")


class Fail(Exception):
    pass


def missing(module, e):
    print("moto_server not found: %s cannot import %s (%s); %s" % (sys.executable, module, e, INSTALL),
          file=sys.stderr)
    sys.exit(3)


def iso(t):
    return t.astimezone(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_private(path, obj):
    tmp = path + ".tmp"
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(obj, f, indent=1)
            f.write("\n")
        os.replace(tmp, path)
    except OSError as e:
        raise Fail("%s: %s" % (path, e.strerror))


def read_json(path):
    try:
        with open(path) as f:
            return json.load(f)
    except OSError as e:
        raise Fail("%s: %s" % (path, e.strerror))
    except ValueError as e:
        raise Fail("%s: %s" % (path, e))


# --- serve -------------------------------------------------------------------

def serve(a):
    # Read by moto.settings at import time.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(BOOTSTRAP_CALLS)
    try:
        from moto.server import ThreadedMotoServer
    except ImportError as e:
        missing("moto.server", e)
    import logging
    logging.getLogger("werkzeug").setLevel(logging.INFO if a.verbose else logging.ERROR)
    stop = emulib.stop_event()
    server = ThreadedMotoServer("127.0.0.1", 0, verbose=False)
    server.start()
    port = server.get_host_and_port()[1]
    url = "http://127.0.0.1:%d/moto-api/config" % port
    try:  # moto's own API: answers without spending an unauthenticated call
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(url, timeout=30).read()
    except OSError as e:
        server.stop()
        raise Fail("%s: %s" % (url, e))
    files = emulib.announce(port, a.pidfile)
    # moto imports a service's code on its first request (EC2's takes about
    # a second): load them, in the order setup needs them, while the client
    # is still starting up.
    threading.Thread(target=lambda: [__import__("moto.%s.responses" % s) for s in WARM],
                     daemon=True).start()
    emulib.wait(stop, a.parent_pid)
    server.stop()
    emulib.remove(files)


# --- AWS calls ----------------------------------------------------------------

def loopback(url):
    u = urlsplit(url)
    try:
        port = u.port
    except ValueError:
        port = None
    if u.scheme != "http" or u.hostname != "127.0.0.1" or not port or u.path not in ("", "/"):
        raise Fail("--endpoint %s: only http://127.0.0.1:PORT is allowed" % url)
    return "http://127.0.0.1:%d" % port


class Aws:
    """boto3 clients for one set of keys against the emulated endpoint."""

    def __init__(self, endpoint, region, key, secret):
        try:
            import boto3
            import botocore.config
            import botocore.exceptions
        except ImportError as e:
            missing("boto3", e)
        self.errors = (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
        self.endpoint = endpoint
        self.session = boto3.session.Session(aws_access_key_id=key, aws_secret_access_key=secret,
                                             region_name=region)
        # One attempt: a retried bootstrap call would spend another
        # unauthenticated request, and a local emulator needs no retries.
        self.config = botocore.config.Config(retries={"total_max_attempts": 1}, connect_timeout=5,
                                             read_timeout=60, s3={"addressing_style": "path"})
        self.clients = {}

    def call(self, service, op, what, **kw):
        """One API call; a failure becomes a Fail naming OP, WHAT and the endpoint."""
        c = self.clients.get(service)
        if c is None:
            c = self.clients[service] = self.session.client(
                service, endpoint_url=self.endpoint, config=self.config)
        try:
            return getattr(c, op)(**kw)
        except self.errors as e:
            r = getattr(e, "response", None)
            if r:
                e = "%s %s: %s" % (r.get("ResponseMetadata", {}).get("HTTPStatusCode"),
                                   r.get("Error", {}).get("Code"), r.get("Error", {}).get("Message"))
            name = "".join(w.capitalize() for w in op.split("_"))
            raise Fail("%s %s at %s: %s" % (name, what, self.endpoint, e))


def admin_of(state):
    k = state["admin"]
    return Aws(state["endpoint"], state["region"], k["AccessKeyId"], k["SecretAccessKey"])


def check_key(key):
    if not SAFE_KEY.fullmatch(key) or key.startswith("/"):
        raise Fail("object key %r: use [A-Za-z0-9/._~ -], not starting with / "
                   "(moto cannot verify signatures of other keys)" % key)


def put_object(aws, bucket, key, path):
    check_key(key)
    try:
        with open(path, "rb") as f:
            body = f.read()
    except OSError as e:
        raise Fail("%s: %s" % (path, e.strerror))
    aws.call("s3", "put_object", "s3://%s/%s" % (bucket, key), Bucket=bucket, Key=key, Body=body)


def assume_role(aws, state):
    c = aws.call("sts", "assume_role", state["role_arn"], RoleArn=state["role_arn"],
                 RoleSessionName=state["instance_id"], DurationSeconds=3600)["Credentials"]
    return {"Code": "Success", "Type": "AWS-HMAC",
            "LastUpdated": iso(datetime.datetime.now(datetime.timezone.utc)),
            "AccessKeyId": c["AccessKeyId"], "SecretAccessKey": c["SecretAccessKey"],
            "Token": c["SessionToken"], "Expiration": iso(c["Expiration"])}


def instance_policy(bucket, prefix):
    """The example policy with its placeholder bucket and prefix replaced."""
    arn, done = "arn:aws:s3:::" + POLICY_BUCKET, []

    def sub(v):
        if isinstance(v, dict):
            return {k: sub(x) for k, x in v.items()}
        if isinstance(v, list):
            return [sub(x) for x in v]
        if not isinstance(v, str):
            return v
        if v == arn or v.startswith(arn + "/"):
            done.append(v)
            rest = v[len(arn):]
            if rest.startswith("/" + POLICY_PREFIX):
                rest = "/" + prefix + rest[len("/" + POLICY_PREFIX):]
            return "arn:aws:s3:::" + bucket + rest
        if v.startswith(POLICY_PREFIX):
            done.append(v)
            return prefix + v[len(POLICY_PREFIX):]
        return v

    doc = sub(read_json(POLICY))
    if not any(v.startswith(arn + "/") for v in done):
        raise Fail("%s: no resource arn:aws:s3:::%s/%s... to substitute" % (POLICY, POLICY_BUCKET, POLICY_PREFIX))
    return json.dumps(doc)


def layer_files(top):
    """(path, key below the prefix) for every file under top, sorted."""
    if not os.path.isdir(top):
        raise Fail("--layers %s: not a directory" % top)
    out = []
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for name in sorted(files):
            path = os.path.join(d, name)
            out.append((path, os.path.relpath(path, top).replace(os.sep, "/")))
    return out


def setup(a):
    endpoint = loopback(a.endpoint)
    if a.prefix.startswith("/"):
        raise Fail("--prefix %s: must not start with /" % a.prefix)
    if not re.fullmatch(r"[a-z]{2}(-[a-z]+)+-[0-9]", a.region):
        raise Fail("--region %s: not a region name" % a.region)
    tags = {} if a.no_tags else a.tags
    policy = instance_policy(a.bucket, a.prefix)
    files = layer_files(a.layers) if a.layers else []
    for _, rel in files:
        check_key(a.prefix + rel)

    anon = Aws(endpoint, a.region, "AKIABOOTSTRAP0000000", "bootstrap")
    hint = " (setup needs a fresh `world.py serve`: only its first %d requests are " \
           "unauthenticated)" % BOOTSTRAP_CALLS
    try:
        user = anon.call("iam", "create_user", ADMIN, UserName=ADMIN)["User"]
        anon.call("iam", "put_user_policy", ADMIN, UserName=ADMIN, PolicyName="admin",
                  PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [
                      {"Effect": "Allow", "Action": "*", "Resource": "*"}]}))
        key = anon.call("iam", "create_access_key", ADMIN, UserName=ADMIN)["AccessKey"]
    except Fail as e:
        raise Fail(str(e) + hint)
    # Every check the tests make is void if moto still takes unknown keys.
    try:
        anon.call("sts", "get_caller_identity", "with an unknown key")
        raise Fail("moto at %s accepts unknown access keys: authentication is off%s" % (endpoint, hint))
    except Fail as e:
        if "InvalidClientTokenId" not in str(e):
            raise
    admin = Aws(endpoint, a.region, key["AccessKeyId"], key["SecretAccessKey"])

    trust = {"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Action": "sts:AssumeRole",
        "Principal": {"Service": "ec2.amazonaws.com", "AWS": user["Arn"]}}]}
    role = admin.call("iam", "create_role", a.role, RoleName=a.role,
                      AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    admin.call("iam", "put_role_policy", a.role, RoleName=a.role,
               PolicyName="bootlace-instance-role-policy", PolicyDocument=policy)

    where = {} if a.region == "us-east-1" else {
        "CreateBucketConfiguration": {"LocationConstraint": a.region}}
    admin.call("s3", "create_bucket", "s3://" + a.bucket, Bucket=a.bucket, **where)
    for path, rel in files:
        put_object(admin, a.bucket, a.prefix + rel, path)

    images = admin.call("ec2", "describe_images", "(Amazon Linux 2)", Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["amzn2-ami-hvm-*-x86_64-gp2"]}])["Images"]
    if not images:
        raise Fail("DescribeImages at %s: no Amazon Linux 2 image in %s" % (endpoint, a.region))
    image = min(images, key=lambda i: i["ImageId"])["ImageId"]
    run = {"TagSpecifications": [{"ResourceType": "instance", "Tags": [
        {"Key": k, "Value": v} for k, v in tags.items()]}]} if tags else {}
    inst = admin.call("ec2", "run_instances", image, ImageId=image, InstanceType="t3.micro",
                      MinCount=1, MaxCount=1, **run)["Instances"][0]

    state = {"endpoint": endpoint, "region": a.region, "bucket": a.bucket, "prefix": a.prefix,
             "role": a.role, "role_arn": role["Arn"], "instance_id": inst["InstanceId"],
             "out": os.path.abspath(a.out),
             "admin": {"AccessKeyId": key["AccessKeyId"], "SecretAccessKey": key["SecretAccessKey"]}}
    data = {"instance-id": inst["InstanceId"], "instance-type": inst["InstanceType"],
            "ami-id": image, "region": a.region,
            "availability-zone": inst["Placement"]["AvailabilityZone"],
            "local-ipv4": inst["PrivateIpAddress"], "account-id": role["Arn"].split(":")[4],
            "tags": tags if a.imds_tags == "true" else None, "role": a.role,
            "credentials": assume_role(admin, state), "user-data": None}
    write_private(a.state, state)
    write_private(a.out, data)
    for name, v in (("WORLD_BUCKET", a.bucket), ("WORLD_PREFIX", a.prefix),
                    ("WORLD_REGION", a.region), ("WORLD_INSTANCE_ID", inst["InstanceId"]),
                    ("WORLD_ROLE", a.role)):
        print("%s=%s" % (name, shlex.quote(v)))


def rotate(a):
    state = read_json(a.state)
    creds = assume_role(admin_of(state), state)
    data = read_json(state["out"])
    data["credentials"] = creds
    write_private(state["out"], data)
    print(json.dumps({"credentials": creds}))


def tags_arg(text):
    try:
        tags = json.loads(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError("not JSON: %s" % e)
    if not isinstance(tags, dict) or not all(isinstance(k, str) and k and isinstance(v, str)
                                             for k, v in tags.items()):
        raise argparse.ArgumentTypeError('a JSON object of strings, e.g. {"role": "web"}')
    return tags


def main():
    p = argparse.ArgumentParser(description="An emulated AWS account on moto (127.0.0.1 only).")
    sub = p.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("serve", help="run moto with authentication on")
    s.add_argument("--pidfile")
    s.add_argument("--parent-pid", type=int, help="exit when this process is gone")
    s.add_argument("--verbose", action="store_true", help="log requests on stderr")
    s = sub.add_parser("setup", help="create the world")
    s.add_argument("--endpoint", required=True, help="moto's URL, http://127.0.0.1:PORT")
    s.add_argument("--state", required=True, help="world and admin keys (written 0600)")
    s.add_argument("--out", required=True, help="IMDS data for imds.py --data (written 0600)")
    s.add_argument("--layers", help="directory whose files go under the prefix")
    g = s.add_mutually_exclusive_group()
    g.add_argument("--tags", type=tags_arg, default={"role": "web", "environment": "production"},
                   help='instance tags as a JSON object (default role=web, environment=production)')
    g.add_argument("--no-tags", action="store_true", help="an instance without tags")
    s.add_argument("--imds-tags", choices=("true", "false"), default="true",
                   help="false: tags not in IMDS (only DescribeTags has them)")
    s.add_argument("--region", default="eu-west-1")
    s.add_argument("--bucket", default="bootlace-test-bucket")
    s.add_argument("--prefix", default="bootstrap/")
    s.add_argument("--role", default="bootlace-instance")
    for name in ("put", "delete", "assume-role"):
        s = sub.add_parser(name)
        s.add_argument("--state", required=True)
        if name != "assume-role":
            s.add_argument("key")
        if name == "put":
            s.add_argument("file")
    a = p.parse_args()

    # Explicit keys and endpoints only: nothing from the caller's AWS setup,
    # and never a proxy between us and 127.0.0.1.
    for k in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        os.environ.pop(k, None)
    os.environ["AWS_CONFIG_FILE"] = os.environ["AWS_SHARED_CREDENTIALS_FILE"] = os.devnull
    os.environ["no_proxy"] = os.environ["NO_PROXY"] = "127.0.0.1"
    try:
        if a.cmd == "serve":
            serve(a)
        elif a.cmd == "setup":
            setup(a)
        elif a.cmd == "assume-role":
            rotate(a)
        else:
            state = read_json(a.state)
            aws = admin_of(state)
            if a.cmd == "put":
                put_object(aws, state["bucket"], a.key, a.file)
            else:
                aws.call("s3", "delete_object", "s3://%s/%s" % (state["bucket"], a.key),
                         Bucket=state["bucket"], Key=a.key)
    except Fail as e:
        print("world.py %s: %s" % (a.cmd, e), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
