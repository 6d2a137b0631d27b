"""scripts/plot.py's statistics against hand-computed values, its episode search on made-up
traces, and scripts/reproduce.py's verdicts (a finding holds only when its 95 % CI excludes
zero); plot.py on bad inputs (one message naming the file, exit 2, no traceback); and plot.py
end to end on a short l5sim run (env L5SIM_BIN, set by ctest)."""
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import h5py
import numpy as np

SCRIPTS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts")
sys.path.insert(0, SCRIPTS)
import plot as P  # noqa: E402
import reproduce as R  # noqa: E402

L5SIM = os.environ.get("L5SIM_BIN", os.path.join(SCRIPTS, "..", "build", "l5sim"))


class SpikeStatistics(unittest.TestCase):
    def test_burst_flags(self):
        # Cell 0: 0, 5, 30 ms (the first two 5 ms apart: a burst); cell 1: 2, 11.9, 40
        # (9.9 ms: a burst); cell 2: 7, 17 (exactly 10 ms: not < 10, no burst). Given out of order.
        t = np.array([30.0, 2.0, 0.0, 11.9, 7.0, 5.0, 40.0, 17.0])
        i = np.array([0, 1, 0, 1, 2, 0, 1, 2])
        f = P.burst_flags(t, i)
        expected = {(0, 0.0): 1, (0, 5.0): 1, (0, 30.0): 0, (1, 2.0): 1, (1, 11.9): 1,
                    (1, 40.0): 0, (2, 7.0): 0, (2, 17.0): 0}
        for k in range(t.size):
            self.assertEqual(bool(f[k]), bool(expected[(i[k], t[k])]), (i[k], t[k]))

    def test_mean_cv(self):
        # Cell 0: ISIs 10, 30 (mean 20, sd 10: CV 0.5); cell 1: ISIs 5, 5, 5 (CV 0); cell 2 has
        # two spikes only (one ISI): left out. Mean CV 0.25.
        t = np.array([0, 10, 40, 0, 5, 10, 15, 3, 9], float)
        i = np.array([0, 0, 0, 1, 1, 1, 1, 2, 2])
        self.assertAlmostEqual(P.mean_cv(t, i), 0.25)
        self.assertTrue(math.isnan(P.mean_cv(np.array([1.0, 2.0]), np.array([0, 0]))))

    def test_schedule_windows_and_epochs(self):
        resolved = {"schedule": [
            {"knob": "projections.SOM_PYR.gain", "op": "set", "value": 0, "start_ms": 1000,
             "stop_ms": -1},
            {"knob": "PYR.gamma", "op": "add", "value": 0.25, "start_ms": 200, "stop_ms": 300,
             "cells": [1, 2]},
            {"knob": "PYR.gamma", "op": "set", "value": 1, "start_ms": 5000, "stop_ms": 6000}]}
        w = P.schedule_windows(resolved, 2000.0)
        self.assertEqual(w, [(1000.0, 2000.0, "projections.SOM_PYR.gain = 0"),
                             (200.0, 300.0, "PYR.gamma += 0.25 (some cells)")])
        e = P.epochs(w, 2000.0)
        self.assertEqual([(a, b) for a, b, _ in e],
                         [(0.0, 200.0), (200.0, 300.0), (300.0, 1000.0), (1000.0, 2000.0)])
        self.assertEqual(e[0][2], "no window open")
        self.assertEqual(e[1][2], "PYR.gamma += 0.25 (some cells)")
        self.assertEqual(e[3][2], "projections.SOM_PYR.gain = 0")

    def test_injection_windows(self):
        # A step injection from 1000 ms is a window; a constant one is not; a pulse train's
        # on-time (start..stop) is.
        resolved = {"injections": [
            {"name": "top_down", "population": "VIP", "compartment": "soma", "kind": "step",
             "amplitude_pA": 30, "start_ms": 1000, "stop_ms": -1},
            {"name": "bias", "population": "PYR", "kind": "constant", "amplitude_pA": 5},
            {"name": "p", "population": "PYR", "compartment": "dendrite", "kind": "pulse_train",
             "amplitude_pA": 200, "start_ms": 100, "stop_ms": 300}]}
        w = P.schedule_windows(resolved, 2000.0)
        self.assertEqual(w, [(1000.0, 2000.0, "injection top_down: 30 pA into VIP soma"),
                             (100.0, 300.0, "injection p: 200 pA pulses into PYR dendrite")])

    def test_colours_by_type(self):
        # Two pyramidal populations share the type's colour, the second lighter; PV, SOM and VIP
        # keep theirs; an unknown type gets one of the others.
        c = P.colour_map(["E1", "E2", "I", "S", "V", "X"],
                         {"E1": "pyramidal", "E2": "pyramidal", "I": "pv", "S": "som",
                          "V": "vip", "X": "newtype"})
        self.assertEqual(c["E1"], "#1f5fa8")
        self.assertEqual(c["E2"], P.lighter("#1f5fa8", 1))
        self.assertNotEqual(c["E2"], c["E1"])
        self.assertEqual((c["I"], c["S"], c["V"]), ("#d62728", "#2ca02c", "#9467bd"))
        self.assertEqual(c["X"], P.OTHER_COLOURS[0])
        self.assertEqual(P.lighter("#000000", 2), "#999999")  # 60 % of the way to white
        self.assertEqual(P.lighter("#102030", 5), P.lighter("#102030", 2))  # never paler

    def test_every_registered_type_has_a_colour(self):
        # The registry as the binary prints it (l5sim info --cell-types: first table).
        out = subprocess.run([L5SIM, "info", "--cell-types"], capture_output=True, text=True,
                             check=True).stdout
        types = [line.split("`")[1] for line in out.splitlines()
                 if line.startswith("| `") and "|" in line[3:] and line.count("`") == 2 and
                 not line.startswith("| `soma") and "." not in line.split("`")[1]]
        self.assertIn("pyramidal", types)
        for t in types:
            self.assertIn(t, P.TYPE_COLOURS, t)

    def test_every_probe_variable_has_a_label(self):
        # The probe variables as the binary prints them (l5sim info --state-vars: first table).
        out = subprocess.run([L5SIM, "info", "--state-vars"], capture_output=True, text=True,
                             check=True).stdout
        probes = out.split("Initial values")[0]
        names = [line.split("`")[1] for line in probes.splitlines() if line.startswith("| `")]
        self.assertIn("burst_mode", names)
        for n in names:
            self.assertIn(n, P.VAR_LABELS, n)

    def test_plateau_episodes(self):
        # One cell, dt = 0.1 ms, 100 ms. Spike at 10 ms with v_d below theta, then v_d over
        # theta 2 ms later (a BAP-triggered plateau); in it, a spike in burst mode at 40 ms
        # and the next at 46 ms (a burst).
        t = np.arange(1000) * 0.1 + 0.1
        v = np.full((1000, 1), -70.0)
        v_d = np.full((1000, 1), -60.0)
        mode = np.zeros((1000, 1))
        for ms in (10.0, 40.0, 46.0):
            v[int(round(ms / 0.1)) - 1, 0] = 55.0
        v_d[120:700, 0] = -20.0
        mode[120:700, 0] = 1.0
        bap, burst = P.plateau_episodes(t, v, v_d, mode, 50.0, -30.0)
        self.assertEqual(bap, (0, 99))
        self.assertEqual(burst, (0, 399))
        # Without the dendrite crossing theta there is neither.
        bap, burst = P.plateau_episodes(t, v, np.full((1000, 1), -60.0), mode, 50.0, -30.0)
        self.assertIsNone(bap)
        self.assertIsNone(burst)


