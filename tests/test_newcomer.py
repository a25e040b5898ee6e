"""A newcomer's first hour (issue 11): real-world exports accepted, every environment
failure one line and exit 2 with nothing left behind, signals, the tour's flags."""

import os
import re
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

import mcfoot
from mcfoot import InputError
from mcfoot.cli import main

TEMPLATE = Path(mcfoot.__file__).parent / "data" / "catalogue_template.csv"


def run_cli(args, capsys):
    rc = main(args)
    out, err = capsys.readouterr()
    return rc, out, err


# ---- valid real-world exports are accepted, with the same values -------------------------

@pytest.mark.parametrize("variant", ["bom", "crlf", "trailing_blank_rows", "all_three",
                                     "blank_row_in_middle"])
def test_spreadsheet_exports_accepted(tmp_path, variant):
    text = TEMPLATE.read_text()
    ncol = text.splitlines()[0].count(",")
    blank = "," * ncol + "\n"
    if variant == "blank_row_in_middle":
        lines = text.splitlines(keepends=True)
        text = "".join(lines[:2] + [blank] + lines[2:])
    if variant in ("trailing_blank_rows", "all_three"):
        text += blank * 3
    if variant in ("crlf", "all_three"):
        text = text.replace("\n", "\r\n")
    data = text.encode()
    if variant in ("bom", "all_three"):
        data = b"\xef\xbb\xbf" + data
    p = tmp_path / "export.csv"
    p.write_bytes(data)
    got, want = mcfoot.load_catalogue(p), mcfoot.load_catalogue(TEMPLATE)
    xr.testing.assert_identical(got.drop_attrs(), want.drop_attrs())


def test_toml_with_utf8_bom_accepted(tmp_path):
    p = tmp_path / "bom.toml"
    p.write_bytes(b"\xef\xbb\xbf" + b'[meta]\nschema = 1\nname = "bom"\nextends = "paper"\n')
    assert mcfoot.load_scenario(p).name == "bom"


# ---- extends is relative to the extending file, never to the cwd -------------------------

def _scenario(path: Path, extends: str, pue: float):
    path.write_text(f'[meta]\nschema = 1\nname = "{path.stem}"\nextends = "{extends}"\n'
                    f'[pue.Azure]\ndist = "fixed"\nvalue = {pue}\nunit = "1"\nsource = "t"\n')


def test_extends_resolved_from_the_extending_files_folder(tmp_path, monkeypatch):
    (tmp_path / "mine").mkdir()
    _scenario(tmp_path / "mine" / "base.toml", "paper", 1.11)
    (tmp_path / "mine" / "child.toml").write_text(
        '[meta]\nschema = 1\nname = "child"\nextends = "base.toml"\n')
    _scenario(tmp_path / "base.toml", "paper", 1.99)  # a decoy in the cwd
    monkeypatch.chdir(tmp_path)
    sc = mcfoot.load_scenario(Path("mine") / "child.toml")
    assert sc.priors["pue"][("Azure",)].dist.params["value"] == 1.11
    assert [Path(f).resolve() for f in sc.files[:2]] == \
        [(tmp_path / "mine" / f).resolve() for f in ("child.toml", "base.toml")]


def test_new_host_of_own_catalogue_accepted_and_misspelling_refused(tmp_path):
    cat = tmp_path / "mine.csv"
    cat.write_text(TEMPLATE.read_text().replace(",AWS,", ",my-dc,"))
    body = "".join(f'[{q}."my-dc"]\ndist = "fixed"\nvalue = {v}\nunit = "{u}"\nsource = "t"\n'
                   for q, v, u in (("pue", 1.2, "1"), ("wue_site", 0.2, "L/kWh"),
                                   ("wue_source", 3.0, "L/kWh"), ("cif", 0.3, "kg CO2e/kWh"),
                                   ("cif_market", 0.1, "kg CO2e/kWh")))
    ok = tmp_path / "ok.toml"
    ok.write_text('[meta]\nschema = 1\nname = "ok"\nextends = "default"\n' + body)
    assert mcfoot.simulate(ok, 3, catalogue=cat)["footprint"].sizes["model"] == 1
    bad = tmp_path / "bad.toml"
    bad.write_text(ok.read_text().replace('[cif."my-dc"]', '[cif."my-cd"]'))
    with pytest.raises(InputError, match=r"\[cif.my-cd\] matches no host of catalogue "
                                         r"mine.csv \(closest: my-dc\)"):
        mcfoot.simulate(bad, 3, catalogue=cat)


