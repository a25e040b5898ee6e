"""Figures. Each function only draws: it takes numbers the caller computed (or computes them
with a small helper the caller can replace), draws into ``ax`` (a new figure if ``None``) and
returns the ``matplotlib.axes.Axes``. Nothing here calls ``plt.show()`` or touches pyplot's
global state: figures are ``matplotlib.figure.Figure`` objects (save with
``ax.figure.savefig(...)`` or :func:`mcfoot.io.save_figure`; in a notebook they display).

======================  ==================================================================
:func:`forest`          per-model median and interval of one footprint, one prompt size
:func:`distribution`    ECDF or density of one model's footprint across result files
:func:`rank`            rank-probability heatmap from a :func:`mcfoot.rank.rank` Dataset
:func:`tornado`         sensitivity measures per input (a Dataset over ``input``)
:func:`scale`           fleet-scale totals with intervals (bars per category)
:func:`compare`         published figures against mcfoot's intervals (``mcfoot.compare``)
======================  ==================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import xarray as xr
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from . import variables
from ._validate import probability
from .errors import InputError
from .summary import summarize
from .io import _SUFFIX_UNITS, CF_ATTRS
from .priors import QUANTITIES

__all__ = ["axis_label", "BOUND_DIMS", "distribution", "ecdf", "forest", "interval",
           "interval_summary", "log_histogram", "rank", "RANK_DIMS", "scale", "tornado"]

#: Dimensions a rank-probability array may use for the rank (``mcfoot.rank`` uses ``k``).
RANK_DIMS = ("k", "rank")
#: Dimensions holding the two ends of an interval / swing.
BOUND_DIMS = ("ci_bound", "bound", "side")
#: Inches per label row and the fixed part of a figure's height.
ROW_IN, BASE_IN, WIDTH_IN = 0.16, 1.4, 7.0


# ---- helpers the caller can replace ---------------------------------------------------------


def interval_summary(data, ci_prob: float = 0.95) -> xr.Dataset:
    """Median and equal-tailed ``ci_prob`` interval per (model, prompt) (``mcfoot.summarize``)."""
    return summarize(data, ci_prob=ci_prob)


def interval(da: xr.DataArray, ci_prob: float = 0.95, dim: str = "draw") -> xr.Dataset:
    """Median, lower and upper equal-tailed ``ci_prob`` bounds of ``da`` over ``dim``."""
    a = (1 - probability("ci_prob", ci_prob)) / 2
    q = da.quantile([0.5, a, 1 - a], dim=dim)
    return xr.Dataset({"median": q.isel(quantile=0, drop=True),
                       "lower": q.isel(quantile=1, drop=True),
                       "upper": q.isel(quantile=2, drop=True)},
                      attrs={"ci_prob": ci_prob, **da.attrs})


def ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted values and their empirical CDF ``i / n``."""
    x = np.sort(np.asarray(values, float))
    return x, np.arange(1, x.size + 1) / x.size


def log_histogram(values: np.ndarray, bins: int = 60) -> tuple[np.ndarray, np.ndarray]:
    """Density of ``log10(values)`` on ``bins`` equal bins: (bin centres, density per decade)."""
    v = np.asarray(values, float)
    lv = np.log10(v[v > 0])
    dens, edges = np.histogram(lv, bins=bins, density=True)
    return 10 ** ((edges[:-1] + edges[1:]) / 2), dens


# ---- small drawing utilities ----------------------------------------------------------------


def _new_ax(ax: Axes | None, height: float = 4.0, width: float = WIDTH_IN) -> Axes:
    if ax is not None:
        return ax
    fig = Figure(figsize=(width, height), layout="constrained")
    return fig.add_subplot()


def axis_label(da: xr.DataArray, fallback: str = "") -> str:
    """``long_name (units)`` of a variable, for an axis."""
    declared = variables.VARIABLES.get(str(da.name))
    name = da.attrs.get("long_name") or (declared.long_name if declared else "") or \
        fallback or str(da.name)
    units = da.attrs.get("units", declared.units if declared else None)
    return f"{name} ({units})" if units not in (None, "") else name


def _num(x: float) -> str:
    """A tick value as a plain decimal (0.5, 2, 300, 0.002), never 5×10⁻¹."""
    if x == 0 or 1e-4 <= abs(x) < 1e4:
        return f"{x:g}"
    return f"{x:,.0f}" if abs(x) < 1e9 else f"{x:.0e}"


def _decimal_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _: _num(x))


def decimal_log_ticks(axis) -> None:
    """Label a log axis with decimals: every 1..9 multiple within half a decade, 1-2-3-5 up
    to 1.5 decades (0.5, 1, 2, 3 for 0.45-3), 1-2-5 up to 3.5, powers of ten beyond (call
    after the data are drawn)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    axis.axes.autoscale_view()
    lo, hi = sorted(axis.get_view_interval())
    decades = np.log10(hi / lo) if lo > 0 else np.inf
    subs = tuple(range(1, 10)) if decades <= 0.5 else (1.0, 2.0, 3.0, 5.0) if decades <= 1.5 \
        else (1.0, 2.0, 5.0) if decades <= 3.5 else (1.0,)
    axis.set_major_locator(LogLocator(base=10, subs=subs, numticks=60))
    axis.set_major_formatter(_decimal_formatter())
    axis.set_minor_formatter(NullFormatter())


def _words(da: xr.DataArray, fallback: str = "") -> str:
    """A variable's long name with a capital first letter, and its units: for titles."""
    text = axis_label(da, fallback)
    return text[:1].upper() + text[1:]


