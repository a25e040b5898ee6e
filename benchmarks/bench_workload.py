"""Benchmark: ``mcfoot.workload`` on a synthetic 10^7-row request log (Parquet), and the
ratio against calling ``mcfoot.estimate`` once per request on a 10^4-row sample.

Targets (issue 15): 10^7 rows in < 60 s and < 2 GB on 2 cores.

The log mixes catalogue models with Zipf-like weights; input tokens are log-normal (median
600, a long tail to ~30k), output tokens log-normal (median 350), ``count`` is 1 (one row per
request), timestamps span a quarter. The workload run happens in a child process so its
peak resident memory (``ru_maxrss`` of the child, which includes Python, NumPy, numba and
pandas) is measured alone.

Run: ``python benchmarks/bench_workload.py [--rows 10000000] [--draws 10000]``
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

MODELS = ["gpt-4o-mar", "gpt-4o-mini", "gpt-4-1", "gpt-4-1-mini", "gpt-4-1-nano", "o3",
          "o4-mini-high", "gpt-5-medium", "gpt-5-mini-medium", "claude-4-sonnet",
          "claude-3-5-haiku", "claude-3-7-sonnet", "gemini-2-5-pro-vertex",
          "gemini-2-5-flash-vertex", "llama-3-3-70b", "llama-3-1-8b",
          "deepseek-r1-deepseek-128k", "deepseek-v3-deepseek", "grok-4", "mistral-medium-3"]


def synthetic(rows: int, seed: int = 0) -> pd.DataFrame:
    rs = np.random.default_rng(seed)
    w = 1.0 / np.arange(1, len(MODELS) + 1)
    model = pd.Categorical.from_codes(rs.choice(len(MODELS), rows, p=w / w.sum()), MODELS)
    t_in = np.minimum(rs.lognormal(np.log(600), 1.1, rows), 120_000).astype(np.int64)
    t_out = np.minimum(rs.lognormal(np.log(350), 0.9, rows), 30_000).astype(np.int64)
    ts = np.datetime64("2025-04-01") + rs.integers(0, 91 * 86400, rows).astype("timedelta64[s]")
    return pd.DataFrame({"model": model, "input_tokens": t_in, "output_tokens": t_out,
                         "timestamp": ts})


def child(path: str, draws: int, by: str) -> None:
    import mcfoot  # noqa: F401
    from mcfoot.workload import workload

    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the one EstimateWarning (requests outside sizes)
        tree = workload(path, draws=draws, by=by or None, progress=False)
    dt = time.perf_counter() - t0
    rows = int(tree["total"]["rows"])
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2 ** 20  # KiB -> GiB
    print(f"RESULT {rows} {dt:.3f} {peak:.3f} {tree.attrs['method'].split()[0]}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000)
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--by", default="model,month")
    ap.add_argument("--sample", type=int, default=10_000, help="rows of the ratio sample")
    ap.add_argument("--estimate-calls", type=int, default=200,
                    help="estimate() calls timed (the per-call time is scaled to the sample)")
    ap.add_argument("--child", nargs=3, metavar=("PATH", "DRAWS", "BY"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child[0], int(args.child[1]), args.child[2])
        return
    env = dict(os.environ, NUMBA_NUM_THREADS="2", OMP_NUM_THREADS="2",
               OPENBLAS_NUM_THREADS="2", MKL_NUM_THREADS="2")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        log = synthetic(args.rows)
        big = Path(tmp) / "log.parquet"
        log.to_parquet(big, index=False, row_group_size=1_000_000)
        small = Path(tmp) / "sample.parquet"
        sample = log.iloc[:args.sample].copy()
        sample.to_parquet(small, index=False)
        del log
        print(f"synthetic log: {args.rows:,} rows, {big.stat().st_size / 2 ** 20:.0f} MiB "
              f"Parquet, written in {time.perf_counter() - t0:.1f} s")
        cmd = [sys.executable, __file__, "--child"]
        subprocess.run(cmd + [str(small), "10", ""], env=env, check=True,
                       capture_output=True)  # warm the numba cache
        out = subprocess.run(cmd + [str(big), str(args.draws), args.by], env=env, check=True,
                             capture_output=True, text=True).stdout
        rows, dt, peak, method = out.split("RESULT ")[1].split()
        rows, dt, peak = int(rows), float(dt), float(peak)
        print(f"workload: {rows:,} rows x {args.draws:,} draws, by {args.by}, method {method}: "
              f"{dt:.1f} s ({rows / dt:,.0f} rows/s), peak RSS {peak:.2f} GiB "
              f"(targets: < 60 s, < 2 GiB)")
        out = subprocess.run(cmd + [str(small), str(args.draws), ""], env=env, check=True,
                             capture_output=True, text=True).stdout
        _, dt_s, _, method_s = out.split("RESULT ")[1].split()
        dt_s = float(dt_s)
    ratio_row(sample, args, dt_s, method_s)


def ratio_row(sample, args, dt_s, method_s):
    import mcfoot

    estimate = getattr(mcfoot, "estimate", None)
    if estimate is None:
        print("ratio: mcfoot.estimate is not available in this build")
        return
    k = min(args.estimate_calls, len(sample))
    if k < 1:
        return
    rows = sample.iloc[:k]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # estimate warns per request outside measured sizes
        estimate(str(rows.model.iloc[0]), 10, 100, draws=10)  # warm up
        t0 = time.perf_counter()
        for m, i, o in rows[["model", "input_tokens", "output_tokens"]].itertuples(index=False):
            estimate(str(m), int(o), int(i), draws=args.draws)
        per_call = (time.perf_counter() - t0) / k
    est = per_call * len(sample)
    print(f"ratio on a {len(sample):,}-row sample: estimate() per request {per_call * 1e3:.1f} "
          f"ms x {len(sample):,} = {est:.1f} s (timed on {k} calls) vs workload {dt_s:.2f} s "
          f"(method {method_s}): {est / dt_s:,.0f}x")


if __name__ == "__main__":
    main()
