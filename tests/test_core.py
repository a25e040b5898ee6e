"""The shared core: variable registry, validators and provenance."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mcfoot
from mcfoot import _validate as val
from mcfoot import provenance, regions, variables
from mcfoot.claims import Claim
from mcfoot.errors import InputError
from mcfoot.priors import QUANTITIES

MODELS = ["gpt-4o-mar", "o3", "claude-3-7-sonnet", "gpt-4-1-nano"]


@pytest.fixture(scope="module")
def tree():
    return mcfoot.simulate("paper", draws=200, seed=5, models=MODELS)


# ---------------------------------------------------------------- registry
def test_every_unit_parses_with_pint_and_co2e_is_defined_once():
    pint = pytest.importorskip("pint")
    ureg = variables.unit_registry()
    for v in variables.VARIABLES.values():
        ureg.parse_units(v.units)
    for q in QUANTITIES.values():  # the inputs group carries these
        ureg.parse_units(q.unit)
    # kg/kWh == g/Wh: the identity the equations use (footprint.py)
    assert ureg.Quantity(1.0, "kg CO2e/kWh").to("g CO2e/Wh").magnitude == pytest.approx(1.0)
    assert ureg.Quantity(1.0, "L/kWh").to("mL/Wh").magnitude == pytest.approx(1.0)
    with pytest.raises(pint.DimensionalityError):
        ureg.Quantity(1.0, "g CO2e").to("g")
    assert sum("CO2e" in d.split("=")[0] for d in variables.PINT_DEFINITIONS) == 1


def test_simulate_tree_is_the_registry(tree):
    fp, inp = tree["footprint"], tree["inputs"]
    declared = [*variables.FOOTPRINT, *variables.BAND, *variables.HOST]
    assert list(fp.data_vars) == declared
    for name in declared:
        v = variables.VARIABLES[name]
        assert fp[name].dims == v.dims
        assert fp[name].attrs == v.attrs
    for name, v in {**variables.ROW_INPUTS, **variables.DERIVED}.items():
        assert inp[name].dims == v.dims and inp[name].attrs == v.attrs


def test_share_scenario_has_no_band_variables():
    t = mcfoot.simulate("default", draws=20, seed=1, models=MODELS[:1])
    assert not set(variables.BAND) & set(t["footprint"].data_vars)
    assert set(variables.FOOTPRINT) <= set(t["footprint"].data_vars)


def test_consumers_derive_from_the_registry():
    from mcfoot import claims
    from mcfoot.cli import summary as cli_summary
    from mcfoot.io import CF_ATTRS
    from mcfoot.rank import FOOTPRINT_INPUTS, STUDY_INPUTS

    assert claims.FOOTPRINT_UNITS == {n: v.units for n, v in variables.per_query().items()}
    # the study's DEA inputs (DEA.md): energy and the four host factors, not market-based CIF
    assert STUDY_INPUTS == variables.study_input_names() == (
        "energy_wh", "pue", "wue_site_l_per_kwh", "wue_source_l_per_kwh", "cif_kg_per_kwh")
    assert cli_summary.COLUMNS == variables.headline_names() == FOOTPRINT_INPUTS
    for name, v in variables.VARIABLES.items():
        assert CF_ATTRS[name] == (v.units, v.long_name)
    from mcfoot.priors import HOST_QUANTITIES

    assert tuple(v.quantity for v in variables.HOST.values()) == HOST_QUANTITIES
    from mcfoot import io, scale
    from mcfoot.cli import workload as cli_workload

    assert scale.TOTALS is variables.TOTALS and scale.variables()["carbon_t"] == "t CO2e"
    assert cli_workload.SHOWN == ("energy_wh", "carbon_g", "water_ml")
    assert set(cli_workload.SHOWN) == set(variables.headline_names())
    # every sampler variable whose name spells its units gets those units from the suffix
    for name, v in variables.VARIABLES.items():
        if any(name.endswith(s) for s, _ in io._SUFFIX_UNITS):
            assert next(u for s, u in io._SUFFIX_UNITS if name.endswith(s)) == v.units, name
    assert variables.kernel_keys() == (
        "energy", "carbon", "water_site", "water_source", "water", "energy_accelerator",
        "energy_host", "energy_idle", "energy_it", "carbon_market", "carbon_embodied")


def test_registry_lookup_errors():
    assert variables.axis_label("energy_wh") == "facility energy per query (Wh)"
    with pytest.raises(InputError, match="unknown variable 'nope'"):
        variables.units("nope")


# ---------------------------------------------------------------- validators
@pytest.mark.parametrize("x", [0, 1, 1.0, -0.1, float("nan"), True, "0.9", None])
def test_probability_rejects(x):
    with pytest.raises(InputError, match="ci_prob must be a probability in \\(0, 1\\)"):
        val.probability("ci_prob", x)


@pytest.mark.parametrize("x", [0, -3, 1.5, 2.0, True, "4", None])
def test_positive_int_rejects(x):
    with pytest.raises(InputError, match="n must be a positive integer"):
        val.positive_int("n", x)


def test_validators_accept_and_normalize():
    assert val.probability("p", np.float32(0.5)) == 0.5
    assert val.positive_int("n", np.int64(3)) == 3 and type(val.positive_int("n", 3)) is int
    assert val.finite_number("x", -2) == -2.0
    assert val.positive_number("x", 1e-300) == 1e-300
    assert val.choice("k", "a", ("a", "b")) == "a"
    for bad in (True, float("inf"), "1"):
        with pytest.raises(InputError, match="x must be a finite number"):
            val.finite_number("x", bad)
    with pytest.raises(InputError, match="k must be one of 'a', 'b'"):
        val.choice("k", "c", ("a", "b"))
    with pytest.raises(InputError, match="k must be one of"):
        val.choice("k", ["unhashable"], {"a": 1})


def test_prompt_mix_reports_every_problem():
    probs = val.prompt_mix_problems({"short": 0.7, "huge": 0.1, "long": True},
                                    ["short", "medium", "long"])
    assert any("unknown prompt 'huge'" in p for p in probs)
    assert any("share of 'long' must be a number" in p for p in probs)
    assert val.prompt_mix({"short": 0.25, "medium": 0.75}, ["short", "medium"]) == \
        {"short": 0.25, "medium": 0.75}
    with pytest.raises(InputError, match="has no 'long' row"):
        val.prompt_mix({"long": 1.0}, ["short", "long"], {"short": True, "long": False}, "m")
    with pytest.raises(InputError, match="sum to 1"):
        val.prompt_mix({"short": 0.5}, ["short"])


def test_paths(tmp_path):
    assert val.figure_path(tmp_path / "a.svg").name == "a.svg"
    with pytest.raises(InputError, match="not supported"):
        val.figure_path(tmp_path / "a.gif")
    with pytest.raises(InputError, match="does not exist"):
        val.output_path(tmp_path / "no" / "a.nc", (".nc",))


def test_claim_built_in_python_is_validated():
    with pytest.raises(InputError, match="unit 'kWh' does not match energy_wh"):
        Claim(id="x", kind="threshold", text="t", source="s", op="<=", value=0.4, unit="kWh",
              fields={"variable": "energy_wh", "model": "gpt-4o-mar", "prompt": "short"})
    with pytest.raises(InputError, match="kind must be one of"):
        Claim(id="x", kind="vibes", text="t", source="s", op="<=", value=1, unit="1")
    with pytest.raises(InputError, match="value must be a finite number"):
        Claim(id="x", kind="rank", text="t", source="s", op="==", value=math.nan,
              unit="rank", fields={"model": "o3"})
    c = Claim(id="x", kind="threshold", text="t", source="s", op="between", value=[0, 1],
              unit="Wh", fields={"variable": "energy_wh", "model": "o3", "prompt": "short"})
    assert c.value == (0.0, 1.0) and c.fields["per"] == "mean"


@pytest.mark.parametrize("kw, match", [
    ({"chunk_draws": 1.5}, "chunk_draws must be a positive integer"),
    ({"draws": 10.0}, "draws must be a positive integer"),
    ({"ci_prob": 1}, "ci_prob must be a probability"),
    ({"thresholds": {"energy_wh": [True]}}, "must be a finite number"),
])
def test_stream_uses_the_shared_checks(kw, match):
    from mcfoot.stream import stream

    with pytest.raises(InputError, match=match):
        stream("paper", **({"draws": 10, "models": MODELS[:1]} | kw))


# ---------------------------------------------------------------- provenance
def test_regions_table_is_hashed(tree):
    assert regions.table_hash().startswith("sha256:")
    assert tree.attrs["regions_hash"] == regions.table_hash()


def test_every_result_kind_carries_the_same_provenance(tree):
    from mcfoot import claims, scale, sensitivity, stream

    run = {k: tree.attrs[k] for k in provenance.RUN_KEYS}
    with pytest.warns(UserWarning, match="without intelligence_index"):  # gpt-4o-mar
        ranked = mcfoot.rank(tree)
    results = {
        "summary": mcfoot.summarize(tree).attrs,
        "rank": ranked.attrs,
        "sensitivity": sensitivity.correlations(tree, models=MODELS[:1]).attrs,
        "scale": scale.scale(tree, "gpt-4o-mar").attrs,
        "claims": claims.provenance_attrs(tree),
    }
    for kind, attrs in results.items():
        assert attrs["result_kind"] == kind
        assert {k: attrs[k] for k in provenance.RUN_KEYS} == run, kind
        assert attrs["mcfoot_version"] == mcfoot.__version__ and attrs["created"]
    st = stream.stream("paper", draws=200, seed=5, models=MODELS, chunk_draws=64)
    so = sensitivity.sobol("paper", models=MODELS[:1], n=64, seed=5)
    assert st.attrs["result_kind"] == "stream" and so.attrs["result_kind"] == "sensitivity"
    for attrs in (st.attrs, so.attrs):
        for k in ("scenario_hash", "catalogue_hash", "regions_hash", "seed", "mcfoot_version"):
            assert attrs[k] == (tree.attrs[k] if k != "seed" else attrs[k]), k
    assert {k: st.attrs[k] for k in provenance.RUN_KEYS} == run


def test_source_tree_finds_priors_without_install(monkeypatch):
    """A clone that was never installed has no package mcfoot._priors: the loader falls back
    to the top-level priors/ folder."""
    from pathlib import Path

    from mcfoot import claims, priors

    def not_installed(name):
        raise ModuleNotFoundError(f"No module named {name!r}")

    monkeypatch.setattr(priors.resources, "files", not_installed)
    root = Path(priors.__file__).resolve().parent.parent / "priors"
    assert Path(str(priors.priors_dir())) == root
    assert {"paper", "default", "physical"} <= set(priors.shipped_scenarios())
    assert priors.load_scenario("paper").name == "paper"
    assert "study" in claims.shipped_claims()


def test_prior_built_in_python_is_validated():
    from mcfoot import distributions as dists
    from mcfoot.errors import PriorsError
    from mcfoot.priors import Prior

    ok = Prior("pue", ("Azure",), dists.make("uniform", {"low": 1.1, "high": 1.3}), "1", "s")
    assert ok.stream == "pue/Azure"
    with pytest.raises(PriorsError, match="must be >= 1"):
        Prior("pue", ("Azure",), dists.make("uniform", {"low": 0.9, "high": 1.3}), "1", "s")
    with pytest.raises(PriorsError, match="unit = 'kWh', but gpu_node_power is in 'kW'"):
        Prior("gpu_node_power", ("H100",), dists.make("fixed", {"value": 10.0}), "kWh", "s")
    with pytest.raises(PriorsError, match="has no source"):
        Prior("pue", ("Azure",), dists.make("fixed", {"value": 1.2}), "1", "")
    with pytest.raises(PriorsError, match="key must be a tuple of 1"):
        Prior("pue", "Azure", dists.make("fixed", {"value": 1.2}), "1", "s")
    with pytest.raises(PriorsError, match="unknown quantity"):
        Prior("vibes", (), dists.make("fixed", {"value": 1.2}), "1", "s")


def test_a_new_output_variable_needs_only_the_registry_and_the_equations(monkeypatch):
    """Declare a variable and compute its kernel output (here in the NumPy twin): the tree,
    summaries, streaming and Sobol' indices pick it up with no other change."""
    from mcfoot import footprint, sensitivity, stream

    # a variable the registry does not have (energy_it_wh, this test's first example, is now
    # a real output): facility energy in kWh, computed from the twin's own outputs
    new = variables.Variable("energy_kwh", "kWh", "facility energy per query in kWh",
                             kernel_key="energy_kwh")
    assert new.name not in variables.VARIABLES
    monkeypatch.setitem(variables.FOOTPRINT, new.name, new)
    monkeypatch.setitem(variables.VARIABLES, new.name, new)
    twin = footprint.footprint_reference

    def with_kwh(*args, **kw):
        res = twin(*args, **kw)
        res["energy_kwh"] = res["energy"] / footprint.WH_PER_KWH
        return res

    monkeypatch.setattr(footprint, "footprint_reference", with_kwh)
    t = mcfoot.simulate("default", draws=50, seed=2, models=MODELS[:2], backend="numpy",
                        chunk_draws=20)
    fp = t["footprint"]
    assert fp["energy_kwh"].attrs == new.attrs
    np.testing.assert_allclose(fp["energy_kwh"] * 1000, fp["energy_wh"], rtol=1e-12)
    assert "energy_kwh" in mcfoot.summarize(t).data_vars
    s = stream.stream("default", 50, seed=2, models=MODELS[:2], backend="numpy",
                      variables="energy_kwh", progress=False)
    np.testing.assert_allclose(s["summary"]["energy_kwh"].sel(stat="mean"),
                               mcfoot.summarize(t)["energy_kwh"].sel(stat="mean"),
                               rtol=1e-12)
    so = sensitivity.sobol("default", MODELS[:1], ["short"], "energy_kwh", n=32,
                           backend="numpy")
    assert so.attrs["variable_units"] == "kWh"
