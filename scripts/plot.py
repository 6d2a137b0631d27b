#!/usr/bin/env python3
"""Turn an l5sim output directory into PNG figures.

    python3 scripts/plot.py OUTDIR [--t-start MS] [--t-stop MS] [--max-cells N] ...

Writes, into OUTDIR (or --figdir):
  raster.png   spikes of every population, stacked, one colour per population (spikes.h5)
  rates.png    population rates over time: bins of --bin-ms, Gaussian-smoothed (spikes.h5), with
               the schedule's windows shaded and each population's burst and calcium-triggered
               fractions (pyramidal) or CV of ISIs (others)

Printed: per population its rate, burst fraction (pyramidal populations only: spikes in runs of
ISIs < 10 ms; meaningless for fast-spiking interneurons), calcium-triggered fraction (from
summary.json) and mean CV of ISIs; and the same per epoch when the config has a schedule (the
epochs are delimited by the schedule windows' edges).
  probes.png   every recorded variable of every probe, one line per cell (probes.h5, if present)
  plateau.png  close-ups of probed pyramidal cells: a somatic spike whose back-propagated spike
               (BAP) lifts the dendrite over theta_Ca into a calcium plateau, and a burst the soma
               fires in burst mode during a plateau (a probe with v, v_d and burst_mode sampled
               at least every 0.5 ms)
  weights.png  mean weight +/- s.d. and 10-90 % band over time, the change since the first
               snapshot and between snapshots (mean |dw|), and the histogram of the first vs the
               last snapshot, per recorded projection (weights.h5, if present)

Inputs (see host/io/output.cpp): spikes.h5 is a SONATA spike report,
/spikes/<pop>/{timestamps (ms), node_ids}; probes.h5 has /probes/<pop>_<k>/{time_ms, node_ids,
<variable> [time, cell]}; weights.h5 has /weights/<proj>/{time_ms, source_ids, target_ids,
w [snapshot, synapse], histogram_edges, histogram [snapshot, bin], mean_abs_dw [snapshot]};
summary.json gives population sizes (silent cells count in rates), config order and the
simulated duration.

The files are read, and the burst flags, CVs and rates computed, by the l5sim package
(python/l5sim: l5sim.analysis's checked readers, burst_flags, mean_cv, rates), the one place
that reads l5sim's outputs.

Exit codes: 0 ok, 2 missing or unreadable input (the message names the file), 1 other errors.
"""
import argparse
import os
import sys

import numpy as np

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

try:
    import h5py  # noqa: F401 (the package's readers need it)
    import yaml  # noqa: F401 (config.resolved.yaml)
except ImportError:  # pragma: no cover - the message is the point
    sys.exit("plot.py: needs h5py and PyYAML (scripts/install_deps.sh, or pip install h5py "
             "pyyaml numpy matplotlib)")

# The package (python/l5sim; NumPy, h5py, PyYAML; not the compiled module): its checked readers
# (l5sim.analysis: a missing or unreadable file raises l5sim.OutputError naming it), spike
# statistics, raster and type colours. One colour per cell type (populations.<name>.type; every
# type of the registry, `l5sim info --cell-types`, has one: tests/python/test_plot.py checks it);
# a second population of a type gets a lighter shade of it; a type not listed gets one of
# OTHER_COLOURS.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
from l5sim.analysis import (BURST_ISI_MS, OutputError, burst_flags, mean_cv,  # noqa: E402,F401
                            rates, read_all_spikes, read_probe_groups, read_resolved_config,
                            read_summary, read_weight_groups)
