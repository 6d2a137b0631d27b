"""Unit tests of the l5sim package's analysis (python/l5sim/analysis.py, re-exported by
scripts/l5analysis.py) against hand-computed values (MODEL.md section 10), and of its checked
readers of output files against hand-made files: each problem raises the package's OutputError
with the file's path and what is wrong."""
import json
import math
import os
import pickle
import shutil
import sys
import tempfile
import unittest

import h5py
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
import l5sim  # noqa: E402
import l5sim.analysis as A  # noqa: E402


class Statistics(unittest.TestCase):
    def test_t_quantiles(self):
        self.assertAlmostEqual(A.t975(1), 12.706)
        self.assertAlmostEqual(A.t975(4), 2.776)
        self.assertAlmostEqual(A.t975(30), 2.042)
        self.assertAlmostEqual(A.t975(1000), 1.96)
        self.assertTrue(math.isnan(A.t975(0)))

    def test_mean_ci(self):
        # x = 1, 2, 3, 4, 5: mean 3, s = sqrt(2.5), se = sqrt(0.5), CI = 2.776 se.
        m, se, ci = A.mean_ci([1, 2, 3, 4, 5])
        self.assertAlmostEqual(float(m), 3.0)
        self.assertAlmostEqual(float(se), math.sqrt(0.5))
        self.assertAlmostEqual(float(ci), 2.776 * math.sqrt(0.5))
        m, se, ci = A.mean_ci(np.array([[1.0, 10.0], [3.0, 10.0]]))
        np.testing.assert_allclose(m, [2.0, 10.0])
        np.testing.assert_allclose(se, [1.0, 0.0])


class Rates(unittest.TestCase):
    def test_window_and_silent_cells(self):
        t = np.array([10.0, 150.0, 199.9, 200.0, 120.0])
        i = np.array([0, 0, 2, 2, 1])
        # window [100, 200) ms = 0.1 s: cell 0 one spike, cell 1 one, cell 2 one, cell 3 none.
        np.testing.assert_allclose(A.rates(t, i, 4, 100.0, 200.0), [10.0, 10.0, 10.0, 0.0])


class FICurve(unittest.TestCase):
    I = np.array([0, 100, 200, 300, 400, 500, 600], float)
    R = np.array([0, 0, 5, 15, 25, 30, 30], float)

    def test_rising_part(self):
        # First rate above 1 Hz at 200 pA -> start one point earlier (100 pA); first rate >= 90 %
        # of the maximum (27 Hz) at 500 pA.
        self.assertEqual(A.rising_part(self.I, self.R), (1, 5))

    def test_gain_is_the_least_squares_slope_of_the_rising_part(self):
        # Points (100,0) (200,5) (300,15) (400,25) (500,30): Sxy = 8000, Sxx = 100000.
        self.assertAlmostEqual(A.gain(self.I, self.R), 0.08)

    def test_gain_of_a_line_is_its_slope(self):
        self.assertAlmostEqual(A.gain(self.I, 2.0 + 0.03 * self.I), 0.03)

    def test_gain_of_a_silent_cell_is_nan(self):
        self.assertTrue(math.isnan(A.gain(self.I, np.zeros(7))))

    def test_threshold_interpolates_the_1_hz_crossing(self):
        self.assertAlmostEqual(A.threshold([0, 100, 200], [0, 0.5, 3.0]), 120.0)
        self.assertAlmostEqual(A.threshold(self.I, self.R), 100 + 100 * 1 / 5)
        self.assertEqual(A.threshold([0, 100], [2.0, 5.0]), 0.0)
        self.assertTrue(math.isnan(A.threshold([0, 100], [0.0, 1.0])))  # 1 Hz is not "above"


