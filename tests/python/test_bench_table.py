"""bench/run.py's table: the Brian2 / l5sim ratio of the fastest runs and of the medians, per
biological second, from made-up results with hand-computed answers."""
import os
import sys
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "bench"))
import run  # noqa: E402


def result(simulator, walls, bio_s, cells=10000):
    fastest = min(walls)
    return {"simulator": simulator, "cells": cells, "k": 100, "threads": 2,
            "synapses": cells * 100, "setup_s": 0.1, "wall_per_bio_s": fastest / bio_s,
            "bio_s": bio_s, "neuron_updates_per_s": 1.0, "events_per_s": 1.0,
            "bytes_per_synapse": None, "peak_rss_mib": 10, "repeats_wall_s": walls,
            "rates_hz": {"PYR": 3, "PV": 40, "SOM": 12}}


META = {"cpu": "test", "nproc": 2, "host": "h", "commit": "c", "tree_modified": False,
        "date": "d", "loadavg_before": ["0", "0", "0"]}


class RatioLine(unittest.TestCase):
    def ratio_line(self, results):
        text = run.table(results, META)
        text = text if isinstance(text, str) else "\n".join(text)
        return [line for line in text.splitlines() if line.startswith("Speed-up")][0]

    def test_fastest_and_medians(self):
        # Brian2 over 2 bio s: fastest 8 s -> 4 s per bio s, median 10 -> 5; l5sim over 1 bio s:
        # fastest 1, median 2. Ratios 4.00x (fastest) and 2.50x (medians).
        line = self.ratio_line([result("brian2 cpp_standalone", [12.0, 8.0, 10.0], 2.0),
                                result("l5sim cpu", [1.0, 2.0, 3.0], 1.0)])
        self.assertIn("Brian2 / l5sim = **4.00x**", line)
        self.assertIn("(medians 2.50x over 3 and 3 runs)", line)

    def test_single_runs_give_no_medians(self):
        line = self.ratio_line([result("brian2 cpp_standalone", [6.0], 1.0),
                                result("l5sim cpu", [2.0], 1.0)])
        self.assertIn("**3.00x**", line)
        self.assertNotIn("medians", line)


if __name__ == "__main__":
    unittest.main()
