"""Private numba solver for the small dense linear programmes of DEA.

Everything here is an implementation detail of :mod:`mcfoot.dea.core`; the public API
lives there. The design:

* One generic dense **tableau simplex** (:func:`_solve_lp`) for
  ``max c·x  s.t.  A x (<= or =) b,  x >= 0`` with a two-phase start (artificial columns
  only for rows that need them). DEA is solved in the *envelopment* (dual) form, whose
  tableau has only m+s (+1) rows and ~n columns, so every pivot is a few hundred flops.
* Dantzig pricing, ratio test with ties broken towards the largest pivot element, and a
  switch to Bland's rule after a run of degenerate pivots (DEA with duplicated units is
  very degenerate), so the method terminates; an iteration limit is a final guard.
* Status codes instead of exceptions (kernels never raise): see ``OPTIMAL`` & co.
* Batch drivers parallelise over the leading (draw) axis with ``prange``; each iteration
  owns its workspace and writes only its own output slice, so results do not depend on
  the number of threads.

All numba functions use the package policy in :mod:`mcfoot._numba`.
"""

from __future__ import annotations

import numpy as np

from .._numba import kernel, parallel_kernel, prange

# ---- status codes (shared with core.py) ------------------------------------------------
OPTIMAL = 0
INFEASIBLE = 1
UNBOUNDED = 2
ITERATION_LIMIT = 3
NUMERICAL = 4  # e.g. a non-finite value appeared during pivoting

STATUS_NAMES = {
    OPTIMAL: "optimal",
    INFEASIBLE: "infeasible",
    UNBOUNDED: "unbounded",
    ITERATION_LIMIT: "iteration limit",
    NUMERICAL: "numerical failure",
}

# ---- tolerances (data are column-scaled to max 1 before they reach the solver) ---------
_OPT_TOL = 1e-11  # a reduced cost below -_OPT_TOL may enter
_PIV_TOL = 1e-11  # smallest acceptable pivot element
_FEAS_TOL = 1e-9  # phase-I objective tolerance (relative to 1 + sum|b|)
_DEGEN_SWITCH = 30  # consecutive degenerate pivots before switching to Bland's rule
# Retry ladder (relative decrements of theta) for the secondary LP, see _cross_batch. The
# secondary optimum can be very sensitive to theta (d obj / d theta ~ 1e3-1e4 seen on
# study-like data), so the steps start at a few ulps.
_THETA_SHRINK = (0.0, 2.0**-51, 2.0**-48, 2.0**-45, 2.0**-42, 1e-11, 1e-9)

# secondary-goal modes
MODE_NONE = 0
MODE_AGGRESSIVE = 1
MODE_BENEVOLENT = 2


@kernel
def _pivot(T, nrows, ncols, p, q, prow):
    """Pivot tableau ``T[:nrows, :ncols]`` on element (p, q). ``prow`` is scratch."""
    inv = 1.0 / T[p, q]
    for j in range(ncols):
        v = T[p, j] * inv
        T[p, j] = v
        prow[j] = v
    T[p, q] = 1.0
    prow[q] = 1.0
    for i in range(nrows):
        if i != p:
            f = T[i, q]
            if f != 0.0:
                for j in range(ncols):
                    T[i, j] -= f * prow[j]
                T[i, q] = 0.0


