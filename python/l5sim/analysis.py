"""Analysis of l5sim outputs: the measurements of MODEL.md section 10.

``import l5sim.analysis`` (the package's; scripts/l5analysis.py re-exports it), used by
l5sim.open's results and scripts/reproduce.py; tested by tests/python/test_l5analysis.py
against hand-computed values. Needs numpy and h5py (PyYAML for read_resolved_config).

- f-I curves with 95 % confidence intervals over trials (Student t);
- gain = least-squares slope of the f-I curve over its rising part (Hz/pA);
- threshold (rheobase) = the smallest current at which the rate exceeds 1 Hz, interpolated
  linearly between the two tested currents that bracket the crossing;
- burst fraction (spikes in runs of >= 2 with ISI < 10 ms / all spikes; burst_flags marks
  them spike by spike) and calcium-triggered fraction (from summary.json; spikes fired in burst
  mode); the mean CV of ISIs (mean_cv);
- STDP speed: mean |dw|/dt of the recorded weights and the time to half of the final change.

It is also the one place that reads output files (scripts/plot.py, scripts/reproduce.py and
l5sim.open's results use these readers): read_summary, read_resolved_config, read_spikes,
read_all_spikes, read_probes, read_probe_groups, read_weights, read_weight_groups. They check
what they read: a missing file raises MissingOutputError (with what may explain it), a file
that is not HDF5, JSON or YAML, or lacks a group or dataset l5sim writes, raises OutputError;
a probe or projection that was not recorded, NotRecordedError (a population without spikes
has empty arrays). Every message starts with the file's path; all three are OutputErrors.
"""
import contextlib
import json
import math
import os

import numpy as np

BURST_ISI_MS = 10.0  # a burst: a run of >= 2 spikes of a cell with ISIs below this (MODEL.md 10)

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


class OutputError(ValueError):
    """An l5sim output file that cannot be read as l5sim writes it: not HDF5 (JSON, YAML), or
    without a group or dataset it should have. The message starts with the file's path (also
    in `path`) and says what is wrong (`what`). MissingOutputError and NotRecordedError are
    OutputErrors, so one ``except l5sim.OutputError`` catches every problem with an output."""

    def __init__(self, path, what):
        super().__init__(f"{path}: {what}")
        self.path, self.what = os.fspath(path), what

    def __str__(self):
        return str(self.args[0]) if self.args else ""

    def __reduce__(self):
        return type(self), (self.path, self.what)


class MissingOutputError(OutputError, FileNotFoundError):
    """A missing output file or directory (also a FileNotFoundError); the message says what may
    explain it: an interrupted run leaves NAME.part; a recording the config turned off."""


class NotRecordedError(OutputError, KeyError):
    """A probe or projection asked for by name that the output file does not hold (also a
    KeyError); the message lists what it holds."""


# What may explain a missing file (besides an interrupted run, which leaves NAME.part).
_MISSING_HINTS = {
    "spikes.h5": "was the run made with recording.spikes: false?",
    "probes.h5": "does its config have recording.probes?",
    "weights.h5": "does its config have recording.weights?",
}


def _missing(path):
    """The MissingOutputError for `path`, with its hint."""
    name = os.path.basename(path)
    if os.path.exists(path + ".part"):
        hint = f"an interrupted run leaves {name}.part"
    elif name == "summary.json":
        sweep = os.path.exists(os.path.join(os.path.dirname(path), "sweep.json"))
        hint = f"not a finished l5sim {'sweep' if sweep else 'run'}"
    else:
        hint = _MISSING_HINTS.get(name)
    return MissingOutputError(path, "no such file" + (f" ({hint})" if hint else ""))


def check_output_dir(path):
    """`path` as a str when it is a directory; MissingOutputError otherwise."""
    path = os.fspath(path)
    if not os.path.isdir(path):
        what = "not a directory" if os.path.exists(path) else "no such output directory"
        raise MissingOutputError(path, what)
    return path


def open_h5(path):
    """An output HDF5 file opened for reading (an h5py.File: use it in a ``with`` block).
    MissingOutputError when there is none, OutputError when it is not HDF5."""
    import h5py

    path = os.fspath(path)
    if not os.path.exists(path):
        raise _missing(path)
    try:
        return h5py.File(path, "r")
    except OSError as e:
        raise OutputError(path, f"cannot read it as HDF5 ({e})") from e


@contextlib.contextmanager
def _reading(path):
    """open_h5(path) in a with block; an h5py read error inside it becomes an OutputError."""
    with open_h5(path) as f:
        try:
            yield f
        except OutputError:
            raise
        except OSError as e:
            raise OutputError(path, f"cannot read it ({e})") from e


