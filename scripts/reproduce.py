#!/usr/bin/env python3
"""Reproduce the seven findings of arXiv 2507.03222 (MODEL.md section 11) with l5sim.

    python3 scripts/reproduce.py [--quick] [--out out/reproduce] [--only T2,T5] [--backend cpu]
                                 [--threads N] [--pack auto|on|off]

Runs configs/paper/t1..t7 (sweeps of batched replicas), analyses them with the l5sim package
(python/l5sim: l5sim.analysis's readers and measurements, l5sim.open) and writes into --out:
  tN/                 the l5sim output directory of each finding (sweep.json, replicas/, ...)
  figures/tN_*.png    one figure per finding
  results.md          the table: finding, measure, effect with its 95 % CI, verdict (yes: the
                      paper's direction with a 95 % CI that excludes zero; indicative: the
                      direction, but the CI includes zero; no)
  results.json        the same, machine-readable

--quick runs fewer trials (minutes on a 2-core CPU); without it the configs' own trial counts
are used. Protocols and the meaning of each number: docs/REPRODUCTION.md.
Exit codes: 0 ok (whatever the findings say), 1 an l5sim run or the analysis failed, 2 usage.
"""
import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np

# The package's readers and analysis (python/l5sim; NumPy, h5py and, for T7's resolved config,
# PyYAML; not the compiled module).
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
import l5sim.analysis as A  # noqa: E402
from l5sim.results import SweepResults  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FI = "injections.0.amplitude_pA"

FINDINGS = {
    "T1": ("t1_bac_firing.yaml", "somatic spike + dendritic input: BAP -> plateau -> burst mode"),
    "T2": ("t2_dendritic_drive.yaml", "more dendritic drive: f-I gain rises (calcium bursts)"),
    "T3": ("t3_coupling.yaml", "tighter coupling (gamma up): f-I gain rises"),
    "T4": ("t4_som_inhibition.yaml", "more SOM (dendritic) inhibition: gain falls"),
    "T5": ("t5_pv_inhibition.yaml", "more PV (somatic) inhibition: neighbours' threshold rises"),
    "T6": ("t6_stdp_bursting.yaml", "bursting vs regular firing: STDP faster with bursts"),
    "T7": ("t7_gain_pulses.yaml", "gain pulses during learning: fast and slow timescales"),
}
# Reduced trial counts for --quick (and the tests): sweep.trials per finding.
# Enough for each finding's 95 % CI to exclude zero at the effect sizes of the full runs
# (docs/REPRODUCTION.md); with fewer, a finding is only "indicative".
QUICK = {"T2": 3, "T3": 3, "T4": 2, "T5": 4, "T6": 3, "T7": 6}
WINDOW_MS = (500.0, None)  # rates from 500 ms (after the onset transient) to the end


def run_l5sim(l5sim, cfg, out, sets=(), backend="cpu", threads=0, pack=None):
    cmd = [l5sim, "run", cfg, "--out", out, "--force", "--quiet", "--backend", backend]
    if threads:
        cmd += ["--threads", str(threads)]
    with open(cfg) as f:
        is_sweep = "\nsweep:" in f.read()
    if pack and is_sweep:  # --pack applies to sweeps only (T1 is a single run)
        cmd += ["--pack", pack]
    for s in sets:
        cmd += ["--set", s]
    t0 = time.time()
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        raise RuntimeError(f"l5sim failed ({r.returncode}): {' '.join(cmd)}\n{r.stderr}")
    return time.time() - t0


def effect(a, b):
    """Difference of two means of per-trial values (b - a), its 95 % CI half-width and the
    difference in units of its standard error (Welch's unequal-variance t, with the
    Welch-Satterthwaite degrees of freedom rounded down). The CI is nan with fewer than two
    trials on either side."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    d = b.mean() - a.mean()
    if min(len(a), len(b)) < 2:
        return d, float("nan"), float("nan")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    se = math.sqrt(va + vb)
    z = d / se if se > 0 else (float("inf") if d > 0 else float("-inf") if d < 0 else 0.0)
    if se == 0:
        return d, 0.0, z
    df = (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))
    return d, A.t975(int(math.floor(df + 1e-9))) * se, z


def verdict(estimate, ci, expect_positive=True):
    """'yes' when the estimate has the paper's sign and its 95 % CI excludes zero; 'indicative'
    when it has the sign but the CI includes zero (or there is none: too few trials); 'no' when
    the estimate has the other sign."""
    if not (estimate == estimate) or estimate == 0 or (estimate > 0) != expect_positive:
        return "no"
    return "yes" if ci == ci and abs(estimate) > ci else "indicative"


def combine(*verdicts):
    """The verdict of a finding with several parts: the weakest part's."""
    for v in ("no", "indicative"):
        if v in verdicts:
            return v
    return "yes"


