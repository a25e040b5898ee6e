"""The compiled streaming reduction (``mcfoot._reduce``) against its NumPy twin
(``stream.reduce_rows_reference``), the exactness of its bins and sums, and the array path of
a streaming run (no DataTree per chunk, chunk arrays reused, backends identical)."""

import math

import numba
import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st

from mcfoot import stream
from mcfoot.stream import LogGrid, Spec, reduce_arrays, reduce_rows, reduce_rows_reference

MODELS = ["gpt-4o-mar", "o3", "gpt-4"]  # gpt-4 lacks two prompts: NaN rows

GRIDS = {"default": LogGrid(), "coarse": LogGrid(lo=1e-3, hi=1e3, rel_error=0.05),
         "fine": LogGrid(lo=0.5, hi=2.0, rel_error=1e-5)}


def assert_parity(x, grid, thresholds=()):
    got = reduce_rows(x, grid, thresholds)
    want = reduce_rows_reference(x, grid, thresholds)
    names = ("n_finite", "n_negative", "sum", "m2", "hist", "exceed")
    for name, a, b in zip(names, got, want):
        assert a.shape == b.shape and a.dtype == b.dtype, name
        assert np.array_equal(a, b, equal_nan=True), name
    return got


def tricky_rows(grid: LogGrid, rng, n: int) -> np.ndarray:
    """Rows of values on, just below and just above bin edges, zeros, values outside the
    grid, a NaN row and plain lognormal draws."""
    e = grid.edges
    k = rng.integers(0, len(e), n)
    on = e[k]
    outside = on.copy()
    special = [0.0, grid.lo / 2, e[-1], e[-1] * 2, np.nextafter(grid.lo, 0)]
    outside[:min(n, 5)] = special[:n]
    rows = [on, np.nextafter(on, 0), np.nextafter(on, np.inf),
            np.where(rng.random(n) < 0.3, 0.0, on), outside, np.full(n, np.nan),
            np.exp(rng.normal(math.log(grid.lo * grid.hi) / 2, 2.0, n))]
    return np.stack(rows)


@pytest.mark.parametrize("name", list(GRIDS))
@pytest.mark.parametrize("n", [1, 3, 257, 1031])
def test_kernel_equals_twin_on_edges(name, n):
    grid = GRIDS[name]
    x = tricky_rows(grid, np.random.default_rng(n), n)
    assert_parity(x, grid, (grid.lo, float(np.median(grid.edges)), -1.0))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(1, 700), rows=st.integers(1, 6),
       mu=st.floats(-20, 20), sigma=st.floats(0, 5), zeros=st.floats(0, 1),
       t=st.lists(st.floats(1e-9, 1e9), max_size=3))
def test_kernel_equals_twin_property(seed, n, rows, mu, sigma, zeros, t):
    rng = np.random.default_rng(seed)
    x = np.exp(rng.normal(mu, sigma, (rows, n)))
    x[rng.random((rows, n)) < zeros] = 0.0
    got = assert_parity(x, LogGrid(), t)
    assert (got[4].sum(axis=1) == n).all() and (got[0] == n).all()


def test_coarse_lookup_table_gives_the_same_bins(monkeypatch):
    """When the table would be too large it gets coarser cells (several bins per cell): the
    kernel then needs more comparisons, but finds the same bins."""
    monkeypatch.setattr(stream, "LOOKUP_MAX", 64)
    grid = LogGrid(lo=1e-6, hi=1e6, rel_error=1e-3)
    assert len(grid.lookup[2]) <= 64 + 2
    x = tricky_rows(grid, np.random.default_rng(1), 2000)
    assert_parity(x, grid, (1.0,))


