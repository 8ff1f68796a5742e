"""Markdown summary of a bench/results/*.jsonl file (stdlib only).

    python3 bench/lib/summarize.py bench/results/pca-20261129T190000Z.jsonl

One row per case: successful runs, medians of whole-process wall, CPU
(user+sys) and peak RSS, of the timed section ("timed s": the peer's own
in-process timing of the work, such as fit_s or train_s; the whole-process
wall for Grove, whose tools are the whole process), a rate (MB/s or items/s
from the timed section) and the accuracy. Ratios are Grove/peer on the
medians, within one benchmark group: below 1 means Grove is faster. "timed"
compares Grove's whole process with the peer's in-process time (the peer's
interpreter start and data loading excluded: the harder comparison for
Grove); "wall" compares whole processes. "load" is the median 1-minute load
average at the end of the runs (2 cores: above 2, other jobs competed).
"""

import json
import statistics
import sys


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def fmt(v, digits=3):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.1f}"
    return f"{v:.{digits}g}" if abs(v) < 1 else f"{v:.{digits}g}"


def main():
    path = sys.argv[1]
    records = [json.loads(line) for line in open(path) if line.strip()]
    groups = {}
    for r in records:
        groups.setdefault(r["bench"], {}).setdefault((r["who"], r["name"]), []).append(r)

    print(f"Results: `{path}`\n")
    print("| benchmark | tool | runs | wall s | CPU s | timed s | peak RSS MiB | rate | accuracy "
          "| Grove/peer timed | Grove/peer wall | load |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    versus = []
    for bench, cases in groups.items():
        rows = []
        for (who, name), runs in cases.items():
            ok = [r for r in runs if r.get("rc") == 0 and "wall_s" in r]
            wall = med([r["wall_s"] for r in ok])
            timed = wall
            key = runs[0].get("key", "-")
            if key != "-":
                timed = med([r.get("inner", {}).get(key) for r in ok])
            rates = []
            if timed:
                if runs[0].get("mb"):
                    rates.append(f"{runs[0]['mb'] / timed:,.0f} MB/s")
                if runs[0].get("items"):
                    rates.append(f"{runs[0]['items'] / timed:,.0f} {runs[0].get('unit', 'items')}/s")
            rate = ", ".join(rates) or None
            acc = med([r.get("inner", {}).get("accuracy") for r in ok])
            status = f"{len(ok)}/{len(runs)}" if len(ok) == len(runs) else \
                f"{len(ok)}/{len(runs)} (exit {runs[-1].get('rc')})"
            load = med([r.get("load1") for r in ok])
            rows.append(dict(who=who, name=name, status=status, wall=wall, load=load,
                             cpu=med([r.get("cpu_s") for r in ok]), timed=timed,
                             rss=med([r.get("rss_mib") for r in ok]), rate=rate, acc=acc))
        grove = next((r for r in rows if r["who"] == "grove" and r["wall"]), None)
        peers = [r for r in rows if r["who"] == "peer" and r["timed"]]
        if grove and peers:
            best = min(peers, key=lambda r: r["timed"])
            versus.append(f"- {bench}: {grove['name']} {fmt(grove['timed'])} s; fastest peer "
                          f"{best['name']} {fmt(best['timed'])} s (timed); Grove/peer "
                          f"{grove['timed'] / best['timed']:.2f}, "
                          f"Grove speed-up {best['timed'] / grove['timed']:.1f}x")
        for r in rows:
            rt = rw = "-"
            if grove and r["who"] == "peer" and r["timed"] and r["wall"]:
                rt = f"{grove['timed'] / r['timed']:.2f}"
                rw = f"{grove['wall'] / r['wall']:.2f}"
            acc = f"{r['acc']:.4f}" if r["acc"] is not None else "-"
            name = r["name"].replace("|", "\\|")
            print(f"| {bench} | {name} | {r['status']} | {fmt(r['wall'])} | {fmt(r['cpu'])} | "
                  f"{fmt(r['timed'])} | {fmt(r['rss'])} | {r['rate'] or '-'} | {acc} | {rt} | {rw} | "
                  f"{fmt(r['load'], 2)} |")
    if versus:
        print("\nAgainst the fastest peer (Grove whole process vs the peer's timed section):\n")
        print("\n".join(versus))


if __name__ == "__main__":
    main()