def _short(name: str) -> str:
    """A variable name in words, without its unit suffix: 'wue_site_l_per_kwh' -> 'WUE site'."""
    for suffix, _ in _SUFFIX_UNITS:
        if name.endswith(suffix) and len(name) > len(suffix):
            name = name[: -len(suffix)]
            break
    acronyms = {"pue": "PUE", "wue": "WUE", "cif": "CIF"}
    return " ".join(acronyms.get(w, w) for w in name.split("_"))


def _scenario_of(data) -> str | None:
    attrs = getattr(data, "attrs", {}) or {}
    return attrs.get("scenario") or attrs.get("simulation_scenario")


def _prompt_words(prompt: str) -> str:
    sizes = CF_ATTRS["prompt"][1].split("(", 1)[-1].rstrip(")").replace(" input/output tokens",
                                                                           "")
    for part in sizes.split(", "):
        name, _, tokens = part.partition(" ")
        if name == prompt:
            return f"{prompt} prompts ({tokens} input/output tokens)"
    return f"prompt '{prompt}'"


def _footprint(data) -> xr.Dataset:
    if isinstance(data, xr.DataTree):
        if "footprint" not in data.children:
            raise InputError("the result has no 'footprint' group; give a `mcfoot.simulate` "
                             "result")
        return data["footprint"].to_dataset()
    return data.to_dataset() if isinstance(data, xr.DataArray) else data


def _check_var(ds: xr.Dataset, variable: str) -> None:
    if variable not in ds.data_vars:
        have = [str(v) for v in ds.data_vars if "model" in ds[v].dims]
        raise InputError(f"no variable '{variable}'; available: {', '.join(have)}")


def _check_coord(ds, dim: str, value) -> None:
    if dim in ds.dims and value not in set(map(str, ds[dim].values)):
        raise InputError(f"unknown {dim} '{value}'; available: "
                         f"{', '.join(map(str, ds[dim].values[:10]))}"
                         f"{', ...' if ds.sizes[dim] > 10 else ''}")


def _palette(labels: Sequence[str]) -> dict[str, tuple]:
    from matplotlib import colormaps

    uniq = sorted(set(labels))
    cmap = colormaps["tab10" if len(uniq) <= 10 else "tab20"]
    return {u: cmap(i % cmap.N) for i, u in enumerate(uniq)}


# ---- figures --------------------------------------------------------------------------------


def _forest_summary(ds: xr.Dataset, variable: str, prompt: str, ci_prob: float,
                    stats: Callable) -> tuple[xr.Dataset, xr.DataArray]:
    """The (model, prompt, stat) summary :func:`forest` draws from (``stats`` of ``ds``
    unless it already has a ``stat`` dimension) and its ``variable`` at ``prompt``."""
    if "stat" not in ds.dims:
        _check_var(ds, variable)
        _check_coord(ds, "prompt", prompt)
        summary = stats(ds[[variable]], ci_prob)
    else:
        summary = ds
    _check_var(summary, variable)
    _check_coord(summary, "prompt", prompt)
    s = summary[variable].sel(prompt=prompt) if "prompt" in summary[variable].dims \
        else summary[variable]
    return summary, s


def _forest_groups(s: xr.DataArray, ds: xr.Dataset, color_by: str | None):
    """Each model's ``color_by`` label (e.g. its company), from ``s`` or ``ds``; None when
    there is no such coordinate."""
    if color_by and color_by in s.coords:
        return np.array(list(map(str, s[color_by].values)))
    if color_by and color_by in ds.coords:
        return np.array(list(map(str, ds[color_by].sel(model=s.model).values)))
    return None


def _forest_rows(ax: Axes, y, order, med, lo, hi, groups, color_by: str | None) -> None:
    """One interval line and median dot per model (rows ``order`` at heights ``y``),
    coloured by ``groups`` with a legend when given."""
    colors = _palette(groups[order]) if groups is not None else None
    for yi, i in zip(y, order):
        c = colors[groups[i]] if colors else "C0"
        ax.plot([lo[i], hi[i]], [yi, yi], color=c, lw=1.4, solid_capstyle="butt")
        ax.plot(med[i], yi, "o", color=c, ms=3.5)
    if colors:
        from matplotlib.lines import Line2D

        handles = [Line2D([], [], color=c, marker="o", ms=4, lw=1.4, label=g)
                   for g, c in colors.items()]
        ax.legend(handles=handles, title=color_by.replace("_", " "), fontsize=7,
                  title_fontsize=7, loc="lower right", frameon=False)