def fi_curves(S, group_key=None, condition=None, pop="PYR", cells=None):
    """{group value: (currents, rates [trial, current])} of the mean rate of `cells` from
    WINDOW_MS[0] to the end (SweepResults.fi_curves over the grid axis FI)."""
    return S.fi_curves(FI, group_key, condition, pop, cells, WINDOW_MS[0])


def calcium_by_group(S, group_key, pop="PYR"):
    out = {}
    for g in S.values(group_key):
        out[g] = float(np.mean([r["populations"][pop]["calcium_fraction"]
                                for r in S.replicas if r["params"][group_key] == g]))
    return out


def plt_module():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# ---------------------------------------------------------------------------------------------
# One analysis per finding: returns the result dict (and draws its figure when figdir is set).


def analyze_t1(outdir, figdir=None):
    p = A.read_probes(outdir, "PYR")
    t, ids = A.read_spikes(outdir, "PYR")
    summary = A.read_summary(outdir)
    cells = {}
    for c, name in enumerate(["soma only", "dendrite only", "soma + dendrite"]):
        ts = np.sort(t[ids == c])
        isi = np.diff(ts)
        cells[name] = {
            "spikes": int(len(ts)),
            "min_isi_ms": float(isi.min()) if len(isi) else float("nan"),
            "burst_mode_ms": float((p["burst_mode"][:, c] > 0).sum()
                                   * (p["time_ms"][1] - p["time_ms"][0])),
            "max_v_d_mV": float(p["v_d"][:, c].max()),
        }
    s, d, b = cells["soma only"], cells["dendrite only"], cells["soma + dendrite"]
    ok = (b["burst_mode_ms"] > 0 and s["burst_mode_ms"] == 0 and d["spikes"] == 0
          and b["spikes"] > s["spikes"] and b["min_isi_ms"] < s["min_isi_ms"])
    res = {
        "measure": "spikes / shortest ISI / time in burst mode: soma only vs soma + dendrite",
        "effect": f"{s['spikes']} -> {b['spikes']} spikes; ISI {s['min_isi_ms']:.1f} -> "
                  f"{b['min_isi_ms']:.1f} ms; burst mode {s['burst_mode_ms']:.0f} -> "
                  f"{b['burst_mode_ms']:.0f} ms (dendrite alone: {d['spikes']} spikes, max v_d "
                  f"{d['max_v_d_mV']:.1f} mV)",
        "direction_matches": bool(ok),
        # A single deterministic run: the mechanism shows or it does not (no trials, no CI).
        "verdict": "yes" if ok else "no",
        "cells": cells,
        "calcium_fraction": summary["populations"]["PYR"]["calcium_fraction"],
    }
    if figdir:
        plt = plt_module()
        fig, ax = plt.subplots(3, 3, figsize=(11, 6.5), sharex=True, sharey="row")
        tm = p["time_ms"]
        for c, name in enumerate(["soma only", "dendrite only", "soma + dendrite"]):
            ax[0, c].plot(tm, p["v"][:, c], lw=0.8, color="#1f5fa8")
            ax[0, c].set_title(name)
            ax[1, c].plot(tm, p["v_d"][:, c], lw=0.8, color="#d62728")
            ax[1, c].axhline(-30, ls=":", color="grey", lw=0.8)
            ax[2, c].fill_between(tm, p["burst_mode"][:, c], step="post", color="#ff7f0e",
                                  alpha=0.7)
            for a in ax[:, c]:
                a.axvspan(100, 400, color="grey", alpha=0.08)
            ax[2, c].set_xlabel("time (ms)")
        ax[0, 0].set_ylabel("soma v (mV)")
        ax[1, 0].set_ylabel("dendrite v_d (mV)")
        ax[2, 0].set_ylabel("burst mode")
        fig.suptitle("T1: BAP + dendritic input -> calcium plateau -> burst mode "
                     "(dotted: theta_Ca; grey: current steps)")
        fig.tight_layout()
        fig.savefig(os.path.join(figdir, "t1_bac_firing.png"), dpi=120)
        plt.close(fig)
    return res


