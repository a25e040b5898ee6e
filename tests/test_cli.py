"""The ``mcfoot`` command in a temp dir: every subcommand that exists, JSON output, progress
on stderr with a clean stdout, exit 2 with one line and no output file on bad input, result
files with CF attrs and provenance.

Each subcommand and each kind of behaviour is exercised once through a real subprocess
(``python -m mcfoot``, :func:`mcfoot`); the many variations run in-process through
``mcfoot.cli.main`` (:func:`cli`, the same code minus the interpreter start-up of ~2 s)."""

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.image import imread

from mcfoot import io
from mcfoot.catalogue import shipped_path
from mcfoot.cli import COMMANDS, main
from mcfoot.errors import InputError

MODELS = ["o3", "gpt-4o-mar", "llama-3-3-70b", "claude-4-sonnet"]
DRAWS = "300"


def mcfoot(*args, cwd, check=True):
    env = {**os.environ, "PYTHONWARNINGS": "error::DeprecationWarning"}
    r = subprocess.run([sys.executable, "-m", "mcfoot", *map(str, args)], cwd=cwd,
                       capture_output=True, text=True, env=env, timeout=300)
    if check and r.returncode != 0:
        raise AssertionError(f"mcfoot {' '.join(map(str, args))} -> {r.returncode}\n"
                             f"stdout: {r.stdout}\nstderr: {r.stderr}")
    return r


def cli(capsys, *args, cwd):
    """Run ``mcfoot args`` in-process in ``cwd``; returns (exit code, stdout, stderr)."""
    capsys.readouterr()
    old = os.getcwd()
    os.chdir(cwd)
    try:
        rc = main([str(a) for a in args])
    except SystemExit as e:  # argparse: --help, usage errors
        rc = e.code
    finally:
        os.chdir(old)
    out = capsys.readouterr()
    return rc, out.out, out.err


def exists(cmd: str) -> bool:
    return importlib.util.find_spec(f"mcfoot.cli.{cmd}") is not None


def needs(cmd: str):
    return pytest.mark.skipif(not exists(cmd), reason=f"mcfoot/cli/{cmd}.py not written yet")


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    for scenario in ("default", "paper"):  # in-process: `run` has its subprocess test
        assert main(["run", "--scenario", scenario, "--draws", DRAWS, "--seed", "1",
                     "--models", *MODELS, "-o", str(d / f"{scenario}.nc"), "-q"]) == 0
    return d


def assert_image(path: Path, min_px=100):
    img = imread(path)
    assert img.shape[0] >= min_px and img.shape[1] >= min_px
    assert img[..., :3].std() > 0.02


def assert_bad(r, out: Path | None = None, text: str = ""):
    """Exit 2, one line on stderr naming the problem, no traceback, no file left behind."""
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert "Traceback" not in r.stderr and text in lines[0], lines[0]
    if out is not None:
        assert not out.exists()
        assert not list(out.parent.glob(f".{out.name}*")), "temporary file left behind"


# ---- every subcommand -----------------------------------------------------------------------


@pytest.mark.parametrize("cmd", COMMANDS)
def test_help_with_an_example(cmd, tmp_path, capsys):
    if not exists(cmd):
        pytest.skip(f"mcfoot/cli/{cmd}.py not written yet")
    rc, out, _ = cli(capsys, cmd, "--help", cwd=tmp_path)
    assert rc == 0 and f"mcfoot {cmd}" in out and "example" in out


def test_top_level_help_lists_the_subcommands(tmp_path):
    r = mcfoot("--help", cwd=tmp_path)
    for cmd in COMMANDS:
        assert (cmd in r.stdout) == exists(cmd), cmd


# ---- run and summary ------------------------------------------------------------------------


