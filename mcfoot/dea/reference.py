"""SciPy/HiGHS twin of the DEA solver: slow, simple, and the oracle in the tests.

Every LP is one ``scipy.optimize.linprog(method="highs")`` call on the textbook
*multiplier* (weights) form, i.e. a different formulation from the numba solver (which
works on the envelopment/dual form), so agreement is a real check. Data go through the
same validation as the public functions.

Two deliberate choices make HiGHS a trustworthy oracle on badly scaled data:

* each input/output column is divided by its maximum first (DEA is exactly invariant to
  column rescaling; the tests check that invariance separately), and
* HiGHS runs with primal/dual feasibility tolerances of 1e-10 instead of its default
  1e-7. With the defaults and columns spanning six orders of magnitude, HiGHS returned
  secondary-goal weights violating ``u·y_j <= v·x_j`` by ~1e-9 (relative ~1e-4) and a
  secondary objective off by a factor of 8.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linprog

from .core import DEAError, _check_mode, _validate

__all__ = ["efficiency", "cross_efficiency", "secondary_weights"]


_HIGHS_OPTIONS = {"primal_feasibility_tolerance": 1e-10, "dual_feasibility_tolerance": 1e-10}


def _scaled(X, Y):
    """Column-max scaling of (B, n, m) / (B, n, s) data (see module docstring)."""
    return X / X.max(axis=-2, keepdims=True), Y / Y.max(axis=-2, keepdims=True)


def _solve(c, A_ub=None, b_ub=None, A_eq=None, b_eq=None, bounds=(0, None)):
    res = linprog(
        c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs", options=_HIGHS_OPTIONS
    )
    if res.status != 0:
        raise DEAError(f"HiGHS failed: {res.message}")
    return res


def _efficiency_one(X, Y, d, orientation, rts):
    """Efficiency of unit d, multiplier form. Variables (v [m], u [s] (, free u0/v0))."""
    n, m = X.shape
    s = Y.shape[1]
    vrs = rts == "vrs"
    k = m + s + (1 if vrs else 0)
    bounds = [(0, None)] * (m + s) + ([(None, None)] if vrs else [])
    if orientation == "input":
        # max u·y_d (- u0)  s.t.  v·x_d = 1,  u·y_j (- u0) - v·x_j <= 0
        c = np.zeros(k)
        c[m : m + s] = -Y[d]
        A_ub = np.hstack([-X, Y] + ([-np.ones((n, 1))] if vrs else []))
        A_eq = np.zeros((1, k))
        A_eq[0, :m] = X[d]
        if vrs:
            c[-1] = 1.0
        res = _solve(c, A_ub, np.zeros(n), A_eq, [1.0], bounds)
        return -res.fun, res.x
    # output: min v·x_d (+ v0)  s.t.  u·y_d = 1,  u·y_j - v·x_j (- v0) <= 0 ; eff = 1/phi
    c = np.zeros(k)
    c[:m] = X[d]
    A_ub = np.hstack([-X, Y] + ([-np.ones((n, 1))] if vrs else []))
    A_eq = np.zeros((1, k))
    A_eq[0, m : m + s] = Y[d]
    if vrs:
        c[-1] = 1.0
    res = _solve(c, A_ub, np.zeros(n), A_eq, [1.0], bounds)
    return 1.0 / res.fun, res.x


def efficiency(inputs, outputs, orientation="input", rts="crs"):
    """Same as :func:`mcfoot.dea.efficiency`, one HiGHS call per LP."""
    X, Y, lead = _validate(inputs, outputs, orientation=orientation, rts=rts)
    X, Y = _scaled(X, Y)
    out = np.empty(X.shape[:2])
    for k in range(X.shape[0]):
        for d in range(X.shape[1]):
            out[k, d] = _efficiency_one(X[k], Y[k], d, orientation, rts)[0]
    return out.reshape(lead + (X.shape[1],))


def secondary_weights(X, Y, d, theta, secondary):
    """Doyle & Green method-III weights of unit d for one instance, as stated in DEA.md.

    ``min`` (aggressive) / ``max`` (benevolent) ``sum_{j != d} u·y_j`` s.t.
    ``sum_{j != d} v·x_j = 1``, ``u·y_d = theta v·x_d``, ``u·y_j <= v·x_j``, ``u, v >= 0``.
    Returns ``(v, u, objective)``. ``X`` and ``Y`` are used as given (not rescaled).
    """
    n, m = X.shape
    s = Y.shape[1]
    others = np.arange(n) != d
    sign = 1.0 if secondary == "aggressive" else -1.0
    c = np.concatenate([np.zeros(m), sign * Y[others].sum(axis=0)])
    A_ub = np.hstack([-X, Y])
    A_eq = np.vstack(
        [
            np.concatenate([X[others].sum(axis=0), np.zeros(s)]),
            np.concatenate([-theta * X[d], Y[d]]),
        ]
    )
    res = _solve(c, A_ub, np.zeros(n), A_eq, [1.0, 0.0])
    return res.x[:m], res.x[m:], sign * res.fun


def cross_efficiency(
    inputs, outputs, secondary="aggressive", include_self=True, return_matrix=False, return_objective=False
):
    """Same as :func:`mcfoot.dea.cross_efficiency`, one HiGHS call per LP.

    ``return_objective=True`` additionally returns the secondary objective values
    ``(..., n)`` (NaN for ``secondary="none"``), which are unique even when the weights
    are not.
    """
    _check_mode(secondary)
    X, Y, lead = _validate(inputs, outputs, min_units=2)
    X, Y = _scaled(X, Y)
    B, n, m = X.shape
    E = np.empty((B, n, n))
    obj = np.full((B, n), np.nan)
    for k in range(B):
        for d in range(n):
            theta, w = _efficiency_one(X[k], Y[k], d, "input", "crs")
            if secondary == "none":
                v, u = w[:m], w[m:]
            else:
                v, u, obj[k, d] = secondary_weights(X[k], Y[k], d, theta, secondary)
            E[k, d] = (Y[k] @ u) / (X[k] @ v)
            E[k, d, d] = theta
    if include_self:
        ce = E.mean(axis=1)
    else:
        ce = (E.sum(axis=1) - np.diagonal(E, axis1=1, axis2=2)) / (n - 1)
    result = [ce.reshape(lead + (n,))]
    if return_matrix:
        result.append(E.reshape(lead + (n, n)))
    if return_objective:
        result.append(obj.reshape(lead + (n,)))
    return result[0] if len(result) == 1 else tuple(result)
