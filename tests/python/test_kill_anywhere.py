"""Kill anywhere: runs stopped at random instants (SIGKILL, SIGTERM, SIGINT), half of them at
the moment a file is being written (a checkpoint's or a final file's .part), then resumed
until complete: every one ends byte-identical to the run that was never stopped
(docs/CHECKPOINTS.md's guarantee). A run stopped before its first checkpoint has nothing to
resume and is started again (--force), which is the guarantee too: nothing is ever half-done.

A few runs in CI; L5SIM_KILL_RUNS=N runs N (the closing note of issue 17 reports 40). The
count of each kind of instant is printed.
"""
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
L5SIM = os.environ.get("L5SIM_BIN", os.path.join(ROOT, "build", "l5sim"))
QUICKSTART = os.path.join(ROOT, "configs", "quickstart.yaml")
ARGS = ("--set", "simulation.duration_ms=1500", "--checkpoint-every", "100ms-bio", "-q",
        "--threads", "1")
OUTPUTS = ("spikes.h5", "probes.h5", "weights.h5")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def populations(d):
    with open(os.path.join(d, "summary.json")) as f:
        return json.load(f)["populations"]


class KillAnywhere(unittest.TestCase):
    def test_killed_at_random_instants_then_resumed_equals_the_run_never_stopped(self):
        if not os.access(L5SIM, os.X_OK):
            self.skipTest(f"no l5sim binary at {L5SIM}")
        tmp = tempfile.mkdtemp(prefix="l5sim_kill_")
        try:
            self.run_all(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def run_all(self, tmp):
        ref = os.path.join(tmp, "ref")
        t0 = time.time()
        r = subprocess.run([L5SIM, "run", QUICKSTART, "--out", ref, *ARGS], capture_output=True,
                           text=True)
        wall = time.time() - t0
        self.assertEqual(r.returncode, 0, r.stderr)
        runs = int(os.environ.get("L5SIM_KILL_RUNS", "8"))
        rng = random.Random(20261206)
        sigs = [signal.SIGKILL, signal.SIGTERM, signal.SIGINT]
        tally = {"during a file write": 0, "at a random instant": 0, "resumed": 0,
                 "restarted (before the first checkpoint)": 0, "completed anyway": 0}
        for i in range(runs):
            sig = sigs[i % 3]
            at_write = i % 2 == 0
            out = os.path.join(tmp, f"r{i}")
            with self.subTest(run=i, signal=sig.name, at_write=at_write):
                p = subprocess.Popen([L5SIM, "run", QUICKSTART, "--out", out, *ARGS],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
                if at_write:
                    # The n-th .part file seen (checkpoints early, the final files last).
                    nth, seen = rng.randint(1, 20), 0
                    while p.poll() is None:
                        try:
                            names = os.listdir(out)
                        except FileNotFoundError:
                            names = []
                        if any(n.endswith(".part") for n in names):
                            seen += 1
                            if seen >= nth:
                                break
                        time.sleep(0.0003)
                else:
                    time.sleep(rng.uniform(0, wall * 1.1))
                if p.poll() is None:
                    p.send_signal(sig)
                    tally["during a file write" if at_write else "at a random instant"] += 1
                p.communicate(timeout=60)
                # SIGINT and SIGTERM stop the run with a checkpoint (130, 143), or wait for the
                # final write (0); before the run holds them (while the config is read) they end
                # the process, which has then written nothing at all.
                if p.returncode in (-signal.SIGINT, -signal.SIGTERM):
                    self.assertFalse(os.path.exists(out), f"run {i}: killed after writing")
                else:
                    self.assertIn(p.returncode, (0, -9, 130, 143), f"run {i}: rc {p.returncode}")
                self.finish(out, i, tally)
                for f in OUTPUTS:
                    self.assertEqual(read(os.path.join(ref, f)), read(os.path.join(out, f)),
                                     f"run {i}: {f} differs")
                self.assertEqual(populations(ref), populations(out))
                left = [n for n in os.listdir(out) if n.endswith((".stream", ".part", ".l5ck"))]
                self.assertEqual(left, [], f"run {i} ({sig.name}, at_write={at_write}): left "
                                           f"behind")
        print(f"\nkill-anywhere: {runs} runs; " + ", ".join(f"{k}: {v}" for k, v in tally.items()),
              file=sys.stderr)

    def finish(self, out, i, tally):
        """Resume (or, without a checkpoint, start again) until the run is complete."""
        for attempt in range(4):
            done = os.path.exists(os.path.join(out, "summary.json"))
            has_ck = os.path.exists(os.path.join(out, "checkpoint.l5ck"))
            if done and not has_ck:
                if attempt == 0:
                    tally["completed anyway"] += 1
                return
            if has_ck or done:
                r = subprocess.run([L5SIM, "resume", out, "-q"], capture_output=True, text=True)
                if r.returncode == 2 and "the run is complete" in r.stderr:
                    continue
                self.assertEqual(r.returncode, 0, f"run {i}: resume: {r.stderr}")
                tally["resumed"] += 1
            else:
                r = subprocess.run([L5SIM, "run", QUICKSTART, "--out", out, "--force", *ARGS],
                                   capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, f"run {i}: again: {r.stderr}")
                tally["restarted (before the first checkpoint)"] += 1
        self.fail(f"run {i}: not complete after 4 attempts")


if __name__ == "__main__":
    unittest.main()