def test_run_progress_goes_to_stderr(tmp_path, capsys):
    r = mcfoot("run", "--scenario", "paper", "--draws", "400", "--chunk-draws", "100",
               "--models", "o3", "-o", "p.nc", cwd=tmp_path)
    assert r.stdout == ""
    assert "mcfoot paper" in r.stderr  # the tqdm bar (4 chunks)
    assert "written to p.nc" in r.stderr
    rc, out, err = cli(capsys, "run", "--scenario", "paper", "--draws", "400", "--chunk-draws",
                       "100", "--models", "o3", "-o", "q.nc", "--quiet", cwd=tmp_path)
    assert rc == 0 and out == "" and err == ""


def test_run_times_loading_apart_with_the_same_result(tmp_path, capsys):
    """`mcfoot run` loads the scenario (with --region) and catalogue before its sampling
    clock and says so; the file holds exactly what simulate() gives from the names."""
    import mcfoot

    rc, _, err = cli(capsys, "run", "--scenario", "default", "--draws", "300", "--models", "o3",
                     "gpt-4o-mar", "--region", "ireland", "--variables", "energy_wh",
                     "carbon_g", "-o", "r.nc", cwd=tmp_path)
    assert rc == 0
    assert "loaded in" in err and "sampled in" in err and "written to r.nc in" in err
    back = io.read_tree(tmp_path / "r.nc")
    want = mcfoot.simulate("default", 300, seed=0, models=["o3", "gpt-4o-mar"],
                           region="ireland", variables=["energy_wh", "carbon_g"])
    for group in ("footprint", "inputs"):
        got, ref = back[group].to_dataset(), want[group].to_dataset()
        assert sorted(got.data_vars) == sorted(ref.data_vars)
        for v in ref.data_vars:
            np.testing.assert_array_equal(got[v].values, ref[v].values)
    for k in ("scenario", "scenario_hash", "catalogue", "catalogue_hash", "region"):
        assert back.attrs.get(k) == want.attrs.get(k), k


def test_run_variables_writes_only_those(tmp_path, capsys):
    rc, _, err = cli(capsys, "run", "--scenario", "paper", "--draws", "200", "--models", "o3",
                     "--variables", "carbon_g", "energy_wh", "-q", "-o", "v.nc", cwd=tmp_path)
    assert rc == 0 and err == ""
    full = io.read_tree(io.write_tree(__import__("mcfoot").simulate(
        "paper", 200, seed=0, models=["o3"]), tmp_path / "all.nc"))
    some = io.read_tree(tmp_path / "v.nc")
    from mcfoot.variables import footprint_names

    dropped = set(full["footprint"].data_vars) - set(some["footprint"].data_vars)
    assert dropped == set(footprint_names(band=True)) - {"carbon_g", "energy_wh"}
    for v in some["footprint"].data_vars:
        np.testing.assert_array_equal(some["footprint"][v], full["footprint"][v])
    rc, _, err = cli(capsys, "run", "--draws", "10", "--variables", "nope", "-o", "x.nc",
                     cwd=tmp_path)
    assert rc == 2 and "unknown footprint variable(s) nope" in err
    rc, _, err = cli(capsys, "run", "--draws", "10", "--workers", "1", "--variables",
                     "energy_wh", "-o", "x.nc", cwd=tmp_path)
    assert rc == 2 and "--variables is not supported with --workers" in err
    assert not (tmp_path / "x.nc").exists()


def test_run_file_has_provenance_and_cf_attrs_everywhere(work):
    tree = io.read_tree(work / "default.nc")
    a = tree.attrs
    for key in ("mcfoot_version", "scenario", "scenario_hash", "seed", "draws",
                "catalogue_hash", "created"):
        assert str(a[key]), key
    assert a["scenario"] == "default" and int(a["draws"]) == int(DRAWS)
    assert a["catalogue_hash"] == "sha256:" + __import__("hashlib").sha256(
        shipped_path().read_bytes()).hexdigest()
    missing = []
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        for name in [*ds.data_vars, *ds.coords]:
            attrs = ds[name].attrs
            if "long_name" not in attrs:
                missing.append(f"{node.path}/{name}: long_name")
            if ds[name].dtype.kind in "fiub" and "units" not in attrs:
                missing.append(f"{node.path}/{name}: units")
    assert not missing, missing
    assert tree["footprint/energy_wh"].attrs["units"] == "Wh"
    assert tree["catalogue/latency_s"].attrs["units"] == "s"