def _top_group(f, path, name, what=""):
    """The group /name of an open output file; OutputError when there is none."""
    import h5py

    g = f.get(name)
    if not isinstance(g, h5py.Group):
        raise OutputError(path, f"no /{name} group{what}")
    return g


def _member(parent, path, name, kind):
    """The group `name` of `parent` (/spikes, /probes, /weights); NotRecordedError listing what
    there is when it has none."""
    import h5py

    g = parent.get(name)
    if g is None:
        have = ", ".join(parent.keys()) or "none"
        raise NotRecordedError(path, f"no {kind} '{name}' in {parent.name} (it has {have})")
    if not isinstance(g, h5py.Group):
        raise OutputError(path, f"{g.name} is not a group")
    return g


def _require(g, path, keys):
    """OutputError naming the datasets of `keys` that group g lacks."""
    import h5py

    missing = [k for k in keys if not isinstance(g.get(k), h5py.Dataset)]
    if missing:
        raise OutputError(path, f"{g.name} lacks {' and '.join(missing)}")


def _spike_arrays(g, path):
    """(timestamps, node_ids) of a /spikes/<pop> group, checked: both there, of one length."""
    _require(g, path, ("timestamps", "node_ids"))
    t, ids = g["timestamps"][:], g["node_ids"][:].astype(np.int64)
    if t.shape != ids.shape:
        raise OutputError(path, f"{g.name}: {t.size} timestamps but {ids.size} node_ids")
    return t, ids


def _read_mapping(outdir, name, parse, errors, kind, required):
    """File `name` of an output directory parsed by `parse` (an open file -> object) into a
    dict: MissingOutputError when it is missing (None instead when not `required`),
    OutputError when `parse` raises one of `errors` or gives no mapping (`kind` names it)."""
    path = os.path.join(os.fspath(outdir), name)
    if not os.path.exists(path):
        if required:
            raise _missing(path)
        return None
    try:
        with open(path) as f:
            value = parse(f)
    except (OSError, ValueError) + errors as e:
        raise OutputError(path, f"cannot parse it as {kind} ({e})") from e
    if not isinstance(value, dict):
        raise OutputError(path, "not a JSON object" if kind == "JSON" else f"not a {kind} mapping")
    return value


def _number(x):
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def _check_shape(path, data, shapes):
    """OutputError naming the first key of `shapes` ({key: (test, what it must be)}) present in
    `data` whose value fails its test."""
    for key, (test, what) in shapes.items():
        if key in data and not test(data[key]):
            raise OutputError(path, f"{key} is {json.dumps(data[key])[:80]}, expected {what}")


def read_summary(outdir, required=True):
    """summary.json of an output directory as a dict. MissingOutputError when there is none (None
    instead when not `required`), OutputError when it is not a JSON object or its populations
    (name: {n: cells, ...}) or timing ({bio_s: seconds > 0, ...}) have another shape."""
    summary = _read_mapping(outdir, "summary.json", json.load, (), "JSON", required)
    if summary is None:
        return None
    path = os.path.join(os.fspath(outdir), "summary.json")
    _check_shape(path, summary, {
        "populations": (lambda p: isinstance(p, dict), "an object of populations"),
        "timing": (lambda t: isinstance(t, dict), "an object")})
    for name, pop in (summary.get("populations") or {}).items():
        _check_shape(path, {f"populations.{name}": pop},
                     {f"populations.{name}": (lambda v: isinstance(v, dict), "an object")})
        _check_shape(path, {f"populations.{name}.n": pop.get("n")}, {
            f"populations.{name}.n": (lambda n: isinstance(n, int) and not isinstance(n, bool)
                                      and n >= 0, "a whole number >= 0")})
    _check_shape(path, summary.get("timing") or {}, {
        "bio_s": (lambda b: _number(b) and b > 0, "a number of seconds > 0")})
    return summary


def read_resolved_config(outdir, required=True):
    """config.resolved.yaml of an output directory (the config the run ran, every default
    filled in) as a dict; needs PyYAML. MissingOutputError when there is none (None instead
    when not `required`), OutputError when it is not a YAML mapping."""
    import yaml

    config = _read_mapping(outdir, "config.resolved.yaml", yaml.safe_load, (yaml.YAMLError,),
                           "YAML", required)
    if config is not None:
        entries = (lambda v: isinstance(v, list) and all(isinstance(e, dict) for e in v),
                   "a list of entries")
        _check_shape(os.path.join(os.fspath(outdir), "config.resolved.yaml"), config, {
            "populations": (lambda p: isinstance(p, dict) and all(
                isinstance(v, dict) for v in p.values()), "a mapping of populations"),
            "schedule": entries, "injections": entries})
    return config


