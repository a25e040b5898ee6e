"""Fleet scaling: hand-computed arithmetic, the study's published GPT-4o case, bad input."""

import json
import math
import tomllib
from importlib import resources

import numpy as np
import pytest
import xarray as xr

from mcfoot import InputError, simulate
from mcfoot.cli import main
from mcfoot.scale import expected_per_query, load_constants, scale, summary_rows, variables

PROMPTS = ["short", "medium", "long"]
OUT_TOKENS = {"short": 300.0, "medium": 1000.0, "long": 1500.0}


def hand_tree(energy_wh=0.42, hours=None, n=4, pue=1.2, wue_site=0.5, wue_source=4.0,
              cif=0.4):
    """A tree with one model 'm' on host 'H': energy per query ``energy_wh`` in every draw
    (or ``energy_wh * hours / mean(hours)`` when per-draw query hours are given)."""
    if hours is None:
        hours = np.full(n, 0.001)
    n = len(hours)
    lat = np.zeros((n, 1, 3))
    speed = np.empty((n, 1, 3))
    for j, p in enumerate(PROMPTS):
        speed[:, 0, j] = OUT_TOKENS[p] / (hours * 3600.0)  # so that hours = T_out / speed
    e = np.broadcast_to((energy_wh * hours / hours.mean())[:, None, None], (n, 1, 3)).copy()
    dims = ("draw", "model", "prompt")
    one = ("draw", "model")
    fpt = xr.Dataset(
        {"energy_wh": (dims, e, {"units": "Wh"}),
         "pue": (one, np.full((n, 1), pue)), "wue_site_l_per_kwh": (one, np.full((n, 1), wue_site)),
         "wue_source_l_per_kwh": (one, np.full((n, 1), wue_source)),
         "cif_kg_per_kwh": (one, np.full((n, 1), cif))},
        coords={"draw": np.arange(n), "model": ["m"], "prompt": PROMPTS,
                "host": ("model", ["H"]), "hardware": ("model", ["HW"]),
                "size_class": ("model", ["large"])})
    inp = xr.Dataset({"latency_s": (dims, lat), "speed_tokens_per_s": (dims, speed)},
                     coords={"draw": np.arange(n), "model": ["m"], "prompt": PROMPTS})
    cat = xr.Dataset({"output_tokens": (("model", "prompt"), [[OUT_TOKENS[p] for p in PROMPTS]])},
                     coords={"model": ["m"], "prompt": PROMPTS})
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs={"scenario": "hand"}),
                                  "footprint": fpt, "inputs": inp, "catalogue": cat})


def test_hand_computed_totals_and_equivalents():
    ds = scale(hand_tree(), "m", queries_per_day=1e9, prompt_mix={"short": 1.0}, days=365)
    # 0.42 Wh x 3.65e11 queries = 1.533e11 Wh = 153,300 MWh
    assert ds["electricity_mwh"].values == pytest.approx(153_300.0, rel=1e-12)
    assert float(ds["electricity_gwh_median"]) == pytest.approx(153.3, rel=1e-12)
    # 153,300,000 kWh / 10,791 kWh per household-year (EIA 2022)
    assert float(ds["us_households_mean"]) == pytest.approx(153_300_000 / 10_791, rel=1e-12)
    # carbon 0.42 Wh x 0.4 g/Wh x 3.65e11 = 61,320 t; EPA 0.84 t/acre/yr -> 73,000 acres
    assert float(ds["carbon_t_mean"]) == pytest.approx(61_320.0, rel=1e-12)
    assert float(ds["forest_acres_mean"]) == pytest.approx(73_000.0, rel=1e-12)
    assert float(ds["forest_km2_mean"]) == pytest.approx(73_000 * 0.0040468564224, rel=1e-12)
    assert float(ds["gasoline_cars_mean"]) == pytest.approx(61_320 / 4.6, rel=1e-12)
    assert float(ds["transatlantic_flights_mean"]) == pytest.approx(61_320 / 504, rel=1e-12)
    # water: site 0.42/1.2*0.5 = 0.175 mL, source 0.42*4 = 1.68 mL per query
    assert float(ds["water_site_kl_mean"]) == pytest.approx(63_875.0, rel=1e-12)
    assert float(ds["water_source_kl_mean"]) == pytest.approx(613_200.0, rel=1e-12)
    assert float(ds["water_megalitres_mean"]) == pytest.approx(677.075, rel=1e-12)
    assert float(ds["people_drinking_water_mean"]) == pytest.approx(677_075 / 0.73, rel=1e-12)
    assert float(ds["olympic_pools_mean"]) == pytest.approx(677_075 / 2500, rel=1e-12)
    study = scale(hand_tree(), "m", queries_per_year=3.65e11, prompt_mix={"short": 1.0},
                  constants="study")
    assert float(study["people_drinking_water_mean"]) == pytest.approx(677_075 / 1.2)
    assert float(study["forest_acres_mean"]) == pytest.approx(61_320.0)
    for v in variables():
        assert ds[v].attrs["units"] == variables()[v]
        assert ds[f"{v}_ci"].dims == ("ci_bound",)