def _gain_table(curves):
    gains = {}
    for g, (I, R) in curves.items():
        gains[g] = np.array([A.gain(I, R[k]) for k in range(R.shape[0])])
    return gains


def _fi_figure(curves, gains, key_label, title, path, extra=None):
    plt = plt_module()
    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    cmap = plt.get_cmap("viridis")
    keys = list(curves)
    for n, g in enumerate(keys):
        I, R = curves[g]
        m, _, ci = A.mean_ci(R)
        col = cmap(n / max(len(keys) - 1, 1))
        ax[0].plot(I, m, "o-", ms=3, color=col, label=f"{key_label} = {g:g}")
        ax[0].fill_between(I, m - ci, m + ci, color=col, alpha=0.25)
    ax[0].set_xlabel("somatic current (pA)")
    ax[0].set_ylabel("rate (Hz)")
    ax[0].legend(fontsize=8)
    ax[0].set_title("f-I curves (mean, 95 % CI over trials)")
    x = np.array(keys, float)
    gm = np.array([A.mean_ci(gains[g])[0] for g in keys])
    gci = np.array([A.mean_ci(gains[g])[2] for g in keys])
    ax[1].errorbar(x, 1e3 * gm, yerr=1e3 * gci, fmt="o-", color="black", capsize=3)
    ax[1].set_xlabel(key_label)
    ax[1].set_ylabel("gain (Hz/nA)")
    ax[1].set_title("gain = slope of the rising part")
    if extra:
        a2 = ax[1].twinx()
        a2.plot(x, [extra[g] for g in keys], "s--", color="#d62728")
        a2.set_ylabel("calcium-triggered fraction", color="#d62728")
        a2.set_ylim(0, 1)
    fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _gain_finding(outdir, figdir, key, label, axis_label, title, figure, expect_rise,
                  cells=None, hi=None):
    """T2-T4: f-I curves per value of `key` (of `cells`, or every PYR cell), their gains, and the
    gain at the first value against `hi` (default: the last), expected to rise or to fall."""
    S = SweepResults(outdir)
    curves = fi_curves(S, key, cells=cells)
    gains = _gain_table(curves)
    ca = calcium_by_group(S, key)
    keys = list(curves)
    lo = keys[0]
    hi = hi if hi in keys else keys[-1]
    d, ci, z = effect(gains[lo], gains[hi])
    ok = (d > 0) == expect_rise
    res = {
        "measure": f"f-I gain (Hz/nA) at {label} = {lo:g} vs {hi:g}",
        "effect": f"{1e3 * gains[lo].mean():.1f} -> {1e3 * gains[hi].mean():.1f} Hz/nA "
                  f"({1e3 * d:+.1f} +- {1e3 * ci:.1f}, {z:+.1f} SE)",
        "direction_matches": bool(ok),
        "verdict": verdict(d, ci, expect_rise),
        "gain_hz_per_pA": {f"{g:g}": [float(gains[g].mean()), float(A.mean_ci(gains[g])[2])]
                           for g in gains},
        "z": float(z),
        "trials": int(S.trials),
        "calcium_fraction": {f"{g:g}": v for g, v in ca.items()},
    }
    if figdir:
        _fi_figure(curves, gains, axis_label, title, os.path.join(figdir, figure), ca)
    return res


def analyze_t2(outdir, figdir=None):
    return _gain_finding(outdir, figdir, "populations.PYR.background.dendrite.rate_hz",
                         "dendritic drive (Hz)", "dendritic drive (Hz)",
                         "T2: dendritic drive raises the gain", "t2_dendritic_drive.png", True)


def analyze_t3(outdir, figdir=None):
    return _gain_finding(outdir, figdir, "populations.PYR.coupling.gamma", "gamma",
                         "coupling gamma", "T3: tighter coupling raises the gain",
                         "t3_coupling.png", True)


def analyze_t4(outdir, figdir=None):
    # The 50 test cells (every 4th PYR cell) and the MODEL strength (gain 1) against none.
    return _gain_finding(outdir, figdir, "projections.SOM_PYR.gain", "SOM -> dendrite strength",
                         "SOM -> dendrite strength (x MODEL)",
                         "T4: dendrite-targeted (SOM) inhibition lowers the gain",
                         "t4_som_inhibition.png", False, cells=np.arange(0, 200, 4), hi=1.0)