class OnePlaceForTheAnalysis(unittest.TestCase):
    def test_plot_and_reproduce_use_the_packages_readers_and_statistics(self):
        import l5sim.analysis as A
        for name in ("burst_flags", "mean_cv", "read_all_spikes", "read_probe_groups",
                     "read_weight_groups", "read_summary", "read_resolved_config", "rates"):
            self.assertIs(getattr(P, name), getattr(A, name), name)
        for own in ("open_h5", "read_spikes", "read_resolved"):  # plot.py's former readers
            self.assertFalse(hasattr(P, own), own)
        self.assertIs(R.A, A)


class BadInputs(unittest.TestCase):
    """plot.py on broken output directories: exit 2 and one line on stderr that names the file
    and what is wrong, no traceback."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="l5sim_plot_bad_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def plot(self, *args):
        return subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot.py"), *args],
                              capture_output=True, text=True)

    def assert_error(self, outdir, *words):
        r = self.plot(outdir, "--figdir", os.path.join(self.dir, "figs"))
        self.assertEqual(r.returncode, 2, r.stderr)
        self.assertNotIn("Traceback", r.stderr)
        self.assertEqual(r.stdout, "")
        self.assertTrue(r.stderr.startswith("plot.py: error: "), r.stderr)
        for w in words:
            self.assertIn(w, r.stderr)

    def make(self, name, spikes=True):
        """A run directory with summary.json and (spikes) a valid spikes.h5."""
        d = os.path.join(self.dir, name)
        os.makedirs(d)
        with open(os.path.join(d, "summary.json"), "w") as f:
            json.dump({"populations": {"PYR": {"n": 2}}, "timing": {"bio_s": 0.1}}, f)
        if spikes:
            with h5py.File(os.path.join(d, "spikes.h5"), "w") as f:
                f["spikes/PYR/timestamps"] = [1.0, 3.0, 50.0]
                f["spikes/PYR/node_ids"] = [0, 0, 1]
        return d

    def test_each_problem_gets_its_message(self):
        self.assert_error(os.path.join(self.dir, "none"), "none: no such output directory")
        d = self.make("nospikes", spikes=False)
        self.assert_error(d, os.path.join(d, "spikes.h5") + ": no such file",
                          "was the run made with recording.spikes: false?")
        open(os.path.join(d, "spikes.h5.part"), "w").close()
        self.assert_error(d, "an interrupted run leaves spikes.h5.part")
        with open(os.path.join(d, "spikes.h5"), "w") as f:
            f.write("text")
        self.assert_error(d, os.path.join(d, "spikes.h5") + ": cannot read it as HDF5")
        d = self.make("badjson")
        with open(os.path.join(d, "summary.json"), "w") as f:
            f.write("{")
        self.assert_error(d, os.path.join(d, "summary.json") + ": cannot parse it as JSON")
        d = self.make("badyaml")
        with open(os.path.join(d, "config.resolved.yaml"), "w") as f:
            f.write("a: [\n")
        self.assert_error(d, os.path.join(d, "config.resolved.yaml") + ": cannot parse")
        d = self.make("probes")
        with h5py.File(os.path.join(d, "probes.h5"), "w") as f:
            f["elsewhere/v"] = [1.0]
        self.assert_error(d, os.path.join(d, "probes.h5") + ": no /probes group")
        d = self.make("weights")
        with h5py.File(os.path.join(d, "weights.h5"), "w") as f:
            f["weights/PYR_PYR/w"] = [[1.0]]
        self.assert_error(d, os.path.join(d, "weights.h5") + ": /weights/PYR_PYR lacks time_ms")

    def test_a_good_directory_without_summary(self):
        # summary.json is optional: sizes from the ids, the duration from the last spike.
        d = self.make("good")
        os.remove(os.path.join(d, "summary.json"))
        r = self.plot(d)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("PYR:        2 cells         3 spikes", r.stdout)
        self.assertIn("burst fraction", r.stdout)  # without a summary, taken as pyramidal
        for f in ("raster.png", "rates.png"):
            self.assertTrue(os.path.getsize(os.path.join(d, f)) > 10000, f)


class Verdicts(unittest.TestCase):
    def test_welch_effect_by_hand(self):
        # a = 1, 2, 3; b = 4, 6, 8: d = 4, se^2 = 1/3 + 4/3, Welch-Satterthwaite df = 50/17 = 2.94
        # -> 2 (rounded down), t = 4.303: CI 4.303 sqrt(5/3) = 5.555, which includes zero.
        d, ci, z = R.effect([1, 2, 3], [4, 6, 8])
        self.assertAlmostEqual(d, 4.0)
        self.assertAlmostEqual(ci, 4.303 * math.sqrt(5 / 3), places=6)
        self.assertAlmostEqual(z, 4 / math.sqrt(5 / 3))
        self.assertEqual(R.verdict(d, ci), "indicative")  # 3.1 SE, and still not significant
        d, ci, _ = R.effect([1, 2, 3, 2], [8, 9, 10, 9])
        self.assertEqual(R.verdict(d, ci), "yes")
        self.assertEqual(R.verdict(-d, ci), "no")
        self.assertEqual(R.verdict(-d, ci, expect_positive=False), "yes")
        self.assertTrue(math.isnan(R.effect([1.0], [2.0, 3.0])[1]))  # one trial: no CI
        self.assertEqual(R.verdict(1.0, float("nan")), "indicative")

    def test_combined_verdict_is_the_weakest(self):
        self.assertEqual(R.combine("yes", "yes"), "yes")
        self.assertEqual(R.combine("yes", "indicative"), "indicative")
        self.assertEqual(R.combine("indicative", "no"), "no")


class PlotEndToEnd(unittest.TestCase):
    def test_quickstart_figures_and_epochs(self):
        if not os.access(L5SIM, os.X_OK):
            self.skipTest(f"no l5sim binary at {L5SIM}")
        with tempfile.TemporaryDirectory(prefix="l5sim_plot_") as d:
            out = os.path.join(d, "q")
            cfg = os.path.join(SCRIPTS, "..", "configs", "quickstart.yaml")
            r = subprocess.run([L5SIM, "run", cfg, "--out", out, "--quiet", "--set",
                                "simulation.duration_ms=1400"], capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            r = subprocess.run([sys.executable, os.path.join(SCRIPTS, "plot.py"), out],
                               capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            for f in ("raster.png", "rates.png", "probes.png", "plateau.png", "weights.png"):
                self.assertTrue(os.path.getsize(os.path.join(out, f)) > 10000, f)
            lines = r.stdout.splitlines()
            pyr = next(x for x in lines if x.strip().startswith("PYR:"))
            pv = next(x for x in lines if x.strip().startswith("PV:"))
            self.assertIn("burst fraction", pyr)
            self.assertIn("calcium-triggered", pyr)
            self.assertNotIn("burst fraction", pv)  # meaningless for fast-spiking cells
            self.assertTrue(any("1000-1400" in x and "projections.SOM_PYR.gain = 0" in x
                                for x in lines), r.stdout)


if __name__ == "__main__":
    unittest.main()