@kernel
def _simplex(T, basis, R, nrows, ncols, obj, ncand, maxit, prow, target):
    """Primal simplex on a tableau in canonical form (maximisation).

    Rows ``0..R-1`` are constraints, row ``obj`` holds reduced costs
    ``d_j = c_B B^-1 A_j - c_j`` (optimal when all ``d_j >= -tol``); all ``nrows`` rows are
    updated by each pivot; only columns ``< ncand`` may enter; the last column is the RHS.
    Stops as optimal once the objective value reaches ``target`` (phase I: zero
    infeasibility up to tolerance; phase II: ``inf``). Returns ``(status, iterations)``.
    """
    rhs = ncols - 1
    it = 0
    degen = 0
    bland = False
    while True:
        if T[obj, rhs] >= target:
            return OPTIMAL, it
        # ---- pricing
        q = -1
        if bland:
            for j in range(ncand):
                if T[obj, j] < -_OPT_TOL:
                    q = j
                    break
        else:
            best = -_OPT_TOL
            for j in range(ncand):
                dj = T[obj, j]
                if dj < best:
                    best = dj
                    q = j
        if q < 0:
            return OPTIMAL, it
        if it >= maxit:
            return ITERATION_LIMIT, it
        # ---- ratio test
        p = -1
        best_ratio = np.inf
        best_piv = 0.0
        for i in range(R):
            a = T[i, q]
            if a > _PIV_TOL:
                bi = T[i, rhs]
                if bi < 0.0:
                    bi = 0.0
                r = bi / a
                if p < 0:
                    p = i
                    best_ratio = r
                    best_piv = a
                else:
                    tie = 1e-12 * (1.0 + best_ratio)
                    if r < best_ratio - tie:
                        p = i
                        best_ratio = r
                        best_piv = a
                    elif r <= best_ratio + tie:
                        if bland:
                            if basis[i] < basis[p]:
                                p = i
                                best_ratio = min(r, best_ratio)
                                best_piv = a
                        elif a > best_piv:
                            p = i
                            best_ratio = min(r, best_ratio)
                            best_piv = a
        if p < 0:
            return UNBOUNDED, it
        if best_ratio <= 1e-14:
            degen += 1
            if degen >= _DEGEN_SWITCH:
                bland = True
        else:
            degen = 0
        _pivot(T, nrows, ncols, p, q, prow)
        basis[p] = q
        it += 1
        # clamp round-off negatives of basic values; detect blow-ups
        for i in range(R):
            v = T[i, rhs]
            if v < 0.0:
                T[i, rhs] = 0.0
            elif not (v < np.inf):
                return NUMERICAL, it
        if not (abs(T[obj, rhs]) < np.inf):
            return NUMERICAL, it


