"""Import on demand: ``import mcfoot`` and ``mcfoot --help`` load no heavy module.

A list of modules, not a timing (timings are side-by-side ratios in benchmarks): each check
runs a fresh interpreter and reads its ``sys.modules``.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

#: Loaded only when used: the sampler/DEA kernels (numba), arrays and files (numpy, xarray,
#: pandas, h5netcdf), statistics and plots (scipy.stats, arviz, matplotlib, SALib), clusters
#: (dask) and mcfoot's calibration stack.
HEAVY = ("numba", "llvmlite", "numpy", "scipy", "xarray", "pandas", "h5netcdf", "h5py",
         "matplotlib", "arviz", "SALib", "dask", "distributed", "mcfoot.calibrate",
         "mcfoot.simulate", "mcfoot.rank", "mcfoot.plots")
#: What ``mcfoot --help`` may not load: it lists the subcommands from ``cli.COMMANDS``
#: without building their parsers, so no array, file or statistics module, and no kernel.
HEAVY_FOR_HELP = (*HEAVY, "mcfoot._kernels", "mcfoot._order", "mcfoot._reduce", "mcfoot.dea")


def _modules(code: str) -> set[str]:
    out = subprocess.run([sys.executable, "-c", code + "\nimport json, sys\n"
                          "print(json.dumps(sorted(sys.modules)))"],
                         check=True, capture_output=True, text=True).stdout
    return set(json.loads(out.splitlines()[-1]))


def _loaded(modules: set[str], names) -> list[str]:
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


def test_import_mcfoot_loads_no_heavy_module():
    assert _loaded(_modules("import mcfoot"), HEAVY) == []


def test_help_loads_no_heavy_module():
    code = ("import contextlib, io, mcfoot.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    mcfoot.cli.main(['--help'])")
    assert _loaded(_modules(code), HEAVY_FOR_HELP) == []


def test_a_subcommand_builds_only_its_own_parser():
    code = ("import contextlib, io, mcfoot.cli\n"
            "with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):\n"
            "    mcfoot.cli.main(['--debug', 'priors', '--help'])")
    mods = _modules(code)
    assert "mcfoot.cli.priors" in mods
    assert _loaded(mods, ("mcfoot.cli.run", "mcfoot.cli.rank", "mcfoot.simulate")) == []


def test_lazy_api_resolves_to_the_functions():
    import mcfoot
    import mcfoot.rank  # the submodule import must not replace the function
    import mcfoot.simulate

    assert callable(mcfoot.rank) and mcfoot.rank.__module__ == "mcfoot.rank"
    assert mcfoot.simulate.__name__ == "simulate"
    assert sys.modules["mcfoot.rank"].rank is mcfoot.rank
    for name in mcfoot.__all__:
        assert getattr(mcfoot, name) is not None
    assert set(mcfoot.__all__) <= set(dir(mcfoot))
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        mcfoot.nope  # noqa: B018


def test_a_default_run_loads_no_scipy_stats():
    """Sampling the default scenario (truncated normals, betas, lognormals) uses
    scipy.special alone: scipy.stats (~0.8 s to import) stays unloaded in `mcfoot run`."""
    mods = _modules("import mcfoot\nmcfoot.simulate('default', 20, seed=0, progress=False)")
    assert _loaded(mods, ("scipy.stats",)) == []
