"""``mcfoot priors``: list the shipped scenarios, show a scenario's priors, validate a file."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap

from ..errors import InputError
from ..priors import (QUANTITIES, ROW_COLUMNS, SCOPE_WORDS, load_scenario, scenario_path,
                      shipped_scenarios)
from . import add_command, common

EPILOG = """\
examples:
  mcfoot priors list
  mcfoot priors show default
  mcfoot priors show paper --json
  mcfoot priors validate my_scenario.toml
  mcfoot priors validate my_scenario.toml --catalogue my_models.csv
  mcfoot priors regions
  mcfoot priors audit default serving
"""


def register(sub) -> None:
    p = add_command(sub, "priors",
                       description="Scenarios are TOML files with one prior per uncertain "
                                   "input (see `mcfoot priors show default`). A file may "
                                   "extend a shipped one ([meta] extends = \"default\") and "
                                   "override only what differs.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    acts = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    a = acts.add_parser("list", help="shipped scenarios with their descriptions",
                        epilog="example: mcfoot priors list --json")
    common(a, json=True)
    a.set_defaults(func=_list)
    a = acts.add_parser("show", help="the priors table of a scenario",
                        description="Print every prior of a scenario: quantity, key, "
                                    "distribution, parameters, unit and source.",
                        epilog="examples:\n  mcfoot priors show default\n"
                               "  mcfoot priors show my.toml --quantity pue cif --json",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("scenario", help="shipped scenario name or a .toml path")
    a.add_argument("--quantity", nargs="+", default=None, help="only these quantities")
    common(a, json=True)
    a.set_defaults(func=_show)
    a = acts.add_parser("validate", help="check a scenario file (exit 0 'ok', 2 problems)",
                        description="Validate a scenario file whole. With --catalogue, also "
                                    "check that every host, hardware class and size class "
                                    "the catalogue uses has a prior.",
                        epilog="examples:\n  mcfoot priors validate my.toml\n"
                               "  mcfoot priors validate my.toml --catalogue my_models.csv",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("file", help="scenario .toml file (or a shipped name)")
    a.add_argument("--catalogue", default=None, help="catalogue CSV to check against")
    common(a, json=True)
    a.set_defaults(func=_validate)
    a = acts.add_parser("audit", help="which priors share data with which evidence entries",
                        description="For every prior of each scenario: the sources its text "
                                    "cites (mcfoot/data/sources.toml) and the evidence entries "
                                    "it shares data with, which therefore cannot check that "
                                    "scenario independently.",
                        epilog="examples:\n  mcfoot priors audit\n"
                               "  mcfoot priors audit default --dependent\n"
                               "  mcfoot priors audit --markdown > docs/priors_audit.md",
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    a.add_argument("scenario", nargs="*", help="shipped names or .toml paths (default: all "
                                               "shipped scenarios)")
    a.add_argument("--dependent", action="store_true", help="only priors that share data")
    a.add_argument("--markdown", action="store_true", help="print a Markdown table")
    common(a, json=True)
    a.set_defaults(func=_audit)
    a = acts.add_parser("regions", help="grid regions a scenario may name (dist = \"region\")",
                        epilog="example: mcfoot priors regions --json")
    common(a, json=True)
    a.set_defaults(func=_regions)


def _list(args) -> int:
    rows = []
    for name in shipped_scenarios():
        sc = load_scenario(name)
        rows.append({"name": name, "attribution": sc.attribution,
                     "description": sc.description, "hash": sc.hash})
    if args.json:
        json.dump({"scenarios": rows}, sys.stdout, indent=1)
        print()
        return 0
    width = max(len(r["name"]) + len(r["attribution"]) for r in rows) + 5
    for r in rows:
        print(textwrap.fill(r["description"], WIDTH,
                            initial_indent=f"{r['name'] + '  [' + r['attribution'] + ']':{width}s}",
                            subsequent_indent=" " * width))
    return 0


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_fmt(x) for x in v) + "]"
    return str(v)


def _rows(sc, quantities=None) -> list[dict]:
    rows = []
    for q, prior in sc.row_sources.items():
        rows.append({"quantity": q, "key": "(each catalogue row)", "dist": "empirical",
                     "parameters": {"from_catalogue": ROW_COLUMNS[q]}, "unit": prior.unit,
                     "source": prior.source})
    for q, table in sc.priors.items():
        for key, prior in table.items():
            rows.append({"quantity": q, "key": "/".join(key), "dist": prior.dist.kind,
                         "parameters": prior.dist.described(), "unit": prior.unit,
                         "source": prior.source})
    if quantities:
        rows = [r for r in rows if r["quantity"] in quantities]
    return rows


def _show(args) -> int:
    sc = load_scenario(args.scenario)
    if args.quantity:
        unknown = [q for q in args.quantity if q not in QUANTITIES]
        if unknown:
            raise InputError(f"unknown quantity {', '.join(unknown)}; known: "
                             f"{', '.join(QUANTITIES)}")
    rows = _rows(sc, args.quantity)
    copulas = [{"name": c.name, "inputs": list(c.inputs), "corr": c.corr.tolist(),
                "source": c.source} for c in sc.copulas]
    if args.json:
        json.dump({"name": sc.name, "description": sc.description,
                   "attribution": sc.attribution, "hash": sc.hash, "files": list(sc.files),
                   "priors": rows, "copulas": copulas}, sys.stdout, indent=1)
        print()
        return 0
    print(textwrap.fill(f"scenario '{sc.name}' [{sc.attribution}]: {sc.description}", WIDTH))
    print("each prior: key, distribution and parameters, then its source (--json: a table)")
    last = None
    for r in rows:
        if r["quantity"] != last:
            last = r["quantity"]
            q = QUANTITIES[last]
            print("\n" + textwrap.fill(f"[{last}] {q.long_name} ({r['unit']}), per "
                                      f"{SCOPE_WORDS[q.scope]}", WIDTH, subsequent_indent="    "))
        params = ", ".join(f"{k}={_fmt(v)}" for k, v in r["parameters"].items())
        print(textwrap.fill(f"{r['key']}: {r['dist']} {params}", WIDTH, initial_indent="  ",
                            subsequent_indent="      "))
        print(textwrap.fill(f"source: {r['source']}", WIDTH, initial_indent="      ",
                            subsequent_indent="      "))
    for c in copulas:
        print()
        print(textwrap.fill(f"copula {c['name']}: {', '.join(c['inputs'])}, corr "
                            f"{_fmt(c['corr'])} ({c['source']})", WIDTH,
                            subsequent_indent="      "))
    return 0


#: Width of the text output (characters).
WIDTH = 100


def _validate(args) -> int:
    try:
        path = scenario_path(args.file)
        sc = load_scenario(path)
        if args.catalogue is not None:
            from ..simulate import build_plan

            build_plan(sc, args.catalogue)
    except InputError as e:
        problems = e.problems
        if args.json:
            json.dump({"file": args.file, "ok": False, "problems": problems}, sys.stdout,
                      indent=1)
            print()
        else:
            print(f"{e.source or args.file}: {len(problems)} problem(s)", file=sys.stderr)
            for p in problems:
                print(f"  - {p}", file=sys.stderr)
        return 2
    if args.json:
        json.dump({"file": args.file, "ok": True, "name": sc.name, "hash": sc.hash,
                   "priors": sum(len(t) for t in sc.priors.values()) + len(sc.row_sources)},
                  sys.stdout, indent=1)
        print()
    else:
        print("ok")
    return 0


def _audit(args) -> int:
    from .. import audit

    rows = [r for name in (args.scenario or shipped_scenarios()) for r in audit.audit(name)]
    if args.dependent:
        rows = [r for r in rows if r.entries]
    if args.json:
        json.dump({"priors": [{**vars(r), "cites": list(r.cites), "entries": list(r.entries)}
                              for r in rows]}, sys.stdout, indent=1)
        print()
    elif args.markdown:
        sys.stdout.write(audit.to_markdown(rows))
    else:
        for name in dict.fromkeys(r.scenario for r in rows):
            mine = [r for r in rows if r.scenario == name]
            dep = [r for r in mine if r.entries]
            meas = sum(r.quantity == "measurement" for r in mine)
            print(f"scenario '{name}': {len(mine) - meas} priors and {meas} measurement-model "
                  f"constants, {len(dep)} share data with evidence")
            for r in dep:
                print(textwrap.fill(f"{r.quantity}[{r.key}] cites {', '.join(r.cites)}: not an "
                                    f"independent check of {', '.join(r.entries)}", WIDTH,
                                    initial_indent="  ", subsequent_indent="      "))
    return 0


def _regions(args) -> int:
    from ..regions import table

    df = table()
    if args.json:
        rows = [{k: (None if isinstance(v, float) and v != v else v) for k, v in r.items()}
                for r in df.to_dict(orient="records")]
        json.dump({"regions": rows, "units": {"cif_kg_per_kwh": "kg CO2e/kWh",
                                              "wue_source_l_per_kwh": "L/kWh"}},
                  sys.stdout, indent=1)
        print()
        return 0
    print(f"{'region':12s} {'cif (kg CO2e/kWh)':>18s} {'wue_source (L/kWh)':>19s}  label "
          f"(aliases)")
    for r in df.itertuples():
        cif = "" if r.cif_kg_per_kwh != r.cif_kg_per_kwh else f"{r.cif_kg_per_kwh:g}"
        wue = "" if r.wue_source_l_per_kwh != r.wue_source_l_per_kwh else \
            f"{r.wue_source_l_per_kwh:g}"
        al = "" if not isinstance(r.aliases, str) else f" ({r.aliases.replace(';', ', ')})"
        print(textwrap.fill(f"{r.label}{al}", WIDTH,
                            initial_indent=f"{r.region:12s} {cif:>18s} {wue:>19s}  ",
                            subsequent_indent=" " * 53))
    print("sources: mcfoot/data/regions.csv (a source column per value); "
          "`mcfoot priors regions --json`")
    return 0
