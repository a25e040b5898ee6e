"""Scenario files: the shipped ones load and match the study's tables; every kind of bad
input is a PriorsError naming the file, the entry and the fix."""

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mcfoot import PriorsError, load_scenario, shipped_scenarios
from mcfoot.catalogue import shipped_path
from mcfoot.priors import scenario_path

DATA = shipped_path().parent
PAPER = scenario_path("paper").read_text()


def write(tmp_path: Path, text: str, name: str = "s.toml") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_shipped_scenarios_load():
    assert set(shipped_scenarios()) >= {"paper", "default", "physical"}
    for name in shipped_scenarios():
        sc = load_scenario(name)
        assert sc.name == name and sc.hash.startswith("sha256:")
        for table in sc.priors.values():
            for prior in table.values():
                assert prior.source.strip() and prior.unit


def test_paper_scenario_holds_the_study_tables():
    sc = load_scenario("paper")
    hosts = pd.read_csv(DATA / "hosts.csv").set_index("host")
    for q, col in [("pue", "pue"), ("wue_site", "wue_site_l_per_kwh"),
                   ("wue_source", "wue_source_l_per_kwh"), ("cif", "cif_kg_per_kwh")]:
        got = {k[0]: p.dist.params["value"] for k, p in sc.priors[q].items()}
        assert got == hosts[col].to_dict()
    hw = pd.read_csv(DATA / "hardware.csv").set_index("hardware")
    assert {k[0]: p.dist.params["value"] for k, p in sc.priors["gpu_node_power"].items()} == \
        hw["gpu_node_kw"].to_dict()
    ut = pd.read_csv(DATA / "utilization.csv").set_index(["size_class", "hardware"])
    for q, col in [("gpu_util_min", "gpu_util_min"), ("gpu_util_max", "gpu_util_max"),
                   ("nongpu_util", "non_gpu_util")]:
        assert {k: p.dist.params["value"] for k, p in sc.priors[q].items()} == ut[col].to_dict()
    (cop,) = sc.copulas
    assert cop.inputs == ("latency", "speed")
    np.testing.assert_array_equal(cop.corr, [[1, -0.3], [-0.3, 1]])
    assert sc.attribution == "band"
    assert all(p.dist.is_fixed for t in sc.priors.values() for p in t.values())


def test_default_makes_every_host_input_uncertain():
    sc = load_scenario("default")
    for q in ("pue", "wue_site", "wue_source", "cif", "gpu_util", "nongpu_util",
              "gpu_power_factor"):
        assert all(not p.dist.is_fixed for p in sc.priors[q].values()), q


def sub(old: str, new: str, text: str = PAPER) -> str:
    assert old in text, old
    return text.replace(old, new, 1)