def forest(data, variable: str = "energy_wh", prompt: str = "medium", *,
           ci_prob: float = 0.95, stats: Callable = interval_summary, ax: Axes | None = None,
           sort: bool = True, log: bool = True, color_by: str | None = "company",
           title: str | None = None) -> Axes:
    """Per-model median and ``ci_prob`` interval of ``variable`` for one prompt size.

    ``data`` is a ``mcfoot.simulate`` result (DataTree or its footprint Dataset; intervals
    come from ``stats(data, ci_prob)``, by default :func:`interval_summary`) or a Dataset
    already over (model, prompt, stat) with stats ``median``, ``lower``, ``upper``
    (e.g. :func:`mcfoot.summarize`). Models are sorted by median (``sort``); models without
    a row for ``prompt`` are left out and counted in a note under the plot. The height grows
    with the number of models, so 60+ labels stay legible.
    """
    ds = _footprint(data)
    summary, s = _forest_summary(ds, variable, prompt, ci_prob, stats)
    med, lo, hi = (s.sel(stat=k).values.astype(float) for k in ("median", "lower", "upper"))
    models = np.array(list(map(str, s.model.values)))
    keep = np.isfinite(med)
    n_missing = int((~keep).sum())
    order = np.flatnonzero(keep)
    if sort:
        order = order[np.argsort(med[order], kind="stable")[::-1]]  # largest at the top
    if order.size == 0:
        raise InputError(f"no model has a '{prompt}' row; choose another prompt size")
    n = order.size
    ax = _new_ax(ax, height=BASE_IN + ROW_IN * n)
    y = np.arange(n)[::-1]
    _forest_rows(ax, y, order, med, lo, hi, _forest_groups(s, ds, color_by), color_by)
    ax.set_yticks(y, models[order], fontsize=7 if n > 30 else 8)
    ax.set_ylim(-0.7, n - 0.3)
    if log:
        ax.set_xscale("log")
        decimal_log_ticks(ax.xaxis)
    ax.grid(axis="x", which="both", lw=0.4, alpha=0.5)
    ax.set_xlabel(axis_label(s, variable))
    pct = f"{100 * float(summary.attrs.get('ci_prob', ci_prob)):g}%"
    sc = _scenario_of(data) or _scenario_of(summary)
    if title is None:
        title = (f"{_words(s, variable)}, {_prompt_words(prompt)}\n"
                 f"{'scenario ' + repr(sc) + ': ' if sc else ''}median (dot) and {pct} "
                 f"interval (line) per model")
    ax.set_title(title, fontsize=9)
    if n_missing:
        ax.annotate(f"{n_missing} model(s) without a '{prompt}' row not shown",
                    (0, 0), xycoords="figure fraction", xytext=(4, 2),
                    textcoords="offset points", fontsize=6, color="0.4")
    return ax


def _series(obj, model: str, prompt: str, variable: str, label: str) -> np.ndarray:
    if isinstance(obj, xr.DataArray) and "model" not in obj.dims:
        da = obj
    else:
        ds = _footprint(obj)
        _check_var(ds, variable)
        _check_coord(ds, "model", model)
        _check_coord(ds, "prompt", prompt)
        da = ds[variable].sel(model=model, prompt=prompt)
    v = np.asarray(da.values, float).ravel()
    if not np.isfinite(v).any():
        raise InputError(f"{label}: model '{model}' has no '{prompt}' row")
    return v


def distribution(results, model: str, prompt: str = "medium", variable: str = "energy_wh",
                 *, kind: str = "ecdf", ax: Axes | None = None, log: bool = True,
                 density: Callable = log_histogram, title: str | None = None) -> Axes:
    """ECDF (``kind="ecdf"``) or density (``"density"``) of one model's ``variable`` in
    several results, e.g. one per scenario.

    ``results``: a mapping label -> result (DataTree, footprint Dataset or a 1-D DataArray of
    draws), or a sequence of results (labelled by their ``scenario`` attr). ``density`` maps
    draws to (x, y); the default :func:`log_histogram` gives the density per decade of x.
    """
    if kind not in ("ecdf", "density"):
        raise InputError(f"kind must be 'ecdf' or 'density', got {kind!r}")
    if isinstance(results, (xr.DataTree, xr.Dataset, xr.DataArray)):
        results = [results]
    if not isinstance(results, Mapping):
        results = {str(r.attrs.get("scenario", f"result {i + 1}")) if r.attrs.get("scenario")
                   else f"result {i + 1}": r for i, r in enumerate(results)}
    if not results:
        raise InputError("give at least one result")
    ax = _new_ax(ax, height=3.6)
    units_da = None
    for i, (label, obj) in enumerate(results.items()):
        v = _series(obj, model, prompt, variable, str(label))
        v = v[np.isfinite(v)]
        if kind == "ecdf":
            x, y = ecdf(v)
            ax.step(x, y, where="post", color=f"C{i}", lw=1.4, label=str(label))
        else:
            x, y = density(v)
            ax.plot(x, y, color=f"C{i}", lw=1.4, label=str(label))
        if units_da is None:
            units_da = obj if isinstance(obj, xr.DataArray) and "model" not in obj.dims \
                else _footprint(obj)[variable]
    if log:
        ax.set_xscale("log")
        decimal_log_ticks(ax.xaxis)
    ax.set_xlabel(axis_label(units_da, variable))
    ax.set_ylabel("cumulative probability" if kind == "ecdf" else
                  "density (per decade)" if density is log_histogram else "density")
    ax.grid(which="both", lw=0.4, alpha=0.5)
    ax.legend(fontsize=8, frameon=False)
    if title is None:
        title = (f"{_words(units_da, variable)} of {model}, {_prompt_words(prompt)}\n"
                 f"{'empirical CDF' if kind == 'ecdf' else 'density'} under "
                 f"{' vs '.join(str(k).split(' (')[0] for k in results)}")
    ax.set_title(title, fontsize=9)
    return ax


