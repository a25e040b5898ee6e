"""``mcfoot plot``: figures from result files (forest, distribution, rank, tornado, scale)."""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from pathlib import Path

from .. import io
from .._validate import FIGURE_FORMATS, probability
from ..errors import InputError
from . import CLIError, add_command, ci_option, common, compile_note, output_option

KINDS = ("forest", "distribution", "rank", "tornado", "scale")

EPILOG = """\
examples:
  mcfoot plot forest out.nc -o forest.png --prompt short --variable energy_wh
  mcfoot plot distribution paper.nc default.nc --model gpt-4o-mar -o dist.png
  mcfoot plot distribution paper.nc default.nc --model o3 --kind density -o dens.pdf
  mcfoot plot rank out.nc -o rank.png            (runs the study's DEA ranking first)
  mcfoot plot tornado sensitivity.nc --measure ST -o tornado.png
  mcfoot plot scale 1bn.nc 50bn.nc --variable electricity_mwh -o scale.png

kinds:
  forest        per-model median and interval of one footprint, one prompt size (log axis)
  distribution  ECDF or density of one model in several result files (e.g. scenarios)
  rank          rank-probability heatmap (a rank result with `rank_probability`, or a run
                result, ranked with the study's DEA set-up)
  tornado       sensitivity measures per input (a file with a Dataset over `input`)
  scale         fleet-scale totals with intervals (one file with draws over one category,
                or one bar per file of `mcfoot.scale.scale` results)
"""


def register(sub) -> None:
    p = add_command(sub, "plot",
                       description="Draw a figure from result files. The figure is written "
                                   "atomically; on bad input nothing is written.",
                       epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=KINDS, help="figure kind: " + ", ".join(KINDS))
    p.add_argument("files", nargs="+", help="result file(s) (.nc or .zarr)")
    output_option(p, "figure file (.png, .pdf or .svg)")
    p.add_argument("--variable", default=None,
                   help="variable to plot (forest/distribution: energy_wh; scale: the one "
                        "with draws)")
    p.add_argument("--prompt", default=None,
                   help="prompt size (forest/distribution: medium; rank: for per-prompt "
                        "results)")
    p.add_argument("--model", default=None, help="model id (distribution)")
    p.add_argument("--labels", nargs="+", default=None,
                   help="legend labels of the files (distribution; default: their scenario)")
    p.add_argument("--kind", dest="dist_kind", choices=("ecdf", "density"), default="ecdf",
                   help="distribution: ECDF or density (ecdf)")
    ci_option(p)
    p.add_argument("--linear", action="store_true",
                   help="linear instead of log axis (scale: log only when the bars span more "
                        "than a factor of ten)")
    p.add_argument("--measure", nargs="+", default=None,
                   help="tornado: measure variable(s) (default: every one over input)")
    p.add_argument("--sel", nargs="+", default=None, metavar="DIM=VALUE",
                   help="tornado/scale: select along other dimensions, e.g. output=energy_wh")
    p.add_argument("--top", type=int, default=20, help="tornado: inputs shown (20)")
    p.add_argument("--max-rank", type=int, default=None, help="rank: last rank shown")
    p.add_argument("--title", default=None, help="figure title")
    p.add_argument("--dpi", type=float, default=150, help="resolution of PNG output (150)")
    common(p, json=True)
    p.set_defaults(func=_run)


def _sel(items) -> dict:
    out = {}
    for it in items or ():
        if "=" not in it:
            raise CLIError(f"--sel '{it}' must be DIM=VALUE")
        k, v = it.split("=", 1)
        out[k] = v
    return out


def _one(args) -> str:
    if len(args.files) != 1:
        raise CLIError(f"plot {args.kind} takes one file, got {len(args.files)}")
    return args.files[0]


def _dataset_over(tree, dim: str, source: str):
    for node in tree.subtree:
        ds = node.to_dataset()
        if dim in ds.dims and ds.data_vars:
            return ds
    raise InputError(f"{source}: no group with a '{dim}' dimension; give a file that has one")