def test_whole_scenario_with_a_look_alike_host_is_refused(tmp_path, capsys):
    """A whole scenario file (no ``extends``) is checked like an override: a quoted
    look-alike host key (Cyrillic and accented letters for 'Azure') under [pue] matches no
    catalogue host and would do nothing; it is refused, naming the key and the known hosts."""
    from mcfoot.priors import scenario_path

    whole = tmp_path / "whole.toml"
    whole.write_text(Path(scenario_path("paper")).read_text(encoding="utf-8"), encoding="utf-8")
    assert mcfoot.simulate(whole, 3, models=["gpt-4o-mar"])["footprint"].sizes["draw"] == 3
    bad = tmp_path / "bad.toml"
    bad.write_text(whole.read_text(encoding="utf-8") + '\n[pue."\u00c4z\u00fcr\u0435"]\n'
                   'dist = "fixed"\nvalue = 1.2\nunit = "1"\nsource = "t"\n', encoding="utf-8")
    with pytest.raises(InputError, match=r"\[pue.\u00c4z\u00fcr\u0435\] matches no host of "
                                         r"catalogue catalogue_2025-10-26.csv \((closest|known): .*Azure"):
        mcfoot.simulate(bad, 3, models=["gpt-4o-mar"])
    rc, out, err = run_cli(["run", "--scenario", str(bad), "--draws", "3",
                            "-o", str(tmp_path / "x.nc")], capsys)
    assert rc == 2 and "matches no host" in err and not (tmp_path / "x.nc").exists()


def test_validate_with_catalogue_reports_misspelled_override(capsys):
    bad = Path(__file__).parent / "bad_inputs" / "override_misspelled_host.toml"
    rc, out, err = run_cli(["priors", "validate", str(bad), "--catalogue",
                            str(Path(mcfoot.__file__).parent / "data" /
                                "catalogue_2025-10-26.csv")], capsys)
    assert rc == 2 and "matches no host" in err and "closest: Azure" in err and out == ""
    rc, out, err = run_cli(["priors", "validate", str(bad)], capsys)  # shipped catalogue
    assert rc == 0 and out == "ok\n"  # without a catalogue a new key may be a new host


# ---- long error lists are capped -----------------------------------------------------------

