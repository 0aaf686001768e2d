#!/usr/bin/env python3
"""state.py - what the fault matrix (run.sh) asserts about bootlace's state
directory after a scenario, and about the JSON files in it.

  state.py check STATE_DIR LAYERS_DIR [--clean] [--source NAME=FILE]...
      exit 1, with one line per problem, unless:
      - every *.json under STATE_DIR parses: no record torn by a crash;
      - every layer a run record lists with a sha256 has the sha256 of its
        source, LAYERS_DIR/NAME (or FILE, for --source NAME=FILE, e.g. the
        user-data script): nothing partial or corrupt was accepted;
      - every script installed under scripts/EVENT/ is byte for byte one of
        those sources: no partial script was ever put in place to run;
      - with --clean (bootlace ended by itself, not killed): tmp/ is empty,
        no current.json is left and no temp file of an atomic write
        (NAME.tmp.XXXXXX).
  state.py expect FILE EXPR
      exit 1 (printing FILE) unless the Python expression EXPR, over j (the
      JSON in FILE), is true.
"""
import hashlib
import json
import os
import re
import sys

ATOMIC_TMP = re.compile(r"\.tmp\.[A-Za-z0-9]{6}$")


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def sources(layers, extra):
    """{layer name: sha256} for every file under layers, plus the extras."""
    out = {}
    for d, _, files in os.walk(layers):
        for name in files:
            path = os.path.join(d, name)
            out[os.path.relpath(path, layers)] = sha256(path)
    for item in extra:
        name, _, path = item.partition("=")
        out[name] = sha256(path)
    return out


def check(state, layers, clean, extra):
    problems = []
    if not os.path.isdir(state):
        return ["%s: no state directory" % state]
    known = sources(layers, extra)
    for d, _, files in os.walk(state):
        for name in files:
            path = os.path.join(d, name)
            rel = os.path.relpath(path, state)
            if clean and ATOMIC_TMP.search(name):
                problems.append("%s: an atomic write's temp file left behind" % rel)
            if name.endswith(".json"):
                try:
                    with open(path) as f:
                        json.load(f)
                except ValueError as e:
                    problems.append("%s: not JSON: %s" % (rel, e))
            if rel.startswith("scripts" + os.sep) and sha256(path) not in known.values():
                problems.append("%s: installed script is none of the sources (partial?)" % rel)
    runs = os.path.join(state, "runs")
    for name in sorted(os.listdir(runs)) if os.path.isdir(runs) else []:
        try:
            with open(os.path.join(runs, name)) as f:
                rec = json.load(f)
        except ValueError:
            continue  # reported above
        for layer in rec.get("layers", []):
            want = known.get(layer.get("name"))
            if "sha256" in layer and layer["sha256"] != want:
                problems.append("runs/%s: layer %s has sha256 %s, its source %s" % (
                    name, layer.get("name"), layer["sha256"], want))
    if clean:
        tmp = os.path.join(state, "tmp")
        left = sorted(os.listdir(tmp)) if os.path.isdir(tmp) else []
        if left:
            problems.append("tmp/ not empty after the run: %s" % " ".join(left))
        if os.path.exists(os.path.join(state, "current.json")):
            problems.append("current.json left after the run ended")
    return problems


def main(argv):
    if len(argv) >= 3 and argv[0] == "check":
        rest = argv[3:]
        clean = "--clean" in rest
        extra = [rest[i + 1] for i, a in enumerate(rest) if a == "--source" and i + 1 < len(rest)]
        problems = check(argv[1], argv[2], clean, extra)
        for p in problems:
            print("state: " + p)
        return 1 if problems else 0
    if len(argv) == 3 and argv[0] == "expect":
        try:
            with open(argv[1]) as f:
                j = json.load(f)
        except (OSError, ValueError) as e:
            print("%s: %s" % (argv[1], e))
            return 1
        if eval(argv[2], {"j": j}):  # the test's own expression
            return 0
        print("%s: not %s:\n%s" % (argv[1], argv[2], json.dumps(j, indent=1)))
        return 1
    print(__doc__.strip(), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
