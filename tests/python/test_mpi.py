"""`l5sim run` under mpiexec (issue 19, docs/SCALING.md): the network split over 1-4 ranks writes
the files of a plain run byte for byte (spikes.h5, probes.h5, weights.h5; summary.json and
config.resolved.yaml but for timings, the memory each rank holds, the command line and the `mpi`
section), on the sheet (jittered positions, delays of 1-5 ms, STDP, probes, weight snapshots, a
schedule and an injection) and on the ring with zero delays, with 1 and 2 threads per rank;
errors end every rank with the right exit code and one message. Skipped where l5sim was built
without MPI or mpiexec is missing."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

import l5files
from l5files import comparable_config, sha

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
L5SIM = os.environ.get("L5SIM_BIN", os.path.join(ROOT, "build", "l5sim"))
# L5SIM_MPIEXEC: another mpiexec (a GPU machine's relocated Open MPI: bench/mpi_bundle.sh).
MPIEXEC = os.environ.get("L5SIM_MPIEXEC") or shutil.which("mpiexec")
OUTPUTS = ("spikes.h5", "probes.h5", "weights.h5")

# Open MPI: permission to run as root (CI), more ranks than cores, ranks that yield when idle.
ENV = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
           OMPI_MCA_rmaps_base_oversubscribe="1", OMPI_MCA_mpi_yield_when_idle="1",
           OMP_WAIT_POLICY="passive")

CONFIGS = os.path.join(ROOT, "tests", "configs")


def built_with_mpi():
    r = subprocess.run([L5SIM, "info"], capture_output=True, text=True)
    return "mpi: built" in r.stdout


def cuda_device_visible():
    r = subprocess.run([L5SIM, "info"], capture_output=True, text=True)
    return "cuda devices:" in r.stdout and "none visible" not in r.stdout


def comparable_summary(path):
    """summary.json without what differs by the number of ranks (the mpi section; the
    connectivity bytes: a rank's rows carry their source ids, and sources are held by several
    ranks)."""
    return l5files.comparable_summary(path, drop=("mpi",),
                                      drop_network=("connectivity_bytes", "bytes_per_synapse"))


@unittest.skipUnless(MPIEXEC and built_with_mpi(), "l5sim built without MPI, or no mpiexec")
class MpiRun(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="l5sim_mpi_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_l5sim(self, ranks, *args, timeout=300):
        cmd = [L5SIM, *map(str, args)]
        if ranks:
            cmd = [MPIEXEC, "-n", str(ranks), "--oversubscribe", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)

    def plain_and_ranks(self, cfg, cases, extra=(), engine="cpu"):
        """The plain run (CPU, one process) against `l5sim run` under mpiexec with each (ranks,
        threads) of `cases` and the options `extra`, whose ranks must have run `engine`."""
        where = tempfile.mkdtemp(dir=self.tmp)  # a call's own directories
        plain = os.path.join(where, "plain")
        r = self.run_l5sim(0, "run", cfg, "--out", plain, "-q", "--threads", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        with open(os.path.join(plain, "summary.json")) as f:
            summary = json.load(f)
        for ranks, threads in cases:
            with self.subTest(ranks=ranks, threads=threads):
                out = os.path.join(where, "r%d_t%d" % (ranks, threads))
                r = self.run_l5sim(ranks, "run", cfg, "--out", out, "-q", "--threads", threads,
                                   *extra)
                self.assertEqual(r.returncode, 0, r.stderr)
                for f in OUTPUTS:
                    if os.path.exists(os.path.join(plain, f)):
                        self.assertEqual(sha(os.path.join(out, f)), sha(os.path.join(plain, f)), f)
                self.assertEqual(comparable_summary(os.path.join(out, "summary.json")),
                                 comparable_summary(os.path.join(plain, "summary.json")))
                self.assertEqual(comparable_config(os.path.join(out, "config.resolved.yaml")),
                                 comparable_config(os.path.join(plain, "config.resolved.yaml")))
                with open(os.path.join(out, "summary.json")) as f:
                    mpi = json.load(f)["mpi"]
                self.assertEqual(mpi["ranks"], ranks)
                self.assertEqual(mpi["engine"], engine)
                cells = sum(p["n"] for p in summary["populations"].values())
                self.assertEqual(sum(x["cells"] for x in mpi["per_rank"]), cells)
                self.assertEqual(sum(x["synapses"] for x in mpi["per_rank"]),
                                 summary["network"]["synapses"])
                self.assertEqual(set(os.listdir(out)), set(os.listdir(plain)))
        return summary

    def test_sheet_over_one_to_four_ranks_writes_the_plain_runs_files(self):
        summary = self.plain_and_ranks(os.path.join(CONFIGS, "ranks_sheet.yaml"),
                                       [(1, 1), (2, 1), (3, 1), (4, 1), (2, 2)])
        # The run is not trivial: every population fires, STDP moves the weights.
        for name, pop in summary["populations"].items():
            self.assertGreater(pop["spikes"], 50, name)

    def small_som(self, plastic=False):
        """The sheet with 3 SOM cells: over 4 or 5 ranks some hold none of them (plastic: and
        so no synapse of the plastic PYR_SOM)."""
        cfg = os.path.join(self.tmp, "small%s.yaml" % ("_plastic" if plastic else ""))
        with open(os.path.join(CONFIGS, "ranks_sheet.yaml")) as f:
            text = f.read().replace("SOM: {type: som, n: 50}", "SOM: {type: som, n: 3}")
        if plastic:
            head = "PYR_SOM: {source: PYR, target: SOM, receptors: {ampa: 1, nmda: 1},"
            self.assertIn(head, text)
            text = text.replace(head, head + " stdp: {eta: 5},")
        with open(cfg, "w") as f:
            f.write(text)
        return cfg

    def test_populations_smaller_than_the_rank_count(self):
        self.plain_and_ranks(self.small_som(), [(4, 1), (5, 1)])

    def test_ring_with_zero_delays_over_ranks_writes_the_plain_runs_files(self):
        ring = os.path.join(CONFIGS, "ranks_ring.yaml")
        self.plain_and_ranks(ring, [(2, 1), (3, 1)])
        # --backend auto: the CPU engine on every rank (no device here; with one, because CUDA
        # ranks do not step delays of 0 steps).
        self.plain_and_ranks(ring, [(2, 1)], extra=("--backend", "auto"))

    @unittest.skipUnless(cuda_device_visible() or os.environ.get("L5SIM_REQUIRE_GPU") == "1",
                         "no CUDA device")
    def test_cuda_ranks_write_the_plain_runs_files(self):
        """One device per rank (ranks share the device there is): the sheet's files over 1-3
        CUDA ranks are the plain CPU run's; a checkpoint of 2 CUDA ranks resumes on 3 CUDA
        ranks and on one CPU process, and one of 3 CPU ranks on 2 CUDA ranks, to the plain
        run's files."""
        cfg = os.path.join(CONFIGS, "ranks_sheet.yaml")
        self.plain_and_ranks(cfg, [(1, 1), (2, 1), (3, 1)], extra=("--backend", "cuda"),
                             engine="cuda")
        # Stopped by the health check (PV above 20 Hz at 100 ms) with a checkpoint, resumed
        # elsewhere: on CUDA ranks, on one CPU process, and from CPU ranks onto CUDA ranks.
        stop = ("--set", "simulation.health.max_rate_hz=20")
        finals = []
        for ranks, backend, again, again_backend in ((0, "cpu", 0, "cpu"), (2, "cuda", 3, "cuda"),
                                                     (2, "cuda", 0, "cpu"), (3, "cpu", 2, "cuda")):
            with self.subTest(run=(ranks, backend), resume=(again, again_backend)):
                out = os.path.join(self.tmp, "stop_%d%s_%d%s" % (ranks, backend, again,
                                                                 again_backend))
                r = self.run_l5sim(ranks, "run", cfg, "--out", out, "-q", "--backend", backend,
                                   *stop)
                self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
                r = self.run_l5sim(again, "resume", out, "-q", "--ignore-health", "--backend",
                                   again_backend)
                self.assertEqual(r.returncode, 0, r.stderr)
                finals.append(out)
        for other in finals[1:]:
            for f in OUTPUTS:
                self.assertEqual(sha(os.path.join(other, f)), sha(os.path.join(finals[0], f)), f)

    def write_sweep(self, name, grid, trials):
        with open(os.path.join(CONFIGS, "ranks_ring.yaml")) as f:
            text = f.read()
        path = os.path.join(self.tmp, name)
        with open(path, "w") as f:
            f.write(text + "sweep:\n  trials: %d\n  grid:\n    %s\n" % (trials, grid))
        return path

    def test_a_sweep_over_three_ranks_writes_the_plain_sweeps_files(self):
        """Replica i runs on rank i % 3 and writes its directory; sweep.json, every replica's
        files and summary.json's entries are the plain sweep's (timings aside). A replica that
        fails (a health stop at a grid point) is said once, naming the replica and its rank,
        and every rank exits 1; the others' directories are written as without MPI."""
        cfg = self.write_sweep("sweep.yaml", "populations.PYR.coupling.gamma: [0, 0.5, 1]", 2)
        plain = os.path.join(self.tmp, "plain")
        r = self.run_l5sim(0, "run", cfg, "--out", plain, "-q", "--threads", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "ranks")
        r = self.run_l5sim(3, "run", cfg, "--out", out, "-q", "--threads", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(sha(os.path.join(plain, "sweep.json")), sha(os.path.join(out, "sweep.json")))
        replicas = sorted(os.listdir(os.path.join(plain, "replicas")))
        self.assertEqual(len(replicas), 6)
        self.assertEqual(replicas, sorted(os.listdir(os.path.join(out, "replicas"))))
        for rep in replicas:
            a, b = (os.path.join(d, "replicas", rep) for d in (plain, out))
            for name in ("spikes.h5", "probes.h5"):
                self.assertEqual(sha(os.path.join(a, name)), sha(os.path.join(b, name)), rep + name)
            self.assertEqual(comparable_summary(os.path.join(a, "summary.json")),
                             comparable_summary(os.path.join(b, "summary.json")), rep)
            self.assertEqual(comparable_config(os.path.join(a, "config.resolved.yaml")),
                             comparable_config(os.path.join(b, "config.resolved.yaml")), rep)
        with open(os.path.join(plain, "summary.json")) as f:
            ps = json.load(f)
        with open(os.path.join(out, "summary.json")) as f:
            rs = json.load(f)
        for s in ps["replicas"] + rs["replicas"]:
            s.pop("wall_s")
        self.assertEqual(ps["replicas"], rs["replicas"])
        self.assertEqual(rs["timing"]["mpi"]["replicas_per_rank"], [2, 2, 2])
        self.assertFalse([x for x in os.listdir(out) if x.startswith(".l5sim_ranks")])
        # Replica 4 (rank 1 of 3) stops on its health check.
        bad = self.write_sweep("bad.yaml", "simulation.health.max_rate_hz: [1000, 1000, 1000, "
                               "1000, 1, 1000]", 1)
        out = os.path.join(self.tmp, "bad")
        r = self.run_l5sim(3, "run", bad, "--out", out, "-q", "--threads", 1)
        self.assertEqual(r.returncode, 1, r.stderr)
        said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
        self.assertEqual(len(said), 1, r.stderr)
        self.assertIn("(rank 1 of 3): replica 4 (simulation.health.max_rate_hz=1)", said[0])
        # Every rank's first replica ran before it; rank 0's and 2's second may have started
        # before the failure (then they finish and are written) or after (then they stop).
        written = set(os.listdir(os.path.join(out, "replicas")))
        self.assertLessEqual({"r00000", "r00001", "r00002"}, written)
        self.assertLessEqual(written, {"r00000", "r00001", "r00002", "r00003", "r00005"})
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))
        self.assertFalse([x for x in os.listdir(out) if x.startswith(".l5sim_")])

    def test_a_failed_replica_stops_the_sweep_on_every_rank(self):
        """Replica 1 (rank 1 of 2) stops on its health check at once; rank 0, running replica 0
        (3 s of biological time), starts none of its other three: the failure is said once, for
        replica 1 and rank 1, every rank exits 1, and only replica 0's directory is written."""
        bad = self.write_sweep("stop.yaml", "simulation.health.max_rate_hz: [1000, 1, 1000, "
                               "1000, 1000, 1000, 1000, 1000]", 1)
        for pack in ("off", "on"):
            with self.subTest(pack=pack):
                out = os.path.join(self.tmp, "stop_" + pack)
                t0 = time.monotonic()
                r = self.run_l5sim(2, "run", bad, "--out", out, "-q", "--threads", 1,
                                   "--pack", pack, "--set", "simulation.duration_ms=30000")
                took = time.monotonic() - t0
                self.assertEqual(r.returncode, 1, r.stderr)
                said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
                self.assertEqual(len(said), 1, r.stderr)
                self.assertIn("(rank 1 of 2): replica 1 (simulation.health.max_rate_hz=1)",
                              said[0])
                self.assertNotIn("interrupted", said[0])
                if pack == "off":
                    # Rank 0 finished replica 0 (started before the failure), then stopped.
                    self.assertEqual(os.listdir(os.path.join(out, "replicas")), ["r00000"])
                else:
                    # Packed: each rank's replicas are one pack, started together; rank 1's
                    # fails, rank 0's runs to its end (its members write their directories).
                    self.assertNotIn("r00001", os.listdir(os.path.join(out, "replicas")))
                self.assertFalse([x for x in os.listdir(out) if x.startswith(".l5sim_")])
                self.assertLess(took, 60)
        # What a killed sweep over MPI leaves (its token and marker) goes with --force, also
        # when the next sweep runs without MPI.
        out = os.path.join(self.tmp, "stop_off")
        for name in (".l5sim_ranks_see_this", ".l5sim_sweep_failed"):
            with open(os.path.join(out, name), "w") as f:
                f.write("1\n")
        ok = self.write_sweep("ok.yaml", "populations.PYR.coupling.gamma: [0, 1]", 1)
        r = self.run_l5sim(0, "run", ok, "--out", out, "-q", "--threads", 1, "--force")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertFalse([x for x in os.listdir(out) if x.startswith(".l5sim_")])

    def test_errors_end_every_rank_with_one_message_and_the_right_code(self):
        cfg = os.path.join(CONFIGS, "ranks_sheet.yaml")
        out = os.path.join(self.tmp, "bad")
        ring = os.path.join(CONFIGS, "ranks_ring.yaml")
        cases = [
            (cfg, ("--set", "populations.PYR.n=-3"), 2, "populations.PYR.n"),
            (cfg, ("--checkpoint-every", "30min"), 2, "give a biological interval"),
            # CUDA ranks step windows of at least one step: the ring's zero delays are refused
            # on every rank together, before any rank takes a device.
            (ring, ("--backend", "cuda"), 2, "a projection has a delay of 0 steps"),
        ]
        if not cuda_device_visible():  # CUDA ranks without a device (or without CUDA built in)
            cases.append((cfg, ("--backend", "cuda"), 1, "--backend cuda"))
        for config, extra, code, words in cases:
            with self.subTest(extra=extra):
                r = self.run_l5sim(3, "run", config, "--out", out, "-q", *extra, timeout=60)
                self.assertEqual(r.returncode, code, r.stderr)
                said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
                self.assertEqual(len(said), 1, r.stderr)
                self.assertIn(words, said[0])
                self.assertFalse(os.path.exists(out))
        # A refusal on some ranks only, while they build their parts (the largest weights of a
        # projection on one rank): every rank stops at once with the refusing rank's message
        # (it hung in the collectives before).
        for ranks in (2, 3):
            with self.subTest(part_refused_on_some_ranks=ranks):
                r = self.run_l5sim(ranks, "run", ring, "--out", out, "-q",
                                   "--set", "populations.PYR.n=7",
                                   "--set", "recording.probes.0.cells=all",
                                   "--set", "projections.PYR_PV.connectivity.A=1e7",
                                   "--set", "projections.PYR_PV.connectivity.sigma=0.01",
                                   timeout=60)
                self.assertEqual(r.returncode, 2, r.stderr)
                said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
                self.assertEqual(len(said), 1, r.stderr)
                self.assertIn("the delay ring holds at most", said[0])
                self.assertFalse(os.path.exists(out))
        # What is not a distributed run speaks once too: a usage error, validate, info.
        r = self.run_l5sim(3, "run", cfg, "--out", out, "--threads", 0, timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual((r.stdout + r.stderr).count("not in range"), 1, r.stdout + r.stderr)
        r = self.run_l5sim(3, "validate", cfg, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.count(": valid"), 1, r.stdout)
        r = self.run_l5sim(3, "validate", os.path.join(self.tmp, "missing.yaml"), timeout=60)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertEqual(r.stderr.count("l5sim: error"), 1, r.stderr)
        # A health stop (runaway activity) is seen by every rank at the same check: exit 3.
        r = self.run_l5sim(2, "run", cfg, "--out", out, "-q", "--set",
                           "simulation.health.max_rate_hz=1", timeout=60)
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("runaway activity", r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))

    def test_a_share_too_large_for_a_rank_or_its_node_is_refused_before_allocating(self):
        """Every rank checks its share of the network (and the ranks of a node their sum)
        against the memory it may use, before building anything: one rank under `ulimit -v`
        refuses, and every rank ends with exit 2 and its message within seconds."""
        avail_kib = 0
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    avail_kib = int(line.split()[1])
        if avail_kib < 12 * 1024 * 1024:
            self.skipTest("needs 12 GiB available (the shares below are about 4.5 GiB each)")
        cfg = os.path.join(ROOT, "configs", "sheet.yaml")
        out = os.path.join(self.tmp, "big")
        big = ["--set", "populations.PYR.n=200000",
               "--set", "projections.PYR_PYR.connectivity.K=1000"]
        # Rank 1 alone may use less than 3 GiB of address space.
        cmd = [MPIEXEC, "-n", "2", "--oversubscribe", "sh", "-c",
               'if [ "$OMPI_COMM_WORLD_RANK" = 1 ]; then ulimit -v 3000000; fi; exec "$@"', "sh",
               L5SIM, "run", cfg, "--out", out, "-q", *big]
        t0 = time.monotonic()
        r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=120)
        self.assertLess(time.monotonic() - t0, 60)
        self.assertEqual(r.returncode, 2, r.stderr)
        said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
        self.assertEqual(len(said), 1, r.stderr)
        self.assertIn("(rank 1 of 2)", said[0])
        self.assertIn("rank 1 of 2 holds 100624 cells", said[0])
        self.assertIn("GiB of memory on the CPU engine", said[0])
        self.assertFalse(os.path.exists(out))
        # Shares that fit one process each but not the node together (2 x 0.7 of what it has),
        # sized from the share just refused (its estimate grows with the cells).
        share_gib = float(said[0].split("needs about ")[1].split(" GiB")[0])
        n = int(0.7 * avail_kib * 1024 / (share_gib * 2 ** 30) * 200000)
        r = self.run_l5sim(2, "run", cfg, "--out", out, "-q",
                           "--set", f"populations.PYR.n={n}",
                           "--set", "projections.PYR_PYR.connectivity.K=1000", timeout=120)
        self.assertEqual(r.returncode, 2, r.stderr)
        said = [x for x in r.stderr.splitlines() if x.startswith("l5sim:")]
        self.assertEqual(len(said), 1, r.stderr)
        self.assertIn("the 2 ranks on this node need about", said[0])
        self.assertFalse(os.path.exists(out))

    def test_checkpoints_with_ranks_holding_no_synapse_of_a_plastic_projection(self):
        """Two PYR cells over 3 ranks: one rank holds no PYR cell, so no synapse of the plastic
        PYR_PYR (its weight block is 0 bytes there). Periodic checkpoints work and the files are
        the plain run's."""
        cfg = os.path.join(CONFIGS, "ranks_ring.yaml")
        sets = ["--set", "populations.PYR.n=2", "--set", "recording.probes.0.cells=all"]
        plain = os.path.join(self.tmp, "plain")
        r = self.run_l5sim(0, "run", cfg, "--out", plain, "-q", *sets)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "ranks")
        r = self.run_l5sim(3, "run", cfg, "--out", out, "-q", "--checkpoint-every", "50ms-bio",
                           *sets, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        for f in ("spikes.h5", "probes.h5"):
            self.assertEqual(sha(os.path.join(out, f)), sha(os.path.join(plain, f)), f)

    def test_a_checkpoint_of_ranks_resumes_on_one_process_or_other_ranks(self):
        """A health stop (PV above 20 Hz at the first check, 100 ms) writes the checkpoint;
        rank 0 writes the single process's blocks, so `l5sim resume` finishes the run as the
        plain run's checkpoint does, file for file, on one process or on another number of
        ranks (3 stopped, 2 resumed; 2 stopped, 5 resumed: the blocks are indexed by global
        id), also when some ranks hold no cells of a population, nor synapses of a plastic
        projection."""
        for cfg in (os.path.join(CONFIGS, "ranks_sheet.yaml"), self.small_som(),
                    self.small_som(plastic=True)):
            with self.subTest(cfg=os.path.basename(cfg)):
                self.stop_and_resume(cfg, ((0, 0), (3, 0), (3, 2), (2, 5)))

    def test_ranks_read_a_checkpoints_blocks_in_pieces(self):
        """Each rank reads a checkpoint's blocks through a bounded buffer and keeps its share;
        with pieces of 12 bytes (L5SIM_RESTORE_PIECE) every block is many pieces, an element
        never straddles two, and the resumed files are still those of the plain run."""
        cfg = os.path.join(CONFIGS, "ranks_sheet.yaml")
        saved = dict(ENV)
        try:
            for piece in ("12", "4096"):
                with self.subTest(piece=piece):
                    ENV["L5SIM_RESTORE_PIECE"] = piece
                    # The CSR places found in rounds of at most 7 runs per rank, too.
                    ENV["L5SIM_PLACE_RUNS"] = "7" if piece == "12" else "1000000"
                    self.stop_and_resume(cfg, ((0, 0), (2, 3), (3, 2)), tag="piece" + piece)
        finally:
            ENV.clear()
            ENV.update(saved)

    def stop_and_resume(self, cfg, cases, tag=""):
        stop = ("--set", "simulation.health.max_rate_hz=20")
        finals = []
        for ranks, resume_ranks in cases:
            out = os.path.join(self.tmp, "stopped%d_%d_%s%s" % (ranks, resume_ranks,
                                                               os.path.basename(cfg), tag))
            r = self.run_l5sim(ranks, "run", cfg, "--out", out, "-q", "--threads", 1, *stop)
            self.assertEqual(r.returncode, 3, r.stdout + r.stderr)
            self.assertTrue(os.path.exists(os.path.join(out, "checkpoint.l5ck")))
            r = self.run_l5sim(resume_ranks, "resume", out, "-q", "--ignore-health", "--threads", 1)
            self.assertEqual(r.returncode, 0, r.stderr)
            finals.append(out)
        plain = finals[0]
        for other in finals[1:]:
            for f in OUTPUTS:
                self.assertEqual(sha(os.path.join(other, f)), sha(os.path.join(plain, f)), f)
            self.assertEqual(comparable_summary(os.path.join(other, "summary.json")),
                             comparable_summary(os.path.join(plain, "summary.json")))

    def test_sigint_to_one_rank_stops_every_rank_at_one_step_with_a_checkpoint(self):
        """The ranks agree on a signal at every step: SIGINT to rank 1 alone stops all of them
        after the same step with a checkpoint (exit 130), and resume finishes the run as it
        would have finished."""
        cfg = os.path.join(CONFIGS, "ranks_sheet.yaml")
        longer = ("--set", "simulation.duration_ms=30000")
        whole = os.path.join(self.tmp, "whole")
        r = self.run_l5sim(0, "run", cfg, "--out", whole, "-q", "--threads", 1, *longer)
        self.assertEqual(r.returncode, 0, r.stderr)
        out = os.path.join(self.tmp, "cut")
        p = subprocess.Popen([MPIEXEC, "-n", "3", "--oversubscribe", L5SIM, "run", cfg, "--out",
                              out, "-q", "--threads", "1", *longer], env=ENV,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 60
        while not os.path.exists(os.path.join(out, "spikes.stream")) and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)
        found = subprocess.run(["pgrep", "-f", "l5sim run %s --out %s " % (cfg, out)],
                               capture_output=True, text=True).stdout.split()
        ranks = sorted(int(x) for x in found if int(x) != p.pid)  # not mpiexec itself
        try:
            self.assertEqual(len(ranks), 3, found)
            os.kill(ranks[1], signal.SIGINT)
            stdout, stderr = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
                p.communicate()
        self.assertEqual(p.returncode, 130, stdout + stderr)
        self.assertIn("stopped by SIGINT", stdout + stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "checkpoint.l5ck")))
        r = self.run_l5sim(0, "resume", out, "-q", "--threads", 1)
        self.assertEqual(r.returncode, 0, r.stderr)
        for f in OUTPUTS:
            self.assertEqual(sha(os.path.join(out, f)), sha(os.path.join(whole, f)), f)


if __name__ == "__main__":
    unittest.main()
