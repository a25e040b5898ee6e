"""Your own models and regions: a catalogue CSV plus a scenario extending a shipped one, the
shipped template, and grid regions named instead of typed (``dist = "region"``)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import mcfoot
from mcfoot import PriorsError, load_scenario, simulate
from mcfoot.catalogue import PROMPTS, shipped_path
from mcfoot.regions import RegionError, load_regions, region_prior, region_value

DATA = shipped_path().parent
TEMPLATE = DATA / "catalogue_template.csv"

# A made-up host and hardware class, with numbers chosen for an easy hand computation.
LAT_S, SPEED = 0.5, 50.0  # every quantile equal: latency and speed are then exact
PG_KW, PN_KW = 4.0, 2.0  # node power, accelerators / rest
U_MIN, U_MAX, U_N = 0.02, 0.04, 0.01
PUE, WUE_SITE, WUE_SOURCE, CIF = 1.3, 0.5, 2.0, 0.25
CIF_MARKET = 0.05
# embodied: 4 accelerators of 100 kg + 2,000 kg of node, 4 years at 50 % utilisation; a
# query holds 1/16 of the node
E_ACC, E_NODE, LIFE_YR, UTIL, SHARE = 100.0, 2000.0, 4.0, 0.5, 0.0625

SCENARIO = f"""
[meta]
schema = 1
name = "my-study"
description = "the study, plus my data centre"
extends = "paper"

[pue."my-dc"]
dist = "fixed"
value = {PUE}
unit = "1"
source = "my facility's metering, 2025"

[wue_site."my-dc"]
dist = "fixed"
value = {WUE_SITE}
unit = "L/kWh"
source = "my facility's metering, 2025"

[wue_source."my-dc"]
dist = "fixed"
value = {WUE_SOURCE}
unit = "L/kWh"
source = "my utility"

[cif."my-dc"]
dist = "fixed"
value = {CIF}
unit = "kg CO2e/kWh"
source = "my utility"

[gpu_node_power."My Accel x8"]
dist = "fixed"
value = {PG_KW}
unit = "kW"
source = "vendor sheet"

[nongpu_node_power."My Accel x8"]
dist = "fixed"
value = {PN_KW}
unit = "kW"
source = "vendor sheet"

[idle_fraction."My Accel x8"]
dist = "fixed"
value = 0.0
unit = "1"
source = "as the study: no idle capacity counted"

[cif_market."my-dc"]
dist = "fixed"
value = {CIF_MARKET}
unit = "kg CO2e/kWh"
source = "my utility's green tariff"

[gpus_per_node."My Accel x8"]
dist = "fixed"
value = 4
unit = "GPUs"
source = "vendor sheet"

[embodied_accelerator."My Accel x8"]
dist = "fixed"
value = {E_ACC}
unit = "kg CO2e"
source = "vendor PCF"

[embodied_node."My Accel x8"]
dist = "fixed"
value = {E_NODE}
unit = "kg CO2e"
source = "vendor PCF"

[hardware_lifetime."My Accel x8"]
dist = "fixed"
value = {LIFE_YR}
unit = "yr"
source = "my depreciation schedule"

[fleet_utilisation."My Accel x8"]
dist = "fixed"
value = {UTIL}
unit = "1"
source = "my telemetry"

[node_share.medium."My Accel x8"]
dist = "fixed"
value = {SHARE}
unit = "1"
source = "1 of 4 accelerators, batch 4"

[gpu_util_min.medium."My Accel x8"]
dist = "fixed"
value = {U_MIN}
unit = "1"
source = "my estimate"

[gpu_util_max.medium."My Accel x8"]
dist = "fixed"
value = {U_MAX}
unit = "1"
source = "my estimate"