@kernel
def _solve_lp(A, b, c, rowtype, R, N, buf, basis, prow, x, y, maxit):
    """Solve ``max c·x  s.t.  A[i] x <= b[i] (rowtype 0) or == b[i] (rowtype 2), x >= 0``.

    ``A`` is ``(>=R, >=N)``; only the leading ``R x N`` block is read. ``buf`` is a flat
    workspace of at least ``(R + 2) * (N + 2 R + 1)`` floats, ``basis`` at least ``R``
    ints, ``prow`` at least ``N + 2 R + 1`` floats. On return ``x[:N]`` holds the primal
    solution and ``y[:R]`` the duals of the original rows (``y >= 0`` for ``<=`` rows).
    Returns ``(status, objective)``.
    """
    K = 0
    for i in range(R):
        if rowtype[i] == 2 or b[i] < 0.0:
            K += 1
    ncols = N + R + K + 1
    nrt = R + 2 if K > 0 else R + 1
    T = buf[: nrt * ncols].reshape((nrt, ncols))
    T[:, :] = 0.0
    rhs = ncols - 1
    k = 0
    for i in range(R):
        sgn = 1.0 if b[i] >= 0.0 else -1.0
        for j in range(N):
            T[i, j] = sgn * A[i, j]
        T[i, rhs] = sgn * b[i]
        if rowtype[i] == 0:
            T[i, N + i] = sgn
        if rowtype[i] == 2 or sgn < 0.0:
            T[i, N + R + k] = 1.0
            basis[i] = N + R + k
            k += 1
        else:
            basis[i] = N + i
    for j in range(N):
        T[R, j] = -c[j]
    if K > 0:
        bsum = 0.0
        for i in range(R):
            bsum += abs(b[i])
            if basis[i] >= N + R:
                for j in range(N + R):
                    T[R + 1, j] -= T[i, j]
                T[R + 1, rhs] -= T[i, rhs]
        feas = -_FEAS_TOL * (1.0 + bsum)
        st, _ = _simplex(T, basis, R, nrt, ncols, R + 1, N + R, maxit, prow, feas)
        # phase I is bounded (objective <= 0); "unbounded" can only be round-off in the
        # reduced costs, so judge feasibility by the objective value in that case too
        if st != OPTIMAL and st != UNBOUNDED:
            return st, np.nan
        if T[R + 1, rhs] < feas:
            return INFEASIBLE, np.nan
        # drive artificials that are still basic (at zero) out of the basis
        for i in range(R):
            if basis[i] >= N + R:
                q = -1
                big = 1e-9
                for j in range(N + R):
                    aj = abs(T[i, j])
                    if aj > big:
                        big = aj
                        q = j
                if q >= 0:
                    _pivot(T, nrt, ncols, i, q, prow)
                    basis[i] = q
                    if T[i, rhs] < 0.0:
                        T[i, rhs] = 0.0
                # else: redundant row; the artificial stays basic at 0 and never moves
    st, _ = _simplex(T, basis, R, R + 1, ncols, R, N + R, maxit, prow, np.inf)
    if st != OPTIMAL:
        return st, np.nan
    for j in range(N):
        x[j] = 0.0
    for i in range(R):
        if basis[i] < N:
            x[basis[i]] = T[i, rhs]
    # duals: reduced cost of each row's identity column (slack or artificial)
    k = 0
    for i in range(R):
        sgn = 1.0 if b[i] >= 0.0 else -1.0
        if rowtype[i] == 2 or sgn < 0.0:
            col = N + R + k
            k += 1
        else:
            col = N + i
        y[i] = sgn * T[R, col]
    return OPTIMAL, T[R, rhs]


# ---- per-instance helpers ---------------------------------------------------------------
# Data reach these helpers column-scaled and *transposed*: XT (m, n), YT (s, n), so that
# every tableau row is filled from one contiguous row of data.


@kernel
def _scale_transpose(Xin, XT):
    """XT[i, j] = Xin[j, i] / max_j Xin[j, i] (DEA is invariant to column rescaling)."""
    n, m = Xin.shape
    for i in range(m):
        mx = 0.0
        for j in range(n):
            if Xin[j, i] > mx:
                mx = Xin[j, i]
        inv = 1.0 / mx
        for j in range(n):
            XT[i, j] = Xin[j, i] * inv


@kernel
def _leq_tableau(buf, R, N):
    """Tableau view ``(R + 1, N + R + 1)`` on ``buf`` with the slack block set to the
    identity; the caller fills the structural block, the RHS column and row R."""
    ncols = N + R + 1
    T = buf[: (R + 1) * ncols].reshape((R + 1, ncols))
    for i in range(R + 1):
        for j in range(N, N + R):
            T[i, j] = 0.0
    for i in range(R):
        T[i, N + i] = 1.0
    return T


@kernel
def _solve_leq(T, basis, R, N, prow, y, maxit):
    """Fast path of :func:`_solve_lp` for ``max c·x s.t. A x <= b, x >= 0`` with b >= 0:
    the slack basis is feasible, so no phase I and no copy. ``T`` comes from
    :func:`_leq_tableau` with rows ``[A | I | b]`` and objective row ``[-c | 0 | 0]``.
    Returns ``(status, objective)``; duals in ``y[:R]``."""
    for i in range(R):
        basis[i] = N + i
    st, _ = _simplex(T, basis, R, R + 1, N + R + 1, R, N + R, maxit, prow, np.inf)
    if st != OPTIMAL:
        return st, np.nan
    for i in range(R):
        y[i] = T[R, N + i]
    return OPTIMAL, T[R, N + R]


