"""Tests of mcfoot.rank: known answers on synthetic trees, probability bookkeeping, the
study's set-up on the paper scenario, bad input, failed draws, and the CLI."""

from __future__ import annotations

import importlib
import json
import subprocess
import sys

import numpy as np
import pytest
import xarray as xr

import mcfoot
from mcfoot.dea import DEAError, cross_efficiency
from mcfoot.errors import InputError
from mcfoot.rank import FOOTPRINT_INPUTS, STUDY_INPUTS, min_ranks, rank_probabilities

rank_module = importlib.import_module("mcfoot.rank")
PROMPTS = ("short", "medium", "long")


@pytest.fixture
def rng():
    return np.random.default_rng(20250509)


def make_tree(energy, index, host=None, extra=None):
    """A minimal simulate()-like tree. energy: (draw, model, prompt) Wh; index: (model,);
    host: optional dict name -> (draw, model) host factors (default: constant 1.2 etc.)."""
    energy = np.asarray(energy, dtype=float)
    d, m, p = energy.shape
    models = [f"m{i}" for i in range(m)]
    coords = {"draw": np.arange(d), "model": models, "prompt": list(PROMPTS[:p])}
    fp = xr.Dataset(coords=coords)
    fp["energy_wh"] = (("draw", "model", "prompt"), energy, {"units": "Wh"})
    fp["water_ml"] = (("draw", "model", "prompt"), 3.0 * energy, {"units": "mL"})
    fp["carbon_g"] = (("draw", "model", "prompt"), 0.4 * energy, {"units": "g CO2e"})
    host = host or {}
    for name, value in zip(STUDY_INPUTS[1:], (1.2, 0.3, 3.0, 0.35)):
        fp[name] = (("draw", "model"), host.get(name, np.full((d, m), value)), {"units": "1"})
    for name, a in (extra or {}).items():
        fp[name] = a
    cat = xr.Dataset(coords={"model": models})
    cat["intelligence_index"] = (("model",), np.asarray(index, dtype=float),
                                 {"units": "points (0-100)"})
    cat["model_name"] = (("model",), np.array([f"Model {i}" for i in range(m)], dtype=object))
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs={"scenario": "synthetic", "seed": "0"}),
                                  "footprint": fp, "catalogue": cat})


@pytest.fixture(scope="module")
def paper():
    return mcfoot.simulate("paper", draws=200, seed=0)


@pytest.fixture(scope="module")
def paper_rank(paper):
    with pytest.warns(UserWarning, match="without intelligence_index"):
        return mcfoot.rank(paper)


# ---- the array layer -----------------------------------------------------------------------


def test_min_ranks_by_hand():
    s = np.array([[0.5, 0.9, 0.5, 0.1], [0.2, np.nan, 0.3, 0.3]])
    np.testing.assert_array_equal(min_ranks(s), [[2, 1, 2, 4], [3, np.nan, 1, 1]])
    # within the tolerance counts as a tie
    np.testing.assert_array_equal(min_ranks([0.5, 0.5 + 1e-12, 0.4], tie_tol=1e-9), [1, 1, 3])


def test_rank_probabilities_by_hand():
    r = np.array([[1, 2], [2, 1], [1, 2], [np.nan, np.nan]])
    np.testing.assert_allclose(rank_probabilities(r, 2), [[2 / 3, 1 / 3], [1 / 3, 2 / 3]])


# ---- known answers on synthetic trees ------------------------------------------------------


def test_dominating_model_is_best_in_every_draw(rng):
    d, m = 300, 5
    energy = rng.lognormal(0.0, 0.5, size=(d, m, 3)) + 1.0
    energy[:, 0] = 0.9 * energy[:, 1:].min(axis=1)  # model 0 uses less energy than any other
    index = np.array([70.0, 60, 50, 40, 30])  # ... and has the highest index
    host = {n: rng.uniform(1.0, 2.0, size=(d, m)) for n in STUDY_INPUTS[1:]}
    for n in host:
        host[n][:, 0] = host[n][:, 1:].min(axis=1)
    r = mcfoot.rank(make_tree(energy, index, host))
    assert r["p_best"].sel(model="m0") == 1.0
    assert r["expected_rank"].sel(model="m0") == 1.0
    assert (r["rank"].sel(model="m0") == 1).all()
    assert r["point_rank"].sel(model="m0") == 1
    np.testing.assert_array_equal(r["p_best"].sel(model=["m1", "m2", "m3", "m4"]), 0.0)


