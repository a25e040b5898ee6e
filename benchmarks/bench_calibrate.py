"""Calibration on the shipped evidence: time to an effective sample size, ESS per second,
Pareto k̂ per entry (leave-one-out reweighting) and the tempering steps.

    python benchmarks/bench_calibrate.py [--scenario serving] [--draws 4000] [--min-ess 2000]

Target (issue 14): ESS >= 2,000 in under 60 s on 2 cores. The time depends on the machine's
load; the script prints the load average beside it, and the cost of one likelihood
evaluation (the unit every method pays per draw) so that runs on different machines compare.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import importlib  # noqa: E402

from mcfoot import rng, tempering  # noqa: E402

cal = importlib.import_module("mcfoot.calibrate")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--scenario", default="serving")
    ap.add_argument("--draws", type=int, default=4000)
    ap.add_argument("--min-ess", type=int, default=2000)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    warnings.simplefilter("ignore")
    calls = {"n": 0, "draws": 0}
    orig = tempering.evaluate

    def counted(f, z, chunk):
        calls["n"] += 1
        calls["draws"] += z.shape[1]
        return orig(f, z, chunk)

    tempering.evaluate = counted
    lik = cal.Likelihood(cal.load_scenario(a.scenario), cal.shipped_observations())
    z = np.stack([rng.standard_normals(rng.normalize_seed(9), s, 0, 1000) for s in lik.streams])
    lik(z[:, :10])
    t0 = time.perf_counter()
    lik(z)
    per_draw = (time.perf_counter() - t0) / 1000
    t0 = time.perf_counter()
    tree = cal.calibrate(a.scenario, draws=a.draws, min_ess=a.min_ess, seed=a.seed,
                         footprint=False)
    wall = time.perf_counter() - t0
    at = tree.attrs
    res = cal.loo(tree)
    print(f"scenario {a.scenario}: {len(lik.obs)} entries, {len(lik.streams)} shared inputs, "
          f"{a.draws} draws; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    print(f"method {at['method']} ({at['tempering_steps']} tempering steps); prior IS k̂ "
          f"{at['prior_khat']:.2f}, ESS {at['prior_ess']:.0f}")
    print(f"wall {wall:.1f} s; ESS {at['ess']:.0f} (asked {a.min_ess}); ESS/s "
          f"{at['ess'] / wall:.0f}; {calls['n']} likelihood evaluations of "
          f"{calls['draws']} draws, {1e3 * per_draw:.2f} ms per draw "
          f"(target: ESS >= 2000 in < 60 s: {'met' if at['ess'] >= 2000 and wall < 60 else 'NOT met'})")
    print(f"mixing: {at['mixing']} (max correlation {at['max_correlation']:.3f})")
    if "tempering" in tree.children:
        print(tree["tempering"].to_dataset().to_dataframe().round(3).to_string())
    print(f"leave-one-out k̂ per entry (load average now {os.getloadavg()[0]:.1f}):")
    for e in res.entry.values:
        print(f"  {str(e):48s} k̂ {float(res.khat.sel(entry=e)):5.2f}  PIT "
              f"{float(res.pit.sel(entry=e)):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
