"""``mcfoot compare``: published figures against mcfoot at their own boundary and tokens."""

from __future__ import annotations

import argparse
import json
import sys

from .. import io
from .._validate import figure_path
from ..compare import compare, table
from ..evidence import shipped_evidence
from . import add_command, check_output_option, common, csv_option, evidence_option, sampling


def register(sub) -> None:
    p = add_command(
        sub, "compare",
        description="For every evidence entry (priors/evidence/*.toml by default): mcfoot's "
                    "median and 90%% interval at the entry's boundary, token counts and "
                    "statistic under a scenario, and the percentile at which the published "
                    "figure falls. Lab-configuration entries are reported as not predictable "
                    "when the scenario has no model of a test bench.",
        epilog="examples:\n  mcfoot compare --scenario default\n"
               "  mcfoot compare --scenario paper --json\n"
               "  mcfoot compare --plot compare.png",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sampling(p)
    evidence_option(p, shipped_evidence(), alias=True)
    p.add_argument("--plot", default=None, metavar="FIGURE",
                   help="also draw the published figures against the intervals (.png/.pdf/.svg)")
    csv_option(p, "the table", "one row per entry; figures in the unit of its 'unit' "
                                "column, percentile in %%")
    common(p, json=True)
    p.set_defaults(func=_run)


def _g(x) -> str:
    return "n/a" if x is None else f"{x:.3g}"


def _frame(rows):
    """The table as a DataFrame: published figure and mcfoot's median and interval share the
    entry's own unit (a column of its own, since entries differ); percentile in %."""
    import pandas as pd

    cols = {"variable": "variable", "statistic": "statistic", "unit": "unit",
            "value": "published", "median": "median", "lower": "lower", "upper": "upper",
            "percentile": "percentile [%]", "verdict": "verdict", "status": "status"}
    return pd.DataFrame([{new: r[old] for old, new in cols.items()} for r in rows],
                        index=pd.Index([r["id"] for r in rows], name="evidence"))


def _run(args) -> int:
    if args.plot:  # fail on a bad figure or table path before the work
        figure_path(args.plot)
    check_output_option(args)
    ds = compare(args.scenario, args.evidence, draws=args.draws, seed=args.seed)
    rows = table(ds)
    if args.csv:
        io.write_csv(_frame(rows), args.csv, provenance=dict(ds.attrs))
    if args.plot:
        from ..plots import compare as draw

        io.save_figure(draw(ds).figure, args.plot)
    if getattr(args, "json", False):
        json.dump({"scenario": ds.attrs["scenario"], "seed": ds.attrs["seed"],
                   "draws": ds.attrs["draws"], "ci_prob": ds.attrs["ci_prob"],
                   "rows": rows}, sys.stdout, indent=1)
        print()
        return 0
    print(f"scenario '{ds.attrs['scenario']}', {ds.attrs['draws']} draws, seed "
          f"{ds.attrs['seed']}; mcfoot at each figure's boundary, tokens and statistic: "
          "median [90% interval]; P = percentile of the published figure")
    head = (f"{'evidence':46s} {'boundary variable(s)':38s} {'published':>18s}  "
            f"{'mcfoot median [90% interval]':34s} {'P':>5s}  verdict")
    print(head)
    print("-" * len(head))
    notes: dict[str, list[str]] = {}  # each distinct note once, with the entries it concerns
    for r in rows:
        pub = f"{r['value']:g} {r['unit']} ({r['statistic'][:3]})"
        if r["status"] == "ok":
            mc = f"{_g(r['median'])} [{_g(r['lower'])}, {_g(r['upper'])}]"
            pct = f"{r['percentile']:.1f}"
        else:
            mc, pct = "not predictable", "-"
        print(f"{r['id'][:46]:46s} {r['variable'][:38]:38s} {pub:>18s}  {mc:34s} {pct:>5s}  "
              f"{r['verdict']}")
        if r["reason"]:
            notes.setdefault(r["reason"], []).append(r["id"])
    print("verdict: where the published figure falls relative to mcfoot's 90% interval")
    shared = [r for r in rows if r["shares_data_with"]]
    if shared:
        print("not independent: these priors of the scenario share data with the entry "
              "(mcfoot priors audit), so it is left out of the checks:")
        for r in shared:
            print(f"  {r['id']}: {r['shares_data_with']}")
    if notes:
        print("notes:")
        for reason, ids in notes.items():
            print(f"  {', '.join(ids)}: {reason}")
    return 0