def _rank_dim(da: xr.DataArray) -> str:
    for d in RANK_DIMS:
        if d in da.dims:
            return d
    raise InputError(f"rank_probability has dims {da.dims}; expected a rank dimension "
                     f"({' or '.join(RANK_DIMS)})")


def _rank_rows(ds: xr.Dataset, prompt: str | None, sort: bool, max_rank: int | None):
    """The rank-probability matrix :func:`rank` draws, rows in its order: (p, ks, models,
    prompt), ``prompt`` resolved when the probabilities are per prompt."""
    if "rank_probability" not in ds.data_vars:
        raise InputError("no variable 'rank_probability'; give the result of mcfoot.rank.rank")
    P = ds["rank_probability"]
    if "prompt" in P.dims:
        if prompt is None and P.sizes["prompt"] == 1:
            prompt = str(P.prompt.values[0])
        if prompt is None:
            raise InputError(f"the rank probabilities are per prompt; choose one of "
                             f"{', '.join(map(str, P.prompt.values))}")
        _check_coord(P, "prompt", prompt)
        P = P.sel(prompt=prompt)
    kdim = _rank_dim(P)
    P = P.transpose("model", kdim)
    p = P.values.astype(float)
    ks = np.asarray(P[kdim].values) if kdim in P.coords else np.arange(1, p.shape[1] + 1)
    keep = np.isfinite(p).all(axis=1)
    exp = ds["expected_rank"].sel(prompt=prompt).values if prompt is not None and \
        "expected_rank" in ds and "prompt" in ds["expected_rank"].dims else \
        ds["expected_rank"].values if "expected_rank" in ds else (p * ks).sum(axis=1)
    order = np.flatnonzero(keep)
    if sort:
        order = order[np.argsort(exp[order], kind="stable")]
    if max_rank is not None:
        cols = ks <= max_rank
        p, ks = p[:, cols], ks[cols]
    models = np.array(list(map(str, P.model.values)))[order]
    return p[order], ks, models, prompt


def _rank_point_marks(ax: Axes, ds: xr.Dataset, prompt, models, ks) -> None:
    """Green crosses at the rank of the point estimate, when ``ds`` has ``point_rank``."""
    if "point_rank" not in ds:
        return
    pr = ds["point_rank"].sel(prompt=prompt) if prompt is not None and \
        "prompt" in ds["point_rank"].dims else ds["point_rank"]
    pr = np.asarray(pr.sel(model=models).values, float) if "model" in pr.dims else None
    if pr is not None and np.isfinite(pr).any():
        col = np.interp(pr, ks, np.arange(len(ks)), left=np.nan, right=np.nan)
        ax.plot(col, np.arange(len(models)), "x", ms=3.5, color="limegreen", mew=1.0,
                label="rank of the point estimate")


def _rank_title(a: dict, sc: str | None, prompt: str | None) -> str:
    """The default title of :func:`rank`: the method, prompt, scenario, draws and DEA
    inputs/outputs of a rank Dataset's attrs ``a``."""
    draws = a.get("draws_used", a.get("draws"))
    how = (f"DEA cross-efficiency ({a['secondary']})" if "secondary" in a
           else "rank probabilities")
    return (f"Eco-efficiency rank of each model: {how}"
            + (f", {_prompt_words(prompt)}" if prompt else "")
            + (f"\nscenario '{sc}'" if sc else "") + (f", {draws} draws" if draws else "")
            + (f"; inputs {', '.join(map(_short, a['inputs'].split(';')))}; output "
               f"{', '.join(map(_short, a['outputs'].split(';')))}"
               if "inputs" in a and "outputs" in a else ""))


def _excluded_note(ax: Axes, a: dict) -> None:
    """A small note at the figure's foot naming the models a rank left out."""
    excluded = [m for m in str(a.get("excluded_models", "")).split(";") if m]
    if excluded:
        import textwrap

        note = (f"{len(excluded)} model(s) without "
                f"{', '.join(map(_short, str(a.get('outputs', 'an output')).split(';')))} are left "
                f"out: {', '.join(excluded)}")
        ax.annotate("\n".join(textwrap.wrap(note, 150)), (0, 0), xycoords="figure fraction",
                    xytext=(4, 2), textcoords="offset points", fontsize=6, color="0.3",
                    va="bottom")


