"""Reading l5sim output directories: l5sim.open(path) gives a Run (one run's directory) or a
SweepResults (a sweep's), with rates, rasters, probes, weights and f-I curves. Needs NumPy and
h5py (matplotlib for the plots, PyYAML for the resolved config); not the compiled module. The
files are read by l5sim.analysis's checked readers: a missing or unreadable file raises an
l5sim.OutputError that names it."""
import os

import numpy as np

from . import analysis


def open(path):  # noqa: A001 (l5sim.open, as the issue's API says)
    """A Run or a SweepResults for an l5sim output directory (a sweep has sweep.json).
    MissingOutputError (a FileNotFoundError) when there is no such directory or it has no
    summary.json (not a finished run), OutputError when summary.json cannot be read."""
    path = analysis.check_output_dir(path)
    if os.path.exists(os.path.join(path, "sweep.json")):
        return SweepResults(path)
    return Run(path)


def shown_cells(n, max_cells):
    """Evenly spaced cell ids to draw when a population has more than max_cells (None: all)."""
    if not max_cells or max_cells <= 0 or n <= max_cells:
        return None
    return np.unique(np.linspace(0, n - 1, max_cells).round().astype(np.int64))


def draw_raster(ax, pops, colours, t0, t1, max_cells=None, markersize=None):
    """Spike raster of `pops` (dicts with name, n, t (ms), ids; the first on top) on matplotlib
    axes `ax`, each population in its colour, between t0 and t1 ms; at most max_cells rows per
    population (evenly spaced). scripts/plot.py and Run.raster draw with it."""
    offset, ticks, labels, rows_total = 0, [], [], 0
    for p in pops:
        subset = shown_cells(p["n"], max_cells)
        rows_total += p["n"] if subset is None else subset.size
    msize = markersize or float(np.clip(400.0 / max(rows_total, 1), 0.6, 4.0))
    for p in reversed(pops):
        t, ids = p["t"], p["ids"]
        sel = (t >= t0) & (t <= t1)
        t, ids = t[sel], ids[sel]
        subset = shown_cells(p["n"], max_cells)
        if subset is None:
            rows, y = p["n"], ids
            label = f"{p['name']} (n={p['n']})"
        else:
            rows = subset.size
            keep = np.isin(ids, subset)
            t, y = t[keep], np.searchsorted(subset, ids[keep])
            label = f"{p['name']} ({rows} of {p['n']} cells)"
        if t.size:
            ax.plot(t, y + offset, "|", color=colours[p["name"]], markersize=msize,
                    markeredgewidth=0.6, rasterized=True)
        else:
            ax.text(0.5 * (t0 + t1), offset + rows / 2, f"{p['name']}: no spikes",
                    ha="center", va="center", color=colours[p["name"]], fontsize=10)
        ax.axhline(offset - 0.5, color="0.8", lw=0.6)
        ticks.append(offset + rows / 2)
        labels.append(label)
        offset += rows
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    for tick, p in zip(ax.get_yticklabels(), reversed(pops)):
        tick.set_color(colours[p["name"]])
    ax.set_ylim(-0.5, offset - 0.5)
    ax.set_xlim(t0, t1)
    ax.set_xlabel("time (ms)")
    return ax


# One colour per cell type (scripts/plot.py's too; tests/python/test_plot.py checks that every
# type of the registry, `l5sim info --cell-types`, has one).
TYPE_COLOURS = {"pyramidal": "#1f5fa8", "pv": "#d62728", "som": "#2ca02c", "vip": "#9467bd"}