class Bursts(unittest.TestCase):
    def test_burst_fraction(self):
        # Cell 0: ISIs 5, 3, 22, 30, 5 -> spikes 0, 5, 8 and 60, 65 are in bursts: 5 of 6.
        # Cell 1: ISI exactly 10 ms is not a burst (ISI < 10 ms).
        t = np.array([0, 5, 8, 30, 60, 65, 100, 110], float)
        i = np.array([0, 0, 0, 0, 0, 0, 1, 1])
        self.assertAlmostEqual(A.burst_fraction(t, i), 5 / 8)
        self.assertTrue(math.isnan(A.burst_fraction(np.zeros(0), np.zeros(0, int))))

    # Three cells, given out of order and interleaved: cell 0 fires at 0, 4, 30, 33, 80 ms
    # (ISIs 4, 26, 3, 47: bursts 0-4 and 30-33); cell 1 at 10, 19.5, 29 (ISIs 9.5, 9.5: one
    # burst of three); cell 2 at 50, 60 (exactly 10 ms: no burst) and 200 (alone).
    T = np.array([30, 10, 0, 60, 80, 19.5, 4, 200, 33, 50, 29], float)
    I = np.array([0, 1, 0, 2, 0, 1, 0, 2, 0, 2, 1], np.uint32)  # as Simulation.spikes gives

    def test_burst_flags_by_hand(self):
        expected = [1, 1, 1, 0, 0, 1, 1, 0, 1, 0, 1]  # per spike, in the given order
        np.testing.assert_array_equal(A.burst_flags(self.T, self.I), np.array(expected, bool))
        # A shorter criterion (5 ms): cell 1's 9.5 ms ISIs are no longer bursts.
        expected5 = [1, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0]
        np.testing.assert_array_equal(A.burst_flags(self.T, self.I, 5.0),
                                      np.array(expected5, bool))
        self.assertEqual(A.burst_flags(np.zeros(0), np.zeros(0, int)).shape, (0,))
        # Two spikes of one cell in the same step (ISI 0) are a burst; of two cells, not.
        np.testing.assert_array_equal(A.burst_flags([5.0, 5.0], [1, 1]), [True, True])
        np.testing.assert_array_equal(A.burst_flags([5.0, 5.0], [1, 2]), [False, False])

    def test_burst_fraction_counts_the_flags(self):
        self.assertEqual(A.burst_fraction(self.T, self.I), 7 / 11)
        self.assertEqual(A.burst_fraction(self.T, self.I, 5.0), 4 / 11)
        self.assertEqual(A.burst_fraction(list(self.T), list(self.I)), 7 / 11)  # lists too
        self.assertEqual(A.burst_fraction(np.array([1.0]), np.array([0])), 0.0)

    def test_burst_fraction_equals_the_per_cell_loop(self):
        # The definition, cell by cell, against the vectorised flags on random trains (ties,
        # unsorted times, several id types, the 10 ms edge).
        def loop(times, ids, isi_ms):
            if len(times) == 0:
                return float("nan")
            n = 0
            for c in np.unique(ids):
                t = np.sort(times[ids == c])
                short = np.diff(t) < isi_ms
                member = np.zeros(len(t), bool)
                member[:-1] |= short
                member[1:] |= short
                n += int(member.sum())
            return n / len(times)

        rng = np.random.default_rng(7)
        for k in range(300):
            m = int(rng.integers(0, 40))
            t = np.round(rng.uniform(0, [30, 200, 1000][k % 3], m), k % 2)
            ids = rng.integers(0, 1 + k % 6, m).astype([np.int64, np.uint32][k % 2])
            isi = [10.0, 5.0, 0.5][k % 3]
            a, b = A.burst_fraction(t, ids, isi), loop(t, ids, isi)
            self.assertTrue(a == b or (math.isnan(a) and math.isnan(b)), (k, a, b))

    def test_mean_cv_by_hand(self):
        # Cell 0: ISIs 4, 26, 3, 47: mean 20, population s.d. sqrt(1625 / 2 - 400) = 20.31:
        # CV 1.0155; cell 1: ISIs 9.5, 9.5: CV 0; cell 2: ISIs 10, 140: mean 75, s.d. 65:
        # CV 0.8667. Mean CV (1.0155 + 0 + 0.8667) / 3.
        cv0 = math.sqrt((16 + 676 + 9 + 2209) / 4 - 400) / 20
        self.assertAlmostEqual(A.mean_cv(self.T, self.I), (cv0 + 0 + 65 / 75) / 3)
        # A cell with two spikes (one ISI) is left out; none with three: nan.
        self.assertAlmostEqual(A.mean_cv([0, 10, 40, 5, 6], [0, 0, 0, 1, 1]), 0.5)
        self.assertTrue(math.isnan(A.mean_cv([1.0, 2.0, 7.0], [0, 0, 1])))
        self.assertTrue(math.isnan(A.mean_cv(np.zeros(0), np.zeros(0, int))))