def analyze_t5(outdir, figdir=None, bins=(0.0, 0.5, 1.0, 1.5, 2.0001)):
    S = SweepResults(outdir)
    key = "injections.1.amplitude_pA"
    t_end = S.duration_ms
    n = S.replicas[0]["populations"]["PYR"]["n"]
    currents = S.values(FI)
    stims = S.values(key)
    ang = 2 * np.pi * np.arange(n) / n
    dist = 2 * np.abs(np.sin(ang / 2))  # chord distance from the stimulated site at angle 0
    nb = len(bins) - 1
    thr = np.full((len(stims), S.trials, nb), np.nan)
    pv_rate = {}
    for si, s in enumerate(stims):
        R = np.full((S.trials, len(currents), n), np.nan)
        for r in S.replicas:
            if r["params"][key] != s:
                continue
            t, i = S.spikes(r, "PYR")
            R[r["trial"], currents.index(r["params"][FI])] = A.rates(t, i, n, WINDOW_MS[0], t_end)
        pv_rate[s] = float(np.mean([r["populations"]["PV"]["rate_hz"] for r in S.replicas
                                    if r["params"][key] == s]))
        for k in range(S.trials):
            for b in range(nb):
                m = (dist >= bins[b]) & (dist < bins[b + 1])
                thr[si, k, b] = A.threshold(currents, R[k][:, m].mean(axis=1))
    shift = thr - thr[0:1]  # threshold shift against no stimulation, per trial and bin
    top = len(stims) - 1
    near, far = shift[top, :, 0], shift[top, :, nb - 1]
    d_near = A.mean_ci(near)
    dnf, ci_nf, z_nf = effect(far, near)
    # The claim: the threshold of the neighbours rises (near shift > 0), and it is the
    # neighbours' (near - far > 0). Both CIs must exclude zero.
    ok = d_near[0] > 0 and dnf > 0
    res = {
        "measure": f"threshold shift (pA) of PYR cells with PV stimulus {stims[top]:g} pA, "
                   f"nearest vs farthest distance bin",
        "effect": f"near {d_near[0]:+.1f} +- {d_near[2]:.1f} pA, far {far.mean():+.1f} pA "
                  f"(near - far {dnf:+.1f} +- {ci_nf:.1f}, {z_nf:+.1f} SE)",
        "direction_matches": bool(ok),
        "verdict": combine(verdict(d_near[0], d_near[2]), verdict(dnf, ci_nf)),
        "threshold_pA": {f"{s:g}": [float(x) for x in np.nanmean(thr[si], axis=0)]
                         for si, s in enumerate(stims)},
        "pv_rate_hz": {f"{s:g}": v for s, v in pv_rate.items()},
        "bins": list(bins),
        "trials": int(S.trials),
        "z": float(z_nf),
    }
    if figdir:
        plt = plt_module()
        fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
        centres = 0.5 * (np.array(bins[:-1]) + np.array(bins[1:]))
        cmap = plt.get_cmap("magma")
        for si, s in enumerate(stims):
            if si == 0:
                continue
            m, _, ci = A.mean_ci(shift[si])
            ax[0].errorbar(centres, m, yerr=ci, fmt="o-", capsize=3,
                           color=cmap(0.2 + 0.6 * si / len(stims)),
                           label=f"PV stimulus {s:g} pA (PV {pv_rate[s]:.1f} Hz)")
        ax[0].axhline(0, color="grey", lw=0.8)
        ax[0].set_xlabel("distance from the stimulated PV cells (chord, unit ring)")
        ax[0].set_ylabel("threshold shift (pA)")
        ax[0].legend(fontsize=8)
        ax[0].set_title("rheobase shift against no stimulation (95 % CI)")
        for si, s in enumerate(stims):
            m = np.nanmean(thr[si], axis=0)
            ax[1].plot(centres, m, "o-", color=cmap(0.2 + 0.6 * si / len(stims)), label=f"{s:g} pA")
        ax[1].set_xlabel("distance")
        ax[1].set_ylabel("threshold (pA)")
        ax[1].legend(fontsize=8)
        ax[1].set_title("rheobase (rate > 1 Hz)")
        fig.suptitle("T5: soma-targeted (PV) inhibition raises the threshold of neighbours")
        fig.tight_layout()
        fig.savefig(os.path.join(figdir, "t5_pv_inhibition.png"), dpi=120)
        plt.close(fig)
    return res