def test_two_models_swap_half_the_time(rng):
    """m0 and m1 are exchangeable (same index, i.i.d. energies), m2 is clearly worse:
    P(best) of each of m0, m1 is 0.5 up to Monte Carlo error."""
    d = 2000
    energy = np.empty((d, 3, 1))
    energy[:, :2, 0] = rng.uniform(1.0, 2.0, size=(d, 2))
    energy[:, 2, 0] = 5.0
    r = mcfoot.rank(make_tree(energy, [50.0, 50.0, 50.0]), inputs=("energy_wh",))
    se = np.sqrt(0.25 / d)
    for name in ("m0", "m1"):
        assert abs(float(r["p_best"].sel(model=name)) - 0.5) < 4 * se
        assert abs(float(r["expected_rank"].sel(model=name)) - 1.5) < 4 * se
    assert r["p_best"].sel(model="m0") + r["p_best"].sel(model="m1") == 1.0
    assert r["rank_probability"].sel(model="m2", k=3) == 1.0
    np.testing.assert_array_equal(r["rank_interval"].sel(model="m0"), [1, 2])
    # one input, one output under CRS: the score is (y/x) / max(y/x) in every draw
    ratio = 50.0 / energy[..., 0]
    np.testing.assert_allclose(r["cross_efficiency"], ratio / ratio.max(axis=1, keepdims=True),
                               rtol=1e-9)


def test_identical_models_tie_with_the_min_rank(rng):
    d = 50
    energy = rng.uniform(1.0, 2.0, size=(d, 3, 3))
    energy[:, 1] = energy[:, 0]
    r = mcfoot.rank(make_tree(energy, [40.0, 40.0, 10.0]))
    np.testing.assert_array_equal(r["rank"].sel(model="m0"), r["rank"].sel(model="m1"))
    assert (r["rank"].sel(model=["m0", "m1"]) == 1).all()
    assert (r["rank"].sel(model="m2") == 3).all()
    assert r.attrs["tied_draws"] == d
    # rows still sum to 1; column 1 holds two models, column 2 none
    np.testing.assert_allclose(r["rank_probability"].sum("k"), 1.0)
    np.testing.assert_allclose(r["rank_probability"].sum("model"), [2.0, 0.0, 1.0])


def test_ranks_do_not_depend_on_input_units(rng):
    """DEA is invariant to rescaling an input column (e.g. Wh -> mWh, L/kWh -> mL/kWh)."""
    d, m = 100, 6
    energy = rng.lognormal(0.0, 0.6, size=(d, m, 3))
    host = {n: rng.uniform(0.5, 2.0, size=(d, m)) for n in STUDY_INPUTS[1:]}
    index = rng.uniform(10, 70, size=m)
    r1 = mcfoot.rank(make_tree(energy, index, host))
    host2 = dict(host, wue_site_l_per_kwh=1e3 * host["wue_site_l_per_kwh"])
    r2 = mcfoot.rank(make_tree(1e3 * energy, index, host2))
    xr.testing.assert_equal(r1["rank"], r2["rank"])
    xr.testing.assert_allclose(r1["cross_efficiency"], r2["cross_efficiency"], rtol=1e-9)


# ---- probability bookkeeping on the study's set-up -----------------------------------------


def test_paper_study_setup_has_126_dmus(paper, paper_rank):
    r = paper_rank
    assert r.attrs["n_dmus"] == 126
    assert int(r["is_dmu"].sum()) == 126
    assert r.sizes["model"] == 42 and r.sizes["k"] == 42 and r.sizes["draw"] == 200
    excluded = r.attrs["excluded_models"].split(";")
    assert len(excluded) == 24
    assert set(excluded) == set(paper["catalogue"].model.values[
        np.isnan(paper["catalogue"]["intelligence_index"].values)])
    assert r.attrs["inputs"].split(";") == list(STUDY_INPUTS)
    assert r.attrs["failed_draws"] == 0 and r.attrs["draws_used"] == 200
    for v in r.data_vars:
        assert "units" in r[v].attrs and "long_name" in r[v].attrs, v


