#!/usr/bin/env python3
"""Collect the summary.json files of a bench/run_cpu.sh run into results.json and a Markdown table.

    python3 bench/table.py RESULTS_DIR

RESULTS_DIR holds meta.json (written by run_cpu.sh) and one run_<cells>/summary.json per size.
Writes RESULTS_DIR/results.json (meta + every summary) and RESULTS_DIR/table.md, and prints the
table. Standard library only.
"""
import glob
import json
import os
import sys


def fmt_si(x):
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.3g} {suffix}"
    return f"{x:.3g}"


def main(argv):
    if len(argv) != 2 or not os.path.isdir(argv[1]):
        print("usage: bench/table.py RESULTS_DIR", file=sys.stderr)
        return 2
    rdir = argv[1]
    meta_path = os.path.join(rdir, "meta.json")
    meta = {}
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    runs = []
    for path in glob.glob(os.path.join(rdir, "run_*", "summary.json")):
        with open(path) as f:
            s = json.load(f)
        cells = sum(int(p["n"]) for p in s["populations"].values())
        extra_path = os.path.join(os.path.dirname(path), "bench.json")
        extra = {}
        if os.path.exists(extra_path):
            with open(extra_path) as f:
                extra = json.load(f)
        runs.append({"cells": cells, **extra, "summary": s})
    if not runs:
        print(f"bench/table.py: no run_*/summary.json under {rdir}", file=sys.stderr)
        return 2
    runs.sort(key=lambda r: r["cells"])

    head = ("| cells | synapses | threads | bio s | build s | wall s per bio s | "
            "synaptic events/s | bytes/synapse | PYR Hz | PV Hz | SOM Hz |")
    rule = "|" + "|".join(["---:"] * (head.count("|") - 1)) + "|"
    lines = [head, rule]
    for r in runs:
        s, t, n = r["summary"], r["summary"]["timing"], r["summary"]["network"]
        pops = s["populations"]

        def rate(name):
            return f"{pops[name]['rate_hz']:.2f}" if name in pops else "-"

        lines.append(
            f"| {r['cells']:,} | {n['synapses']:,} | {r.get('threads', '?')} | {t['bio_s']:g} | "
            f"{t['build_s']:.2f} | {t['wall_per_bio_s']:.2f} | {fmt_si(t['events_per_s'])} | "
            f"{n['bytes_per_synapse']:.2f} | {rate('PYR')} | {rate('PV')} | {rate('SOM')} |")
    table = "\n".join(lines) + "\n"
    with open(os.path.join(rdir, "table.md"), "w") as f:
        f.write(table)
    with open(os.path.join(rdir, "results.json"), "w") as f:
        json.dump({"meta": meta, "runs": runs}, f, indent=2)
        f.write("\n")
    print(table, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