def _stdp_table(S, proj):
    """{condition: (rates [trial, point], dw/dt [trial, point], t_half [trial, point])}."""
    currents = S.values(FI)
    out = {}
    for c in S.conditions:
        shape = (S.trials, len(currents))
        rate, speed, half = np.full(shape, np.nan), np.full(shape, np.nan), np.full(shape, np.nan)
        for r in S.select(condition=c):
            k, j = r["trial"], currents.index(r["params"][FI])
            tw, w = A.read_weights(S.replica_dir(r), proj)
            speed[k, j], half[k, j] = A.stdp_speed(tw, w)
            rate[k, j] = r["populations"]["PYR"]["rate_hz"]
        out[c] = (rate, speed, half)
    return out


def analyze_t6(outdir, figdir=None):
    S = SweepResults(outdir)
    tab = _stdp_table(S, "INPUT_PYR")
    rr, sr, hr = tab["regular"]
    rb, sb, hb = tab["bursting"]
    # Compare at matched postsynaptic rates: per trial, interpolate |dw|/dt against rate over
    # the rates both conditions cover, and average the ratio bursting / regular there.
    ratios = []
    for k in range(S.trials):
        lo = max(rr[k].min(), rb[k].min())
        hi = min(rr[k].max(), rb[k].max())
        if hi <= lo:
            continue
        grid = np.linspace(lo, hi, 9)
        o1, o2 = np.argsort(rr[k]), np.argsort(rb[k])
        ratios.append(np.mean(np.interp(grid, rb[k][o2], sb[k][o2]) /
                              np.interp(grid, rr[k][o1], sr[k][o1])))
    ratios = np.array(ratios)
    m, se, ci = A.mean_ci(ratios) if len(ratios) > 1 else (np.nan, np.nan, np.nan)
    z = (m - 1) / se if se == se and se > 0 else float("nan")
    ok = len(ratios) > 0 and m > 1
    res = {
        "measure": "STDP speed (mean |dw|/dt) bursting / regular at matched postsynaptic rates",
        "effect": f"ratio {m:.3f} +- {ci:.3f} ({z:+.1f} SE from 1) over rates "
                  f"{max(rr.min(), rb.min()):.1f}-{min(rr.max(), rb.max()):.1f} Hz",
        "direction_matches": bool(ok),
        "verdict": verdict(m - 1, ci) if len(ratios) else "no",
        "ratio": [float(m), float(ci)],
        "z": float(z),
        "trials": int(S.trials),
        "burst_fraction": {c: float(np.mean([r["populations"]["PYR"]["burst_fraction"]
                                             for r in S.select(condition=c)]))
                           for c in S.conditions},
        "time_to_half_ms": {"regular": float(np.nanmean(hr)), "bursting": float(np.nanmean(hb))},
    }
    if figdir:
        plt = plt_module()
        fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
        for c, col in (("regular", "#1f5fa8"), ("bursting", "#d62728")):
            rate, speed, half = tab[c]
            ax[0].errorbar(rate.mean(0), 1e3 * speed.mean(0), yerr=1e3 * A.mean_ci(speed)[2],
                           xerr=A.mean_ci(rate)[2], fmt="o-", color=col, capsize=3,
                           label=f"{c} (burst fraction {res['burst_fraction'][c]:.2f})")
            ax[1].plot(rate.mean(0), half.mean(0), "o-", color=col, label=c)
        ax[0].set_xlabel("postsynaptic rate (Hz)")
        ax[0].set_ylabel("mean |dw|/dt (pS/s)")
        ax[0].legend(fontsize=8)
        ax[0].set_title("STDP speed against rate (95 % CI)")
        ax[1].set_xlabel("postsynaptic rate (Hz)")
        ax[1].set_ylabel("time to half of the final change (ms)")
        ax[1].legend(fontsize=8)
        fig.suptitle(f"T6: bursting speeds STDP (x{m:.2f} at matched rates)")
        fig.tight_layout()
        fig.savefig(os.path.join(figdir, "t6_stdp_bursting.png"), dpi=120)
        plt.close(fig)
    return res


def _pulse_windows(outdir):
    """(start, stop) ms of the gamma pulses of a replica (its schedule's bounded windows that
    set PYR.gamma), from its resolved config."""
    wins = []
    for e in A.read_resolved_config(outdir).get("schedule") or []:
        if e.get("knob") == "PYR.gamma" and e.get("op", "set") == "set" and \
                float(e.get("stop_ms", -1)) >= 0:
            wins.append((float(e["start_ms"]), float(e["stop_ms"])))
    return sorted(wins)