[nongpu_util.medium."My Accel x8"]
dist = "fixed"
value = {U_N}
unit = "1"
source = "my estimate"
"""


def custom_catalogue(tmp_path: Path) -> Path:
    df = pd.read_csv(TEMPLATE)
    df["host"] = "my-dc"
    df["hardware"] = "My Accel x8"
    df["size_class"] = "medium"
    for s in ("p05", "p25", "p50", "p75", "p95"):
        df[f"first_chunk_s_{s}"] = LAT_S
        df[f"tokens_per_s_{s}"] = SPEED
    path = tmp_path / "my_models.csv"
    df.to_csv(path, index=False)
    return path


def hand_energy_wh(output_tokens: float, u_gpu: float) -> float:
    hours = (LAT_S + output_tokens / SPEED) / 3600.0
    return 1000.0 * hours * (PG_KW * u_gpu + PN_KW * U_N) * PUE


@pytest.fixture
def custom(tmp_path):
    toml = tmp_path / "my.toml"
    toml.write_text(SCENARIO)
    return custom_catalogue(tmp_path), toml


def test_custom_model_on_custom_host_matches_hand_computation(custom):
    cat, toml = custom
    tree = simulate(toml, draws=50, seed=3, catalogue=cat)
    fp = tree["footprint"]
    assert tree.attrs["scenario"] == "my-study"
    assert fp.host.values.tolist() == ["my-dc"]
    for prompt, t_out in zip(PROMPTS, (300, 1000, 1500)):
        e_min, e_max = hand_energy_wh(t_out, U_MIN), hand_energy_wh(t_out, U_MAX)
        e = 0.5 * (e_min + e_max)  # the study's combined figure
        sel = {"model": "my-model", "prompt": prompt}
        np.testing.assert_allclose(fp["energy_min_wh"].sel(sel), e_min, rtol=1e-12)
        np.testing.assert_allclose(fp["energy_max_wh"].sel(sel), e_max, rtol=1e-12)
        np.testing.assert_allclose(fp["energy_wh"].sel(sel), e, rtol=1e-12)
        np.testing.assert_allclose(fp["carbon_g"].sel(sel), e * CIF, rtol=1e-12)
        np.testing.assert_allclose(fp["water_site_ml"].sel(sel), e / PUE * WUE_SITE, rtol=1e-12)
        np.testing.assert_allclose(fp["water_source_ml"].sel(sel), e * WUE_SOURCE, rtol=1e-12)
        np.testing.assert_allclose(fp["carbon_market_g"].sel(sel), e * CIF_MARKET, rtol=1e-12)
        hours = (LAT_S + t_out / SPEED) / 3600.0
        g_per_h = SHARE * (4 * E_ACC + E_NODE) * 1000 / (LIFE_YR * 365.25 * 24 * UTIL)
        np.testing.assert_allclose(fp["carbon_embodied_g"].sel(sel), hours * g_per_h,
                                   rtol=1e-12)
    # the short prompt by hand: (0.5 + 300/50) s = 6.5 s; 4*0.03 + 2*0.01 = 0.14 kW; x 1.3
    np.testing.assert_allclose(fp["energy_wh"].sel(model="my-model", prompt="short"),
                               1000 * 6.5 / 3600 * 0.14 * 1.3, rtol=1e-12)


def test_custom_host_missing_from_scenario_is_named(tmp_path):
    cat = custom_catalogue(tmp_path)
    with pytest.raises(PriorsError, match=r"my-dc.*\[pue\.my-dc\]"):
        simulate("paper", draws=10, catalogue=cat)


def test_catalogue_mixing_shipped_and_custom_rows(custom, tmp_path):
    cat, toml = custom
    shipped = pd.read_csv(shipped_path())
    both = pd.concat([shipped[shipped.model_id == "o3"], pd.read_csv(cat)])
    path = tmp_path / "both.csv"
    both.to_csv(path, index=False)
    tree = simulate(toml, draws=20, catalogue=path)
    assert set(tree["footprint"].model.values) == {"o3", "my-model"}
    ref = simulate("paper", draws=20, models=["o3"])
    np.testing.assert_array_equal(tree["footprint"]["energy_wh"].sel(model="o3"),
                                  ref["footprint"]["energy_wh"].sel(model="o3"))


# ---- the shipped template -------------------------------------------------------------------


def test_template_has_the_shipped_columns_and_one_row_per_prompt():
    tpl, shipped = pd.read_csv(TEMPLATE), pd.read_csv(shipped_path())
    assert list(tpl.columns) == list(shipped.columns)
    assert sorted(tpl["prompt"]) == sorted(PROMPTS) and tpl["model_id"].nunique() == 1
    # the study's prompt sizes (METHOD.md): 100/300, 1000/1000, 10000/1500 tokens
    tokens = tpl.set_index("prompt")[["input_tokens", "output_tokens"]]
    assert tokens.loc["short"].tolist() == [100, 300]
    assert tokens.loc["medium"].tolist() == [1000, 1000]
    assert tokens.loc["long"].tolist() == [10000, 1500]
    # documented example values: the measurements of a shipped model (SOURCE.md)
    src = shipped[shipped.model_id == "llama-3-3-70b"].set_index("prompt")
    q = [c for c in shipped.columns if c.startswith(("first_chunk_s_", "tokens_per_s_"))]
    pd.testing.assert_frame_equal(tpl.set_index("prompt")[q], src.loc[tpl["prompt"], q])
    assert "catalogue_template.csv" in (DATA / "SOURCE.md").read_text()


def test_template_runs_with_every_shipped_scenario():
    for name in mcfoot.shipped_scenarios():
        tree = simulate(name, draws=20, catalogue=TEMPLATE)
        e = tree["footprint"]["energy_wh"].values
        assert e.shape == (20, 1, 3) and np.all(e > 0)


# ---- regions --------------------------------------------------------------------------------

#: Golden values: PRIORS_SOURCES.md sections 3-4 (central values), kg CO2e/kWh and L/kWh.
PUBLISHED = {
    "us": (0.384, 3.14), "virginia": (0.323, None), "iowa": (0.413, None),
    "oregon": (0.079, None), "texas": (0.303, None), "memphis": (0.283, None),
    "ireland": (0.280, 1.48), "netherlands": (0.253, 3.43), "sweden": (0.036, 6.03),
    "china": (0.537, 6.01), "world": (0.473, 3.91), "germany": (None, 1.95),
    "uk": (None, 2.33), "france": (None, 3.67), "norway": (None, 6.66), "brazil": (None, 18.6),
}


def test_regions_table_holds_the_published_values_with_sources():
    df = load_regions()
    assert set(df.index) == set(PUBLISHED)
    for region, (cif, wue) in PUBLISHED.items():
        for col, src, want in (("cif_kg_per_kwh", "cif_source", cif),
                               ("wue_source_l_per_kwh", "wue_source_source", wue)):
            got = df.at[region, col]
            if want is None:
                assert np.isnan(got) and pd.isna(df.at[region, src]), (region, col)
            else:
                assert got == want, (region, col)
                assert isinstance(df.at[region, src], str) and df.at[region, src].strip()


def test_region_lookup_aliases_and_errors():
    assert region_value("us-east4", "cif")[0] == region_value("virginia", "cif")[0] == 0.323
    assert region_value("IRL", "wue_source")[:2] == (1.48, "L/kWh")
    with pytest.raises(RegionError, match="unknown region 'atlantis'; known: us, virginia"):
        region_value("atlantis", "cif")
    with pytest.raises(RegionError, match="'germany' has no sourced cif value"):
        region_value("germany", "cif")  # empty cell: no guess
    with pytest.raises(RegionError, match="regions hold cif and wue_source, not 'pue'"):
        region_value("ireland", "pue")
    with pytest.raises(RegionError, match="rel_sd"):
        region_prior("ireland", "cif", rel_sd=-0.1)
    assert region_prior("ireland", "cif")["dist"] == "fixed"
    p = region_prior("ireland", "cif", rel_sd=0.1)
    assert (p["dist"], p["mean"], p["sd"], p["low"]) == ("truncnormal", 0.28, 0.1 * 0.28, 0.0)


def _region_toml(tmp_path, cif_entry: str, wue_entry: str) -> Path:
    text = SCENARIO.replace(
        f'[cif."my-dc"]\ndist = "fixed"\nvalue = {CIF}\nunit = "kg CO2e/kWh"\n'
        f'source = "my utility"', f'[cif]\n"my-dc" = {cif_entry}').replace(
        f'[wue_source."my-dc"]\ndist = "fixed"\nvalue = {WUE_SOURCE}\nunit = "L/kWh"\n'
        f'source = "my utility"', f'[wue_source]\n"my-dc" = {wue_entry}')
    assert text != SCENARIO
    path = tmp_path / "region.toml"
    path.write_text(text)
    return path


def test_scenario_names_a_region(tmp_path):
    cat = custom_catalogue(tmp_path)
    toml = _region_toml(tmp_path, '{ dist = "region", region = "ireland" }',
                        '{ dist = "region", region = "irl", source = "Dublin site" }')
    sc = load_scenario(toml)
    prior = sc.priors["cif"][("my-dc",)]
    assert prior.dist.kind == "fixed" and prior.unit == "kg CO2e/kWh"
    assert "ECO" in prior.source and "regions.csv" in prior.source
    assert sc.priors["wue_source"][("my-dc",)].source.endswith("; Dublin site")
    fp = simulate(toml, draws=10, catalogue=cat)["footprint"]
    e = fp["energy_wh"].sel(model="my-model", prompt="medium")
    np.testing.assert_allclose(fp["carbon_g"].sel(model="my-model", prompt="medium"), e * 0.280,
                               rtol=1e-12)
    np.testing.assert_allclose(fp["water_source_ml"].sel(model="my-model", prompt="medium"),
                               e * 1.48, rtol=1e-12)


def test_region_with_spread_samples_around_the_regional_value(tmp_path):
    cat = custom_catalogue(tmp_path)
    toml = _region_toml(tmp_path, '{ dist = "region", region = "china", rel_sd = 0.1 }',
                        '{ dist = "region", region = "china" }')
    fp = simulate(toml, draws=2000, seed=5, catalogue=cat)["footprint"]
    cif = fp["cif_kg_per_kwh"].sel(model="my-model").values
    # truncation at 0 is 10 sd away: mean 0.537, sd 0.0537; MC error of the mean ~0.0012
    assert abs(cif.mean() - 0.537) < 0.005 and abs(cif.std(ddof=1) - 0.0537) < 0.005
    assert np.all(fp["wue_source_l_per_kwh"].values == 6.01)


@pytest.mark.parametrize("entry, message", [
    ('{ dist = "region", region = "atlantis" }', r"\[cif\.my-dc\] unknown region"),
    ('{ dist = "region", region = "germany" }', r"no sourced cif value"),
    ('{ dist = "region" }', r'needs region = "NAME"'),
    ('{ dist = "region", region = "ireland", sd = 0.1 }', r"does not take sd"),
    ('{ dist = "region", region = "ireland", unit = "g/kWh" }', r"unit = 'g/kWh'"),
])
def test_bad_region_entries_are_reported_by_the_scenario_validator(tmp_path, entry, message):
    toml = _region_toml(tmp_path, entry, '{ dist = "region", region = "us" }')
    with pytest.raises(PriorsError, match=message):
        load_scenario(toml)


def test_region_only_for_regional_quantities(tmp_path):
    text = SCENARIO.replace(f'[pue."my-dc"]\ndist = "fixed"\nvalue = {PUE}',
                            '[pue."my-dc"]\ndist = "region"\nregion = "ireland"')
    path = tmp_path / "bad.toml"
    path.write_text(text)
    with pytest.raises(PriorsError, match=r"\[pue\.my-dc\] regions hold cif and wue_source"):
        load_scenario(path)
