"""The one numba decorator policy of mcfoot.

Every compiled kernel in the package is declared with :func:`kernel` (serial) or
:func:`parallel_kernel` (``prange`` over an outer dimension). Policy: ``cache=True`` so a
second process does not recompile, ``error_model="numpy"`` so division follows IEEE rules
like the NumPy twins, and never ``fastmath`` (it would break bit-for-bit parity with the
NumPy oracles and reproducibility across machines).
"""

from __future__ import annotations

import numba

_POLICY = {"cache": True, "error_model": "numpy", "fastmath": False, "nogil": True}


def kernel(fn):
    """Compile ``fn`` with the package policy (serial)."""
    return numba.njit(**_POLICY)(fn)


def parallel_kernel(fn):
    """Compile ``fn`` with the package policy and ``parallel=True`` (use ``numba.prange``)."""
    return numba.njit(parallel=True, **_POLICY)(fn)


prange = numba.prange
