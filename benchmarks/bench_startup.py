"""Issue 25 items 2 and 3, side by side: what a new user waits for before the first number.

Rows, each a fresh Python process (``sys.executable``), best of ``--repeat``, the processes
of one repetition run one after the other so they see the same load:

- ``import numpy, scipy.special, xarray``: the reference (the arrays and files any run needs);
- ``import mcfoot`` and ``mcfoot --help``: targets <= 1.3x the reference;
- a warm ``mcfoot run --scenario default --draws 10000 -o FILE`` (kernel cache filled by a
  run before timing): its own "loaded / sampled / written" report, target sampled <= 1.5x
  the reference and written <= sampled; also with ``--variables`` of the study's three.

Run: ``python benchmarks/bench_startup.py [--repeat 5] [--draws 10000]``
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REFERENCE = "import numpy, scipy.special, xarray"
STUDY_THREE = ("energy_wh", "water_ml", "carbon_g")
#: ``mcfoot run``'s timing line (mcfoot/cli/run.py)
TIMES = re.compile(r"loaded in ([\d.]+) s, sampled in ([\d.]+) s, written to .* in ([\d.]+) s")


def wall(cmd: list[str], env: dict, cwd: str) -> tuple[float, str]:
    """(wall s, stderr) of one fresh process."""
    t0 = time.perf_counter()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, r.stderr


def run_times(cmd: list[str], env: dict, cwd: str) -> tuple[float, float, float]:
    """(loaded, sampled, written) s that ``mcfoot run`` reports."""
    _, err = wall(cmd, env, cwd)
    m = TIMES.search(err)
    if m is None:
        raise RuntimeError(f"no timing line in mcfoot run's output: {err[-300:]!r}")
    return tuple(float(g) for g in m.groups())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5, help="repetitions (best of)")
    ap.add_argument("--draws", type=int, default=10_000, help="draws of the timed run")
    args = ap.parse_args()
    py = sys.executable
    with tempfile.TemporaryDirectory(prefix="mcfoot-bench-startup-") as tmp:
        env = dict(os.environ, MCFOOT_CACHE_DIR=str(Path(tmp) / "cache"))
        env.pop("NUMBA_CACHE_DIR", None)
        run = [py, "-m", "mcfoot", "run", "--scenario", "default", "--draws", str(args.draws),
               "-o", "out.nc"]
        few = [*run, "--variables", *STUDY_THREE]
        wall(run, env, tmp)  # fills the kernel cache: the timed runs are warm
        procs = {"reference": [py, "-c", REFERENCE], "import mcfoot": [py, "-c", "import mcfoot"],
                 "mcfoot --help": [py, "-m", "mcfoot", "--help"]}
        best = dict.fromkeys(procs, float("inf"))
        runs = {"all": [float("inf")] * 3, "study's 3": [float("inf")] * 3}
        for _ in range(args.repeat):
            for name, cmd in procs.items():
                best[name] = min(best[name], wall(cmd, env, tmp)[0])
            for name, cmd in (("all", run), ("study's 3", few)):
                runs[name] = [min(a, b) for a, b in zip(runs[name], run_times(cmd, env, tmp))]
    ref = best["reference"]
    print(f"best of {args.repeat}, fresh processes, one after the other; {py}")
    print(f"{'measured':<52}{'s':>8}{'ratio':>18}{'target':>10}")
    print(f"{REFERENCE:<52}{ref:>8.3f}")
    for name in ("import mcfoot", "mcfoot --help"):
        print(f"{name:<52}{best[name]:>8.3f}{best[name] / ref:>14.2f}x ref{'<= 1.3x':>10}")
    for name, (loaded, sampled, written) in runs.items():
        head = f"run default {args.draws} draws, {name} outputs:"
        print(f"{head + ' sampled':<52}{sampled:>8.3f}{sampled / ref:>14.2f}x ref{'<= 1.5x':>10}")
        print(f"{'  written':<52}{written:>8.3f}{written / sampled:>10.2f}x sampled"
              f"{'<= 1.0x':>10}")
        print(f"{'  loaded (scenario and catalogue read, validated)':<52}{loaded:>8.3f}")


if __name__ == "__main__":
    main()