def test_probabilities_sum_to_one_and_expected_rank_is_consistent(paper_rank):
    r = paper_rank
    assert r.attrs["tied_draws"] == 0
    P = r["rank_probability"]
    np.testing.assert_allclose(P.sum("k"), 1.0, atol=1e-12)
    np.testing.assert_allclose(P.sum("model"), 1.0, atol=1e-12)
    np.testing.assert_allclose((P * P.k).sum("k"), r["expected_rank"], rtol=1e-12)
    np.testing.assert_allclose(r["rank"].mean("draw"), r["expected_rank"], rtol=1e-12)
    np.testing.assert_allclose(r["p_top"], P.cumsum("k"), atol=1e-12)
    np.testing.assert_allclose(r["p_top"].isel(k=-1), 1.0)
    xr.testing.assert_equal(r["p_best"], P.sel(k=1, drop=True).assign_attrs(r["p_best"].attrs))
    # each draw's ranks are a permutation of 1..n
    np.testing.assert_array_equal(np.sort(r["rank"].values, axis=1),
                                  np.broadcast_to(np.arange(1, 43), (200, 42)))
    # the interval's ends are the inverted-CDF 5% and 95% quantiles of the rank:
    # the smallest k with P(rank <= k) >= q
    F = np.concatenate([np.zeros((42, 1)), r["p_top"].values], axis=1)  # F[:, k] = P(rank<=k)
    for bound, q in (("lower", 0.05), ("upper", 0.95)):
        k = r["rank_interval"].sel(ci_bound=bound).values.astype(int)
        rows = np.arange(42)
        assert (F[rows, k] >= q - 1e-12).all() and (F[rows, k - 1] < q - 1e-12).all()


def test_scores_are_the_dea_of_each_draw(paper, paper_rank):
    """Per draw and on the means: the model score is the mean over its prompts of the
    pooled 126-DMU cross-efficiency, computed here directly with mcfoot.dea."""
    fp = paper["footprint"]
    keep = ~np.isnan(paper["catalogue"]["intelligence_index"].values)
    cols = [fp[n].broadcast_like(fp["energy_wh"]).transpose("draw", "model", "prompt").values
            for n in STUDY_INPUTS]
    X = np.stack(cols, axis=-1)[:, keep].reshape(200, -1, 5)
    y = paper["catalogue"]["intelligence_index"].values[keep]
    Y = np.repeat(y, 3)[:, None]
    ce = cross_efficiency(X[:10], Y).reshape(10, 42, 3).mean(axis=-1)
    np.testing.assert_allclose(paper_rank["cross_efficiency"][:10], ce, rtol=1e-12)
    # the point estimate: DEA on the per-DMU mean inputs over draws
    pce = cross_efficiency(X.mean(axis=0), Y).reshape(42, 3).mean(axis=-1)
    np.testing.assert_allclose(paper_rank["point_cross_efficiency"], pce, rtol=1e-12)
    order = np.argsort(-pce)
    np.testing.assert_array_equal(paper_rank["point_rank"].values[order], np.arange(1, 43))


def test_per_prompt_runs_one_dea_per_prompt(paper):
    with pytest.warns(UserWarning, match="without intelligence_index"):
        r = mcfoot.rank(paper, inputs="footprint", pool_prompts=False)
    assert r["rank_probability"].dims == ("model", "prompt", "k")
    assert r["cross_efficiency"].dims == ("draw", "model", "prompt")
    assert r.attrs["inputs"].split(";") == list(FOOTPRINT_INPUTS)
    assert r.attrs["n_dmus"] == "42;42;42"
    fp = paper["footprint"].sel(model=r.model.values, prompt="long")
    X = np.stack([fp[n].transpose("draw", "model").values for n in FOOTPRINT_INPUTS], -1)
    Y = paper["catalogue"]["intelligence_index"].sel(model=r.model.values).values[:, None]
    np.testing.assert_allclose(r["cross_efficiency"].sel(prompt="long")[:5],
                               cross_efficiency(X[:5], Y), rtol=1e-12)
    np.testing.assert_allclose(r["point_cross_efficiency"].sel(prompt="long"),
                               cross_efficiency(X.mean(0), Y), rtol=1e-12)
    np.testing.assert_allclose(r["rank_probability"].sum("k"), 1.0, atol=1e-12)
    np.testing.assert_allclose(r["rank_probability"].sum("model"), 1.0, atol=1e-12)


