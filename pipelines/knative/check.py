#!/usr/bin/env python3
"""Static checks of the Knative manifests (no cluster can run here): every file parses, every
Service has the keys Knative needs, its image is one `make images` builds (grove/stage-TOOL of a
Grove tool), its port is the one grove-stage reads from $PORT, its probes are grove-stage's
endpoints, its command line is the one stages.tsv gives (services.yaml is up to date), and
every stage the HTTP runner can call has a Service."""
import glob
import os
import re
import subprocess
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.abspath(os.path.join(here, "..", ".."))
failures = []


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


package = open(os.path.join(root, "Package.swift")).read()
tools = set(re.search(r"let tools = \[([^\]]*)\]", package).group(1).replace('"', "").replace(" ", "").split(","))
endpoints = open(os.path.join(root, "Sources", "GroveStage", "StageHandler.swift")).read()
docs = {}
for path in sorted(glob.glob(os.path.join(here, "*.yaml"))):
    try:
        docs[path] = [d for d in yaml.safe_load_all(open(path)) if d is not None]
        check(True, f"{os.path.basename(path)} parses ({len(docs[path])} documents)")
    except yaml.YAMLError as e:
        check(False, f"{os.path.basename(path)} parses: {e}")

generated = subprocess.run([sys.executable, os.path.join(here, "generate.py")], capture_output=True, text=True, check=True).stdout
check(generated == open(os.path.join(here, "services.yaml")).read(), "services.yaml is what generate.py writes from stages.tsv")

stages = {}
for line in open(os.path.join(root, "pipelines", "serverless", "stages.tsv")):
    if line.strip() and not line.startswith("#"):
        name, template = line.rstrip("\n").split("\t")
        stages[name] = template.replace("$TREE_FLAGS", "").split()

services = [d for ds in docs.values() for d in ds if d.get("kind") == "Service"]
seen = set()
for s in services:
    name = s.get("metadata", {}).get("name", "?")
    seen.add(name)
    try:
        spec = s["spec"]["template"]["spec"]
        c = spec["containers"][0]
    except (KeyError, IndexError, TypeError):
        check(False, f"{name}: spec.template.spec.containers[0]")
        continue
    ok = s.get("apiVersion") == "serving.knative.dev/v1" and re.fullmatch(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?", name) is not None
    check(ok, f"{name}: serving.knative.dev/v1 Service with a DNS-label name")
    check(isinstance(spec.get("containerConcurrency"), int) and spec["containerConcurrency"] >= 1, f"{name}: containerConcurrency")
    check(isinstance(spec.get("timeoutSeconds"), int) and 0 < spec["timeoutSeconds"] <= 600, f"{name}: timeoutSeconds")
    m = re.fullmatch(r"grove/stage-([a-z-]+):[0-9.]+", c.get("image", ""))
    check(m is not None and m.group(1) in tools, f"{name}: image {c.get('image')} is grove/stage-TOOL of a Grove tool")
    ports = c.get("ports", [])
    check(len(ports) == 1 and ports[0].get("containerPort") == 8080 and "--port" not in c.get("args", []),
          f"{name}: one containerPort, read by grove-stage from $PORT")
    for probe in ("readinessProbe", "livenessProbe"):
        path = c.get(probe, {}).get("httpGet", {}).get("path")
        check(path is not None and f'"{path}"' in endpoints, f"{name}: {probe} {path} is a grove-stage endpoint")
    res = c.get("resources", {})
    check("requests" in res and "limits" in res, f"{name}: resources")
    args = c.get("args", [])
    check("--" in args and args[args.index("--") + 1:] == stages.get(name), f"{name}: command line is stages.tsv's")
    check("0.0.0.0" in args, f"{name}: listens beyond loopback (inside the pod)")
check(seen == set(stages), "every stage in stages.tsv has a Service, and no other")
print(f"knative: {len(failures)} failed")
sys.exit(1 if failures else 0)
