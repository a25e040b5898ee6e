"""``mcfoot calibrate``: condition a scenario on published figures; ``--loo`` checks it."""

from __future__ import annotations

import argparse
import json
import sys

import numpy as np

from ..evidence import shipped_evidence
from . import add_command, common, design_option, evidence_option, sampling


def register(sub) -> None:
    p = add_command(
        sub, "calibrate",
        description="Condition a scenario's shared inputs (hardware, serving regime, hosts, "
                    "model sizes) on the published figures of priors/evidence (or --evidence "
                    "files): importance sampling with Pareto smoothing, adaptive tempering when "
                    "the weights degenerate, a clear error when neither is trustworthy. The "
                    "file written is a result (ArviZ groups prior, posterior, log_likelihood, "
                    "observed_data; posterior footprints) and a scenario: pass it as "
                    "--scenario FILE to run, estimate, compare, claims, rank.",
        epilog="examples:\n  mcfoot calibrate --scenario serving -o posterior.nc\n"
               "  mcfoot run --scenario posterior.nc --draws 10000 -o out.nc\n"
               "  mcfoot calibrate --scenario serving --loo",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sampling(p, scenario="serving", scenario_help="scenario to calibrate, a shipped name or "
             ".toml", draws_default=4_000,
             draws_help="prior draws / particles, and posterior draws written")
    evidence_option(p, shipped_evidence())
    p.add_argument("--exclude", nargs="+", default=(), metavar="ID",
                   help="evidence ids to leave out")
    p.add_argument("--min-ess", type=int, default=None,
                   help="effective sample size asked for (default 2000, or half the draws "
                        "if less; below the draws)")
    p.add_argument("--method", choices=("auto", "importance", "tempering"), default="auto")
    design_option(p, "of the prior draws / initial particles; the posterior draws are "
                     "resampled, plain Monte Carlo")
    p.add_argument("--no-footprint", action="store_true",
                   help="do not add the posterior footprints of every catalogue row")
    p.add_argument("--loo", action="store_true",
                   help="print the leave-one-out table (PIT, coverage, narrowing)")
    p.add_argument("--by", choices=("entry", "source"), default="entry",
                   help="--loo holds out each entry (reweighting), or each source's entries "
                        "together: exact refits without each source, ELPD, coverage and "
                        "width for the calibrated model against the prior")
    p.add_argument("--keep-dependent", action="store_true",
                   help="keep the evidence entries that share data with the scenario's "
                        "priors (mcfoot priors audit); left out by default")
    p.add_argument("--discrepancy", default="shipped", metavar="FILE.toml",
                   help="the discrepancy model: a TOML with a [discrepancy] table (default: "
                        "mcfoot/data/measurement.toml's)")
    p.add_argument("-o", "--output", default=None, help="write the result (.nc or .zarr)")
    common(p, json=True)
    p.set_defaults(func=_run)


def _run(args) -> int:
    from pathlib import Path

    from ..calibrate import calibrate, loo
    from ..estimate import estimate_warnings
    from ..io import FORMATS, write_tree

    if args.output is None and not args.loo:
        from . import CLIError

        raise CLIError("nothing to do: give -o FILE to write the calibration, or --loo")
    out = None if args.output is None else Path(args.output)
    if out is not None and (out.suffix.lower() not in FORMATS or not out.parent.exists()):
        from . import CLIError  # checked before the run, not after it

        raise CLIError(f"{out}: give a .nc or .zarr path in an existing folder")
    kw = dict(seed=args.seed, exclude=tuple(args.exclude), method=args.method,
              keep_dependent=args.keep_dependent, discrepancy=args.discrepancy)
    with estimate_warnings():  # calibrate() reports its estimate notes in its result
        tree = calibrate(args.scenario, args.evidence, draws=args.draws, min_ess=args.min_ess,
                         footprint=not args.no_footprint, sampling=args.sampling,
                         replicates=args.replicates, **kw)
        a = tree.attrs
        if not args.quiet:
            print(f"mcfoot calibrate: {a['method']} ({a['tempering_steps']} tempering steps), "
                  f"k̂ {a['khat']:.2f}, ESS {a['ess']:.0f} of {a['draws']} draws "
                  f"(from the prior: k̂ {a['prior_khat']:.2f}, ESS {a['prior_ess']:.0f}; "
                  f"prior draws: {a.get('prior_sampling', 'mc')})", file=sys.stderr)
            if a["left_out"]:
                print(f"left out: {a['left_out']}", file=sys.stderr)
        if args.loo and args.by == "source":
            from ..loso import loso, table

            t = loso(args.scenario, args.evidence, draws=args.draws, min_ess=args.min_ess,
                     full=tree if args.sampling == "mc" else None, **kw)
    if args.output is not None:  # after every check: an error above writes nothing
        write_tree(tree, out)
    if args.loo and args.by == "source":
        if getattr(args, "json", False):
            json.dump({"attrs": t.attrs, "figures": _records(t, "entry"),
                       "sources": _records(t, "source")}, sys.stdout, indent=1, default=str)
            print()
        else:
            print(table(t))
            print()  # how far each source's figures move the headline models (reweighting)
            print(influence_table(loo(tree, by="source")))
        return 0
    if args.loo:
        t = loo(tree, by=args.by)
        rows = [{"entry": str(e), "published": float(t["published"].sel(entry=e)),
                 "loo_median": float(t["loo_median"].sel(entry=e)),
                 "pit": float(t["pit"].sel(entry=e)), "khat": float(t["khat"].sel(entry=e)),
                 "reliable": bool(t["reliable"].sel(entry=e)),
                 "in_50": bool(t["in_50"].sel(entry=e)), "in_90": bool(t["in_90"].sel(entry=e)),
                 "narrowing_median": float(t["narrowing"].sel(entry=e).median())}
                for e in t.entry.values]
        if getattr(args, "json", False):
            json.dump({"scenario": a["scenario"], "by": args.by, "rows": rows,
                       "coverage_50": t.attrs["coverage_50"],
                       "coverage_90": t.attrs["coverage_90"]}, sys.stdout, indent=1)
            print()
            return 0
        print(loo_table(rows, t.attrs))
        print()
        print(influence_table(t))
    return 0


def influence_table(t) -> str:
    """How far each held-out group moves each headline model's median energy (first prompt
    size), in percent: ``exp(median_shift) - 1``, one row per group."""
    shift = t["median_shift"].isel(prompt=0)
    groups = list(dict.fromkeys(map(str, t["group"].values)))
    models = [str(m) for m in shift.model.values]
    lines = [f"median energy with / without each {t.attrs['by']} ({shift.prompt.item()} "
             f"prompts), %: how far its figures move each model (k̂ marked ! : "
             f"reweighting unreliable; a model sharing no input with the group moves by "
             f"Monte Carlo noise only)",
             f"{'held out':32s} {'k̂':>5s} " + " ".join(f"{m[:14]:>14s}" for m in models)]
    for g in groups:
        e = str(t.entry.values[list(map(str, t["group"].values)).index(g)])
        vals = np.expm1(shift.sel(entry=e).values)
        mark = "" if bool(t["reliable"].sel(entry=e)) else "!"
        lines.append(f"{g[:32]:32s} {float(t['khat'].sel(entry=e)):5.2f}{mark:1s}"
                     + " ".join(f"{v:+14.0%}" for v in vals))
    return "\n".join(lines)


def loo_table(rows, attrs) -> str:
    head = (f"{'entry':46s} {'published':>10s} {'LOO median':>10s} {'PIT':>5s} "
            f"{'k̂':>5s} {'50%':>4s} {'90%':>4s} {'narrows':>7s}")
    lines = [head]
    for r in rows:
        lines.append(f"{r['entry']:46s} {r['published']:10.4g} {r['loo_median']:10.4g} "
                     f"{r['pit']:5.2f} {r['khat']:5.2f}{'' if r['reliable'] else '!'} "
                     f"{'yes' if r['in_50'] else 'no':>4s} {'yes' if r['in_90'] else 'no':>4s} "
                     f"{r['narrowing_median']:7.0%}")
    lines.append(f"coverage: 50 % interval {attrs['coverage_50']:.0%}, 90 % interval "
                 f"{attrs['coverage_90']:.0%} of {len(rows)} held-out figures "
                 f"(k̂ marked ! : leave-one-out reweighting unreliable); 'narrows': median "
                 f"over headline models and prompts of 1 - log width with / without the entry")
    return "\n".join(lines)


def _records(t, dim: str) -> list[dict]:
    """One JSON record per ``dim`` value of a leave-one-source-out Dataset: its variables
    over ``dim`` alone, and those over (model, ``dim``) as ``<var>_<model>``."""
    out = []
    for v in map(str, t[dim].values):
        r = t.sel({dim: v})
        rec = {dim: v}
        for k, da in r.data_vars.items():
            if dim not in t[k].dims:
                continue
            if "model" in da.dims:
                rec |= {f"{k}_{m}": da.sel(model=m).item() for m in map(str, da.model.values)}
            else:
                rec[k] = da.item()
        out.append(rec)
    return out