# ---- missing data and bad input ------------------------------------------------------------


def test_models_without_index_are_left_out_with_a_warning(rng):
    energy = rng.uniform(1.0, 2.0, size=(20, 4, 3))
    with pytest.warns(UserWarning, match=r"1 model\(s\) without intelligence_index.*m2"):
        r = mcfoot.rank(make_tree(energy, [40.0, 30.0, np.nan, 20.0]))
    assert list(r.model.values) == ["m0", "m1", "m3"]
    assert r.attrs["excluded_models"] == "m2"
    assert r.attrs["n_dmus"] == 9


def test_missing_prompt_row_is_dropped_and_the_model_averages_the_rest(rng):
    energy = rng.uniform(1.0, 2.0, size=(30, 4, 3))
    energy[:, 1, 0] = np.nan  # m1 has no 'short' row
    with pytest.warns(UserWarning, match=r"lack some prompt sizes.*m1"):
        r = mcfoot.rank(make_tree(energy, [40.0, 30.0, 25.0, 20.0]))
    assert r.attrs["n_dmus"] == 11
    assert not r["is_dmu"].sel(model="m1", prompt="short")
    assert r["dmu_cross_efficiency"].sel(model="m1", prompt="short").isnull().all()
    np.testing.assert_allclose(
        r["cross_efficiency"].sel(model="m1"),
        r["dmu_cross_efficiency"].sel(model="m1", prompt=["medium", "long"]).mean("prompt"))
    # per prompt: m1 simply does not take part in the 'short' DEA
    r2 = mcfoot.rank(make_tree(energy, [40.0, 30.0, 25.0, 20.0]), pool_prompts=False)
    assert r2["rank"].sel(model="m1", prompt="short").isnull().all()
    np.testing.assert_allclose(r2["rank_probability"].sel(prompt="short").sum("model"),
                               [1, 1, 1, 0])


@pytest.mark.parametrize("value, what", [(0.0, "zero or negative"), (-1.0, "zero or negative"),
                                         (np.nan, "NaN or infinite"),
                                         (np.inf, "NaN or infinite")])
def test_bad_input_values_raise(rng, value, what):
    energy = rng.uniform(1.0, 2.0, size=(10, 3, 3))
    energy[4, 2, 1] = value
    with pytest.raises(InputError, match=rf"'energy_wh' is {what}.*'m2', prompt 'medium', draw 4"):
        mcfoot.rank(make_tree(energy, [40.0, 30.0, 20.0]))


def test_bad_arguments_raise(rng):
    tree = make_tree(rng.uniform(1.0, 2.0, size=(10, 3, 3)), [40.0, 30.0, 20.0])
    with pytest.raises(InputError, match="'nope' is not a variable.*choose from"):
        mcfoot.rank(tree, inputs=("energy_wh", "nope"))
    with pytest.raises(InputError, match="output 'energy_wh' is not a variable"):
        mcfoot.rank(tree, outputs=("energy_wh",))
    with pytest.raises(InputError, match="twice"):
        mcfoot.rank(tree, inputs=("energy_wh", "energy_wh"))
    with pytest.raises(InputError, match="secondary"):
        mcfoot.rank(tree, secondary="kind")
    with pytest.raises(InputError, match="ci_prob"):
        mcfoot.rank(tree, ci_prob=1.0)
    with pytest.raises(InputError, match="on_error"):
        mcfoot.rank(tree, on_error="ignore")
    with pytest.raises(InputError, match="zero or negative"):
        mcfoot.rank(make_tree(np.ones((5, 3, 3)), [40.0, 0.0, 20.0]))
    with pytest.raises(InputError, match="DataTree"):
        mcfoot.rank(tree["footprint"].to_dataset())
    with pytest.raises(InputError, match="at least 2 models"), \
            pytest.warns(UserWarning, match="without intelligence_index"):
        mcfoot.rank(make_tree(np.ones((5, 2, 3)), [40.0, np.nan]))


# ---- failed DEA draws ----------------------------------------------------------------------


