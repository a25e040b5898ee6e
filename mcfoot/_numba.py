"""The one numba decorator policy of mcfoot.

Every compiled kernel in the package is declared with :func:`kernel` (serial),
:func:`inline_kernel` (serial, inlined into its numba callers) or :func:`parallel_kernel`
(``prange`` over an outer dimension). Policy: ``cache=True`` so a
second process does not recompile, ``error_model="numpy"`` so division follows IEEE rules
like the NumPy twins, and never ``fastmath`` (it would break bit-for-bit parity with the
NumPy oracles and reproducibility across machines).

Where the cache goes. numba's default writes ``*.nbi``/``*.nbc`` files into the
``__pycache__`` beside the source file. For an installed (non-editable) mcfoot that is
``site-packages/mcfoot/__pycache__/``: pip's RECORD does not list those files, so a later
``pip uninstall`` (or the reinstall done by ``pip install -e .``) leaves
``site-packages/mcfoot/`` behind, and that leftover directory then imports as an empty
namespace package ahead of the new install. So mcfoot's kernels are cached in a per-user
directory instead, :func:`cache_dir` (``$MCFOOT_CACHE_DIR``, else
``$XDG_CACHE_HOME/mcfoot/numba``, else ``~/.cache/mcfoot/numba``; a private temporary folder
if none is writable; no caching at all if nothing is). A user's ``NUMBA_CACHE_DIR`` still
wins. Entries are keyed by the source file's path and content hash and by Python version,
so installs of different versions never use each other's entries.
"""

from __future__ import annotations

import functools
import os
import tempfile
from pathlib import Path

import numba
from numba.core import caching as _caching

#: Source folder of the package: only kernels defined in files below it use our locator.
_PACKAGE_DIR = Path(__file__).resolve().parent


def _writable(path: Path) -> bool:
    try:
        path.mkdir(parents=True, exist_ok=True)
        tempfile.TemporaryFile(dir=path).close()
    except OSError:
        return False
    return True


@functools.cache
def cache_dir() -> Path | None:
    """The folder mcfoot's compiled kernels are cached in (``None``: caching is off)."""
    env = os.environ.get("MCFOOT_CACHE_DIR")
    xdg = os.environ.get("XDG_CACHE_HOME")
    cands = [Path(env)] if env else []
    if xdg:
        cands.append(Path(xdg) / "mcfoot" / "numba")
    try:
        cands.append(Path.home() / ".cache" / "mcfoot" / "numba")
    except RuntimeError:  # no home directory
        pass
    uid = os.getuid() if hasattr(os, "getuid") else os.environ.get("USERNAME", "user")
    cands.append(Path(tempfile.gettempdir()) / f"mcfoot-numba-{uid}")
    return next((c for c in cands if _writable(c)), None)


# numba >= 0.61 names the locator classes without the leading underscore.
_UserWide = getattr(_caching, "UserWideCacheLocator", None) or _caching._UserWideCacheLocator
_Impl = getattr(_caching, "CacheImpl", None) or _caching._CacheImpl


class _PackageCacheLocator(_UserWide):
    """Cache mcfoot's kernels under :func:`cache_dir`, never inside the installed package."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        # keyed by the file's place in the package, not its absolute path: an installed and
        # an editable copy of the same source share entries (numba checks the source's
        # content hash on load, so a different version's entry is recompiled, never used)
        rel = Path(py_file).resolve().relative_to(_PACKAGE_DIR).parent
        self._cache_path = os.path.join(str(cache_dir()), "_".join(("mcfoot", *rel.parts)))

    @classmethod
    def from_function(cls, py_func, py_file):
        try:
            ours = Path(py_file).resolve().is_relative_to(_PACKAGE_DIR)
        except (OSError, ValueError):
            ours = False
        if not ours or cache_dir() is None:
            return None
        return super().from_function(py_func, py_file)


def _install_locator() -> None:
    classes = _Impl._locator_classes
    if _PackageCacheLocator not in classes:
        # after numba's NUMBA_CACHE_DIR locator (the user's explicit choice), before in-tree
        classes.insert(1, _PackageCacheLocator)


_install_locator()
_POLICY = {"cache": cache_dir() is not None, "error_model": "numpy", "fastmath": False,
           "nogil": True}


def kernel(fn):
    """Compile ``fn`` with the package policy (serial)."""
    return numba.njit(**_POLICY)(fn)


def inline_kernel(fn):
    """:func:`kernel`, also inlined into its numba callers at numba-IR level
    (``inline="always"``). For small helpers called in inner loops, where passing the
    arrays and their reference counts costs more than the work: the DEA simplex runs ~1.6x
    faster with its helpers inlined, with identical results. Costs compile time (once:
    the cache keeps it): numba deep-copies the callee's IR at every call site, at a cost
    that grows with its blocks times its variables, and an inlined helper that itself
    inlines others is copied again whole at each level. So inline small leaves, at few
    call sites, one level deep where possible (``python benchmarks/bench_compile.py
    --breakdown`` shows each kernel's compile)."""
    return numba.njit(inline="always", **_POLICY)(fn)


def parallel_kernel(fn):
    """Compile ``fn`` with the package policy and ``parallel=True`` (use ``numba.prange``)."""
    return numba.njit(parallel=True, **_POLICY)(fn)


def is_compiled_on_disk(dispatcher) -> bool:
    """Whether ``dispatcher`` (a kernel) has a cache index on disk, i.e. its first call in
    this process loads machine code instead of compiling it (tens of seconds)."""
    if dispatcher.signatures:  # already compiled or loaded in this process
        return True
    index = getattr(getattr(getattr(dispatcher, "_cache", None), "_cache_file", None),
                    "_index_path", None)
    return bool(index) and Path(index).is_file()


def kernels_cached(*dispatchers) -> bool:
    """True when every one of ``dispatchers`` is compiled or cached (no long compile)."""
    return all(is_compiled_on_disk(d) for d in dispatchers)


def threaded(range_kernel, n: int, *args) -> None:
    """Run ``range_kernel(start, stop, *args)`` over ``0 <= k < n`` in contiguous blocks,
    one per thread (``numba.get_num_threads()`` of the calling thread, at most ``n``).

    For a serial kernel that writes only the output slices of its own ``k`` (so results
    do not depend on the number of threads), as ``prange`` would. The kernels release
    the GIL (``nogil``), so the blocks run in parallel; unlike ``parallel=True`` this
    compiles no parallel region (its compile took ~12 s of the DEA kernels' first call).
    """
    threads = max(1, min(numba.get_num_threads(), n))
    if threads == 1:
        range_kernel(0, n, *args)
        return
    from concurrent.futures import ThreadPoolExecutor

    edges = [n * t // threads for t in range(threads + 1)]
    with ThreadPoolExecutor(threads) as pool:
        jobs = [pool.submit(range_kernel, a, b, *args) for a, b in zip(edges, edges[1:])]
        for job in jobs:
            job.result()


prange = numba.prange
