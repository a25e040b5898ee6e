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
* Batch drivers are serial kernels over a block ``start <= k < stop`` of the leading
  (draw) axis, run on threads by :func:`mcfoot._numba.threaded`; each element owns its
  workspace and writes only its own output slice, so results do not depend on the
  number of threads. One driver per LP family (CCR, BCC, aggressive/none and benevolent
  cross-efficiency), so a call compiles only the LPs it solves.

All numba functions use the package policy in :mod:`mcfoot._numba`; the small helpers of
the inner loops are inlined into their callers (:func:`mcfoot._numba.inline_kernel`).
"""

from __future__ import annotations

import numpy as np

from .._numba import inline_kernel, kernel

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


@inline_kernel
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


@inline_kernel
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


# ---- column generation over the units ---------------------------------------------------
# Both CRS LPs of the cross-efficiency (the primary envelopment LP and the aggressive
# secondary D2) are ``max c·x s.t. A x <= b, x >= 0`` with b >= 0 whose structural columns
# are a few *special* columns plus one column per unit j, always ``(x_j; -y_j)`` with cost 0.
# At an optimum only units on the efficient frontier can be basic: a basic unit column has
# reduced cost 0, i.e. ``v·x_j = u·y_j`` under the optimal (feasible) weights, so theta_j = 1.
# So each LP is solved on the columns of the units already known to be efficient in this
# batch element, then *every* unit column is priced with the optimal duals; violated columns
# are added (transformed by B^-1, which is the slack block of the tableau) and the simplex
# continues. It stops only when no unit column prices out, i.e. at an optimum of the full
# LP. Which units are known depends only on the batch element itself (units are visited in
# order 0..n-1), never on other batch elements or on the number of threads.
#
# Tableau layout (``T`` is ``(R + 1, 3 + R + n + 1)``, R = m + s rows):
#   columns 0..ks-1 special, ks..ks+R-1 slacks (their block is B^-1; the objective row there
#   holds the duals), then the active unit columns in activation order, then the RHS (moved
#   one column right whenever a unit is activated, so it is always last).


@inline_kernel
def _cg_start(T, ks, R, basis):
    """Set the slack block to the identity (zero objective) and the slack basis."""
    for i in range(R + 1):
        for j in range(ks, ks + R):
            T[i, j] = 0.0
    for i in range(R):
        T[i, ks + i] = 1.0
        basis[i] = ks + i


@inline_kernel
def _cg_activate(T, ks, R, nu, XT, YT, j, units, where, fresh):
    """Add unit j's column ``B^-1 (x_j; -y_j)`` (objective row: its reduced cost) at slot
    ``nu``; returns the new number of active units. ``fresh``: the tableau is still at the
    slack basis (B = I, zero duals), so the column is the data itself."""
    m = XT.shape[0]
    s = YT.shape[0]
    col = ks + R + nu
    for i in range(R + 1):
        T[i, col + 1] = T[i, col]  # the RHS moves right
    if fresh:
        for i in range(m):
            T[i, col] = XT[i, j]
        for r in range(s):
            T[m + r, col] = -YT[r, j]
        T[R, col] = 0.0
    else:
        for i in range(R + 1):
            acc = 0.0
            for k in range(m):
                acc += T[i, ks + k] * XT[k, j]
            for r in range(s):
                acc -= T[i, ks + m + r] * YT[r, j]
            T[i, col] = acc
    units[nu] = j
    where[j] = col
    return nu + 1


@inline_kernel
def _cg_price(T, ks, R, nu, XT, YT, units, where, red):
    """Price every unit column with the duals y (``T[R, ks:ks + R]``):
    ``d_j = y·(x_j; -y_j)``; activate each inactive unit with ``d_j < -tol``. Returns
    ``(nu, number added)``."""
    m, n = XT.shape
    s = YT.shape[0]
    for j in range(n):
        red[j] = 0.0
    for i in range(m):
        yi = T[R, ks + i]
        for j in range(n):
            red[j] += yi * XT[i, j]
    for r in range(s):
        yr = T[R, ks + m + r]
        for j in range(n):
            red[j] -= yr * YT[r, j]
    added = 0
    for j in range(n):
        if where[j] < 0 and red[j] < -_OPT_TOL:
            nu = _cg_activate(T, ks, R, nu, XT, YT, j, units, where, False)
            added += 1
    return nu, added


@inline_kernel
def _cg_tableau(secondary, XT, YT, d, theta, tot, T, basis, F, nF, units, where):
    """The starting tableau of :func:`_cg_lp` at the slack basis: special columns, RHS,
    and the columns of the units it starts from (primary: d, then the known efficient
    units ``F[:nF]``; secondary: ``F[:nF]``). Returns ``(ks, nu)``."""
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s
    ks = 3 if secondary else 1
    rhs = ks + R
    if secondary:
        inv = 1.0 / (n - 1)
        for i in range(m):
            xbar = (tot[i] - XT[i, d]) * inv
            T[i, 0] = xbar
            T[i, 1] = -xbar
            T[i, 2] = -theta * XT[i, d]
            T[i, rhs] = 0.0
        for r in range(s):
            T[m + r, 0] = 0.0
            T[m + r, 1] = 0.0
            T[m + r, 2] = YT[r, d]
            T[m + r, rhs] = (tot[m + r] - YT[r, d]) * inv
        T[R, 0] = -1.0
        T[R, 1] = 1.0
        T[R, 2] = 0.0
    else:
        for i in range(m):
            T[i, 0] = 0.0
            T[i, rhs] = XT[i, d]
        for r in range(s):
            T[m + r, 0] = YT[r, d]
            T[m + r, rhs] = 0.0
        T[R, 0] = -1.0
    T[R, rhs] = 0.0
    _cg_start(T, ks, R, basis)
    nu = 0
    for f in range(-1, nF):
        j = F[f] if f >= 0 else (-1 if secondary else d)
        if j >= 0 and where[j] < 0:
            nu = _cg_activate(T, ks, R, nu, XT, YT, j, units, where, True)
    return ks, nu


@kernel
def _cg_lp(secondary, XT, YT, d, theta, tot, T, basis, prow, y, units, where, red, F, nF, inF,
           maxit):
    """Unit d's CRS LP by column generation (see the comment above): the primary LP, or with
    ``secondary`` the aggressive secondary LP at efficiency ``theta``. One kernel for both,
    so the column-generation simplex is compiled once. Returns ``(status, value, nF)``:
    the efficiency theta (primary) or the secondary objective; duals in ``y[:m+s]``.

    Primary: CCR efficiency via the output-oriented envelopment LP
    ``max phi  s.t.  sum_j lam_j x_j <= x_d,  phi y_d - sum_j lam_j y_j <= 0``; under
    CRS theta = 1/phi. All rows are ``<=`` with b >= 0, so the slack basis is feasible.
    The row duals are the multipliers (v, u) with u·y_d = 1 and v·x_d = phi (divide by
    phi for the input-oriented normalisation). Started from the columns of d and of the
    efficient units ``F[:nF]`` known so far; the units basic at the optimum (efficient)
    are appended to ``F``.

    Secondary: Doyle & Green (1994) method-III aggressive goal, in dual form. Primal (P2,
    in the weights v, u), with means instead of sums over j != d (same optimal weights up
    to a common factor, and the same objective value)::

        min (max if benevolent)  ybar·u
        s.t. xbar·v = 1,  u·y_d - theta v·x_d >= 0,  v·x_j - u·y_j >= 0 for all j,  u, v >= 0

    (``>=`` in the second row is equivalent to ``=`` because no weights beat theta_d.)
    Its dual (D2) has only m + s rows and a right-hand side (0, ±ybar)::

        max alpha  s.t.  alpha xbar_i - beta theta x_id + sum_j mu_j x_ij <= 0      (v_i)
                         beta y_rd - sum_j mu_j y_rj <= ±ybar_r                     (u_r)
        alpha free (alpha+ - alpha-), beta >= 0, mu >= 0

    For the aggressive goal (+ybar) the slack basis is feasible: solved from the columns
    of the efficient units ``F[:nF]`` (no phase I); the benevolent goal (-ybar) needs
    phase I, :func:`_secondary_benevolent`. ``tot`` holds the column sums of ``XT`` then
    ``YT`` (:func:`_unit_totals`). The duals of D2 are the weights (v, u); the objective
    is sum_{j != d} u·y_j under sum_{j != d} v·x_j = 1.
    """
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s
    ks, nu = _cg_tableau(secondary, XT, YT, d, theta, tot, T, basis, F, nF, units, where)
    total = 0
    while True:  # simplex on the active columns, then price the rest; see the comment above
        ncols = ks + R + nu + 1
        st, it = _simplex(T, basis, R, R + 1, ncols, R, ncols - 1, maxit - total, prow, np.inf)
        total += it
        if st != OPTIMAL:
            break
        nu, added = _cg_price(T, ks, R, nu, XT, YT, units, where, red)
        if added == 0:
            break
    for a in range(nu):
        where[units[a]] = -1
    if st != OPTIMAL:
        return st, np.nan, nF
    if secondary:
        for i in range(R):
            y[i] = T[R, ks + i]
        return OPTIMAL, T[R, ks + R + nu], nF
    for i in range(R):
        y[i] = T[R, ks + i]
        c = basis[i]
        if c >= ks + R:
            j = units[c - ks - R]
            if not inF[j]:
                inF[j] = True
                F[nF] = j
                nF += 1
    phi = T[R, ks + R + nu]
    if not (phi > 0.0):
        return NUMERICAL, np.nan, nF
    return OPTIMAL, 1.0 / phi, nF


@kernel
def _fill_secondary(M, b, XT, YT, d, theta, sgn):
    """Write the constraint block of the secondary dual LP (D2) into ``M[:m+s, :n+3]``
    and its RHS into ``b``; see :func:`_cg_lp`."""
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
def _secondary_benevolent(XT, YT, d, theta, A, b, c, rowtype, buf, basis, prow, xsol, y, maxit):
    """The benevolent secondary goal (D2 with right-hand side -ybar, see
    :func:`_cg_lp`) for unit d, by the two-phase solver on all columns.
    Weights (v, u) in ``y``; returns ``(status, secondary objective)``."""
    m, n = XT.shape
    s = YT.shape[0]
    R = m + s
    N = n + 3  # alpha+, alpha-, beta, mu_1..mu_n
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
def _primary_vrs(XT, YT, d, orient_output, A, b, c, rowtype, buf, basis, prow, xsol, y, maxit):
    """VRS (BCC) efficiency in (0, 1] of unit d, either orientation.

    CRS: call :func:`_cg_lp` instead (input and output orientation coincide there:
    theta = 1/phi). VRS input:  max -theta  s.t. -theta x_d + X lam <= 0, -Y lam <= -y_d, sum lam = 1,
                theta <= 1.
    VRS output: max phi     s.t.  X lam <= x_d, phi y_d - Y lam <= 0,   sum lam = 1;
    reported as 1/phi.
    """
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


@kernel
def _cg_workspace(n, m, s):
    """Column-generation tableau with its basis, pivot-row scratch and duals, unit
    bookkeeping and the efficient-unit list (all that :func:`_cg_lp` needs)."""
    R = m + s
    T = np.empty((R + 1, 3 + R + n + 1))
    basis = np.empty(R, dtype=np.int64)
    prow = np.empty(T.shape[1])
    y = np.empty(R)
    units = np.empty(n, dtype=np.int64)
    where = np.empty(n, dtype=np.int64)
    red = np.empty(n)
    F = np.empty(n, dtype=np.int64)
    inF = np.empty(n, dtype=np.bool_)
    for j in range(n):  # a loop, not np.full / np.zeros: two fewer numba functions to compile
        where[j] = -1
        inF[j] = False
    return T, basis, prow, y, units, where, red, F, inF


@kernel
def _unit_totals(XT, YT, tot):
    """tot[i] = sum_j XT[i, j], tot[m + r] = sum_j YT[r, j] (in order of j)."""
    m, n = XT.shape
    s = YT.shape[0]
    for i in range(m):
        t = 0.0
        for j in range(n):
            t += XT[i, j]
        tot[i] = t
    for r in range(s):
        t = 0.0
        for j in range(n):
            t += YT[r, j]
        tot[m + r] = t


@inline_kernel
def _element_data(Xk, Yk):
    """Batch element k's data as the LPs read it: ``XT (m, n)``, ``YT (s, n)``
    (:func:`_scale_transpose`)."""
    n, m = Xk.shape
    s = Yk.shape[1]
    XT = np.empty((m, n))
    YT = np.empty((s, n))
    _scale_transpose(Xk, XT)
    _scale_transpose(Yk, YT)
    return XT, YT


@inline_kernel
def _appraisal_workspace(n, m, s):
    """Scratch of :func:`_appraise`: weights ``u (s)``, ``v (m)``, ``num``, ``den (n)``."""
    return np.empty(s), np.empty(m), np.empty(n), np.empty(n)


@kernel
def _crs_batch(start, stop, X, Y, maxit, theta, status):
    """CCR efficiency theta[k, d] of batch elements ``start <= k < stop`` (X: (B, n, m),
    Y: (B, n, s)), unit by unit, the efficient units found so far seeding the next LP."""
    B, n, m = X.shape
    s = Y.shape[2]
    for k in range(start, stop):
        T, basis, prow, y, units, where, red, F, inF = _cg_workspace(n, m, s)
        nF = np.int64(0)  # not the literal 0 (see _cross_batch)
        XT, YT = _element_data(X[k], Y[k])
        tot = np.empty(0)  # read by secondary LPs only
        for d in range(n):
            st, th, nF = _cg_lp(np.bool_(False), XT, YT, d, 0.0, tot, T, basis, prow, y, units,
                                where, red, F, nF, inF, maxit)
            theta[k, d] = th
            status[k, d] = st


@kernel
def _vrs_batch(start, stop, X, Y, orient_output, maxit, theta, status):
    """BCC efficiency theta[k, d] of batch elements ``start <= k < stop`` (see
    :func:`_crs_batch`)."""
    B, n, m = X.shape
    s = Y.shape[2]
    for k in range(start, stop):
        A, b, c, rowtype, buf, basis, prow, xsol, y = _workspace(n, m, s)
        XT, YT = _element_data(X[k], Y[k])
        for d in range(n):
            st, th = _primary_vrs(XT, YT, d, orient_output, A, b, c, rowtype, buf, basis, prow,
                                  xsol, y, maxit)
            theta[k, d] = th
            status[k, d] = st


@inline_kernel
def _appraise(XT, YT, d, th, y, u, v, num, den, colsum, Erow, want_matrix):
    """Score every unit with d's weights (v, u) = duals ``y`` clipped at 0: add
    ``E[d, j]`` to ``colsum[j]`` for j != d (``E[d, d] = th``); fill ``Erow`` if wanted."""
    m, n = XT.shape
    s = YT.shape[0]
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
        num[j] = num[j] / den[j]  # E[d, j]; branch-free loops vectorise
    for j in range(d):
        colsum[j] += num[j]
    for j in range(d + 1, n):
        colsum[j] += num[j]
    if want_matrix:
        for j in range(n):
            Erow[j] = num[j]
        Erow[d] = th


@inline_kernel
def _fail_row(colsum, Erow, want_matrix):
    for j in range(colsum.shape[0]):
        colsum[j] = np.nan
        if want_matrix:
            Erow[j] = np.nan


@inline_kernel
def _score(st, XT, YT, d, th, y, u, v, num, den, colsum, Erow, want_matrix):
    """Unit d's appraisal of every unit with the weights of its last LP (status ``st``,
    duals ``y``): :func:`_appraise`, or :func:`_fail_row` if that LP failed."""
    if st != OPTIMAL:
        _fail_row(colsum, Erow, want_matrix)
    else:
        _appraise(XT, YT, d, th, y, u, v, num, den, colsum, Erow, want_matrix)


# theta enters the secondary LP as a constraint coefficient; if round-off left it a hair
# above the true optimum, the LP is infeasible (its dual unbounded). Both drivers below
# retry with theta nudged down by the steps of _THETA_SHRINK: a perturbation far below any
# tolerance that matters, used only when needed.


@kernel
def _cross_batch(start, stop, X, Y, mode, want_matrix, maxit, theta, colsum, E, secobj, status):
    """CRS cross-efficiency of batch elements ``start <= k < stop``, secondary goal
    aggressive or none (benevolent: :func:`_benevolent_batch`).

    Writes theta[k, d], colsum[k, c] = sum_{d != c} E[k, d, c], secobj[k, d] (the
    secondary objective, NaN for mode none), status[k, d] (first failing LP of unit d:
    primary code, or 10 + code for the secondary LP), and E[k] if want_matrix. All
    primary LPs of a batch element are solved first (they find its efficient units, the
    only columns the secondary LPs start from), then the secondary LPs, in unit order:
    job ``d < n`` is unit d's primary LP, job ``n + d`` its secondary one. The LPs are
    solved at one call of :func:`_cg_lp`, so it is compiled (inlined) once.
    """
    B, n, m = X.shape
    s = Y.shape[2]
    for k in range(start, stop):
        T, basis, prow, y, units, where, red, F, inF = _cg_workspace(n, m, s)
        # np.int64(0) and np.bool_(...) below, not literals: numba compiles a kernel again for
        # each literal argument value it is called with
        nF = np.int64(0)
        XT, YT = _element_data(X[k], Y[k])
        u, v, num, den = _appraisal_workspace(n, m, s)
        Erow = E[k, 0] if want_matrix else num  # placeholder when no matrix is wanted
        tot = np.empty(m + s)
        _unit_totals(XT, YT, tot)
        for j in range(n):
            colsum[k, j] = 0.0
            secobj[k, j] = np.nan
        for job in range((1 if mode == MODE_NONE else 2) * n):
            second = job >= n
            d = job - n if second else job
            st = status[k, d] if second else OPTIMAL  # a secondary LP needs its primary
            if st == OPTIMAL:
                th = theta[k, d] if second else 0.0
                for shrink in _THETA_SHRINK:  # the primary LP is solved once
                    st, val, nF = _cg_lp(np.bool_(second), XT, YT, d, th * (1.0 - shrink), tot,
                                         T, basis, prow, y, units, where, red, F, nF, inF, maxit)
                    if not second or st != UNBOUNDED:
                        break
                if second:
                    secobj[k, d] = val
                    status[k, d] = st if st == OPTIMAL else 10 + st
                else:
                    theta[k, d] = val
                    status[k, d] = st
            if second or mode == MODE_NONE:
                Erow = E[k, d] if want_matrix else Erow
                _score(st, XT, YT, d, theta[k, d], y, u, v, num, den, colsum[k], Erow,
                       want_matrix)


@kernel
def _benevolent_batch(start, stop, X, Y, want_matrix, maxit, theta, colsum, E, secobj, status):
    """The benevolent secondary LPs and the appraisals of batch elements
    ``start <= k < stop``, given their CCR efficiencies ``theta`` and ``status``
    (:func:`_crs_batch`); writes as :func:`_cross_batch`."""
    B, n, m = X.shape
    s = Y.shape[2]
    for k in range(start, stop):
        A, b, c, rowtype, buf, basis, prow, xsol, y = _workspace(n, m, s)
        XT, YT = _element_data(X[k], Y[k])
        u, v, num, den = _appraisal_workspace(n, m, s)
        Erow = E[k, 0] if want_matrix else num  # placeholder when no matrix is wanted
        for j in range(n):
            colsum[k, j] = 0.0
            secobj[k, j] = np.nan
        for d in range(n):
            st = status[k, d]  # a secondary LP needs its primary
            if st == OPTIMAL:
                th = theta[k, d]
                val = np.nan
                for shrink in _THETA_SHRINK:
                    st, val = _secondary_benevolent(XT, YT, d, th * (1.0 - shrink), A, b, c,
                                                    rowtype, buf, basis, prow, xsol, y, maxit)
                    if st != UNBOUNDED:
                        break
                secobj[k, d] = val
                status[k, d] = st if st == OPTIMAL else 10 + st
            Erow = E[k, d] if want_matrix else Erow
            _score(st, XT, YT, d, theta[k, d], y, u, v, num, den, colsum[k], Erow, want_matrix)