def test_failed_draws_are_counted_not_scored(rng, monkeypatch):
    energy = rng.uniform(1.0, 2.0, size=(40, 3, 3))
    tree = make_tree(energy, [40.0, 30.0, 20.0])
    real = rank_module.cross_efficiency
    failing = [3, 17, 18]

    def flaky(X, Y, **kw):
        ce = real(X, Y, **kw)
        if ce.ndim == 2 and ce.shape[0] == 40:  # the per-draw DEA, not the point estimate
            if kw["on_error"] == "raise":
                raise DEAError("cross_efficiency: 3 LP(s) failed")
            ce[failing] = np.nan
        return ce

    monkeypatch.setattr(rank_module, "cross_efficiency", flaky)
    with pytest.raises(DEAError):
        mcfoot.rank(tree)
    with pytest.warns(UserWarning, match="failed in 3 of 40"):
        r = mcfoot.rank(tree, on_error="nan")
    assert r.attrs["failed_draws"] == 3 and r.attrs["draws_used"] == 37
    np.testing.assert_array_equal(np.flatnonzero(r["failed"].values), failing)
    assert r["rank"].isel(draw=failing).isnull().all()
    assert r["cross_efficiency"].isel(draw=failing).isnull().all()
    ok = np.setdiff1d(np.arange(40), failing)
    np.testing.assert_allclose(r["expected_rank"], r["rank"].isel(draw=ok).mean("draw"))
    np.testing.assert_allclose(r["rank_probability"].sum("k"), 1.0)
    np.testing.assert_allclose(r["rank_probability"].sum("model"), 1.0)

    def broken(X, Y, **kw):
        ce = real(X, Y, **kw)
        if ce.ndim == 2 and ce.shape[0] == 40:
            ce[:] = np.nan
        return ce

    monkeypatch.setattr(rank_module, "cross_efficiency", broken)
    with pytest.raises(DEAError, match="every draw"):
        mcfoot.rank(tree, on_error="nan")


def test_result_round_trips_through_netcdf(rng, tmp_path):
    r = mcfoot.rank(make_tree(rng.uniform(1.0, 2.0, size=(10, 3, 3)), [40.0, 30.0, 20.0]))
    r.to_netcdf(tmp_path / "r.nc", engine="h5netcdf")
    with xr.open_dataset(tmp_path / "r.nc", engine="h5netcdf") as back:
        xr.testing.assert_allclose(back.load(), r)


# ---- CLI -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def result_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("rank") / "out.nc"
    models = ["o3", "claude-3-7-sonnet", "gpt-4-1-nano", "llama-3-3-70b", "deepseek-r1-azure",
              "o3-mini"]
    mcfoot.write_tree(mcfoot.simulate("paper", draws=100, seed=1, models=models), path)
    return path


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "mcfoot", "rank", *map(str, args)],
                          capture_output=True, text=True, timeout=120)


def test_cli_json(result_file):
    p = _cli(result_file, "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["pool_prompts"] is True and out["excluded_models"] == ["o3-mini"]
    assert "o3-mini" in p.stderr  # the warning is shown as a note
    (g,) = out["groups"]
    assert g["prompt"] == "pooled" and len(g["models"]) == 5
    e = [row["expected_rank"] for row in g["models"]]
    assert e == sorted(e)
    assert abs(sum(row["p_best"] for row in g["models"]) - 1) < 1e-12
    with pytest.warns(UserWarning, match="o3-mini"):
        r = mcfoot.rank(mcfoot.read_tree(result_file))
    for row in g["models"]:
        m = row["model"]
        assert row["expected_rank"] == pytest.approx(float(r["expected_rank"].sel(model=m)))
        assert row["point_rank"] == float(r["point_rank"].sel(model=m))
        assert [row["rank_lower"], row["rank_upper"]] == \
            r["rank_interval"].sel(model=m).values.tolist()


def test_cli_per_prompt_text_and_errors(result_file, capsys):
    # in-process (the subprocess path is covered above): same main() as `python -m mcfoot`
    from mcfoot.cli import main

    rc = main(["rank", str(result_file), "--per-prompt", "--inputs", "energy_wh", "water_ml",
               "carbon_g", "--quiet"])
    out, err = capsys.readouterr()
    assert rc == 0 and err == ""
    for prompt in PROMPTS:
        assert f"[{prompt}]" in out
    assert "90% interval" in out and "claude-3-7-sonnet" in out
    assert main(["rank", str(result_file), "--inputs", "nope"]) == 2
    err = capsys.readouterr().err
    assert "error: input 'nope'" in err and "Traceback" not in err
