"""Streaming reductions: summaries, claim and rank probabilities without holding all draws.

A streaming run evaluates the draws chunk by chunk (:func:`mcfoot.simulate.sample_chunk`,
the array layer of :func:`mcfoot.simulate.simulate_range`: the same numbers as an in-memory
run, bit for bit, into one set of arrays reused from chunk to chunk), reduces every chunk to
a small *partial* and merges the partials. Memory is bounded by one chunk plus the partials,
whatever the number of draws. The reduction of a chunk is one compiled pass per (model,
prompt) row (``mcfoot._reduce``, on ``numba.get_num_threads()`` threads) whose NumPy twin,
:func:`reduce_rows_reference`, is its test oracle and runs with ``backend="numpy"``: both
give the same partial bit for bit, for any thread count.

What is accumulated per (variable, model, prompt):

* **mean and sd**: count, mean and sum of squared deviations, merged with Chan et al.'s
  pairwise formula (the parallel form of Welford's update). Within a chunk both sums are
  taken in a fixed order (blocks of ``SUM_BLOCK`` draws, ``SUM_LANES`` running sums per
  block; the squared deviations in a second pass, from the chunk mean). Chunks are merged
  in a fixed binary tree over chunk indices (:func:`merge_tree`), so the result does not
  depend on the order in which chunks finish, nor on the number of threads or dask workers;
  it does depend (in the last bits, ~1e-15 relative) on the chunk size, because
  floating-point sums do.
* **quantiles**: a fixed histogram in log space (:class:`LogGrid`): bins ``[e_k, e_k+1)``
  between the edges ``e_k = lo r^k`` with ``r = (1 + rel_error)^2`` from ``lo`` to past
  ``hi``, plus a bin for exact zeros and under/overflow bins. The edges define the bins
  exactly (the compiled pass finds a value's bin from the leading bits of its IEEE
  representation and finishes by comparing with the edges, with the same result as
  ``searchsorted``). The estimate of the ``q`` quantile is the geometric midpoint of the bin
  holding the ``ceil(q n)``-th smallest draw (the "inverted CDF" sample quantile,
  ``numpy.quantile(..., method="inverted_cdf")``), so its relative error is at most
  ``sqrt(r) - 1 = rel_error`` (up to the rounding of the edges and midpoints, ~1e-15). Zeros
  are exact. A quantile that falls in the under/overflow bin is NaN (never clipped) and the
  counts outside the grid are reported. Counts are integers: quantiles do not depend on the
  chunk size or the number of workers at all.
* **claim probabilities**: ``P(X > t)`` for given thresholds, from integer counts (exact).
* **Monte Carlo errors** of all of these (:func:`_add_mcse`, the formulas of
  :func:`mcfoot.summarize`): plain MC also merges the sums of cubed and fourth-power
  deviations (Pebay 2008) for the sd's error; a Sobol' run keeps, per replicate (chunks never
  straddle two), the count, mean, sum of squared deviations, exceedance and rank counts and
  the replicate's histogram trimmed to its occupied bins (:class:`Trimmed`).
* **rank probabilities**: the study's pooled DEA ranking, computed per chunk by
  :func:`mcfoot.rank.rank`'s own array layer (:func:`mcfoot.rank.participants`,
  :func:`mcfoot.rank.pooled_ranks`: same inputs, output, DMUs, scores and tie rule,
  ``tie_tol = mcfoot.rank.TIE_TOL``); integer counts of (model, rank k) are accumulated
  (exact), so streamed and in-memory rank probabilities are identical.
"""

from __future__ import annotations

import gc
import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import xarray as xr

from . import _reduce, provenance, rng, variables as variables_
from ._validate import finite_number, probability
from .errors import InputError
from .rank import STUDY_INPUTS, STUDY_OUTPUTS, TIE_TOL, add_rank_probabilities, k_coord, \
    participants, pooled_ranks, rank_counts
from ._reduce import SUM_BLOCK, SUM_LANES
from .simulate import Plan, build_plan, check_draws, output_arrays, sample_chunk, \
    simulate_range
from .summary import STATS
from . import mcse

__all__ = ["LogGrid", "Merger", "Partial", "STREAM_CHUNK", "Spec", "chunk_partial",
           "make_spec", "merge", "merge_tree", "quantiles_from_hist", "reduce_arrays",
           "reduce_rows", "reduce_rows_reference", "reduce_tree", "release", "stream",
           "tree_split"]

#: Default draws per chunk of a streaming run: one block of the random streams
#: (``rng.BLOCK``), so no chunk re-draws the head of a block it starts inside (a chunk of
#: half a block would draw 1.5x the normals). With the whole catalogue (194 rows) one chunk's
#: arrays (reused from chunk to chunk) take ~0.9 GB, so a run peaks near 1.2 GB whatever
#: the number of draws.
STREAM_CHUNK = rng.BLOCK
#: Largest lookup table of the compiled log-grid binning (entries; see ``LogGrid.lookup``).
LOOKUP_MAX = 1 << 22


