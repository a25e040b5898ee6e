"""``mcfoot workload``: the footprint of a request log (CSV, Parquet, a folder of Parquet)."""

from __future__ import annotations

import argparse
import json
import sys
import time

from .. import io, variables as V
from ..estimate import estimate_warnings
from ..workload import BY, METHODS, summary_table, workload
from . import (add_command, check_output_option, ci_option, common, csv_option, dask_client,
               dask_options, design_option, output_option, region_option, sampling, uses_dask)

#: Variables printed per group (all are in -o / --csv / --json): the registry's headline
#: footprints, in its order.
SHOWN = tuple(n for n, v in V.FOOTPRINT.items() if v.headline)


def register(sub) -> None:
    p = add_command(
        sub, "workload",
        description="Totals of every footprint variable over a log of requests (columns "
                    "model, input_tokens, output_tokens; optional count, timestamp, region). "
                    "Shared inputs (PUE, power, grid, ...) are drawn once per draw for the "
                    "whole log; per-request noise is sampled (small logs) or integrated out "
                    "exactly (large logs), so the interval does not shrink like 1/sqrt(N).",
        epilog="examples:\n  mcfoot workload requests.csv\n  mcfoot workload logs/ --by "
               "model,month --workers 2 -o usage.nc --csv usage.csv\n  mcfoot workload "
               "calls.parquet --columns model=engine,output_tokens=completion_tokens "
               "--skip-unknown --json",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("log", help="CSV or Parquet file, or a folder of Parquet files")
    p.add_argument("--by", default=None, metavar="KEY[,KEY]",
                   help=f"group totals by any of {', '.join(BY)}")
    sampling(p, catalogue=True)
    design_option(p, "of the shared inputs")
    region_option(p, "grid region for requests whose row names none (default: each host's "
                     "own priors)")
    p.add_argument("--columns", default=None, metavar="OURS=THEIRS,...",
                   help="map the log's column names, e.g. model=engine")
    p.add_argument("--skip-unknown", action="store_true",
                   help="drop rows of models the catalogue lacks (and report them)")
    p.add_argument("--method", choices=METHODS, default="auto",
                   help="per-request sampling (exact), conditional mean (mean) or auto")
    ci_option(p, 0.90)
    dask_options(p, "reduce the log's files on a local dask cluster of this many workers",
                 "reduce on the dask scheduler at ADDRESS")
    output_option(p, "write the per-draw result (.nc)", required=False)
    csv_option(p, "the summary table")
    common(p, json=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    t0 = time.perf_counter()
    on_dask = uses_dask(args)
    check_output_option(args)  # before any work: a bad path costs no run
    kw = dict(scenario=args.scenario, draws=args.draws, seed=args.seed, by=args.by,
              catalogue=args.catalogue, region=args.region, columns=args.columns,
              skip_unknown=args.skip_unknown, method=args.method,
              progress=False if args.quiet else None, sampling=args.sampling,
              replicates=args.replicates)
    with estimate_warnings() as notes:
        if on_dask:
            with dask_client(args) as c:
                tree = workload(args.log, client=c, **kw)
        else:
            tree = workload(args.log, **kw)
    for n in notes:
        print(f"mcfoot {n}", file=sys.stderr)
    table = summary_table(tree, args.ci)
    if args.output:
        io.write_tree(tree, args.output)
    if args.csv:
        io.write_csv(table, args.csv)
    a = tree.attrs
    if not args.quiet and a["skipped_requests"]:
        print(f"mcfoot workload: {a['skipped']}", file=sys.stderr)
    if getattr(args, "json", False):
        json.dump({"attrs": {k: (v.item() if hasattr(v, "item") else v) for k, v in a.items()},
                   "ci_prob": args.ci, "rows": table.reset_index().to_dict("records")},
                  sys.stdout, indent=1)
        print()
        return 0
    _print_totals(tree, table, args.ci)
    if "groups" in tree.children:
        print()
        _print_groups(tree["total"], table)
    if not args.quiet:
        print(f"mcfoot workload: {time.perf_counter() - t0:.2f} s"
              + (f", written to {args.output}" if args.output else "")
              + (f", summary in {args.csv}" if args.csv else ""), file=sys.stderr)
    return 0


def _print_totals(tree, table, ci: float) -> None:
    """The heading line and the table of the whole log's totals: median, interval, mean and
    its Monte Carlo standard error of every variable."""
    a = tree.attrs
    tot = tree["total"]
    print(f"{int(tot['requests'])} requests ({int(tot['input_tokens'])} input, "
          f"{int(tot['output_tokens'])} output tokens), scenario '{a['scenario']}', "
          f"{a['draws']} draws ({a['sampling']}), method {a['method'].split(' ')[0]}; median "
          f"and {100 * ci:g}% interval; mean and its Monte Carlo standard error")
    total = table.loc["total"]
    print(f"{'total':28s} {'units':12s} {'median':>11s} {'interval':>26s} {'mean':>11s} "
          f"{'mcse':>9s}")
    for v in [c[:-len(" median [") - len(u) - 1] for c in table.columns
              for u in [c.split("[")[-1][:-1]] if " median [" in c and "_mcse " not in c]:
        u = tot[v].attrs.get("units", "")
        lo, med, hi, mean = (total[f"{v} {s} [{u}]"] for s in ("lower", "median", "upper",
                                                               "mean"))
        err = total[f"{v}_mcse mean [{u}]"]
        print(f"{v:28s} {u:12s} {med:11.4g} {'[' + format(lo, '.4g') + ', ' + format(hi, '.4g') + ']':>26s} "
              f"{mean:11.4g} {err:9.2g}")


def _print_groups(tot, table) -> None:
    """One line per group: its requests and the median [interval] of each SHOWN variable
    (units from the totals ``tot``)."""
    head = f"{'group':40s} {'requests':>9s}"
    for v in SHOWN:
        head += f" | {v + ' [' + tot[v].attrs['units'] + ']':^30s}"
    print(head)
    for g, row in table.drop(index="total").iterrows():
        line = f"{g[:40]:40s} {int(row['requests']):9d}"
        for v in SHOWN:
            u = tot[v].attrs["units"]
            line += f" | {row[f'{v} median [{u}]']:9.4g} [{row[f'{v} lower [{u}]']:.3g}, " \
                    f"{row[f'{v} upper [{u}]']:.3g}]".ljust(33)
        print(line)
