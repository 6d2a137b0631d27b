#!/usr/bin/env python3
"""Digests of what every shipped config produces, to show that a change leaves results alone.

    scripts/results_digest.py --out before.json          # on the commit before the change
    scripts/results_digest.py --out after.json           # after it
    scripts/results_digest.py --compare before.json after.json

Runs configs/*.yaml and configs/paper/*.yaml (sweeps whole, every
replica) with the CPU engine on 1 and on 2 threads (--threads), and records the SHA-256 of every
spikes.h5, probes.h5 and weights.h5 (their bytes: l5sim writes them deterministically) and of
every summary.json with its timings (at any depth), version and git hash taken out. --compare
lists every file that differs, and exits 1 if any does. --quick shortens every run to 300 ms (a
smoke check; the refactors' record uses the full runs). --bin picks the binary (a build of the
commit before, in a git worktree, for the 'before').
"""
import argparse
import glob
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))


def configs():
    return sorted(glob.glob(os.path.join(ROOT, "configs", "*.yaml"))) + \
        sorted(glob.glob(os.path.join(ROOT, "configs", "paper", "*.yaml")))


# Keys of summary.json that differ between identical runs: timings, the build.
VOLATILE = {"timing", "wall_s", "build_s", "git_hash", "l5sim_version"}


def strip_volatile(x):
    if isinstance(x, dict):
        return {k: strip_volatile(v) for k, v in x.items() if k not in VOLATILE}
    if isinstance(x, list):
        return [strip_volatile(v) for v in x]
    return x


def summary_digest(path):
    with open(path) as f:
        d = strip_volatile(json.load(f))
    text = json.dumps(d, sort_keys=True).encode()
    return hashlib.sha256(text).hexdigest()


def file_digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def digest_dir(out):
    result = {}
    for dirpath, _, files in os.walk(out):
        for name in sorted(files):
            rel = os.path.relpath(os.path.join(dirpath, name), out)
            if name in ("spikes.h5", "probes.h5", "weights.h5"):
                result[rel] = file_digest(os.path.join(dirpath, name))
            elif name == "summary.json":
                result[rel] = summary_digest(os.path.join(dirpath, name))
    return result


def run_all(binary, threads, quick):
    digests = {}
    for cfg in configs():
        for t in threads:
            with tempfile.TemporaryDirectory() as tmp:
                out = os.path.join(tmp, "out")
                cmd = [binary, "run", cfg, "--out", out, "--backend", "cpu", "--threads", str(t), "-q"]
                if quick:
                    cmd += ["--set", "simulation.duration_ms=300"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                if r.returncode != 0:
                    sys.exit("%s failed (exit %d):\n%s" % (" ".join(cmd), r.returncode,
                                                           r.stderr[-2000:]))
                name = "%s@%dthreads" % (os.path.relpath(cfg, ROOT), t)
                digests[name] = digest_dir(out)
                print("%-45s %d files" % (name, len(digests[name])), flush=True)
    return digests


def compare(a_path, b_path):
    with open(a_path) as f:
        a = json.load(f)
    with open(b_path) as f:
        b = json.load(f)
    differ = 0
    same = 0
    for run in sorted(set(a["runs"]) ^ set(b["runs"])):
        print("ONLY IN %s %s (a config added or removed; not compared)" %
              (a_path if run in a["runs"] else b_path, run))
    for run in sorted(set(a["runs"]) & set(b["runs"])):
        fa, fb = a["runs"].get(run, {}), b["runs"].get(run, {})
        for rel in sorted(set(fa) | set(fb)):
            if fa.get(rel) != fb.get(rel):
                differ += 1
                print("DIFFERS %s %s" % (run, rel))
            else:
                same += 1
    print("%d files identical, %d differ (%s at %s vs %s at %s)" %
          (same, differ, a_path, a.get("commit"), b_path, b.get("commit")))
    return 1 if differ else 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "l5sim"))
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out")
    ap.add_argument("--compare", nargs=2, metavar=("A", "B"))
    args = ap.parse_args()
    if args.compare:
        sys.exit(compare(*args.compare))
    if not args.out:
        ap.error("--out FILE or --compare A B")
    # The binary's own build (l5sim info: "l5sim VERSION (git HASH, TYPE)"), not this checkout's.
    info = subprocess.run([args.bin, "info"], capture_output=True, text=True).stdout
    commit = info.split("(git ", 1)[1].split(",", 1)[0] if "(git " in info else "unknown"
    threads = [int(t) for t in args.threads.split(",")]
    runs = run_all(args.bin, threads, args.quick)
    with open(args.out, "w") as f:
        json.dump({"commit": commit, "quick": args.quick, "runs": runs}, f, indent=1,
                  sort_keys=True)
    print("wrote", args.out)


if __name__ == "__main__":
    main()
