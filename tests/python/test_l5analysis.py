"""Unit tests of the l5sim package's analysis (python/l5sim/analysis.py, re-exported by
scripts/l5analysis.py) against hand-computed values (MODEL.md section 10)."""
import math
import os
import sys
import unittest

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "python"))
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
