"""l5sim.Simulation: a network of a config, stepped from Python (docs/PYTHON.md)."""
import collections
import os
import sys

from . import _l5sim
from .results import open as open_results

Weights = collections.namedtuple("Weights", ["weight", "source", "target"])
Weights.__doc__ = """Every synapse of a projection in CSR order (by source, then target):
weight (nS, float32), source and target node ids (uint32)."""


def _interactive():
    """In a notebook (an IPython kernel) or on a terminal's stderr."""
    if "ipykernel" in sys.modules:
        return True
    return hasattr(sys.stderr, "isatty") and sys.stderr.isatty()


def _progress_printer(progress):
    """A callable(done, total) drawing a progress bar and its closer, or (None, None): where
    interactive (a notebook or a terminal), tqdm when installed (tqdm.auto: a widget in a
    notebook), else a text bar on stderr; nothing in scripts and tests."""
    if progress is False or progress is None:
        return None, None
    if callable(progress):
        return progress, None
    if not _interactive():
        return None, None
    try:
        from tqdm.auto import tqdm
    except ImportError:
        tqdm = None
    if tqdm is not None:
        bar = {}

        def update(done, total):
            if "b" not in bar:
                bar["b"] = tqdm(total=total, unit="step", leave=False)
            bar["b"].update(done - bar["b"].n)

        def close():
            if "b" in bar:
                bar["b"].close()

        return update, close

    def text(done, total):
        f = done / total if total else 1.0
        sys.stderr.write("\r[%-30s] %5.1f %%" % ("#" * int(30 * f), 100 * f))
        sys.stderr.flush()

    def end():
        sys.stderr.write("\r" + " " * 42 + "\r")

    return text, end


def _cells(cells, what):
    """Cell ids from a list, range or integer array, or from a boolean mask (its True places);
    None stays None. Floats, bools among ids and arrays of more than one dimension are refused."""
    if cells is None:
        return None
    import numpy as np
    a = np.asarray(cells)
    if a.ndim != 1:
        raise _l5sim.ConfigError(f"{what}: cells must be one-dimensional (ids or a boolean "
                                 f"mask), got shape {a.shape}")
    if a.dtype == bool:
        return [int(i) for i in np.flatnonzero(a)]
    if a.size == 0:
        return []
    if not np.issubdtype(a.dtype, np.integer):
        raise _l5sim.ConfigError(f"{what}: cells must be integer ids or a boolean mask, got "
                                 f"{a.dtype} values")
    return [int(i) for i in a]


def _number(value, what):
    import numbers
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise _l5sim.ConfigError(f"{what}: expected a number, got {value!r}")
    return float(value)