def test_mix_weights_prompts():
    # 0.8 short + 0.2 medium, both 0.42 Wh here: same per-query energy; and 1e6 queries
    ds = scale(hand_tree(), "m", queries_per_year=1e6)
    assert ds["per_query_wh"].values == pytest.approx(0.42)
    assert ds.attrs["prompt_mix"] == "short=0.8, medium=0.2"
    assert ds["electricity_mwh"].values == pytest.approx(0.42)


def test_expected_per_query_averages_query_time_out():
    # energy proportional to the query time: the fleet figure is the mean-time energy
    hours = np.array([0.001, 0.002, 0.003, 0.006])
    t = hand_tree(energy_wh=0.42, hours=hours)
    raw = t["footprint"]["energy_wh"].sel(model="m", prompt="short").values
    assert raw.std() > 0 and raw.mean() == pytest.approx(0.42)
    e = expected_per_query(t).sel(model="m", prompt="short").values
    np.testing.assert_allclose(e, 0.42, rtol=1e-12)
    ds = scale(t, "m", queries_per_year=1e6, prompt_mix={"short": 1.0})
    assert np.ptp(ds["electricity_mwh"].values) == pytest.approx(0, abs=1e-12)


def test_expected_per_query_matches_footprint_mean_in_a_real_run():
    t = simulate("default", draws=1000, seed=1, models=["gpt-4o-mar"])
    fp = t["footprint"]
    for v in ("energy_wh", "carbon_g", "water_ml"):
        x = expected_per_query(t, v).sel(model="gpt-4o-mar")
        # same overall mean (a draw's query time and its assumptions are independent)
        np.testing.assert_allclose(x.mean("draw"), fp[v].sel(model="gpt-4o-mar").mean("draw"),
                                   rtol=0.03)
        assert (x.std("draw") < fp[v].sel(model="gpt-4o-mar").std("draw")).all()
    # carbon and water from energy and host factors equal the tree's own per-query values
    ds = scale(t, "gpt-4o-mar", queries_per_year=1e6, prompt_mix={"short": 1.0})
    carbon = expected_per_query(t, "carbon_g").sel(model="gpt-4o-mar", prompt="short")
    np.testing.assert_allclose(ds["carbon_t"].values, carbon.values * 1e6 / 1e6, rtol=1e-10)
    water = expected_per_query(t, "water_ml").sel(model="gpt-4o-mar", prompt="short")
    np.testing.assert_allclose(ds["water_kl"].values, water.values * 1e6 / 1e6, rtol=1e-10)


