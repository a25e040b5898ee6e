"""``mcfoot summary``: per model x prompt mean, median and interval with units."""

from __future__ import annotations

import json
import sys

import numpy as np

from .. import io, variables
from ..summary import summarize
from . import ci_option, common

#: The headline footprints, in display order (the registry's).
COLUMNS = variables.headline_names()


def register(sub) -> None:
    p = sub.add_parser("summary", help="print mean, median and 95%% interval per model",
                       description="Summarise a result file of `mcfoot run`.",
                       epilog="example: mcfoot summary out.nc --ci 0.9 --kind hdi")
    p.add_argument("file", help="result file (.nc) from `mcfoot run`")
    ci_option(p)
    p.add_argument("--kind", choices=("eti", "hdi"), default="eti",
                   help="interval: equal-tailed (eti, default) or highest-density (hdi)")
    common(p, json=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    tree = io.read_tree(args.file)
    s = summarize(tree, ci_prob=args.ci, kind=args.kind)
    present = ~np.isnan(s[COLUMNS[0]].sel(stat="mean").values)
    if getattr(args, "json", False):
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
        json.dump({"ci_prob": args.ci, "ci_kind": args.kind,
                   "scenario": tree.attrs.get("scenario"),
                   "sampling": tree.attrs.get("sampling", "mc"),
                   "mcse_method": s.attrs["mcse_method"], "rows": rows},
                  sys.stdout, indent=1)
        print()
        return 0
    pct = f"{100 * args.ci:g}% {args.kind.upper()}"
    head = f"{'model':32s} {'prompt':6s}"
    for v in COLUMNS:
        unit = s[v].attrs.get("units", "")
        head += f" | {v.split('_')[0] + ' (' + unit + ')':^30s}"
    print(f"scenario '{tree.attrs.get('scenario')}', {s.attrs['draws']} draws "
          f"({tree.attrs.get('sampling', 'mc')}); each cell: mean  median  [{pct} interval]; "
          f"Monte Carlo errors in --json")
    print(head)
    print("-" * len(head))
    for i, m in enumerate(s.model.values):
        for j, p in enumerate(s.prompt.values):
            if not present[i, j]:
                continue
            line = f"{str(m)[:32]:32s} {p:6s}"
            for v in COLUMNS:
                mean, _, med, lo, hi = s[v].values[i, j]
                line += f" | {mean:7.3g} {med:7.3g} [{lo:.3g}, {hi:.3g}]".ljust(33)
            print(line)
    return 0
