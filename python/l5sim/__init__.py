"""l5sim from Python: configs, simulations, checkpoints, sweeps and the analysis of outputs.

    import l5sim
    cfg = l5sim.Config.load("configs/quickstart.yaml", set={"populations.PYR.coupling.gamma": 1.0})
    sim = l5sim.Simulation(cfg, backend="auto", threads=2)
    sim.run(500)                         # ms
    t, ids = sim.spikes("PYR")           # NumPy arrays: times (ms), node ids
    sim.write("out/")                    # the files `l5sim run` writes
    res = l5sim.open("out/")             # read any output directory (a run or a sweep)

The compiled part (`_l5sim`, built by scripts/build.sh into build/python/l5sim) runs the C++
library itself, so a run from Python is the run `l5sim run` makes, byte for byte. The analysis
(l5sim.analysis, l5sim.open) needs only NumPy and h5py and works without the compiled part;
its readers raise l5sim.OutputError (MissingOutputError, NotRecordedError) naming the file when
an output is missing or malformed. docs/PYTHON.md documents the API.
"""
from . import analysis
from .analysis import MissingOutputError, NotRecordedError, OutputError
from .results import Run, SweepResults, open

_COMPILED = ("Config", "ConfigError", "RunError", "HealthError", "__version__", "git_hash")

try:
    from ._l5sim import Config, ConfigError, HealthError, RunError, __version__, git_hash
    from .simulation import Simulation, Weights, run_sweep
    _IMPORT_ERROR = None
except ImportError as e:  # the analysis works without the compiled part
    _IMPORT_ERROR = e


def __getattr__(name):
    if name in _COMPILED + ("Simulation", "Weights", "run_sweep") and _IMPORT_ERROR is not None:
        raise ImportError(
            f"l5sim.{name} needs the compiled module (_l5sim), which did not load "
            f"({_IMPORT_ERROR}): build it with scripts/build.sh and put build/python on "
            "PYTHONPATH (docs/PYTHON.md)") from _IMPORT_ERROR
    raise AttributeError(f"module 'l5sim' has no attribute '{name}'")


__all__ = ["Config", "ConfigError", "RunError", "HealthError", "Simulation", "Weights",
           "run_sweep", "open", "Run", "SweepResults", "analysis", "OutputError",
           "MissingOutputError", "NotRecordedError", "__version__", "git_hash"]