@kernel
def _primary_crs(XT, YT, d, buf, basis, prow, y, maxit):
    """CCR efficiency of unit d via the output-oriented envelopment LP.

    ``max phi  s.t.  sum_j lam_j x_j <= x_d,  phi y_d - sum_j lam_j y_j <= 0``; under
    CRS theta = 1/phi. All rows are ``<=`` with b >= 0, so the slack basis is feasible.
    The row duals are the multipliers (v, u) with u·y_d = 1 and v·x_d = phi (divide by
    phi for the input-oriented normalisation). Returns ``(status, theta)``; duals in
    ``y[:m+s]``.
    """
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s
    N = n + 1
    T = _leq_tableau(buf, R, N)
    rhs = N + R
    for i in range(m):
        for j in range(n):
            T[i, j] = XT[i, j]
        T[i, n] = 0.0
        T[i, rhs] = XT[i, d]
    for r in range(s):
        for j in range(n):
            T[m + r, j] = -YT[r, j]
        T[m + r, n] = YT[r, d]
        T[m + r, rhs] = 0.0
    for j in range(N):
        T[R, j] = 0.0
    T[R, n] = -1.0
    T[R, rhs] = 0.0
    st, phi = _solve_leq(T, basis, R, N, prow, y, maxit)
    if st != OPTIMAL:
        return st, np.nan
    if not (phi > 0.0):
        return NUMERICAL, np.nan
    return OPTIMAL, 1.0 / phi


@kernel
def _fill_secondary(M, b, XT, YT, d, theta, sgn):
    """Write the constraint block of the secondary dual LP (D2) into ``M[:m+s, :n+3]``
    and its RHS into ``b``; see :func:`_secondary_crs`."""
    m, n = XT.shape
    s = YT.shape[0]
    inv = 1.0 / (n - 1)
    for i in range(m):
        tot = 0.0
        for j in range(n):
            v = XT[i, j]
            tot += v
            M[i, 3 + j] = v
        xbar = (tot - XT[i, d]) * inv
        M[i, 0] = xbar
        M[i, 1] = -xbar
        M[i, 2] = -theta * XT[i, d]
        b[i] = 0.0
    for r in range(s):
        tot = 0.0
        for j in range(n):
            v = YT[r, j]
            tot += v
            M[m + r, 3 + j] = -v
        M[m + r, 0] = 0.0
        M[m + r, 1] = 0.0
        M[m + r, 2] = YT[r, d]
        b[m + r] = sgn * (tot - YT[r, d]) * inv


@kernel
def _secondary_crs(XT, YT, d, theta, benevolent, A, b, c, rowtype, buf, basis, prow, xsol, y, maxit):
    """Doyle & Green (1994) method-III secondary goal for unit d, solved in dual form.

    Primal (P2, in the weights v, u), with means instead of sums over j != d (same
    optimal weights up to a common factor, and the same objective value)::

        min (max if benevolent)  ybar·u
        s.t. xbar·v = 1,  u·y_d - theta v·x_d >= 0,  v·x_j - u·y_j >= 0 for all j,  u, v >= 0

    (``>=`` in the second row is equivalent to ``=`` because no weights beat theta_d.)
    Its dual (D2) has only m + s rows and a right-hand side (0, ±ybar)::

        max alpha  s.t.  alpha xbar_i - beta theta x_id + sum_j mu_j x_ij <= 0      (v_i)
                         beta y_rd - sum_j mu_j y_rj <= ±ybar_r                     (u_r)
        alpha free (alpha+ - alpha-), beta >= 0, mu >= 0

    For the aggressive goal (+ybar) the slack basis is feasible (fast path, no phase I);
    the benevolent goal (-ybar) goes through the two-phase solver. The duals of D2 are
    the weights (v, u). Returns ``(status, secondary objective)``, the objective being
    sum_{j != d} u·y_j under sum_{j != d} v·x_j = 1.
    """
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s
    N = n + 3  # alpha+, alpha-, beta, mu_1..mu_n
    if not benevolent:
        T = _leq_tableau(buf, R, N)
        _fill_secondary(T, b, XT, YT, d, theta, 1.0)
        rhs = N + R
        for i in range(R):
            T[i, rhs] = b[i]
        for j in range(N):
            T[R, j] = 0.0
        T[R, 0] = -1.0
        T[R, 1] = 1.0
        T[R, rhs] = 0.0
        return _solve_leq(T, basis, R, N, prow, y, maxit)
    _fill_secondary(A, b, XT, YT, d, theta, -1.0)
    for i in range(R):
        rowtype[i] = 0
    for j in range(N):
        c[j] = 0.0
    c[0] = 1.0
    c[1] = -1.0
    st, val = _solve_lp(A, b, c, rowtype, R, N, buf, basis, prow, xsol, y, maxit)
    if st != OPTIMAL:
        return st, np.nan
    return OPTIMAL, -val