# Published (SCALING.md): GPT-4o in 2025, 772 bn queries, 80 % short / 20 % medium, at the
# study's min and max utilization: 391,509-463,269 MWh; 1,334,991-1,579,680 kL;
# 138,125-163,441 t CO2e.
PUBLISHED = {"electricity_mwh": (391_509, 463_269), "water_kl": (1_334_991, 1_579_680),
             "carbon_t": (138_125, 163_441)}


@pytest.fixture(scope="module")
def paper_gpt4o():
    return simulate("paper", draws=2000, seed=0, models=["gpt-4o-mar"])


def _bounds(tree, var):
    return [float(scale(tree, "gpt-4o-mar", queries_per_year=772e9, utilization=u,
                        prompt_mix={"short": 0.8, "medium": 0.2})[f"{var}_mean"])
            for u in ("min", "max")]


def test_paper_gpt4o_2025_electricity_matches_published(paper_gpt4o):
    lo, hi = _bounds(paper_gpt4o, "electricity_mwh")
    plo, phi = PUBLISHED["electricity_mwh"]
    # The published figures imply 0.507 / 0.600 Wh per query of the mix; the 2025-10-26
    # catalogue gives 0.540 / 0.641 Wh (+6.5 %): the study's scaling section used earlier
    # Artificial Analysis latency/speed measurements of GPT-4o than the shipped snapshot.
    # The utilization band itself (max/min) does not depend on the snapshot: within 1 %.
    assert lo == pytest.approx(plo, rel=0.08) and hi == pytest.approx(phi, rel=0.08)
    assert lo > plo and hi > phi  # the snapshot gap has one sign
    assert hi / lo == pytest.approx(phi / plo, rel=0.01)


def test_paper_gpt4o_2025_water_and_carbon_explained(paper_gpt4o):
    # Published water / electricity = 3.410 L/kWh = 0.30 / 1.12 + 3.142 (site WUE over PUE
    # plus an older Azure source WUE of 3.142 L/kWh), and carbon / electricity = 0.3528
    # kg/kWh; the shipped Azure factors are 4.35 L/kWh and 0.34 kg/kWh (hosts.csv), so our
    # totals differ from the published ones by those intensities, not by the arithmetic.
    for var in ("water_kl", "carbon_t"):
        plo, phi = PUBLISHED[var]
        assert plo / PUBLISHED["electricity_mwh"][0] == pytest.approx(
            phi / PUBLISHED["electricity_mwh"][1], rel=1e-4)
    assert PUBLISHED["water_kl"][0] / PUBLISHED["electricity_mwh"][0] == pytest.approx(
        0.30 / 1.12 + 3.142, rel=1e-3)
    e_lo, e_hi = _bounds(paper_gpt4o, "electricity_mwh")
    w_lo, w_hi = _bounds(paper_gpt4o, "water_kl")
    c_lo, c_hi = _bounds(paper_gpt4o, "carbon_t")
    assert w_lo / e_lo == pytest.approx(0.30 / 1.12 + 4.35, rel=1e-9)
    assert c_hi / e_hi == pytest.approx(0.34, rel=1e-9)
    # with the study's older intensities, water and carbon match as well as electricity
    old = paper_gpt4o.copy()
    fp = old["footprint"].to_dataset()
    fp["wue_source_l_per_kwh"][:] = 3.142
    fp["cif_kg_per_kwh"][:] = PUBLISHED["carbon_t"][0] / PUBLISHED["electricity_mwh"][0]
    old["footprint"] = xr.DataTree(fp)
    for var in ("water_kl", "carbon_t"):
        lo, hi = _bounds(old, var)
        assert lo == pytest.approx(PUBLISHED[var][0], rel=0.08)
        assert hi == pytest.approx(PUBLISHED[var][1], rel=0.08)


def test_default_volume_is_700m_a_day_and_volumes_agree(paper_gpt4o):
    a = scale(paper_gpt4o)  # the study's model, 7e8/day x 365 d, 80/20 mix
    b = scale(paper_gpt4o, queries_per_year=7e8 * 365)
    assert a.attrs["queries"] == pytest.approx(2.555e11)
    xr.testing.assert_allclose(a["electricity_mwh"], b["electricity_mwh"])