def test_bins_are_the_edges_hand_computed():
    """A value on edge k is in regular bin k (array bin k + 2); the double just below it in
    bin k - 1: the edges, not a rounded logarithm, define the bins."""
    g = LogGrid(lo=1.0, hi=100.0, rel_error=0.01)
    k = np.arange(1, g.nbins)
    x = np.stack([g.edges[k], np.nextafter(g.edges[k], 0)])
    hist = reduce_rows(x, g)[4]
    assert np.array_equal(np.flatnonzero(hist[0]), k + 2)
    assert np.array_equal(np.flatnonzero(hist[1]), k + 1)
    assert g.edges[0] == 1.0 and g.edges[-1] >= 100.0 > g.edges[-2]


def test_blocked_sums_are_accurate():
    """Golden: the blocked sums against the exactly rounded sum (math.fsum)."""
    rng = np.random.default_rng(7)
    x = np.exp(rng.normal(0.0, 1.5, (3, 100_003)))
    _, _, total, m2, _, _ = reduce_rows(x, LogGrid())
    for r in range(3):
        exact = math.fsum(x[r])
        assert abs(total[r] - exact) <= 1e-14 * exact
        mean = exact / x.shape[1]
        exact_m2 = math.fsum((x[r] - mean) ** 2)
        assert abs(m2[r] - exact_m2) <= 1e-13 * exact_m2


def test_kernel_does_not_depend_on_threads():
    x = tricky_rows(LogGrid(), np.random.default_rng(3), 5000)
    x = np.concatenate([x] * 5)
    before = numba.get_num_threads()
    try:
        numba.set_num_threads(1)
        one = reduce_rows(x, LogGrid(), (1.0,))
        numba.set_num_threads(min(2, numba.config.NUMBA_NUM_THREADS))
        two = reduce_rows(x, LogGrid(), (1.0,))
    finally:
        numba.set_num_threads(before)
    for a, b in zip(one, two):
        assert np.array_equal(a, b, equal_nan=True)


@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_bad_rows_are_reported(backend):
    spec = Spec(("energy_wh",), LogGrid(), {}, False)
    x = np.ones((2, 10))
    x[1, 3] = np.nan
    with pytest.raises(ValueError, match="some but not all draws"):
        reduce_arrays({"energy_wh": x}, spec, 0, 10, backend)
    x[1] = -1.0
    with pytest.raises(ValueError, match="negative values"):
        reduce_arrays({"energy_wh": x}, spec, 0, 10, backend)
    x[1] = np.nan  # a row absent from the catalogue: no draws, NaN moments
    part = reduce_arrays({"energy_wh": x}, spec, 0, 10, backend)
    assert part.n["energy_wh"].tolist() == [10, 0] and np.isnan(part.mean["energy_wh"][1])
    assert part.hist["energy_wh"][1].sum() == 0


@pytest.mark.parametrize("sampling, draws", [("mc", 700), ("sobol", 1024)])
def test_stream_backends_are_identical(sampling, draws):
    kw = dict(draws=draws, seed=5, models=MODELS, chunk_draws=300, progress=False,
              variables=["energy_wh", "energy_min_wh", "water_ml"], sampling=sampling,
              thresholds={"energy_wh": [0.3, 3.0], "energy_min_wh": 1.0})
    a = stream.stream("paper", backend="numba", **kw)
    b = stream.stream("paper", backend="numpy", **kw)
    for g in ("summary", "claims"):
        xr.testing.assert_identical(a[g].to_dataset(), b[g].to_dataset())


def test_stream_reduces_arrays_and_reuses_them(monkeypatch):
    """Without ranks a streaming run builds no DataTree per chunk (one 1-draw template for
    the result's layout) and allocates the chunk arrays once per chunk length."""
    calls = {"tree": 0, "arrays": 0}
    tree_fn, arrays_fn = stream.simulate_range, stream.output_arrays

    def counted(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(stream, "simulate_range", counted("tree", tree_fn))
    monkeypatch.setattr(stream, "output_arrays", counted("arrays", arrays_fn))
    stream.stream("paper", 250, seed=1, models=MODELS, chunk_draws=100, progress=False)
    assert calls == {"tree": 1, "arrays": 2}
