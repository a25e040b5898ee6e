"""Sensitivity: Sobol' against analytic indices, the paper-scenario closure check, rank
correlations on monotone synthetic data, delta, and the CLI."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest

import mcfoot
from mcfoot import sensitivity as sens
from mcfoot.cli import main
from mcfoot.errors import InputError

TWO = ["gpt-4o-mar", "deepseek-r1-deepseek-128k"]  # Azure/H100 large and DeepSeek/H800


# ----------------------------------------------------------------- generic Sobol' helper
def _ishigami(u, a=7.0, b=0.1):
    x = -np.pi + 2 * np.pi * u  # U(-pi, pi)
    return np.sin(x[:, 0]) + a * np.sin(x[:, 1]) ** 2 + b * x[:, 2] ** 4 * np.sin(x[:, 0])


def test_sobol_ishigami_analytic():
    # analytic indices for a = 7, b = 0.1 (Ishigami & Homma 1990; Saltelli et al. 2008)
    s1 = [0.3139, 0.4424, 0.0]
    st = [0.5576, 0.4424, 0.2437]
    r = sens.sobol_function(_ishigami, ["x1", "x2", "x3"], n=4096, seed=7)
    assert list(r.input.values) == ["x1", "x2", "x3"]
    np.testing.assert_allclose(r.S1, s1, atol=0.03)
    np.testing.assert_allclose(r.ST, st, atol=0.03)
    assert bool((r.S1_conf > 0).all()) and bool((r.S1_conf < 0.05).all())
    assert r.attrs["model_runs"] == 4096 * 5


def test_sobol_linear_model_and_groups():
    a = np.array([1.0, 2.0, 3.0, 0.5])  # y = sum a_i x_i, x_i ~ U(0, 1) independent
    s = a**2 / np.sum(a**2)  # additive: S1 = ST = a_i^2 / sum a^2
    r = sens.sobol_function(lambda u: u @ a, ["a", "b", "c", "d"], n=2048, seed=1)
    np.testing.assert_allclose(r.S1, s, atol=0.02)
    np.testing.assert_allclose(r.ST, s, atol=0.02)
    # grouped: {a, c} and {b, d} -> indices add within a group
    g = sens.sobol_function(lambda u: u @ a, ["a", "b", "c", "d"], n=2048, seed=1,
                            groups=["ac", "bd", "ac", "bd"])
    assert list(g.input.values) == ["ac", "bd"]
    np.testing.assert_allclose(g.ST, [s[0] + s[2], s[1] + s[3]], atol=0.02)
    assert g.attrs["model_runs"] == 2048 * 4


def test_saltelli_design_is_inside_the_open_cube_and_seeded():
    u = sens.saltelli_design(5, 64, seed=3)
    assert u.shape == (64 * 7, 5) and u.min() > 0 and u.max() < 1
    np.testing.assert_array_equal(u, sens.saltelli_design(5, 64, seed=3))
    assert not np.array_equal(u, sens.saltelli_design(5, 64, seed=4))


@pytest.mark.parametrize("n", [0, 100, 3, True, 2.0])
def test_n_must_be_a_power_of_two(n):
    with pytest.raises(InputError, match="power of two"):
        sens.saltelli_design(2, n)


# --------------------------------------------------------------------- Sobol' of mcfoot
@pytest.fixture(scope="module")
def default_sobol():
    return sens.sobol("default", models=TWO, n=512, seed=0)


def test_paper_scenario_only_latency_and_speed_matter():
    # in the paper scenario only latency and speed are uncertain: their indices close
    r = sens.sobol("paper", models=["gpt-4o-mar", "o3", "gpt-4"], n=1024, seed=2)
    assert list(r.input.values) == ["latency", "speed"]
    present = mcfoot.load_catalogue().present.sel(model=r.model, prompt=r.prompt)
    st, s1 = r.ST.sum("input", skipna=False), r.S1.sum("input", skipna=False)
    assert bool(st.where(~present).isnull().all())
    st, s1 = st.values[present.values], s1.values[present.values]
    np.testing.assert_allclose(st, 1.0, atol=0.05)
    # independent factors: sum S1 <= 1 <= sum ST (up to estimation error)
    assert np.all(s1 <= 1.02) and np.all(st >= 0.98)


def test_sobol_layout_and_units(default_sobol):
    r = default_sobol
    assert r.S1.dims == ("input", "model", "prompt")
    assert set(r.data_vars) == {"S1", "S1_conf", "ST", "ST_conf"}
    assert {"latency", "speed", "pue", "gpu_util", "gpu_power_factor"} <= set(r.input.values)
    units = dict(zip(r.input.values, r.input_units.values))
    assert units["latency"] == "s" and units["speed"] == "tokens/s" and units["pue"] == "1"
    assert r.ST.attrs["units"] == "1" and r.attrs["variable"] == "energy_wh"
    assert r.attrs["model_runs"] == 512 * (r.sizes["input"] + 2)


def test_sobol_energy_ignores_water_and_carbon_factors(default_sobol):
    # energy does not depend on WUE or grid intensity: those factors explain nothing
    zero = default_sobol[["S1", "ST"]].sel(input=["wue_site", "wue_source", "cif"])
    assert float(abs(zero.ST).max()) == 0.0 and float(abs(zero.S1).max()) == 0.0
    st = default_sobol.ST.sum("input")
    assert bool((st > 0.95).all()) and bool((st < 1.15).all())


def test_sobol_grouping_matches_a_single_model_design(default_sobol):
    # grouped by quantity over two models (shared design) vs a design of gpt-4o-mar alone:
    # the same indices up to Monte Carlo error
    alone = sens.sobol("default", models=["gpt-4o-mar"], prompts=["short"], n=512, seed=5)
    a = alone.ST.sel(model="gpt-4o-mar", prompt="short")
    b = default_sobol.ST.sel(model="gpt-4o-mar", prompt="short").sel(input=a.input)
    np.testing.assert_allclose(a, b, atol=0.06)


def test_sobol_water_depends_on_wue(default_sobol):
    w = sens.sobol("default", models=["gpt-4o-mar"], prompts=["long"], variable="water_ml",
                   n=256, seed=1)
    st = w.ST.sel(model="gpt-4o-mar", prompt="long")
    assert float(st.sel(input="wue_source")) > 0.05
    assert w.attrs["variable_units"] == "mL"


@pytest.mark.parametrize("kwargs, match", [
    ({"variable": "energy"}, "variable must be one of"),
    ({"n": 1000}, "power of two"),
    ({"ci_prob": 1.5}, "ci_prob"),
    ({"models": ["nope"]}, "unknown model"),
])
def test_sobol_bad_input(kwargs, match):
    with pytest.raises(InputError, match=match):
        sens.sobol("default", **({"models": ["gpt-4o-mar"], "n": 64} | kwargs))


# ------------------------------------------------------------------- rank correlations
def _monotone_case(n=20_000, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 3))
    z = 2.0 * x[:, 0] - 1.0 * x[:, 1] + 0.5 * rng.standard_normal(n)
    return x, np.exp(z)  # y monotone in z; x3 plays no part


def _prcc_by_regression(x, y):
    """Slow twin: correlation of rank residuals after regressing on the other ranks."""
    from scipy.stats import rankdata

    r, ry = rankdata(x, axis=0), rankdata(y)
    out = []
    for j in range(x.shape[1]):
        others = np.column_stack([np.ones(len(y)), np.delete(r, j, axis=1)])
        res_x = r[:, j] - others @ np.linalg.lstsq(others, r[:, j], rcond=None)[0]
        res_y = ry - others @ np.linalg.lstsq(others, ry, rcond=None)[0]
        out.append(np.corrcoef(res_x, res_y)[0, 1])
    return np.array(out)


def test_prcc_on_a_monotone_model():
    x, y = _monotone_case()
    r = sens.prcc(x, y)
    np.testing.assert_allclose(r["prcc"], _prcc_by_regression(x, y), atol=1e-10)
    # increasing in x1, decreasing in x2 (weaker), independent of x3
    assert r["prcc"][0] > -r["prcc"][1] > 0.5 and abs(r["prcc"][2]) < 0.02
    assert r["prcc_lower"][2] < 0 < r["prcc_upper"][2]
    assert np.all(r["prcc_lower"] < r["prcc"]) and np.all(r["prcc"] < r["prcc_upper"])
    # ranks only: invariant under monotone transforms of inputs and output
    x2 = x.copy()
    x2[:, 0] = np.exp(x2[:, 0])
    r2 = sens.prcc(x2, np.log(y))
    np.testing.assert_allclose(r2["prcc"], r["prcc"], atol=1e-12)
    np.testing.assert_allclose(r2["spearman"], r["spearman"], atol=1e-12)
    # Spearman ignores the other inputs, so it is weaker than PRCC here
    assert abs(r["spearman"][0]) < abs(r["prcc"][0])


@pytest.fixture(scope="module")
def tree():
    return mcfoot.simulate("default", draws=2000, seed=4, models=TWO + ["gpt-4"])


def test_row_inputs_take_each_models_scope(tree):
    names, x, units = sens.row_inputs(tree, "deepseek-r1-deepseek-128k", "long")
    fp = tree["footprint"].sel(model="deepseek-r1-deepseek-128k")
    np.testing.assert_array_equal(x[:, names.index("pue")], fp["pue"].values)
    np.testing.assert_array_equal(x[:, names.index("cif")], fp["cif_kg_per_kwh"].values)
    np.testing.assert_array_equal(
        x[:, names.index("latency")],
        tree["inputs"]["latency_s"].sel(model="deepseek-r1-deepseek-128k", prompt="long"))
    assert "power_kw" not in names and units[names.index("speed")] == "tokens/s"


def test_correlations_on_a_simulation(tree):
    c = sens.correlations(tree, "carbon_g")
    assert c.prcc.dims == ("input", "model", "prompt")
    assert bool(c.prcc.sel(model="gpt-4", prompt="long").isnull().all())  # absent row
    row = c.sel(model="gpt-4o-mar", prompt="short")
    assert float(row.prcc.sel(input="speed")) < -0.5  # faster output, less energy
    assert float(row.prcc.sel(input="cif")) > 0.5  # dirtier grid, more carbon
    assert float(abs(row.prcc.sel(input="wue_source"))) < 0.1
    assert c.attrs["variable"] == "carbon_g" and c.prcc.attrs["units"] == "1"


def test_delta_ranks_the_driver_and_leaves_global_state_alone():
    # SALib's delta is slow (many 1-D KDEs): a small run
    tree = mcfoot.simulate("default", draws=400, seed=4, models=["deepseek-r1-deepseek-128k"],
                           prompts=["long"])
    state, fmt = np.random.get_state(), warnings.formatwarning
    d = sens.delta(tree, "energy_wh", num_resamples=3, seed=1)
    assert np.array_equal(np.random.get_state()[1], state[1])
    assert warnings.formatwarning is fmt
    row = d.sel(model="deepseek-r1-deepseek-128k", prompt="long")
    assert str(row.delta.idxmax("input").values) == "latency"
    assert float(row.delta.sel(input="latency")) > 2 * float(row.delta.sel(input="cif"))
    assert bool((row.delta_conf > 0).all())
    again = sens.delta(tree, "energy_wh", num_resamples=3, seed=1)
    np.testing.assert_array_equal(again.delta_conf, d.delta_conf)


def test_measures_bad_input(tree):
    with pytest.raises(InputError, match="unknown footprint variable"):
        sens.correlations(tree, "energy")
    with pytest.raises(InputError, match="not in the result"):
        sens.correlations(tree, models=["o3"])
    with pytest.raises(InputError, match="DataTree"):
        sens.correlations(tree["footprint"].to_dataset())


# ----------------------------------------------------------------------------------- CLI
def test_cli_sobol_json(capsys):
    assert main(["sensitivity", "--scenario", "paper", "--model", "gpt-4o-mar", "--prompt",
                 "short", "--n", "256", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["method"] == "sobol" and out["variable_units"] == "Wh"
    assert [r["input"] for r in out["rows"]][0] in ("latency", "speed")
    st = [r["ST"] for r in out["rows"]]
    assert st == sorted(st, reverse=True) and sum(st) == pytest.approx(1, abs=0.06)
    assert all(r["ST_lower"] <= r["ST"] <= r["ST_upper"] for r in out["rows"])


def test_cli_prcc_text_and_errors(capsys):
    assert main(["sensitivity", "--model", "gpt-4o-mar", "--prompt", "short", "--method",
                 "prcc", "--n", "500", "-q"]) == 0
    text = capsys.readouterr().out
    assert "gpt-4o-mar / short" in text and "prcc" in text and "tokens/s" in text
    assert main(["sensitivity", "--model", "gpt-4o-mar", "--n", "100"]) == 2
    assert "power of two" in capsys.readouterr().err
    assert main(["sensitivity", "--model", "nope", "--method", "prcc", "--n", "50"]) == 2
