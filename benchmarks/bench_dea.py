"""Benchmark: numba DEA solver vs scipy.optimize.linprog (HiGHS), one call per LP.

Study shape: n = 126 DMUs (model x prompt size), 5 inputs (energy, PUE, WUE site, WUE
source, CIF), 1 output (intelligence index), aggressive cross-efficiency, i.e. per draw
126 primary + 126 secondary LPs. Host columns (PUE, WUEs, CIF) take only ~6 distinct
values shared by many DMUs, so the LPs are heavily degenerate, as in the study.

Run: ``PYTHONPATH=. python benchmarks/bench_dea.py [--draws 1000] [--big 10000]``
"""

from __future__ import annotations

import argparse
import time

import numba
import numpy as np

from mcfoot.dea import cross_efficiency
from mcfoot.dea import reference as ref

N_UNITS, N_HOSTS = 126, 6


def study_like(rng, draws, n=N_UNITS):
    """Realistic random inputs (draws, n, 5) and fixed outputs (n, 1)."""
    hosts = rng.integers(0, N_HOSTS, size=n)
    host_cols = np.stack(
        [
            rng.uniform(1.1, 1.5, N_HOSTS),  # PUE
            rng.uniform(0.2, 1.2, N_HOSTS),  # WUE site (L/kWh)
            rng.uniform(1.0, 6.0, N_HOSTS),  # WUE source (L/kWh)
            rng.uniform(0.2, 0.6, N_HOSTS),  # CIF (kgCO2e/kWh)
        ],
        axis=1,
    )
    X = np.empty((draws, n, 5))
    # energy per query, Wh: lognormal spanning ~0.05-50 Wh, drawn per (draw, DMU)
    X[..., 0] = np.clip(rng.lognormal(np.log(1.5), 1.2, size=(draws, n)), 0.05, 50.0)
    # host properties: per-draw jitter of the ~6 host values, shared by all DMUs on a host
    jitter = rng.lognormal(0.0, 0.05, size=(draws, N_HOSTS, 4))
    X[..., 1:] = (host_cols[None] * jitter)[:, hosts]
    Y = rng.uniform(10.0, 70.0, size=(n, 1))  # intelligence index
    return X, Y


def timeit(fn, repeat=3):
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=1000, help="draws timed with numba (per-LP figure)")
    ap.add_argument("--linprog-draws", type=int, default=1, help="draws timed with linprog")
    ap.add_argument("--big", type=int, default=10000, help="draws for the full-run timing (0 to skip)")
    ap.add_argument("--seed", type=int, default=2025)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    X, Y = study_like(rng, max(args.draws, args.linprog_draws))
    lps_per_draw = 2 * N_UNITS
    print(f"DEA benchmark: n={N_UNITS} DMUs, 5 inputs, 1 output, aggressive cross-efficiency")
    print(f"numba threads: {numba.get_num_threads()}  (LPs per draw: {lps_per_draw})")

    cross_efficiency(X[:2], Y)  # compile / load cache

    Xl = X[: args.linprog_draws]
    t_lp, ce_ref = timeit(lambda: ref.cross_efficiency(Xl, Y, "aggressive"), repeat=1)
    us_lp = t_lp / (args.linprog_draws * lps_per_draw) * 1e6

    Xn = X[: args.draws]
    t_nb, ce_nb = timeit(lambda: cross_efficiency(Xn, Y, "aggressive"))
    us_nb = t_nb / (args.draws * lps_per_draw) * 1e6

    numba_threads = numba.get_num_threads()
    numba.set_num_threads(1)
    t_nb1, _ = timeit(lambda: cross_efficiency(Xn, Y, "aggressive"))
    numba.set_num_threads(numba_threads)
    us_nb1 = t_nb1 / (args.draws * lps_per_draw) * 1e6

    diff = np.max(np.abs(ce_nb[: args.linprog_draws] - ce_ref))
    print()
    print(f"{'solver':<34}{'draws':>7}{'LPs':>10}{'time [s]':>11}{'us / LP':>11}")
    print(f"{'scipy linprog (HiGHS), 1 call/LP':<34}{args.linprog_draws:>7}"
          f"{args.linprog_draws * lps_per_draw:>10}{t_lp:>11.3f}{us_lp:>11.1f}")  # fmt: skip
    print(f"{f'numba simplex, {numba_threads} threads':<34}{args.draws:>7}"
          f"{args.draws * lps_per_draw:>10}{t_nb:>11.3f}{us_nb:>11.3f}")  # fmt: skip
    print(f"{'numba simplex, 1 thread':<34}{args.draws:>7}"
          f"{args.draws * lps_per_draw:>10}{t_nb1:>11.3f}{us_nb1:>11.3f}")  # fmt: skip
    print()
    print(f"speed-up per LP: {us_lp / us_nb:,.0f}x ({numba_threads} threads), {us_lp / us_nb1:,.0f}x (1 thread)")
    print(f"max |cross-efficiency numba - HiGHS| on the linprog draws: {diff:.1e}")

    if args.big:
        Xb, Yb = study_like(np.random.default_rng(args.seed + 1), args.big)
        t_big, ce_big = timeit(lambda: cross_efficiency(Xb, Yb, "aggressive"), repeat=1)
        print(
            f"\nfull run: {args.big:,} draws x {N_UNITS} DMUs aggressive cross-efficiency "
            f"({args.big * lps_per_draw:,} LPs): {t_big:.2f} s "
            f"({t_big / (args.big * lps_per_draw) * 1e6:.2f} us/LP, {numba_threads} threads)"
        )
        assert np.isfinite(ce_big).all()


if __name__ == "__main__":
    main()
