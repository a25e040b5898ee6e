"""``mcfoot bench``: GPU energy of bench configurations (ML.ENERGY columns), learned physics."""

from __future__ import annotations

import argparse
import json
import sys

from ..benchmodel import REQUIRED
from ..variables import BENCH
from . import add_command, check_output_option, common, csv_option, output_option, write_output

CI = 0.9


def register(sub) -> None:
    p = add_command(
        sub, "bench",
        description="Energy per request and per output token, mean GPU power and the running "
                    "batch of each configuration of a CSV with the ML.ENERGY v3 data file's "
                    f"columns ({', '.join(REQUIRED)}; optional tensor_parallel, "
                    "expert_parallel, data_parallel, input_tokens), from the serving physics "
                    "learned on the bench's 348 measurements. Boundary: GPUs only, prefill "
                    "inside. Measured columns are ignored.",
        epilog="example:\n  mcfoot bench configs.csv --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("file", metavar="FILE.csv", help="bench configurations (CSV)")
    p.add_argument("--fit", default="bench",
                   help="'bench' (the shipped fit, default), 'prior' (nothing learned) or a "
                        "fit file written by `python -m mcfoot.benchfit -o FILE`")
    p.add_argument("--draws", type=int, default=4000, help="Monte Carlo draws (4000)")
    p.add_argument("--seed", type=int, default=0, help="random seed (0)")
    output_option(p, "also write the draws (.nc)", required=False)
    csv_option(p, "the table", "one row per configuration")
    common(p, json=True)
    p.set_defaults(func=_run)


def rows(ds) -> list[dict]:
    """One dict per configuration: its keys and median / 90 % interval of every output."""
    from ..summary import summarize_draws  # imported when used (mcfoot --help stays light)

    stats = {v: summarize_draws(ds[v], ci_prob=CI) for v in BENCH}
    out = []
    for i in range(ds.sizes["config"]):
        r = {k: ds[k].values.tolist()[i] for k in ("model_id", "gpu_model", "weight_precision",
                                                  "task", "num_gpus", "max_num_seqs",
                                                  "model_in_fit", "architecture_from_table")}
        for v, s in stats.items():
            _, _, med, lo, hi = (float(x) for x in s.isel(config=i).values)
            r[v] = {"median": med, "lower": lo, "upper": hi, "units": BENCH[v].units}
        out.append(r)
    return out


def _run(args) -> int:
    from ..benchpredict import bench  # imported when used (mcfoot --help stays light)

    check_output_option(args)
    ds = bench(args.file, scenario=args.fit, draws=args.draws, seed=args.seed)
    table = rows(ds)
    write_output(args, ds)
    if args.csv:
        import pandas as pd

        from .. import io

        flat = [{k: v for k, v in r.items() if not isinstance(v, dict)} |
                {f"{v} {s} [{r[v]['units']}]": r[v][s] for v in BENCH
                 for s in ("median", "lower", "upper")} for r in table]
        io.write_csv(pd.DataFrame(flat), args.csv, provenance=dict(ds.attrs))
    if args.json:
        json.dump({"fit": ds.attrs.get("scenario"), "seed": ds.attrs.get("seed"),
                   "draws": int(ds.sizes["draw"]), "ci_prob": CI, "rows": table},
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"bench fit '{ds.attrs.get('scenario')}', {ds.sizes['draw']} draws, seed "
          f"{ds.attrs.get('seed')}; GPU boundary; median [90% interval]")
    head = f"{'model':40s} {'gpu':5s} {'n':>2s} {'cap':>5s} {'J/token':>26s} {'W':>22s} seen"
    print(head)
    print("-" * len(head))
    for r in table:
        e, w = r["energy_per_token_j"], r["avg_power_w"]
        print(f"{r['model_id'][-40:]:40s} {r['gpu_model']:5s} {r['num_gpus']:2d} "
              f"{r['max_num_seqs']:5d} {e['median']:8.4g} [{e['lower']:.3g}, {e['upper']:.3g}]"
              f"{'':4s} {w['median']:6.0f} [{w['lower']:.0f}, {w['upper']:.0f}] "
              f"{'yes' if r['model_in_fit'] else 'no'}")
    return 0
