"""``mcfoot claims``: the probability that each headline claim holds under a scenario."""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap
import time

from .. import io
from ..claims import evaluate_claims, load_claims, provenance_attrs, shipped_claims
from ..simulate import simulate
from . import add_command, common, sampling


def register(sub) -> None:
    p = add_command(
        sub, "claims",
        description="Evaluate claims (the study's headline figures and external checks by "
                    "default; see priors/claims/*.toml) over the draws of a scenario: "
                    "P(holds), its Monte Carlo standard error sqrt(p(1-p)/n), the claim's "
                    "statistic (median and 95% interval) and the sampled input with the "
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


def _print_claim(r, idw: int) -> None:
    """The table row of one claim result (id cut to ``idw`` characters, the statistic on a
    line of its own when the row would be too wide), its text and its main driver."""
    p = "n/a" if math.isnan(r.probability) else f"{r.probability:.3f}"
    se = "n/a" if math.isnan(r.mcse) else f"{r.mcse:.3f}"
    stat = f"{_fmt(r.median)} [{_fmt(r.lower)}, {_fmt(r.upper)}] {r.unit}"
    rid = r.id if len(r.id) <= idw else r.id[:idw - 1] + "~"
    first = f"{rid:{idw}s}  {p:>8s}  {se:>5s}  {stat}"
    if len(first) > WIDTH:  # a long unit: the statistic on a line of its own
        print(f"{rid:{idw}s}  {p:>8s}  {se:>5s}")
        print(textwrap.fill(stat, WIDTH, initial_indent="  ", subsequent_indent="    "))
    else:
        print(first)
    if rid != r.id:
        print(f"  id: {r.id}")
    print(textwrap.fill(r.text, WIDTH, initial_indent="  ", subsequent_indent="  "))
    if r.driver is not None:
        print(textwrap.fill(f"main driver: {r.driver} (Spearman rho {r.driver_rho:+.2f})",
                            WIDTH, initial_indent="  ", subsequent_indent="    "))


def _run(args) -> int:
    claims = load_claims(args.file)
    t0 = time.perf_counter()
    if args.input:
        tree = io.read_tree(args.input)
    else:
        tree = simulate(args.scenario, draws=args.draws, seed=args.seed,
                        progress=False if args.quiet else None)
    results = evaluate_claims(tree, claims, scenario=None if args.input else args.scenario)
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
    print(textwrap.fill(f"scenario '{tree.attrs.get('scenario')}', "
                        f"{tree['footprint'].sizes['draw']} draws, seed {tree.attrs.get('seed')}; "
                        f"statistic: median [95% interval]; MCSE: Monte Carlo standard error",
                        WIDTH))
    idw = min(max((len(r.id) for r in results), default=2), ID_WIDTH)
    head = f"{'claim id':{idw}s}  {'P(holds)':>8s}  {'MCSE':>5s}  statistic"
    print(head)
    print("-" * WIDTH)
    notes = []
    for r in results:
        _print_claim(r, idw)
        if r.note:
            notes.append(f"  {r.id}: {r.note}")
    if notes:
        print("notes:")
        print("\n".join(textwrap.fill(n, WIDTH, subsequent_indent="    ") for n in notes))
    return 0


#: Table width (characters) and the widest claim id shown whole.
WIDTH, ID_WIDTH = 100, 40