def test_summary_text_and_json(work, capsys):
    rc, out, _ = cli(capsys, "summary", "default.nc", cwd=work)
    assert rc == 0 and "energy (Wh)" in out and "o3" in out
    j = json.loads(mcfoot("summary", "default.nc", "--json", cwd=work).stdout)
    assert j["scenario"] == "default"
    assert {row["model"] for row in j["rows"]} == set(MODELS)
    tree = io.read_tree(work / "default.nc")
    row = next(x for x in j["rows"] if x["model"] == "o3" and x["prompt"] == "short")
    np.testing.assert_allclose(row["energy_wh_mean"], float(tree["footprint/energy_wh"].sel(
        model="o3", prompt="short").mean()), rtol=1e-12)
    x = tree["footprint/energy_wh"].sel(model="o3", prompt="short").values
    assert row["energy_wh_mean_mcse"] == pytest.approx(x.std(ddof=1) / np.sqrt(len(x)))
    assert j["sampling"] == "mc" and j["mcse_method"].startswith("iid")


def test_zarr_round_trip_through_run_and_summary(tmp_path, capsys):
    pytest.importorskip("zarr", reason="zarr is optional (pip install 'mcfoot[zarr]')")
    for out in ("r.zarr", "r.nc"):
        assert cli(capsys, "run", "--scenario", "paper", "--draws", "50", "--models", "o3",
                   "-o", out, "-q", cwd=tmp_path)[0] == 0
    z = json.loads(cli(capsys, "summary", "r.zarr", "--json", cwd=tmp_path)[1])
    n = json.loads(cli(capsys, "summary", "r.nc", "--json", cwd=tmp_path)[1])
    assert z == n
    assert io.read_tree(tmp_path / "r.zarr")["footprint/energy_wh"].attrs["units"] == "Wh"


# ---- plot -----------------------------------------------------------------------------------


def test_plot_forest_and_distribution(work, capsys):
    r = mcfoot("plot", "forest", "default.nc", "-o", "forest.png", "--prompt", "short",
               "--json", cwd=work)
    assert json.loads(r.stdout)["output"] == "forest.png"
    assert_image(work / "forest.png")
    rc, out, err = cli(capsys, "plot", "distribution", "paper.nc", "default.nc", "--model", "o3",
                       "-o", "dist.png", cwd=work)
    assert rc == 0 and out == "" and "written to dist.png" in err
    assert_image(work / "dist.png")
    assert cli(capsys, "plot", "distribution", "paper.nc", "default.nc", "--model", "o3",
               "--kind", "density", "--labels", "study", "uncertain", "-o", "dens.svg", "-q",
               cwd=work)[0] == 0
    assert (work / "dens.svg").read_text().lstrip().startswith("<?xml")


@needs("rank")
def test_plot_rank_from_a_run_result(work, capsys):
    assert cli(capsys, "plot", "rank", "default.nc", "-o", "rank.png", "-q", cwd=work)[0] == 0
    assert_image(work / "rank.png")


def test_plot_rank_tornado_scale_from_files(work, capsys):
    import xarray as xr

    P = np.array([[0.6, 0.4], [0.4, 0.6]])
    io.write_tree(xr.DataTree(xr.Dataset({"rank_probability": (("model", "k"), P)},
                                         coords={"model": ["a", "b"], "k": [1, 2]})),
                  work / "rank_hand.nc")
    sens = xr.Dataset({"ST": ("input", [0.1, 0.7, 0.2], {"units": "1",
                                                        "long_name": "total Sobol index"})},
                      coords={"input": ["pue/AWS", "gpu_util/large", "cif/AWS"]})
    io.write_tree(xr.DataTree.from_dict({"/": xr.Dataset(), "sensitivity": sens}),
                  work / "sens.nc")
    rng = np.random.default_rng(0)
    fleet = xr.Dataset({"electricity_mwh": (("queries", "draw"), rng.lognormal(size=(3, 200)),
                                            {"units": "MWh", "long_name": "electricity"})},
                       coords={"queries": ["1 bn", "50 bn", "100 bn"]})
    io.write_tree(xr.DataTree(fleet), work / "fleet.nc")
    for kind, f, extra in (("rank", "rank_hand.nc", []), ("tornado", "sens.nc", []),
                           ("scale", "fleet.nc", ["--variable", "electricity_mwh"])):
        assert cli(capsys, "plot", kind, f, "-o", f"{kind}_hand.png", "-q", *extra,
                   cwd=work)[0] == 0
        assert_image(work / f"{kind}_hand.png")