@dataclass(frozen=True)
class LogGrid:
    """Fixed log-spaced bins for streaming quantiles with a bounded relative error.

    Bins: 0 = exact zero, 1 = (0, lo), 2 .. nbins+1 = ``[lo r^k, lo r^(k+1))``,
    nbins+2 = ``[lo r^nbins, inf)`` (``lo r^nbins >= hi``), with ``r = (1 + rel_error)^2``.
    """

    lo: float = 1e-12
    hi: float = 1e12
    rel_error: float = 5e-3

    def __post_init__(self):
        if not (0 < self.lo < self.hi and math.isfinite(self.hi)):
            raise InputError(f"LogGrid needs 0 < lo < hi < inf, got lo={self.lo}, hi={self.hi}")
        if not 0 < self.rel_error < 1:
            raise InputError(f"LogGrid rel_error must be in (0, 1), got {self.rel_error}")

    @property
    def log_r(self) -> float:
        return 2.0 * math.log1p(self.rel_error)

    @property
    def nbins(self) -> int:
        return int(math.ceil(math.log(self.hi / self.lo) / self.log_r))

    @property
    def size(self) -> int:
        return self.nbins + 3

    @cached_property
    def edges(self) -> np.ndarray:
        """The nbins + 1 bin edges ``lo r^k``, k = 0 .. nbins: they define the bins exactly
        (a value on an edge belongs to the bin above it)."""
        return self.lo * np.exp(np.arange(self.nbins + 1) * self.log_r)

    def index(self, x: np.ndarray) -> np.ndarray:
        """Bin of every value (x >= 0, finite): 0 for 0, else ``searchsorted(edges, x,
        "right") + 1``."""
        x = np.asarray(x, dtype=float)
        return np.where(x == 0, 0, np.searchsorted(self.edges, x, side="right") + 1) \
            .astype(np.int64)

    @cached_property
    def lookup(self) -> tuple[int, int, np.ndarray, np.ndarray]:
        """``(shift, key0, table, edges)`` of the compiled binning (``mcfoot._reduce``): for
        a double x > 0 with IEEE bits ``b`` (monotone in x), ``table[clip((b >> shift) -
        key0, 0, len(table) - 1)]`` is the regular bin k (-1 .. nbins, ``edges[k] <= x``) of
        the smallest double sharing those leading bits, with one entry for everything below
        the grid (-1) and one above it (nbins); ``edges`` ends with +inf. Cells are 2^-m of
        an octave wide, m chosen so that a cell spans at most two bins (``2^-m <= (r - 1) /
        2``) unless the table would pass ``LOOKUP_MAX`` entries (narrower bins then take
        more comparisons, never a different bin)."""
        r_minus_1 = math.expm1(self.log_r)
        octaves = math.log2(self.edges[-1] / self.lo) + 2
        m = min(52, max(0, math.ceil(math.log2(2.0 / r_minus_1))))
        while m > 0 and octaves * 2.0 ** m > LOOKUP_MAX:
            m -= 1
        shift = 52 - m
        key0 = (int(np.float64(self.lo).view(np.int64)) >> shift) - 1
        key1 = (int(self.edges[-1].view(np.int64)) >> shift) + 1
        low = (np.arange(key0 + 1, key1, dtype=np.int64) << shift).view(np.float64)
        table = np.concatenate([[-1], np.searchsorted(self.edges, low, side="right") - 1,
                                [self.nbins]]).astype(np.int64)
        return shift, key0, table, np.append(self.edges, np.inf)

    def midpoints(self) -> np.ndarray:
        """Value reported for each bin: 0, NaN (underflow), geometric midpoints, NaN."""
        k = np.arange(self.nbins)
        mid = self.lo * np.exp((k + 0.5) * self.log_r)
        return np.concatenate([[0.0, np.nan], mid, [np.nan]])


@dataclass
class Partial:
    """Mergeable state of a streaming run over a contiguous range of draws."""

    start: int
    stop: int
    n: dict = field(default_factory=dict)  # var -> (cells,) int count of finite values
    mean: dict = field(default_factory=dict)  # var -> (cells,)
    m2: dict = field(default_factory=dict)  # var -> (cells,) sum of squared deviations
    m3: dict = field(default_factory=dict)  # var -> (cells,) sums of cubed and fourth-power
    m4: dict = field(default_factory=dict)  # deviations (Spec.fourth_moments only)
    hist: dict = field(default_factory=dict)  # var -> (cells, grid.size) int64
    exceed: dict = field(default_factory=dict)  # var -> (cells, n_thresholds) int64
    rank_counts: np.ndarray | None = None  # (ranked models, ranks) int64
    tied_draws: int = 0


def merge_moments(na, ma, m2a, nb, mb, m2b) -> tuple:
    """Count, mean and sum of squared deviations of two sets of values (Chan et al. 1979);
    either count may be 0."""
    n = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        delta = mb - ma
        mean = np.where(nb == 0, ma, np.where(na == 0, mb, ma + delta * (nb / n)))
        m2 = np.where(nb == 0, m2a, np.where(na == 0, m2b,
                                             m2a + m2b + delta * delta * (na * nb / n)))
    return n, mean, m2