from l5sim.results import TYPE_COLOURS, draw_raster, shown_cells  # noqa: E402,F401
OTHER_COLOURS = ["#ff7f0e", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"]

# Readable labels for probe variables (units from MODEL.md).
VAR_LABELS = {  # in the order panels are drawn
    "v": "v (mV)", "v_d": "v_d (mV)", "u": "u (pA)", "u_d": "u_d (pA)",
    "g_ampa": "g_AMPA (nS)", "g_nmda": "g_NMDA (nS)", "g_nmda_bg": "g_NMDA bg (nS)",
    "g_gaba": "g_GABA (nS)", "g_adapt": "g_adapt (nS)", "i_ext": "I_ext (pA)",
    "g_ampa_d": "g_AMPA,d (nS)", "g_nmda_d": "g_NMDA,d (nS)", "g_gaba_d": "g_GABA,d (nS)",
    "g_gaba_b": "g_GABA_B (nS)", "g_gaba_b_d": "g_GABA_B,d (nS)",
    "i_ext_d": "I_ext,d (pA)", "burst_mode": "burst mode", "gamma": "gamma",
}


class InputError(Exception):
    """A bad input that is not a file's problem (those raise l5sim.OutputError); exit code 2."""


def lighter(hex_colour, k):
    """hex_colour mixed with white: 0 (itself) up to 0.6 (pale) as k grows."""
    f = min(0.6, 0.3 * k)
    rgb = [int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{round(c + (255 - c) * f):02x}" for c in rgb)


def colour_map(names, types=None):
    """Population name -> colour, by cell type (types: name -> type; missing: pyramidal)."""
    out, used, other = {}, {}, {}
    for name in names:
        t = (types or {}).get(name, "pyramidal")
        if t not in TYPE_COLOURS and t not in other:
            other[t] = OTHER_COLOURS[len(other) % len(OTHER_COLOURS)]
        base = TYPE_COLOURS.get(t) or other[t]
        out[name] = lighter(base, used.get(t, 0))
        used[t] = used.get(t, 0) + 1
    return out


def fmt_cv(cv):
    """The CV of ISIs, or n/a where no cell fired 3 spikes."""
    return "n/a" if cv != cv else f"{cv:.2f}"


def population_types(summary, resolved):
    """Population name -> cell type (summary.json's, else the resolved config's)."""
    types = {}
    for name, p in ((resolved or {}).get("populations") or {}).items():
        types[name] = (p or {}).get("type", "pyramidal")
    for name, p in ((summary or {}).get("populations") or {}).items():
        if isinstance(p, dict) and p.get("type"):
            types[name] = p["type"]
    return types


def schedule_windows(resolved, duration):
    """The schedule's windows and the step and pulse-train injections' on-times as (start ms,
    stop ms, label), clipped to the run."""
    out = []

    def add(start, stop, label):
        if stop < 0 or stop > duration:
            stop = duration
        if start < duration:
            out.append((start, stop, label))

    for e in ((resolved or {}).get("schedule") or []):
        op = "+=" if e.get("op") == "add" else "="
        cells = e.get("cells", "all")
        some = "" if cells == "all" else " (some cells)"
        add(float(e.get("start_ms", 0)), float(e.get("stop_ms", -1)),
            f"{e['knob']} {op} {float(e['value']):g}{some}")
    for inj in ((resolved or {}).get("injections") or []):
        name = inj.get("name")
        if inj.get("kind") not in ("step", "pulse_train"):
            continue
        pulses = " pulses" if inj.get("kind") == "pulse_train" else ""
        add(float(inj.get("start_ms", 0)), float(inj.get("stop_ms", -1)),
            f"injection {name}: {float(inj.get('amplitude_pA', 0)):g} pA{pulses} into "
            f"{inj.get('population')} {inj.get('compartment', 'soma')}")
    return out


def epochs(windows, duration):
    """The run cut at every window edge: (start ms, stop ms, the windows open in it)."""
    edges = sorted({0.0, float(duration)} | {w[0] for w in windows} | {w[1] for w in windows})
    out = []
    for a, b in zip(edges[:-1], edges[1:]):
        if b > a:
            inside = [w[2] for w in windows if w[0] <= a and w[1] >= b]
            out.append((a, b, "; ".join(inside) or "no window open"))
    return out


def spike_stats(p, t0, t1, flags):
    """Rate (Hz), burst fraction and mean CV of ISIs of population p in [t0, t1); `flags`: the
    burst flags of p's spikes over the whole run (a burst across t0 or t1 counts)."""
    sel = (p["t"] >= t0) & (p["t"] < t1)
    n_sp = int(sel.sum())
    rate = float(rates(p["t"], p["ids"], p["n"], t0, t1).mean()) if t1 > t0 else float("nan")
    bf = float(flags[sel].mean()) if n_sp else 0.0
    return rate, bf, mean_cv(p["t"][sel], p["ids"][sel])


def plot_raster(pops, colours, t0, t1, max_cells, path):
    fig, ax = plt.subplots(figsize=(11, 6.5))
    draw_raster(ax, pops, colours, t0, t1, max_cells)
    ax.set_title("Spike raster")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def gaussian_smooth(x, sigma_bins):
    if sigma_bins <= 0 or x.size < 3:
        return x
    half = int(np.ceil(3 * sigma_bins))
    k = np.exp(-0.5 * (np.arange(-half, half + 1) / sigma_bins) ** 2)
    k /= k.sum()
    # Reflect at the edges so the ends are not pulled towards zero.
    padded = np.pad(x, half, mode="reflect") if x.size > half else np.pad(x, half, mode="edge")
    return np.convolve(padded, k, mode="valid")


def plot_rates(pops, colours, duration, bin_ms, smooth_ms, path, windows=(), notes=None):
    edges = np.arange(0.0, duration + bin_ms, bin_ms)
    if edges[-1] < duration:
        edges = np.append(edges, duration)
    centres = 0.5 * (edges[:-1] + edges[1:])
    widths_s = np.diff(edges) * 1e-3
    fig, axes = plt.subplots(len(pops), 1, figsize=(11, 1.9 * len(pops) + 1.0), sharex=True,
                             squeeze=False)
    for ax, p in zip(axes[:, 0], pops):
        counts, _ = np.histogram(p["t"], bins=edges)
        rate = counts / (p["n"] * widths_s)
        smooth = gaussian_smooth(rate, smooth_ms / bin_ms)
        c = colours[p["name"]]
        ax.step(centres, rate, where="mid", color=c, alpha=0.3, lw=0.8,
                label=f"{bin_ms:g} ms bins")
        ax.plot(centres, smooth, color=c, lw=1.6, label=f"smoothed ({smooth_ms:g} ms)")
        mean = p["t"].size / (p["n"] * duration * 1e-3)
        note = (notes or {}).get(p["name"], "")
        ax.axhline(mean, color="k", lw=0.7, ls="--", label=f"mean {mean:.2f} Hz{note}")
        for k, (a, b, label) in enumerate(windows):
            ax.axvspan(a, b, color=plt.get_cmap("Pastel2")(k % 8), alpha=0.5, lw=0,
                       label=label if ax is axes[0, 0] else None)
        ax.set_ylabel(f"{p['name']}\nrate (Hz)")
        ax.set_ylim(bottom=0, top=max(1.0, 1.1 * float(rate.max(initial=0))))
        ax.legend(loc="upper right", fontsize=8, frameon=False, ncol=3)
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 0].set_xlim(0, duration)
    axes[0, 0].set_title("Population rates"
                         + (" (shaded: schedule and injection windows)" if windows else ""))
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)


