"""Private numba kernel of the streaming reductions; its NumPy twin is
``mcfoot.stream.reduce_rows_reference`` (the test oracle). Deterministic, no RNG inside.

For every row of a (row, draw) chunk array, three passes over the row (the second and third
find it in cache): sum the values in fixed blocks; count the finite and the negative
values, bin each finite value in the fixed log grid and count exceedances of the thresholds;
sum the squared deviations from the row mean in the same blocks. Rows are split across
threads (``prange``) and each iteration writes only its own row, so the result does not
depend on the thread count.
"""

from __future__ import annotations

import math

from ._numba import kernel, parallel_kernel, prange

#: Draws per summation block and independent running sums within a block: the block sum
#: is ``(s0 + s1) + (s2 + s3)`` of four sequential sums over the draws ``i = l (mod 4)`` of
#: the block, the row sum the sequential sum of the block sums. A fixed order, so the twin
#: reproduces it bit for bit, with rounding error ~ (SUM_BLOCK / SUM_LANES + draws /
#: SUM_BLOCK) ulp at worst instead of ~draws ulp for one running sum, and four independent
#: additions in flight. (Derived: a layout choice, not a constant of the method.)
SUM_BLOCK = 256
SUM_LANES = 4


@kernel
def _block_sums(x, r, mean, squared):
    """Blocked sum of ``x[r]`` (``squared``: of ``(x[r] - mean)**2``), order as above."""
    n = x.shape[1]
    total = 0.0
    for b0 in range(0, n, SUM_BLOCK):
        b1 = min(b0 + SUM_BLOCK, n)
        s0 = 0.0
        s1 = 0.0
        s2 = 0.0
        s3 = 0.0
        d = b0
        if squared:
            while d + SUM_LANES <= b1:
                e0 = x[r, d] - mean
                e1 = x[r, d + 1] - mean
                e2 = x[r, d + 2] - mean
                e3 = x[r, d + 3] - mean
                s0 += e0 * e0
                s1 += e1 * e1
                s2 += e2 * e2
                s3 += e3 * e3
                d += SUM_LANES
        else:
            while d + SUM_LANES <= b1:
                s0 += x[r, d]
                s1 += x[r, d + 1]
                s2 += x[r, d + 2]
                s3 += x[r, d + 3]
                d += SUM_LANES
        tail = b1 - d  # 0..3 values left, to lanes 0, 1, 2
        for i in range(tail):
            v = x[r, d + i]
            if squared:
                v = (v - mean) * (v - mean)
            if i == 0:
                s0 += v
            elif i == 1:
                s1 += v
            else:
                s2 += v
        total += (s0 + s1) + (s2 + s3)
    return total


@parallel_kernel
def reduce_rows(x, bits, shift, key0, table, edges, thresholds,
                n_fin_out, n_neg_out, sum_out, m2_out, hist_out, exceed_out):
    """Reduce every row of ``x`` (rows, draws); see ``stream.reduce_rows_reference``.

    ``bits`` is ``x`` viewed as int64 (for finite x >= 0 the IEEE bits are monotone in x);
    ``table[clip((bits >> shift) - key0, 0, len(table) - 1)]`` is the regular bin (-1 ..
    nbins) of the smallest double with those leading bits (``table[0] = -1`` for the values
    below the grid, ``table[-1] = nbins`` above it) and comparisons with ``edges`` (the
    nbins + 1 bin edges and +inf) finish the search, so the bin is exactly
    ``searchsorted(edges[:-1], x, "right") + 1`` (0 for x == 0). ``m2_out`` is written only
    for rows whose values are all finite (mean ``sum_out / draws``).
    """
    n_rows, n_draws = x.shape
    top = table.shape[0] - 1
    n_t = thresholds.shape[0]
    for r in prange(n_rows):
        total = _block_sums(x, r, 0.0, False)
        n_bad = 0
        n_neg = 0
        for d in range(n_draws):
            v = x[r, d]
            if not (0.0 < v < math.inf):  # rare: zero, negative, NaN or infinite
                if v == 0.0:
                    hist_out[r, 0] += 1
                    for t in range(n_t):
                        if v > thresholds[t]:
                            exceed_out[r, t] += 1
                elif math.isfinite(v):
                    n_neg += 1
                else:
                    n_bad += 1
                continue
            for t in range(n_t):
                if v > thresholds[t]:
                    exceed_out[r, t] += 1
            j = min(max((bits[r, d] >> shift) - key0, 0), top)
            k = table[j]
            k += v >= edges[k + 1]  # a lookup cell spans at most two bins ...
            while v >= edges[k + 1]:  # ... unless the table had to be coarser
                k += 1
            hist_out[r, k + 2] += 1
        n_fin_out[r] = n_draws - n_bad
        n_neg_out[r] = n_neg
        sum_out[r] = total
        if n_bad == 0:
            m2_out[r] = _block_sums(x, r, total / n_draws, True)