class Run:
    """One run's output directory (spikes.h5, probes.h5, weights.h5, summary.json,
    config.resolved.yaml). Its readers are l5sim.analysis's: a missing or malformed file raises
    an l5sim.OutputError naming it (MissingOutputError, a FileNotFoundError, when it is missing;
    NotRecordedError, a KeyError, for a probe or projection the run did not record)."""

    def __init__(self, path):
        self.path = analysis.check_output_dir(path)
        self.summary = analysis.read_summary(self.path)
        pops = self.summary.get("populations")
        bio_s = (self.summary.get("timing") or {}).get("bio_s")
        if not isinstance(pops, dict) or bio_s is None or \
                not all(isinstance(v, dict) and "n" in v for v in pops.values()):
            raise analysis.OutputError(os.path.join(self.path, "summary.json"),
                                       "lacks populations (with n) or timing.bio_s")
        self.populations = {k: v["n"] for k, v in pops.items()}
        self.types = {k: v.get("type", "") for k, v in pops.items()}
        self.duration_ms = 1e3 * float(bio_s)
        self._resolved = None

    def spikes(self, population):
        """(times in ms, node ids) of a population's spikes."""
        if population not in self.populations:
            raise KeyError(f"no population '{population}' (the run has "
                           f"{', '.join(self.populations)})")
        return analysis.read_spikes(self.path, population)

    def rates(self, t0_ms=0.0, t1_ms=None):
        """{population: mean firing rate (Hz)} over [t0_ms, t1_ms) (default: the whole run);
        from summary.json for the whole run, from the spikes otherwise."""
        t1 = self.duration_ms if t1_ms is None else t1_ms
        if not t1 > t0_ms:
            raise ValueError(f"rates: t1_ms {t1} is not after t0_ms {t0_ms}")
        if t0_ms == 0 and t1 == self.duration_ms:
            return {k: v["rate_hz"] for k, v in self.summary["populations"].items()}
        out = {}
        for pop, n in self.populations.items():
            t, ids = self.spikes(pop)
            out[pop] = float(analysis.rates(t, ids, n, t0_ms, t1).mean())
        return out

    def cell_rates(self, population, t0_ms=0.0, t1_ms=None):
        """Firing rate (Hz) of every cell of a population over [t0_ms, t1_ms)."""
        t, ids = self.spikes(population)
        t1 = self.duration_ms if t1_ms is None else t1_ms
        return analysis.rates(t, ids, self.populations[population], t0_ms, t1)

    def all_spikes(self):
        """Every population's spikes: a list of dicts name, n (cells), t (ms, float64), ids
        (int64), in the config's order (analysis.read_all_spikes)."""
        return analysis.read_all_spikes(self.path, self.summary)[0]

    def probes(self, population, index=0):
        """dict of time_ms, node_ids and each probed variable [time, cell] of a probe (the
        index-th of the population's entries in recording.probes)."""
        return analysis.read_probes(self.path, population, index)

    def probe_groups(self, variables=None, max_cells=None):
        """Every probe: {<population>_<k>: {time_ms, node_ids, each variable [time, cell]}};
        `variables` and `max_cells` limit what is read (analysis.read_probe_groups)."""
        return analysis.read_probe_groups(self.path, variables, max_cells)

    def weights(self, projection):
        """(times in ms, w [snapshot, synapse]) of a projection's recorded weight snapshots."""
        return analysis.read_weights(self.path, projection)

    def weight_groups(self):
        """Every recorded projection: {projection: {time_ms, w [snapshot, synapse],
        mean_abs_dw, source_ids, target_ids, histogram_edges, histogram}}
        (analysis.read_weight_groups)."""
        return analysis.read_weight_groups(self.path)

    @property
    def resolved_config(self):
        """config.resolved.yaml as a dict: the config the run ran, every default filled in
        (read once; needs PyYAML)."""
        if self._resolved is None:
            self._resolved = analysis.read_resolved_config(self.path)
        return self._resolved

    def raster(self, ax=None, populations=None, t0_ms=0.0, t1_ms=None, max_cells=None):
        """Draw a spike raster on matplotlib axes `ax` (a new figure's when None); returns ax."""
        if ax is None:
            import matplotlib.pyplot as plt
            _, ax = plt.subplots(figsize=(10, 5))
        names = populations or list(self.populations)
        pops = []
        for name in names:
            t, ids = self.spikes(name)
            pops.append({"name": name, "n": self.populations[name], "t": t, "ids": ids})
        colours = {p: TYPE_COLOURS.get(self.types.get(p), "0.3") for p in names}
        t1 = self.duration_ms if t1_ms is None else t1_ms
        return draw_raster(ax, pops, colours, t0_ms, t1, max_cells)

    def __repr__(self):
        rates = ", ".join(f"{k} {v:.2f} Hz" for k, v in self.rates().items())
        return f"<l5sim.Run {self.path}: {self.duration_ms:g} ms; {rates}>"