class Sweep:
    """An l5sim sweep output directory (sweep.json, summary.json, replicas/rNNNNN/)."""

    def __init__(self, path):
        self.path = check_output_dir(path)
        self.summary = read_summary(path)
        missing = [k for k in ("replicas", "axes", "conditions", "trials")
                   if k not in self.summary]
        if missing:
            raise OutputError(os.path.join(self.path, "summary.json"),
                              f"lacks {', '.join(missing)} (not a sweep's summary)")
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
    """(times in ms, node ids as int64) of one population from a SONATA spikes.h5; empty arrays
    when the file has no group for it. Checked (OutputError; see the module's docstring)."""
    path = os.path.join(os.fspath(outdir), "spikes.h5")
    with _reading(path) as f:
        spikes = _top_group(f, path, "spikes", " (not a SONATA spike report)")
        if spikes.get(pop) is None:
            return np.zeros(0), np.zeros(0, dtype=np.int64)
        return _spike_arrays(_member(spikes, path, pop, "population"), path)


def read_all_spikes(outdir, summary=None):
    """Every population of spikes.h5: (populations, duration in ms). The populations are a list
    of dicts name, n (cells), t (spike times in ms, float64), ids (node ids, int64), in
    summary.json's order (the config's), then any population it does not list; n is
    summary.json's size (silent cells count), else the largest id + 1 (1 without spikes). The
    duration is summary.json's timing.bio_s, else the last spike's time (1 ms without spikes).
    `summary`: summary.json's dict, or None to read it (it may be missing). Checked (OutputError;
    see the module's docstring)."""
    outdir = os.fspath(outdir)
    if summary is None:
        summary = read_summary(outdir, required=False)
    path = os.path.join(outdir, "spikes.h5")
    pops = []
    listed = (summary or {}).get("populations")
    listed = listed if isinstance(listed, dict) else {}
    with _reading(path) as f:
        spikes = _top_group(f, path, "spikes", " (not a SONATA spike report)")
        names = list(spikes.keys())
        order = [p for p in listed if p in names]
        names = order + [p for p in names if p not in order]
        sizes = {p: int(v.get("n", 0)) for p, v in listed.items() if isinstance(v, dict)}
        for name in names:
            t, ids = _spike_arrays(_member(spikes, path, name, "population"), path)
            t = np.asarray(t, dtype=np.float64)
            n = sizes.get(name) or (int(ids.max()) + 1 if ids.size else 1)
            pops.append({"name": name, "n": n, "t": t, "ids": ids})
    duration = None
    bio_s = ((summary or {}).get("timing") or {}).get("bio_s")
    if bio_s:
        duration = 1000.0 * float(bio_s)
    if duration is None:
        last = [p["t"].max() for p in pops if p["t"].size]
        duration = float(max(last)) if last else 1.0
    return pops, duration


def read_weights(outdir, proj):
    """(times in ms, w [snapshot, synapse]) of one recorded projection from weights.h5. Checked
    (OutputError; NotRecordedError when `proj` was not recorded)."""
    path = os.path.join(os.fspath(outdir), "weights.h5")
    with _reading(path) as f:
        g = _member(_top_group(f, path, "weights"), path, proj, "projection")
        _require(g, path, ("time_ms", "w"))
        return g["time_ms"][:], g["w"][:]


def read_weight_groups(outdir):
    """Every recorded projection of weights.h5: {projection: {time_ms, w [snapshot, synapse],
    and the group's other datasets: mean_abs_dw [snapshot] (mean |dw| since the snapshot
    before), source_ids, target_ids, histogram_edges, histogram [snapshot, bin], where
    present}}, in the file's order. Checked (OutputError: no /weights group, a projection
    without time_ms or w)."""
    import h5py

    return _read_groups(outdir, "weights.h5", "weights", "projection", ("time_ms", "w"),
                        lambda g: {k: g[k][()] for k in g if isinstance(g[k], h5py.Dataset)})


def _read_probe(g, variables=None, max_cells=None):
    """A checked /probes/<name> group's datasets (see read_probe_groups)."""
    import h5py

    out = {}
    for k in g:
        d = g[k]
        if not isinstance(d, h5py.Dataset):
            continue
        if variables is not None and k not in ("time_ms", "node_ids") and k not in variables:
            continue
        if max_cells is not None and k == "node_ids":
            out[k] = d[:max_cells]
        elif max_cells is not None and k != "time_ms" and d.ndim == 2:
            out[k] = d[:, :max_cells]
        else:
            out[k] = d[()]
    return out


