"""The Python module (python/l5sim, docs/PYTHON.md), as a user drives it: a run from Python is
the run of `l5sim run` (the same files byte for byte, in one piece or in many), set() and
inject() are written into the resolved config so that the CLI reproduces the run, checkpoints
resume bit for bit, Ctrl-C leaves a usable simulation, errors are typed and name what is wrong,
and the output readers agree with the files. Run by ctest with PYTHONPATH=build/python (skipped
where the module was not built)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest

import numpy as np

from l5files import comparable_config, comparable_summary, sha

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", ".."))
L5SIM = os.environ.get("L5SIM_BIN", os.path.join(ROOT, "build", "l5sim"))
CONFIGS = os.path.join(ROOT, "tests", "configs")
SHEET = os.path.join(CONFIGS, "ranks_sheet.yaml")
RING = os.path.join(CONFIGS, "ranks_ring.yaml")
QUICK = os.path.join(ROOT, "configs", "quickstart.yaml")
OUTPUTS = ("spikes.h5", "probes.h5", "weights.h5")

try:
    import l5sim
    from l5sim import _l5sim
    HAVE = True
except ImportError:
    HAVE = False


@unittest.skipUnless(HAVE, "the l5sim Python module was not built (pybind11-dev missing?)")
class Module(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="l5sim_py_")

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def cli(self, *args):
        r = subprocess.run([L5SIM, *map(str, args)], capture_output=True, text=True, timeout=300)
        self.assertEqual(r.returncode, 0, r.stderr)
        return r

    def assert_same_files(self, a, b, summary=True):
        for name in OUTPUTS:
            pa, pb = os.path.join(a, name), os.path.join(b, name)
            self.assertEqual(os.path.exists(pa), os.path.exists(pb), name)
            if os.path.exists(pa):
                self.assertEqual(sha(pa), sha(pb), name)
        if summary:
            self.assertEqual(comparable_summary(os.path.join(a, "summary.json")),
                             comparable_summary(os.path.join(b, "summary.json")))

    def test_a_run_in_pieces_writes_the_cli_runs_files(self):
        """The sheet with STDP, delays, probes, weight snapshots, a schedule and an injection:
        run in one piece, and in pieces cut at arbitrary ms (37.3, 0.1, 50), the files equal
        `l5sim run`'s, and so does the resolved config."""
        cli = os.path.join(self.tmp, "cli")
        self.cli("run", SHEET, "--out", cli, "-q", "--threads", 1)
        for pieces in ([None], [37.3, 0.1, 50, None]):
            with self.subTest(pieces=pieces):
                sim = l5sim.Simulation(l5sim.Config.load(SHEET), backend="cpu", threads=1)
                for ms in pieces:
                    sim.run(ms, progress=False)
                self.assertEqual(sim.step, sim.config.steps)
                out = os.path.join(self.tmp, "py%d" % len(pieces))
                res = sim.write(out)
                self.assert_same_files(cli, out)
                self.assertEqual(comparable_config(os.path.join(cli, "config.resolved.yaml")),
                                 comparable_config(os.path.join(out, "config.resolved.yaml")))
                self.assertEqual(res.rates(), l5sim.open(cli).rates())

    def test_set_and_inject_are_reproduced_by_the_cli(self):
        """set() and inject() between runs become schedule entries and injections of the
        resolved config: `l5sim run` of it makes the same run; and they changed the run."""
        cfg = l5sim.Config.load(SHEET)
        sim = l5sim.Simulation(cfg, backend="cpu", threads=1)
        sim.run(40, progress=False)
        sim.set("populations.PYR.coupling.gamma", 0.1)
        sim.set("projections.PYR_PYR.stdp.eta", 0.5)
        sim.inject("PV", cells=range(10), soma_pA=300)
        sim.run(33.3, progress=False)
        sim.set("PYR.background.dendrite.rate_hz", 900)
        sim.inject("PYR", dendrite_pA=150, stop_ms=120)
        sim.run(progress=False)
        out = os.path.join(self.tmp, "py")
        sim.write(out)
        again = os.path.join(self.tmp, "again")
        self.cli("run", os.path.join(out, "config.resolved.yaml"), "--out", again, "-q")
        self.assert_same_files(out, again)
        plain = os.path.join(self.tmp, "plain")
        self.cli("run", SHEET, "--out", plain, "-q")
        self.assertNotEqual(sha(os.path.join(out, "spikes.h5")),
                            sha(os.path.join(plain, "spikes.h5")))
        y = sim.config.yaml
        self.assertIn("PYR.gamma", y)
        self.assertIn("projections.PYR_PYR.eta", y)
        self.assertIn("start_ms: 40", y)
        self.assertIn("start_ms: 73.3", y)
        # The gamma now in every PYR cell's state is the value set.
        self.assertTrue(np.all(sim.state("PYR", "gamma") == np.float32(0.1)))

    def test_run_beyond_the_duration_extends_it(self):
        cfg = l5sim.Config.load(RING)
        sim = l5sim.Simulation(cfg, backend="cpu")
        self.assertFalse(sim.run(100, progress=False))
        self.assertTrue(sim.run(100, progress=False))  # 150 ms config: now 200 ms
        self.assertEqual(sim.step, 2000)
        self.assertEqual(sim.config.duration_ms, 200)
        out = os.path.join(self.tmp, "py")
        sim.write(out)
        cli = os.path.join(self.tmp, "cli")
        self.cli("run", RING, "--out", cli, "-q", "--set", "simulation.duration_ms=200")
        self.assert_same_files(cli, out)
        # A write before the end writes the time run so far: the CLI reproduces it.
        sim = l5sim.Simulation(cfg, backend="cpu")
        sim.run(61.7, progress=False)
        part = os.path.join(self.tmp, "part")
        res = sim.write(part)
        self.assertAlmostEqual(res.duration_ms, 61.7)
        again = os.path.join(self.tmp, "again")
        self.cli("run", os.path.join(part, "config.resolved.yaml"), "--out", again, "-q")
        self.assert_same_files(part, again)

    def test_checkpoint_and_resume_continue_bit_for_bit(self):
        whole = l5sim.Simulation(l5sim.Config.load(SHEET), backend="cpu")
        whole.run(progress=False)
        a = os.path.join(self.tmp, "whole")
        whole.write(a)
        sim = l5sim.Simulation(l5sim.Config.load(SHEET), backend="cpu")
        sim.run(71.3, progress=False)
        ck = os.path.join(self.tmp, "ck.l5ck")
        sim.checkpoint(ck)
        del sim
        resumed = l5sim.Simulation.resume(ck, backend="cpu")
        self.assertEqual(resumed.step, 713)
        resumed.run(progress=False)
        b = os.path.join(self.tmp, "resumed")
        resumed.write(b)
        self.assert_same_files(a, b)
        # A checkpoint of `l5sim run` (recordings in streams) is refused with the way on.
        cli = os.path.join(self.tmp, "cli")
        r = subprocess.run([L5SIM, "run", SHEET, "--out", cli, "-q", "--set",
                            "simulation.health.max_rate_hz=1"], capture_output=True, text=True)
        self.assertEqual(r.returncode, 3, r.stderr)
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Simulation.resume(os.path.join(cli, "checkpoint.l5ck"))
        self.assertIn("l5sim resume", str(e.exception))

    def test_arrays_are_the_runs(self):
        sim = l5sim.Simulation(l5sim.Config.load(SHEET), backend="cpu")
        sim.run(100.1, progress=False)  # the last weight snapshot (every 50 ms from 0.1 ms)
        snapped = sim.weights("PYR_PYR").weight
        sim.run(49, progress=False)  # the last probe sample (every 1 ms from 0.1 ms)
        probed = sim.state("PYR", "v", [0, 5, 150, 210, 399])
        sim.run(progress=False)
        out = os.path.join(self.tmp, "py")
        res = sim.write(out)
        for pop, n in sim.config.populations.items():
            t, ids = sim.spikes(pop)
            self.assertEqual(t.dtype, np.float64)
            self.assertEqual(ids.dtype, np.uint32)
            self.assertEqual(len(t), sim.spike_counts[pop])
            ft, fids = res.spikes(pop)
            np.testing.assert_array_equal(t, ft)
            np.testing.assert_array_equal(ids, fids)
            v = sim.state(pop, "v")
            self.assertEqual(v.shape, (n,))
            self.assertTrue(np.all(np.isfinite(v)))
        # The state at the last probe sample is the sample.
        p = res.probes("PYR")
        self.assertEqual(p["time_ms"][-1], 149.1)
        np.testing.assert_array_equal(p["node_ids"], [0, 5, 150, 210, 399])
        np.testing.assert_array_equal(p["v"][-1], probed)
        w = sim.weights("PYR_PYR")
        with open(os.path.join(out, "summary.json")) as f:
            synapses = json.load(f)["network"]["synapses"]
        self.assertEqual(sum(len(sim.weights(j).weight) for j in sim.config.projections),
                         synapses)
        self.assertTrue(np.all(np.diff(w.source.astype(np.int64)) >= 0))  # CSR order
        # The last snapshot holds every stride-th synapse (max_synapses: 500) as it was then;
        # STDP has moved the weights since.
        tw, wv = res.weights("PYR_PYR")
        self.assertEqual(tw[-1], 100.1)
        stride = max(1, -(-len(w.weight) // 500))
        np.testing.assert_array_equal(wv[-1], snapped[::stride])
        self.assertFalse(np.array_equal(snapped, w.weight))

    def test_errors_are_typed_and_say_what_is_wrong(self):
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Config.from_dict({"simulation": {"dt_ms": 0.1, "duration_ms": 10},
                                    "populations": {"PYR": {"n": 10, "gama": 1}}})
        self.assertIn("populations.PYR.gama", str(e.exception))
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Config.load(os.path.join(self.tmp, "missing.yaml"))
        self.assertIn("missing.yaml", str(e.exception))
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Config.load(RING, set={"populations.PYR.n": -3})
        self.assertIn("populations.PYR.n", str(e.exception))
        self.assertTrue(issubclass(l5sim.ConfigError, ValueError))
        sim = l5sim.Simulation(RING, backend="cpu")
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.state("PV", "v_d")
        self.assertIn("it has v, u", str(e.exception))
        with self.assertRaises(l5sim.ConfigError):
            sim.weights("nope")
        with self.assertRaises(l5sim.ConfigError):
            sim.spikes("nope")
        with self.assertRaises(l5sim.ConfigError):
            sim.set("PYR.nonsense", 1)
        with self.assertRaises(l5sim.ConfigError):
            sim.set("PYR.gamma", 3)  # gamma is a probability
        self.assertEqual(sim.step, 0)
        with self.assertRaises(l5sim.ConfigError):
            l5sim.Simulation(RING, backend="gpu")
        # A health stop: typed, with what and where; the simulation goes on when told to.
        sim = l5sim.Simulation(l5sim.Config.load(SHEET, set={"simulation.health.max_rate_hz": 1}),
                               backend="cpu")
        with self.assertRaises(l5sim.HealthError) as e:
            sim.run(progress=False)
        h = e.exception
        self.assertIsInstance(h, l5sim.RunError)
        self.assertIn(h.population, ("PYR", "PV", "SOM"))
        self.assertEqual(h.variable, "rate_hz")
        self.assertEqual(h.cell, -1)
        self.assertEqual(h.step, sim.step)
        sim.health_checks = False
        self.assertTrue(sim.run(progress=False))

    def test_ctrl_c_stops_at_a_step_and_leaves_a_usable_simulation(self):
        """SIGINT while run() steps: KeyboardInterrupt at a step boundary; run() then goes on to
        the files of the uninterrupted run."""
        cli = os.path.join(self.tmp, "cli")
        sets = ["--set", "simulation.duration_ms=30000"]
        self.cli("run", QUICK, "--out", cli, "-q", *sets)
        out = os.path.join(self.tmp, "py")
        script = textwrap.dedent(f"""
            import sys, l5sim
            sim = l5sim.Simulation(l5sim.Config.load({QUICK!r},
                                   set={{"simulation.duration_ms": 30000}}), backend="cpu")
            print("started", flush=True)
            try:
                sim.run(40000, progress=False)  # past the duration: extends it while it runs
                print("not interrupted", flush=True)
            except KeyboardInterrupt:
                print("interrupted at", sim.step, flush=True)
            print("duration", sim.config.duration_ms, flush=True)
            sim.run(progress=False)
            sim.write({out!r})
            print("done", sim.step, flush=True)
        """)
        env = dict(os.environ)
        p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, env=env)
        self.assertEqual(p.stdout.readline().strip(), "started")
        time.sleep(0.5)
        p.send_signal(signal.SIGINT)
        out_text, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        lines = out_text.split("\n")
        self.assertTrue(lines[0].startswith("interrupted at"), out_text)
        stopped = int(lines[0].split()[-1])
        self.assertTrue(0 < stopped < 300000, out_text)
        self.assertIn("duration 30000", out_text)  # back to the config's
        self.assertIn("done 300000", out_text)
        self.assert_same_files(cli, out)

    def test_a_sweep_from_python_is_the_clis(self):
        with open(RING) as f:
            text = f.read()
        path = os.path.join(self.tmp, "sweep.yaml")
        with open(path, "w") as f:
            f.write(text + "sweep:\n  trials: 2\n  grid:\n    populations.PYR.coupling.gamma: "
                    "[0, 1]\n")
        cli = os.path.join(self.tmp, "cli")
        self.cli("run", path, "--out", cli, "-q")
        res = l5sim.run_sweep(path, os.path.join(self.tmp, "py"), threads=2)
        self.assertIsInstance(res, l5sim.SweepResults)
        for k in range(4):
            for name in ("spikes.h5", "probes.h5"):
                a = os.path.join(cli, "replicas", "r%05d" % k, name)
                b = os.path.join(res.path, "replicas", "r%05d" % k, name)
                self.assertEqual(sha(a), sha(b))
        table = res.table()
        self.assertEqual(len(table), 4)
        gam = np.asarray(table["populations.PYR.coupling.gamma"], dtype=float)
        np.testing.assert_array_equal(gam, [0, 0, 1, 1])
        rates = np.asarray(table["PYR.rate_hz"], dtype=float)
        for k in range(4):
            self.assertAlmostEqual(rates[k], res.replica(k).rates()["PYR"])
        with self.assertRaises(l5sim.ConfigError):
            l5sim.run_sweep(RING, os.path.join(self.tmp, "nosweep"))

    def test_results_readers_and_plots(self):
        import matplotlib
        matplotlib.use("Agg")
        cli = os.path.join(self.tmp, "cli")
        self.cli("run", SHEET, "--out", cli, "-q")
        res = l5sim.open(cli)
        self.assertIsInstance(res, l5sim.Run)
        self.assertEqual(res.duration_ms, 150)
        # Rates from the spikes over the whole run equal summary.json's.
        for pop, rate in res.rates().items():
            self.assertAlmostEqual(float(res.cell_rates(pop).mean()), rate, places=9)
        part = res.rates(50, 100)
        t, ids = res.spikes("PYR")
        expect = np.sum((t >= 50) & (t < 100)) / (400 * 0.05)
        self.assertAlmostEqual(part["PYR"], expect)
        ax = res.raster()
        self.assertEqual(len(ax.get_yticklabels()), 3)
        with self.assertRaises(FileNotFoundError):
            l5sim.open(os.path.join(self.tmp, "none"))

    def test_the_analysis_works_without_the_compiled_module(self):
        code = textwrap.dedent(f"""
            import sys
            sys.path.insert(0, {os.path.join(ROOT, "python")!r})
            import l5sim
            print(l5sim.analysis.gain([0, 100, 200], [0, 5, 15]))
            try:
                l5sim.Simulation
            except ImportError as e:
                print("hint:", e)
        """)
        r = subprocess.run([sys.executable, "-c", code],
                           capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("0.075", r.stdout)
        self.assertIn("scripts/build.sh", r.stdout)

    def test_arguments_as_a_numpy_user_gives_them(self):
        """NumPy values in configs, overrides, knobs and grids; boolean masks and integer arrays
        as cells; pieces that are not whole steps add up in ms."""
        cfg = l5sim.Config.load(RING, set={"populations.PYR.coupling.gamma": np.float64(0.5),
                                           "recording.spikes": np.bool_(True),
                                           "simulation.seed": np.int64(3)})
        self.assertIn("gamma: 0.5", cfg.yaml)
        d = l5sim.Config.from_dict({"simulation": {"dt_ms": 0.1, "duration_ms": np.float64(10)},
                                    "populations": {"PYR": {"n": np.int32(10)}}})
        self.assertEqual(d.steps, 100)
        sim = l5sim.Simulation(cfg, backend="cpu")
        for _ in range(120):
            sim.run(0.25, progress=False)
        self.assertEqual(sim.step, 300)
        # The sum of the pieces survives a checkpoint: 0.25 ms pieces at dt 0.1 ms stop at
        # 2.5 steps on average also after a resume in the middle of a half step (a resume that
        # counted from the checkpoint's step, 0.3 ms, would reach 6.05 ms = 61 steps below).
        half = l5sim.Simulation(cfg, backend="cpu")
        half.run(0.25, progress=False)  # 2.5 steps, rounded to 3: 0.05 ms ahead of the sum
        self.assertEqual(half.step, 3)
        ck = os.path.join(self.tmp, "pieces.l5ck")
        half.checkpoint(ck)
        again = l5sim.Simulation.resume(ck, backend="cpu")
        for _ in range(23):
            again.run(0.25, progress=False)
        self.assertEqual(again.step, 60)  # 24 pieces of 0.25 ms = 6 ms = 60 steps
        # A run_ms that does not end at the checkpoint's step (an edited header with its CRC
        # made good again) is refused, not silently replaced.
        import struct
        import zlib
        data = bytearray(open(ck, "rb").read())
        at = data.find(b'"run_ms":0.25')
        self.assertGreater(at, 0)
        for bad in (b'"run_ms":1.75', b'"run_ms":-0.7', b'"run_ms":"xx"'):
            edited = bytearray(data)
            edited[at:at + 13] = bad.ljust(13)
            before = struct.unpack("<Q", bytes(edited[-16:-8]))[0]
            edited[-8:-4] = struct.pack("<I", zlib.crc32(bytes(edited[:before])) & 0xffffffff)
            path = os.path.join(self.tmp, "edited.l5ck")
            with open(path, "wb") as f:
                f.write(edited)
            with self.assertRaises((l5sim.ConfigError, l5sim.RunError)) as e:
                l5sim.Simulation.resume(path, backend="cpu")
            self.assertIn("run_ms", str(e.exception))
        mask = np.zeros(cfg.populations["PYR"], bool)
        mask[[10, 20]] = True
        np.testing.assert_array_equal(sim.state("PYR", "v", mask),
                                      sim.state("PYR", "v", np.array([10, 20])))
        for bad in ([1.5], [[1, 2]]):
            with self.assertRaises(l5sim.ConfigError):
                sim.state("PYR", "v", bad)
        sim.set("PYR.gamma", np.float32(0.25), cells=np.arange(5))
        sim.inject("PYR", cells=np.arange(3), soma_pA=np.float64(10))
        for bad in (True, "0.3"):
            with self.assertRaises(l5sim.ConfigError):
                sim.set("PYR.gamma", bad)
        sim.run(10, progress=False)
        g = sim.state("PYR", "gamma")
        self.assertTrue(np.all(g[:5] == np.float32(0.25)) and np.all(g[5:] == np.float32(0.5)))
        with self.assertRaises(l5sim.ConfigError):
            l5sim.Config.from_dict({"populations": {"PYR": {"n": 10 ** 30}}})
        # A grid from np.linspace.
        sweep = {"simulation": {"dt_ms": 0.1, "duration_ms": 20, "seed": 1},
                 "populations": {"PYR": {"n": 5}},
                 "injections": [{"population": "PYR", "amplitude_pA": 0}],
                 "sweep": {"trials": 1,
                           "grid": {"injections.0.amplitude_pA": list(np.linspace(0, 600, 3))}}}
        res = l5sim.run_sweep(sweep, os.path.join(self.tmp, "grid"))
        self.assertEqual(res.values("injections.0.amplitude_pA"), [0, 300, 600])

    def test_one_call_at_a_time(self):
        """A call from another thread while run() steps is refused (not a crash or a race)."""
        import threading
        sim = l5sim.Simulation(l5sim.Config.load(QUICK, set={"simulation.duration_ms": 20000}),
                               backend="cpu", threads=1)
        th = threading.Thread(target=lambda: sim.run(progress=False))
        th.start()
        time.sleep(0.2)
        refused = 0
        for call in (lambda: sim.set("PYR.gamma", 0.3), lambda: sim.state("PYR", "v"),
                     lambda: sim.run(10), lambda: sim.inject("PYR", soma_pA=1)):
            try:
                call()
            except l5sim.RunError as e:
                self.assertIn("running", str(e))
                refused += 1
        th.join()
        self.assertEqual(refused, 4)
        self.assertEqual(sim.step, 200000)

    def test_health_checks_off_is_recorded_and_replayed(self):
        cfg = l5sim.Config.load(RING, set={"simulation.health.max_rate_hz": 5,
                                           "simulation.health.check_every_ms": 10})
        sim = l5sim.Simulation(cfg, backend="cpu")
        with self.assertRaises(l5sim.HealthError):
            sim.run(progress=False)
        sim.health_checks = False
        self.assertIn("max_rate_hz: 0", sim.config.yaml)
        ck = os.path.join(self.tmp, "off.l5ck")
        sim.checkpoint(ck)
        sim.run(progress=False)
        out = os.path.join(self.tmp, "py")
        sim.write(out)
        again = os.path.join(self.tmp, "again")
        self.cli("run", os.path.join(out, "config.resolved.yaml"), "--out", again, "-q")
        self.assert_same_files(out, again, summary=False)
        resumed = l5sim.Simulation.resume(ck, backend="cpu")
        self.assertTrue(resumed.run(progress=False))  # goes on as the original did
        sim.health_checks = True
        self.assertIn("max_rate_hz: 5", sim.config.yaml)

    def test_messages_speak_python(self):
        sim = l5sim.Simulation(RING, backend="cpu")
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.write(os.path.join(self.tmp, "w0"))
        self.assertIn("nothing has run yet", str(e.exception))
        self.assertFalse(os.path.exists(os.path.join(self.tmp, "w0")))
        sim.run(12.3, progress=False)
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.checkpoint(self.tmp)
        self.assertFalse(os.path.exists(self.tmp + ".part"))
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Simulation.resume(self.tmp)
        self.assertIn("directory", str(e.exception))
        with self.assertRaises(TypeError):
            l5sim.Simulation(None)
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.set("PYR.background.dendrite.rate_hz", 5, cells=[1])
        self.assertIn("gamma knobs only", str(e.exception))
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.inject("PYR", soma_pA=1, stop_ms=5)
        self.assertIn("not after now (12.3 ms)", str(e.exception))
        with self.assertRaises(l5sim.ConfigError):
            sim.run(float("inf"))
        with self.assertRaises(l5sim.ConfigError):
            sim.run(-1)
        with self.assertRaises(l5sim.ConfigError):
            l5sim.Simulation(RING, threads=-1)
        full = os.path.join(self.tmp, "full")
        os.makedirs(full)
        open(os.path.join(full, "x"), "w").close()
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.write(full)
        self.assertIn("force=True", str(e.exception))
        self.assertNotIn("--force", str(e.exception))
        with self.assertRaises(l5sim.ConfigError) as e:
            l5sim.Config.load(os.path.join(ROOT, "configs", "paper", "t3_coupling.yaml"))
        self.assertIn("l5sim.run_sweep", str(e.exception))
        import pathlib
        self.assertEqual(l5sim.Config.load(pathlib.Path(RING)).steps, 1500)

    def test_an_injection_named_like_the_modules_own(self):
        with open(RING) as f:
            text = f.read()
        path = os.path.join(self.tmp, "named.yaml")
        with open(path, "w") as f:
            f.write(text.replace("injections:\n  - {", "injections:\n  - {name: python1, ")
                    if "injections:" in text else
                    text + "injections:\n  - {name: python1, population: PYR, amplitude_pA: 1}\n")
        sim = l5sim.Simulation(path, backend="cpu")
        sim.run(5, progress=False)
        sim.inject("PYR", soma_pA=10)
        sim.inject("PYR", soma_pA=20)
        self.assertEqual(sim.config.yaml.count("name: python"), 3)

    def test_a_sweep_stops_on_ctrl_c(self):
        with open(RING) as f:
            text = f.read()
        path = os.path.join(self.tmp, "long.yaml")
        with open(path, "w") as f:
            f.write(text.replace("duration_ms: 150", "duration_ms: 1500") +
                    "sweep:\n  trials: 60\n")
        out = os.path.join(self.tmp, "sw")
        script = textwrap.dedent(f"""
            import os, l5sim
            print("started", flush=True)
            try:
                l5sim.run_sweep({path!r}, {out!r}, threads=1)
                print("not interrupted", flush=True)
            except KeyboardInterrupt:
                print("interrupted", len(os.listdir(os.path.join({out!r}, "replicas"))),
                      flush=True)
        """)
        p = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        self.assertEqual(p.stdout.readline().strip(), "started")
        time.sleep(1.0)
        p.send_signal(signal.SIGINT)
        text_out, err = p.communicate(timeout=300)
        self.assertEqual(p.returncode, 0, err)
        self.assertTrue(text_out.startswith("interrupted"), text_out + err)
        self.assertLess(int(text_out.split()[1]), 60)
        self.assertFalse(os.path.exists(os.path.join(out, "summary.json")))

    def test_streamed_recordings_keep_memory_flat_and_write_the_clis_files(self):
        """A long run in pieces: with stream=DIR the resident memory stays flat (the records go
        to DIR's streams), while kept in memory it grows with the probes; the streamed
        simulation's spikes() and files equal the in-memory ones and `l5sim run`'s."""
        def rss_mib():
            with open("/proc/self/status") as f:
                for line in f:
                    if line.startswith("VmRSS"):
                        return int(line.split()[1]) / 1024.0
        growth = {}
        for stream in (None, os.path.join(self.tmp, "streamed")):
            cfg = l5sim.Config.load(QUICK, set={"simulation.duration_ms": 30000,
                                                "recording.probes.0.every_steps": 1})
            sim = l5sim.Simulation(cfg, backend="cpu", threads=1, stream=stream)
            sim.run(2000, progress=False)
            before = rss_mib()
            for _ in range(28):
                sim.run(1000, progress=False)
            growth[stream is not None] = rss_mib() - before
            if stream:
                sim.close()
            del sim
        self.assertGreater(growth[False], 10.0, growth)  # 3 variables x 200 cells every step
        self.assertLess(growth[True], 2.0, growth)
        # Files and arrays of a streamed simulation (the sheet, in pieces) are the CLI's.
        cli = os.path.join(self.tmp, "cli")
        self.cli("run", SHEET, "--out", cli, "-q")
        out = os.path.join(self.tmp, "stream2")
        with l5sim.Simulation(SHEET, backend="cpu", stream=out) as sim:
            self.assertEqual(sim.stream_dir, out)
            sim.run(61.7, progress=False)
            t, ids = sim.spikes("PYR")
            self.assertTrue(len(t) > 0 and t[-1] < 61.7)
            # Read from the stream into buffers the arrays own (no second copy), contiguous.
            for a in (t, ids):
                self.assertFalse(a.flags.owndata)
                self.assertTrue(a.flags.c_contiguous and a.strides == (a.itemsize,))
            self.assertTrue(np.all(np.diff(t) >= 0) and len(np.unique(t)) > 1)
            sim.run(progress=False)
            res = sim.write()
            ft, fids = res.spikes("PYR")
            np.testing.assert_array_equal(sim.spikes("PYR")[0], ft)
            with self.assertRaises(l5sim.ConfigError):
                sim.write(os.path.join(self.tmp, "elsewhere"))
        self.assert_same_files(cli, out)
        self.assertFalse([f for f in os.listdir(out) if f.endswith(".stream")])
        # A streaming simulation checkpointed, run on, then lost (no close): resumed from the
        # checkpoint with its stream directory (the streams cut back to it), it writes the same
        # files.
        lost = os.path.join(self.tmp, "lost")
        ck = os.path.join(self.tmp, "streamed.l5ck")
        gone = l5sim.Simulation(SHEET, backend="cpu", stream=lost)
        gone.run(61.7, progress=False)
        gone.checkpoint(ck)
        gone.run(40, progress=False)
        del gone
        with self.assertRaises(l5sim.ConfigError):
            l5sim.Simulation.resume(ck)  # where are its streams?
        with l5sim.Simulation.resume(ck, backend="cpu", stream=lost) as again:
            self.assertEqual(again.step, 617)
            again.run(progress=False)
            again.write()
        self.assert_same_files(cli, lost)
        with self.assertRaises(l5sim.RunError):
            sim.run(10)
        with self.assertRaises(l5sim.ConfigError):  # a directory in use by another run
            l5sim.Simulation(SHEET, stream=cli)

    def test_a_run_stopped_by_an_exception_stays_consistent(self):
        """A health stop or an exception of the progress callback mid-run: the spikes so far
        are in the records (spikes() = spike_counts; write() replays with the CLI), the next
        run(ms) counts from the step reached."""
        cfg = l5sim.Config.load(SHEET, set={"simulation.health.max_rate_hz": 5,
                                            "simulation.health.check_every_ms": 10})
        sim = l5sim.Simulation(cfg, backend="cpu")
        with self.assertRaises(l5sim.HealthError):
            sim.run(70, progress=False)
        stopped = sim.step
        self.assertEqual(len(sim.spikes("PYR")[0]), sim.spike_counts["PYR"])
        sim.health_checks = False
        sim.run(20, progress=False)
        self.assertEqual(sim.step, stopped + 200)
        out = os.path.join(self.tmp, "py")
        sim.write(out)
        again = os.path.join(self.tmp, "again")
        self.cli("run", os.path.join(out, "config.resolved.yaml"), "--out", again, "-q")
        self.assert_same_files(out, again, summary=False)

        class Stop(Exception):
            pass

        def stop(done, total):
            raise Stop()
        sim = l5sim.Simulation(l5sim.Config.load(QUICK, set={"simulation.duration_ms": 4000}),
                               backend="cpu", threads=1)
        with self.assertRaises(Stop):
            sim.run(3000, progress=stop)
        self.assertEqual(sim.config.duration_ms, 4000)
        self.assertEqual(len(sim.spikes("PYR")[0]), sim.spike_counts["PYR"])
        at = sim.step
        sim.run(1, progress=False)
        self.assertEqual(sim.step, at + 10)

    def test_health_checks_off_survive_checkpoint_and_resume(self):
        cfg = l5sim.Config.load(SHEET, set={"simulation.health.max_rate_hz": 5,
                                            "simulation.health.check_every_ms": 10})
        sim = l5sim.Simulation(cfg, backend="cpu")
        sim.health_checks = False
        sim.run(20, progress=False)
        ck = os.path.join(self.tmp, "off.l5ck")
        sim.checkpoint(ck)
        resumed = l5sim.Simulation.resume(ck, backend="cpu")
        self.assertFalse(resumed.health_checks)
        resumed.health_checks = True
        self.assertIn("max_rate_hz: 5", resumed.config.yaml)
        with self.assertRaises(l5sim.HealthError):
            resumed.run(60, progress=False)

    def test_streams_survive_an_exception_and_a_change_of_directory(self):
        cfg = l5sim.Config.load(SHEET, set={"simulation.health.max_rate_hz": 5,
                                            "simulation.health.check_every_ms": 10})
        out = os.path.join(self.tmp, "kept")
        with self.assertRaises(l5sim.HealthError):
            with l5sim.Simulation(cfg, backend="cpu", stream=out) as sim:
                sim.run(progress=False)
        self.assertTrue([f for f in os.listdir(out) if f.endswith(".stream")])
        here = os.getcwd()
        try:
            os.chdir(self.tmp)
            sim = l5sim.Simulation(SHEET, backend="cpu", stream="relative")
            sim.run(20, progress=False)
            os.chdir(here)
            self.assertEqual(len(sim.spikes("PYR")[0]), sim.spike_counts["PYR"])
            res = sim.write()
            self.assertEqual(os.path.realpath(res.path),
                             os.path.realpath(os.path.join(self.tmp, "relative")))
            sim.close()
        finally:
            os.chdir(here)
        with self.assertRaises(l5sim.RunError):
            sim.spikes("PYR")
        with self.assertRaises(l5sim.RunError):
            sim.checkpoint(os.path.join(self.tmp, "closed.l5ck"))

    def test_injections_by_index_and_name_and_clean_messages(self):
        sim = l5sim.Simulation(SHEET, backend="cpu")
        sim.run(5, progress=False)
        sim.set("injections.0.amplitude_pA", 123)
        self.assertIn("knob: injections.kick.amplitude_pA", sim.config.yaml)
        names = sim.inject("PYR", cells=[1, 2], soma_pA=10)
        self.assertEqual(len(names), 1)
        sim.set("injections.%s.amplitude_pA" % names[0], 20)
        with self.assertRaises(l5sim.ConfigError) as e:
            sim.inject("PV", dendrite_pA=100)
        self.assertRegex(str(e.exception), r"^the running config \(after set, inject or run\): ")
        d = {}
        d["a"] = d
        with self.assertRaises(l5sim.ConfigError):
            l5sim.Config.from_dict(d)

    def test_progress_reports_the_steps_of_the_call(self):
        calls = []
        sim = l5sim.Simulation(RING, backend="cpu")
        sim.run(20, progress=False)
        sim.run(100, progress=lambda done, total: calls.append((done, total)))
        self.assertEqual(calls[-1], (1000, 1000))
        self.assertTrue(all(b[0] >= a[0] for a, b in zip(calls, calls[1:])))
        self.assertTrue(all(t == 1000 for _, t in calls))

    def test_type_stubs_cover_the_api(self):
        """python/l5sim/*.pyi parse, and name every public member of the compiled classes and
        of l5sim.Simulation."""
        import ast
        pkg = os.path.dirname(l5sim.__file__)
        stubs = {}
        for name in ("_l5sim.pyi", "simulation.pyi"):
            with open(os.path.join(pkg, name)) as f:
                tree = ast.parse(f.read())
            for node in tree.body:
                if isinstance(node, ast.ClassDef):
                    members = stubs.setdefault((name, node.name), set())
                    for b in node.body:
                        if isinstance(b, ast.FunctionDef):
                            members.add(b.name)
                        elif isinstance(b, ast.AnnAssign):
                            members.add(b.target.id)
        for stub, cls in ((("_l5sim.pyi", "Simulation"), _l5sim.Simulation),
                          (("_l5sim.pyi", "Config"), _l5sim.Config),
                          (("simulation.pyi", "Simulation"), l5sim.Simulation)):
            public = {m for m in dir(cls) if not m.startswith("_")}
            self.assertEqual(public - stubs[stub], set(), stub)

    def test_version_and_docstrings(self):
        self.assertRegex(l5sim.__version__, r"^\d+\.\d+\.\d+$")
        self.assertTrue(l5sim.git_hash)
        for name in ("Simulation", "Config", "run_sweep", "open", "Run", "SweepResults"):
            self.assertTrue(getattr(l5sim, name).__doc__, name)
        for name in ("run", "spikes", "state", "weights", "set", "inject", "checkpoint", "write",
                     "resume"):
            self.assertTrue(getattr(l5sim.Simulation, name).__doc__, name)


if __name__ == "__main__":
    unittest.main()
