"""Private order-statistic kernels behind :mod:`mcfoot._arviz` and :mod:`mcfoot.summary`.

Median, equal-tailed (ETI) and highest-density (HDI) intervals of many rows of draws, each
row reduced on its own (``prange`` over rows), selecting only the order statistics needed
(multi-quickselect) instead of sorting every row (NumPy's quantile/median partition the whole
array per call; ArviZ 0.x sorts every row in a Python loop). An order statistic is a value
of the data whatever the algorithm that finds it, and the arithmetic on top is NumPy's /
ArviZ's, operation for operation, so the results are bit-identical to:

* median: ``numpy.median`` (mean of the two middle values for even n: ``(a + b) / 2``);
* ETI: ``numpy.quantile(method="linear")`` at ``(1 - p)/2`` and ``(1 + p)/2``: virtual
  index ``(n - 1) q``, neighbours ``floor`` and ``floor + 1`` (both the last value from
  ``n - 1`` on), ``gamma = index - floor``, ``_lerp``: ``a + (b - a) gamma``, or
  ``b - (b - a)(1 - gamma)`` when ``gamma >= 0.5``;
* HDI: ``arviz.stats._hdi`` (0.x): ``inc = floor(p n)``, the window of ``inc + 1`` sorted
  values with the smallest ``s[i + inc] - s[i]``, first one on ties. Only the ``n - inc``
  smallest and the ``n - inc`` largest values are sorted (every window starts in the first
  and ends in the second block when ``inc >= n - inc``; otherwise the whole row is sorted).

A row containing NaN gives NaN. The NumPy twins (:func:`median_eti_numpy`,
:func:`median_hdi_numpy`) are the test oracles.
"""

from __future__ import annotations

import math

import numpy as np

from ._numba import kernel, parallel_kernel, prange

_SMALL = 16  # ranges at most this long are finished by insertion sort


@kernel
def _insertion_sort(a, lo, hi):
    for i in range(lo + 1, hi):
        v = a[i]
        j = i - 1
        while j >= lo and a[j] > v:
            a[j + 1] = a[j]
            j -= 1
        a[j + 1] = v


@kernel
def _partition(a, lo, hi):
    """One quickselect step on ``a[lo:hi]`` (``hi - lo > _SMALL``) around a median-of-three
    pivot p. Branch-free Lomuto passes (data-dependent branches would be mispredicted
    half the time): returns ``(i0, i1)`` with ``a[lo:i0] < p``, ``a[i0:i1] == p``,
    ``a[i1:hi] > p`` where ``i1 > i0`` (a second pass splits off the values equal to p
    only when p is the minimum of the range, so runs of ties cannot stall the search)."""
    mid = lo + ((hi - lo) >> 1)
    if a[mid] < a[lo]:
        a[mid], a[lo] = a[lo], a[mid]
    if a[hi - 1] < a[mid]:
        a[hi - 1], a[mid] = a[mid], a[hi - 1]
        if a[mid] < a[lo]:
            a[mid], a[lo] = a[lo], a[mid]
    pivot = a[mid]
    a[mid], a[hi - 1] = a[hi - 1], a[mid]
    i = lo
    for j in range(lo, hi - 1):
        v = a[j]
        a[j] = a[i]
        a[i] = v
        i += v < pivot
    a[i], a[hi - 1] = a[hi - 1], a[i]
    if i > lo:
        return i, i + 1
    k = i + 1
    for j in range(i + 1, hi):
        v = a[j]
        a[j] = a[k]
        a[k] = v
        k += v <= pivot
    return i, k


@kernel
def _push(stack, top, lo, hi, r0, r1, depth):
    """Push the range ``a[lo:hi]`` holding ``ranks[r0:r1]`` onto ``stack``; the new top."""
    stack[top, 0] = lo
    stack[top, 1] = hi
    stack[top, 2] = r0
    stack[top, 3] = r1
    stack[top, 4] = depth
    return top + 1


