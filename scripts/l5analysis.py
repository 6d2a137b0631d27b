"""The analysis of l5sim outputs now lives in the Python package: python/l5sim/analysis.py
(``import l5sim.analysis``). This module re-exports it for scripts that
``sys.path.insert(0, "scripts"); import l5analysis``."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "python"))
from l5sim.analysis import *  # noqa: E402,F401,F403
from l5sim.analysis import _T975  # noqa: E402,F401