def analyze_t7(outdir, figdir=None):
    S = SweepResults(outdir)
    per = {}
    for c in S.conditions:
        rows = []
        for r in S.select(condition=c):
            tw, w = A.read_weights(S.replica_dir(r), "INPUT_PYR")
            mid, rate = A.dw_rate(tw, w)
            rows.append((r["trial"], tw, w, mid, rate))
        per[c] = sorted(rows, key=lambda x: x[0])
    wins = _pulse_windows(S.replica_dir(S.select(condition="pulses")[0]))
    mid = per["pulses"][0][3]
    inside = np.zeros(len(mid), bool)
    for a, b in wins:
        inside |= (mid >= a) & (mid < b)
    # Fast timescale: |dw|/dt inside the pulse windows, pulses vs control (same windows, same
    # seeds: common random numbers).
    fast_p = np.array([row[4][inside].mean() for row in per["pulses"]])
    fast_c = np.array([row[4][inside].mean() for row in per["control"]])
    ratio = fast_p / fast_c
    m, se, ci = A.mean_ci(ratio)
    z = (m - 1) / se if se > 0 else float("nan")
    # Pulse-triggered average of |dw|/dt (pulses - control) and its decay after the offset.
    period = wins[1][0] - wins[0][0] if len(wins) > 1 else 1000.0
    width = wins[0][1] - wins[0][0]
    dt = mid[1] - mid[0]
    lag = np.arange(-100.0, period - 100.0, dt)
    pta = []
    for (kp, _, _, mp, rp), (kc, _, _, mc, rc) in zip(per["pulses"], per["control"]):
        acc = []
        for a, _ in wins:
            sel = (mp >= a - 100) & (mp < a - 100 + period)
            d = (rp - rc)[sel]
            if len(d) == len(lag):
                acc.append(d)
        pta.append(np.mean(acc, axis=0))
    pta = np.array(pta)
    pm = pta.mean(0)
    after = lag >= width
    excess = pm[after]
    peak = pm[(lag >= 0) & (lag < width)].max() if np.any((lag >= 0) & (lag < width)) else np.nan
    below = np.nonzero(excess < 0.5 * peak)[0]
    relax_ms = float(lag[after][below[0]] - width) if len(below) else float("nan")
    # Slow timescale: the learned weights. Mean |w_x - w_control| per trial just before each
    # pulse and at the end (zero before the first pulse: same seeds), for the five pulses and for
    # the single pulse (what one perturbation of a noisy network does by itself).
    tw = per["pulses"][0][1]
    probes = [a for a, _ in wins] + [tw[-1]]

    def divergence(cond):
        out = []
        for (_, tp, wp, _, _), (_, tc, wc, _, _) in zip(per[cond], per["control"]):
            out.append([np.abs(wp[np.searchsorted(tp, x) - 1] -
                               wc[np.searchsorted(tc, x) - 1]).mean() for x in probes])
        return np.array(out)

    div = divergence("pulses")
    div1 = divergence("single_pulse") if "single_pulse" in per else None
    net_p = np.array([row[2][-1].mean() - row[2][0].mean() for row in per["pulses"]])
    net_c = np.array([row[2][-1].mean() - row[2][0].mean() for row in per["control"]])
    dn, dci, dz = effect(net_c, net_p)
    slow = effect(div1[:, -1], div[:, -1]) if div1 is not None else (np.nan, np.nan, np.nan)
    ok = m > 1 and slow[0] > 0
    res = {
        "measure": "fast: |dw|/dt inside the pulse windows, pulses / control; slow: distance "
                   "of the learned weights from control at the end, 5 pulses vs the first only",
        "effect": f"fast: x{m:.2f} +- {ci:.2f} during pulses ({z:+.1f} SE), back to half "
                  f"within {relax_ms:.0f} ms of the offset; slow: weights end "
                  f"{1e3 * div[:, -1].mean():.1f} pS from control after 5 pulses vs "
                  f"{1e3 * div1[:, -1].mean():.1f} after 1 ({1e3 * slow[0]:+.1f} +- "
                  f"{1e3 * slow[1]:.1f} pS, {slow[2]:+.1f} SE); net mean change "
                  f"{1e3 * dn:+.2f} +- {1e3 * dci:.2f} pS vs control",
        "direction_matches": bool(ok),
        "verdict": combine(verdict(m - 1, ci), verdict(slow[0], slow[1])),
        "fast_ratio": [float(m), float(ci)],
        "relaxation_ms": relax_ms,
        "divergence_nS": [float(x) for x in div.mean(0)],
        "divergence_single_pulse_nS": [float(x) for x in div1.mean(0)],
        "slow_z": float(slow[2]),
        "net_change_difference_nS": [float(dn), float(dci), float(dz)],
        "z": float(z),
        "trials": int(S.trials),
    }
    if figdir:
        plt = plt_module()
        fig, ax = plt.subplots(2, 2, figsize=(12, 7))
        for c, col in (("control", "#1f5fa8"), ("pulses", "#d62728")):
            rates = np.array([row[4] for row in per[c]])
            ax[0, 0].plot(mid, 1e3 * rates.mean(0), color=col, lw=0.8, label=c)
            wmean = np.array([row[2].mean(axis=1) for row in per[c]])
            ax[1, 0].plot(per[c][0][1], 1e3 * (wmean.mean(0) - wmean.mean(0)[0]), color=col,
                          label=c)
        for a in (ax[0, 0], ax[1, 0]):
            for w0, w1 in wins:
                a.axvspan(w0, w1, color="#ff7f0e", alpha=0.25, lw=0)
            a.legend(fontsize=8)
            a.set_xlabel("time (ms)")
        ax[0, 0].set_ylabel("mean |dw|/dt (pS/s)")
        ax[0, 0].set_title("fast: weight updates speed up during each pulse (orange)")
        ax[1, 0].set_ylabel("mean weight change (pS)")
        ax[1, 0].set_title("net learned change")
        pm_ci = A.mean_ci(pta)[2]
        ax[0, 1].plot(lag, 1e3 * pm, color="black")
        ax[0, 1].fill_between(lag, 1e3 * (pm - pm_ci), 1e3 * (pm + pm_ci), color="grey", alpha=0.3)
        ax[0, 1].axvspan(0, width, color="#ff7f0e", alpha=0.25, lw=0)
        ax[0, 1].axhline(0, color="grey", lw=0.8)
        ax[0, 1].set_xlabel("time from pulse onset (ms)")
        ax[0, 1].set_ylabel("|dw|/dt pulses - control (pS/s)")
        ax[0, 1].set_title("pulse-triggered average (95 % CI over trials)")
        ax[1, 1].errorbar(probes, 1e3 * div.mean(0), yerr=1e3 * A.mean_ci(div)[2], fmt="o-",
                          color="#d62728", capsize=3, label="5 pulses")
        ax[1, 1].errorbar(probes, 1e3 * div1.mean(0), yerr=1e3 * A.mean_ci(div1)[2], fmt="s--",
                          color="#7f7f7f", capsize=3, label="first pulse only")
        ax[1, 1].legend(fontsize=8)
        for w0, w1 in wins:
            ax[1, 1].axvspan(w0, w1, color="#ff7f0e", alpha=0.25, lw=0)
        ax[1, 1].set_xlabel("time (ms)")
        ax[1, 1].set_ylabel("mean |w_pulses - w_control| (pS)")
        ax[1, 1].set_title("slow: the learned weights drift apart, pulse by pulse")
        fig.suptitle("T7: gain pulses during learning")
        fig.tight_layout()
        fig.savefig(os.path.join(figdir, "t7_gain_pulses.png"), dpi=120)
        plt.close(fig)
    return res


