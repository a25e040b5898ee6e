"""mcfoot: Monte Carlo footprints of LLM inference (energy, water, carbon per query).

The public API is imported on first use (PEP 562): ``import mcfoot`` loads only the version
and the error classes, so it (and ``mcfoot --help``) costs less than importing NumPy, SciPy
and xarray; ``mcfoot.rank(...)`` then imports :mod:`mcfoot.rank` (xarray, numba) and
``mcfoot.calibrate(...)`` the calibration stack. ``tests/test_import.py`` keeps it so.
"""

import importlib
import sys
import types

from ._version import __version__
from .errors import CatalogueError, InputError, PriorsError

#: Public name -> the submodule that defines it (imported on first access).
_API = {
    "bench": "benchpredict", "calibrate": "calibrate", "loo": "calibrate", "to_inference_data": "calibrate",
    "load_catalogue": "catalogue", "compare": "compare", "estimate": "estimate",
    "read_tree": "io", "write_tree": "io", "load_scenario": "priors",
    "shipped_scenarios": "priors", "rank": "rank", "simulate": "simulate",
    "summarize": "summary", "estimate_usage": "usage", "workload": "workload",
}

__all__ = sorted(["CatalogueError", "InputError", "PriorsError", "__version__", *_API])

#: Submodules reachable as attributes after ``import mcfoot`` (``mcfoot.plots.forest``, ...),
#: imported on first access so that ``import mcfoot`` stays fast.
_LAZY = ("benchfit", "benchmodel", "benchpredict", "catalogue", "claims", "distributed", "distributions", "footprint", "io", "plots",
         "priors", "regions", "rng", "scale", "sensitivity", "stream", "summary", "dea")


def __getattr__(name: str):
    if name in _API:
        value = getattr(importlib.import_module(f".{_API[name]}", __name__), name)
        globals()[name] = value  # later accesses skip this function
        return value
    if name in _LAZY:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mcfoot' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_API, *_LAZY})


class _Package(types.ModuleType):
    """mcfoot's module type: ``mcfoot.rank`` stays the function ``rank`` once the submodule
    :mod:`mcfoot.rank` is imported. (Python sets every newly imported submodule as an
    attribute of its package; with eager imports the function was bound after that.)"""

    def __setattr__(self, name, value):
        if name in _API and isinstance(value, types.ModuleType):
            return
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
