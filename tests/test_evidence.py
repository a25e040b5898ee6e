"""Evidence files (published figures) and mcfoot compare: format, validation, like-with-like
predictions, the figure and the command."""

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest

import mcfoot
from mcfoot import InputError, estimate
from mcfoot.cli import main
from mcfoot.compare import compare, predict, table
from mcfoot.evidence import load_evidence, shipped_evidence
from mcfoot.priors import load_scenario

BAD = Path(__file__).parent / "bad_evidence"
EXPECTED = tomllib.loads((BAD / "expected.toml").read_text())


def test_shipped_evidence_is_valid_and_complete():
    ev = {e.id: e for e in load_evidence()}
    assert shipped_evidence() == ["published"]
    want = {"google-gemini-apps-energy": (0.24, "Wh", ("energy_wh",)),
            "google-gemini-apps-energy-active-accelerators": (0.10, "Wh",
                                                              ("energy_accelerator_wh",)),
            "google-gemini-apps-carbon": (0.03, "g CO2e", ("carbon_market_g",
                                                           "carbon_embodied_g")),
            "google-gemini-apps-water-site": (0.26, "mL", ("water_site_ml",)),
            "openai-chatgpt-energy": (0.34, "Wh", ("energy_wh",)),
            "mistral-large2-carbon": (1.14, "g CO2e", ("carbon_g", "carbon_embodied_g")),
            "mistral-large2-water": (45.0, "mL", ("water_ml",)),
            "mlenergy-v3-llama31-8b-h100-b64": (0.12, "J/token", ("energy_accelerator_wh",))}
    for k, (v, u, var) in want.items():
        assert (ev[k].value, ev[k].unit, ev[k].variables) == (v, u, var), k
    assert ev["mistral-large2-carbon"].output_tokens.values == (400,)
    assert ev["mlenergy-v3-llama31-8b-h100-b64"].kind == "lab"
    assert ev["google-gemini-apps-energy"].kind == "mix"
    assert "epoch" not in " ".join(ev)  # a model estimate: it stays a claim


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_bad_evidence_gives_one_clear_error(name):
    with pytest.raises(InputError) as e:
        load_evidence(BAD / name)
    msg = str(e.value)
    assert EXPECTED[name] in msg and name in msg, msg
    if name not in ("broken_syntax.toml",):
        assert "[[evidence]] #" in msg  # names the entry
    assert len(e.value.problems) == 1


def test_bad_evidence_corpus_is_complete():
    files = {p.name for p in BAD.iterdir() if p.name != "expected.toml"}
    assert files == set(EXPECTED)