def _probe_population(name, g):
    """The population a probe group belongs to: its `population` attribute (l5sim writes one),
    else the group name without its _<k> suffix; and k (the entry of recording.probes)."""
    head, _, k = name.rpartition("_")
    pop = g.attrs.get("population", head)
    if isinstance(pop, bytes):
        pop = pop.decode()
    return str(pop), int(k) if k.isdigit() else -1


def read_probes(outdir, pop, index=0):
    """dict of time_ms, node_ids and each variable [time, cell] of the index-th probe of
    population `pop` (its index-th entry in recording.probes; the group /probes/<pop>_<k> of
    probes.h5, k counting every population's entries). Checked (OutputError; NotRecordedError
    when there is no such probe)."""
    path = os.path.join(os.fspath(outdir), "probes.h5")
    with _reading(path) as f:
        probes = _top_group(f, path, "probes")
        mine = []
        for name in probes:
            g = _member(probes, path, name, "probe")
            owner, k = _probe_population(name, g)
            if owner == pop:
                mine.append((k, name))
        mine.sort()
        if not 0 <= index < len(mine):
            have = ", ".join(probes.keys()) or "none"
            raise NotRecordedError(path, f"no probe {index} of population '{pop}' in /probes "
                                         f"(it has {len(mine)} of {pop}; groups: {have})")
        g = probes[mine[index][1]]
        _require(g, path, ("time_ms",))
        return _read_probe(g)


def read_probe_groups(outdir, variables=None, max_cells=None):
    """Every probe of probes.h5: {group name (<population>_<k>): {time_ms, node_ids, and each
    variable [time, cell]}}, in the file's order. `variables`: read only these (time_ms and
    node_ids always); `max_cells`: only the first max_cells probed cells of each. Checked
    (OutputError: no /probes group, a probe without time_ms)."""
    return _read_groups(outdir, "probes.h5", "probes", "probe", ("time_ms",),
                        lambda g: _read_probe(g, variables, max_cells))


def _read_groups(outdir, file, top, kind, required, read_one):
    """{name: read_one(group)} for every member group of `top` in outdir/file, in the file's
    order, each checked to hold `required` (OutputError otherwise, naming the file)."""
    path = os.path.join(os.fspath(outdir), file)
    out = {}
    with _reading(path) as f:
        groups = _top_group(f, path, top)
        for name in groups:
            g = _member(groups, path, name, kind)
            _require(g, path, required)
            out[name] = read_one(g)
    return out


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


def burst_flags(t, ids, isi_ms=BURST_ISI_MS):
    """Per spike (in the given order): whether it belongs to a run of >= 2 spikes of its cell
    with ISIs < isi_ms (a bool array like t)."""
    t, ids = np.asarray(t), np.asarray(ids)
    order = np.lexsort((t, ids))
    ts, cs = t[order], ids[order]
    near = (cs[1:] == cs[:-1]) & (np.diff(ts) < isi_ms)
    f = np.zeros(t.size, dtype=bool)
    f[1:] |= near
    f[:-1] |= near
    flags = np.zeros(t.size, dtype=bool)
    flags[order] = f
    return flags


def burst_fraction(times, ids, isi_ms=BURST_ISI_MS):
    """Spikes in runs of >= 2 spikes with ISI < isi_ms (per cell) / all spikes (nan without
    spikes)."""
    if len(times) == 0:
        return float("nan")
    return int(burst_flags(times, ids, isi_ms).sum()) / len(times)


def mean_cv(t, ids):
    """Mean over cells with >= 3 spikes of the coefficient of variation (s.d. / mean, the s.d.
    over n, not n - 1) of their ISIs (nan if no cell has 3)."""
    t, ids = np.asarray(t), np.asarray(ids)
    order = np.lexsort((t, ids))
    ts, cs = t[order], ids[order]
    same = cs[1:] == cs[:-1]
    isi, cell = np.diff(ts)[same], cs[1:][same]
    if isi.size == 0:
        return float("nan")
    _, inv = np.unique(cell, return_inverse=True)
    n = np.bincount(inv)
    s1, s2 = np.bincount(inv, isi), np.bincount(inv, isi * isi)
    ok = n >= 2
    if not ok.any():
        return float("nan")
    m = s1[ok] / n[ok]
    sd = np.sqrt(np.maximum(s2[ok] / n[ok] - m * m, 0.0))
    return float(np.mean(sd / m))


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
