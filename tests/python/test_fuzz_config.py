"""A mutation fuzzer over the shipped configs: each mutant (a deleted key, a wrong type, 0, -1,
1e308, nan, inf, a huge integer, unicode, deep nesting, anchors, aliases and merge keys, a
duplicate key, a long string, a cut or a flipped byte...) goes through `l5sim validate` and,
when valid, a 20 ms `l5sim run`. The test fails on any signal, an exit code outside 0-3, a hang,
an exit 1 (a run-time failure) where the input was a config, stderr that is not one readable
message, and an exit 0 with a NaN in summary.json.

Fixed seed; L5SIM_FUZZ_MUTANTS (default 200) mutants, or L5SIM_FUZZ_SECONDS of them. The
processes run under a 3 GiB address-space limit, so that a mutant asking for a huge network is
refused by the memory check (exit 2) instead of filling the machine. The count is printed.
"""
import copy
import json
import math
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..", "..")
L5SIM = os.environ.get("L5SIM_BIN", os.path.join(ROOT, "build", "l5sim"))
TIMEOUT_S = 30  # far beyond any mutant's validate or 20 ms run: longer is a hang

WEIRD = [0, -1, 1, 1e308, -1e308, float("nan"), float("inf"), float("-inf"), 2 ** 64,
         -(2 ** 63), 2 ** 31, 1e-300, "", "x", "é漢字🙂", "\u0000", True, False, None, [], {},
         [1, 2], {"a": 1}, "1e309", "0x10", "017", "-0", "  ", "a" * 5000, [[[[[[1]]]]]]]


def seeds():
    out = []
    shipped = sorted(os.path.join("configs", f) for f in os.listdir(os.path.join(ROOT, "configs"))
                     if f.endswith(".yaml"))
    for rel in shipped + sorted(
            os.path.join("configs/paper", f) for f in os.listdir(os.path.join(ROOT, "configs/paper"))):
        with open(os.path.join(ROOT, rel)) as f:
            text = f.read()
        tree = yaml.safe_load(text)
        if rel.endswith("sheet.yaml"):  # 10^3 cells: fast to build
            for pop, n in (("PYR", 800), ("PV", 100), ("SOM", 100)):
                tree["populations"][pop]["n"] = n
            text = yaml.safe_dump(tree, sort_keys=False)
        out.append((rel, text, tree))
    return out


def paths(node, prefix=()):
    """Every key path (tuples of keys and list indices) in a tree."""
    yield prefix
    if isinstance(node, dict):
        for k, v in node.items():
            yield from paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            yield from paths(v, prefix + (i,))


def get(node, path):
    for p in path:
        node = node[p]
    return node


def tree_mutant(rng, tree):
    t = copy.deepcopy(tree)
    ps = [p for p in paths(t) if p]
    path = rng.choice(ps)
    parent, key = get(t, path[:-1]), path[-1]
    op = rng.randrange(5)
    if op == 0:  # delete the key
        del parent[key]
    elif op in (1, 2):  # a weird value
        parent[key] = copy.deepcopy(rng.choice(WEIRD))
    elif op == 3 and isinstance(parent, dict):  # an unknown key beside it
        parent[rng.choice(["typo", "n ", "populatons", str(key) + "_", "é"])] = 1
    else:  # a number nudged, or a map replaced by a scalar
        v = parent[key]
        parent[key] = v * rng.choice([-1, 10 ** rng.randint(1, 12), 0.5]) if isinstance(
            v, (int, float)) and not isinstance(v, bool) else rng.choice(WEIRD)
    # safe_dump cannot write nan/inf the YAML way; it writes .nan/.inf, which YAML reads back.
    return yaml.safe_dump(t, sort_keys=False, allow_unicode=True, width=10 ** 6)


def text_mutant(rng, text):
    lines = text.split("\n")
    op = rng.randrange(9)
    i = rng.randrange(len(lines))
    if op == 0:  # a duplicate line (duplicate key at its level)
        lines.insert(i, lines[i])
    elif op == 1:  # the file cut anywhere
        return text[:rng.randrange(len(text))]
    elif op == 2:  # a flipped byte
        b = bytearray(text.encode())
        k = rng.randrange(len(b))
        b[k] ^= 1 << rng.randrange(8)
        return b.decode("utf-8", errors="replace")
    elif op == 3:  # an anchor and an alias to it, or an alias inside its own anchor
        lines.append("provenance: &p\n  a: [1, 2]\n  b: *p" if rng.random() < 0.5 else
                     "provenance:\n  a: &q {x: 1}\n  b: *q")
    elif op == 4:  # aliases of aliases
        depth = rng.randint(3, 12)
        extra = ["provenance:", "  l0: &l0 [x, x, x, x, x, x, x, x]"]
        for d in range(1, depth):
            extra.append(f"  l{d}: &l{d} [" + ", ".join([f"*l{d - 1}"] * 8) + "]")
        lines += extra
    elif op == 5:  # a merge key
        lines += ["provenance:", "  base: &b {x: 1}", "  derived: {<<: *b, y: 2}"]
    elif op == 6:  # deep nesting
        d = rng.choice([50, 70, 600, 20000])
        lines.append("provenance: " + "[" * d + "]" * d)
    elif op == 7:  # a long string or a long line of items
        lines.append("provenance: " + ("y" * rng.choice([10 ** 4, 10 ** 6])
                                       if rng.random() < 0.5 else
                                       "[" + ",".join(["1"] * rng.choice([1000, 200000])) + "]"))
    else:  # unicode or control characters in a key, a stray token, a second document
        lines.insert(i, rng.choice(["é: 1", "\t: 2", "? [a]\n: 1", "populations: {}", "---",
                                    ",", " , a: 1", "]", "- ,"]))
    return "\n".join(lines)


