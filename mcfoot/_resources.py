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

from .errors import InputError

TIB = 2 ** 40
GIB = 2 ** 30
MIB = 2 ** 20


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
