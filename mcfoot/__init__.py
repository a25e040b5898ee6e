"""mcfoot: Monte Carlo footprints of LLM inference (energy, water, carbon per query)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcfoot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
