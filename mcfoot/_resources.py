"""Resource checks done before work starts: memory for an in-memory run, disk for a file.

A run that cannot fit is refused up front with the size it would need and what to do
instead, rather than failing deep inside NumPy (``MemoryError``) or HDF5 (a full disk can
crash the HDF5 library while it closes the file). The limits read are the ones the operating
system enforces: ``MemAvailable`` (``/proc/meminfo``), the address-space limit
(``RLIMIT_AS``, e.g. ``ulimit -v``) minus what the process already maps, and a cgroup v2
``memory.max`` minus ``memory.current``. Where none can be read (not Linux), memory is not
checked.
"""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import numpy as np

from .errors import InputError

TIB = 2 ** 40
GIB = 2 ** 30
MIB = 2 ** 20


#: Bytes of a cache line, and the span of addresses over which an L1 data cache's sets
#: repeat (its size over its ways: 32 KiB / 8 on Zen 4 and most x86 cores since Skylake).
#: Hardware facts used only for layout (:func:`staggered_empty`), never for a value.
CACHE_LINE = 64
L1_SET_SPAN = 4096


def staggered_empty(shape, i: int) -> np.ndarray:
    """An uninitialised C-contiguous float64 array of ``shape`` starting at cache line
    ``i`` (modulo :data:`L1_SET_SPAN`) of a page.

    Large allocations all start at the same offset in a page, so arrays walked in lockstep
    (a kernel writing element ``[r, d]`` of fifteen outputs) map to one L1 set and evict
    each other's lines before they are full, whatever the cache's size. Giving the
    ``i``-th of them its own offset spreads them over the sets (measured: the sampler
    kernel writing every output, 1 thread, 1.16 -> 0.82 s). The array is a view of its own
    buffer, at most ``L1_SET_SPAN`` bytes longer; values and shape are those of
    ``np.empty``."""
    shape = tuple(int(k) for k in np.atleast_1d(shape))
    size = math.prod(shape)
    buf = np.empty(size + L1_SET_SPAN // 8)
    want = (int(i) * CACHE_LINE) % L1_SET_SPAN
    pad = (want - buf.ctypes.data % L1_SET_SPAN) % L1_SET_SPAN // 8  # malloc: 8-aligned
    return buf[pad:pad + size].reshape(shape)


def _meminfo(key: str, path: str = "/proc/meminfo") -> float:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return float(line.split()[1]) * 1024  # kB
    except OSError:
        pass
    return math.inf


def _cgroup_free() -> float:
    try:
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        if limit == "max":
            return math.inf
        return float(limit) - float(Path("/sys/fs/cgroup/memory.current").read_text())
    except (OSError, ValueError):
        return math.inf


def _address_space_free() -> float:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return math.inf
    if soft == resource.RLIM_INFINITY or soft < 0:
        return math.inf
    return soft - _meminfo("VmSize", "/proc/self/status")


def available_memory() -> float:
    """Bytes this process can still allocate (``inf`` when no limit can be read)."""
    return min(_meminfo("MemAvailable"), _cgroup_free(), _address_space_free())


def fmt_bytes(n: float) -> str:
    if n >= TIB:
        return f"{n / TIB:,.0f} TiB"
    return f"{n / GIB:.1f} GiB" if n >= GIB else f"{n / MIB:.1f} MiB"


def check_memory(needed: float, what: str, instead: str) -> None:
    """Raise InputError when ``needed`` bytes exceed :func:`available_memory`."""
    free = available_memory()
    if needed > free:
        raise InputError(f"{what} needs about {fmt_bytes(needed)} of memory but "
                         f"{fmt_bytes(max(free, 0))} are available; {instead}")


def check_disk(folder: Path, needed: float, what: str) -> None:
    """Raise InputError when ``folder``'s file system has less than ``needed`` bytes free."""
    try:
        free = shutil.disk_usage(folder).free
    except OSError:
        return
    if needed > free:
        raise InputError(f"{what} needs about {fmt_bytes(needed)} but {folder} has "
                         f"{fmt_bytes(free)} free; free some space or write elsewhere")


def oserror_text(e: OSError) -> str:
    """A one-line reason for an OSError (h5py's messages run over many lines)."""
    if e.errno:
        return os.strerror(e.errno)
    return (e.strerror or str(e) or type(e).__name__).splitlines()[0][:200]
