"""estimate(): any request, exact at the catalogue's own token counts, monotone in tokens."""

import warnings

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import mcfoot
from mcfoot import InputError, estimate
from mcfoot.catalogue import load_catalogue, shipped_path
from mcfoot.cli import main
from mcfoot.estimate import EstimateWarning, _measured

CAT = load_catalogue()
FOOT = ("energy_wh", "energy_accelerator_wh", "energy_host_wh", "energy_idle_wh",
        "energy_it_wh", "carbon_g", "carbon_market_g", "carbon_embodied_g", "water_site_ml",
        "water_source_ml", "water_ml")


def _monotone(model, a, b):
    """Do the measured quantiles of ``model`` between sizes a < b keep energy monotone?"""
    tin, lq, sq, _, _ = _measured(CAT, model)
    return bool(np.all(lq[b] >= lq[a]) and np.all(sq[b] <= sq[a]))


MONO = [m for m in CAT.model.values if CAT.present.sel(model=m).all()
        and _monotone(m, 0, 1) and _monotone(m, 1, 2)]
FALLING = [m for m in CAT.model.values if CAT.present.sel(model=m).all()
           and not _monotone(m, 0, 1)]


@pytest.mark.parametrize("scenario", ["paper", "default", "physical"])
def test_catalogue_token_counts_reproduce_the_rows_draws_exactly(scenario):
    models = ["gpt-4o-mar", "claude-3-7-sonnet", "gemini-2-5-flash-vertex", "gpt-4"]
    tree = mcfoot.simulate(scenario, draws=3000, seed=4, models=models)["footprint"]
    for m in models:
        for p in CAT.prompt.values:
            if not bool(CAT.present.sel(model=m, prompt=p)):
                continue
            row = CAT.sel(model=m, prompt=p)
            e = estimate(m, int(row.output_tokens), int(row.input_tokens), scenario=scenario,
                         draws=3000, seed=4)
            for v in FOOT:
                np.testing.assert_array_equal(e[v].values, tree[v].sel(model=m, prompt=p),
                                              err_msg=f"{scenario} {m} {p} {v}")


def test_lists_arrays_units_and_provenance():
    e = estimate(["gpt-4o-mar", "o3"], [300, 800, 2000], [100, 2345, 5000], draws=500)
    assert e["energy_wh"].dims == ("draw", "model", "request")
    assert e.sizes == {"draw": 500, "model": 2, "request": 3}
    assert e["output_tokens"].values.tolist() == [300, 800, 2000]
    assert e["input_tokens"].sel(model="o3").values.tolist() == [100, 2345, 5000]
    for v in FOOT:
        assert e[v].attrs["units"], v
    for k in ("seed", "scenario_hash", "catalogue_hash", "estimate", "mcfoot_version"):
        assert k in e.attrs
    assert e.attrs["result_kind"] == "estimate"
    # same seed, same numbers; the scalar call equals the array element
    one = estimate("o3", 800, 2345, draws=500)
    np.testing.assert_array_equal(one["energy_wh"], e["energy_wh"].sel(model="o3")[:, 1])
    # input_tokens=None is the model's smallest measured prompt size
    none = estimate("gpt-4o-mar", 300, draws=500)
    assert int(none["input_tokens"]) == 100


def test_geometric_midpoint_is_the_mean_of_the_measured_quantiles(tmp_path):
    df = pd.read_csv(shipped_path())
    rows = df[(df.model_id == "gpt-4o-mar") & df.prompt.isin(["short", "long"])].copy()
    path = tmp_path / "two.csv"
    rows.to_csv(path, index=False)
    ds = load_catalogue(path)
    e = estimate("gpt-4o-mar", 1000, 1000, scenario="paper", draws=50, catalogue=ds)
    from mcfoot.estimate import request_catalogue
    req = request_catalogue(ds, ["gpt-4o-mar"], np.array([1000]), np.array([1000]))
    lat = ds.latency_s.sel(model="gpt-4o-mar").values
    np.testing.assert_allclose(req.latency_s.values[0, 0], (lat[0] + lat[1]) / 2, rtol=1e-14)
    assert e["energy_wh"].attrs["units"] == "Wh"


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(MONO), t=st.lists(st.integers(0, 20_000), min_size=2,
                                                max_size=4, unique=True),
       out=st.integers(0, 3000))
def test_energy_non_decreasing_in_input_tokens_where_measured_monotone(model, t, out):
    t = sorted(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)  # outside the range: held
        e = estimate(model, out, t, draws=300, seed=1)
    d = np.diff(e["energy_wh"].values, axis=-1)
    assert np.all(d >= 0), (model, t, out)
    assert np.all(np.diff(e["carbon_embodied_g"].values, axis=-1) >= 0)