class Readers(unittest.TestCase):
    """The checked readers on hand-made output directories."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="l5sim_readers_")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def path(self, name):
        return os.path.join(self.dir, name)

    def write_run(self):
        """A run's files: PYR (4 cells) and PV (2) in summary.json's order (spikes.h5 lists
        them the other way round: HDF5 sorts names); PYR_0 probes v and v_d of cells 1, 3; a
        projection PYR_PYR with 3 snapshots of 2 synapses."""
        with open(self.path("summary.json"), "w") as f:
            json.dump({"populations": {"PYR": {"n": 4, "rate_hz": 1.25, "type": "pyramidal"},
                                       "PV": {"n": 2, "rate_hz": 5.0, "type": "pv"}},
                       "timing": {"bio_s": 0.4}}, f)
        with open(self.path("config.resolved.yaml"), "w") as f:
            f.write("simulation:\n  dt_ms: 0.1\nschedule:\n  - knob: PYR.gamma\n"
                    "    op: set\n    value: 1\n    start_ms: 100\n    stop_ms: 200\n")
        with h5py.File(self.path("spikes.h5"), "w") as f:
            f["spikes/PYR/timestamps"] = [1.5, 20.0]
            f["spikes/PYR/node_ids"] = np.array([3, 0], np.uint64)
            f["spikes/PV/timestamps"] = [2.0, 3.0, 4.0, 5.0]
            f["spikes/PV/node_ids"] = np.array([0, 1, 0, 1], np.uint64)
        with h5py.File(self.path("probes.h5"), "w") as f:
            f["probes/PYR_0/time_ms"] = [0.1, 0.2, 0.3]
            f["probes/PYR_0/node_ids"] = [1, 3]
            f["probes/PYR_0/v"] = np.arange(6.0).reshape(3, 2)
            f["probes/PYR_0/v_d"] = -np.arange(6.0).reshape(3, 2)
        with h5py.File(self.path("weights.h5"), "w") as f:
            f["weights/PYR_PYR/time_ms"] = [0.1, 100.1, 200.1]
            f["weights/PYR_PYR/w"] = [[1.0, 2.0], [1.5, 2.0], [2.0, 1.0]]
            f["weights/PYR_PYR/mean_abs_dw"] = [0.0, 0.25, 0.75]

    def assert_output_error(self, call, cls, name, *words):
        """call() raises cls (an OutputError) whose message starts with the file's path and
        contains words; returns the exception."""
        with self.assertRaises(cls) as e:
            call()
        self.assertIsInstance(e.exception, l5sim.OutputError)
        msg = str(e.exception)
        self.assertTrue(msg.startswith(self.path(name) + ": "), msg)
        self.assertEqual(e.exception.path, self.path(name))
        for w in words:
            self.assertIn(w, msg)
        return e.exception

    def test_the_readers_read_what_was_written(self):
        self.write_run()
        t, ids = A.read_spikes(self.dir, "PYR")
        np.testing.assert_array_equal(t, [1.5, 20.0])
        np.testing.assert_array_equal(ids, [3, 0])
        self.assertEqual(ids.dtype, np.int64)
        t, ids = A.read_spikes(self.dir, "SOM")  # no group: no spikes
        self.assertEqual((t.size, ids.size, ids.dtype), (0, 0, np.int64))
        pops, duration = A.read_all_spikes(self.dir)
        self.assertEqual([(p["name"], p["n"], p["t"].size) for p in pops],
                         [("PYR", 4, 2), ("PV", 2, 4)])  # summary.json's order and sizes
        self.assertEqual(duration, 400.0)
        self.assertEqual((pops[0]["t"].dtype, pops[0]["ids"].dtype), (np.float64, np.int64))
        # A population summary.json does not list comes after those it lists.
        pops, _ = A.read_all_spikes(self.dir, {"populations": {"PYR": {"n": 9}}})
        self.assertEqual([(p["name"], p["n"]) for p in pops], [("PYR", 9), ("PV", 2)])
        p = A.read_probes(self.dir, "PYR")
        self.assertEqual(sorted(p), ["node_ids", "time_ms", "v", "v_d"])
        groups = A.read_probe_groups(self.dir, variables=["v"], max_cells=1)
        self.assertEqual(list(groups), ["PYR_0"])
        self.assertEqual(sorted(groups["PYR_0"]), ["node_ids", "time_ms", "v"])
        np.testing.assert_array_equal(groups["PYR_0"]["v"], [[0.0], [2.0], [4.0]])
        np.testing.assert_array_equal(groups["PYR_0"]["node_ids"], [1])
        tw, w = A.read_weights(self.dir, "PYR_PYR")
        np.testing.assert_array_equal(tw, [0.1, 100.1, 200.1])
        self.assertEqual(w.shape, (3, 2))
        wg = A.read_weight_groups(self.dir)
        self.assertEqual(sorted(wg["PYR_PYR"]), ["mean_abs_dw", "time_ms", "w"])
        self.assertEqual(A.read_summary(self.dir)["timing"]["bio_s"], 0.4)
        self.assertEqual(A.read_resolved_config(self.dir)["schedule"][0]["stop_ms"], 200)
        # The same through l5sim.open.
        run = l5sim.open(self.dir)
        self.assertEqual([p["name"] for p in run.all_spikes()], ["PYR", "PV"])
        self.assertEqual(list(run.probe_groups()["PYR_0"]), ["node_ids", "time_ms", "v", "v_d"])
        np.testing.assert_array_equal(run.weight_groups()["PYR_PYR"]["mean_abs_dw"],
                                      [0.0, 0.25, 0.75])
        self.assertEqual(run.resolved_config["simulation"]["dt_ms"], 0.1)

    def test_without_summary(self):
        # Sizes from the largest id + 1, the duration from the last spike.
        self.write_run()
        os.remove(self.path("summary.json"))
        self.assertIsNone(A.read_summary(self.dir, required=False))
        self.assertIsNone(A.read_resolved_config(self.path("nowhere"), required=False))
        pops, duration = A.read_all_spikes(self.dir)
        self.assertEqual(sorted((p["name"], p["n"]) for p in pops), [("PV", 2), ("PYR", 4)])
        self.assertEqual(duration, 20.0)

    def test_missing_files_say_why(self):
        self.write_run()
        for name in ("spikes.h5", "probes.h5", "weights.h5", "summary.json",
                     "config.resolved.yaml"):
            os.remove(self.path(name))
        readers = {"spikes.h5": lambda: A.read_spikes(self.dir, "PYR"),
                   "probes.h5": lambda: A.read_probe_groups(self.dir),
                   "weights.h5": lambda: A.read_weight_groups(self.dir)}
        hints = {"spikes.h5": "was the run made with recording.spikes: false?",
                 "probes.h5": "recording.probes", "weights.h5": "recording.weights"}
        for name, call in readers.items():
            self.assert_output_error(call, FileNotFoundError, name, "no such file", hints[name])
            # An interrupted run leaves NAME.part: the message says so instead.
            open(self.path(name + ".part"), "w").close()
            self.assert_output_error(call, l5sim.MissingOutputError, name, "no such file",
                                     f"an interrupted run leaves {name}.part")
        self.assert_output_error(lambda: A.read_spikes(self.dir, "PYR"), l5sim.OutputError,
                                 "spikes.h5")
        self.assert_output_error(lambda: A.read_all_spikes(self.dir), FileNotFoundError,
                                 "spikes.h5")
        self.assert_output_error(lambda: A.read_probes(self.dir, "PYR"), FileNotFoundError,
                                 "probes.h5")
        self.assert_output_error(lambda: A.read_weights(self.dir, "PYR_PYR"),
                                 FileNotFoundError, "weights.h5")
        self.assert_output_error(lambda: A.read_summary(self.dir), FileNotFoundError,
                                 "summary.json", "not a finished l5sim run")
        self.assert_output_error(lambda: l5sim.open(self.dir), FileNotFoundError,
                                 "summary.json", "not a finished l5sim run")
        self.assert_output_error(lambda: A.read_resolved_config(self.dir), FileNotFoundError,
                                 "config.resolved.yaml", "no such file")
        with self.assertRaises(l5sim.MissingOutputError) as e:
            l5sim.open(self.path("nowhere"))
        self.assertEqual(str(e.exception), self.path("nowhere") + ": no such output directory")

    def test_files_that_are_not_hdf5_json_or_yaml(self):
        self.write_run()
        for name in ("spikes.h5", "probes.h5", "weights.h5"):
            with open(self.path(name), "w") as f:
                f.write("not HDF5\n")
        with open(self.path("summary.json"), "w") as f:
            f.write("{\"populations\": ")
        with open(self.path("config.resolved.yaml"), "w") as f:
            f.write("a: [1,\n")
        for name, call in (("spikes.h5", lambda: A.read_spikes(self.dir, "PYR")),
                           ("spikes.h5", lambda: A.read_all_spikes(self.dir, {})),
                           ("probes.h5", lambda: A.read_probes(self.dir, "PYR")),
                           ("probes.h5", lambda: A.read_probe_groups(self.dir)),
                           ("weights.h5", lambda: A.read_weights(self.dir, "PYR_PYR")),
                           ("weights.h5", lambda: A.read_weight_groups(self.dir))):
            e = self.assert_output_error(call, l5sim.OutputError, name, "cannot read it as HDF5")
            self.assertNotIsInstance(e, FileNotFoundError)
        self.assert_output_error(lambda: A.read_summary(self.dir), ValueError, "summary.json",
                                 "cannot parse it as JSON")
        self.assert_output_error(lambda: l5sim.open(self.dir), l5sim.OutputError,
                                 "summary.json", "cannot parse it as JSON")
        self.assert_output_error(lambda: A.read_resolved_config(self.dir), l5sim.OutputError,
                                 "config.resolved.yaml", "cannot parse it as YAML")
        with open(self.path("summary.json"), "w") as f:
            f.write("[1, 2]")
        with open(self.path("config.resolved.yaml"), "w") as f:
            f.write("- 1\n")
        self.assert_output_error(lambda: A.read_summary(self.dir), l5sim.OutputError,
                                 "summary.json", "not a JSON object")
        self.assert_output_error(lambda: A.read_resolved_config(self.dir), l5sim.OutputError,
                                 "config.resolved.yaml", "not a YAML mapping")
        with open(self.path("summary.json"), "w") as f:
            f.write("{}")
        self.assert_output_error(lambda: l5sim.open(self.dir), l5sim.OutputError,
                                 "summary.json", "timing.bio_s")

    def test_missing_groups_and_datasets(self):
        self.write_run()
        for name in ("spikes.h5", "probes.h5", "weights.h5"):
            with h5py.File(self.path(name), "w") as f:
                f["other/x"] = [1.0]
        for name, group, call in (
                ("spikes.h5", "/spikes", lambda: A.read_spikes(self.dir, "PYR")),
                ("spikes.h5", "/spikes", lambda: A.read_all_spikes(self.dir)),
                ("probes.h5", "/probes", lambda: A.read_probes(self.dir, "PYR")),
                ("probes.h5", "/probes", lambda: A.read_probe_groups(self.dir)),
                ("weights.h5", "/weights", lambda: A.read_weights(self.dir, "PYR_PYR")),
                ("weights.h5", "/weights", lambda: A.read_weight_groups(self.dir))):
            self.assert_output_error(call, l5sim.OutputError, name, f"no {group} group")
        # Groups without the datasets l5sim writes.
        with h5py.File(self.path("spikes.h5"), "w") as f:
            f["spikes/PYR/timestamps"] = [1.0]
        with h5py.File(self.path("probes.h5"), "w") as f:
            f["probes/PYR_0/v"] = [1.0]
        with h5py.File(self.path("weights.h5"), "w") as f:
            f["weights/PYR_PYR/time_ms"] = [1.0]
        for name, what, call in (
                ("spikes.h5", "/spikes/PYR lacks node_ids",
                 lambda: A.read_spikes(self.dir, "PYR")),
                ("spikes.h5", "/spikes/PYR lacks node_ids", lambda: A.read_all_spikes(self.dir)),
                ("probes.h5", "/probes/PYR_0 lacks time_ms",
                 lambda: A.read_probes(self.dir, "PYR")),
                ("probes.h5", "/probes/PYR_0 lacks time_ms",
                 lambda: A.read_probe_groups(self.dir)),
                ("weights.h5", "/weights/PYR_PYR lacks w",
                 lambda: A.read_weights(self.dir, "PYR_PYR")),
                ("weights.h5", "/weights/PYR_PYR lacks w",
                 lambda: A.read_weight_groups(self.dir))):
            self.assert_output_error(call, l5sim.OutputError, name, what)
        with h5py.File(self.path("spikes.h5"), "w") as f:
            f["spikes/PYR/timestamps"] = [1.0, 2.0]
            f["spikes/PYR/node_ids"] = [0]
        self.assert_output_error(lambda: A.read_spikes(self.dir, "PYR"), l5sim.OutputError,
                                 "spikes.h5", "2 timestamps but 1 node_ids")

    def test_summary_and_config_of_another_shape_are_output_errors(self):
        """Hand-edited files whose values have the wrong type: an OutputError naming the key
        (plot.py and l5sim.open then say it, instead of a TypeError deep inside)."""
        cases = [({"PV": {"n": None}}, {"bio_s": 0.4}, "populations.PV.n is null"),
                 ({"PV": {"n": "60"}}, {"bio_s": 0.4}, "populations.PV.n is \"60\""),
                 ({"PV": {"n": True}}, {"bio_s": 0.4}, "populations.PV.n is true"),
                 ([1, 2], {"bio_s": 0.4}, "populations is [1, 2]"),
                 ({"PV": 3}, {"bio_s": 0.4}, "populations.PV is 3"),
                 ({"PV": {"n": 2}}, {"bio_s": 0}, "bio_s is 0"),
                 ({"PV": {"n": 2}}, {"bio_s": "0.4"}, "bio_s is \"0.4\""),
                 ({"PV": {"n": 2}}, [1], "timing is [1]")]
        for pops, timing, words in cases:
            with self.subTest(words=words):
                self.write_run()
                with open(self.path("summary.json"), "w") as f:
                    json.dump({"populations": pops, "timing": timing}, f)
                self.assert_output_error(lambda: A.read_summary(self.dir), l5sim.OutputError,
                                         "summary.json", words)
                self.assert_output_error(lambda: l5sim.open(self.dir), l5sim.OutputError,
                                         "summary.json", words)
        self.write_run()
        for text, words in (("schedule: 5\n", "schedule is 5"),
                            ("injections: [3]\n", "injections is [3]"),
                            ("populations: {PV: 2}\n", "populations is {")):
            with open(self.path("config.resolved.yaml"), "w") as f:
                f.write(text)
            self.assert_output_error(lambda: A.read_resolved_config(self.dir), l5sim.OutputError,
                                     "config.resolved.yaml", words)

    def test_a_populations_probes_are_counted_among_its_own_entries(self):
        """Groups are named <population>_<k> with k the entry of recording.probes over every
        population; read_probes(pop, i) is pop's i-th entry, whatever the others and the names
        (a population called PYR_0 has a group PYR_0_3)."""
        os.makedirs(self.dir, exist_ok=True)
        with h5py.File(self.path("probes.h5"), "w") as f:
            for name, pop, first in (("PYR_0", "PYR", 0.0), ("PV_1", "PV", 1.0),
                                     ("PYR_2", "PYR", 2.0), ("PYR_0_3", "PYR_0", 3.0)):
                g = f.create_group("probes/" + name)
                g.attrs["population"] = pop
                g["time_ms"] = [first]
                g["v"] = [[first]]
        self.assertEqual(A.read_probes(self.dir, "PV")["time_ms"][0], 1.0)
        self.assertEqual(A.read_probes(self.dir, "PYR")["time_ms"][0], 0.0)
        self.assertEqual(A.read_probes(self.dir, "PYR", 1)["time_ms"][0], 2.0)
        self.assertEqual(A.read_probes(self.dir, "PYR_0")["time_ms"][0], 3.0)
        self.assert_output_error(lambda: A.read_probes(self.dir, "PV", 1), l5sim.NotRecordedError,
                                 "probes.h5", "no probe 1 of population 'PV'")

    def test_what_was_not_recorded(self):
        self.write_run()
        e = self.assert_output_error(lambda: A.read_probes(self.dir, "PV"), KeyError,
                                     "probes.h5", "no probe 0 of population 'PV'", "PYR_0")
        self.assertFalse(str(e).startswith("'"))  # not KeyError's quoted repr
        self.assert_output_error(lambda: A.read_weights(self.dir, "PV_PYR"),
                                 l5sim.NotRecordedError, "weights.h5", "no projection 'PV_PYR'",
                                 "PYR_PYR")
        self.assert_output_error(lambda: l5sim.open(self.dir).probes("PYR", 1),
                                 l5sim.OutputError, "probes.h5", "no probe 1 of population 'PYR'",
                                 "it has 1 of PYR")

    def test_the_errors(self):
        self.assertTrue(issubclass(l5sim.OutputError, ValueError))
        self.assertTrue(issubclass(l5sim.MissingOutputError, FileNotFoundError))
        self.assertTrue(issubclass(l5sim.MissingOutputError, l5sim.OutputError))
        self.assertTrue(issubclass(l5sim.NotRecordedError, KeyError))
        self.assertTrue(issubclass(l5sim.NotRecordedError, l5sim.OutputError))
        self.assertIs(l5sim.OutputError, A.OutputError)
        e = l5sim.MissingOutputError("/x/spikes.h5", "no such file")
        self.assertEqual(str(e), "/x/spikes.h5: no such file")
        back = pickle.loads(pickle.dumps(e))  # e.g. from a worker process
        self.assertEqual((type(back), str(back), back.path), (type(e), str(e), e.path))


class StdpSpeed(unittest.TestCase):
    def test_linear_drift(self):
        # Every weight grows by 0.2 nS/s: |dw|/dt = 0.2; the change is half of its final value
        # half-way through.
        t = np.arange(0, 1001, 100.0)
        w = 1.0 + 0.2 * (t[:, None] * 1e-3) * np.ones((1, 4))
        mid, rate = A.dw_rate(t, w)
        np.testing.assert_allclose(mid, t[:-1] + 50)
        np.testing.assert_allclose(rate, 0.2)
        speed, half = A.stdp_speed(t, w)
        self.assertAlmostEqual(speed, 0.2)
        self.assertEqual(half, 500.0)

    def test_signs_do_not_cancel(self):
        # One synapse up, one down: the mean |dw| counts both.
        t = np.array([0.0, 1000.0])
        w = np.array([[1.0, 1.0], [1.5, 0.5]])
        self.assertAlmostEqual(A.stdp_speed(t, w)[0], 0.5)

    def test_no_change(self):
        t = np.array([0.0, 100.0, 200.0])
        speed, half = A.stdp_speed(t, np.ones((3, 5)))
        self.assertEqual(speed, 0.0)
        self.assertTrue(math.isnan(half))


if __name__ == "__main__":
    unittest.main()
