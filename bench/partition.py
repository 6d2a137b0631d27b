#!/usr/bin/env python3
"""Per-rank memory and exchange bytes of the sheet split over 1-4 ranks (issue 19's "scale,
measured"): runs configs/sheet.yaml once per size on the CPU engine, then `l5sim partition` for
each rank count with that run's spikes, and prints a Markdown table (docs/SCALING.md uses it).

    bench/partition.py [--sizes 10000,100000] [--ranks 1,2,3,4] [--k 100] [--out DIR] [--mpi]

What is measured: the cells, synapses and bytes each rank would build (its parts of every
projection, built exactly as a rank builds them) and, from the run's real spike trains, the bytes
each rank would send per window of the shortest delay: 8 bytes per spike and receiving rank,
sent only to the ranks whose cells it reaches (sparse) or to all (allgather). No MPI is involved:
the numbers are what the partition implies, not timings of an exchange. With --mpi it also
runs the sheet under `mpiexec -n R` (one thread per rank) and prints, from summary.json's `mpi`
section, what the exchange really sent (once per window, each spike to the ranks subscribed to its
cell) and the time it took, with the run's wall time and whether spikes.h5 equals the plain
run's.
"""
import argparse
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(ROOT, "build", "l5sim"))
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--ranks", default="1,2,3,4")
    ap.add_argument("--k", type=int, default=100, help="in-degree (100 as shipped, 1000 = x10)")
    ap.add_argument("--out", default="/tmp/l5sim_partition_bench")
    ap.add_argument("--mpi", action="store_true", help="also run under mpiexec -n R")
    a = ap.parse_args()
    rows = []
    for n in [int(x) for x in a.sizes.split(",")]:
        sets = ["populations.PYR.n=%d" % (n * 8 // 10), "populations.PV.n=%d" % (n // 10),
                "populations.SOM.n=%d" % (n // 10)]
        if a.k != 100:
            f = a.k / 100
            for proj, k in (("PYR_PYR", 80), ("PV_PYR", 10), ("SOM_PYR", 10), ("PYR_PV", 100),
                            ("PYR_SOM", 100)):
                sets.append("projections.%s.connectivity.K=%d" % (proj, round(k * f)))
        setargs = sum((["--set", s] for s in sets), [])
        run_dir = os.path.join(a.out, "sheet%d" % n)
        cfg = os.path.join(ROOT, "configs", "sheet.yaml")
        subprocess.run([a.bin, "run", cfg, "--out", run_dir, "--force", "-q"] + setargs,
                       check=True, stdout=subprocess.DEVNULL)
        for r in [int(x) for x in a.ranks.split(",")]:
            js = os.path.join(a.out, "p%d_%d.json" % (n, r))
            subprocess.run([a.bin, "partition", cfg, "--ranks", str(r), "--spikes",
                            os.path.join(run_dir, "spikes.h5"), "--json", js] + setargs,
                           check=True, stdout=subprocess.DEVNULL)
            with open(js) as f:
                rows.append((n, r, json.load(f)))
    mib = 1024.0 * 1024.0
    print("| cells | ranks | synapses / rank (max) | local inputs | connectivity MiB / rank (max) "
          "| of which row index | state + rings MiB | pre traces MiB | subscribed cells / rank "
          "| window (steps) | sparse B / window / rank | allgather B / window / rank | sparse / allgather |")
    print("|" + "---|" * 13)
    for n, r, j in rows:
        ranks = j["rank"]
        syn = max(x["synapses"] for x in ranks)
        local = sum(x["local_inputs"] for x in ranks) / max(1, sum(x["synapses"] for x in ranks))
        conn = max(x["connectivity_bytes"] for x in ranks) / mib
        row = max(x["row_index_bytes"] for x in ranks) / mib
        state = max(x["state_bytes"] for x in ranks) / mib
        pre = max(x["pre_trace_bytes"] for x in ranks) / mib
        subs = max(x["subscribed"] for x in ranks)
        ex = j["exchange"]
        sp = sum(ex["sparse_mean_bytes"]) / r
        ag = sum(ex["allgather_mean_bytes"]) / r
        print("| %s | %d | %s | %.0f %% | %.1f | %.2f | %.2f | %.2f | %s | %d | %.0f | %.0f | %s |" % (
            format(n, ","), r, format(syn, ","), 100 * local, conn, row, state, pre,
            format(subs, ","), ex["window_steps"], sp, ag, "%.2f" % (sp / ag) if ag else "-"))
    if a.mpi:
        mpi_table(a)
    return 0


def mpi_table(a):
    import hashlib
    import shutil
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
               OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_mpi_yield_when_idle="1",
               OMP_WAIT_POLICY="passive")
    cfg = os.path.join(ROOT, "configs", "sheet.yaml")

    def digest(path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    print()
    print("| cells | ranks | window (steps) | exchanges | wall s / bio s | exchange s (max rank) "
          "| bytes sent / window / rank (mean) | messages / window / rank (mean) "
          "| sends to ranks (max) | subscribed cells / rank (max) | spikes.h5 equal to 1 process |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for n in [int(x) for x in a.sizes.split(",")]:
        sets = ["populations.PYR.n=%d" % (n * 8 // 10), "populations.PV.n=%d" % (n // 10),
                "populations.SOM.n=%d" % (n // 10)]
        setargs = sum((["--set", s] for s in sets), [])
        plain = os.path.join(a.out, "plain%d" % n)
        subprocess.run([a.bin, "run", cfg, "--out", plain, "--force", "-q", "--threads", "1"] +
                       setargs, check=True, stdout=subprocess.DEVNULL, env=env)
        for r in [int(x) for x in a.ranks.split(",")]:
            out = os.path.join(a.out, "mpi%d_%d" % (n, r))
            shutil.rmtree(out, ignore_errors=True)
            subprocess.run([shutil.which("mpiexec"), "-n", str(r), "--oversubscribe", a.bin, "run",
                            cfg, "--out", out, "-q", "--threads", "1"] + setargs, check=True,
                           stdout=subprocess.DEVNULL, env=env)
            with open(os.path.join(out, "summary.json")) as f:
                s = json.load(f)
            m = s["mpi"]["per_rank"]
            windows = max(1, m[0]["exchanges"])
            print("| %s | %d | %d | %d | %.3f | %.3f | %.0f | %.2f | %d | %s | %s |" % (
                format(n, ","), r, s["mpi"]["window_steps"], windows,
                s["timing"]["wall_per_bio_s"], max(x["exchange_s"] for x in m),
                sum(x["exchange_bytes_sent"] for x in m) / len(m) / windows,
                sum(x["exchange_messages"] for x in m) / len(m) / windows,
                max(x["sends_to_ranks"] for x in m),
                format(max(x["subscribed_cells"] for x in m), ","),
                "yes" if digest(os.path.join(out, "spikes.h5")) ==
                digest(os.path.join(plain, "spikes.h5")) else "NO"))

if __name__ == "__main__":
    sys.exit(main())
