"""The priors audit (issue 24): which priors share data with which evidence entries."""

import dataclasses

import numpy as np
import pytest

from mcfoot import audit, discrepancy as disc, distributions as dists, simulate
from mcfoot.errors import InputError
from mcfoot.evidence import load_evidence
from mcfoot.priors import QUANTITIES, Prior, load_scenario, shipped_scenarios
from mcfoot.variables import FOOTPRINT


def _doc(**source):
    return {"meta": {"schema": 1}, "source": source}


def test_shipped_registry_loads_and_every_pattern_finds_its_own_citation():
    sources, reaches = audit.load_sources()
    for k, s in sources.items():
        assert audit.cited(s.cite, sources) or audit.cited(k, sources) == {k}, k
    assert set(reaches) <= set(QUANTITIES)


def test_bad_registry_is_one_error_naming_every_problem():
    doc = _doc(A={"cite": "x", "patterns": ["A"], "shares_data_with": ["B"]},
               C={"cite": "", "patterns": [], "colour": 1})
    doc["reaches"] = {"pue": ["energy_kwh"], "nonsense": ["energy_wh"]}
    with pytest.raises(InputError) as e:
        audit.parse_sources(doc, "s.toml")
    text = str(e.value)
    for needle in ("s.toml", "shares_data_with needs why", "names 'B'", "cite is missing",
                   "patterns must be", "unknown key 'colour'", "'energy_kwh'",
                   "'nonsense' is not a prior quantity"):
        assert needle in text, needle


def test_cited_matches_whole_words_only():
    sources, _ = audit.parse_sources(_doc(MLE={"cite": "ML.ENERGY", "patterns": ["MLE"]}))
    assert audit.cited("ranges from MLE and OV25", sources) == {"MLE"}
    assert audit.cited("SAMPLE data, MLEX", sources) == frozenset()


def test_shared_data_links_both_ways_and_only_one_step():
    doc = _doc(A={"cite": "a", "patterns": ["A"]},
               B={"cite": "b", "patterns": ["B"], "shares_data_with": ["A"], "why": "same"},
               C={"cite": "c", "patterns": ["C"], "shares_data_with": ["B"], "why": "same"})
    sources, _ = audit.parse_sources(doc)
    assert audit._related(frozenset({"A"}), sources) == {"A", "B"}
    assert audit._related(frozenset({"B"}), sources) == {"A", "B", "C"}


def test_a_prior_citing_an_evidence_source_is_found():
    sc = load_scenario("default")
    wue = sc.priors["wue_site"][("Azure",)]
    fake = dataclasses.replace(wue, source="derived from Elsworth et al. 2025 (GEM25)")
    priors = {**sc.priors, "wue_site": {**sc.priors["wue_site"], ("Azure",): fake}}
    rows = audit.audit(dataclasses.replace(sc, priors=priors))
    hit = [r for r in rows if (r.quantity, r.key) == ("wue_site", "Azure")][0]
    assert hit.cites == ("GEM25",)
    # wue_site reaches water only: the Google water entry, not its energy entries
    assert hit.entries == ("google-gemini-apps-water-site",)


def test_paper_and_default_priors_are_independent_of_the_evidence_but_one():
    """The study's attribution and the main job's priors share no data with the evidence,
    except Google's market-based intensity: only Google's own contracts can give it, so it
    is kept and the Google carbon entry cannot check these scenarios."""
    for name in ("paper", "default"):
        assert audit.dependent_entries(name) == {
            "google-gemini-apps-carbon": ("cif_market[Google]",)}, name


def test_lab_entries_depend_on_the_bench_fit_only():
    """Under serving a lab entry is predicted by the physics learned from the ML.ENERGY bench
    (not by the scenario's priors), so the ML.ENERGY entry is no independent check of it."""
    dep = audit.dependent_entries("serving")
    assert dep["mlenergy-v3-llama31-8b-h100-b64"] == ("bench_fit[(lab entries)]",)
    assert set(dep) == {"google-gemini-apps-carbon", "mlenergy-v3-llama31-8b-h100-b64"}


def test_compare_leaves_dependent_entries_out_of_the_checks():
    from mcfoot.compare import compare, table

    rows = {r["id"]: r for r in table(compare("default", draws=200, seed=0))}
    carbon = rows["google-gemini-apps-carbon"]
    assert carbon["verdict"] == "not independent"
    assert carbon["shares_data_with"] == "cif_market[Google]"
    assert carbon["percentile"] is not None  # still shown, not counted
    assert rows["google-gemini-apps-energy"]["verdict"] != "not independent"
    assert rows["google-gemini-apps-energy"]["shares_data_with"] == ""


def test_every_shipped_scenario_audits_and_rows_cover_every_prior():
    for name in shipped_scenarios():
        sc = load_scenario(name)
        rows = audit.audit(sc)
        lab = [r for r in rows if r.quantity == "bench_fit"]  # serving: lab entries' fit
        meas = [r for r in rows if r.quantity == "measurement"]  # measurement.toml
        assert len(rows) - len(lab) - len(meas) == sum(len(t) for t in sc.priors.values()) + \
            len(sc.row_sources)
        assert len(meas) == 3 + len(disc.load().boundary_scales)
        assert len(lab) == (sc.attribution == "serving")
        ids = {e.id for e in load_evidence()}
        assert all(set(r.entries) <= ids for r in rows)


