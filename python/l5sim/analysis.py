"""Analysis of l5sim outputs: the measurements of MODEL.md section 10.

``import l5sim.analysis`` (the package's; scripts/l5analysis.py re-exports it), used by
l5sim.open's results and scripts/reproduce.py; tested by tests/python/test_l5analysis.py
against hand-computed values. Needs numpy and h5py only.

- f-I curves with 95 % confidence intervals over trials (Student t);
- gain = least-squares slope of the f-I curve over its rising part (Hz/pA);
- threshold (rheobase) = the smallest current at which the rate exceeds 1 Hz, interpolated
  linearly between the two tested currents that bracket the crossing;
- burst fraction (spikes in runs of >= 2 with ISI < 10 ms / all spikes) and calcium-triggered
  fraction (from summary.json; spikes fired in burst mode);
- STDP speed: mean |dw|/dt of the recorded weights and the time to half of the final change.
"""
import json
import math
import os

import numpy as np

# Two-sided 95 % Student t quantiles t_{0.975, df} for df = 1..30; 1.96 beyond.
_T975 = [12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179,
         2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064,
         2.060, 2.056, 2.052, 2.048, 2.045, 2.042]


def t975(df):
    """The 97.5 % quantile of Student's t with df degrees of freedom (nan for df < 1)."""
    if df < 1:
        return float("nan")
    return _T975[df - 1] if df <= 30 else 1.96


def mean_ci(x, axis=0):
    """Mean, standard error and 95 % CI half-width over `axis` (trials)."""
    x = np.asarray(x, dtype=float)
    n = x.shape[axis]
    m = x.mean(axis=axis)
    if n < 2:
        nan = np.full_like(m, np.nan)
        return m, nan, nan
    se = x.std(axis=axis, ddof=1) / math.sqrt(n)
    return m, se, t975(n - 1) * se


# ---------------------------------------------------------------------------------------------
# Outputs


class Sweep:
    """An l5sim sweep output directory (sweep.json, summary.json, replicas/rNNNNN/)."""

    def __init__(self, path):
        self.path = path
        summary = os.path.join(path, "summary.json")
        if not os.path.exists(summary):
            raise FileNotFoundError(f"{summary}: missing (not a finished l5sim sweep)")
        with open(summary) as f:
            self.summary = json.load(f)
        self.replicas = self.summary["replicas"]
        self.axes = self.summary["axes"]
        self.conditions = self.summary["conditions"]
        self.trials = self.summary["trials"]

    def values(self, key):
        """Sorted distinct values of a grid axis."""
        return sorted({r["params"][key] for r in self.replicas})

    def select(self, condition=None, **params):
        """Replicas of one condition and/or parameter values (keys with '.' as '__')."""
        out = []
        for r in self.replicas:
            if condition is not None and r["condition"] != condition:
                continue
            if all(r["params"].get(k.replace("__", ".")) == v for k, v in params.items()):
                out.append(r)
        return out

    def replica_dir(self, r):
        return os.path.join(self.path, r["dir"])

    def spikes(self, r, pop):
        return read_spikes(self.replica_dir(r), pop)


def read_spikes(outdir, pop):
    """(times in ms, node ids) of one population from a SONATA spikes.h5."""
    import h5py

    with h5py.File(os.path.join(outdir, "spikes.h5"), "r") as f:
        g = f["spikes"].get(pop)
        if g is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return g["timestamps"][:], g["node_ids"][:].astype(np.int64)


def read_weights(outdir, proj):
    """(times in ms, w [snapshot, synapse]) of one recorded projection from weights.h5."""
    import h5py

    with h5py.File(os.path.join(outdir, "weights.h5"), "r") as f:
        g = f["weights"][proj]
        return g["time_ms"][:], g["w"][:]


def read_probes(outdir, pop, index=0):
    """dict of time_ms, node_ids and each variable [time, cell] of probe `index` of `pop`."""
    import h5py

    with h5py.File(os.path.join(outdir, "probes.h5"), "r") as f:
        g = f["probes"][f"{pop}_{index}"]
        return {k: g[k][:] for k in g.keys()}


