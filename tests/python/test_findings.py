"""A reduced, statistically sound version of each finding T1-T7 (MODEL.md section 11).

Each test runs its configs/paper config with fewer grid points and trials (fixed seeds) through
the l5sim binary (env L5SIM_BIN, set by ctest) and asserts the direction of the effect with a
margin far above trial noise (more than 3 standard errors) and reproduce.py's verdict "yes" (the
95 % confidence interval, Student t with the Welch-Satterthwaite degrees of freedom, excludes
zero), through the same analysis as scripts/reproduce.py. A few tens of seconds on 2 cores.
"""
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))
import reproduce as R  # noqa: E402

L5SIM = os.environ.get("L5SIM_BIN", os.path.join(HERE, "..", "..", "build", "l5sim"))


def grid(**axes):
    """--set value for sweep.grid (keys with '.' as '__')."""
    parts = [f"{k.replace('__', '.')}: {v}" for k, v in axes.items()]
    return "sweep.grid={" + ", ".join(parts) + "}"


class Findings(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.access(L5SIM, os.X_OK):
            raise unittest.SkipTest(f"no l5sim binary at {L5SIM}")
        cls.tmp = tempfile.TemporaryDirectory(prefix="l5sim_findings_")

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def run_finding(self, fid, *sets):
        r = R.run_finding(fid, self.tmp.name, L5SIM, sets=sets, threads=2)
        print(f"\n{fid}: {r['effect']}", file=sys.stderr)
        return r

    def test_t1_bac_firing(self):
        r = self.run_finding("T1")
        soma, dend, both = (r["cells"][k] for k in ("soma only", "dendrite only", "soma + dendrite"))
        self.assertEqual(dend["spikes"], 0)
        self.assertLess(dend["max_v_d_mV"], -30)      # no plateau from dendritic input alone
        self.assertEqual(soma["burst_mode_ms"], 0)     # no plateau from BAPs alone
        self.assertGreater(both["burst_mode_ms"], 20)  # BAP + dendritic input: plateau, burst mode
        self.assertGreater(both["spikes"], soma["spikes"])
        self.assertLess(both["min_isi_ms"], 10)        # a burst (ISI < 10 ms)
        self.assertGreater(soma["min_isi_ms"], 10)
        self.assertTrue(r["direction_matches"])
        self.assertEqual(r["verdict"], "yes")

    def test_t2_dendritic_drive_raises_gain(self):
        r = self.run_finding(
            "T2", "sweep.trials=3", "simulation.duration_ms=1500",
            grid(populations__PYR__background__dendrite__rate_hz="[50, 1000]",
                 injections__0__amplitude_pA="{from: 0, to: 600, step: 150}"))
        g = r["gain_hz_per_pA"]
        self.assertGreater(g["1000"][0], g["50"][0])
        self.assertGreater(r["z"], 3)
        self.assertEqual(r["verdict"], "yes")
        self.assertGreater(r["calcium_fraction"]["1000"], 0.2)  # through calcium spikes
        self.assertEqual(r["calcium_fraction"]["50"], 0.0)

    def test_t3_coupling_raises_gain(self):
        r = self.run_finding(
            "T3", "sweep.trials=3", "simulation.duration_ms=1500",
            grid(populations__PYR__coupling__gamma="[0, 1]",
                 injections__0__amplitude_pA="{from: 0, to: 600, step: 150}"))
        g = r["gain_hz_per_pA"]
        self.assertGreater(g["1"][0], 1.3 * g["0"][0])
        self.assertGreater(r["z"], 3)
        self.assertEqual(r["verdict"], "yes")

    def test_t4_som_inhibition_lowers_gain(self):
        r = self.run_finding(
            "T4", "sweep.trials=3", "simulation.duration_ms=1500",
            grid(projections__SOM_PYR__gain="[0, 1]", injections__0__amplitude_pA="[0, 300, 600]"))
        g = r["gain_hz_per_pA"]
        self.assertLess(g["1"][0], g["0"][0])
        self.assertLess(r["z"], -3)
        self.assertEqual(r["verdict"], "yes")
        self.assertGreater(r["calcium_fraction"]["0"], 0.2)
        self.assertLess(r["calcium_fraction"]["1"], 0.02)  # dendritic inhibition stops plateaus

    def test_t5_pv_inhibition_raises_neighbours_threshold(self):
        r = self.run_finding(
            "T5", "sweep.trials=3", "simulation.duration_ms=1500",
            grid(injections__1__amplitude_pA="[0, 400]",
                 injections__0__amplitude_pA="{from: 150, to: 500, step: 50}"))
        near = r["threshold_pA"]["400"][0] - r["threshold_pA"]["0"][0]
        far = r["threshold_pA"]["400"][-1] - r["threshold_pA"]["0"][-1]
        self.assertGreater(near, 40)      # tens of pA: far above the 50 pA grid's interpolation
        self.assertGreater(near, far)     # the closer to the inhibiting cells, the larger
        self.assertGreater(r["z"], 3)
        self.assertTrue(r["direction_matches"])
        self.assertEqual(r["verdict"], "yes")

    def test_t6_bursting_speeds_stdp(self):
        r = self.run_finding(
            "T6", "sweep.trials=3", "simulation.duration_ms=2000",
            grid(injections__0__amplitude_pA="{from: 0, to: 1000, step: 250}"))
        self.assertGreater(r["ratio"][0], 1.05)
        self.assertGreater(r["z"], 3)
        self.assertEqual(r["verdict"], "yes")
        self.assertGreater(r["burst_fraction"]["bursting"], 0.5)
        self.assertLess(r["burst_fraction"]["regular"], 0.1)

    def test_t7_gain_pulses_fast_and_slow(self):
        r = self.run_finding("T7", "sweep.trials=5")
        self.assertGreater(r["fast_ratio"][0], 1.15)
        self.assertGreater(r["z"], 3)
        self.assertLess(r["relaxation_ms"], 100)  # fast: gone within 100 ms of the offset
        div, div1 = r["divergence_nS"], r["divergence_single_pulse_nS"]
        self.assertEqual(div[0], 0.0)             # identical until the first pulse (same seeds)
        self.assertGreater(div[-1], div1[-1])     # slow: every pulse leaves its mark
        self.assertGreater(r["slow_z"], 3)
        self.assertEqual(r["verdict"], "yes")


if __name__ == "__main__":
    unittest.main()