def _fixed_elsewhere(sc, q):
    """``sc`` with every prior of quantity ``q`` fixed at 1.5x (or 0.6x in [0, 1]) its median."""
    table = {}
    for key, p in sc.priors[q].items():
        m = float(p.dist.ppf(np.array([0.5]))[0])
        v = m * (0.6 if QUANTITIES[q].high <= 1 else 1.5) if m > 0 else 0.5
        if q == "pue":
            v = 1.0 + 1.5 * (m - 1.0) + 0.2
        table[key] = Prior(q, key, dists.make("fixed", {"value": v}), p.unit, "test")
    return dataclasses.replace(sc, priors={**sc.priors, q: table})


@pytest.mark.parametrize("name", ["default", "serving", "physical"])
def test_reaches_is_what_the_equations_move(name):
    """Each [reaches] line of sources.toml against the sampler: changing the quantity's
    priors changes exactly the variables listed (of those the scenario computes). Copulas
    are dropped: they correlate draws, they do not carry one quantity into another's
    equation."""
    _, reaches = audit.load_sources()
    sc = dataclasses.replace(load_scenario(name), copulas=())
    base = simulate(sc, draws=16, seed=0, models=["gpt-4o-mar", "gemini-2-5-flash-vertex"],
                    progress=False)["footprint"]
    checked = 0
    for q, moves in reaches.items():
        if q not in sc.priors:
            continue
        out = simulate(_fixed_elsewhere(sc, q), draws=16, seed=0,
                       models=["gpt-4o-mar", "gemini-2-5-flash-vertex"],
                       progress=False)["footprint"]
        changed = {v for v in FOOTPRINT if v in base
                   and not np.array_equal(base[v].values, out[v].values)}
        assert changed == set(moves) & set(base.data_vars), q
        checked += 1
    assert checked >= 6


def test_docs_table_is_current():
    """docs/priors_audit.md is `mcfoot priors audit --markdown` over the shipped scenarios."""
    from pathlib import Path

    doc = Path(__file__).parents[1] / "docs" / "priors_audit.md"
    rows = [r for name in shipped_scenarios() for r in audit.audit(name)]
    assert audit.to_markdown(rows) in doc.read_text("utf-8"), \
        "regenerate: see the first lines of docs/priors_audit.md"


def test_cli_audit_json_and_text(capsys):
    from mcfoot.cli import main

    assert main(["priors", "audit", "default", "--dependent", "--json"]) == 0
    import json

    got = json.loads(capsys.readouterr().out)["priors"]
    assert [(r["quantity"], r["key"], r["entries"]) for r in got] == [
        ("cif_market", "Google", ["google-gemini-apps-carbon"])]
    assert main(["priors", "audit", "paper"]) == 0
    rows = audit.audit("paper")  # the count says priors, not priors plus the model's constants
    meas = sum(r.quantity == "measurement" for r in rows)
    assert meas == 3 + len(disc.load().boundary_scales)
    assert (f"'paper': {len(rows) - meas} priors and {meas} measurement-model constants, 1 "
            f"share data with evidence") in capsys.readouterr().out


def _measurement_file(tmp_path, old: str, new: str):
    """The shipped measurement.toml with one source text replaced."""
    from importlib import resources

    text = resources.files("mcfoot.data").joinpath("measurement.toml").read_text("utf-8")
    assert old in text
    p = tmp_path / "measurement.toml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_a_discrepancy_prior_citing_an_evidence_source_is_found(tmp_path):
    """measurement.toml's discrepancy scales are audited with the scenario priors' rule: a
    boundary scale reaches its class's variables only, the source scale every figure (lab
    entries too: the discrepancy terms enter their likelihood)."""
    p = _measurement_file(tmp_path, "counting the whole host or not",
                          "as Elsworth et al.'s breakdown shows, counting the whole host or not")
    rows = {r.key: r for r in audit.audit("default", discrepancy=p)
            if r.quantity == "measurement"}
    hit = rows["discrepancy.boundary.energy"]
    assert hit.cites == ("GEM25",)
    assert hit.entries == ("google-gemini-apps-energy",)  # energy_wh; not its other classes
    assert all(r.independent for k, r in rows.items() if k != hit.key)
    dep = audit.dependent_entries("default", discrepancy=p)
    assert dep["google-gemini-apps-energy"] == ("measurement[discrepancy.boundary.energy]",)
    assert "google-gemini-apps-energy" not in audit.dependent_entries("default")
    q = _measurement_file(tmp_path, "leave room for both", "leave room for both (ML.ENERGY)")
    src = {r.key: r for r in audit.audit("serving", discrepancy=q)}["discrepancy.source_scale"]
    assert src.entries == ("mlenergy-v3-llama31-8b-h100-b64",)


def test_calibration_leaves_out_an_entry_its_discrepancy_prior_depends_on(tmp_path):
    from mcfoot.calibrate import select_observations

    p = _measurement_file(tmp_path, "counting the whole host or not",
                          "as arXiv 2508.15734 shows, counting the whole host or not")
    sc = load_scenario("default")
    _, left = select_observations(sc, None, discrepancy=p)
    assert "measurement[discrepancy.boundary.energy]" in left["google-gemini-apps-energy"]
    assert "google-gemini-apps-energy" in {o.id for o in select_observations(sc, None)[0]}


def test_shipped_measurement_model_is_independent_of_the_evidence():
    """No constant of measurement.toml (the shipped discrepancy model, and the floor of the
    independent-errors model) shares data with an evidence entry."""
    for name in shipped_scenarios():
        for spec in ("shipped", None):
            rows = [r for r in audit.audit(name, discrepancy=spec) if r.quantity == "measurement"]
            assert rows and all(r.independent for r in rows), (name, spec,
                                                               [r.key for r in rows if r.entries])