@settings(max_examples=25, deadline=None)
@given(model=st.sampled_from(list(CAT.model.values)), t=st.lists(st.integers(0, 20_000),
                                                                 min_size=2, max_size=4,
                                                                 unique=True),
       tin=st.integers(100, 10_000))
def test_energy_non_decreasing_in_output_tokens_always(model, t, tin):
    t = sorted(t)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", EstimateWarning)
        e = estimate(model, t, tin, draws=300, seed=2)
    for v in ("energy_wh", "energy_it_wh", "carbon_g", "water_ml", "carbon_embodied_g"):
        assert np.all(np.diff(e[v].values, axis=-1) >= 0), v


def test_non_monotone_measurements_are_followed_and_warned():
    assert FALLING, "the shipped catalogue has models whose latency falls with input size"
    m = FALLING[0]
    tin, lq, sq, _, _ = _measured(CAT, m)
    x = int(np.sqrt(tin[0] * tin[1]))
    with pytest.warns(EstimateWarning, match=f"{m} between short"):
        estimate(m, 300, x, draws=50)


def test_outside_the_measured_range_is_held_and_warned():
    with pytest.warns(EstimateWarning, match="held at 10000"):
        hi = estimate("gpt-4o-mar", 1500, 50_000, draws=200, seed=3)
    at = estimate("gpt-4o-mar", 1500, 10_000, draws=200, seed=3)
    np.testing.assert_array_equal(hi["energy_wh"], at["energy_wh"])
    with pytest.warns(EstimateWarning, match="held at 100"):
        estimate("gpt-4o-mar", 300, 0, draws=20)


@pytest.mark.parametrize("kwargs, match", [
    ({"model": "gpt-9", "output_tokens": 10}, "unknown model"),
    ({"model": "gpt-4o-mar", "output_tokens": -1}, "non-negative integers"),
    ({"model": "gpt-4o-mar", "output_tokens": 2.5}, "non-negative integer"),
    ({"model": "gpt-4o-mar", "output_tokens": 800.0}, "non-negative integer"),
    ({"model": "gpt-4o-mar", "output_tokens": True}, "non-negative integer"),
    ({"model": "gpt-4o-mar", "output_tokens": "800"}, "non-negative integer"),
    ({"model": "gpt-4o-mar", "output_tokens": 10, "input_tokens": [1, -2]},
     "non-negative integers"),
    ({"model": "gpt-4o-mar", "output_tokens": [1, 2], "input_tokens": [1, 2, 3]},
     "do not broadcast"),
    ({"model": 7, "output_tokens": 10}, "model must be"),
    ({"model": ["o3", "o3"], "output_tokens": 10}, "more than once"),
])
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        estimate(**kwargs, draws=10)


def test_cli_prints_every_variable_with_units_and_json(capsys):
    assert main(["estimate", "--model", "gpt-4o-mar", "--input-tokens", "2345",
                 "--output-tokens", "800", "--draws", "500", "-q"]) == 0
    out = capsys.readouterr().out
    for v in FOOT:
        assert v in out
    assert "90% interval" in out and "g CO2e" in out
    assert main(["estimate", "--model", "gpt-4o-mar", "o3", "--output-tokens", "800",
                 "--draws", "200", "--json"]) == 0
    import json
    doc = json.loads(capsys.readouterr().out)
    assert {r["model"] for r in doc["rows"]} == {"gpt-4o-mar", "o3"}
    row = next(r for r in doc["rows"] if r["variable"] == "energy_wh")
    assert row["units"] == "Wh" and row["lower"] <= row["median"] <= row["upper"]
    for bad in (["--model", "gpt-9", "--output-tokens", "5"],
                ["--model", "o3", "--output-tokens", "-5"]):
        assert main(["estimate", *bad, "--draws", "10"]) == 2
        assert "error" in capsys.readouterr().err


def test_estimate_takes_a_sobol_design():
    """sampling="sobol" passes through to the sampler: the design is recorded, the draw
    count rule is the sampler's, and the RQMC mean sits within a few MCSE of a large MC run."""
    from mcfoot import mcse

    ds = estimate("gpt-4o-mar", 800, 2345, scenario="paper", draws=16 * 64, seed=3,
                  sampling="sobol")
    assert ds.attrs["sampling"] == "sobol" and int(ds.attrs["sampling_replicates"]) == 16
    with pytest.raises(InputError, match="power of two"):
        estimate("gpt-4o-mar", 800, 2345, scenario="paper", draws=1000, sampling="sobol")
    e = ds["energy_wh"].values.reshape(-1)
    lay = mcse.layout(ds.attrs, e.size)
    err = float(mcse.mean(e, lay))
    ref = estimate("gpt-4o-mar", 800, 2345, scenario="paper", draws=200_000, seed=4)
    assert abs(e.mean() - float(ref["energy_wh"].mean())) < 5 * err + 4e-3 * e.mean()