@kernel
def _select_many(a, ranks):
    """Rearrange the NaN-free row ``a`` so that ``a[k]`` holds the value of rank k for
    every k in the ascending ``ranks`` (duplicates allowed), and ``a[:k] <= a[k] <=
    a[k+1:]``. Multi-quickselect: each partition step (:func:`_partition`) sends every rank to
    the side that holds it and only sides holding a rank are refined. A range that took more than
    ``2 log2(n) + 8`` steps to reach is sorted instead, so the worst case is O(n log n)."""
    n = a.shape[0]
    nr = ranks.shape[0]
    depth_max = 2 * int(math.log2(n + 1)) + 8
    # stack of (lo, hi, first rank, end rank, depth)
    stack = np.empty((nr * (depth_max + 2) + 2, 5), dtype=np.int64)
    top = _push(stack, 0, 0, n, 0, nr, 0)
    while top > 0:
        top -= 1
        lo = stack[top, 0]
        hi = stack[top, 1]
        r0 = stack[top, 2]
        r1 = stack[top, 3]
        depth = stack[top, 4]
        if hi - lo <= _SMALL:
            _insertion_sort(a, lo, hi)
            continue
        if depth >= depth_max:
            a[lo:hi].sort()
            continue
        i0, i1 = _partition(a, lo, hi)
        m0 = r0  # ranks[r0:m0] < i0, ranks[m0:m1] in [i0, i1) (done), ranks[m1:r1] >= i1
        while m0 < r1 and ranks[m0] < i0:
            m0 += 1
        m1 = m0
        while m1 < r1 and ranks[m1] < i1:
            m1 += 1
        if m0 > r0:
            top = _push(stack, top, lo, i0, r0, m0, depth + 1)
        if r1 > m1:
            top = _push(stack, top, i1, hi, m1, r1, depth + 1)


@kernel
def _has_nan(x):
    for v in x:
        if v != v:
            return True
    return False


@kernel
def _load_row(x, a, r, med, lower, upper):
    """Copy row ``x`` into the work array ``a`` and return True; a row holding NaN instead
    gets NaN for its median and interval (``med[r]``, ``lower[r]``, ``upper[r]``), False."""
    if _has_nan(x):
        med[r] = np.nan
        lower[r] = np.nan
        upper[r] = np.nan
        return False
    a[:] = x
    return True


@kernel
def _median_sorted(a, n):
    """numpy.median from a row whose middle order statistics are in place."""
    h = n // 2
    if n % 2 == 1:
        return a[h]
    return (a[h - 1] + a[h]) / 2.0


@kernel
def _lerp_index(a, n, q):
    """numpy.quantile(method="linear") at q from a row whose neighbours of the virtual
    index are in place (see the module docstring)."""
    vi = (n - 1) * q
    if vi >= n - 1:
        return a[n - 1]
    if vi < 0:
        return a[0]
    prev = math.floor(vi)
    i = int(prev)
    lo = a[i]
    hi = a[i + 1]
    gamma = vi - prev
    diff = hi - lo
    if gamma >= 0.5:
        return hi - diff * (1 - gamma)
    return lo + diff * gamma


@kernel
def _eti_ranks(n, q_lo, q_hi, out):
    """The ranks (ascending) that the median and the two linear quantiles read."""
    h = n // 2
    out[0] = h - 1 if n % 2 == 0 else h
    out[1] = h
    k = 2
    for q in (q_lo, q_hi):
        vi = (n - 1) * q
        if vi >= n - 1:
            out[k] = n - 1
            out[k + 1] = n - 1
        elif vi < 0:
            out[k] = 0
            out[k + 1] = 0
        else:
            i = int(math.floor(vi))
            out[k] = i
            out[k + 1] = i + 1
        k += 2
    out.sort()


_CHUNK = 8  # rows per task: one scratch row is allocated per task, not per row


