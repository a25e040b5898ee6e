"""The package version, in a module of its own so that modules can import it without
importing the package's ``__init__`` (and its imports)."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("mcfoot")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