@kernel
def _primary_general(XT, YT, d, orient_output, vrs, A, b, c, rowtype, buf, basis, prow, xsol, y, maxit):
    """Efficiency in (0, 1] of unit d for any orientation / returns to scale.

    CRS uses :func:`_primary_crs` (input and output orientation coincide: theta = 1/phi).
    VRS input:  max -theta  s.t. -theta x_d + X lam <= 0, -Y lam <= -y_d, sum lam = 1,
                theta <= 1.
    VRS output: max phi     s.t.  X lam <= x_d, phi y_d - Y lam <= 0,   sum lam = 1;
    reported as 1/phi.
    """
    if not vrs:
        return _primary_crs(XT, YT, d, buf, basis, prow, y, maxit)
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s + 1 if orient_output else m + s + 2
    N = n + 1  # column 0: theta or phi; columns 1..n: lambda
    for j in range(N):
        c[j] = 0.0
    if orient_output:
        c[0] = 1.0
        for i in range(m):
            A[i, 0] = 0.0
            for j in range(n):
                A[i, 1 + j] = XT[i, j]
            b[i] = XT[i, d]
            rowtype[i] = 0
        for r in range(s):
            A[m + r, 0] = YT[r, d]
            for j in range(n):
                A[m + r, 1 + j] = -YT[r, j]
            b[m + r] = 0.0
            rowtype[m + r] = 0
    else:
        c[0] = -1.0
        for i in range(m):
            A[i, 0] = -XT[i, d]
            for j in range(n):
                A[i, 1 + j] = XT[i, j]
            b[i] = 0.0
            rowtype[i] = 0
        for r in range(s):
            A[m + r, 0] = 0.0
            for j in range(n):
                A[m + r, 1 + j] = -YT[r, j]
            b[m + r] = -YT[r, d]
            rowtype[m + r] = 0
    A[m + s, 0] = 0.0
    for j in range(n):
        A[m + s, 1 + j] = 1.0
    b[m + s] = 1.0
    rowtype[m + s] = 2
    if not orient_output:
        # theta <= 1 changes nothing (lambda = e_d is feasible with theta = 1) but keeps
        # phase I from wandering to huge theta, which costs accuracy
        A[m + s + 1, 0] = 1.0
        for j in range(n):
            A[m + s + 1, 1 + j] = 0.0
        b[m + s + 1] = 1.0
        rowtype[m + s + 1] = 0
    st, val = _solve_lp(A, b, c, rowtype, R, N, buf, basis, prow, xsol, y, maxit)
    if st != OPTIMAL:
        return st, np.nan
    if orient_output:
        if not (val > 0.0):
            return NUMERICAL, np.nan
        return OPTIMAL, 1.0 / val
    return OPTIMAL, -val


# ---- batch drivers ------------------------------------------------------------------------


