"""Benchmark: first-use cost of the DEA kernels, cold (empty cache) vs warm (cached).

Each measurement runs in a fresh Python process with its own numba cache folder
(``MCFOOT_CACHE_DIR``), so "cold" is a new user's first call and "warm" the same call in
a second process (the cache loaded from disk). Per kernel (one DEA call on a tiny
problem: the cost is compiling or loading, not solving) and end to end
(``mcfoot rank`` of a small result file, the same command twice). Cold and warm of each
row are measured in one run, side by side; ``--repeat`` takes the minimum of each.

``--breakdown`` adds, per row, where a cold call's compile goes: one line per numba
function compiled (numba's ``numba:compile`` events; ``impl`` lines are numba's own
library functions), how many specialisations, its own time (its nested compiles
subtracted) and the part of that spent in LLVM (``numba:llvm_lock`` events: optimisation
and machine code), the rest being numba's front end (bytecode, inlining, type inference,
lowering to LLVM IR).

Run: ``python benchmarks/bench_compile.py [--repeat 2] [--draws 200] [--breakdown]``
"""

from __future__ import annotations

import argparse
import json
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


#: Run in the measured process before the call: records each compile's own and LLVM time.
_RECORDER = """
import json, sys, time
from numba.core import event
class _Rec(event.Listener):
    def __init__(self):
        self.stack, self.rows = [], {}
    def on_start(self, ev):
        if ev.kind == "numba:compile":
            self.stack.append([ev.data["dispatcher"].py_func, time.perf_counter(), 0.0, 0.0])
        else:
            self.llvm0 = time.perf_counter()
    def on_end(self, ev):
        now = time.perf_counter()
        if ev.kind == "numba:llvm_lock":
            if self.stack:
                self.stack[-1][3] += now - self.llvm0
            return
        fn, t0, child, llvm = self.stack.pop()
        key = fn.__module__ + "." + fn.__name__
        row = self.rows.setdefault(key, [0, 0.0, 0.0])
        row[0] += 1
        row[1] += now - t0 - child
        row[2] += llvm
        if self.stack:
            self.stack[-1][2] += now - t0
_rec = _Rec()
event.register("numba:compile", _rec)
event.register("numba:llvm_lock", _rec)
"""
_REPORT = "\nprint(json.dumps(_rec.rows), file=sys.stderr)\n"


def breakdown(code: str, cache: Path) -> dict:
    """{function: [compiles, own s, own LLVM s]} of running ``code`` in a fresh process."""
    err = subprocess.run([sys.executable, "-c", _RECORDER + code + _REPORT], env=_env(cache),
                         check=True, capture_output=True, text=True).stderr
    return json.loads(err.strip().splitlines()[-1])


def print_breakdown(rows: dict) -> None:
    """Rows of :func:`breakdown`, the most expensive first, numba's own functions summed."""
    ours = {k: v for k, v in rows.items() if k.startswith("mcfoot.")}
    rest = [sum(v[i] for k, v in rows.items() if k not in ours) for i in range(3)]
    lines = sorted(ours.items(), key=lambda kv: -kv[1][1]) + [("(numba's own impl)", rest)]
    for name, (n, own, llvm) in lines:
        print(f"  {name:<34}{n:>3} sig{own:>8.2f} s own{llvm:>7.2f} s LLVM"
              f"{own - llvm:>7.2f} s front end")
    tot = [sum(v[i] for v in rows.values()) for i in (1, 2)]
    print(f"  {'total':<34}{'':>6}{tot[0]:>8.2f} s{'':>4}{tot[1]:>7.2f} s{'':>5}"
          f"{tot[0] - tot[1]:>7.2f} s")


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


_RANK = """
from mcfoot.cli import main
try:
    main(["rank", {file!r}, "-q"])
except SystemExit:
    pass
"""


def kernel_rows(args, root: Path) -> None:
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
        if args.breakdown:
            cache = root / f"{name.replace(' ', '_')}-breakdown"
            print_breakdown(breakdown(_SNIPPET.format(call=call), cache))


def rank_row(args, root: Path) -> None:
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
    if args.breakdown:
        print_breakdown(breakdown(_RANK.format(file=str(result)), root / "rank-breakdown"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=1, help="cold+warm pairs per row (minimum)")
    ap.add_argument("--draws", type=int, default=10_000, help="draws of the file `mcfoot rank` reads")
    ap.add_argument("--only", nargs="*", default=None, help="kernel rows to run (default all)")
    ap.add_argument("--no-rank", action="store_true", help="skip the end-to-end rank row")
    ap.add_argument("--breakdown", action="store_true",
                    help="per row, one more cold run: each compiled function's own and LLVM time")
    args = ap.parse_args()
    root = Path(tempfile.mkdtemp(prefix="mcfoot-bench-compile-"))
    try:
        print(f"{'kernel call':<22}{'cold [s]':>10}{'warm [s]':>10}{'cold/warm':>11}")
        kernel_rows(args, root)
        if not args.no_rank:
            rank_row(args, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