class SweepResults(analysis.Sweep):
    """A sweep's output directory (sweep.json, summary.json, replicas/rNNNNN/)."""

    @property
    def duration_ms(self):
        """Biological ms each replica simulated (the first one's summary)."""
        return self.replica(0).duration_ms

    def replica(self, index):
        """The Run of replica `index`."""
        return Run(self.replica_dir(self.replicas[index]))

    def table(self):
        """One row per replica: index, condition, point, trial, seed, every grid value, and per
        population its rate_hz, burst_fraction and calcium_fraction (NaN where null). A pandas
        DataFrame when pandas is installed, else a NumPy structured array."""
        params = list(self.axes)
        pops = list(self.replicas[0]["populations"]) if self.replicas else []
        rows = []
        for r in self.replicas:
            row = [r["index"], r["condition"], r["point"], r["trial"], r["seed"]]
            row += [r["params"].get(k, np.nan) for k in params]
            for p in pops:
                s = r["populations"][p]
                row += [s["rate_hz"] if s["rate_hz"] is not None else np.nan,
                        np.nan if s.get("burst_fraction") is None else s["burst_fraction"],
                        np.nan if s.get("calcium_fraction") is None else s["calcium_fraction"]]
            rows.append(row)
        cols = ["index", "condition", "point", "trial", "seed"] + params
        for p in pops:
            cols += [f"{p}.rate_hz", f"{p}.burst_fraction", f"{p}.calcium_fraction"]
        try:
            import pandas as pd
            return pd.DataFrame(rows, columns=cols)
        except ImportError:
            pass
        types = [("index", "i8"), ("condition", "U64"), ("point", "i8"), ("trial", "i8"),
                 ("seed", "u8")]
        for k in params:
            v = self.replicas[0]["params"].get(k) if self.replicas else 0.0
            types.append((k, "f8" if isinstance(v, (int, float)) else "U64"))
        types += [(c, "f8") for c in cols[5 + len(params):]]
        return np.array([tuple(r) for r in rows], dtype=types)

    def rates(self):
        """The table (every replica's labels and population statistics)."""
        return self.table()

    def raster(self, replica=0, **kw):
        """Raster of one replica (Run.raster's arguments)."""
        return self.replica(replica).raster(**kw)

    def fi_curves(self, current_key="injections.0.amplitude_pA", group_key=None, condition=None,
                  population="PYR", cells=None, t0_ms=500.0):
        """f-I curves: {group value (None without group_key): (currents, rates [trial, current])}
        of the mean rate of `cells` (None: all) of `population` from t0_ms to the end, one row
        per trial; the currents are the grid values of `current_key`. analysis.gain,
        analysis.threshold and analysis.mean_ci take them further."""
        if current_key not in self.axes:
            raise KeyError(f"{current_key}: not a grid axis of this sweep "
                           f"({', '.join(self.axes) or 'none'})")
        if condition is None and self.conditions:
            raise ValueError("fi_curves: the sweep has conditions " + ", ".join(self.conditions)
                             + ": give condition=")
        if condition is not None and condition not in self.conditions:
            raise KeyError(f"{condition}: not a condition of this sweep "
                           f"({', '.join(self.conditions) or 'none'})")
        t_end = self.duration_ms
        currents = self.values(current_key)
        groups = self.values(group_key) if group_key else [None]
        out = {}
        for g in groups:
            R = np.full((self.trials, len(currents)), np.nan)
            for r in self.replicas:
                if condition is not None and r["condition"] != condition:
                    continue
                if group_key and r["params"][group_key] != g:
                    continue
                n = r["populations"][population]["n"]
                t, i = self.spikes(r, population)
                rate = analysis.rates(t, i, n, t0_ms, t_end)
                R[r["trial"], currents.index(r["params"][current_key])] = (
                    rate.mean() if cells is None else rate[cells].mean())
            out[g] = (np.array(currents, float), R)
        return out

    def __repr__(self):
        return (f"<l5sim.SweepResults {self.path}: {len(self.replicas)} replicas, axes "
                f"{self.axes}, {self.trials} trials>")
