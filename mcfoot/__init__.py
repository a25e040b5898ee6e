"""mcfoot: Monte Carlo footprints of LLM inference (energy, water, carbon per query)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcfoot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

from .calibrate import calibrate, loo, to_inference_data  # noqa: E402
from .catalogue import load_catalogue  # noqa: E402
from .errors import CatalogueError, InputError, PriorsError  # noqa: E402
from .estimate import estimate  # noqa: E402
from .io import read_tree, write_tree  # noqa: E402
from .priors import load_scenario, shipped_scenarios  # noqa: E402
from .rank import rank  # noqa: E402
from .simulate import simulate  # noqa: E402
from .summary import summarize  # noqa: E402

__all__ = [
    "CatalogueError", "InputError", "PriorsError", "__version__", "calibrate", "estimate",
    "load_catalogue", "load_scenario", "loo", "rank", "read_tree", "shipped_scenarios", "simulate", "summarize", "to_inference_data",
    "write_tree",
]