@parallel_kernel
def _median_eti_rows(A, q_lo, q_hi, extra, med, lower, upper, extra_out):
    """Per row of A (rows, n): numpy.median and numpy.quantile(linear) at q_lo and q_hi,
    and the order statistics of the 0-based ranks ``extra`` (into ``extra_out``, rows x
    len(extra)), all from one multi-quickselect."""
    rows, n = A.shape
    ne = extra.shape[0]
    for c in prange((rows + _CHUNK - 1) // _CHUNK):
        a = np.empty(n)
        ranks = np.empty(6 + ne, dtype=np.int64)
        _eti_ranks(n, q_lo, q_hi, ranks[:6])
        ranks[6:] = extra
        ranks.sort()
        for r in range(c * _CHUNK, min(rows, (c + 1) * _CHUNK)):
            if not _load_row(A[r], a, r, med, lower, upper):
                for k in range(ne):
                    extra_out[r, k] = np.nan
                continue
            _select_many(a, ranks)
            med[r] = _median_sorted(a, n)
            lower[r] = _lerp_index(a, n, q_lo)
            upper[r] = _lerp_index(a, n, q_hi)
            for k in range(ne):
                extra_out[r, k] = a[extra[k]]


@parallel_kernel
def _median_hdi_rows(A, prob, med, lower, upper):
    """Per row of A (rows, n): numpy.median and arviz 0.x's HDI at ``prob``."""
    rows, n = A.shape
    inc = int(math.floor(prob * n))
    n_int = n - inc
    h = n // 2
    for c in prange((rows + _CHUNK - 1) // _CHUNK):
        a = np.empty(n)
        ranks = np.empty(4, dtype=np.int64)
        ranks[0] = n_int - 1
        ranks[1] = h - 1 if n % 2 == 0 else h
        ranks[2] = h
        ranks[3] = inc
        ranks.sort()
        for r in range(c * _CHUNK, min(rows, (c + 1) * _CHUNK)):
            if not _load_row(A[r], a, r, med, lower, upper):
                continue
            if inc >= n_int:
                _select_many(a, ranks)
                a[:n_int].sort()
                a[inc:].sort()
            else:
                a.sort()
            med[r] = _median_sorted(a, n)
            best = np.inf
            k = 0
            for i in range(n_int):
                w = a[i + inc] - a[i]
                if w < best:
                    best = w
                    k = i
            lower[r] = a[k]
            upper[r] = a[k + inc]


def _check_ranks(ranks, n: int) -> np.ndarray:
    ranks = np.asarray(ranks, dtype=np.int64).reshape(-1)
    if ranks.size and (ranks.min() < 0 or ranks.max() >= n):
        raise ValueError(f"ranks must lie in 0..{n - 1}")
    return ranks


def _nan_rows_in_numpy_order(A: np.ndarray, ranks: np.ndarray, out: np.ndarray) -> None:
    """Rows of ``A`` holding NaN: the kernels give NaN; NumPy's sort puts NaN last, and
    order statistics below the NaNs are finite: take them from a sort of those rows."""
    bad = np.flatnonzero(np.isnan(out).any(axis=1))
    if bad.size:
        out[bad] = np.sort(A[bad], axis=-1)[:, ranks]


def order_statistics_rows(A: np.ndarray, ranks) -> np.ndarray:
    """``numpy.sort(A, axis=-1)[:, ranks]`` of the 2-D ``A`` (rows, draws), by
    multi-quickselect on each row instead of a full sort."""
    # the ETI kernel's selection, its median and interval (six ranks more) discarded
    return median_interval_rows(A, 0.5, "eti", ranks)[3]


def order_statistics(x: np.ndarray, ranks) -> np.ndarray:
    """Values of the 0-based order statistics ``ranks`` of ``x`` along axis 0, shape
    ``(len(ranks), *x.shape[1:])``: ``numpy.sort(x, axis=0)[ranks]`` (NaN sorting last, as
    NumPy's)."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    res = order_statistics_rows(np.moveaxis(x, 0, -1).reshape(-1, n), ranks)  # a view for
    return np.moveaxis(res.reshape(*x.shape[1:], res.shape[-1]), -1, 0)  # (row, draw) data


def median_interval_rows(A: np.ndarray, prob: float, kind: str, extra_ranks=None):
    """(median, lower, upper) of every row of the 2-D array ``A`` (rows, draws); with
    ``extra_ranks`` (ETI only) also the order statistics of those 0-based ranks, (rows, k),
    from the same selection (as :func:`order_statistics_rows`)."""
    A = np.ascontiguousarray(A, dtype=np.float64)
    rows, n = A.shape
    if n == 0:
        raise ValueError("no draws to summarise")
    med, lower, upper = np.empty(rows), np.empty(rows), np.empty(rows)
    if kind == "hdi":
        if extra_ranks is not None:
            raise ValueError("extra order statistics come with the ETI kernel only")
        _median_hdi_rows(A, float(prob), med, lower, upper)
        return med, lower, upper
    a = (1 - prob) / 2
    ranks = _check_ranks(() if extra_ranks is None else extra_ranks, n)
    extra = np.empty((rows, ranks.size))
    _median_eti_rows(A, float(a), float(1 - a), ranks, med, lower, upper, extra)
    if extra_ranks is None:
        return med, lower, upper
    _nan_rows_in_numpy_order(A, ranks, extra)
    return med, lower, upper, extra


# ---- NumPy twins (test oracles) -------------------------------------------------------------


def median_eti_numpy(A: np.ndarray, prob: float):
    """numpy.median and numpy.quantile(method="linear") per row."""
    a = (1 - prob) / 2
    q = np.quantile(A, [a, 1 - a], axis=-1, method="linear")
    return np.median(A, axis=-1), q[0], q[1]


def median_hdi_numpy(A: np.ndarray, prob: float):
    """numpy.median and arviz 0.x's ``_hdi`` algorithm per row (full sort)."""
    s = np.sort(A, axis=-1)
    n = A.shape[-1]
    inc = int(np.floor(prob * n))
    idx = np.argmin(s[:, inc:] - s[:, : n - inc], axis=-1)
    rows = np.arange(A.shape[0])
    bad = np.isnan(A).any(axis=-1)
    lower, upper = s[rows, idx], s[rows, idx + inc]
    lower[bad] = np.nan
    upper[bad] = np.nan
    return np.median(A, axis=-1), lower, upper
