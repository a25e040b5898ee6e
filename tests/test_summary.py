"""Summaries: moments and intervals against direct NumPy computations; per-draw ratios; CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import mcfoot
from mcfoot import _arviz, _order
from mcfoot.cli import main
from mcfoot.errors import InputError
from mcfoot.summary import STATS, ratio, summarize, summarize_draws

MODELS = ["o3", "gpt-4-1-nano", "gpt-4o-mar", "gpt-4"]  # gpt-4 has no long prompt


@pytest.fixture(scope="module")
def tree():
    return mcfoot.simulate("default", draws=1500, seed=3, models=MODELS)


def _shortest(x: np.ndarray, prob: float) -> tuple[float, float]:
    """Shortest interval between order statistics holding floor(prob * n) steps."""
    x = np.sort(x)
    k = int(np.floor(prob * len(x)))
    i = int(np.argmin(x[k:] - x[: len(x) - k]))
    return x[i], x[i + k]


def test_layout_units_and_provenance(tree):
    s = summarize(tree)
    assert list(s.stat.values) == list(STATS)
    fp = tree["footprint"]
    full = {v for v in fp.data_vars if set(fp[v].dims) == {"draw", "model", "prompt"}}
    assert set(s.data_vars) == full | {f"{v}_mcse" for v in full}
    for v in full:
        for name in (v, f"{v}_mcse"):
            assert s[name].dims == ("model", "prompt", "stat")
            assert s[name].attrs["units"] == fp[v].attrs["units"]
    assert s.attrs["mcse_method"].startswith("iid")
    assert set(summarize(tree, mcse=False).data_vars) == full
    assert s.attrs["ci_kind"] == "eti" and s.attrs["ci_prob"] == 0.95
    assert s.attrs["draws"] == 1500 and s.attrs["scenario"] == "default"
    assert s.attrs["seed"] == tree.attrs["seed"]


def test_eti_and_moments_match_numpy(tree):
    s = summarize(tree, ci_prob=0.9)
    x = tree["footprint"]["water_ml"].transpose("model", "prompt", "draw").values
    q = np.quantile(x, [0.5, 0.05, 0.95], axis=-1)
    want = np.stack([x.mean(-1), x.std(-1, ddof=1), q[0], q[1], q[2]], axis=-1)
    np.testing.assert_allclose(s["water_ml"].values, want, rtol=1e-12, equal_nan=True)


def test_absent_rows_are_nan_in_every_stat(tree):
    present = tree["catalogue"]["present"].sel(model=MODELS)
    assert not bool(present.all())  # the fixture must include an absent row
    for kind in ("eti", "hdi"):
        s = summarize(tree, kind=kind)
        e = s["energy_wh"]
        assert bool(e.where(~present).isnull().all())
        assert not bool(e.isnull().any("stat").where(present, False).any())


def test_hdi_is_the_shortest_interval_on_a_known_distribution():
    # lognormal(0, 1): the 80% HDI is [a, b] with pdf(a) = pdf(b) and F(b) - F(a) = 0.8
    rng = np.random.default_rng(11)
    x = rng.lognormal(0.0, 1.0, size=(20_000, 2))
    da = xr.DataArray(x, dims=("draw", "model"), attrs={"units": "Wh"})
    out = summarize_draws(da, ci_prob=0.8, kind="hdi")
    for j in range(2):
        lo, hi = _shortest(x[:, j], 0.8)
        assert out.sel(stat="lower")[j] == pytest.approx(lo, rel=1e-12)
        assert out.sel(stat="upper")[j] == pytest.approx(hi, rel=1e-12)
    dist = stats.lognorm(1.0)
    a_grid = np.linspace(1e-4, dist.ppf(0.2) - 1e-9, 200_001)
    b_grid = dist.ppf(dist.cdf(a_grid) + 0.8)
    i = np.argmin(b_grid - a_grid)
    np.testing.assert_allclose(out.sel(stat="lower"), a_grid[i], atol=0.03)
    np.testing.assert_allclose(out.sel(stat="upper"), b_grid[i], atol=0.15)
    # for a right-skewed distribution the HDI is shorter and lower than the ETI
    eti = summarize_draws(da, 0.8, "eti")
    width = lambda s: s.sel(stat="upper") - s.sel(stat="lower")  # noqa: E731
    assert bool((width(out) < width(eti)).all())
    assert bool((out.sel(stat="lower") < eti.sel(stat="lower")).all())


def test_interval_shim_reports_kind_and_bounds(tree):
    e = tree["footprint"]["energy_wh"]
    ci = _arviz.interval(e, 0.5, "hdi")
    assert ci.dims[-1] == "ci_bound" and list(ci.ci_bound.values) == ["lower", "upper"]
    assert ci.attrs["ci_kind"] == "hdi" and ci.attrs["ci_prob"] == 0.5
    assert ci.attrs["units"] == "Wh"
    ok = ~ci.isnull().any("ci_bound")
    assert bool((ci.sel(ci_bound="lower") <= ci.sel(ci_bound="upper")).where(ok, True).all())
    assert _arviz.arviz_major() in (0, 1, 2)


def test_ratio_is_per_draw_not_a_ratio_of_summaries(tree):
    r, s = ratio(tree, ("o3", "long"), ("gpt-4-1-nano", "long"), "energy_wh")
    e = tree["footprint"]["energy_wh"]
    want = (e.sel(model="o3", prompt="long") / e.sel(model="gpt-4-1-nano", prompt="long")).values
    np.testing.assert_allclose(r.values, want, rtol=1e-12)
    assert r.dims == ("draw",) and r.attrs["units"] == "1"
    assert s.sel(stat="median") == pytest.approx(np.median(want), rel=1e-12)
    lo, hi = np.quantile(want, [0.025, 0.975])
    assert s.sel(stat="lower") == pytest.approx(lo) and s.sel(stat="upper") == pytest.approx(hi)
    assert s.attrs["prob_gt_1"] == pytest.approx(np.mean(want > 1))
    # same host (Azure) and hardware: shared factors cancel, so the per-draw ratio is
    # tighter than the ratio of independent draws would be
    rng = np.random.default_rng(0)
    shuffled = e.sel(model="o3", prompt="long").values / rng.permutation(
        e.sel(model="gpt-4-1-nano", prompt="long").values)
    assert np.std(want) < np.std(shuffled)


@pytest.mark.parametrize("kwargs, match", [
    ({"numerator": ("nope", "long")}, "numerator model 'nope'"),
    ({"denominator": ("o3", "huge")}, "denominator prompt 'huge'"),
    ({"numerator": ("gpt-4", "long")}, "not in the catalogue"),
    ({"variable": "energy"}, "unknown footprint variable"),
    ({"numerator": "o3"}, "pair"),
])
def test_ratio_bad_input(tree, kwargs, match):
    with pytest.raises(InputError, match=match):
        ratio(tree, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"ci_prob": 1.0}, "ci_prob"), ({"ci_prob": 0}, "ci_prob"),
    ({"kind": "hpd"}, "kind"), ({"variables": ["energy"]}, "unknown footprint variable"),
])
def test_summarize_bad_input(tree, kwargs, match):
    with pytest.raises(InputError, match=match):
        summarize(tree, **kwargs)


def test_cli_summary_kind(tmp_path, tree, capsys):
    path = tmp_path / "out.nc"
    mcfoot.write_tree(tree, path)
    assert main(["summary", str(path), "--kind", "hdi", "--ci", "0.9", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["ci_kind"] == "hdi" and out["ci_prob"] == 0.9
    s = summarize(tree, 0.9, "hdi")
    row = next(r for r in out["rows"] if r["model"] == "o3" and r["prompt"] == "long")
    assert row["energy_wh_lower"] == pytest.approx(
        float(s["energy_wh"].sel(model="o3", prompt="long", stat="lower")))
    assert not any(r["model"] == "gpt-4" and r["prompt"] == "long" for r in out["rows"])
    assert main(["summary", str(path)]) == 0
    text = capsys.readouterr().out
    assert "95% ETI interval" in text and "o3" in text


# ---- the fast order-statistic path equals NumPy / ArviZ bit for bit ----------------------------


def _old_summarize_draws(da, ci_prob, kind, dim="draw"):
    """summarize_draws the straightforward way: xarray moments and median, the interval from
    DataArray.quantile or the installed ArviZ (the implementation before the kernels)."""
    ci = _arviz._interval_arviz(da, ci_prob, kind, dim=dim)
    moments = [da.mean(dim, skipna=False), da.std(dim, ddof=1, skipna=False),
               da.median(dim, skipna=False)]
    parts = [m.drop_vars([c for c in m.coords if c not in ci.coords], errors="ignore")
             for m in moments] + [ci.sel(ci_bound=b, drop=True) for b in ("lower", "upper")]
    out = xr.concat(parts, dim="stat", coords="minimal", compat="override",
                    join="override").assign_coords(stat=list(STATS))
    out = out.transpose(..., "stat")
    out.attrs = dict(da.attrs)
    out.name = da.name
    return out


@pytest.mark.parametrize("kind", ["eti", "hdi"])
@pytest.mark.parametrize("ci_prob", [0.95, 0.5, 0.3])
def test_summarize_identical_to_xarray_and_arviz(tree, kind, ci_prob):
    s = summarize(tree, ci_prob=ci_prob, kind=kind)
    fp = tree["footprint"]
    for v in [v for v in s.data_vars if not v.endswith("_mcse")]:
        da = fp[v].transpose("draw", "model", "prompt")
        xr.testing.assert_identical(s[v], _old_summarize_draws(da, ci_prob, kind)
                                    .transpose("model", "prompt", "stat"))


@settings(max_examples=60, deadline=None, derandomize=True)
@given(n=st.integers(1, 400), prob=st.sampled_from([0.95, 0.9, 0.5, 0.49, 0.2, 0.999]),
       ties=st.sampled_from([None, 1, 3, 50]), seed=st.integers(0, 2**31))
def test_order_kernels_equal_numpy_and_arviz(n, prob, ties, seed):
    """Median, linear quantiles and ArviZ 0.x's HDI from the selection kernels equal the
    NumPy twins (np.median, np.quantile, a full sort) exactly, with ties and NaN rows."""
    rng = np.random.default_rng(seed)
    A = rng.lognormal(size=(5, n))
    if ties:
        A[1] = np.round(A[1] * ties) / ties
        A[2, : n // 2] = A[2, 0]
    A[3] = 7.0
    if n > 1:
        A[4, n // 3] = np.nan
    for kind, twin in (("eti", _order.median_eti_numpy), ("hdi", _order.median_hdi_numpy)):
        got = _order.median_interval_rows(A, prob, kind)
        for g, w in zip(got, twin(A, prob)):
            np.testing.assert_array_equal(g, w)
    # the twins are what the interval shim computed before the kernels
    da = xr.DataArray(A.T, dims=("draw", "row"), name="x")
    for kind in ("eti", "hdi"):
        xr.testing.assert_identical(_arviz.interval(da, prob, kind),
                                    _arviz._interval_arviz(da, prob, kind))


# ---- order statistics selected, not sorted (issue 17) ---------------------------------------
@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 300), cols=st.integers(1, 4), seed=st.integers(0, 2**31),
       ties=st.booleans(), nan_col=st.booleans(), k=st.integers(1, 8))
def test_order_statistics_equal_numpy_sort(n, cols, seed, ties, nan_col, k):
    g = np.random.default_rng(seed)
    x = g.standard_normal((n, cols))
    if ties:
        x = np.round(x, 1)
    if nan_col and n > 1:
        x[g.integers(0, n), 0] = np.nan  # NumPy sorts NaN last; the order below it is finite
    ranks = g.integers(0, n, size=k)
    np.testing.assert_array_equal(_order.order_statistics(x, ranks), np.sort(x, axis=0)[ranks])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(2, 400), seed=st.integers(0, 2**31), prob=st.floats(0.05, 0.99))
def test_median_eti_with_extra_ranks_is_the_same_selection(n, seed, prob):
    """The ETI kernel's extra order statistics equal a sort's, and asking for them leaves
    the median and interval bit-identical to NumPy's."""
    A = np.random.default_rng(seed).lognormal(size=(5, n))
    ranks = np.random.default_rng(seed + 1).integers(0, n, size=6)
    med, lo, hi, extra = _order.median_interval_rows(A, prob, "eti", ranks)
    m0, l0, h0 = _order.median_eti_numpy(A, prob)
    np.testing.assert_array_equal(med, m0)
    np.testing.assert_array_equal(lo, l0)
    np.testing.assert_array_equal(hi, h0)
    np.testing.assert_array_equal(extra, np.sort(A, axis=-1)[:, ranks])


def test_order_statistics_refuse_ranks_outside_the_sample():
    with pytest.raises(ValueError, match="ranks must lie in 0..9"):
        _order.order_statistics(np.zeros(10), [10])


def test_summary_mcse_from_the_shared_selection_equals_the_standalone_one():
    """summarize() takes the quantile MCSE's order statistics from the median/ETI
    selection and the mean's from the sd statistic: the same numbers as summary_mcse()
    computing them on its own."""
    from mcfoot import mcse
    from mcfoot.summary import summary_mcse

    tree = mcfoot.simulate("paper", 3000, seed=4, progress=False)
    s = summarize(tree, variables=["energy_wh", "water_ml"])
    lay = mcse.layout(tree.attrs, 3000)
    for v in ("energy_wh", "water_ml"):
        da = tree["footprint"][v].transpose("draw", "model", "prompt")
        alone = summary_mcse(da, lay).transpose("model", "prompt", "stat")
        np.testing.assert_allclose(s[f"{v}_mcse"].values, alone.values, rtol=1e-12)