class Simulation:
    """A network of `config` (an l5sim.Config, a path or a dict) on the `backend` engine
    ("cpu", "cuda" or "auto") with `threads` threads (0: as the config says). With `stream`
    (a directory, absent or empty), the recordings go to files there as the run goes on, as
    `l5sim run` streams them, so memory stays flat however long it runs; write() then writes
    that directory, and close() removes the streams.

    Runs are the CLI's runs: the same config gives the files `l5sim run` writes, byte for byte,
    whether run in one piece or in many (run(ms) stops at any step). set() and inject() add
    schedule entries and injections from the current step on, so the resolved config that
    write() saves reproduces the run with `l5sim run`.
    """

    def __init__(self, config, backend="auto", threads=0, stream=None):
        if isinstance(config, _l5sim.Simulation):  # from resume()
            self._sim = config
            return
        if isinstance(config, dict):
            config = _l5sim.Config.from_dict(config)
        elif isinstance(config, (str, os.PathLike)):
            config = _l5sim.Config.load(config)
        elif not isinstance(config, _l5sim.Config):
            raise TypeError("Simulation: config must be an l5sim.Config, a path or a dict, not "
                            f"{type(config).__name__}")
        self._sim = _l5sim.Simulation(config, backend, threads, stream)

    @classmethod
    def resume(cls, path, backend="auto", threads=0, stream=None):
        """The simulation a checkpoint() left, ready to go on (its config, records and state).
        A checkpoint of a streaming simulation needs `stream`, the directory of its streams
        (checked against the checkpoint and cut to it), into which it goes on streaming."""
        return cls(_l5sim.Simulation.resume(path, backend, threads, stream))

    def run(self, ms=None, progress="auto"):
        """Run `ms` more milliseconds (None: to the end of the config's duration; beyond it the
        duration grows). progress: "auto" (a bar on a terminal or in a notebook), False, or a
        callable(done_steps, total_steps). Ctrl-C stops at a step boundary and raises
        KeyboardInterrupt; the simulation stays usable. Returns True at the config's end."""
        update, close = _progress_printer(progress if progress != "auto" else True)
        try:
            return self._sim.run(ms, update)
        finally:
            if close:
                close()

    def spikes(self, population):
        """(times in ms, node ids) of the population's spikes so far. With stream=, the arrays
        own what was read from the stream (no second copy); otherwise they are copies of the
        record in memory, which grows as the simulation runs."""
        return self._sim.spikes(population)

    def state(self, population, variable, cells=None):
        """A state variable (a probe name of configs/README.md: v, u, v_d, g_ampa, ...) of
        every cell of the population, or of `cells` (ids or a boolean mask), as a float32 array
        (a copy)."""
        return self._sim.state(population, variable, _cells(cells, "state"))

    def weights(self, projection):
        """Every synapse of a projection now: Weights(weight, source, target), CSR order."""
        return Weights(*self._sim.weights(projection))

    def set(self, knob, value, cells=None):
        """A knob's value from now on: a schedule knob (PYR.gamma, PYR.background.dendrite.rate_hz,
        projections.SOM_PYR.gain, projections.PYR_PYR.eta, injections.<name>.amplitude_pA) or the
        config key it comes from (populations.PYR.coupling.gamma, projections.PYR_PYR.stdp.eta);
        `cells` (ids or a boolean mask) for gamma knobs only. injections.<index>.amplitude_pA
        names an injection by its place in the config, as sweeps do. Knob changes apply in the order
        they were made: a set() overrides, from now on, the config's own schedule windows of the
        same knob (as a later entry of a config's schedule does)."""
        self._sim.set(knob, _number(value, "set " + str(knob)), _cells(cells, "set"))

    def inject(self, population, cells=None, soma_pA=None, dendrite_pA=None, stop_ms=None):
        """A constant current from now on (until stop_ms, absolute time, or the end) into the
        soma and/or the dendrite of `cells` (None: every cell) of the population. Returns the
        injections' names (a knob injections.<name>.amplitude_pA each, for set())."""
        num = lambda v, w: None if v is None else _number(v, "inject: " + w)  # noqa: E731
        return list(self._sim.inject(population, _cells(cells, "inject"), num(soma_pA, "soma_pA"),
                                     num(dendrite_pA, "dendrite_pA"), num(stop_ms, "stop_ms")))

    def checkpoint(self, path):
        """Write the whole state (records included) to `path` atomically; resume() goes on
        from it bit for bit."""
        self._sim.checkpoint(path)

    def write(self, out=None, force=False):
        """Write the files `l5sim run` writes (spikes.h5, probes.h5, weights.h5, summary.json,
        config.resolved.yaml) for the steps run so far into directory `out` (a streaming
        simulation: its stream directory); returns l5sim.open(out)."""
        self._sim.write(out, force)
        return open_results(out if out is not None else self._sim.stream_dir)

    def close(self, keep_streams=False):
        """A streaming simulation: remove its streams (after write(), the directory's files hold
        everything; keep_streams=True keeps them, e.g. for a checkpoint's resume) and release the
        directory; no run(), write() or checkpoint() after it."""
        self._sim.close(keep_streams)

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc, tb):
        # Leaving the block by an exception (a HealthError, Ctrl-C) keeps the streams: what was
        # recorded stays in the directory (write() it, or resume a checkpoint with stream=).
        self.close(keep_streams=exc_type is not None)
        return False

    @property
    def stream_dir(self):
        """The directory the recordings stream into, or None (kept in memory)."""
        return self._sim.stream_dir

    @property
    def config(self):
        """The running config (with the schedule entries and injections set() and inject()
        added, and the duration run() extended to)."""
        return self._sim.config

    @property
    def t_ms(self):
        """Biological time simulated so far (ms)."""
        dt = self._sim.config.dt_ms
        inv = round(1.0 / dt)
        return self._sim.step / inv if abs(inv * dt - 1.0) < 1e-12 else self._sim.step * dt

    @property
    def step(self):
        """Steps simulated so far."""
        return self._sim.step

    @property
    def engine(self):
        """The engine: "cpu" or "cuda"."""
        return self._sim.engine

    @property
    def spike_counts(self):
        """{population: spikes fired so far}."""
        return self._sim.spike_counts

    @property
    def health_checks(self):
        """Health checks on (simulation.health); False goes on past a HealthError."""
        return self._sim.health_checks

    @health_checks.setter
    def health_checks(self, on):
        self._sim.health_checks = bool(on)

    def __repr__(self):
        c = self.config
        return "<l5sim.Simulation %s on %s: t = %.1f of %.1f ms>" % (
            c.source or "<dict>", self.engine, self.t_ms, c.duration_ms)


def run_sweep(config, out, set=None, threads=0, pack=None, max_pack=0, force=False, quiet=True,
              backend="cpu"):
    """Run a config with a sweep: block (a path or a dict) into directory `out`, as `l5sim run`
    does (replicas in parallel, `threads` at a time); returns l5sim.open(out), whose table()
    lists every replica with its labels and rates."""
    if isinstance(config, _l5sim.Config):
        raise TypeError("run_sweep: give the sweep's file (a path) or a dict: an l5sim.Config "
                        "is one run and holds no sweep")
    _l5sim.run_sweep(config, out, set,
                     threads, pack or "", max_pack, force, quiet, backend)
    return open_results(out)