@needs("scale")
def test_scale_json(work):
    j = json.loads(mcfoot("scale", "--input", "paper.nc", "--model", "gpt-4o-mar", "--json",
                          "-q", cwd=work).stdout)
    assert j["rows"] and all("units" in row for row in j["rows"])


@needs("rank")
def test_rank_json(work):
    j = json.loads(mcfoot("rank", "default.nc", "--json", "-q", cwd=work).stdout)
    assert j["groups"] and j["groups"][0]["models"]


# ---- priors ---------------------------------------------------------------------------------


def test_priors_list_show_validate(tmp_path, capsys):
    j = json.loads(mcfoot("priors", "list", "--json", cwd=tmp_path).stdout)
    names = {s["name"] for s in j["scenarios"]}
    assert {"paper", "default", "physical"} <= names
    assert all(s["description"] for s in j["scenarios"])
    text = cli(capsys, "priors", "list", cwd=tmp_path)[1]
    assert all(n in text for n in names)
    j = json.loads(cli(capsys, "priors", "show", "paper", "--json", cwd=tmp_path)[1])
    pue = {r["key"]: r for r in j["priors"] if r["quantity"] == "pue"}
    assert pue["Azure"]["parameters"] == {"value": 1.12} and pue["Azure"]["unit"] == "1"
    assert all(r["source"] for r in j["priors"])
    text = cli(capsys, "priors", "show", "default", "--quantity", "cif", cwd=tmp_path)[1]
    assert "truncnormal" in text and "kg CO2e/kWh" in text and "source" in text
    good = tmp_path / "good.toml"
    good.write_text('[meta]\nschema = 1\nname = "mine"\nextends = "default"\n\n[cif]\n'
                    'Azure = { dist = "region", region = "virginia", rel_sd = 0.1, '
                    'unit = "kg CO2e/kWh" }\n')
    r = mcfoot("priors", "validate", "good.toml", cwd=tmp_path)
    assert r.stdout.strip() == "ok"
    j = json.loads(cli(capsys, "priors", "regions", "--json", cwd=tmp_path)[1])
    assert any(x["region"] == "ireland" and x["cif_kg_per_kwh"] == 0.28 for x in j["regions"])


