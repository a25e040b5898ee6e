"""``mcfoot claims``: the probability that each headline claim holds under a scenario."""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from .. import io
from ..claims import evaluate_claims, load_claims, provenance_attrs, shipped_claims
from ..simulate import simulate
from . import common, sampling


def register(sub) -> None:
    p = sub.add_parser(
        "claims", help="probability that each headline claim holds, and what drives it",
        description="Evaluate claims (the study's headline figures and external checks by "
                    "default; see priors/claims/*.toml) over the draws of a scenario: "
                    "P(holds), its Monte Carlo standard error sqrt(p(1-p)/n), the claim's "
                    "statistic (median and 95%% interval) and the sampled input with the "
                    "largest |Spearman rho| with it.",
        epilog="examples:\n  mcfoot claims --scenario default --draws 10000 --seed 0\n"
               "  mcfoot claims --input out.nc --file my_claims.toml --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sampling(p, when="when simulating")
    p.add_argument("--input", default=None, metavar="FILE",
                   help="reuse a result file of `mcfoot run` instead of simulating")
    p.add_argument("--file", nargs="+", default=None, metavar="CLAIMS",
                   help=f"claims files (.toml) or shipped names ({', '.join(shipped_claims())});"
                        " default: all shipped")
    common(p, json=True)
    p.set_defaults(func=_run)


def _fmt(x: float) -> str:
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.4g}"


def _run(args) -> int:
    claims = load_claims(args.file)
    t0 = time.perf_counter()
    if args.input:
        tree = io.read_tree(args.input)
    else:
        tree = simulate(args.scenario, draws=args.draws, seed=args.seed,
                        progress=False if args.quiet else None)
    results = evaluate_claims(tree, claims)
    if not args.quiet:
        print(f"mcfoot claims: {len(results)} claims over {tree['footprint'].sizes['draw']} "
              f"draws in {time.perf_counter() - t0:.1f} s", file=sys.stderr)
    if getattr(args, "json", False):
        json.dump({"scenario": tree.attrs.get("scenario"), "seed": tree.attrs.get("seed"),
                   "draws": int(tree["footprint"].sizes["draw"]),
                   "claims": [r.to_dict() for r in results],
                   "provenance": provenance_attrs(tree)}, sys.stdout, indent=1)
        print()
        return 0
    print(f"scenario '{tree.attrs.get('scenario')}', {tree['footprint'].sizes['draw']} draws, "
          f"seed {tree.attrs.get('seed')}; statistic: median [95% interval]")
    head = (f"{'id':34s} {'P(holds)':>8s} {'MCSE':>6s}  {'statistic':40s} "
            f"{'main driver (Spearman rho)':44s} claim")
    print(head)
    print("-" * len(head))
    notes = []
    for r in results:
        p = "n/a" if math.isnan(r.probability) else f"{r.probability:.3f}"
        se = "n/a" if math.isnan(r.mcse) else f"{r.mcse:.3f}"
        stat = f"{_fmt(r.median)} [{_fmt(r.lower)}, {_fmt(r.upper)}] {r.unit}"
        drv = "-" if r.driver is None else f"{r.driver} ({r.driver_rho:+.2f})"
        print(f"{r.id[:34]:34s} {p:>8s} {se:>6s}  {stat[:40]:40s} {drv[:44]:44s} {r.text}")
        if r.note:
            notes.append(f"  {r.id}: {r.note}")
    if notes:
        print("notes:")
        print("\n".join(notes))
    return 0
