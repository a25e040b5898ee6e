"""``mcfoot estimate``: the footprint of any request (model, input and output tokens)."""

from __future__ import annotations

import argparse
import json
import sys

from ..estimate import estimate, estimate_warnings
from ..summary import summarize_draws
from . import (add_command, check_output_option, common, csv_option, design_option, region_option,
               sampling)

#: variables printed, in order (every footprint variable of the result, then the host factors)
SKIP = ("latency_s", "speed_tokens_per_s")
CI = 0.9


def register(sub) -> None:
    p = add_command(
        sub, "estimate",
        description="Energy (by boundary), carbon (location-, market-based, embodied) and water "
                    "of one request to a catalogue model at any token counts, under a "
                    "scenario: median and 90%% equal-tailed interval of every variable, with "
                    "units. Latency and speed are interpolated in log input tokens between "
                    "the measured prompt sizes (held outside them, with a warning).",
        epilog="example:\n  mcfoot estimate --model gpt-4o-mar --input-tokens 2345 "
               "--output-tokens 800 --scenario default",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", nargs="+", required=True, help="catalogue model id(s)")
    p.add_argument("--output-tokens", type=int, required=True, help="output tokens")
    p.add_argument("--input-tokens", type=int, default=None,
                   help="input tokens (default: the model's smallest measured prompt size)")
    sampling(p)
    region_option(p, "apply a named grid region to the host")
    design_option(p)
    csv_option(p, "the table")
    common(p, json=True)
    p.set_defaults(func=_run)


def _order(v: str) -> tuple:
    """Energy (facility first, then boundaries), carbon, water, then the host factors."""
    for i, head in enumerate(("energy_wh", "energy_", "carbon_g", "carbon_", "water_")):
        if v == head or (head.endswith("_") and v.startswith(head)):
            return (i, 0)
    return (9, 0)


def _run(args) -> int:
    check_output_option(args)  # a bad --csv path fails before the work
    with estimate_warnings() as notes:
        ds = estimate(args.model, args.output_tokens, args.input_tokens,
                      scenario=args.scenario, draws=args.draws, seed=args.seed,
                      region=args.region, sampling=args.sampling,
                      replicates=args.replicates)
    if not args.quiet:
        for n in notes:
            print(f"mcfoot estimate: warning: {n}", file=sys.stderr)
    names = sorted((v for v in ds.data_vars if v not in SKIP), key=_order)
    stats = {v: summarize_draws(ds[v], ci_prob=CI) for v in names}
    models = list(args.model)
    rows = []
    for i, m in enumerate(models):
        for v in names:
            s = stats[v] if "model" not in stats[v].dims else stats[v].isel(model=i)
            _, _, med, lo, hi = (float(x) for x in s.values)
            rows.append({"model": m, "variable": v, "units": ds[v].attrs.get("units", ""),
                         "median": med, "lower": lo, "upper": hi})
    tin = ds["input_tokens"].values.reshape(-1).tolist()
    if args.csv:
        import pandas as pd

        from .. import io

        wide = pd.DataFrame([{"model": r["model"], **{f"{r['variable']} {k} [{r['units']}]":
                                                      r[k] for k in ("median", "lower",
                                                                      "upper")}}
                             for r in rows]).groupby("model", sort=False).first()
        io.write_csv(wide, args.csv, provenance=dict(ds.attrs))
    if getattr(args, "json", False):
        json.dump({"scenario": ds.attrs.get("scenario"), "seed": ds.attrs.get("seed"),
                   "draws": int(ds.sizes["draw"]), "ci_prob": CI,
                   "output_tokens": args.output_tokens, "input_tokens": [int(t) for t in tin],
                   "interpolation": ds.attrs.get("estimate"), "warnings": notes,
                   "rows": rows}, sys.stdout, indent=1)
        print()
        return 0
    print(f"scenario '{ds.attrs.get('scenario')}', {ds.sizes['draw']} draws, seed "
          f"{ds.attrs.get('seed')}; {args.output_tokens} output tokens, input tokens "
          f"{', '.join(str(int(t)) for t in tin)}; median [90% interval]")
    head = f"{'model':26s} {'variable':24s} {'median':>10s}  {'90% interval':26s} units"
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['model'][:26]:26s} {r['variable']:24s} {r['median']:10.4g}  "
              f"{'[' + format(r['lower'], '.4g') + ', ' + format(r['upper'], '.4g') + ']':26s} "
              f"{r['units']}")
    return 0
