"""Benchmark: first-use cost of the DEA kernels, cold (empty cache) vs warm (cached).

Each measurement runs in a fresh Python process with its own numba cache folder
(``MCFOOT_CACHE_DIR``), so "cold" is a new user's first call and "warm" the same call in
a second process (the cache loaded from disk). Per kernel (one DEA call on a tiny
problem: the cost is compiling or loading, not solving) and end to end
(``mcfoot rank`` of a small result file, the same command twice). Cold and warm of each
row are measured in one run, side by side; ``--repeat`` takes the minimum of each.

Run: ``python benchmarks/bench_compile.py [--repeat 2] [--draws 200]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

#: One DEA call per kernel specialisation a user can reach (tiny data: 4 units, 2 inputs).
CALLS = {
    "cross aggressive": "cross_efficiency(X, Y, 'aggressive')",
    "cross benevolent": "cross_efficiency(X, Y, 'benevolent')",
    "cross none": "cross_efficiency(X, Y, 'none')",
    "efficiency crs": "efficiency(X, Y)",
    "efficiency vrs": "efficiency(X, Y, rts='vrs')",
}

_SNIPPET = """
import time, numpy as np
t0 = time.perf_counter()
from mcfoot.dea import cross_efficiency, efficiency
t1 = time.perf_counter()
X = np.array([[[2.0, 3.0], [4.0, 1.0], [3.0, 3.0], [5.0, 2.0]]]); Y = np.ones((4, 1))
{call}
t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def _env(cache: Path) -> dict:
    env = dict(os.environ, MCFOOT_CACHE_DIR=str(cache))
    env.pop("NUMBA_CACHE_DIR", None)
    return env


def kernel_times(call: str, cache: Path) -> tuple[float, float]:
    """(import s, first call s) of ``call`` in a fresh process using ``cache``."""
    out = subprocess.run([sys.executable, "-c", _SNIPPET.format(call=call)], env=_env(cache),
                         check=True, capture_output=True, text=True).stdout.split()
    return float(out[0]), float(out[1])


def wall(cmd: list[str], cache: Path) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, env=_env(cache), check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="cold+warm pairs per row (minimum)")
    ap.add_argument("--draws", type=int, default=10_000, help="draws of the file `mcfoot rank` reads")
    ap.add_argument("--only", nargs="*", default=None, help="kernel rows to run (default all)")
    ap.add_argument("--no-rank", action="store_true", help="skip the end-to-end rank row")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mcfoot-bench-compile-"))
    try:
        print(f"{'kernel call':<22}{'cold [s]':>10}{'warm [s]':>10}{'cold/warm':>11}")
        for name, call in CALLS.items():
            if args.only and name not in args.only:
                continue
            cold = warm = float("inf")
            for r in range(args.repeat):
                cache = root / f"{name.replace(' ', '_')}-{r}"
                cold = min(cold, kernel_times(call, cache)[1])
                warm = min(warm, kernel_times(call, cache)[1])
                shutil.rmtree(cache)
            print(f"{name:<22}{cold:>10.2f}{warm:>10.3f}{cold / warm:>11.1f}")
        if args.no_rank:
            return
        mc = [sys.executable, "-m", "mcfoot"]
        result = root / "out.nc"
        wall([*mc, "run", "--scenario", "default", "--draws", str(args.draws), "-q", "-o",
              str(result)], root / "run-cache")
        cold = warm = float("inf")
        for r in range(args.repeat):
            cache = root / f"rank-{r}"
            cold = min(cold, wall([*mc, "rank", str(result), "-q"], cache))
            warm = min(warm, wall([*mc, "rank", str(result), "-q"], cache))
            shutil.rmtree(cache)
        print(f"{'mcfoot rank (' + str(args.draws) + ' dr)':<22}{cold:>10.2f}{warm:>10.3f}"
              f"{cold / warm:>11.1f}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
