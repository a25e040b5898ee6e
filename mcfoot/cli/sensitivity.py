"""``mcfoot sensitivity``: which prior drives a model's footprint (Sobol', PRCC or delta)."""

from __future__ import annotations

import json
import math
import sys
import textwrap

import numpy as np

from .. import sensitivity as sens
from .. import variables
from .._validate import probability
from ..simulate import simulate
from . import (CLIError, add_command, check_output_option, ci_option, common, output_option,
               sampling, write_output)

METHODS = ("sobol", "prcc", "delta")
DEFAULT_N = {"sobol": 1024, "prcc": 10_000, "delta": 2_000}
#: method -> (measure to rank by, columns shown: (variable, lower/half-width mode))
SHOW = {"sobol": ("ST", (("S1", "conf"), ("ST", "conf"))),
        "prcc": ("prcc", (("spearman", "bounds"), ("prcc", "bounds"))),
        "delta": ("delta", (("delta", "conf"), ("S1", "conf")))}


def register(sub) -> None:
    p = add_command(
        sub, "sensitivity",
        description="Global sensitivity of one footprint to every uncertain input. sobol: "
                    "first- and total-order Sobol' indices from a Saltelli design pushed "
                    "through the sampler (n * (k + 2) runs); prcc: Spearman and partial rank "
                    "correlations from n Monte Carlo draws; delta: Borgonovo's "
                    "moment-independent delta from n draws (slow: keep n in the thousands).",
        epilog="examples:\n  mcfoot sensitivity --scenario default --model gpt-4o-mar "
               "--prompt short --method sobol --n 512\n  mcfoot sensitivity --model o3 --prompt "
               "long -o sobol.nc && mcfoot plot tornado sobol.nc --measure ST -o tornado.png",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    sampling(p, draws=False)
    p.add_argument("--model", action="append", required=True,
                   help="catalogue model id (repeat for several)")
    p.add_argument("--prompt", action="append", choices=("short", "medium", "long"),
                   help="prompt size (repeat for several; default: all)")
    p.add_argument("--method", choices=METHODS, default="sobol", help="measure (sobol)")
    p.add_argument("--n", type=int, default=None,
                   help="sobol: base sample size, a power of two (1024); prcc/delta: draws "
                        "(10000 / 2000)")
    p.add_argument("--variable", choices=variables.footprint_names(), default="energy_wh",
                   help="footprint variable (energy_wh)")
    ci_option(p)
    output_option(p, "also write the indices to FILE (.nc; `mcfoot plot tornado` draws it)",
                  required=False)
    common(p, json=True)
    p.set_defaults(func=_run)


def _compute(args):
    n = DEFAULT_N[args.method] if args.n is None else args.n
    if args.method == "sobol":
        return sens.sobol(args.scenario, args.model, args.prompt, args.variable, n=n,
                          seed=args.seed, ci_prob=args.ci), n
    if n < 10:
        raise CLIError(f"--n must be at least 10 draws for {args.method}, got {n}")
    tree = simulate(args.scenario, draws=n, seed=args.seed, models=args.model,
                    prompts=args.prompt, progress=False if args.quiet else None)
    if args.method == "prcc":
        return sens.correlations(tree, args.variable, ci_prob=args.ci), n
    return sens.delta(tree, args.variable, ci_prob=args.ci, seed=args.seed), n


def _cells(ds, var, mode, i, j, k):
    v = float(ds[var].values[i, j, k])
    if mode == "conf":
        c = float(ds[f"{var}_conf"].values[i, j, k])
        return v, v - c, v + c
    return v, float(ds[f"{var}_lower"].values[i, j, k]), float(ds[f"{var}_upper"].values[i, j, k])


def _run(args) -> int:
    probability("--ci", args.ci)
    check_output_option(args)
    ds, n = _compute(args)
    write_output(args, ds)
    rank_by, columns = SHOW[args.method]
    units = variables.units(args.variable)
    rows = []
    for j, m in enumerate(ds.model.values):
        for k, p in enumerate(ds.prompt.values):
            key = ds[rank_by].values[:, j, k]
            if np.all(np.isnan(key)):
                continue
            order = np.argsort(-np.nan_to_num(np.abs(key), nan=-1.0), kind="stable")
            for i in order:
                if math.isnan(key[i]):
                    continue
                row = {"model": str(m), "prompt": str(p), "input": str(ds.input.values[i]),
                       "input_units": str(ds.input_units.values[i])}
                for var, mode in columns:
                    v, lo, hi = _cells(ds, var, mode, i, j, k)
                    row |= {var: v, f"{var}_lower": lo, f"{var}_upper": hi}
                rows.append(row)
    if getattr(args, "json", False):
        json.dump({"scenario": ds.attrs.get("scenario"), "variable": args.variable,
                   "variable_units": units, "method": args.method, "n": n,
                   "ci_prob": args.ci, "rows": rows}, sys.stdout, indent=1)
        print()
        return 0
    what = {"sobol": f"Sobol' indices, n = {n} ({ds.attrs.get('model_runs')} model runs), "
                     f"{100 * args.ci:g}% bootstrap intervals",
            "prcc": f"rank correlations from {n} draws, {100 * args.ci:g}% Fisher-z intervals",
            "delta": f"delta indices from {n} draws, {100 * args.ci:g}% bootstrap intervals"}
    ranked = f"|{rank_by}|" if args.method == "prcc" else rank_by
    print(textwrap.fill(f"scenario '{ds.attrs.get('scenario')}', {args.variable} ({units}): "
                        f"{what[args.method]}; ranked by {ranked}", 100))
    head = f"  {'input':18s} {'units':12s}" + "".join(f" {v:>24s}" for v, _ in columns)
    last = None
    for r in rows:
        if (r["model"], r["prompt"]) != last:
            last = (r["model"], r["prompt"])
            print(f"\n{r['model']} / {r['prompt']}")
            print(head)
        line = f"  {r['input']:18s} {r['input_units']:12s}"
        for var, _ in columns:
            line += f" {r[var]:7.3f} [{r[var + '_lower']:6.3f}, {r[var + '_upper']:6.3f}]"
        print(line)
    return 0
