"""``mcfoot rank``: eco-efficiency rank probabilities (DEA in every draw) of a result file."""

from __future__ import annotations

import json
import sys
import textwrap
import warnings

import numpy as np

from .. import io
from ..rank import INPUT_PRESETS, POOLED, rank
from . import (add_command, check_output_option, ci_option, common, compile_note, output_option,
               write_output)


def register(sub) -> None:
    p = add_command(
        sub, "rank",
        description="Rank models by DEA cross-efficiency in every draw of a `mcfoot run` "
                    "result (the study's set-up by default: model x prompt DMUs, inputs "
                    "energy, PUE, WUE site, WUE source, CIF; output intelligence index). "
                    "Prints the models ordered by expected rank with P(best), a rank "
                    "interval, and the rank of the point estimate (DEA on mean inputs).",
        epilog="examples:\n  mcfoot rank out.nc\n  mcfoot rank out.nc --inputs footprint "
               "--per-prompt --json\n  mcfoot rank out.nc -o ranks.nc && mcfoot plot rank ranks.nc "
               "-o rank.png",
        formatter_class=__import__("argparse").RawDescriptionHelpFormatter)
    p.add_argument("file", help="result file (.nc) from `mcfoot run`")
    p.add_argument("--inputs", nargs="+", default=["study"], metavar="NAME",
                   help=f"footprint variables, or a preset ({', '.join(INPUT_PRESETS)}); "
                        "default: study")
    p.add_argument("--outputs", nargs="+", default=["intelligence_index"], metavar="NAME",
                   help="catalogue variables (default: intelligence_index)")
    p.add_argument("--per-prompt", action="store_true",
                   help="one DEA per prompt size instead of pooling model x prompt DMUs")
    p.add_argument("--secondary", default="aggressive",
                   choices=("aggressive", "benevolent", "none"),
                   help="cross-efficiency secondary goal (aggressive, as the study)")
    ci_option(p, 0.9, "rank interval")
    p.add_argument("--on-error", default="raise", choices=("raise", "nan"),
                   help="failed DEA draws: stop (raise) or leave them out (nan)")
    output_option(p, "also write the rank probabilities to FILE (.nc; `mcfoot plot rank` "
                     "draws it)", required=False)
    common(p, json=True)
    p.set_defaults(func=_run)


def _rows(r, prompt=None):
    sel = {} if prompt is None else {"prompt": prompt}
    e = r["expected_rank"].sel(sel).values
    order = [i for i in np.argsort(e, kind="stable") if not np.isnan(e[i])]
    iv = r["rank_interval"].sel(sel).values
    rows = []
    for i in order:
        rows.append({
            "model": str(r.model.values[i]),
            "expected_rank": float(e[i]),
            "p_best": float(r["p_best"].sel(sel).values[i]),
            "rank_lower": float(iv[i, 0]), "rank_upper": float(iv[i, 1]),
            "point_rank": float(r["point_rank"].sel(sel).values[i]),
            "mean_cross_efficiency": float(np.nanmean(r["cross_efficiency"].sel(sel).values[:, i])),
            "point_cross_efficiency": float(r["point_cross_efficiency"].sel(sel).values[i]),
        })
    return rows


def _run(args) -> int:
    check_output_option(args)
    tree = io.read_tree(args.file)
    compile_note(args, "dea")
    inputs = args.inputs[0] if len(args.inputs) == 1 and args.inputs[0] in INPUT_PRESETS \
        else args.inputs
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        r = rank(tree, inputs=inputs, outputs=args.outputs, pool_prompts=not args.per_prompt,
                 secondary=args.secondary, ci_prob=args.ci, on_error=args.on_error)
    write_output(args, r)
    if not args.quiet:
        for w in caught:
            print(textwrap.fill(f"mcfoot rank: note: {w.message}", 100,
                                subsequent_indent="  "), file=sys.stderr)
    groups = [POOLED] if not args.per_prompt else [str(p) for p in r.prompt.values]
    table = {g: _rows(r, None if g == POOLED else g) for g in groups}
    a = r.attrs
    if args.json:
        json.dump({"scenario": tree.attrs.get("scenario"), "inputs": a["inputs"].split(";"),
                   "outputs": a["outputs"].split(";"), "secondary": a["secondary"],
                   "pool_prompts": bool(a["pool_prompts"]), "ci_prob": args.ci,
                   "draws": a["draws"], "draws_used": a["draws_used"],
                   "failed_draws": a["failed_draws"], "tied_draws": a["tied_draws"],
                   "excluded_models": [m for m in a["excluded_models"].split(";") if m],
                   "groups": [{"prompt": g, "models": table[g]} for g in groups]},
                  sys.stdout, indent=1)
        print()
        return 0
    pct = f"{100 * args.ci:g}%"
    print(textwrap.fill(f"scenario '{tree.attrs.get('scenario')}', {a['draws_used']} of "
                        f"{a['draws']} draws; inputs {', '.join(a['inputs'].split(';'))}; "
                        f"output {a['outputs']}; {a['secondary']} cross-efficiency", 100))
    for g in groups:
        n_models = len(table[g])
        print(f"\n[{g}] {n_models} models" + (
            f" ranked as {a['n_dmus']} DMUs (model x prompt size, pooled)" if g == POOLED else ""))
        head = (f"{'model':34s} {'E[rank]':>7s} {'P(best)':>7s} {pct + ' interval':>14s} "
                f"{'point rank':>10s} {'mean CE':>7s}")
        print(head)
        print("-" * len(head))
        for row in table[g]:
            iv = f"[{row['rank_lower']:.0f}, {row['rank_upper']:.0f}]"
            print(f"{row['model'][:34]:34s} {row['expected_rank']:7.2f} {row['p_best']:7.3f} "
                  f"{iv:>14s} {row['point_rank']:10.0f} {row['mean_cross_efficiency']:7.3f}")
    return 0