AZURE_PUE = '[pue.Azure]\ndist = "fixed"\nvalue = 1.12'
BAD = {
    "unknown key": (sub(AZURE_PUE, AZURE_PUE + "\ncolour = 1"),
                    r"\[pue.Azure\] 'fixed' does not take parameter\(s\) colour"),
    "unknown distribution": (sub(AZURE_PUE, '[pue.Azure]\ndist = "gamma"\nvalue = 1.12'),
                             r"\[pue.Azure\] unknown distribution 'gamma'; known: beta"),
    "missing parameter": (sub(AZURE_PUE, '[pue.Azure]\ndist = "uniform"\nlow = 1.1'),
                          r"\[pue.Azure\] 'uniform' needs parameter\(s\) high"),
    "extra parameter": (sub(AZURE_PUE, AZURE_PUE + "\nhigh = 2"),
                        r"does not take parameter\(s\) high"),
    "PUE below 1": (sub(AZURE_PUE, '[pue.Azure]\ndist = "fixed"\nvalue = 0.9'),
                    r"\[pue.Azure\] fixed reaches \[0.9, 0.9\] but pue .* must be >= 1"),
    "PUE support below 1": (
        sub(AZURE_PUE, '[pue.Azure]\ndist = "truncnormal"\nmean = 1.2\nsd = 0.1'),
        r"\[pue.Azure\] truncnormal reaches \[-inf, inf\] .* must be >= 1"),
    "utilization above 1": (
        sub('[gpu_util_max.large."DGX A100"]\ndist = "fixed"\nvalue = 0.15',
            '[gpu_util_max.large."DGX A100"]\ndist = "uniform"\nlow = 0.5\nhigh = 1.5'),
        r'\[gpu_util_max.large."DGX A100"\] uniform reaches \[0.5, 1.5\] .* in \[0, 1\]'),
    "negative power": (sub('[gpu_node_power."DGX A100"]\ndist = "fixed"\nvalue = 3.2',
                           '[gpu_node_power."DGX A100"]\ndist = "fixed"\nvalue = -3.2'),
                       r'\[gpu_node_power."DGX A100"\] .* must be >= 0'),
    "negative water": (sub('[wue_site.Azure]\ndist = "fixed"\nvalue = 0.3',
                           '[wue_site.Azure]\ndist = "uniform"\nlow = -0.1\nhigh = 0.3'),
                       r"\[wue_site.Azure\] uniform reaches \[-0.1, 0.3\] .* must be >= 0"),
    "P5 above P95": (sub(AZURE_PUE, '[pue.Azure]\ndist = "lognormal"\nmedian = 1.2\n'
                                    'p5 = 1.3\np95 = 1.1\nshift = 1.0'),
                     r"\[pue.Azure\] needs p5 < p95, got p5=1.3, p95=1.1"),
    "correlation not positive definite": (
        PAPER + '\n[copula.bad]\ninputs = ["pue", "wue_site", "cif"]\n'
                'corr = [[1, 0.9, -0.9], [0.9, 1, 0.9], [-0.9, 0.9, 1]]\nsource = "x"\n',
        r"\[copula.bad\] corr is not positive definite"),
    "wrong unit": (sub('value = 1.12\nunit = "1"', 'value = 1.12\nunit = "%"'),
                   r"\[pue.Azure\] unit = '%', but pue is in '1'; write unit = \"1\""),
    "missing source": (re.sub(r'(\[pue.Azure\][^\[]*?)source = "[^"]*"\n', r"\1", PAPER,
                              count=1),
                       r"\[pue.Azure\] has no source"),
    "unknown quantity": (PAPER + '\n[pue_typo.Azure]\ndist = "fixed"\nvalue = 1\n',
                         r"\[pue_typo\] unknown quantity"),
    "quantity of another attribution": (
        PAPER + '\n[batch_size.large."DGX A100"]\ndist = "fixed"\nvalue = 8\n'
                'unit = "requests"\nsource = "x"\n',
        r"\[batch_size\] is not used by attribution 'band'"),
    "missing quantity": (re.sub(r"\[cif\.[^\n]*\][^\[]*", "", PAPER),
                         r"\[cif\] missing: attribution 'band' needs a prior"),
    "bad attribution": (sub('attribution = "band"', 'attribution = "guess"'),
                        r"\[meta\] attribution = 'guess'; use one of band, share, physical"),
    "unknown meta key": (sub("schema = 1", "schema = 1\nauthor = 'me'"),
                         r"\[meta\] unknown key 'author'"),
    "wrong schema": (sub("schema = 1", "schema = 7"), r"\[meta\] schema = 7"),
    "entry without dist": (sub(AZURE_PUE, "[pue.Azure]\nvalue = 1.12"),
                           r"\[pue.Azure\] has no 'dist'"),
    "row prior not from catalogue": (sub('from_catalogue = "first_chunk_s"',
                                         'from_catalogue = "speed"'),
                                     r"\[latency\] must be dist = \"empirical\""),
    "wrong type": (sub(AZURE_PUE, '[pue.Azure]\ndist = "fixed"\nvalue = "high"'),
                   r"parameter 'value' must be a number"),
    "nan value": (sub(AZURE_PUE, '[pue.Azure]\ndist = "fixed"\nvalue = nan'),
                  r"parameter 'value' must be finite"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_kind_of_bad_input_is_named(tmp_path, case):
    text, pattern = BAD[case]
    path = write(tmp_path, text)
    with pytest.raises(PriorsError) as err:
        load_scenario(path)
    msg = str(err.value)
    assert msg.startswith(str(path)), msg  # names the file
    assert re.search(pattern, msg), msg


def test_all_problems_reported_together(tmp_path):
    text = sub(AZURE_PUE, '[pue.Azure]\ndist = "fixed"\nvalue = 0.5')
    text = sub('[wue_site.Azure]\ndist = "fixed"\nvalue = 0.3',
               '[wue_site.Azure]\ndist = "fixed"\nvalue = -1', text)
    with pytest.raises(PriorsError) as err:
        load_scenario(write(tmp_path, text))
    assert "2 problems" in str(err.value) and len(err.value.problems) == 2


@pytest.mark.parametrize(("text", "pattern"), [
    ("[meta\nschema = 1", r"not valid TOML"),
    ("", r"no \[meta\] table"),
])
def test_unreadable_files(tmp_path, text, pattern):
    with pytest.raises(PriorsError, match=pattern):
        load_scenario(write(tmp_path, text))


def test_missing_file_and_unknown_name(tmp_path):
    with pytest.raises(PriorsError, match="file not found"):
        load_scenario(tmp_path / "nope.toml")
    with pytest.raises(PriorsError, match="no shipped scenario 'nope'; shipped: default"):
        load_scenario("nope")


def test_extends_overrides_only_what_differs(tmp_path):
    child = write(tmp_path, '[meta]\nschema = 1\nname = "mine"\nextends = "paper"\n\n'
                            '[pue.Azure]\ndist = "uniform"\nlow = 1.1\nhigh = 1.3\n'
                            'unit = "1"\nsource = "my measurement"\n')
    sc = load_scenario(child)
    base = load_scenario("paper")
    assert sc.name == "mine" and sc.attribution == "band"
    assert sc.priors["pue"][("Azure",)].dist.kind == "uniform"
    assert sc.priors["pue"][("AWS",)] == base.priors["pue"][("AWS",)]
    assert len(sc.hashes) == 2 and sc.hash != base.hash


def test_extends_cycle_is_an_error(tmp_path):
    write(tmp_path, '[meta]\nschema = 1\nextends = "b.toml"\n', "a.toml")
    write(tmp_path, '[meta]\nschema = 1\nextends = "a.toml"\n', "b.toml")
    with pytest.raises(PriorsError, match="cycle"):
        load_scenario(tmp_path / "a.toml")