@pytest.mark.parametrize("name", ["unknown_variable.toml", "mix_not_summing_to_1.toml"])
def test_bad_evidence_through_cli_exits_2(name, capsys):
    assert main(["compare", "--file", str(BAD / name), "--draws", "10", "-q"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and EXPECTED[name] in err


def test_compare_prints_each_note_once_naming_its_entries(capsys):
    """Entries that share an estimate note (the same requests outside the measured prompt
    sizes, the same reason a lab bench is not predictable) get it once, after the ids of all
    of them; every entry with a note is named exactly once."""
    args = ["compare", "--scenario", "default", "--draws", "50"]
    assert main([*args, "--json"]) == 0
    reasons = {r["id"]: r["reason"] for r in json.loads(capsys.readouterr().out)["rows"]
               if r["reason"]}
    assert len(reasons) > len(set(reasons.values()))  # some entries share a note
    assert main([*args, "-q"]) == 0
    out = capsys.readouterr().out
    lines = out.split("notes:\n", 1)[1].splitlines()
    named = {}
    for line in lines:
        ids, reason = line.strip().split(": ", 1)
        for i in ids.split(", "):
            assert i not in named, i
            named[i] = reason
    assert named == reasons
    assert len(lines) == len(set(reasons.values()))


def test_compare_and_calibrate_name_evidence_files_alike(capsys):
    """One option name for evidence files: --evidence in compare as in calibrate (compare's
    former --file stays an alias)."""
    bad = str(BAD / "unknown_model.toml")
    for cmd in (["compare", "--evidence", bad, "--draws", "10"],
                ["compare", "--file", bad, "--draws", "10"],
                ["calibrate", "--evidence", bad, "--draws", "10", "--loo"]):
        assert main([*cmd, "-q"]) == 2, cmd
        assert EXPECTED["unknown_model.toml"] in capsys.readouterr().err, cmd


def test_a_single_model_entry_is_the_estimate_rescaled_to_its_statistic(tmp_path):
    """One model, fixed tokens, statistic 'mean', a scenario where the footprint is query
    time x power: the prediction is estimate()'s draws with each draw's query time replaced
    by the row's mean query time, integrated on calibration's query lattice; so it is
    scale.expected_per_query's rescaling (mean over the draws' own query times) times one
    constant, the lattice mean over the Monte Carlo mean, which is 1 within Monte Carlo
    error."""
    f = tmp_path / "one.toml"
    f.write_text('[meta]\nschema = 1\nname = "t"\n\n[[evidence]]\nid = "x"\n'
                 'variable = ["carbon_g", "carbon_embodied_g"]\nvalue = 1.0\nunit = "g CO2e"\n'
                 'statistic = "mean"\ndate = "2025"\nsource = "t"\nboundary = "t"\n'
                 'applies_to = { model = "mistral-large-2-azure" }\n'
                 '[evidence.tokens]\noutput = 400\ninput = 1000\n')
    (e,) = load_evidence(f)
    sc = load_scenario("default")
    y, notes = predict(e, sc, 800, 5)
    est = estimate("mistral-large-2-azure", 400, 1000, draws=800, seed=5)
    h = est["latency_s"] + 400 / est["speed_tokens_per_s"]
    want = (est["carbon_g"] + est["carbon_embodied_g"]).values * float(h.mean()) / h.values
    ratio = y / want
    np.testing.assert_allclose(ratio, ratio[0], rtol=1e-12)
    assert abs(ratio[0] - 1) < 4 * float(h.std() / h.mean()) / np.sqrt(h.size)
    assert notes == []


def test_compare_default_table_and_lab_entry():
    ds = compare("default", draws=1500, seed=0)
    rows = {r["id"]: r for r in table(ds)}
    assert len(rows) == len(load_evidence())
    lab = rows["mlenergy-v3-llama31-8b-h100-b64"]
    assert lab["status"] == "not predictable" and "lab configuration" in lab["reason"]
    assert lab["median"] is None and lab["verdict"] == "n/a"
    for r in rows.values():
        if r["status"] == "ok":
            assert r["lower"] <= r["median"] <= r["upper"]
            assert 0 <= r["percentile"] <= 100
            # the percentile is the share of draws below the published figure
            x = ds["prediction"].sel(evidence=r["id"]).values
            assert r["percentile"] == pytest.approx(100 * (x < r["value"]).mean(), abs=1e-9)
    # same seed, same numbers
    again = compare("default", draws=1500, seed=0)
    np.testing.assert_array_equal(again["prediction"], ds["prediction"])
    assert ds.attrs["scenario_hash"] == load_scenario("default").hash
    from mcfoot.provenance import RUN_KEYS

    assert ds.attrs["result_kind"] == "compare"
    assert all(k in ds.attrs for k in RUN_KEYS)
    assert ds.attrs["evidence_file_hashes"].startswith("sha256:")


def test_paper_scenario_reports_beside_the_study():
    """Under 'paper' the carbon boundaries differ (market-based + embodied vs location-based)
    and idle is zero: the comprehensive-energy prediction is accelerator + host times PUE."""
    ds = compare("paper", draws=600, seed=1)
    r = {x["id"]: x for x in table(ds)}
    assert r["google-gemini-apps-carbon"]["median"] < r["mistral-large2-carbon"]["median"]
    assert r["google-gemini-apps-energy"]["status"] == "ok"


def test_public_api():
    assert mcfoot.compare is compare and mcfoot.estimate is estimate


def test_figure(tmp_path):
    from mcfoot.plots import compare as draw

    ds = compare("default", draws=300, seed=0)
    ax = draw(ds)
    assert ax.get_xscale() == "log"
    texts = " ".join(t.get_text() for t in ax.texts)
    assert "not predictable" in texts and "google-gemini-apps-energy" in texts
    out = tmp_path / "c.png"
    assert main(["compare", "--draws", "200", "--plot", str(out), "-q"]) == 0
    assert out.stat().st_size > 10_000


def test_cli_table_and_json(capsys):
    assert main(["compare", "--scenario", "default", "--draws", "300"]) == 0
    out = capsys.readouterr().out
    assert "google-gemini-apps-energy" in out and "not predictable" in out
    assert "median [90% interval]" in out
    assert main(["compare", "--draws", "300", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["ci_prob"] == 0.9 and len(doc["rows"]) == len(load_evidence())
    assert main(["compare", "--draws", "10", "--plot", "/no/such/dir/x.png"]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_claims_with_tokens_line_up_with_the_run():
    """A token claim is evaluated on the result's scenario, seed and draws; at a catalogue
    row's own tokens it equals the prompt-based claim draw for draw."""
    from mcfoot.claims import evaluate_claims, load_claims
    import tempfile

    text = ('[meta]\nschema = 1\nname = "t"\n\n'
            '[[claim]]\nid = "a"\nkind = "threshold"\ntext = "t"\nsource = "t"\nop = "<="\n'
            'value = 0.5\nunit = "Wh"\nvariable = "energy_wh"\nmodel = "gpt-4o-mar"\n'
            'prompt = "medium"\n\n'
            '[[claim]]\nid = "b"\nkind = "threshold"\ntext = "t"\nsource = "t"\nop = "<="\n'
            'value = 0.5\nunit = "Wh"\nvariable = "energy_wh"\nmodel = "gpt-4o-mar"\n'
            'output_tokens = 1000\ninput_tokens = 1000\n\n'
            '[[claim]]\nid = "c"\nkind = "threshold"\ntext = "t"\nsource = "t"\nop = "<="\n'
            'value = 0.1\nunit = "g CO2e"\nvariable = ["carbon_market_g", "carbon_embodied_g"]\n'
            'model = "gpt-4o-mar"\noutput_tokens = 500\n')
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(text)
    claims = load_claims(f.name)
    tree = mcfoot.simulate("default", draws=700, seed=3, models=["gpt-4o-mar", "o3"])
    a, b, c = evaluate_claims(tree, claims)
    np.testing.assert_array_equal(a.samples, b.samples)
    assert a.probability == b.probability
    assert np.all(c.samples > 0)
    # a draw range or an unknown scenario cannot be re-run: one clear error
    bad = tree.copy()
    bad.attrs["scenario_hash"] = "sha256:other"
    with pytest.raises(InputError, match="needs the result's scenario"):
        evaluate_claims(bad, [claims[1]])
    assert evaluate_claims(bad, [claims[1]], scenario="default")[0].probability == b.probability
    qmc = tree.copy()
    qmc.attrs["sampling"] = "sobol"
    with pytest.raises(InputError, match="plain Monte Carlo"):
        evaluate_claims(qmc, [claims[1]])


@pytest.mark.parametrize("field, match", [
    ("output_tokens = -1", "output_tokens must be an integer >= 0"),
    ('prompt = "short"\noutput_tokens = 10', "exactly one of prompt"),
    ('variable = ["energy_wh", "carbon_g"]\noutput_tokens = 10', "share a unit"),
])
def test_bad_token_claims(tmp_path, field, match):
    from mcfoot.claims import load_claims

    body = ('[meta]\nschema = 1\nname = "t"\n\n[[claim]]\nid = "a"\nkind = "threshold"\n'
            'text = "t"\nsource = "t"\nop = "<="\nvalue = 0.5\nunit = "Wh"\n'
            'model = "gpt-4o-mar"\n')
    if "variable" not in field:
        body += 'variable = "energy_wh"\n'
    p = tmp_path / "c.toml"
    p.write_text(body + field + "\n")
    with pytest.raises(InputError, match=match):
        load_claims(p)


def test_cli_csv_matches_json(tmp_path, capsys):
    import pandas as pd

    out = tmp_path / "compare.csv"
    assert main(["compare", "--scenario", "paper", "--draws", "200", "--csv", str(out),
                 "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)["rows"]
    head = [ln for ln in out.read_text().splitlines() if ln.startswith("#")]
    assert any(ln.startswith("# scenario: paper") for ln in head)
    df = pd.read_csv(out, comment="#", index_col="evidence")
    assert list(df.index) == [r["id"] for r in rows]
    for r in rows:
        got = df.loc[r["id"]]
        assert got["unit"] == r["unit"] and got["published"] == pytest.approx(r["value"])
        if r["percentile"] is None:
            assert pd.isna(got["percentile [%]"])
        else:
            assert got["percentile [%]"] == pytest.approx(r["percentile"])
