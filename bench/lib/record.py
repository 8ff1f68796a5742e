"""Turns one timed run into one JSON record (stdlib only; called by
bench/lib/common.sh run_case).

argv: BENCH WHO NAME KEY RUN RC TIMEFILE STDOUT STDERR [k=v ...] -- CMD...
TIMEFILE holds GNU time's "%e %U %S %M" (wall s, user s, sys s, max RSS KiB);
when the command was killed it may hold a "Command exited..." line first.
"""

import json
import re
import sys


def main():
    argv = sys.argv[1:]
    bench, who, name, key, run, rc, timefile, stdout, stderr = argv[:9]
    rest = argv[9:]
    split = rest.index("--")
    extras, cmd = rest[:split], rest[split + 1:]
    rec = {"bench": bench, "who": who, "name": name, "key": key, "run": int(run), "rc": int(rc)}
    for kv in extras:
        k, v = kv.split("=", 1)
        try:
            rec[k] = float(v)
        except ValueError:
            rec[k] = v
    try:
        fields = open(timefile).read().split("\n")
        nums = [line for line in fields if re.match(r"^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+$", line.strip())]
        wall, user, sys_, rss = nums[-1].split()
        rec.update(wall_s=float(wall), cpu_s=float(user) + float(sys_), rss_mib=int(rss) / 1024)
    except (OSError, IndexError, ValueError):
        pass
    wall_us = rec.pop("wall_us", None)
    if wall_us is not None and "wall_s" in rec:
        rec["wall_s"] = wall_us / 1e6  # bash's clock, finer than GNU time's
    inner = {}
    try:
        text = open(stdout, errors="replace").read()
    except OSError:
        text = ""
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                inner = json.loads(line)
            except ValueError:
                pass
        m = re.match(r"^accuracy:\s*([0-9.]+)", line)
        if m:
            inner["accuracy"] = float(m.group(1))
    if inner:
        rec["inner"] = inner
    if int(rc) != 0:
        try:
            rec["stderr"] = open(stderr, errors="replace").read()[-2000:]
        except OSError:
            pass
    try:
        rec["load1"] = float(open("/proc/loadavg").read().split()[0])
    except (OSError, ValueError, IndexError):
        pass
    rec["cmd"] = cmd
    print(json.dumps(rec))


if __name__ == "__main__":
    main()
