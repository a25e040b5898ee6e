"""Benchmark: the full default ``mcfoot.rank()`` (the study's set-up: 126 model x prompt DMUs,
5 inputs, aggressive cross-efficiency in every draw) next to the ``simulate()`` it ranks.

Target: rank() of 10,000 draws in < 10 s on 2 cores.

Run: ``python benchmarks/bench_rank.py [--draws 10000] [--scenario default]``
"""

from __future__ import annotations

import argparse
import time
import warnings

import numba

import mcfoot


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--scenario", default="default")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the 24 models without an index
        # warm up: numba caches load/compile outside the timed runs
        mcfoot.rank(mcfoot.simulate(args.scenario, draws=20, seed=args.seed, progress=False))
        t0 = time.perf_counter()
        tree = mcfoot.simulate(args.scenario, draws=args.draws, seed=args.seed, progress=False)
        t1 = time.perf_counter()
        r = mcfoot.rank(tree)
        t2 = time.perf_counter()
        rp = mcfoot.rank(tree, pool_prompts=False)
        t3 = time.perf_counter()
    print(f"rank benchmark: scenario '{args.scenario}', {args.draws:,} draws, "
          f"numba threads: {numba.get_num_threads()}")
    print(f"{'step':<48}{'time [s]':>10}")
    print(f"{'simulate()':<48}{t1 - t0:>10.2f}")
    label = f"rank() default: pooled, {r.attrs['n_dmus']} DMUs, study inputs"
    print(f"{label:<48}{t2 - t1:>10.2f}")
    print(f"{'rank(pool_prompts=False): 3 DEAs of 42 DMUs':<48}{t3 - t2:>10.2f}")
    print(f"target for rank() default: < 10 s -> {'met' if t2 - t1 < 10 else 'NOT met'}")


if __name__ == "__main__":
    main()
