"""``mcfoot scale``: a model's per-query footprint scaled to a year of a service."""

from __future__ import annotations

import argparse
import json
import math
import sys
import textwrap

from .. import io
from ..errors import InputError
from ..scale import load_constants, scale, summary_rows
from ..simulate import simulate
from . import (add_command, check_output_option, ci_option, common, output_option, sampling,
               write_output)


def register(sub) -> None:
    p = add_command(
        sub, "scale",
        description="Scale a model's per-query footprint to a query volume and prompt mix: "
                    "totals (MWh, kL, t CO2e) and everyday equivalents, per draw summarised "
                    "by mean, median and an interval. Totals average over queries, so their "
                    "spread is that of the assumptions. Constants and their sources: "
                    "mcfoot/data/scaling.toml.",
        epilog="examples:\n  mcfoot scale --input out.nc --model gpt-4o-mar --queries-per-day "
               "7e8 --mix short=0.8,medium=0.2\n  mcfoot scale --scenario paper "
               "--queries-per-year 772e9 --utilization min --constants study --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--input", default=None, metavar="FILE",
                   help="result file of `mcfoot run` (default: simulate --scenario)")
    sampling(p, when="when simulating")
    p.add_argument("--model", default=None, help="model id (default: gpt-4o-mar)")
    p.add_argument("--queries-per-day", type=float, default=None,
                   help="queries per day (default: the study's 7e8)")
    p.add_argument("--days", type=float, default=365, help="days of service (365)")
    p.add_argument("--queries-per-year", type=float, default=None,
                   help="total queries instead of per day x days (e.g. the study's 772e9)")
    p.add_argument("--mix", default=None, metavar="P=W,...",
                   help="prompt mix, e.g. short=0.8,medium=0.2 (the study's, default)")
    p.add_argument("--utilization", default="combined", choices=("combined", "min", "max"),
                   help="the study's utilization bound (band scenarios only)")
    p.add_argument("--constants", default="primary", choices=("primary", "study"),
                   help="equivalence constants: primary sources or the study's values")
    ci_option(p)
    output_option(p, "also write the totals (per draw and summarised) to FILE (.nc; "
                     "`mcfoot plot scale` draws it)", required=False)
    common(p, json=True)
    p.set_defaults(func=_run)


def _mix(text: str | None) -> dict | None:
    if text is None:
        return None
    out = {}
    for part in text.split(","):
        k, sep, v = part.partition("=")
        try:
            if not sep:
                raise ValueError
            out[k.strip()] = float(v)
        except ValueError:
            raise InputError(f"--mix: cannot read {part!r}; write prompt=share pairs, e.g. "
                             f"short=0.8,medium=0.2")
    return out


def _run(args) -> int:
    model = args.model or load_constants()["study_case"]["model"]
    check_output_option(args)
    if args.input:
        tree = io.read_tree(args.input)
    else:
        tree = simulate(args.scenario, draws=args.draws, seed=args.seed, models=[model],
                        progress=False if args.quiet else None)
    ds = scale(tree, model, queries_per_day=args.queries_per_day, prompt_mix=_mix(args.mix),
               days=args.days, ci_prob=args.ci, queries_per_year=args.queries_per_year,
               utilization=args.utilization, constants=args.constants)
    write_output(args, ds)
    rows = summary_rows(ds)
    if getattr(args, "json", False):
        json.dump({"attrs": {k: (v.item() if hasattr(v, "item") else v)
                             for k, v in ds.attrs.items()}, "rows": rows}, sys.stdout, indent=1)
        print()
        return 0
    a = ds.attrs
    print(textwrap.fill(
        f"{a['model']}: {a['queries']:.4g} queries, mix {a['prompt_mix']}, utilization "
        f"{a['utilization']}, scenario '{a['scenario']}', {a['draws']} draws; "
        f"{100 * a['ci_prob']:g}% intervals; equivalents with {a['constants']} constants", WIDTH))
    qw = max(len(r["name"]) for r in rows)
    uw = max(len(r["units"]) for r in rows)
    cells = [(sig(r["mean"]), sig(r["median"]), f"[{sig(r['lower'])}, {sig(r['upper'])}]")
             for r in rows]
    nw = max(max(len(c[0]), len(c[1])) for c in cells)
    iw = max(len(c[2]) for c in cells)
    head = (f"{'quantity':{qw}s}  {'units':{uw}s}  {'mean':>{nw}s}  {'median':>{nw}s}  "
            f"{'interval':>{iw}s}")
    print(head)
    print("-" * len(head))
    for r, (mean, med, iv) in zip(rows, cells):
        print(f"{r['name']:{qw}s}  {r['units']:{uw}s}  {mean:>{nw}s}  {med:>{nw}s}  {iv:>{iw}s}")
    per = [f"{r['name']} = total / {r['constant']:g} {r['constant_unit']}" for r in rows
           if r["constant"] is not None]
    if per:
        print(textwrap.fill("; ".join(per), WIDTH, initial_indent="equivalents: ",
                            subsequent_indent="  "))
    return 0


#: Table width (characters).
WIDTH = 100


def sig(x: float, digits: int = 4) -> str:
    """``x`` to ``digits`` significant digits as a plain decimal with thousands separators
    (149,800 rather than 1.498e+05; 0.5862); scientific only beyond 1e15 or below 1e-4."""
    if x is None or not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    e = math.floor(math.log10(abs(x)))
    if e >= 15 or e < -4:
        return f"{x:.{digits - 1}e}"
    places = max(digits - 1 - e, 0)
    return f"{round(x, digits - 1 - e):,.{places}f}"