def _merge_higher(a: Partial, b: Partial, v: str) -> tuple:
    """Sums of cubed and fourth-power deviations of the union (Pebay 2008, "Formulas for
    robust, one-pass parallel computation of covariances and arbitrary-order statistical
    moments", Sandia SAND2008-6212, eq. 3.1 for p = 3, 4)."""
    na, nb = a.n[v].astype(float), b.n[v].astype(float)
    n = na + nb
    with np.errstate(invalid="ignore", divide="ignore"):
        d = b.mean[v] - a.mean[v]
        m3 = a.m3[v] + b.m3[v] + d ** 3 * na * nb * (na - nb) / n ** 2 + \
            3 * d * (na * b.m2[v] - nb * a.m2[v]) / n
        m4 = a.m4[v] + b.m4[v] + d ** 4 * na * nb * (na * na - na * nb + nb * nb) / n ** 3 + \
            6 * d * d * (na * na * b.m2[v] + nb * nb * a.m2[v]) / n ** 2 + \
            4 * d * (na * b.m3[v] - nb * a.m3[v]) / n
    pick = lambda x, y, z: np.where(nb == 0, x, np.where(na == 0, y, z))  # noqa: E731
    return pick(a.m3[v], b.m3[v], m3), pick(a.m4[v], b.m4[v], m4)


def merge(a: Partial, b: Partial) -> Partial:
    """Merge two partials of adjacent draw ranges (Chan et al. 1979 for the moments, Pebay
    2008 for the third and fourth)."""
    if a.stop != b.start:
        raise ValueError(f"partials must be adjacent, got [{a.start}, {a.stop}) and "
                         f"[{b.start}, {b.stop})")
    out = Partial(a.start, b.stop)
    for v in a.n:
        if v in a.m4:
            out.m3[v], out.m4[v] = _merge_higher(a, b, v)
        out.n[v], out.mean[v], out.m2[v] = merge_moments(a.n[v], a.mean[v], a.m2[v], b.n[v],
                                                         b.mean[v], b.m2[v])
        out.hist[v] = a.hist[v] + b.hist[v]
        if v in a.exceed:
            out.exceed[v] = a.exceed[v] + b.exceed[v]
    if a.rank_counts is not None:
        out.rank_counts = a.rank_counts + b.rank_counts
        out.tied_draws = a.tied_draws + b.tied_draws
    return out


def tree_split(n: int) -> int:
    """Size of the left subtree of the canonical merge tree over ``n`` chunks: the largest
    power of two below ``n``. The same tree is built sequentially (:class:`Merger`) and as a
    dask graph, so both give the same floating-point result."""
    return 1 << ((n - 1).bit_length() - 1)


def merge_tree(parts: list, combine=merge):
    """Merge a list of partials (or delayed partials) along the canonical tree."""
    if len(parts) == 1:
        return parts[0]
    k = tree_split(len(parts))
    return combine(merge_tree(parts[:k], combine), merge_tree(parts[k:], combine))


class Merger:
    """Sequential merge along the canonical tree holding at most log2(chunks) partials."""

    def __init__(self):
        self._stack: list[tuple[int, Partial]] = []  # (size in chunks, partial)

    def push(self, p: Partial) -> None:
        self._stack.append((1, p))
        while len(self._stack) >= 2 and self._stack[-1][0] == self._stack[-2][0]:
            (s1, p1), (s2, p2) = self._stack.pop(-2), self._stack.pop()
            self._stack.append((s1 + s2, merge(p1, p2)))

    def result(self) -> Partial:
        size, acc = self._stack[-1]
        for _, p in reversed(self._stack[:-1]):
            acc = merge(p, acc)
        return acc


@dataclass(frozen=True)
class Spec:
    """What a streaming run accumulates (see :func:`stream`)."""

    variables: tuple[str, ...]
    grid: LogGrid
    thresholds: dict  # var -> tuple of floats
    ranks: bool
    #: also accumulate the sums of cubed and fourth-power deviations (for the plain-MC
    #: error of the sd; a Sobol' run takes it from its replicates instead)
    fourth_moments: bool = False


def _cells(a: np.ndarray) -> np.ndarray:
    """(draw, model, prompt) view -> (cells, draw), contiguous when it came from the kernel."""
    return np.moveaxis(a, 0, -1).reshape(-1, a.shape[0])