def limit_memory():
    resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30))


def has_nan(x):
    if isinstance(x, float):
        return math.isnan(x) or math.isinf(x)
    if isinstance(x, dict):
        return any(has_nan(v) for v in x.values())
    if isinstance(x, list):
        return any(has_nan(v) for v in x)
    return False


class FuzzConfig(unittest.TestCase):
    def test_mutants_end_in_a_clean_verdict(self):
        if not os.access(L5SIM, os.X_OK):
            self.skipTest(f"no l5sim binary at {L5SIM}")
        tmp = tempfile.mkdtemp(prefix="l5sim_fuzz_")
        try:
            self.fuzz(tmp)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def call(self, args, what):
        try:
            r = subprocess.run([L5SIM, *args], capture_output=True, timeout=TIMEOUT_S,
                               preexec_fn=limit_memory)
        except subprocess.TimeoutExpired:
            self.fail(f"{what}: no answer within {TIMEOUT_S} s (a hang)")
        err = r.stderr.decode("utf-8", errors="replace")
        self.assertGreaterEqual(r.returncode, 0, f"{what}: killed by signal {-r.returncode}\n{err}")
        self.assertIn(r.returncode, (0, 1, 2, 3), f"{what}: exit {r.returncode}\n{err}")
        bad = [x for x in err.splitlines() if x and not x.startswith("[")]
        if r.returncode != 0:
            self.assertEqual(len(bad), 1, f"{what}: not one message:\n{err[:3000]}")
            self.assertRegex(bad[0], r"^l5sim: (error|run-time failure): ", what)
            self.assertFalse(any(s in err for s in ("HDF5-DIAG", "terminate called", "std::",
                                                    "YAML::", "what():")), f"{what}: {err[:2000]}")
        return r.returncode, err

    def fuzz(self, tmp):
        rng = random.Random(17)
        budget_s = float(os.environ.get("L5SIM_FUZZ_SECONDS", "0"))
        count = int(os.environ.get("L5SIM_FUZZ_MUTANTS", "200"))
        base = seeds()
        t0 = time.time()
        verdicts = {}
        n = 0
        while (n < count) if budget_s <= 0 else (time.time() - t0 < budget_s):
            name, text, tree = base[n % len(base)]
            mutant = tree_mutant(rng, tree) if rng.random() < 0.55 else text_mutant(rng, text)
            path = os.path.join(tmp, f"m{n}.yaml")
            with open(path, "w", encoding="utf-8", errors="replace") as f:
                f.write(mutant)
            what = f"mutant {n} of {name} ({path}):\n{mutant[:600]}"
            rc, _ = self.call(["validate", path], "validate " + what)
            verdicts[("validate", rc)] = verdicts.get(("validate", rc), 0) + 1
            self.assertNotEqual(rc, 1, f"validate: a run-time failure for a config: {what}")
            if rc == 0:
                out = os.path.join(tmp, f"o{n}")
                # 20 ms, and one trial of a sweep (a paper config's hundreds of replicas would
                # run the same code hundreds of times).
                extra = ["--set", "sweep.trials=1"] if "sweep" in mutant else []
                rc, err = self.call(["run", path, "--out", out, "-q", "--threads", "1",
                                     "--set", "simulation.duration_ms=20", *extra], "run " + what)
                verdicts[("run", rc)] = verdicts.get(("run", rc), 0) + 1
                # A config that validates runs; only a health stop (exit 3) may end it early.
                self.assertIn(rc, (0, 2, 3), f"run: exit {rc}: {err[:2000]}\n{what}")
                if rc == 0:
                    with open(os.path.join(out, "summary.json")) as f:
                        summary = json.load(f)
                    self.assertFalse(has_nan(summary), f"NaN in summary.json: {what}")
                shutil.rmtree(out, ignore_errors=True)
            os.remove(path)
            n += 1
        tally = ", ".join(f"{k[0]} exit {k[1]}: {v}" for k, v in sorted(verdicts.items()))
        print(f"\nconfig fuzzer: {n} mutants in {time.time() - t0:.0f} s ({tally})",
              file=sys.stderr)


if __name__ == "__main__":
    unittest.main()