def _draw(args):
    from .. import plots

    log = not args.linear
    if args.kind == "forest":
        tree = io.read_tree(_one(args))
        return plots.forest(tree, args.variable or "energy_wh", args.prompt or "medium",
                            ci_prob=args.ci, log=log, title=args.title)
    if args.kind == "distribution":
        if not args.model:
            raise CLIError("plot distribution needs --model MODEL_ID")
        _check_labels(args)
        results = {}
        for i, f in enumerate(args.files):
            tree = io.read_tree(f)
            label = args.labels[i] if args.labels else \
                f"{tree.attrs.get('scenario', Path(f).stem)} ({Path(f).name})"
            results[label] = tree
        return plots.distribution(results, args.model, args.prompt or "medium",
                                  args.variable or "energy_wh", kind=args.dist_kind, log=log,
                                  title=args.title)
    if args.kind == "rank":
        f = _one(args)
        tree = io.read_tree(f, require=None)
        try:
            ds = io.find_dataset(tree, "rank_probability", f)
        except InputError:
            if "footprint" not in tree.children:
                raise
            ds = _rank_run(tree, args)
        return plots.rank(ds, args.prompt, max_rank=args.max_rank, title=args.title)
    if args.kind == "tornado":
        f = _one(args)
        ds = _dataset_over(io.read_tree(f, require=None), "input", f)
        return plots.tornado(ds, args.measure, sel=_sel(args.sel), top=args.top,
                             title=args.title)
    return _draw_scale(args, plots)


def _draw_scale(args, plots):
    """``mcfoot plot scale``: one bar per file (``--variable`` of each, labelled by
    ``--labels`` or the file's stem) or the bars of one file's result."""
    sel = _sel(args.sel)
    if len(args.files) > 1:  # one bar per file (e.g. one scale result per volume)
        if not args.variable:
            raise CLIError("plot scale with several files needs --variable NAME")
        _check_labels(args)
        data = {}
        for i, f in enumerate(args.files):
            ds = io.find_dataset(io.read_tree(f, require=None), args.variable, f)
            data[args.labels[i] if args.labels else Path(f).stem] = ds.sel(sel) if sel else ds
        return plots.scale(data, args.variable, ci_prob=args.ci, log=False if args.linear else None,
                           title=args.title)
    f = args.files[0]
    tree = io.read_tree(f, require=None)
    ds = io.find_dataset(tree, args.variable, f) if args.variable else \
        next((n.to_dataset() for n in tree.subtree if n.to_dataset().data_vars), None)
    if ds is None:
        raise InputError(f"{f}: holds no variables")
    return plots.scale(ds.sel(sel) if sel else ds, args.variable, ci_prob=args.ci,
                       log=False if args.linear else None, title=args.title)


def _rank_run(tree, args):
    from ..rank import rank

    compile_note(args, "dea")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UserWarning)
        ds = rank(tree)
    if not args.quiet:
        for w in caught:
            print(f"mcfoot plot: note: {w.message}", file=sys.stderr)
    return ds


def _check_labels(args) -> None:
    if args.labels and len(args.labels) != len(args.files):
        raise CLIError(f"--labels has {len(args.labels)} labels for {len(args.files)} files")


def _run(args) -> int:
    out = io.check_output(args.output, FIGURE_FORMATS, "figure")
    probability("--ci", args.ci)
    import matplotlib

    matplotlib.use("Agg")  # files only, never a window
    ax = _draw(args)
    io.save_figure(ax.figure, out, dpi=args.dpi)
    if args.json:
        json.dump({"kind": args.kind, "output": str(out), "files": args.files,
                   "width_in": float(ax.figure.get_size_inches()[0]),
                   "height_in": float(ax.figure.get_size_inches()[1])}, sys.stdout)
        print()
    elif not args.quiet:
        print(f"mcfoot plot: {args.kind} written to {out}", file=sys.stderr)
    return 0
