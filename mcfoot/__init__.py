"""mcfoot: Monte Carlo footprints of LLM inference (energy, water, carbon per query)."""

from ._version import __version__
from .benchpredict import bench
from .calibrate import calibrate, loo, to_inference_data
from .catalogue import load_catalogue
from .compare import compare
from .errors import CatalogueError, InputError, PriorsError
from .estimate import estimate
from .io import read_tree, write_tree
from .priors import load_scenario, shipped_scenarios
from .rank import rank
from .simulate import simulate
from .summary import summarize
from .usage import estimate_usage
from .workload import workload

__all__ = [
    "CatalogueError", "InputError", "PriorsError", "__version__", "bench", "calibrate", "compare",
    "estimate", "estimate_usage", "load_catalogue", "load_scenario", "loo", "rank",
    "read_tree", "shipped_scenarios", "simulate", "summarize", "to_inference_data", "workload",
    "write_tree",
]

#: Submodules reachable as attributes after ``import mcfoot`` (``mcfoot.plots.forest``, ...),
#: imported on first access so that ``import mcfoot`` stays fast.
_LAZY = ("benchfit", "benchmodel", "benchpredict", "catalogue", "claims", "distributed", "distributions", "footprint", "io", "plots",
         "priors", "regions", "rng", "scale", "sensitivity", "stream", "summary", "dea")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mcfoot' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