def rank(ds: xr.Dataset, prompt: str | None = None, *, ax: Axes | None = None,
         sort: bool = True, max_rank: int | None = None, annotate: bool | None = None,
         title: str | None = None) -> Axes:
    """Heatmap of ``P(rank = k)`` per model from a Dataset with ``rank_probability`` over
    (model, k) — or (model, prompt, k), then pick ``prompt``. Rows are sorted by expected
    rank (the Dataset's ``expected_rank`` if present, else ``sum k P(k)``); ``max_rank``
    cuts the columns; ``annotate`` writes the probabilities in the cells (default: when
    there are at most 15 models).
    """
    p, ks, models, prompt = _rank_rows(ds, prompt, sort, max_rank)
    n = len(models)
    ax = _new_ax(ax, height=BASE_IN + 0.4 + ROW_IN * max(n, 8),
                 width=max(WIDTH_IN, 2 + 0.22 * len(ks)))
    from matplotlib.colors import PowerNorm

    # a perceptual sequential map on a square-root scale: P = 0.02 is already visible,
    # white means "never at this rank"
    im = ax.imshow(p, aspect="auto", cmap="magma_r", interpolation="nearest",
                   norm=PowerNorm(0.5, vmin=0, vmax=max(float(np.nanmax(p)), 1e-12)))
    mode = np.argmax(np.nan_to_num(p, nan=-1), axis=1)
    ax.plot(mode, np.arange(n), "o", ms=3, mfc="none", mec="deepskyblue", mew=1.0,
            label="most likely rank")
    _rank_point_marks(ax, ds, prompt, models, ks)
    marks = "blue ring: most likely rank" + ("; green x: rank of the point estimate"
                                              if len(ax.lines) > 1 else "")
    ax.set_yticks(np.arange(n), models, fontsize=7 if n > 30 else 8)
    step = max(1, len(ks) // 20)
    ax.set_xticks(np.arange(len(ks))[::step], [f"{k:g}" for k in ks[::step]], fontsize=7)
    ax.set_xlabel(f"rank k (1 = most eco-efficient); {marks}")
    cb = ax.figure.colorbar(im, ax=ax, shrink=0.8)
    cb.set_label("P(rank = k)  (square-root scale)")
    cb.set_ticks([t for t in (0, 0.02, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0)
                  if t <= float(np.nanmax(p)) + 1e-12])
    if annotate or (annotate is None and n <= 15 and len(ks) <= 20):
        for i in range(n):
            for j in range(len(ks)):
                if p[i, j] >= 0.005:
                    ax.text(j, i, f"{p[i, j]:.2f}", ha="center", va="center", fontsize=6,
                            color="white" if p[i, j] > 0.5 * np.nanmax(p) else "black")
    if title is None:
        title = _rank_title(ds.attrs, _scenario_of(ds), prompt)
    ax.set_title(title, fontsize=9)
    _excluded_note(ax, ds.attrs)
    return ax


def tornado(ds: xr.Dataset | xr.DataArray, measure: str | Sequence[str] | None = None, *,
            sel: dict | None = None, ax: Axes | None = None, top: int | None = 20,
            title: str | None = None) -> Axes:
    """Horizontal bars of sensitivity measures per input, largest at the top.

    ``ds`` is over ``input`` (select other dims with ``sel``). ``measure`` names the
    variable(s) to draw (default: every variable over ``input`` alone; a variable
    ``<measure>_conf`` becomes its error bar). A measure with a two-valued bound dimension
    (``ci_bound``/``bound``/``side``: low and high) is drawn as a classic tornado: one bar
    per input from low to high, around the Dataset's ``baseline`` attr if given.
    """
    if isinstance(ds, xr.DataArray):
        ds = ds.to_dataset(name=ds.name or "measure")
    if sel:
        ds = ds.sel(sel)
    if "input" not in ds.dims:
        raise InputError(f"a tornado needs a Dataset over 'input'; got dims {tuple(ds.dims)}")
    where = ", ".join(f"{ds[d].values.item()}" + (" prompts" if d == "prompt" else "")
                      for d in ("model", "prompt") if d in ds.coords and ds[d].size == 1)
    ds = ds.squeeze([d for d in ds.dims if ds.sizes[d] == 1 and d != "input" and
                     d not in BOUND_DIMS], drop=True)  # e.g. one model and prompt
    measures = _tornado_measures(ds, measure)
    first = ds[measures[0]]
    bdim = next((d for d in BOUND_DIMS if d in first.dims), None)
    lo_hi = first.transpose("input", bdim).values.astype(float) if bdim else None
    order = _largest_first(np.abs(lo_hi[:, 1] - lo_hi[:, 0]) if bdim else
                           np.abs(first.values.astype(float)), top)
    names = np.array([_input_words(str(v)) for v in ds["input"].values])[order]
    n = len(names)
    ax = _new_ax(ax, height=BASE_IN + 0.24 * n,
                 width=max(WIDTH_IN, 3.5 + 0.065 * max(map(len, names), default=0)))
    y = np.arange(n)[::-1]
    if bdim:
        _low_high_bars(ax, y, lo_hi[order], first[bdim].values,
                       float(ds.attrs.get("baseline", first.attrs.get("baseline", np.nan))))
    else:
        _measure_bars(ax, y, ds, measures, order)
    ax.set_yticks(y, names, fontsize=8)
    ax.set_ylim(-0.6, n - 0.4)
    ax.grid(axis="x", lw=0.4, alpha=0.5)
    ax.set_xlabel(_tornado_xlabel(ds, first, measures))
    if title is None and not ds.attrs.get("variable"):
        title = ds.attrs.get("title", "sensitivity")
    if title is None:
        title = _tornado_title(ds, where)
    ax.set_title(title, fontsize=9)
    return ax


def _largest_first(key: np.ndarray, top: int | None) -> np.ndarray:
    """Indices of ``key`` from the largest down (stable; NaN last), the first ``top``."""
    order = np.argsort(np.where(np.isfinite(key), key, -np.inf), kind="stable")[::-1]
    return order if top is None else order[:top]


def _low_high_bars(ax: Axes, y, lo_hi: np.ndarray, bounds, base: float) -> None:
    """A classic tornado: per input (at heights ``y``) a low and a high bar from the
    baseline ``base`` (0 when not finite), labelled by the two ``bounds``."""
    lo, hi = lo_hi[:, 0], lo_hi[:, 1]
    ref = base if np.isfinite(base) else 0.0
    ax.barh(y, lo - ref, left=ref, color="C0", label=f"{bounds[0]}")
    ax.barh(y, hi - ref, left=ref, color="C3", label=f"{bounds[1]}")
    if np.isfinite(base):
        ax.axvline(base, color="k", lw=0.8)
    ax.legend(fontsize=7, frameon=False)


def _measure_bars(ax: Axes, y, ds: xr.Dataset, measures: list[str], order) -> None:
    """Side-by-side bars of each measure per input (rows ``order`` at heights ``y``), with a
    ``<measure>_conf`` variable as the error bar."""
    h = 0.8 / len(measures)
    for j, m in enumerate(measures):
        v = ds[m].values.astype(float)[order]
        err = ds[f"{m}_conf"].values.astype(float)[order] if f"{m}_conf" in ds else None
        ax.barh(y + 0.4 - h * (j + 0.5), v, height=h, xerr=err, color=f"C{j}",
                label=str(ds[m].attrs.get("long_name", m)),
                error_kw={"lw": 0.8, "capsize": 2})
    if len(measures) > 1:
        ax.legend(fontsize=7, frameon=False, loc="lower right")
    ax.axvline(0, color="k", lw=0.6)


def _tornado_measures(ds: xr.Dataset, measure: str | Sequence[str] | None) -> list[str]:
    """The measures :func:`tornado` draws (default: every variable over ``input`` alone,
    bound dimensions aside), each checked to exist and vary over nothing else."""
    if measure is None:
        measure = [str(v) for v in ds.data_vars if not str(v).endswith("_conf") and
                   "input" in ds[v].dims and
                   set(ds[v].dims) - {"input"} <= set(BOUND_DIMS)]
    measures = [measure] if isinstance(measure, str) else list(measure)
    for m in measures:
        if m not in ds.data_vars:
            raise InputError(f"no measure '{m}'; available: {', '.join(map(str, ds.data_vars))}")
        extra = set(ds[m].dims) - {"input", *BOUND_DIMS}
        if extra:
            raise InputError(f"measure '{m}' also varies over {', '.join(sorted(extra))}; "
                             f"pick one with sel={{...}}")
    if not measures:
        raise InputError("no measure over 'input' found; name one with measure=")
    return measures


def _tornado_xlabel(ds: xr.Dataset, first: xr.DataArray, measures: list[str]) -> str:
    """The x label of :func:`tornado`: the measure's (or 'sensitivity measure') with its
    unit, the analysed variable's name replaced by its long name."""
    var = ds.attrs.get("variable")
    xlabel = axis_label(first, measures[0]) if len(measures) == 1 else \
        f"sensitivity measure ({first.attrs.get('units', '1')})"
    if var:
        import re

        long = variables.VARIABLES[var].long_name if var in variables.VARIABLES else var
        xlabel = re.sub(rf"\b{re.escape(var)}\b", long, xlabel)
    return xlabel


def _tornado_title(ds: xr.Dataset, where: str) -> str:
    """The default title of :func:`tornado`: what drives which variable (with its unit), for
    which model/prompt, in which scenario, by which method."""
    a = ds.attrs
    what = a.get("variable")
    if what:
        v = variables.VARIABLES.get(what)
        what = f"{v.long_name if v else what} ({a.get('variable_units', v.units if v else '')})"
    sc = _scenario_of(ds)
    return (f"What drives {what or 'the output'}" + (f": {where}" if where else "")
            + (f"\nscenario '{sc}'; " if sc else "\n")
            + str(a.get("method", a.get("title", "sensitivity"))).split(",")[0])


def _input_words(name: str) -> str:
    """A sampled input's long name with its quantity name, e.g. 'output speed (speed)'."""
    q = QUANTITIES.get(name.split("/")[0])
    return f"{q.long_name} ({name})" if q is not None and q.long_name else name


def _scale_stats(data, variable, ci_prob, stats) -> tuple[xr.Dataset, xr.DataArray]:
    """``median``/``lower``/``upper`` of what :func:`scale` was given, and the array whose
    attrs label the axis."""
    if isinstance(data, Mapping) and not isinstance(data, xr.Dataset):
        if variable is None:
            raise InputError("name the variable to plot from each result (variable=...)")
        for k, d in data.items():
            if variable not in d.data_vars:
                raise InputError(f"{k}: no variable '{variable}'; available: "
                                 f"{', '.join(map(str, d.data_vars))}")
        common = {k: v for k, v in next(iter(data.values())).attrs.items()
                  if k in ("model", "scenario", "prompt_mix") and
                  all(d.attrs.get(k) == v for d in data.values())}
        data = xr.concat([d[variable] for d in data.values()], dim="case",
                         coords="minimal", compat="override", join="override") \
            .assign_coords(case=[str(k) for k in data])
        data["case"].attrs["long_name"] = "case"
        data.attrs = {**data.attrs, **common}
    if isinstance(data, xr.Dataset) and {"median", "lower", "upper"} <= set(data.data_vars):
        st = data
        units_da = data["median"]
    else:
        da = data
        if isinstance(data, xr.Dataset):
            if variable is None:
                cands = [v for v in data.data_vars if "draw" in data[v].dims]
                if len(cands) != 1:
                    raise InputError(f"name the variable to plot; candidates: "
                                     f"{', '.join(map(str, cands or data.data_vars))}")
                variable = str(cands[0])
            if variable not in data.data_vars:
                raise InputError(f"no variable '{variable}'; available: "
                                 f"{', '.join(map(str, data.data_vars))}")
            da = data[variable]
        if "stat" in da.dims:
            st = xr.Dataset({k: da.sel(stat=k, drop=True) for k in ("median", "lower", "upper")})
        elif "draw" in da.dims:
            st = stats(da, ci_prob)
        else:
            raise InputError(f"scale data need a 'draw' or 'stat' dimension; got {da.dims}")
        units_da = da
    return st, units_da


def scale(data: xr.DataArray | xr.Dataset, variable: str | None = None, *,
          ci_prob: float = 0.95, stats: Callable = interval, ax: Axes | None = None,
          log: bool | None = False, horizontal: bool | None = None,
          title: str | None = None) -> Axes:
    """Bars (median) with ``ci_prob`` intervals of a fleet-scale total per category.

    ``data`` is a mapping label -> :func:`mcfoot.scale.scale` result (one bar each, of
    ``variable``), a DataArray over one category dimension and ``draw`` (intervals from
    ``stats(da, ci_prob)``, by default :func:`interval`), or a Dataset/DataArray already
    holding ``median``/``lower``/``upper`` (variables, or values of a ``stat`` dimension),
    over one category dimension. ``variable`` picks a variable of a Dataset with draws.
    ``log=None`` chooses a log axis when the intervals span more than a factor of ten.
    """
    st, units_da = _scale_stats(data, variable, ci_prob, stats)
    cats = [d for d in st["median"].dims]
    if not cats:  # one total: one bar, labelled by the variable's long name
        st = st.expand_dims(variable=[str(units_da.attrs.get("long_name") or variable or
                                          units_da.name)])
        st["variable"].attrs["long_name"] = ""
        cats = ["variable"]
    if len(cats) != 1:
        raise InputError(f"scale bars need exactly one category dimension; got {cats} "
                         f"(select the others first)")
    cat = cats[0]
    med, lo, hi = (st[k].values.astype(float) for k in ("median", "lower", "upper"))
    if log is None:
        log = bool(np.nanmin(lo) > 0 and np.nanmax(hi) / np.nanmin(lo) > 10)
    labels = list(map(str, st[cat].values))
    n = len(labels)
    horizontal = n > 8 if horizontal is None else horizontal
    ax = _new_ax(ax, height=BASE_IN + 0.3 * n if horizontal else 3.8)
    _interval_bars(ax, med, lo, hi, labels, horizontal=horizontal, log=log,
                   value_label=axis_label(units_da),
                   category_label=str(st[cat].attrs.get("long_name", cat)))
    if title is None:
        pct = f"{100 * float(st.attrs.get('ci_prob', ci_prob)):g}%"
        a = {**getattr(units_da, "attrs", {}), **getattr(data, "attrs", {})}
        what = _words(units_da).split(' (')[0] if cat != 'variable' else 'Fleet totals'
        title = _scale_title(what, a, pct)
    ax.set_title(title, fontsize=9)
    return ax


def _interval_bars(ax: Axes, med, lo, hi, labels: list[str], *, horizontal: bool, log: bool,
                   value_label: str, category_label: str) -> None:
    """Bars at the medians with error bars from ``lo`` to ``hi``, one per label, along the
    value axis (x when ``horizontal``, else y; log-scaled when ``log``)."""
    n = len(labels)
    err = np.vstack([med - lo, hi - med])
    kw = {"color": "C0", "alpha": 0.85, "error_kw": {"lw": 1, "capsize": 3, "ecolor": "k"}}
    pos = np.arange(n)
    if horizontal:
        ax.barh(pos[::-1], med, xerr=err, **kw)
        ax.set_yticks(pos[::-1], labels, fontsize=8)
        ax.set_xlabel(value_label)
        ax.set_ylabel(category_label)
        value_axis, value_name = ax.xaxis, "x"
    else:
        ax.bar(pos, med, yerr=err, **kw)
        ax.set_xticks(pos, labels, fontsize=8, rotation=30 if n > 4 else 0,
                      ha="right" if n > 4 else "center")
        ax.set_ylabel(value_label)
        ax.set_xlabel(category_label)
        value_axis, value_name = ax.yaxis, "y"
    if log:
        getattr(ax, f"set_{value_name}scale")("log")
        decimal_log_ticks(value_axis)
    else:
        value_axis.set_major_formatter(_decimal_formatter())
    ax.grid(axis=value_name, which="both", lw=0.4, alpha=0.5)


def _scale_title(what: str, a: dict, pct: str) -> str:
    """The default title of :func:`scale`: what is totalled, the case (model, queries, prompt
    mix) and scenario of the attrs ``a``, and the interval shown."""
    case = ""
    if "model" in a:
        case = (a["model"] + (f", {a['queries'] / 1e9:.4g} billion queries"
                              if "queries" in a else "")
                + (f" (mix {a['prompt_mix']})" if a.get("prompt_mix") else ""))
    sc = a.get("scenario")
    return (what + (f": {case}" if case else "") + "\n"
            + (f"scenario '{sc}': " if sc else "") + f"median (bar) and {pct} interval")


def compare(ds: xr.Dataset, *, ax: Axes | None = None) -> Axes:
    """Each published figure against mcfoot's 90 % interval at its boundary and tokens.

    ``ds`` is a :func:`mcfoot.compare.compare` result. Every row is drawn relative to its
    published figure (mcfoot / published, log axis), so entries in different units share
    one axis: the published figure is the line at 1, the bar mcfoot's interval, the dot its
    median. Entries mcfoot cannot predict under the scenario are labelled, not drawn.
    """
    need = {"value", "median", "lower", "upper"}
    if not need <= set(ds.data_vars) or "evidence" not in ds.dims:
        raise InputError("give a mcfoot.compare.compare() result (a Dataset over 'evidence' "
                         "with value, median, lower, upper)")
    n = ds.sizes["evidence"]
    ax = _new_ax(ax, height=BASE_IN + 0.42 * n, width=WIDTH_IN + 1.5)
    ids = [str(i) for i in ds.evidence.values]
    y = np.arange(n)[::-1]
    ok = np.array([str(s) == "ok" for s in ds["status"].values])
    val = ds["value"].values
    rel = {k: ds[k].values / val for k in ("median", "lower", "upper")}
    lo = np.nanmin(np.r_[rel["lower"][ok], 1.0]) if ok.any() else 0.1
    hi = np.nanmax(np.r_[rel["upper"][ok], 1.0]) if ok.any() else 10.0
    for i in range(n):
        label = f"{ids[i]}\n{val[i]:g} {ds['unit'].values[i]} ({ds['statistic'].values[i]})"
        if ok[i]:
            inside = rel["lower"][i] <= 1 <= rel["upper"][i]
            color = "tab:blue" if inside else "tab:red"
            ax.plot([rel["lower"][i], rel["upper"][i]], [y[i], y[i]], color=color, lw=3,
                    solid_capstyle="butt")
            ax.plot(rel["median"][i], y[i], "o", color="white", mec=color, ms=6)
            pct = float(ds["percentile"].values[i])
            ax.annotate(f"P{pct:.0f}", (rel["upper"][i], y[i]), xytext=(4, 0),
                        textcoords="offset points", va="center", fontsize=7)
        else:
            ax.annotate("not predictable under this scenario", (1, y[i]), xytext=(6, 0),
                        textcoords="offset points", va="center", fontsize=7, color="0.4")
        ax.text(-0.02, y[i], label, transform=ax.get_yaxis_transform(), ha="right",
                va="center", fontsize=7)
    ax.axvline(1.0, color="k", lw=1, ls="--")
    ax.set_xscale("log")
    ax.set_xlim(lo / 2, hi * 3)
    ax.set_yticks([])
    ax.set_ylim(-0.7, n - 0.3)
    ax.set_xlabel("mcfoot / published figure (log)\nbar: mcfoot's 90 % interval (red: "
                  "the published figure is outside it), dot: median, P: percentile of the "
                  "published figure")
    ax.set_title(f"published figures vs mcfoot, scenario '{ds.attrs.get('scenario', '')}'",
                 fontsize=9)
    return ax