def test_priors_validate_reports_every_problem(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('[meta]\nschema = 1\nname = "bad"\nextends = "paper"\n\n[pue.Azure]\n'
                   'dist = "fixed"\nvalue = 0.9\nunit = "1"\nsource = "x"\n\n[cif.Azure]\n'
                   'dist = "region"\nregion = "atlantis"\n')
    r = mcfoot("priors", "validate", "bad.toml", check=False, cwd=tmp_path)
    assert r.returncode == 2 and "2 problem(s)" in r.stderr
    assert "[pue.Azure]" in r.stderr and "unknown region 'atlantis'" in r.stderr
    rc, out, _ = cli(capsys, "priors", "validate", "bad.toml", "--json", cwd=tmp_path)
    j = json.loads(out)
    assert rc == 2 and j["ok"] is False and len(j["problems"]) == 2


def test_priors_validate_against_a_catalogue(tmp_path, capsys):
    import pandas as pd

    cat = pd.read_csv(shipped_path().parent / "catalogue_template.csv")
    cat["host"] = "my-dc"
    cat.to_csv(tmp_path / "mine.csv", index=False)
    rc, _, err = cli(capsys, "priors", "validate", "default", "--catalogue", "mine.csv",
                     cwd=tmp_path)
    assert rc == 2 and "my-dc" in err and "[pue.my-dc]" in err


# ---- bad input ------------------------------------------------------------------------------


BAD = [
    (["run", "--scenario", "nope", "--draws", "10", "-o", "out.nc"], "out.nc",
     "no shipped scenario 'nope'"),
    (["run", "--models", "not-a-model", "--draws", "10", "-o", "out.nc"], "out.nc",
     "unknown model(s) not-a-model"),
    (["run", "--draws", "0", "-o", "out.nc"], "out.nc", "draws must be a positive integer"),
    (["run", "--catalogue", "missing.csv", "--draws", "10", "-o", "out.nc"], "out.nc",
     "file not found"),
    (["run", "--draws", "10", "--models", "o3", "-o", "out.txt"], "out.txt",
     "unknown result format"),
    (["summary", "missing.nc"], None, "no such file"),
    (["plot", "forest", "WORK/default.nc", "--prompt", "huge", "-o", "fig.png"], "fig.png",
     "unknown prompt 'huge'"),
    (["plot", "forest", "WORK/default.nc", "--variable", "nope", "-o", "fig.png"], "fig.png",
     "no variable 'nope'"),
    (["plot", "forest", "WORK/default.nc", "-o", "fig.gif"], "fig.gif", "not supported"),
    (["plot", "distribution", "WORK/default.nc", "-o", "fig.png"], "fig.png", "needs --model"),
    (["plot", "tornado", "WORK/default.nc", "-o", "fig.png"], "fig.png",
     "no group with a 'input' dimension"),
    (["plot", "forest", "missing.nc", "-o", "fig.png"], "fig.png", "no such file"),
    (["priors", "show", "nope"], None, "no shipped scenario 'nope'"),
]


def assert_bad_in_process(rc, out, err, path: Path | None, text: str):
    assert rc == 2 and out == "", (rc, out, err)
    lines = err.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], err
    if path is not None:
        assert not path.exists()
        assert not list(path.parent.glob(f".{path.name}*")), "temporary file left behind"


@pytest.mark.parametrize("args, out, text", BAD, ids=[" ".join(b[0][:2]) + f" {i}"
                                                      for i, b in enumerate(BAD)])
def test_bad_input_exits_2_with_one_line_and_no_file(args, out, text, work, tmp_path, capsys):
    args = [a.replace("WORK", str(work)) for a in args]
    rc, o, e = cli(capsys, *args, cwd=tmp_path)
    assert_bad_in_process(rc, o, e, tmp_path / out if out else None, text)


@pytest.mark.parametrize("i", [0, 6])  # run with a bad scenario; plot with a bad prompt
def test_bad_input_through_the_real_command(i, work, tmp_path):
    args, out, text = BAD[i]
    r = mcfoot(*[a.replace("WORK", str(work)) for a in args], check=False, cwd=tmp_path)
    assert r.stdout == ""
    assert_bad(r, tmp_path / out, text)


def test_debug_shows_the_traceback(tmp_path, capsys):
    with pytest.raises(InputError, match="no such file"):
        main(["--debug", "summary", str(tmp_path / "missing.nc")])


@pytest.mark.parametrize("cmd", [
    ["compare", "--draws", "100"], ["estimate", "--model", "gpt-4o-mar", "--output-tokens", "300", "--draws", "100"],
    ["workload", "requests.csv"], ["summary", "out.nc"]])
def test_a_bad_csv_path_fails_before_the_work(cmd, tmp_path, capsys):
    """--csv into a folder that does not exist is refused first, with the folder named (the
    inputs named here do not exist either: the path check comes before reading them)."""
    rc, _, err = cli(capsys, *cmd, "--csv", str(tmp_path / "nowhere" / "t.csv"), cwd=tmp_path)
    assert rc == 2
    assert "output folder" in err and "nowhere" in err and "does not exist" in err