def _blocked_sum(a: np.ndarray) -> np.ndarray:
    """Row sums of ``a`` (rows, n) in the fixed order of ``mcfoot._reduce`` (blocks of
    ``SUM_BLOCK`` draws, ``SUM_LANES`` running sums per block; zero padding adds nothing)."""
    rows, n = a.shape
    nb = -(-n // SUM_BLOCK)
    p = np.zeros((rows, nb * SUM_BLOCK))
    p[:, :n] = a
    lanes = np.cumsum(p.reshape(rows, nb, SUM_BLOCK // SUM_LANES, SUM_LANES), axis=2)[:, :, -1]
    blocks = (lanes[..., 0] + lanes[..., 1]) + (lanes[..., 2] + lanes[..., 3])
    return np.cumsum(blocks, axis=1)[:, -1]


def reduce_rows_reference(x: np.ndarray, grid: LogGrid, thresholds=()) -> tuple:
    """Plain NumPy twin of ``mcfoot._reduce.reduce_rows``: the test oracle.

    ``x`` (rows, n). Returns per row: the number of finite values, of negative finite
    values, the sum (blocked order), the sum of squared deviations from ``sum / n`` (NaN
    unless every value is finite), the histogram over ``grid.index`` of the finite values
    >= 0 (rows, grid.size) and the counts of those values above each threshold (rows, T).
    """
    rows, n = x.shape
    fin = np.isfinite(x)
    good = fin & ~(x < 0)
    total = _blocked_sum(x)
    ok = fin.all(axis=1)
    m2 = np.full(rows, np.nan)
    if ok.any():
        m2[ok] = _blocked_sum((x[ok] - (total[ok] / n)[:, None]) ** 2)
    idx = grid.index(np.where(good, x, 0.0)) + np.arange(rows)[:, None] * grid.size
    hist = np.bincount(idx[good], minlength=rows * grid.size).reshape(rows, grid.size)
    t = np.asarray(thresholds, dtype=float)
    exceed = ((x[:, :, None] > t) & good[:, :, None]).sum(axis=1)
    return (fin.sum(axis=1), (fin & (x < 0)).sum(axis=1), total, m2,
            hist.astype(np.int64), exceed.astype(np.int64))


def reduce_rows(x: np.ndarray, grid: LogGrid, thresholds=(), backend: str = "numba") -> tuple:
    """:func:`reduce_rows_reference` by the compiled kernel (``backend="numba"``, one pass
    per row on ``numba.get_num_threads()`` threads) or by the twin itself (``"numpy"``)."""
    if backend == "numpy":
        return reduce_rows_reference(x, grid, thresholds)
    x = np.ascontiguousarray(x, dtype=float)
    rows = x.shape[0]
    t = np.asarray(thresholds, dtype=float).reshape(-1)
    out = (np.empty(rows, np.int64), np.empty(rows, np.int64), np.empty(rows),
           np.full(rows, np.nan), np.zeros((rows, grid.size), np.int64),
           np.zeros((rows, len(t)), np.int64))
    _reduce.reduce_rows(x, x.view(np.int64), *grid.lookup, t, *out)
    return out


def reduce_arrays(arrays: dict, spec: Spec, start: int, stop: int,
                  backend: str = "numba") -> Partial:
    """Reduce draws ``start..stop-1`` of a chunk, ``{variable: (cells, draws)}``, to a
    :class:`Partial` (without ranks: they need the chunk's DataTree, see :func:`reduce_tree`)."""
    part = Partial(start, stop)
    n_draws = stop - start
    for v in spec.variables:
        x = arrays[v]
        if x.shape[1] != n_draws:
            raise ValueError(f"{v}: {x.shape[1]} draws given for draws {start}..{stop - 1}")
        n_fin, n_neg, total, m2, hist, exceed = reduce_rows(x, spec.grid,
                                                            spec.thresholds.get(v, ()), backend)
        ok = n_fin == n_draws
        if np.any((n_fin > 0) & ~ok):
            raise ValueError(f"{v}: some but not all draws of a (model, prompt) are non-finite")
        if np.any(n_neg):
            raise ValueError(f"{v}: negative values cannot go in a log-space histogram")
        part.n[v] = np.where(ok, n_draws, 0).astype(np.int64)
        part.mean[v] = np.where(ok, total / n_draws, np.nan)
        part.m2[v] = np.where(ok, m2, np.nan)
        if spec.fourth_moments:
            part.m3[v], part.m4[v] = _higher_sums(x, part.mean[v])
        part.hist[v] = hist
        if v in spec.thresholds:
            part.exceed[v] = exceed
    return part


#: Rows per block of :func:`_higher_sums` (bounds its temporaries to a few MB per block).
HIGHER_ROWS = 16


def _higher_sums(x: np.ndarray, mean: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per row of ``x`` (rows, draws), the sums of cubed and fourth-power deviations from
    ``mean`` (NaN rows stay NaN), in NumPy (the same order for both backends), a block of
    rows at a time."""
    m3, m4 = np.empty(len(x)), np.empty(len(x))
    with np.errstate(invalid="ignore", over="ignore"):
        for r in range(0, len(x), HIGHER_ROWS):
            dev = x[r:r + HIGHER_ROWS] - mean[r:r + HIGHER_ROWS, None]
            d2 = dev * dev
            m3[r:r + HIGHER_ROWS] = np.einsum("ij,ij->i", d2, dev)
            m4[r:r + HIGHER_ROWS] = np.einsum("ij,ij->i", d2, d2)
    return m3, m4


def reduce_tree(tree: xr.DataTree, spec: Spec, start: int = 0,
                backend: str = "numba") -> Partial:
    """Reduce the draws of a (chunk) result to a :class:`Partial`."""
    fp = tree["footprint"]
    part = reduce_arrays({v: _cells(fp[v].values) for v in spec.variables}, spec, start,
                         start + fp.sizes["draw"], backend)
    if spec.ranks:
        part.rank_counts, part.tied_draws = _rank_counts(tree)
    return part


def _slot_arrays(res: dict, names) -> dict:
    """Kernel outputs (``simulate.evaluate``) of the named per-query variables, (slot, draw)."""
    out = {}
    for name in names:
        var = variables_.per_query()[name]
        a = res[var.kernel_key]
        out[name] = a[list(variables_.BAND).index(name)] if var.band else a
    return out


def _rank_counts(tree: xr.DataTree) -> tuple[np.ndarray, int]:
    """(model, rank) counts and tied draws of a chunk: :func:`mcfoot.rank.rank`'s pooled
    study ranking (same participants, DEA, scores and tie rule), as integer counts."""
    part = participants(tree, STUDY_INPUTS, STUDY_OUTPUTS)
    res = pooled_ranks(part.X, part.Y, part.has)
    return rank_counts(res.ranks, len(part.kept)), res.tied


def chunk_partial(plan: Plan, seed, start: int, stop: int, spec: Spec,
                  backend: str = "numba", threads: int = 1,
                  design: rng.Design | None = None, out: dict | None = None) -> Partial:
    """Evaluate draws ``start..stop-1`` and reduce them (the unit of work of a stream).

    Without ranks no DataTree is built: the kernel's (slot, draw) arrays are reduced as
    they are, and ``out`` (``simulate.output_arrays`` of ``stop - start`` draws) is reused
    for them. Ranks need the chunk's DataTree (:func:`mcfoot.rank.participants`).
    """
    if spec.ranks:
        tree = simulate_range(plan, seed, start, stop, backend=backend, threads=threads,
                              design=design)
        part = reduce_tree(tree, spec, start, backend)
        release(tree)
        return part
    res, _ = sample_chunk(plan, rng.normalize_seed(seed), start, stop, backend, threads, out,
                          design)
    return reduce_arrays(_slot_arrays(res, spec.variables), spec, start, stop, backend)


#: Chunk results larger than this (bytes) are freed with an explicit garbage collection:
#: a DataTree holds reference cycles (parent <-> children), which CPython frees only at a
#: cyclic collection, triggered by object counts, not bytes, so without it several chunks
#: of arrays can stay alive at once.
RELEASE_BYTES = 1 << 26


def release(tree: xr.DataTree) -> None:
    """Free a chunk's DataTree now (see :data:`RELEASE_BYTES`)."""
    big = sum(tree[g][v].nbytes for g in ("footprint", "inputs") for v in tree[g].data_vars) \
        >= RELEASE_BYTES
    for node in list(tree.subtree)[::-1]:
        node.orphan() if node is not tree else None
    del tree
    if big:
        gc.collect()


def make_spec(plan: Plan, variables=None, thresholds=None, ranks=False,
              grid: LogGrid | None = None, fourth_moments: bool = False) -> Spec:
    variables = variables_.footprint_names() if variables is None else \
        variables_.select_per_query(variables, band=plan.scenario.attribution == "band")
    th = {}
    for v, t in (thresholds or {}).items():
        if v not in variables:
            raise InputError(f"thresholds given for '{v}', which is not among the streamed "
                             f"variables {', '.join(variables)}; add it to variables")
        t = (t,) if np.isscalar(t) else tuple(t)
        if not t:
            raise InputError(f"thresholds for '{v}' must be finite numbers, got {t!r}")
        th[v] = tuple(finite_number(f"threshold for '{v}'", x) for x in t)
    return Spec(variables, grid or LogGrid(), th, bool(ranks), bool(fourth_moments))


def stream(scenario="default", draws: int = 10_000, seed=0, models=None, prompts=None, *,
           catalogue=None, backend: str = "numba", chunk_draws: int | None = None,
           threads: int | None = None, variables=None, ci_prob: float = 0.95,
           thresholds: dict | None = None, ranks: bool = False, grid: LogGrid | None = None,
           client=None, progress: bool | None = None, sampling: str = "mc",
           replicates: int | None = None) -> xr.DataTree:
    """Summaries, claim and rank probabilities of a run, never holding all draws in memory.

    Parameters are those of :func:`mcfoot.simulate` plus

    variables : footprint variables to summarise (default: the five footprints).
    ci_prob : probability of the equal-tailed interval (``lower``/``upper``).
    thresholds : ``{variable: [t, ...]}``: claim probabilities ``P(variable > t)``.
    ranks : also accumulate DEA rank probabilities (the study's set-up; slow: one DEA per draw).
    grid : :class:`LogGrid` for the quantiles (relative error bound, range).
    client : a ``dask.distributed.Client`` to run the chunks on (default: in this process).
    sampling, replicates : plain Monte Carlo or scrambled Sobol' points, as for
        :func:`mcfoot.simulate` (the same numbers, whatever the chunk size).

    Returns
    -------
    DataTree with groups ``summary`` (each variable over (model, prompt, stat) with stats
    mean, sd (ddof=1), median, lower, upper, as :func:`mcfoot.summarize`, plus
    ``<var>_outside_grid`` counts), ``claims`` (``p_exceed_<var>`` over (model, prompt,
    threshold)) and ``rank`` (``rank_probability`` over (model, k), ``p_top``,
    ``expected_rank`` and ``p_best``, built as :func:`mcfoot.rank` builds them),
    with the Monte Carlo standard error of every statistic (``<var>_mcse``, as
    :func:`mcfoot.summarize`; a quantile's to within the grid's ``rel_error``, see
    :func:`_add_mcse`), ``p_exceed_<var>_mcse`` and ``rank_probability_mcse``; root attrs
    record the seed, scenario and catalogue hashes, sampling design, chunk size, quantile
    error bound and ``mcse_method``.
    """
    draws, chunk = check_draws(draws, chunk_draws, STREAM_CHUNK)
    ci_prob = probability("ci_prob", ci_prob)
    design = rng.make_design(sampling, draws, replicates)
    ss = rng.normalize_seed(seed)
    plan = build_plan(scenario, catalogue, models, prompts)
    spec = make_spec(plan, variables, thresholds, ranks, grid,
                     fourth_moments=design.kind == "mc")
    # chunks never straddle two Sobol' replicates, so each chunk's sums belong to one
    step = design.points if design.kind == "sobol" else draws
    bounds = [(s, min(s + chunk, r0 + step)) for r0 in range(0, draws, step)
              for s in range(r0, r0 + step, chunk)]
    if client is not None:
        import dask

        plan_d = dask.delayed(plan, pure=True)
        parts = [dask.delayed(chunk_partial, pure=True)(plan_d, ss, s, e, spec, backend, 1,
                                                        design) for s, e in bounds]
        small = [dask.delayed(replicate_sums, pure=True)(p, design) for p in parts]
        total, *small = client.compute([merge_tree(parts, dask.delayed(merge, pure=True)),
                                        *small], sync=True)
        sums: dict = {}
        for item in small:  # in chunk order, as in this process
            _add_replicate(sums, item)
    else:
        import numba

        threads = numba.get_num_threads() if threads is None else max(1, int(threads))
        it = bounds
        if progress or (progress is None and len(bounds) > 2):
            from tqdm.auto import tqdm

            it = tqdm(bounds, desc=f"mcfoot stream {plan.scenario.name}", unit="chunk",
                      leave=False)
        m, sums, out = Merger(), {}, None
        for s, e in it:
            if backend == "numba" and not spec.ranks and (
                    out is None or out["latency"].shape[-1] != e - s):
                out = None  # free the previous chunk's arrays first
                out = output_arrays(plan, e - s, spec.variables)  # only what is reduced
            part = chunk_partial(plan, ss, s, e, spec, backend, threads, design, out)
            _add_replicate(sums, replicate_sums(part, design))
            m.push(part)
        del out
        total = m.result()
    template = simulate_range(plan, ss, 0, 1, backend=backend, design=design)
    tree = _to_tree(template, plan, spec, total, ci_prob, draws, chunk, backend, ss, design)
    _add_mcse(tree, spec, total, design, sums, ci_prob)
    return tree


@dataclass
class Trimmed:
    """Histograms (cells, bins) without their leading and trailing empty bins: per cell the
    first bin kept and the int32 counts from it (a replicate's counts, <= 2**30, fit)."""

    first: np.ndarray  # (cells,) int64
    counts: list  # per cell, int32 array

    @classmethod
    def of(cls, hist: np.ndarray) -> "Trimmed":
        nz = hist != 0
        has = nz.any(axis=1)
        lo = np.where(has, nz.argmax(axis=1), 0)
        hi = np.where(has, hist.shape[1] - nz[:, ::-1].argmax(axis=1), 0)
        return cls(lo.astype(np.int64), [hist[c, lo[c]:hi[c]].astype(np.int32)
                                         for c in range(len(hist))])

    def __add__(self, other: "Trimmed") -> "Trimmed":
        first, counts = [], []
        for a0, a, b0, b in zip(self.first, self.counts, other.first, other.counts):
            if not len(b) or not len(a):
                first.append(a0 if len(a) else b0)
                counts.append(a if len(a) else b)
                continue
            lo, hi = min(a0, b0), max(a0 + len(a), b0 + len(b))
            z = np.zeros(hi - lo, np.int32)
            z[a0 - lo:a0 - lo + len(a)] += a
            z[b0 - lo:b0 - lo + len(b)] += b
            first.append(lo)
            counts.append(z)
        return Trimmed(np.array(first, np.int64), counts)

    def below_and_at(self, bins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, the count in the bins below ``bins[c]`` and in bin ``bins[c]``."""
        below, at = np.zeros(len(bins), np.int64), np.zeros(len(bins), np.int64)
        for c, (f, a) in enumerate(zip(self.first, self.counts)):
            k = int(bins[c]) - int(f)
            below[c] = a[:max(0, min(k, len(a)))].sum(dtype=np.int64)
            at[c] = a[k] if 0 <= k < len(a) else 0
        return below, at

    def rank_position(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Per cell, the bin holding the ``k``-th smallest value (1-based; -1 if empty) and
        its place in the bin (:func:`_in_bin`)."""
        bins, t = np.full(len(self.first), -1, np.int64), np.full(len(self.first), np.nan)
        for c, (f, a) in enumerate(zip(self.first, self.counts)):
            if len(a):
                cum = np.cumsum(a, dtype=np.int64)
                j = min(int(np.searchsorted(cum, k)), len(a) - 1)
                bins[c], t[c] = f + j, _in_bin(k, cum[j] - a[j], a[j])
        return bins, t


def replicate_sums(part: Partial, design: rng.Design) -> tuple[int, dict]:
    """(replicate, small sums) of a chunk inside one replicate of ``design``, for the RQMC
    errors: per variable the count, the sum and the exceedance counts, and the rank counts;
    for a Sobol' design also the mean, the sum of squared deviations and the trimmed
    histogram (:class:`Trimmed`)."""
    r = int(design.replicate_of(part.start))
    sobol = design.kind == "sobol"
    out = {v: (part.n[v], part.n[v] * np.nan_to_num(part.mean[v]), part.exceed.get(v),
               part.mean[v] if sobol else None, part.m2[v] if sobol else None,
               Trimmed.of(part.hist[v]) if sobol else None) for v in part.n}
    return r, out | {"_rank": part.rank_counts}


def _add_replicate(acc: dict, item: tuple[int, dict]) -> None:
    """Add a chunk's :func:`replicate_sums` to the running sums of its replicate (chunks in
    order, so the floating-point merges are the same in this process and on dask)."""
    r, d = item
    if r not in acc:
        acc[r] = d
        return
    per = acc[r]
    for k, val in d.items():
        if k == "_rank":
            per[k] = None if val is None else per[k] + val
            continue
        n0, s0, e0, m0, q0, h0 = per[k]
        n1, s1, e1, m1, q1, h1 = val
        if m0 is not None:
            _, m0, q0 = merge_moments(n0, m0, q0, n1, m1, q1)
            h0 = h0 + h1
        per[k] = (n0 + n1, s0 + s1, None if e0 is None else e0 + e1, m0, q0, h0)


def _add_mcse(tree: xr.DataTree, spec: Spec, total: Partial, design: rng.Design,
              per: dict, ci_prob: float) -> None:
    """Monte Carlo standard errors of every streamed estimate, by :mod:`mcfoot.mcse`'s
    formulas (the same as :func:`mcfoot.summarize` on the draws): the mean, a claim or rank
    probability and the sd from merged moments (iid) or from the replicates' own (Sobol');
    a quantile from the order statistics at ranks ``n q -+ sqrt(n q (1 - q))`` read off the
    histogram (iid) times, for Sobol', the replicates' spread of the share below it over the
    binomial one, never below the spread of the replicates' quantiles (their histograms are
    kept trimmed, :class:`Trimmed`). Read off the histogram, an order statistic carries the
    grid's relative error (``rel_error``): so does a quantile's MCSE, relative to the
    quantile (it agrees with the in-memory one to within that)."""
    R, N = design.replicates, design.draws
    sobol = design.kind == "sobol"
    reps = [per[r] for r in range(R)] if sobol else []
    a = (1 - ci_prob) / 2
    summ, claims = tree["summary"].to_dataset(), tree["claims"].to_dataset()
    for v in spec.variables:
        n = total.n[v]
        err = np.full((len(n), len(STATS)), np.nan)
        with np.errstate(invalid="ignore", divide="ignore"):
            m2 = total.m2[v] / n
            if sobol:
                err[:, 0] = mcse.replicate_error([np.where(p[v][0] > 0, p[v][1] / p[v][0],
                                                           np.nan) for p in reps])
                # the replicates' means of the squared deviations from the pooled mean
                se_var = mcse.replicate_error([p[v][4] / p[v][0] + (p[v][3] - total.mean[v])
                                               ** 2 for p in reps])
            else:
                err[:, 0] = np.sqrt(total.m2[v] / (n - 1) / n)
                se_var = mcse.variance_error_iid(m2, total.m4[v] / n, n)
            err[:, 1] = mcse.sd_error(se_var, m2)
            hist = total.hist[v]
            cum = np.cumsum(hist, axis=-1)
            for j, q in enumerate((0.5, a, 1 - a)):
                lo, hi = mcse.quantile_ranks(N, q)
                s_lo, s_hi = (_interp(spec.grid, *_position(hist, cum, k + 1)) for k in (lo, hi))
                slope = (s_hi - s_lo) / 2  # ~ dQ/dp x sqrt(p (1 - p) / n)
                if sobol:
                    b, t = _position(hist, cum, max(math.ceil(q * N), 1))  # the quantile
                    share = []
                    for p in reps:  # the part t of the quantile's bin below it
                        below, at = p[v][5].below_and_at(b)
                        share.append((below + at * t) / design.points)
                    slope = mcse.replicate_error(share) * slope / math.sqrt(q * (1 - q) / N)
                    rq = [_interp(spec.grid, *p[v][5].rank_position(
                        max(math.ceil(q * design.points), 1))) for p in reps]
                    slope = np.fmax(slope, mcse.replicate_error(rq))
                err[:, 2 + j] = slope
        err[n == 0] = np.nan
        var = summ[v]
        summ[f"{v}_mcse"] = (var.dims, err.reshape(var.shape), {
            "units": var.attrs.get("units", ""),
            "long_name": f"Monte Carlo standard error of the summaries of {v}"})
        if v in spec.thresholds:
            name = f"p_exceed_{v}"
            with np.errstate(invalid="ignore", divide="ignore"):
                e = mcse.replicate_error([p[v][2] / p[v][0][:, None] for p in reps]) \
                    if sobol else mcse.binomial(total.exceed[v] / n[:, None], n[:, None])
            claims[f"{name}_mcse"] = (claims[name].dims, e.reshape(claims[name].shape),
                                      {"units": "1", "long_name": f"Monte Carlo standard "
                                       f"error of {name}"})
    tree["summary"] = summ
    tree["claims"] = claims
    if spec.ranks:
        rk = tree["rank"].to_dataset()
        used = rk.attrs["draws"]
        if sobol:
            e = mcse.replicate_error([p["_rank"] / design.points for p in reps])
        else:
            e = mcse.binomial(total.rank_counts / used, used)
        rk["rank_probability_mcse"] = (rk["rank_probability"].dims, e, {
            "units": "1", "long_name": "Monte Carlo standard error of rank_probability"})
        tree["rank"] = rk
    tree.attrs["mcse_method"] = mcse.layout(tree.attrs, design.draws).describe() + \
        ("; streaming: moments merged over chunks, quantiles' order statistics from the "
         f"histogram (within its rel_error {spec.grid.rel_error:g} of the quantile)")


def _rank_bin(cum: np.ndarray, k: int) -> np.ndarray:
    """Per row of cumulative histogram counts, the bin of the ``k``-th smallest value."""
    return np.minimum((cum < k).sum(axis=-1), cum.shape[-1] - 1)


def _in_bin(k, below, count):
    """Place in (0, 1) of the ``k``-th smallest value inside its bin, which holds the values
    ranked ``below + 1 .. below + count``: the ``j``-th of them at ``(j - 1/2) / count``."""
    with np.errstate(invalid="ignore", divide="ignore"):
        return (k - below - 0.5) / count


def _position(hist: np.ndarray, cum: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Per row, the bin of the ``k``-th smallest value and its place in the bin."""
    b = _rank_bin(cum, k)
    rows = np.arange(len(b))
    at = hist[rows, b]
    return b, _in_bin(k, cum[rows, b] - at, at)


def _interp(grid: LogGrid, bins: np.ndarray, t: np.ndarray) -> np.ndarray:
    """A value at place ``t`` inside each of ``bins``, geometrically (0 in the zero bin, NaN
    outside the grid). An order statistic's error is then well below the bin's width when
    the bin holds many draws, so the quantiles' MCSE (differences of order statistics)
    resolve below the grid's ``rel_error`` at large draw counts."""
    k = np.asarray(bins) - 2
    reg = (k >= 0) & (k < grid.nbins)
    out = np.where(np.asarray(bins) == 0, 0.0, np.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        val = grid.lo * np.exp((k + t) * grid.log_r)
    return np.where(reg, val, out)


def quantiles_from_hist(hist: np.ndarray, n: np.ndarray, probs, grid: LogGrid) -> np.ndarray:
    """Inverted-CDF quantile estimates (cells, len(probs)) from histograms (see module doc)."""
    cum = np.cumsum(hist, axis=-1)
    mids = grid.midpoints()
    out = np.full((hist.shape[0], len(probs)), np.nan)
    for j, q in enumerate(probs):
        k = np.maximum(np.ceil(q * n).astype(np.int64), 1)
        b = _rank_bin(cum, k[:, None])
        ok = n > 0
        out[ok, j] = mids[b[ok]]
    return out


def _to_tree(template, plan, spec, total, ci_prob, draws, chunk, backend, ss,
             design: rng.Design) -> xr.DataTree:
    fp = template["footprint"]
    cells_shape = (fp.sizes["model"], fp.sizes["prompt"])
    coords = {"model": fp.model.values, "prompt": fp.prompt.values}
    a = (1 - ci_prob) / 2
    summ = xr.Dataset(coords={**coords, "stat": list(STATS)})
    claims = xr.Dataset(coords=coords)
    for v in spec.variables:
        n = total.n[v]
        with np.errstate(invalid="ignore", divide="ignore"):
            sd = np.sqrt(total.m2[v] / (n - 1))
        q = quantiles_from_hist(total.hist[v], n, (0.5, a, 1 - a), spec.grid)
        stats = np.stack([total.mean[v], np.where(n > 1, sd, np.nan), q[:, 0], q[:, 1],
                          q[:, 2]], axis=-1)
        attrs = dict(fp[v].attrs)
        summ[v] = (("model", "prompt", "stat"), stats.reshape(*cells_shape, len(STATS)), attrs)
        outside = total.hist[v][:, 1] + total.hist[v][:, -1]
        summ[f"{v}_outside_grid"] = (("model", "prompt"), outside.reshape(cells_shape),
                                     {"units": "draws", "long_name":
                                      f"draws of {v} outside the quantile grid"})
        if v in spec.thresholds:
            t = spec.thresholds[v]
            p = total.exceed[v] / np.where(n > 0, n, np.nan)[:, None]
            claims = claims.assign_coords({f"threshold_{v}": (f"threshold_{v}", list(t),
                                                              {"units": attrs.get("units", "")})})
            claims[f"p_exceed_{v}"] = (("model", "prompt", f"threshold_{v}"),
                                       p.reshape(*cells_shape, len(t)),
                                       {"units": "1", "long_name": f"P({v} > threshold)"})
    summ.attrs = {"ci_prob": ci_prob, "ci_kind": "eti", "draws": draws,
                  "quantile_method": "log-space histogram, inverted-CDF quantile",
                  "quantile_rel_error": spec.grid.rel_error,
                  "quantile_grid": f"[{spec.grid.lo:g}, {spec.grid.hi:g})",
                  "moments": "Chan et al. pairwise merge over a fixed binary tree of chunks"}
    groups = {"summary": summ, "claims": claims}
    if spec.ranks:
        models = participants(template, STUDY_INPUTS, STUDY_OUTPUTS).kept
        used = draws
        k = np.arange(1, len(models) + 1)
        rk = xr.Dataset(coords={"model": models, "k": k_coord(len(models))})
        add_rank_probabilities(rk, ("model",), total.rank_counts / used,
                               (total.rank_counts * k).sum(-1) / used)
        rk.attrs = {"inputs": ";".join(STUDY_INPUTS), "outputs": ";".join(STUDY_OUTPUTS),
                    "secondary": "aggressive", "ties": "competition ranking (1224): scores "
                    "within tie_tol share the smallest rank (as mcfoot.rank)",
                    "tie_tol": TIE_TOL, "tied_draws": total.tied_draws, "draws": used}
        groups["rank"] = rk
    attrs = provenance.stamp("stream", provenance.run_attrs(plan, ss, draws, backend, design),
                             title="mcfoot streaming summaries", chunk_draws=chunk)
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **groups})
