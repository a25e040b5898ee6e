"""Public DEA functions: batched CCR/BCC efficiency and Doyle-Green cross-efficiency.

Pure array functions: NumPy in, NumPy out, batched over any leading (e.g. draw)
dimensions. The LPs are solved by the private numba simplex in :mod:`mcfoot.dea.lp`;
:mod:`mcfoot.dea.reference` is a SciPy/HiGHS twin used as the test oracle.

Conventions
-----------
* ``inputs`` has shape ``(..., n, m)`` (n units, m inputs), ``outputs`` ``(..., n, s)``.
  Leading dimensions broadcast against each other (e.g. fixed outputs ``(n, s)`` with
  drawn inputs ``(draws, n, m)``).
* Inputs and outputs must be finite and **strictly positive**: a zero or negative value
  raises ``ValueError``. (Zeros are legal in some DEA variants, but they make ratio scores
  and cross-efficiency weights degenerate, and no quantity in mcfoot is legitimately
  zero; failing loudly is safer than a silently odd score.)
* Each input/output column is divided by its maximum over the units before solving. DEA
  scores are invariant to such rescaling, and it keeps columns spanning many orders of
  magnitude well conditioned.
* A failed LP (infeasible / unbounded / iteration limit / numerical trouble; none
  should occur for valid data) raises :class:`DEAError` by default, or yields NaN for
  the affected batch element with ``on_error="nan"``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["DEAError", "efficiency", "cross_efficiency"]

_SECONDARY = ("none", "aggressive", "benevolent")


def _solver():
    """The numba solver (:mod:`mcfoot.dea.lp`) and the thread runner, imported on first use:
    numba takes ~0.3 s to import, which ``import mcfoot.dea`` (``mcfoot --help``) should not
    pay."""
    from .._numba import threaded
    from . import lp

    return lp, threaded


class DEAError(RuntimeError):
    """An LP of the DEA model could not be solved to optimality."""


def _maxit(n, m, s):
    return 100 * (n + m + s + 10)


def _check_mode(secondary):
    if secondary not in _SECONDARY:
        raise ValueError(f"secondary must be one of {sorted(_SECONDARY)}, got {secondary!r}")


def _validate(inputs, outputs, orientation="input", rts="crs", min_units=1):
    """Check and normalise the data; return X (B, n, m), Y (B, n, s), leading shape."""
    if orientation not in ("input", "output"):
        raise ValueError(f"orientation must be 'input' or 'output', got {orientation!r}")
    if rts not in ("crs", "vrs"):
        raise ValueError(f"rts must be 'crs' or 'vrs', got {rts!r}")
    arrays = []
    for name, a in (("inputs", inputs), ("outputs", outputs)):
        a = np.asarray(a)
        if a.dtype == object or not (np.issubdtype(a.dtype, np.number) or a.dtype == bool):
            raise ValueError(f"{name} must be a numeric array, got dtype {a.dtype}")
        if np.iscomplexobj(a):
            raise ValueError(f"{name} must be real, got complex dtype {a.dtype}")
        if a.ndim < 2:
            raise ValueError(f"{name} must have shape (..., n_units, n_{name}), got shape {a.shape}")
        if a.shape[-1] == 0:
            raise ValueError(f"{name} has no columns (shape {a.shape})")
        a = a.astype(np.float64, copy=False)
        if not np.all(np.isfinite(a)):
            bad = np.argwhere(~np.isfinite(a))[0]
            raise ValueError(f"{name} contains NaN or infinite values (first at index {tuple(bad)})")
        if np.any(a <= 0.0):
            bad = np.argwhere(a <= 0.0)[0]
            raise ValueError(
                f"{name} must be strictly positive; found {a[tuple(bad)]!r} at index {tuple(bad)}"
            )
        arrays.append(a)
    X, Y = arrays
    n = X.shape[-2]
    if Y.shape[-2] != n:
        raise ValueError(f"inputs have {n} units but outputs have {Y.shape[-2]} (axis -2 must match)")
    if n < min_units:
        raise ValueError(f"need at least {min_units} units, got {n}")
    try:
        lead = np.broadcast_shapes(X.shape[:-2], Y.shape[:-2])
    except ValueError:
        raise ValueError(
            f"leading dimensions of inputs {X.shape[:-2]} and outputs {Y.shape[:-2]} do not broadcast"
        ) from None
    B = int(np.prod(lead, dtype=np.int64))
    X = np.ascontiguousarray(np.broadcast_to(X, lead + X.shape[-2:]).reshape((B,) + X.shape[-2:]))
    Y = np.ascontiguousarray(np.broadcast_to(Y, lead + Y.shape[-2:]).reshape((B,) + Y.shape[-2:]))
    # read-only views, whatever the caller passed: numba types a read-only array apart from a
    # writable one, so mixing them compiled every kernel twice (~9 s per first `rank`)
    X, Y = X.view(), Y.view()
    X.flags.writeable = Y.flags.writeable = False
    return X, Y, tuple(lead)


def _raise_or_nan(status, on_error, what, lead):
    if on_error not in ("raise", "nan"):
        raise ValueError(f"on_error must be 'raise' or 'nan', got {on_error!r}")
    lp, _ = _solver()
    bad = status != lp.OPTIMAL
    if on_error == "raise" and bad.any():
        k, d = np.argwhere(bad)[0]
        code = int(status[k, d])
        stage = "secondary" if code >= 10 else "primary"
        name = lp.STATUS_NAMES.get(code % 10, str(code))
        idx = tuple(int(i) for i in np.unravel_index(k, lead)) if lead else ()
        raise DEAError(
            f"{what}: {int(bad.sum())} LP(s) failed; first: {stage} LP of unit {int(d)} "
            f"in batch element {idx}: {name}"
        )
    return bad


def efficiency(inputs, outputs, orientation="input", rts="crs", *, on_error="raise"):
    """Radial DEA efficiency of every unit, batched over leading dimensions.

    Parameters
    ----------
    inputs : array_like, shape (..., n, m)
        Strictly positive, finite inputs (smaller is better).
    outputs : array_like, shape (..., n, s)
        Strictly positive, finite outputs (larger is better).
    orientation : {"input", "output"}
        Input orientation gives theta (radial input contraction); output orientation
        gives 1/phi (phi = radial output expansion) so both lie in (0, 1]. They coincide
        under CRS.
    rts : {"crs", "vrs"}
        Constant (CCR) or variable (BCC) returns to scale.
    on_error : {"raise", "nan"}
        What to do if an LP fails (should not happen for valid data).

    Returns
    -------
    ndarray, shape broadcast(...) + (n,)
        Efficiencies in (0, 1].
    """
    X, Y, lead = _validate(inputs, outputs, orientation=orientation, rts=rts)
    B, n, m = X.shape
    s = Y.shape[2]
    theta = np.empty((B, n))
    status = np.empty((B, n), dtype=np.int64)
    lp, threaded = _solver()
    if rts == "vrs":
        threaded(lp._vrs_batch, B, X, Y, orientation == "output", _maxit(n, m, s), theta, status)
    else:  # input and output orientation coincide under CRS
        threaded(lp._crs_batch, B, X, Y, _maxit(n, m, s), theta, status)
    bad = _raise_or_nan(status, on_error, "efficiency", lead)
    theta[bad] = np.nan
    return theta.reshape(lead + (n,))


def _cross_full(inputs, outputs, secondary="aggressive", want_matrix=False):
    """Everything the cross-efficiency kernel computes (used by tests and benchmarks).

    Returns ``theta (B, n)``, ``colsum (B, n)`` (sum over d != k of E[d, k]),
    ``E (B, n, n)`` or None, ``secobj (B, n)``, ``status (B, n)``, ``lead``.
    """
    _check_mode(secondary)
    X, Y, lead = _validate(inputs, outputs, min_units=2)
    B, n, m = X.shape
    s = Y.shape[2]
    theta = np.empty((B, n))
    colsum = np.empty((B, n))
    secobj = np.empty((B, n))
    status = np.empty((B, n), dtype=np.int64)
    E = np.empty((B, n, n) if want_matrix else (1, 1, 1))
    maxit = _maxit(n, m, s)
    lp, threaded = _solver()
    # one kernel per secondary goal, so a call compiles only the LPs it solves
    if secondary == "benevolent":
        threaded(lp._crs_batch, B, X, Y, maxit, theta, status)
        threaded(lp._benevolent_batch, B, X, Y, want_matrix, maxit, theta, colsum, E, secobj, status)
    else:
        mode = lp.MODE_AGGRESSIVE if secondary == "aggressive" else lp.MODE_NONE
        threaded(lp._cross_batch, B, X, Y, mode, want_matrix, maxit, theta, colsum, E, secobj,
                 status)
    return theta, colsum, (E if want_matrix else None), secobj, status, lead


def cross_efficiency(
    inputs, outputs, secondary="aggressive", include_self=True, return_matrix=False, *, on_error="raise"
):
    """Mean CCR cross-efficiency of every unit, batched over leading dimensions.

    Unit d's weights (v_d, u_d) score every unit k: ``E[d, k] = (u_d·y_k) / (v_d·x_k)``,
    with ``E[k, k] = theta_k`` (CCR input-oriented efficiency). The score of unit k is the
    mean of column k of E.

    Parameters
    ----------
    inputs, outputs : array_like, shapes (..., n, m) and (..., n, s)
        Strictly positive and finite; n >= 2.
    secondary : {"aggressive", "benevolent", "none"}
        How d's weights are chosen among those that keep its own efficiency at theta_d
        (Doyle & Green 1994, method III): minimise (aggressive) or maximise (benevolent)
        ``sum_{j != d} u·y_j`` subject to ``sum_{j != d} v·x_j = 1``,
        ``u·y_d = theta_d v·x_d``, ``u·y_j <= v·x_j`` for all j, ``u, v >= 0``.
        ``"none"`` takes whatever optimal weights the primary LP returns; this is
        **ill-defined** when the optimal weights are not unique (common in DEA), so the
        result then depends on the solver. Prefer a secondary goal.
    include_self : bool
        Average over all n appraisals (default, as in the study) or only the n - 1
        appraisals by other units.
    return_matrix : bool
        Also return the full cross-efficiency matrix E, shape (..., n, n) (rows: rating
        unit d, columns: rated unit k). Memory grows as n^2 per batch element.
    on_error : {"raise", "nan"}
        On an LP failure raise :class:`DEAError` (default) or set the whole batch element
        to NaN (every unit's score depends on every unit's weights).

    Returns
    -------
    ce : ndarray, shape (..., n)
        Mean cross-efficiencies, in (0, 1].
    E : ndarray, shape (..., n, n)
        Only if ``return_matrix``.
    """
    theta, colsum, E, _, status, lead = _cross_full(inputs, outputs, secondary, return_matrix)
    n = theta.shape[1]
    bad_lp = _raise_or_nan(status, on_error, "cross_efficiency", lead)
    bad = bad_lp.any(axis=1)
    if include_self:
        ce = (colsum + theta) / n
    else:
        ce = colsum / (n - 1)
    ce[bad] = np.nan
    if return_matrix:
        E[bad] = np.nan
        return ce.reshape(lead + (n,)), E.reshape(lead + (n, n))
    return ce.reshape(lead + (n,))