@kernel
def _workspace(n, m, s):
    R = m + s + 2
    N = n + 3
    A = np.empty((R, N))
    b = np.empty(R)
    c = np.empty(N)
    rowtype = np.empty(R, dtype=np.int64)
    buf = np.empty((R + 2) * (N + 2 * R + 1))
    basis = np.empty(R, dtype=np.int64)
    prow = np.empty(N + 2 * R + 1)
    xsol = np.empty(N)
    y = np.empty(R)
    return A, b, c, rowtype, buf, basis, prow, xsol, y


@parallel_kernel
def _efficiency_batch(X, Y, orient_output, vrs, maxit, theta, status):
    """theta[k, d] for every batch element k (X: (B, n, m), Y: (B, n, s))."""
    B, n, m = X.shape
    s = Y.shape[2]
    for k in prange(B):
        A, b, c, rowtype, buf, basis, prow, xsol, y = _workspace(n, m, s)
        XT = np.empty((m, n))
        YT = np.empty((s, n))
        _scale_transpose(X[k], XT)
        _scale_transpose(Y[k], YT)
        for d in range(n):
            st, th = _primary_general(
                XT, YT, d, orient_output, vrs, A, b, c, rowtype, buf, basis, prow, xsol, y, maxit
            )
            theta[k, d] = th
            status[k, d] = st


@parallel_kernel
def _cross_batch(X, Y, mode, want_matrix, maxit, theta, colsum, E, secobj, status):
    """CRS cross-efficiency for every batch element.

    Writes theta[k, d], colsum[k, c] = sum_{d != c} E[k, d, c], secobj[k, d] (the
    secondary objective, NaN for mode none), status[k, d] (first failing LP of unit d:
    primary code, or 10 + code for the secondary LP), and E[k] if want_matrix.
    """
    B, n, m = X.shape
    s = Y.shape[2]
    for k in prange(B):
        A, b, c, rowtype, buf, basis, prow, xsol, y = _workspace(n, m, s)
        XT = np.empty((m, n))
        YT = np.empty((s, n))
        u = np.empty(s)
        v = np.empty(m)
        num = np.empty(n)
        den = np.empty(n)
        _scale_transpose(X[k], XT)
        _scale_transpose(Y[k], YT)
        for j in range(n):
            colsum[k, j] = 0.0
        for d in range(n):
            st, th = _primary_crs(XT, YT, d, buf, basis, prow, y, maxit)
            theta[k, d] = th
            status[k, d] = st
            secobj[k, d] = np.nan
            if st == OPTIMAL and mode != MODE_NONE:
                # theta enters the secondary LP as a constraint coefficient; if round-off
                # left it a hair above the true optimum, the LP is infeasible (its dual
                # unbounded). Retry with theta nudged down: a perturbation far below any
                # tolerance that matters, used only when needed.
                st2 = UNBOUNDED
                val = np.nan
                for shrink in _THETA_SHRINK:
                    st2, val = _secondary_crs(
                        XT, YT, d, th * (1.0 - shrink), mode == MODE_BENEVOLENT,
                        A, b, c, rowtype, buf, basis, prow, xsol, y, maxit,
                    )
                    if st2 != UNBOUNDED:
                        break
                secobj[k, d] = val
                if st2 != OPTIMAL:
                    status[k, d] = 10 + st2
                    st = st2
            if st != OPTIMAL:
                for j in range(n):
                    colsum[k, j] = np.nan
                    if want_matrix:
                        E[k, d, j] = np.nan
                continue
            for i in range(m):
                v[i] = max(y[i], 0.0)
            for r in range(s):
                u[r] = max(y[m + r], 0.0)
            for j in range(n):
                num[j] = 0.0
                den[j] = 0.0
            for r in range(s):
                for j in range(n):
                    num[j] += u[r] * YT[r, j]
            for i in range(m):
                for j in range(n):
                    den[j] += v[i] * XT[i, j]
            for j in range(n):
                e = th if j == d else num[j] / den[j]
                if j != d:
                    colsum[k, j] += e
                if want_matrix:
                    E[k, d, j] = e