VERDICT_TEXT = {"yes": "as in the paper (the 95 % CI excludes zero)",
                "indicative": "INDICATIVE only: the paper's direction, but the 95 % CI includes "
                              "zero (more trials needed)",
                "no": "NOT as in the paper (the other direction)"}

ANALYSES = {"T1": analyze_t1, "T2": analyze_t2, "T3": analyze_t3, "T4": analyze_t4,
            "T5": analyze_t5, "T6": analyze_t6, "T7": analyze_t7}


def run_finding(fid, out, l5sim, quick=False, sets=(), backend="cpu", threads=0, figdir=None,
                pack=None):
    cfg = os.path.join(ROOT, "configs", "paper", FINDINGS[fid][0])
    sets = list(sets)
    if quick and fid in QUICK and not any(s.startswith("sweep.trials=") for s in sets):
        sets.append(f"sweep.trials={QUICK[fid]}")
    d = os.path.join(out, fid.lower())
    wall = run_l5sim(l5sim, cfg, d, sets, backend, threads, pack)
    res = ANALYSES[fid](d, figdir)
    res.update({"id": fid, "claim": FINDINGS[fid][1], "config": os.path.relpath(cfg, ROOT),
                "wall_s": round(wall, 1)})
    return res


def write_table(results, path, args):
    lines = ["# l5sim: the findings of arXiv 2507.03222 (MODEL.md section 11)", "",
             f"Run {time.strftime('%Y-%m-%d %H:%M')} with `{' '.join(sys.argv)}` "
             f"({'quick: reduced trials' if args.quick else 'full trial counts'}, backend "
             f"{args.backend}). Protocols: docs/REPRODUCTION.md.", "",
             "As in the paper: **yes** when the effect has the paper's sign and its 95 % "
             "confidence interval (Student t, Welch-Satterthwaite degrees of freedom) excludes "
             "zero; **indicative** when it has the sign but the interval includes zero (too few "
             "trials to tell); **no** when it has the other sign.", "",
             "| id | paper's claim | measure | effect (95 % CI) | trials | as in the paper | "
             "wall s |", "|---|---|---|---|---|---|---|"]
    for r in results:
        v = r["verdict"]
        lines.append(f"| {r['id']} | {r['claim']} | {r['measure']} | {r['effect']} | "
                     f"{r.get('trials', 'one run')} | {v if v == 'yes' else '**' + v + '**'} | "
                     f"{r['wall_s']} |")
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[1])
    ap.add_argument("--out", default=os.path.join(ROOT, "out", "reproduce"))
    ap.add_argument("--l5sim", default=os.path.join(ROOT, "build", "l5sim"))
    ap.add_argument("--quick", action="store_true", help="reduced trial counts (minutes on a CPU)")
    ap.add_argument("--only", default="", help="comma-separated ids, e.g. T2,T5")
    ap.add_argument("--backend", default="cpu", choices=["cpu", "cuda", "auto"])
    ap.add_argument("--threads", type=int, default=0, help="replicas at once (CPU; 0 = all cores)")
    ap.add_argument("--pack", choices=["auto", "on", "off"],
                    help="l5sim run --pack for the sweeps (on: replicas packed into one "
                         "simulation; see configs/README.md)")
    args = ap.parse_args()
    ids = [s.strip().upper() for s in args.only.split(",") if s.strip()] or list(FINDINGS)
    for i in ids:
        if i not in FINDINGS:
            ap.error(f"--only: unknown finding '{i}' (T1..T7)")
    if not os.access(args.l5sim, os.X_OK):
        print(f"reproduce.py: {args.l5sim}: no l5sim binary (build first: scripts/build.sh)",
              file=sys.stderr)
        return 2
    figdir = os.path.join(args.out, "figures")
    os.makedirs(figdir, exist_ok=True)
    results = []
    try:
        for fid in ids:
            print(f"reproduce: {fid}: {FINDINGS[fid][1]} ...", flush=True)
            r = run_finding(fid, args.out, args.l5sim, args.quick, (), args.backend,
                            args.threads, figdir, args.pack)
            if "trials" in r:
                text, runs = VERDICT_TEXT[r["verdict"]], f"{r['trials']} trials"
            else:  # T1: one deterministic run, no statistics
                text = "as in the paper" if r["verdict"] == "yes" else "NOT as in the paper"
                runs = "one deterministic run"
            print(f"reproduce: {fid}: {r['effect']} -> {text} ({runs}, {r['wall_s']} s)",
                  flush=True)
            results.append(r)
    except (RuntimeError, OSError, KeyError, ValueError) as e:
        print(f"reproduce.py: {e}", file=sys.stderr)
        return 1
    with open(os.path.join(args.out, "results.json"), "w") as f:
        json.dump(results, f, indent=2, default=float)
    write_table(results, os.path.join(args.out, "results.md"), args)
    count = {v: sum(r["verdict"] == v for r in results) for v in VERDICT_TEXT}
    print(f"reproduce: of {len(results)} findings, {count['yes']} as in the paper (95 % CI "
          f"excludes zero), {count['indicative']} indicative, {count['no']} not; table "
          f"{os.path.join(args.out, 'results.md')}, figures {figdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
