"""All benchmarks in one run: ``python -m benchmarks`` from the repository root.

Prints one table of ratios measured side by side in this run (a) the sampler vs a per-row
NumPy implementation and vs the NumPy random-number floor, with peak memory vs output size;
(b) DEA per LP, numba vs ``scipy.optimize.linprog``; (c) the full ``mcfoot.rank()``; then
(d) the scaling curve (draws vs wall time and peak memory, in-memory and streaming); (e)
randomized quasi-Monte Carlo vs plain Monte Carlo at equal points (``bench_qmc``).
Memory: ``tracemalloc`` peak above the allocations alive before the call (NumPy array
buffers are traced).
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
import warnings
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_dea, bench_qmc, bench_sampler  # noqa: E402

import mcfoot  # noqa: E402


def dea_row(draws: int = 200) -> tuple[float, float]:
    """(us per LP numba, us per LP linprog) on the study-shaped problem of bench_dea."""
    from mcfoot.dea import cross_efficiency
    from mcfoot.dea import reference as ref

    X, Y = bench_dea.study_like(np.random.default_rng(2025), draws)
    cross_efficiency(X[:2], Y)
    lps = 2 * bench_dea.N_UNITS
    t_nb, _ = bench_dea.timeit(lambda: cross_efficiency(X, Y, "aggressive"))
    t_lp, _ = bench_dea.timeit(lambda: ref.cross_efficiency(X[:1], Y, "aggressive"), repeat=1)
    return t_nb / (draws * lps) * 1e6, t_lp / lps * 1e6


def rank_row(draws: int = 10_000):
    try:
        rank = importlib.import_module("mcfoot.rank").rank
    except ImportError:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # models without an index are named
        rank(mcfoot.simulate("default", 20, seed=0, progress=False))
        tree = mcfoot.simulate("default", draws, seed=0, progress=False)
        t0 = time.perf_counter()
        rank(tree)
        return time.perf_counter() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=100_000, help="sampler draws (100000)")
    ap.add_argument("--max-draws", type=int, default=10**6, help="largest scaling point")
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args(argv)
    if args.quick:
        args.draws, args.max_draws = 5_000, 10**4
    t_start = time.perf_counter()
    print(f"mcfoot {mcfoot.__version__} benchmarks; numba threads: {numba.get_num_threads()}, "
          f"numpy {np.__version__}")
    s = dict(bench_sampler.sampler_rows(args.draws))
    us_nb, us_lp = dea_row(50 if args.quick else 200)
    t_rank = rank_row(1_000 if args.quick else 10_000)
    rows = [
        (f"sampler: simulate('paper', {args.draws:,} draws, {s['n_rows']} rows)",
         f"{s['t_mcfoot']:.3f} s", "", ""),
        ("  vs per-row NumPy (loop over rows)", f"{s['t_numpy_rows']:.3f} s",
         f"{s['t_numpy_rows'] / s['t_mcfoot']:.1f}x faster", ">= 5x"),
        (f"  vs RNG floor ({2 * s['n_rows'] * args.draws:,} normals)", f"{s['t_rng']:.3f} s",
         f"{s['t_mcfoot'] / s['t_rng']:.2f}x the floor", "<= 1.5x"),
        ("  peak memory vs outputs (tracemalloc)", f"{s['peak_mb']:.0f} MB / {s['out_mb']:.0f} MB",
         f"{s['peak_mb'] / s['out_mb']:.2f}x outputs", "<= 1.5x"),
        ("DEA per LP: numba simplex vs linprog (HiGHS)", f"{us_nb:.2f} us / {us_lp:.0f} us",
         f"{us_lp / us_nb:.0f}x faster", ""),
    ]
    if t_rank is not None:
        rows.append((f"rank(): default, {1_000 if args.quick else 10_000:,} draws x 126 DMUs",
                     f"{t_rank:.2f} s", "", "< 10 s"))
    else:
        rows.append(("rank(): mcfoot.rank not available", "skipped", "", ""))
    w = max(len(r[0]) for r in rows) + 2
    print(f"\n{'benchmark':<{w}}{'measured':>24}{'ratio':>22}{'target':>10}")
    for r in rows:
        print(f"{r[0]:<{w}}{r[1]:>24}{r[2]:>22}{r[3]:>10}")

    sizes = [n for n in (10**3, 10**4, 10**5, 10**6, 10**7) if n <= args.max_draws]
    print(f"\nscaling ('paper', {s['n_rows']} rows; in-memory above 1e5 draws skipped: ~14 GB "
          f"per 1e6)")
    print(f"{'draws':>10}  {'mode':<26}{'time [s]':>10}{'peak [MB]':>12}")
    for n, mode, t, mb in bench_sampler.scaling_rows(sizes):
        ts = "skipped" if np.isnan(t) else f"{t:.2f}"
        ms = "" if np.isnan(mb) else f"{mb:.0f}"
        print(f"{n:>10,}  {mode:<26}{ts:>10}{ms:>12}")
    if args.quick:
        bench_qmc.main(points=1024, reps=4, rank_points=128, cost_points=8192)
    else:
        bench_qmc.main()
    print(f"\ntotal benchmark time: {time.perf_counter() - t_start:.0f} s")
    return 0
