"""What the serving attribution costs: ``simulate('serving')`` vs ``simulate('paper')``.

Both run every catalogue row at the same number of draws, side by side in one process, best
of ``repeat`` wall times (the previous result freed first, see ``bench_sampler.timed``). The
serving scenario samples ~390 group streams (model-scoped parameter counts, hardware
choices, per-accelerator efficiencies) instead of ~0, builds 13 per-(model, draw) serving
arrays in NumPy and solves the batch per (row, draw) in the kernel (closed form for dense
models, 16 Newton steps for MoE). Run alone: ``python -m benchmarks.bench_serving``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numba

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_sampler import peak_bytes, timed, tree_bytes  # noqa: E402

import mcfoot  # noqa: E402
from mcfoot.simulate import build_plan  # noqa: E402


def serving_rows(draws: int = 100_000, repeat: int = 2) -> list[tuple[str, float, float, float]]:
    """(scenario, seconds, peak MB, output MB) for 'paper' and 'serving' at ``draws``."""
    out = []
    for sc in ("paper", "serving"):
        mcfoot.simulate(sc, 50, seed=0, progress=False)  # compile / warm caches
        t, tree = timed(lambda: mcfoot.simulate(sc, draws, seed=0, progress=False), repeat)
        out_mb = tree_bytes(tree) / 1e6
        del tree
        peak, tree = peak_bytes(lambda: mcfoot.simulate(sc, draws, seed=0, progress=False))
        del tree
        out.append((sc, t, peak / 1e6, out_mb))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_serving")
    ap.add_argument("--draws", type=int, default=100_000)
    args = ap.parse_args(argv)
    n_rows = int(build_plan("paper").present.sum())
    streams = {sc: len(build_plan(sc).group_streams()) for sc in ("paper", "serving")}
    print(f"serving vs paper: {args.draws:,} draws x {n_rows} rows, numba threads "
          f"{numba.get_num_threads()}")
    rows = serving_rows(args.draws)
    base = rows[0][1]
    print(f"{'scenario':<10}{'group streams':>15}{'time [s]':>10}{'vs paper':>10}"
          f"{'peak [MB]':>11}{'outputs [MB]':>14}")
    for sc, t, peak, out_mb in rows:
        print(f"{sc:<10}{streams[sc]:>15}{t:>10.2f}{t / base:>9.2f}x{peak:>11.0f}{out_mb:>14.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