def rates(times, ids, n_cells, t0_ms, t1_ms):
    """Firing rate (Hz) of each cell over [t0, t1)."""
    if not t1_ms > t0_ms:
        raise ValueError(f"rates: t1_ms {t1_ms} is not after t0_ms {t0_ms}")
    keep = (times >= t0_ms) & (times < t1_ms)
    counts = np.bincount(ids[keep], minlength=n_cells)[:n_cells]
    return counts / ((t1_ms - t0_ms) * 1e-3)


# ---------------------------------------------------------------------------------------------
# f-I curves, gain and threshold


def rising_part(currents, rate, criterion_hz=1.0, top=0.9):
    """Indices [lo, hi] of the rising part of one f-I curve: from the last current at or below
    the threshold criterion before the first crossing (or the first current) to the first
    current whose rate reaches `top` of the curve's maximum."""
    rate = np.asarray(rate, dtype=float)
    above = np.nonzero(rate > criterion_hz)[0]
    if len(above) == 0:
        return None
    lo = max(above[0] - 1, 0)
    peak = rate.max()
    hi = lo + int(np.nonzero(rate[lo:] >= top * peak)[0][0])
    return lo, min(max(hi, lo + 2), len(rate) - 1)


def gain(currents, rate, criterion_hz=1.0):
    """Slope (Hz/pA) of the least-squares line through the rising part of the f-I curve (nan if
    the cell never fires above the criterion)."""
    currents = np.asarray(currents, dtype=float)
    part = rising_part(currents, rate, criterion_hz)
    if part is None:
        return float("nan")
    lo, hi = part
    x = currents[lo:hi + 1]
    y = np.asarray(rate, dtype=float)[lo:hi + 1]
    if len(x) < 2:
        return float("nan")
    return float(np.polyfit(x, y, 1)[0])


def threshold(currents, rate, criterion_hz=1.0):
    """Smallest current at which the rate exceeds the criterion, linearly interpolated between
    the bracketing tested currents; nan if never exceeded; the first current if already above."""
    currents = np.asarray(currents, dtype=float)
    rate = np.asarray(rate, dtype=float)
    above = np.nonzero(rate > criterion_hz)[0]
    if len(above) == 0:
        return float("nan")
    i = above[0]
    if i == 0:
        return float(currents[0])
    x0, x1, y0, y1 = currents[i - 1], currents[i], rate[i - 1], rate[i]
    return float(x0 + (criterion_hz - y0) * (x1 - x0) / (y1 - y0))


def burst_fraction(times, ids, isi_ms=10.0):
    """Spikes in runs of >= 2 spikes with ISI < isi_ms (per cell) / all spikes."""
    if len(times) == 0:
        return float("nan")
    in_burst = 0
    for c in np.unique(ids):
        t = np.sort(times[ids == c])
        if len(t) < 2:
            continue
        short = np.diff(t) < isi_ms
        member = np.zeros(len(t), dtype=bool)
        member[:-1] |= short
        member[1:] |= short
        in_burst += int(member.sum())
    return in_burst / len(times)


# ---------------------------------------------------------------------------------------------
# STDP speed


def dw_rate(times_ms, w):
    """Mean |dw|/dt (nS/s) between consecutive snapshots: array of len(times) - 1, with the
    midpoints of the intervals (ms)."""
    w = np.asarray(w, dtype=float)
    dt_s = np.diff(times_ms) * 1e-3
    rate = np.abs(np.diff(w, axis=0)).mean(axis=1) / dt_s
    mid = 0.5 * (times_ms[1:] + times_ms[:-1])
    return mid, rate


def stdp_speed(times_ms, w):
    """(mean |dw|/dt over the run in nS/s, time in ms from the first snapshot until the mean
    absolute change from the first snapshot reaches half of its final value)."""
    w = np.asarray(w, dtype=float)
    _, rate = dw_rate(times_ms, w)
    change = np.abs(w - w[0]).mean(axis=1)
    final = change[-1]
    if final <= 0:
        return float(rate.mean()), float("nan")
    k = int(np.nonzero(change >= 0.5 * final)[0][0])
    return float(rate.mean()), float(times_ms[k] - times_ms[0])
