"""``mcfoot summary``: per model x prompt mean, median and interval with units."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np

from .. import io, variables
from ..summary import summarize, to_dataframe
from . import add_command, check_output_option, ci_option, common, csv_option

#: The headline footprints, in display order (the registry's).
COLUMNS = variables.headline_names()


def register(sub) -> None:
    p = add_command(sub, "summary",
                       description="Summarise a result file of `mcfoot run`.",
                       epilog="example: mcfoot summary out.nc --ci 0.9 --kind hdi")
    p.add_argument("file", help="result file (.nc) from `mcfoot run`")
    ci_option(p)
    p.add_argument("--kind", choices=("eti", "hdi"), default="eti",
                   help="interval: equal-tailed (eti, default) or highest-density (hdi)")
    csv_option(p, "every variable's summary")
    common(p, json=True)
    p.set_defaults(func=_run)


def _json_rows(s, present) -> list[dict]:
    """One JSON row per (model, prompt) cell that is ``present``: every statistic of every
    column with its Monte Carlo standard error."""
    rows = []
    for i, m in enumerate(s.model.values):
        for j, p in enumerate(s.prompt.values):
            if not present[i, j]:
                continue
            row = {"model": str(m), "prompt": str(p)}
            for v in COLUMNS:
                for st in s.stat.values:
                    k = list(s.stat.values).index(st)
                    row[f"{v}_{st}"] = float(s[v].values[i, j, k])
                    row[f"{v}_{st}_mcse"] = float(s[f"{v}_mcse"].values[i, j, k])
            rows.append(row)
    return rows


def _run(args) -> int:
    check_output_option(args)  # a bad --csv path fails before the work
    tree = io.read_tree(args.file)
    s = summarize(tree, ci_prob=args.ci, kind=args.kind)
    if args.csv:
        io.write_csv(to_dataframe(s), args.csv, provenance=dict(tree.attrs) | dict(s.attrs))
    present = ~np.isnan(s[COLUMNS[0]].sel(stat="mean").values)
    if getattr(args, "json", False):
        rows = _json_rows(s, present)
        json.dump({"ci_prob": args.ci, "ci_kind": args.kind,
                   "scenario": tree.attrs.get("scenario"),
                   "sampling": tree.attrs.get("sampling", "mc"),
                   "mcse_method": s.attrs["mcse_method"], "rows": rows},
                  sys.stdout, indent=1)
        print()
        return 0
    pct = f"{100 * args.ci:g}% {args.kind.upper()}"
    models = [str(m) for m in s.model.values]
    width = min(max(map(len, models)), MODEL_WIDTH)
    cut = [m for m in models if len(m) > width]
    print(textwrap.fill(f"scenario '{tree.attrs.get('scenario')}', {s.attrs['draws']} draws "
                        f"({tree.attrs.get('sampling', 'mc')}); each cell: median [{pct} "
                        f"interval] per query (means, Monte Carlo errors: --json)", 100))
    head = " " * (width + 2)
    for v in COLUMNS:
        unit = s[v].attrs.get("units", "")
        head += "  " + f"{v.split('_')[0] + ' (' + unit + ')':^{CELL}s}"
    print(head.rstrip())
    stats = list(s.stat.values)
    for j, p in enumerate(s.prompt.values):
        rows = [i for i in range(len(models)) if present[i, j]]
        if not rows:
            continue
        print(_prompt_heading(tree, str(p)))
        for i in rows:
            m = models[i] if len(models[i]) <= width else models[i][:width - 1] + "~"
            line = f"  {m:{width}s}"
            for v in COLUMNS:
                med, lo, hi = (float(s[v].values[i, j, stats.index(k)])
                               for k in ("median", "lower", "upper"))
                line += f"  {num(med)} [{num(lo)}, {num(hi)}]"
            print(line)
    if cut:
        print(f"~ : model id cut to {width} characters ({len(cut)}); `--json` has the full ids")
    return 0


#: Widest model id shown whole: 2 + 32 + 3 x (2 + CELL) = 100 characters.
MODEL_WIDTH = 32
#: "median [lower, upper]" with numbers of NUM characters: NUM + 2 + NUM + 2 + NUM + 1.
NUM = 5
CELL = 3 * NUM + 5


def num(x: float) -> str:
    """A footprint number in exactly NUM characters, 3 significant digits where they fit
    (0.421, 4.21, 42.1, 421, 4210; 0.042; 4e-04 below 0.01)."""
    if not np.isfinite(x):
        return f"{'n/a':>{NUM}s}"
    a = abs(x)
    text = (f"{x:.0f}" if a >= 99.95 else f"{x:.1f}" if a >= 9.995 else f"{x:.2f}" if a >= 0.9995
            else f"{x:.3f}" if a >= 0.01 or a == 0 else f"{x:.0e}")
    return f"{text:>{NUM}s}"


def _prompt_heading(tree, prompt: str) -> str:
    cat = tree["catalogue"] if "catalogue" in tree.children else None
    if cat is not None and "input_tokens" in cat:
        tin = np.unique(cat["input_tokens"].sel(prompt=prompt).values)
        tout = np.unique(cat["output_tokens"].sel(prompt=prompt).values)
        tin, tout = tin[np.isfinite(tin)], tout[np.isfinite(tout)]
        if len(tin) == 1 and len(tout) == 1:
            return f"{prompt} prompts ({tin[0]:.0f} input / {tout[0]:.0f} output tokens)"
    return f"{prompt} prompts"