def plot_probes(outdir, t0, t1, max_traces, path):
    panels = []  # (group name, variable, time, data [time, cell], node ids)
    cells = max_traces if max_traces >= 0 else None  # read only the cells drawn
    for gname, g in read_probe_groups(outdir, max_cells=cells).items():
        t = np.asarray(g["time_ms"])
        ids = np.asarray(g["node_ids"]) if "node_ids" in g else None
        sel = (t >= t0) & (t <= t1)
        order = list(VAR_LABELS)
        variables = [v for v in g if v not in ("time_ms", "node_ids")]
        variables.sort(key=lambda v: (order.index(v) if v in order else len(order), v))
        for var in variables:
            data = np.asarray(g[var])
            if data.ndim == 1:
                data = data[:, None]
            panels.append((gname, var, t[sel], data[sel][:, :max_traces], ids))
    if not panels:
        return False
    fig, axes = plt.subplots(len(panels), 1, figsize=(11, 1.7 * len(panels) + 1.0), sharex=True,
                             squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, (gname, var, t, data, ids) in zip(axes[:, 0], panels):
        for c in range(data.shape[1]):
            label = f"cell {ids[c]}" if ids is not None and c < len(ids) else f"#{c}"
            if var == "burst_mode":
                ax.step(t, data[:, c] + 0.06 * c, where="post", color=cmap(c % 10), lw=0.9,
                        label=label)
            else:
                ax.plot(t, data[:, c], color=cmap(c % 10), lw=0.7, label=label)
        if var == "burst_mode":
            ax.set_ylim(-0.1, 1.1 + 0.06 * data.shape[1])
            ax.set_yticks([0, 1])
        ax.set_ylabel(f"{gname}\n{VAR_LABELS.get(var, var)}", fontsize=9)
        ax.legend(loc="upper left", bbox_to_anchor=(1.005, 1.0), fontsize=7, frameon=False)
    axes[-1, 0].set_xlabel("time (ms)")
    axes[-1, 0].set_xlim(t0, t1)
    axes[0, 0].set_title("State probes")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True


def plateau_episodes(t, v, v_d, mode, v_peak, theta):
    """Two kinds of episode among the probed cells (columns), as (column, sample index):
    a somatic spike, fired while v_d was below theta, whose back-propagated spike lifts v_d over
    theta within 5 ms (a BAP-triggered plateau); and a burst, a spike fired in burst mode during a
    plateau and followed by the next within 10 ms. The first of each kind, or None."""
    bap, burst = None, None
    for c in range(v.shape[1]):
        spikes = np.flatnonzero(v[:, c] >= v_peak)
        for k, i in enumerate(spikes):
            j = np.searchsorted(t, t[i] + 5.0)
            if bap is None and v_d[i, c] < theta and np.any(v_d[i + 1:j + 1, c] >= theta):
                bap = (c, i)
            # A probe sample with v >= v_peak holds the burst mode its reset uses.
            if (burst is None and mode[i, c] > 0.5 and v_d[i, c] >= theta
                    and k + 1 < spikes.size and t[spikes[k + 1]] - t[i] < BURST_ISI_MS):
                burst = (c, i)
    return bap, burst


def plot_plateau(outdir, resolved, path):
    """plateau.png from the first probe of a pyramidal population with v, v_d and burst_mode
    sampled at least every 0.5 ms: a BAP-triggered plateau and a burst fired in a plateau, side
    by side. False when there is no such probe or neither episode occurred."""
    pops = (resolved or {}).get("populations") or {}
    for gname, g in read_probe_groups(outdir, ("v", "v_d", "burst_mode")).items():
        if not all(k in g for k in ("time_ms", "v", "v_d", "burst_mode")):
            continue
        t = np.asarray(g["time_ms"])
        if t.size < 3 or np.median(np.diff(t)) > 0.5:
            continue
        pop = pops.get(gname.rsplit("_", 1)[0]) or {}
        v_peak = float((pop.get("soma") or {}).get("v_peak_mV", 50))
        theta = float((pop.get("dendrite") or {}).get("theta_Ca_mV", -30))
        v, v_d = np.asarray(g["v"]), np.asarray(g["v_d"])
        mode = np.asarray(g["burst_mode"])
        if v.ndim == 1:
            v, v_d, mode = v[:, None], v_d[:, None], mode[:, None]
        ids = np.asarray(g["node_ids"]) if "node_ids" in g else np.arange(v.shape[1])
        bap, burst = plateau_episodes(t, v, v_d, mode, v_peak, theta)
        shown = [(e, title, span) for e, title, span in (
            (bap, "a back-propagated spike starts a calcium plateau", (-10, 60)),
            (burst, "during a plateau the soma fires in burst mode", (-40, 40)))
            if e is not None]
        if not shown:
            continue
        fig, axes = plt.subplots(3, len(shown), figsize=(6.2 * len(shown), 6.4),
                                 sharex="col", squeeze=False,
                                 gridspec_kw={"height_ratios": [3, 3, 1]})
        for col, ((c, i), title, (lo, hi)) in enumerate(shown):
            t_s = t[i]
            sel = (t >= t_s + lo) & (t <= t_s + hi)
            tt = t[sel] - t_s
            ax_v, ax_d, ax_m = axes[:, col]
            ax_v.plot(tt, v[sel, c], color="#1f5fa8", lw=1.0)
            ax_v.set_ylabel("soma v (mV)")
            ax_v.set_title(f"{title}\n({gname}, cell {ids[c]}, t = {t_s:.1f} ms)",
                           fontsize=10)
            ax_d.plot(tt, v_d[sel, c], color="#9467bd", lw=1.0)
            ax_d.axhline(theta, color="#d62728", ls="--", lw=0.8,
                         label=f"theta_Ca = {theta:g} mV")
            ax_d.set_ylabel("dendrite v_d (mV)")
            ax_d.legend(loc="lower right", fontsize=8, frameon=False)
            ax_m.step(tt, mode[sel, c], where="post", color="#2ca02c", lw=1.0)
            ax_m.set_ylim(-0.2, 1.2)
            ax_m.set_yticks([0, 1])
            ax_m.set_ylabel("burst\nmode")
            ax_m.set_xlabel("time from the spike (ms)")
        fig.suptitle("Soma-dendrite coupling (MODEL.md section 4): burst mode = the next "
                     "reset uses (c_burst, d_burst); it is drawn with probability gamma "
                     "each step while v_d >= theta_Ca", fontsize=9)
        fig.tight_layout()
        fig.savefig(path, dpi=130)
        plt.close(fig)
        return True
    return False


def plot_weights(outdir, path):
    projs = []
    for name, g in read_weight_groups(outdir).items():
        step_dw = np.asarray(g["mean_abs_dw"]) if "mean_abs_dw" in g else None
        projs.append((name, np.asarray(g["time_ms"]), np.asarray(g["w"]), step_dw))
    if not projs:
        return False
    fig, axes = plt.subplots(len(projs), 3, figsize=(13, 3.2 * len(projs) + 0.6), squeeze=False,
                             gridspec_kw={"width_ratios": [5, 4, 4]})
    for (name, t, w, step_dw), (ax_t, ax_d, ax_h) in zip(projs, axes):
        if w.ndim != 2 or w.shape[0] == 0 or w.shape[1] == 0:
            ax_t.text(0.5, 0.5, f"{name}: no snapshots", transform=ax_t.transAxes, ha="center")
            ax_d.axis("off")
            ax_h.axis("off")
            continue
        marker = "o-" if t.size < 40 else "-"
        mean, sd = w.mean(axis=1), w.std(axis=1)
        lo, hi = np.percentile(w, [10, 90], axis=1)
        ax_t.fill_between(t, lo, hi, color="#1f5fa8", alpha=0.18, lw=0, label="10-90 %")
        ax_t.plot(t, mean, marker, color="#1f5fa8", ms=3, lw=1.4, label="mean")
        ax_t.plot(t, mean + sd, ":", color="#1f5fa8", lw=1.0, label="mean +/- s.d.")
        ax_t.plot(t, mean - sd, ":", color="#1f5fa8", lw=1.0)
        ax_t.set_xlabel("time (ms)")
        ax_t.set_ylabel(f"{name}\nw (nS)")
        ax_t.set_title(f"{name}: {w.shape[1]} recorded synapses, {t.size} snapshots", fontsize=10)
        ax_t.legend(loc="upper left", bbox_to_anchor=(0, -0.22), fontsize=8, frameon=False,
                    ncol=3)
        # The change since the first snapshot shows plasticity even when the spread of the
        # (distance-dependent) initial weights dwarfs it.
        dw = w - w[0]
        ax_d.plot(t, np.abs(dw).mean(axis=1), marker, color="#9467bd", ms=3, lw=1.4,
                  label="mean |w - w_first|")
        ax_d.plot(t, dw.mean(axis=1), marker, color="#ff7f0e", ms=3, lw=1.0,
                  label="mean (w - w_first)")
        if step_dw is not None and step_dw.size == t.size and t.size > 1:
            # weights.h5's own mean |dw| between consecutive snapshots (l5sim writes it)
            ax_d.plot(t[1:], step_dw[1:], marker, color="#2ca02c", ms=3, lw=1.0,
                      label="mean |dw| since the snapshot before")
        ax_d.axhline(0, color="0.6", lw=0.6)
        ax_d.set_xlabel("time (ms)")
        ax_d.set_ylabel("change (nS)")
        ax_d.set_title("change since the first snapshot", fontsize=10)
        ax_d.legend(loc="best", fontsize=8, frameon=False)
        lo_w, hi_w = float(w.min()), float(w.max())
        if hi_w <= lo_w:
            hi_w = lo_w + 1e-6
        bins = np.linspace(lo_w, hi_w, 41)
        ax_h.hist(w[0], bins=bins, color="0.55", alpha=0.7, label=f"first ({t[0]:.1f} ms)")
        ax_h.hist(w[-1], bins=bins, histtype="step", color="#d62728", lw=1.4,
                  label=f"last ({t[-1]:.1f} ms)")
        ax_h.set_xlabel("w (nS)")
        ax_h.set_ylabel("synapses")
        ax_h.set_yscale("log")
        ax_h.set_title("distribution", fontsize=10)
        ax_h.legend(loc="best", fontsize=8, frameon=False)
    fig.suptitle("Weights of recorded projections")
    fig.tight_layout()
    fig.savefig(path, dpi=130)
    plt.close(fig)
    return True


def main(argv=None):
    ap = argparse.ArgumentParser(description="Plot an l5sim output directory.")
    ap.add_argument("outdir", help="output directory of `l5sim run`")
    ap.add_argument("--figdir", help="where to write the PNGs (default: OUTDIR)")
    ap.add_argument("--t-start", type=float, default=0.0, help="raster/probe window start (ms)")
    ap.add_argument("--t-stop", type=float, default=None, help="raster/probe window end (ms)")
    ap.add_argument("--bin-ms", type=float, default=10.0, help="rate bin width (ms)")
    ap.add_argument("--smooth-ms", type=float, default=20.0,
                    help="s.d. of the Gaussian that smooths the rates (ms; 0: none)")
    ap.add_argument("--max-cells", type=int, default=500,
                    help="raster rows per population; larger populations are subsampled evenly")
    ap.add_argument("--max-traces", type=int, default=10, help="cells drawn per probe variable")
    a = ap.parse_args(argv)
    if a.bin_ms <= 0:
        ap.error("--bin-ms must be > 0")

    try:
        if not os.path.isdir(a.outdir):
            raise InputError(f"{a.outdir}: no such output directory")
        if os.path.exists(os.path.join(a.outdir, "sweep.json")):
            raise InputError(f"{a.outdir}: a sweep (sweep.json): plot one replica, e.g. "
                             f"{os.path.join(a.outdir, 'replicas', 'r00000')}, or analyse the "
                             "sweep with scripts/l5analysis.py (scripts/reproduce.py does for "
                             "the paper's configs)")
        figdir = a.figdir or a.outdir
        os.makedirs(figdir, exist_ok=True)
        summary = read_summary(a.outdir, required=False)
        pops, duration = read_all_spikes(a.outdir, summary)
        t1 = duration if a.t_stop is None else a.t_stop
        t0 = a.t_start
        if not t1 > t0:
            ap.error("--t-stop must be after --t-start")
        resolved = read_resolved_config(a.outdir, required=False)
        types = population_types(summary, resolved)
        windows = schedule_windows(resolved, duration)
        flags = {p["name"]: burst_flags(p["t"], p["ids"]) for p in pops}
        lines, notes = [], {}
        for p in pops:
            # Burst and calcium-triggered fractions for types with a dendrite only: summary.json
            # gives those a calcium fraction (null otherwise); without it, pyramidal ones.
            entry = ((summary or {}).get("populations") or {}).get(p["name"])
            ca = (entry or {}).get("calcium_fraction")
            pyramidal = ca is not None if entry else \
                types.get(p["name"], "pyramidal") == "pyramidal"
            def describe(t_a, t_b):
                rate, bf, cv = spike_stats(p, t_a, t_b, flags[p["name"]])
                text = f"{rate:8.2f} Hz"
                if pyramidal:
                    text += f"  burst fraction {bf:.2f}"
                return text + f"  CV of ISIs {fmt_cv(cv)}"
            whole = describe(0.0, duration)
            extra = f"  calcium-triggered {ca:.2f}" if pyramidal and ca is not None else ""
            lines.append(f"{p['name']:>6}: {p['n']:8d} cells {p['t'].size:9d} spikes "
                         f"{whole}{extra}")
            rate, bf, cv = spike_stats(p, 0.0, duration, flags[p["name"]])
            notes[p["name"]] = (f", burst fraction {bf:.2f}" if pyramidal else "") + (
                f", calcium-triggered {ca:.2f}" if extra else "") + f", CV of ISIs {fmt_cv(cv)}"
            if windows:
                for e_a, e_b, label in epochs(windows, duration):
                    lines.append(f"        {e_a:7.0f}-{e_b:<7.0f} ms:{describe(e_a, e_b)}  "
                                 f"({label})")
        colours = colour_map([p["name"] for p in pops], types)
        written = []
        plot_raster(pops, colours, t0, t1, a.max_cells, os.path.join(figdir, "raster.png"))
        written.append("raster.png")
        plot_rates(pops, colours, duration, a.bin_ms, a.smooth_ms,
                   os.path.join(figdir, "rates.png"), windows, notes)
        written.append("rates.png")
        if os.path.exists(os.path.join(a.outdir, "probes.h5")):
            if plot_probes(a.outdir, t0, t1, a.max_traces, os.path.join(figdir, "probes.png")):
                written.append("probes.png")
            if plot_plateau(a.outdir, resolved, os.path.join(figdir, "plateau.png")):
                written.append("plateau.png")
        if os.path.exists(os.path.join(a.outdir, "weights.h5")):
            if plot_weights(a.outdir, os.path.join(figdir, "weights.png")):
                written.append("weights.png")
    except (InputError, OutputError) as e:
        print(f"plot.py: error: {e}", file=sys.stderr)
        return 2
    for line in lines:
        print(line)
    print(f"wrote {', '.join(written)} in {figdir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