@pytest.mark.parametrize("kwargs, match", [
    ({"prompt_mix": {"short": 0.8, "medium": 0.3}}, "sum to 1"),
    ({"prompt_mix": {"tiny": 1.0}}, "unknown prompt 'tiny'"),
    ({"prompt_mix": {"short": -0.5, "medium": 1.5}}, r"in \[0, 1\]"),
    ({"queries_per_day": -1.0}, "queries_per_day must be a positive"),
    ({"queries_per_day": 1e8, "queries_per_year": 1e11}, "not both"),
    ({"queries_per_year": 0}, "queries_per_year must be a positive"),
    ({"days": 0}, "days must be a positive"),
    ({"model": "gpt-5-high"}, "not in this result"),
    ({"utilization": "median"}, "utilization must be one of"),
    ({"constants": "mine"}, "constants must be"),
    ({"ci_prob": 1.5}, "ci_prob"),
])
def test_bad_input(paper_gpt4o, kwargs, match):
    kw = {"model": "gpt-4o-mar", **kwargs}
    with pytest.raises(InputError, match=match):
        scale(paper_gpt4o, **kw)


def test_missing_row_and_band_only_utilization():
    t = simulate("default", draws=50, seed=0, models=["gpt-4"])  # gpt-4 has no long prompt
    with pytest.raises(InputError, match="no 'long' row"):
        scale(t, "gpt-4", prompt_mix={"short": 0.5, "long": 0.5})
    assert scale(t, "gpt-4", prompt_mix={"short": 1.0, "long": 0.0})["electricity_mwh"].notnull().all()
    with pytest.raises(InputError, match="band scenarios"):
        scale(t, "gpt-4", utilization="min")


def test_constants_file_every_constant_sourced():
    raw = tomllib.loads(resources.files("mcfoot.data").joinpath("scaling.toml").read_text())
    for name, e in raw["equivalent"].items():
        assert e["source"] and e["unit"] and e["value"] > 0 and e["study_value"] > 0, name
    for name in ("queries_per_day", "queries_per_year"):
        assert raw["study_case"][name]["unit"] and raw["study_case"][name]["source"]
    c = load_constants()
    assert set(c["equivalents"]) == {"us_households", "people_drinking_water", "olympic_pools",
                                     "gasoline_cars", "transatlantic_flights", "forest_acres"}
    # the study's equivalents, as published, follow from its values (SCALING.md)
    eq = c["equivalents"]
    assert 391_509e3 / eq["us_households"].study_value == pytest.approx(36_281, rel=1e-3)
    assert 1_334_991 / eq["olympic_pools"].study_value == pytest.approx(534, rel=1e-2)


def test_cli_scale_json_and_errors(tmp_path, capsys, paper_gpt4o):
    from mcfoot import write_tree

    path = write_tree(paper_gpt4o, tmp_path / "p.nc")
    assert main(["scale", "--input", str(path), "--model", "gpt-4o-mar", "--queries-per-day",
                 "7e8", "--mix", "short=0.8,medium=0.2", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    rows = {r["name"]: r for r in out["rows"]}
    assert rows["electricity_mwh"]["units"] == "MWh"
    assert rows["us_households"]["source"].startswith("US EIA")
    assert out["attrs"]["queries"] == pytest.approx(2.555e11)
    assert main(["scale", "--input", str(path), "--mix", "short=0.9"]) == 2
    assert "sum to 1" in capsys.readouterr().err
    assert main(["scale", "--input", str(path), "--mix", "short:1"]) == 2
    assert main(["scale", "--input", str(path), "--queries-per-year", "772e9",
                 "--utilization", "max", "--constants", "study"]) == 0
    text = capsys.readouterr().out
    assert "forest_acres" in text and "t CO2e/acre/yr" in text
    assert math.isfinite(summary_rows(scale(paper_gpt4o))[0]["mean"])