def test_long_error_list_capped(tmp_path, capsys):
    lines = TEMPLATE.read_text().splitlines()
    rows = [lines[1].replace("my-model", f"m{i}").replace(",AWS,", ",,") for i in range(40)]
    p = tmp_path / "many.csv"
    p.write_text("\n".join([lines[0], *rows]) + "\n")
    with pytest.raises(InputError) as e:
        mcfoot.load_catalogue(p)
    assert len(e.value.problems) == 40
    rc, out, err = run_cli(["run", "--catalogue", str(p), "--scenario", "paper", "-q",
                            "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err.count("\n") == 1 and "40 problems" in err
    assert err.count("is empty; fill it in") == 5 and "and 35 more" in err
    assert len(err) < 700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["many.csv"]


# ---- resources, outputs, extras, seeds -----------------------------------------------------

@pytest.mark.parametrize("draws", ["10000000000", "100000000"])
def test_run_that_cannot_fit_in_memory_is_refused(tmp_path, capsys, draws):
    rc, out, err = run_cli(["run", "--scenario", "paper", "--draws", draws, "-q",
                            "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert f"an in-memory run of {int(draws):,} draws x 194 catalogue rows needs about" in err
    assert "--workers 2 --chunk-draws 65536" in err and "mcfoot.stream.stream()" in err
    assert list(tmp_path.iterdir()) == []


def test_memory_estimate_matches_the_arrays():
    from mcfoot.simulate import build_plan, run_bytes

    for sc in ("paper", "default"):
        tree = mcfoot.simulate(sc, 500, 0)
        held = sum(n.to_dataset(inherit=False).nbytes for n in tree.subtree)
        est = run_bytes(build_plan(sc), 500)
        assert 0.8 * held < est < 1.3 * held  # catalogue group and coords are the rest


def test_memory_limit_is_read(monkeypatch, tmp_path, capsys):
    from mcfoot import _resources

    monkeypatch.setattr(_resources, "available_memory", lambda: 10 * 2 ** 20)
    rc, out, err = run_cli(["run", "--scenario", "paper", "--draws", "20000", "-q",
                            "-o", str(tmp_path / "o.nc")], capsys)
    # the size itself is checked against a real run in the test above
    assert rc == 2 and re.search(r"needs about \d+\.\d MiB of memory but 10\.0 MiB are "
                                 r"available", err)


@pytest.mark.parametrize("seed", ["-1", "-12345"])
def test_negative_seed(tmp_path, capsys, seed):
    rc, out, err = run_cli(["run", "--scenario", "paper", "--draws", "2", "--seed", seed,
                            "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err == (f"mcfoot run: error: seed must be a non-negative integer, got "
                               f"{seed}; use e.g. {seed[1:]}\n")
    with pytest.raises(InputError, match="non-negative"):
        mcfoot.simulate("paper", 2, seed=int(seed))


@pytest.mark.parametrize("cmd", [["run", "--scenario", "paper", "--draws", "2"],
                                 ["plot", "forest", "RESULT"]])
def test_output_is_a_directory(tmp_path, capsys, cmd, paper_nc):
    out = tmp_path / ("out.png" if "plot" in cmd else "out.nc")
    out.mkdir()
    args = [paper_nc if a == "RESULT" else a for a in cmd] + ["-q", "-o", str(out)]
    rc, _, err = run_cli(args, capsys)
    assert rc == 2 and err.count("\n") == 1
    assert f"{out}: is a folder; give a file name, e.g. {out}/out." in err
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


@pytest.fixture(scope="module")
def paper_nc(tmp_path_factory):
    p = tmp_path_factory.mktemp("res") / "paper.nc"
    mcfoot.write_tree(mcfoot.simulate("paper", 50, 0), p)
    return str(p)


@pytest.mark.parametrize("errno_name", ["EACCES", "EROFS", "ENOSPC"])
@pytest.mark.parametrize("cmd", ["run", "plot"])
def test_unwritable_folder(tmp_path, capsys, monkeypatch, errno_name, cmd, paper_nc):
    import errno
    import tempfile

    code = getattr(errno, errno_name)

    def refuse(*a, **k):
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    args = ["run", "--scenario", "paper", "--draws", "2", "-o", str(tmp_path / "o.nc")] \
        if cmd == "run" else ["plot", "forest", paper_nc, "-o", str(tmp_path / "o.png")]
    rc, _, err = run_cli(args + ["-q"], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert f"cannot write in folder {tmp_path} ({os.strerror(code)}); choose a folder" in err
    assert list(tmp_path.iterdir()) == []


def test_full_disk_refused_before_writing(tmp_path, capsys, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(
        10 * 2 ** 20, 10 * 2 ** 20 - 2 ** 20, 2 ** 20))
    rc, _, err = run_cli(["run", "--scenario", "paper", "--draws", "1000", "-q",
                          "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err.count("\n") == 1
    assert re.search(rf"writing o\.nc needs about \d+\.\d MiB but {re.escape(str(tmp_path))} "
                     r"has 1\.0 MiB free", err)
    assert list(tmp_path.iterdir()) == []


def test_write_failure_midway_leaves_nothing(tmp_path, capsys, monkeypatch):
    import errno

    def full(groups, path):
        Path(path).write_bytes(b"partial")
        raise OSError(errno.ENOSPC, "Can't write data (file write failed ... 59 lines)")

    from mcfoot import _netcdf

    monkeypatch.setattr(_netcdf, "write", full)
    rc, _, err = run_cli(["run", "--scenario", "paper", "--draws", "5", "-q",
                          "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err == (f"mcfoot run: error: {tmp_path / 'o.nc'}: writing failed "
                               f"(No space left on device); nothing was written\n")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("workers", ["4", "0"])
def test_workers_without_dask_extra(tmp_path, capsys, monkeypatch, workers):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda n, *a: None if n in ("dask", "distributed") else real(n, *a))
    rc, _, err = run_cli(["run", "--scenario", "paper", "--draws", "2", "--workers", workers,
                          "-o", str(tmp_path / "o.nc")], capsys)
    assert rc == 2 and err.count("\n") == 1
    if workers == "0":
        assert "--workers must be a positive integer, got 0" in err
    else:
        assert ("--workers/--dask-scheduler needs the `dask` extra (dask, distributed not "
                "installed); install it with: python3 -m pip install 'mcfoot[dask]'") in err
    assert list(tmp_path.iterdir()) == []


# ---- signals: no partial file ---------------------------------------------------------------

SLOW_WRITE = textwrap.dedent("""
    import signal, sys, time
    from mcfoot import _netcdf
    from mcfoot.cli import main
    # Ctrl-C as in a terminal: a test run started in the background of a non-interactive
    # shell (CI's parallel jobs) inherits SIGINT ignored, and Python then keeps it ignored
    signal.signal(signal.SIGINT, signal.default_int_handler)
    real = _netcdf.write
    def slow(groups, path):
        real(groups, path)                    # the temporary file is complete on disk...
        print("WRITING", flush=True)
        time.sleep(60)                        # ...but not yet renamed when the signal comes
    _netcdf.write = slow
    sys.exit(main(sys.argv[1:]))
""")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_signal_mid_write_leaves_no_file(tmp_path, sig):
    p = subprocess.Popen([sys.executable, "-c", SLOW_WRITE, "run", "--scenario", "paper",
                          "--draws", "20", "-q", "-o", "out.nc"], cwd=tmp_path,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline() == "WRITING\n"
        assert [f.name.endswith(".part") for f in tmp_path.iterdir()] == [True]
        p.send_signal(sig)
        out, err = p.communicate(timeout=60)
    finally:
        p.kill()
    assert p.returncode == 128 + sig
    name = "SIGTERM" if sig == signal.SIGTERM else None
    assert err == (f"mcfoot: terminated by {name}; no partial file is left\n" if name else
                   "mcfoot: interrupted; no partial file is left\n")
    assert list(tmp_path.iterdir()) == []


# ---- the tour ---------------------------------------------------------------------------------

def test_version(capsys):
    with pytest.raises(SystemExit) as e:
        main(["--version"])
    assert e.value.code == 0 and capsys.readouterr().out == f"mcfoot {mcfoot.__version__}\n"


def test_submodules_are_lazy_attributes():
    code = ("import sys, mcfoot; lazy = [m for m in ('mcfoot.plots', 'mcfoot.sensitivity', "
            "'mcfoot.claims', 'mcfoot.scale') if m in sys.modules]; "
            "print(lazy, mcfoot.sensitivity.__name__, mcfoot.claims.__name__, "
            "mcfoot.scale.__name__, callable(mcfoot.plots.forest))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "[] mcfoot.sensitivity mcfoot.claims mcfoot.scale True\n"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mcfoot.nope  # noqa: B018


def test_compile_note_only_when_not_cached(monkeypatch, capsys):
    from mcfoot import _numba
    from mcfoot.cli import compile_note

    class Args:
        quiet, command = False, "rank"

    monkeypatch.setattr(_numba, "is_compiled_on_disk", lambda d: False)
    compile_note(Args(), "dea")
    assert capsys.readouterr().err == (
        f"mcfoot rank: compiling the DEA kernels on first use (up to a minute, once; cached in "
        f"{_numba.cache_dir()})\n")
    Args.quiet = True
    compile_note(Args(), "dea")
    monkeypatch.setattr(_numba, "is_compiled_on_disk", lambda d: True)
    Args.quiet = False
    compile_note(Args(), "dea")
    assert capsys.readouterr().err == ""


def test_kernel_cache_is_outside_the_package():
    from mcfoot import _kernels, _numba
    from mcfoot.dea import lp

    pkg = Path(mcfoot.__file__).resolve().parent
    for k in (_kernels._footprint, lp._cross_batch):
        path = Path(k._cache._cache_path).resolve()
        assert path.is_relative_to(_numba.cache_dir().resolve()) and \
            not path.is_relative_to(pkg)
    mcfoot.simulate("paper", 2)
    assert _numba.is_compiled_on_disk(_kernels._footprint)
    assert not list(pkg.rglob("*.nbi")) and not list(pkg.rglob("*.nbc"))


# ---- the tour: -o for sensitivity / scale / rank, read back by `mcfoot plot` --------------------

@pytest.fixture(scope="module")
def default_nc(tmp_path_factory):
    p = tmp_path_factory.mktemp("res") / "default.nc"
    mcfoot.write_tree(mcfoot.simulate("default", 60, 0), p)
    return str(p)


@pytest.mark.parametrize("cmd, kind, extra", [
    (["sensitivity", "--model", "gpt-4o-mar", "--prompt", "medium", "--method", "prcc",
      "--n", "200"], "tornado", ["--measure", "prcc"]),
    (["scale", "--input", "RESULT"], "scale", ["--variable", "electricity_mwh"]),
    (["rank", "RESULT"], "rank", []),
])
def test_output_file_readable_by_plot(tmp_path, capsys, default_nc, cmd, kind, extra):
    res = tmp_path / "res.nc"
    args = [default_nc if a == "RESULT" else a for a in cmd] + ["-q", "-o", str(res)]
    rc, out, err = run_cli(args, capsys)
    assert rc == 0 and res.is_file() and out  # the table is still printed
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
    rc, _, err = run_cli(["plot", kind, str(res), *extra, "-q", "-o", str(tmp_path / "f.png")],
                         capsys)
    assert rc == 0, err
    assert (tmp_path / "f.png").stat().st_size > 10_000


def test_output_option_checked_before_computing(tmp_path, capsys, default_nc):
    rc, _, err = run_cli(["rank", default_nc, "-o", str(tmp_path / "no" / "r.nc")], capsys)
    assert rc == 2 and err == (f"mcfoot rank: error: output folder {tmp_path / 'no'} does not "
                               f"exist; create it first\n")


# ---- tables fit 100 columns, numbers aligned ----------------------------------------------------

@pytest.mark.parametrize("cmd", [["summary", "RESULT"], ["rank", "RESULT"],
                                 ["claims", "--input", "RESULT"], ["scale", "--input", "RESULT"],
                                 ["priors", "show", "default"], ["priors", "show", "physical"],
                                 ["priors", "list"], ["priors", "regions"],
                                 ["sensitivity", "--model", "gpt-4o-mar", "--method", "prcc",
                                  "--n", "100"]])
def test_tables_fit_100_columns(capsys, default_nc, cmd):
    rc, out, _ = run_cli([default_nc if a == "RESULT" else a for a in cmd] + ["-q"], capsys)
    assert rc == 0
    widths = [len(line) for line in out.splitlines()]
    assert max(widths) <= 100, max(widths)


def test_summary_columns_align(capsys, default_nc):
    rc, out, _ = run_cli(["summary", default_nc], capsys)
    rows = [line for line in out.splitlines() if line.startswith("  ") and "[" in line]
    assert len(rows) == 194
    for line in rows:  # every "[" and "]" of a column at the same place
        assert [i for i, c in enumerate(line) if c in "[]"] == \
            [i for i, c in enumerate(rows[0]) if c in "[]"]
    assert "short prompts (100 input / 300 output tokens)" in out


def test_summary_numbers():
    from mcfoot.cli.summary import num

    assert [num(x) for x in (0.4213, 4.213, 42.13, 421.3, 4213, 0.04213, 0.0004213, 0.0)] == \
        ["0.421", " 4.21", " 42.1", "  421", " 4213", "0.042", "4e-04", "0.000"]


def test_scale_numbers():
    from mcfoot.cli.scale import sig

    assert [sig(x) for x in (150702.3, 0.58982, 1.2345e16, 9999.5, 12.0)] == \
        ["150,700", "0.5898", "1.234e+16", "10,000", "12.00"]


def test_rank_header_counts_models(capsys, default_nc):
    rc, out, _ = run_cli(["rank", default_nc, "-q"], capsys)
    assert "[pooled] 42 models ranked as 126 DMUs (model x prompt size, pooled)" in out


def test_claims_help_has_no_double_percent(capsys):
    with pytest.raises(SystemExit):
        main(["claims", "--help"])
    out = capsys.readouterr().out
    assert "95% interval" in out and "%%" not in out


# ---- figures explain themselves --------------------------------------------------------------------

def _tick_texts(axis):
    axis.axes.figure.canvas.draw()
    return [t.get_text() for t in axis.get_majorticklabels() if t.get_text()]


def test_forest_title_in_words_with_scenario_and_decimal_ticks(default_nc):
    from mcfoot import plots

    ax = plots.forest(mcfoot.read_tree(default_nc), "energy_wh", "medium")
    assert ax.get_title().startswith("Facility energy per query (Wh), medium prompts (1000/1000 "
                                     "input/output tokens)\nscenario 'default': median")
    ticks = _tick_texts(ax.xaxis)
    assert "1" in ticks and "10" in ticks and not any("10^" in t or "$" in t for t in ticks)


def test_distribution_ticks_over_a_narrow_range_are_decimals():
    from mcfoot import plots

    da = xr.DataArray(np.geomspace(0.5, 3, 200), dims="draw",
                      attrs={"units": "Wh", "long_name": "facility energy per query"})
    ax = plots.distribution({"a": da}, "m", "medium")
    lo, hi = ax.get_xlim()
    assert [t for t in _tick_texts(ax.xaxis) if lo <= float(t) <= hi] == ["0.5", "1", "2", "3"]
    assert ax.get_title().startswith("Facility energy per query (Wh) of m, medium prompts")


def test_rank_heatmap_scale_marks_and_excluded_note(default_nc):
    import warnings

    from matplotlib.colors import PowerNorm

    from mcfoot import plots

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        r = mcfoot.rank(mcfoot.read_tree(default_nc))
    ax = plots.rank(r)
    im = ax.images[0]
    assert isinstance(im.norm, PowerNorm) and im.norm.gamma == 0.5
    assert im.get_cmap().name == "magma_r"
    assert "scenario 'default', 60 draws" in ax.get_title()
    assert "DEA cross-efficiency (aggressive)" in ax.get_title()
    assert "inputs energy, PUE, WUE site, WUE source, CIF; output intelligence index" in \
        ax.get_title()
    notes = [t.get_text() for t in ax.texts]
    assert any(t.startswith("24 model(s) without intelligence index are left out: ")
               for t in notes)
    modes, = [ln for ln in ax.lines if ln.get_marker() == "o"]
    p = r["rank_probability"].values
    order = np.argsort(r["expected_rank"].values, kind="stable")
    np.testing.assert_array_equal(modes.get_xdata(), np.argmax(p[order], axis=1))


def test_scale_single_total_labelled_in_words(default_nc):
    from mcfoot import plots
    from mcfoot.scale import scale

    ds = scale(mcfoot.read_tree(default_nc), "gpt-4o-mar")
    ax = plots.scale(ds, "electricity_mwh", log=None)
    assert ax.get_yscale() == "linear"  # the interval spans less than a factor of ten
    assert [t.get_text() for t in ax.get_xticklabels()] == ["facility electricity over the period"]
    assert ax.get_title().startswith("Fleet totals: gpt-4o-mar, 255.5 billion queries")


def test_file_size_estimate_is_an_upper_bound(tmp_path):
    """The free-space check must not underestimate: HDF5 can crash when the disk fills."""
    from mcfoot.io import file_bytes, with_cf_attrs

    for sc, draws in (("paper", 1), ("default", 300), ("physical", 30)):
        tree = mcfoot.simulate(sc, draws, 0)
        p = mcfoot.write_tree(tree, tmp_path / f"{sc}.nc")
        size = p.stat().st_size
        assert size <= file_bytes(with_cf_attrs(tree)) <= size + 2 * 2 ** 20
