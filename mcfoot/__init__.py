"""mcfoot: Monte Carlo footprints of LLM inference (energy, water, carbon per query)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcfoot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .catalogue import load_catalogue  # noqa: E402
from .errors import CatalogueError, InputError, PriorsError  # noqa: E402
from .io import read_tree, write_tree  # noqa: E402
from .priors import load_scenario, shipped_scenarios  # noqa: E402
from .rank import rank  # noqa: E402
from .simulate import simulate  # noqa: E402
from .summary import summarize  # noqa: E402

__all__ = [
    "CatalogueError", "InputError", "PriorsError", "__version__", "load_catalogue",
    "load_scenario", "rank", "read_tree", "shipped_scenarios", "simulate", "summarize", "write_tree",
]

#: Submodules reachable as attributes after ``import mcfoot`` (``mcfoot.plots.forest``, ...),
#: imported on first access so that ``import mcfoot`` stays fast.
_LAZY = ("catalogue", "claims", "distributed", "distributions", "footprint", "io", "plots",
         "priors", "regions", "rng", "scale", "sensitivity", "stream", "summary", "dea")


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'mcfoot' has no attribute {name!r}")


def __dir__():
    return sorted({*globals(), *_LAZY})
