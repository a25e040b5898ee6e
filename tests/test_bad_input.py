"""Bad input: every file of ``tests/bad_inputs/`` (and hypothesis-made ones) gives ONE clear
``InputError`` naming the file, the entry and the fix; the CLI exits 2 with one line on
stderr and writes nothing."""

import json
import math
import subprocess
import sys
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mcfoot
from mcfoot import InputError
from mcfoot.cli import main
from mcfoot.priors import load_scenario

CORPUS = Path(__file__).parent / "bad_inputs"
EXPECTED = tomllib.loads((CORPUS / "expected.toml").read_text())


def load(name: str):
    """Load a corpus file the way a run would: .toml as the scenario, .csv as the
    catalogue (with the paper scenario)."""
    path = CORPUS / name
    if name.endswith(".csv"):
        return mcfoot.simulate("paper", 2, catalogue=path)
    return mcfoot.simulate(path, 2)


def test_corpus_is_complete():
    files = {p.name for p in CORPUS.iterdir() if p.name != "expected.toml"}
    assert files <= set(EXPECTED), f"corpus files without an expected fragment: {files - set(EXPECTED)}"
    assert len(EXPECTED) >= 30


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_gives_one_clear_error(name):
    with pytest.raises(InputError) as e:
        load(name)
    msg = str(e.value)
    assert EXPECTED[name] in msg, msg
    assert name in msg, f"message does not name the file: {msg}"
    assert e.value.problems and all(p.strip() for p in e.value.problems)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_corpus_through_cli(name, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    flag = "--catalogue" if name.endswith(".csv") else "--scenario"
    args = ["run", flag, str(CORPUS / name), "--draws", "2", "-q", "-o", "out.nc"]
    if flag == "--catalogue":
        args += ["--scenario", "paper"]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and EXPECTED[name] in err, err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["pue_below_1.toml", "catalogue_unknown_host.csv"])
def test_cli_subprocess(name, tmp_path):
    flag = "--catalogue" if name.endswith(".csv") else "--scenario"
    r = subprocess.run([sys.executable, "-m", "mcfoot", "run", flag, str(CORPUS / name),
                        "--draws", "2", "-o", "out.nc"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and EXPECTED[name] in r.stderr and r.stdout == ""
    assert list(tmp_path.iterdir()) == []


def test_several_problems_are_reported_together(tmp_path):
    text = (CORPUS / "pue_below_1.toml").read_text() + (CORPUS / "no_source.toml").read_text() \
        .split("\n", 5)[-1].replace("pue.Azure", "pue.Google")
    p = tmp_path / "two.toml"
    p.write_text(text)
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert len(e.value.problems) == 2 and "2 problems" in str(e.value)


def test_duplicate_and_unknown_model_selection():
    with pytest.raises(InputError, match="more than once"):
        mcfoot.simulate("paper", 2, models=["o3", "o3"])
    with pytest.raises(InputError, match="unknown model"):
        mcfoot.simulate("paper", 2, models=["o3", "gpt-99"])


# ---- hypothesis: random bad values in a valid file ----------------------------------------

HEAD = '[meta]\nschema = 1\nname = "h"\nextends = "paper"\nattribution = "band"\n'
BAD_NUMBERS = st.one_of(st.just(math.nan), st.just(math.inf), st.just(-math.inf),
                        st.text("ab1.e", max_size=5), st.booleans(), st.lists(st.floats(), max_size=2))


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)  # JSON string escapes are valid TOML
    return "[" + ", ".join(toml_value(x) for x in v) + "]"


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(table=st.sampled_from(["pue.Azure", 'gpu_node_power."DGX A100"', "cif.Google"]),
       param=st.sampled_from(["value", "low", "high"]), bad=BAD_NUMBERS)
def test_hypothesis_bad_parameter_values(tmp_path, table, param, bad):
    quantity = table.split(".")[0]
    unit = {"pue": "1", "gpu_node_power": "kW", "cif": "kg CO2e/kWh"}[quantity]
    if param == "value":
        body = f"dist = \"fixed\"\nvalue = {toml_value(bad)}"
    else:
        other = {"low": "high", "high": "low"}[param]
        body = f"dist = \"uniform\"\n{param} = {toml_value(bad)}\n{other} = 1.5"
    p = tmp_path / "h.toml"
    p.write_text(HEAD + f"\n[{table}]\n{body}\nunit = \"{unit}\"\nsource = \"h\"\n")
    with pytest.raises(InputError) as e:
        load_scenario(p)
    assert str(p) in str(e.value) and f"[{table}]" in str(e.value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(low=st.floats(-10, 10, allow_nan=False), width=st.floats(0.01, 5),
       table=st.sampled_from(["pue.Azure", 'nongpu_util.large."DGX A100"', "wue_site.AWS"]))
def test_hypothesis_values_outside_physical_range(tmp_path, low, width, table):
    q = table.split(".")[0]
    unit, lo, hi = {"pue": ("1", 1, math.inf), "nongpu_util": ("1", 0, 1),
                    "wue_site": ("L/kWh", 0, math.inf)}[q]
    high = low + width
    p = tmp_path / "h.toml"
    p.write_text(HEAD + f"\n[{table}]\ndist = \"uniform\"\nlow = {low!r}\nhigh = {high!r}\n"
                 f"unit = \"{unit}\"\nsource = \"h\"\n")
    if lo <= low and high <= hi:
        assert load_scenario(p).priors[q]  # inside the range: accepted, untouched
        return
    with pytest.raises(InputError, match="nothing is clipped"):
        load_scenario(p)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=200))
def test_hypothesis_garbage_files(tmp_path, data):
    p = tmp_path / "g.toml"
    p.write_bytes(data)
    try:
        load_scenario(p)
    except InputError as e:
        assert str(p) in str(e)
    else:  # pragma: no cover - garbage is never a valid scenario
        raise AssertionError("garbage accepted")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rho=st.floats(-1, 1, allow_nan=False), k=st.sampled_from([0, 1]))
def test_hypothesis_correlations(tmp_path, rho, k):
    corr = [[1.0, rho, rho], [rho, 1.0, -rho if k else rho], [rho, -rho if k else rho, 1.0]]
    p = tmp_path / "c.toml"
    p.write_text(HEAD + "\n[copula.host]\ninputs = [\"pue\", \"wue_site\", \"cif\"]\n"
                 f"corr = {corr!r}\nsource = \"h\"\n")
    pd_ok = np.linalg.eigvalsh(np.array(corr)).min() > 1e-10
    if pd_ok:
        assert load_scenario(p).copulas
    else:
        with pytest.raises(InputError, match=r"\[copula.host\]"):
            load_scenario(p)
