"""The edges of a run (issue 17), through the l5sim binary (env L5SIM_BIN, set by ctest):

- a full disk at many sizes (a small tmpfs; root only, skipped with a message otherwise): exit 1
  with one line naming the file and "No space left on device", no final file that is not
  complete, and `l5sim resume` on a roomier disk finishes the run byte-identically;
- two processes on one output directory: the second is refused at once, naming the holder;
- a checkpoint copied from another run, an edited config.resolved.yaml, an edited stream, an
  edited checkpoint behind a recomputed CRC: exit 2, never a run that mixes two;
- a state gone NaN in the last health interval: exit 3, and resume goes past it only with
  --ignore-health (summary.json says so);
- a multi-line --set, --force beside a user's own files, an unwritable or dangling --out;
- spikes.h5 read by libsonata (the reference SONATA reader; skipped where it is not installed).

Counts of disk sizes tried are printed; L5SIM_DISK_SIZES="100,200,..." (kB) tries others.
"""
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
import unittest
import zlib

import h5py

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
L5SIM = os.environ.get("L5SIM_BIN", os.path.join(ROOT, "build", "l5sim"))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.yaml")
OUTPUTS = ("spikes.h5", "probes.h5", "weights.h5")


def l5sim(*args, timeout=120):
    return subprocess.run([L5SIM, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout)


def errors(r):
    """stderr without spdlog's log lines."""
    return [x for x in r.stderr.splitlines() if x and not x.startswith("[")]


def read(path, mode="rb"):
    with open(path, mode) as f:
        return f.read()


def write(path, data):
    with open(path, "wb" if isinstance(data, bytes) else "w") as f:
        f.write(data)


def same_outputs(a, b):
    return all(read(os.path.join(a, f)) == read(os.path.join(b, f)) for f in OUTPUTS)


def stop_with(sig, args, after_s):
    """Start l5sim, send `sig` after `after_s` seconds; the completed process."""
    p = subprocess.Popen([L5SIM, *map(str, args)], stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    time.sleep(after_s)
    p.send_signal(sig)
    out, err = p.communicate(timeout=60)
    return p.returncode, out, err


class Mount:
    """A tmpfs of `size` at a fresh directory (root only)."""

    def __init__(self, size, options=""):
        self.dir = tempfile.mkdtemp(prefix="l5sim_mnt_")
        opts = f"size={size}" + (f",{options}" if options else "")
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", self.dir],
                           capture_output=True, text=True)
        self.ok = r.returncode == 0
        self.why = r.stderr.strip()

    def close(self):
        if self.ok:
            subprocess.run(["umount", self.dir], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)


def can_mount():
    if os.geteuid() != 0:
        return False, "not root: a small tmpfs cannot be mounted here"
    m = Mount("64k")
    ok, why = m.ok, m.why
    m.close()
    return ok, f"mount -t tmpfs failed: {why}"


class Base(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(L5SIM, os.X_OK):
            raise unittest.SkipTest(f"no l5sim binary at {L5SIM}")
        cls.tmp = tempfile.mkdtemp(prefix="l5sim_edges_")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def path(self, *parts):
        return os.path.join(self.tmp, *parts)


class DiskFull(Base):
    RUN = ("--set", "simulation.duration_ms=1000", "--checkpoint-every", "200ms-bio", "-q")

    def test_full_disk_at_many_sizes(self):
        ok, why = can_mount()
        if not ok:
            self.skipTest(why)
        ref = self.path("ref")
        r = l5sim("run", QUICKSTART, "--out", ref, *self.RUN)
        self.assertEqual(r.returncode, 0, r.stderr)
        sizes = [int(x) for x in os.environ.get(
            "L5SIM_DISK_SIZES", "120,250,400,550,700,850,1000,1150,1300,1450").split(",")]
        resumed = restarted = completed = 0
        for kb in sizes:
            with self.subTest(size_kb=kb):
                m = Mount(f"{kb}k")
                self.assertTrue(m.ok, m.why)
                try:
                    out = os.path.join(m.dir, "q")
                    r = l5sim("run", QUICKSTART, "--out", out, *self.RUN)
                    self.assertIn(r.returncode, (0, 1), r.stderr[-2000:])
                    if r.returncode == 0:
                        completed += 1
                        self.assertTrue(same_outputs(ref, out))
                        continue
                    lines = errors(r)
                    self.assertEqual(len(lines), 1, r.stderr[-2000:])  # one readable line
                    self.assertIn("No space left on device", lines[0])
                    self.assertRegex(lines[0], r"cannot write \S+")
                    self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))
                    # Nothing under a final name that is not complete.
                    for f in OUTPUTS:
                        p = os.path.join(out, f)
                        if os.path.exists(p):
                            with h5py.File(p, "r") as h:
                                self.assertTrue(len(h.keys()) > 0, f)
                    roomy = self.path(f"roomy_{kb}")
                    shutil.copytree(out, roomy, symlinks=True)
                finally:
                    m.close()
                if "the run must start again" in lines[0]:
                    self.assertFalse(os.path.exists(os.path.join(roomy, "checkpoint.l5ck")))
                    restarted += 1
                    continue
                self.assertIn(f"`l5sim resume {out}`", lines[0])
                r = l5sim("resume", roomy, "-q")
                self.assertEqual(r.returncode, 0, r.stderr)
                self.assertTrue(same_outputs(ref, roomy), f"{kb} kB: resumed outputs differ")
                self.assertFalse(any(n.endswith(".stream") or n == "checkpoint.l5ck"
                                     for n in os.listdir(roomy)))
                resumed += 1
        print(f"\ndisk sizes tried: {len(sizes)} ({sizes[0]}-{sizes[-1]} kB): {resumed} resumed "
              f"byte-identically, {completed} completed, {restarted} full before the first "
              "checkpoint", file=sys.stderr)
        self.assertGreater(resumed, len(sizes) // 2)


class OneProcessPerDirectory(Base):
    def test_second_run_and_resume_are_refused_naming_the_holder(self):
        out = self.path("busy")
        p = subprocess.Popen([L5SIM, "run", QUICKSTART, "--out", out, "-q", "--set",
                              "simulation.duration_ms=60000"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.time() + 20
            while not os.path.exists(os.path.join(out, "config.resolved.yaml")):
                self.assertLess(time.time(), deadline)
                time.sleep(0.01)
            for args in (("run", QUICKSTART, "--out", out, "-q", "--force"), ("resume", out)):
                t0 = time.time()
                r = l5sim(*args)
                self.assertEqual(r.returncode, 2, r.stderr)
                self.assertIn(f"in use by another l5sim process (pid {p.pid})", r.stderr)
                self.assertLess(time.time() - t0, 5)  # at once, not after building
        finally:
            p.send_signal(signal.SIGTERM)
            p.communicate(timeout=60)
        self.assertEqual(p.returncode, 143)
        # The lock went with the process: the run resumes (and is stopped again).
        rc, _, err = stop_with(signal.SIGINT, ("resume", out, "-q"), 0.5)
        self.assertEqual(rc, 130, err)


class ForeignCheckpoints(Base):
    def stopped_run(self, name, seed, duration_ms):
        out = self.path(name)
        rc, _, err = stop_with(signal.SIGTERM, ("run", QUICKSTART, "--out", out, "-q", "--seed",
                                                seed, "--set",
                                                f"simulation.duration_ms={duration_ms}"), 0.6)
        self.assertEqual(rc, 143, err)
        return out

    def test_copied_checkpoint_edited_config_and_edited_stream_are_refused(self):
        a = self.stopped_run("a", 2, 60000)
        # 30 s of biological time: a run that cannot end before the signal (6 s ended in 0.6 s
        # on a fast machine).
        b = self.stopped_run("b", 1, 30000)
        spikes_before = read(os.path.join(b, "spikes.stream"))
        # A's checkpoint in B's directory.
        shutil.copy(os.path.join(b, "checkpoint.l5ck"), self.path("b_own.l5ck"))
        shutil.copy(os.path.join(a, "checkpoint.l5ck"), os.path.join(b, "checkpoint.l5ck"))
        r = l5sim("resume", b, "-q")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("was not written by the run of", r.stderr)
        self.assertIn("simulation.seed: 1 vs 2", r.stderr)
        self.assertIn("simulation.duration_ms: 30000 vs 60000", r.stderr)
        self.assertEqual(read(os.path.join(b, "spikes.stream")), spikes_before)
        self.assertFalse(os.path.exists(os.path.join(b, "summary.json")))
        shutil.copy(self.path("b_own.l5ck"), os.path.join(b, "checkpoint.l5ck"))
        # config.resolved.yaml edited after the run started.
        cfg = os.path.join(b, "config.resolved.yaml")
        text = read(cfg, "r")
        write(cfg, text.replace("duration_ms: 30000", "duration_ms: 31000", 1))
        r = l5sim("resume", b, "-q")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("simulation.duration_ms: 31000 vs 30000", r.stderr)
        write(cfg, text)
        # One byte of the spike stream changed.
        stream = bytearray(spikes_before)
        self.assertGreater(len(stream), 64)
        stream[20] ^= 0x01
        write(os.path.join(b, "spikes.stream"), bytes(stream))
        r = l5sim("resume", b, "-q")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("does not hold the recordings the checkpoint", r.stderr)
        write(os.path.join(b, "spikes.stream"), spikes_before)
        # Restored: the run goes on to the end.
        r = l5sim("resume", b, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)

    def test_checkpoint_edited_behind_a_recomputed_crc_is_refused(self):
        b = self.stopped_run("c", 1, 30000)
        ck = os.path.join(b, "checkpoint.l5ck")
        orig = read(ck)
        step = int(re.search(rb'"step":(\d+)', orig).group(1))

        def recrc(body):
            n = len(body)
            return body + b"L5CKEND!" + struct.pack("<QI", n, zlib.crc32(body)) + b"\0" * 4

        body = orig[:orig.rfind(b"L5CKEND!")]
        edits = {
            "step earlier": body.replace(b'"step":%d' % step, b'"step":%d' % (step - 1000), 1),
            "step later": body.replace(b'"step":%d' % step, b'"step":%d' % (step + 1000), 1),
            "stream longer": re.sub(rb'"spike_stream_bytes":(\d+)',
                                    lambda m: b'"spike_stream_bytes":%d' % (int(m.group(1)) + 16),
                                    body, count=1),
            "untouched": body,  # the control, last: the checkpoint itself still resumes
        }
        for what, edited in edits.items():
            with self.subTest(edit=what):
                write(ck, recrc(edited))
                r = l5sim("resume", b, "-q")
                if what == "untouched":
                    self.assertEqual(r.returncode, 0, r.stderr)  # the untouched checkpoint runs
                    break
                self.assertEqual(r.returncode, 2, f"{what}: {r.stderr}")
                self.assertEqual(len(errors(r)), 1, r.stderr)


class Health(Base):
    def test_runaway_in_the_last_interval_stops_the_run_and_resume_needs_ignore_health(self):
        cfg = self.path("runaway.yaml")
        # 2 nA into every PV cell from 110 ms: PV fires far above 100 Hz from there. The checks
        # every 100 ms come at 100 ms (PV at ~30 Hz: fine) and at 200 ms, after the end (170 ms):
        # only the check at the end of the run sees the last 70 ms.
        write(cfg, read(QUICKSTART, "r") + (
            "injections:\n  - {population: PV, kind: step, amplitude_pA: 2000, start_ms: 110}\n"))
        out = self.path("runaway")
        r = l5sim("run", cfg, "--out", out, "-q", "--set", "simulation.duration_ms=170",
                  "--set", "simulation.health.max_rate_hz=100")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertIn("health check at step 1700 (t = 170.0 ms): population PV fired at",
                      r.stdout + r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))
        r = l5sim("resume", out, "-q")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("stopped by a health check", r.stderr)
        self.assertIn("--ignore-health", r.stderr)
        r = l5sim("resume", out, "-q", "--ignore-health")
        self.assertEqual(r.returncode, 0, r.stderr)
        s = json.loads(read(os.path.join(out, "summary.json"), "r"))
        self.assertFalse(s["health"]["checks"])
        self.assertEqual(len(s["health"]["ignored_stops"]), 1)
        self.assertIn("population PV fired at", s["health"]["ignored_stops"][0])


class Memory(Base):
    """Sizes multiplied in 128 bits (no wrap to a small estimate), the limit the least of
    MemAvailable, ulimit -v and the cgroup's, and the refusal (exit 2, with the numbers) before
    any large allocation, the config's own cell lists included."""

    def run_limited(self, args, limit_bytes=None):
        def limit():
            if limit_bytes:
                resource.setrlimit(resource.RLIMIT_AS, (limit_bytes, limit_bytes))
        t0 = time.time()
        r = subprocess.run([L5SIM, *map(str, args)], capture_output=True, text=True, timeout=120,
                           preexec_fn=limit)
        return r, time.time() - t0

    def test_estimate_that_would_wrap_around_is_refused(self):
        # A dense ring of 2x10^9 cells: 4x10^18 synapses, 10^20 bytes (wrapped to ~13 MB once).
        out = self.path("wrap")
        r, s = self.run_limited(("run", QUICKSTART, "--out", out, "-q",
                                 "--set", "populations.PYR.n=2000000000"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"needs about [0-9.e+]+ GiB of memory")
        self.assertLess(s, 10)
        self.assertFalse(os.path.exists(out))

    def test_ulimit_v_is_the_limit(self):
        # The sheet at 5x10^5 cells needs about 1.6 GiB: refused under a 0.2 GiB address-space
        # limit, naming what the limit leaves (MemAvailable alone is far more here).
        out = self.path("ulimit")
        sheet = os.path.join(ROOT, "configs", "sheet.yaml")
        big = ("--set", "populations.PYR.n=400000", "--set", "populations.PV.n=50000",
               "--set", "populations.SOM.n=50000", "--set", "simulation.duration_ms=1")
        r, _ = self.run_limited(("run", sheet, "--out", out, "-q", *big), 200 << 20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertRegex(r.stderr, r"needs about 1\.\d\d GiB of memory .* may use 0\.[0-2]\d GiB")
        self.assertFalse(os.path.exists(out))

    def test_a_sweep_runs_no_more_replicas_at_once_than_memory_holds(self):
        # Replicas of 0.77 GiB each (the ring at 6000 cells) with --threads 2: under 1.1 GB of
        # address space they run one at a time (two would not fit; before, the second died
        # with bad_alloc); under 0.7 GB not even one fits, and the sweep is refused at once.
        ring = os.path.join(ROOT, "tests", "configs", "ranks_ring.yaml")
        args = ("--set", "populations.PYR.n=5000", "--set", "populations.PV.n=1000",
                "--set", "simulation.duration_ms=10", "--set", "sweep.trials=2",
                "--threads", 2)
        out = self.path("sweep_fits")
        r, _ = self.run_limited(("run", ring, "--out", out, *args), 1100 << 20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("1 replicas at a time instead of 2", r.stdout + r.stderr)
        self.assertEqual(sorted(os.listdir(os.path.join(out, "replicas"))),
                         ["r00000", "r00001"])
        out = self.path("sweep_too_big")
        r, _ = self.run_limited(("run", ring, "--out", out, *args), 700 << 20)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("a replica of this sweep needs about 0.77 GiB", r.stderr)
        self.assertFalse(os.path.exists(os.path.join(out, "replicas")))

    def test_a_range_over_every_cell_is_not_listed(self):
        # {from: 0} over 2x10^9 cells is 'all' (8 GB as a list): read at once, then the network
        # is refused by its estimate.
        out = self.path("range")
        r, s = self.run_limited(("run", QUICKSTART, "--out", out, "-q",
                                 "--set", "populations.PYR.n=2000000000", "--set",
                                 "injections=[{population: PYR, cells: {from: 0}, "
                                 "amplitude_pA: 1}]"), 4 << 30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("GiB of memory", r.stderr)
        self.assertLess(s, 10)
        # {from: 1}: a list of 2x10^9 - 1 ids, refused before it is made.
        r, s = self.run_limited(("validate", QUICKSTART,
                                 "--set", "populations.PYR.n=2000000000", "--set",
                                 "injections=[{population: PYR, cells: {from: 1}, "
                                 "amplitude_pA: 1}]"), 4 << 30)
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("injections.0.cells: expected a range whose list of cell ids fits in memory",
                      r.stderr)
        self.assertLess(s, 10)


class SmallEdges(Base):
    def test_multiline_set_keeps_the_resolved_config_valid(self):
        out = self.path("ml")
        r = l5sim("run", QUICKSTART, "--out", out, "-q", "--set", "simulation.duration_ms=30",
                  "--set", "populations.PV.init={v_mV: -60,\n  u_pA: 1}")
        self.assertEqual(r.returncode, 0, r.stderr)
        again = self.path("ml2")
        r = l5sim("run", os.path.join(out, "config.resolved.yaml"), "--out", again, "-q")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(same_outputs(out, again))

    def test_force_removes_only_what_l5sim_wrote(self):
        out = self.path("mine")
        os.makedirs(os.path.join(out, "replicas"))
        write(os.path.join(out, "replicas", "notes.txt"), "mine")
        write(os.path.join(out, "data.stream"), "mine")
        write(os.path.join(out, "probes_7.stream"), "an older l5sim's")
        r = l5sim("run", QUICKSTART, "--out", out, "-q", "--force", "--set",
                  "simulation.duration_ms=30")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(os.path.exists(os.path.join(out, "replicas", "notes.txt")))
        self.assertTrue(os.path.exists(os.path.join(out, "data.stream")))
        self.assertFalse(os.path.exists(os.path.join(out, "probes_7.stream")))
        manifest = read(os.path.join(out, ".l5sim.manifest"), "r").split()
        self.assertIn("spikes.h5", manifest)
        self.assertNotIn("replicas", manifest)

    def test_dangling_symlink_and_read_only_out_are_refused_before_building(self):
        link = self.path("dangling")
        os.symlink(self.path("nowhere"), link)
        r = l5sim("run", QUICKSTART, "--out", link, "-q")
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertIn("a symbolic link to", r.stderr)
        self.assertNotIn("building network", r.stderr)
        ok, why = can_mount()
        if not ok:
            self.skipTest(why)
        m = Mount("64k", "ro")
        try:
            self.assertTrue(m.ok, m.why)
            r = l5sim("run", QUICKSTART, "--out", m.dir, "-q")
            self.assertEqual(r.returncode, 2, r.stderr)
            self.assertIn("not writable", r.stderr)
            self.assertNotIn("building network", r.stderr)
        finally:
            m.close()


class Sonata(Base):
    def test_spikes_h5_reads_in_libsonata_as_in_h5py(self):
        try:
            import libsonata
        except ImportError:
            self.skipTest("libsonata is not installed (pip install libsonata)")
        out = self.path("sonata")
        r = l5sim("run", QUICKSTART, "--out", out, "-q", "--set", "simulation.duration_ms=300")
        self.assertEqual(r.returncode, 0, r.stderr)
        path = os.path.join(out, "spikes.h5")
        reader = libsonata.SpikeReader(path)
        self.assertEqual(sorted(reader.get_population_names()), ["PV", "PYR", "SOM"])
        with h5py.File(path, "r") as f:
            for pop in ("PYR", "PV", "SOM"):
                p = reader[pop]
                self.assertEqual(p.sorting, "by_time")
                got = p.get()
                t = f[f"spikes/{pop}/timestamps"][()]
                i = f[f"spikes/{pop}/node_ids"][()]
                self.assertGreater(len(t), 0)
                self.assertEqual(sorted((int(n), float(x)) for n, x in got),
                                 sorted(zip(i.tolist(), t.tolist())))


if __name__ == "__main__":
    unittest.main()
