"""Summaries of footprint distributions: mean, sd, median and a credible interval.

Intervals come from ArviZ through :mod:`mcfoot._arviz` (equal-tailed or highest-density),
computed with the median in one pass of its order-statistic kernels; the mean is a plain
xarray reduction over ``draw``, the sd NumPy's ``std`` row by row on all cores (the same
numbers as ``DataArray.std``: NumPy reduces each row's contiguous draws pairwise either way,
and row by row needs no array-sized temporaries). Comparisons between models are made per
draw (:func:`ratio`): the ratio of two footprints is a distribution, and its summary is not
the ratio of the two summaries. Every summary comes with its Monte Carlo standard error
(``<variable>_mcse``, :mod:`mcfoot.mcse`), for plain Monte Carlo and Sobol' runs alike.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import xarray as xr

from . import mcse as _mcse, provenance
from ._arviz import KINDS, median_interval
from ._validate import choice, probability
from .errors import InputError

__all__ = ["STATS", "ratio", "summarize", "summarize_draws", "summary_mcse"]

STATS = ("mean", "sd", "median", "lower", "upper")


def _footprint(tree: xr.DataTree | xr.Dataset) -> tuple[xr.Dataset, dict]:
    if isinstance(tree, xr.DataTree):
        if "footprint" not in tree.children:
            raise InputError("the DataTree has no 'footprint' group; pass the result of "
                             "mcfoot.simulate() or mcfoot.read_tree()")
        return tree["footprint"].to_dataset(), dict(tree.attrs)
    if isinstance(tree, xr.Dataset):
        return tree, dict(tree.attrs)
    raise InputError(f"expected an xarray DataTree or Dataset, got {type(tree).__name__}")


def _check(ci_prob: float, kind: str) -> None:
    probability("ci_prob", ci_prob)
    choice("kind", kind, KINDS, "equal-tailed or highest-density interval")


_STD_ROWS = 4  # rows per task of _std: a task's temporaries stay in cache


def _std(da: xr.DataArray, dim: str) -> xr.DataArray:
    """``da.std(dim, ddof=1, skipna=False)``, computed row by row on numba's thread count
    (NumPy releases the GIL in its loops; the rows are independent, so the numbers do not
    depend on the number of threads)."""
    x = da.transpose(..., dim)
    values = np.asarray(x.values)
    n = values.shape[-1]
    rows = np.ascontiguousarray(values.reshape(-1, n))
    out = np.empty(rows.shape[0])

    def work(i):
        np.std(rows[i:i + _STD_ROWS], axis=-1, ddof=1, out=out[i:i + _STD_ROWS])

    starts = range(0, rows.shape[0], _STD_ROWS)
    import numba  # numba only when used

    threads = numba.get_num_threads()
    if threads > 1 and len(starts) > 1:
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(work, starts))
    else:
        for i in starts:
            work(i)
    coords = {k: v for k, v in x.coords.items() if dim not in v.dims}
    return xr.DataArray(out.reshape(values.shape[:-1]), dims=x.dims[:-1], coords=coords,
                        name=da.name)


def summarize_draws(da: xr.DataArray, ci_prob: float = 0.95, kind: str = "eti",
                    dim: str = "draw") -> xr.DataArray:
    """Mean, sd (ddof=1), median and the ``ci_prob`` interval of ``da`` over ``dim``; the
    result has a trailing ``stat`` dimension (``mean, sd, median, lower, upper``) and keeps
    ``da``'s attrs (units)."""
    return _summarize_draws(da, ci_prob, kind, dim)[0]


def _summarize_draws(da: xr.DataArray, ci_prob: float, kind: str, dim: str = "draw",
                     extra_ranks=None) -> tuple[xr.DataArray, np.ndarray | None]:
    """:func:`summarize_draws` and the order statistics ``extra_ranks`` over ``dim`` (ETI:
    selected with the median and interval; else None)."""
    _check(ci_prob, kind)
    if dim not in da.dims:
        raise InputError(f"{da.name or 'the array'} has no {dim!r} dimension (dims {da.dims})")
    median, ci, *extra = median_interval(da, ci_prob, kind, dim=dim, extra_ranks=extra_ranks)
    moments = [da.mean(dim, skipna=False), _std(da, dim), median]
    parts = [m.drop_vars([c for c in m.coords if c not in ci.coords], errors="ignore")
             for m in moments] + [ci.sel(ci_bound=b, drop=True) for b in ("lower", "upper")]
    out = xr.concat(parts, dim="stat", coords="minimal", compat="override",
                    join="override").assign_coords(stat=list(STATS))
    out = out.transpose(..., "stat")
    out.attrs = dict(da.attrs)
    out.name = da.name
    return out, (extra[0] if extra else None)


def summary_mcse(da: xr.DataArray, layout: _mcse.Layout, ci_prob: float = 0.95,
                 kind: str = "eti", *, sd: np.ndarray | None = None,
                 brackets: np.ndarray | None = None) -> xr.DataArray:
    """Monte Carlo standard error of each of :func:`summarize_draws`'s statistics of ``da``
    (draw first), same dims and units, for the run's sampling ``layout``
    (:func:`mcfoot.mcse.layout`), by :mod:`mcfoot.mcse`'s estimators (mean, sd, quantiles
    for the median and an ETI's bounds); an HDI's bounds, which have no formula, by the
    spread of the replicates' (Sobol') or sections' (MC) HDI bounds. ``sd`` (the sd
    statistic) and ``brackets`` (the order statistics of :func:`mcfoot.mcse.quantile_ranks`
    at the median and the ETI's bounds) skip recomputing what :func:`summarize` already
    has."""
    x = da.values

    def bounds(g: np.ndarray) -> np.ndarray:  # the interval of one replicate or section
        return median_interval(da.isel(draw=slice(0, len(g))).copy(data=g), ci_prob,
                               kind)[1].values

    a = (1 - ci_prob) / 2
    q = _mcse.quantile(x, [0.5, a, 1 - a], layout, brackets)
    if kind == "hdi":  # no formula: the spread over replicates (Sobol') or sections (MC)
        q[..., 1:] = _mcse.grouped(bounds, x, layout)
    err = np.concatenate([_mcse.mean(x, layout, sd)[..., None], _mcse.sd(x, layout)[..., None], q],
                         axis=-1)
    dims = [d for d in da.dims if d != "draw"] + ["stat"]
    coords = {d: da[d] for d in dims if d in da.coords and d != "stat"}
    return xr.DataArray(err, dims=dims, coords=coords | {"stat": list(STATS)},
                        attrs={"units": da.attrs.get("units", ""), "long_name":
                               f"Monte Carlo standard error of the summaries of {da.name}"})


def _summarized(ds: xr.Dataset, variables) -> list[str]:
    """The footprint variables :func:`summarize` summarises: ``variables`` (a name or
    names, each checked to be over (draw, model, prompt)), by default every such one."""
    full = [v for v in ds.data_vars if set(ds[v].dims) == {"draw", "model", "prompt"}]
    if variables is None:
        return full
    names = [variables] if isinstance(variables, str) else list(variables)
    unknown = [v for v in names if v not in full]
    if unknown:
        raise InputError(f"unknown footprint variable(s) {', '.join(unknown)}; "
                         f"known: {', '.join(full)}")
    return names


def summarize(tree: xr.DataTree | xr.Dataset, ci_prob: float = 0.95, kind: str = "eti",
              variables=None, *, mcse: bool = True) -> xr.Dataset:
    """Per (model, prompt) mean, sd (ddof=1), median and a ``ci_prob`` credible interval of
    each footprint variable.

    Parameters
    ----------
    tree : result of :func:`mcfoot.simulate` (or its ``footprint`` Dataset).
    ci_prob : probability of the interval.
    kind : ``"eti"`` (equal-tailed: the ``(1 - p)/2`` and ``(1 + p)/2`` quantiles) or
        ``"hdi"`` (highest density: the shortest interval holding ``ci_prob`` of the draws;
        for the right-skewed footprints it sits lower than the ETI).
    variables : names to summarise (default: every variable over (draw, model, prompt)).
    mcse : also return the Monte Carlo standard error of every statistic (default True).

    Returns
    -------
    Dataset with the same variables (and units) over (model, prompt, stat), stat =
    ``mean, sd, median, lower, upper``, and beside each ``<variable>_mcse``: the Monte Carlo
    standard error of each statistic (:func:`summary_mcse`; from the replicates of a Sobol'
    run, iid formulas for plain Monte Carlo); attrs record ``ci_prob``, ``ci_kind``,
    ``draws``, ``mcse_method`` and the run's provenance (with its sampling design). A
    Dataset without a recorded design is taken as plain Monte Carlo, and ``mcse_method``
    says so. Absent (model, prompt) rows are NaN.
    """
    _check(ci_prob, kind)
    ds, attrs = _footprint(tree)
    names = _summarized(ds, variables)
    out = xr.Dataset(coords={"model": ds.model, "prompt": ds.prompt, "stat": list(STATS)})
    lay = _mcse.layout(attrs, ds.sizes["draw"])
    a = (1 - ci_prob) / 2
    for v in names:
        da = ds[v].transpose("draw", "model", "prompt")
        # the MCSE's order statistics are selected with the median and the ETI
        ranks = _mcse.quantile_ranks(da.sizes["draw"], [0.5, a, 1 - a]) \
            if mcse and kind == "eti" else None
        stats, brackets = _summarize_draws(da, ci_prob, kind, extra_ranks=ranks)
        out[v] = stats.transpose("model", "prompt", "stat")
        if mcse:
            out[f"{v}_mcse"] = summary_mcse(da, lay, ci_prob, kind,
                                            sd=stats.sel(stat="sd").values,
                                            brackets=brackets)
    how = lay.describe() + ("" if "sampling" in attrs else
                            "; no sampling design in the attrs: plain Monte Carlo assumed")
    out.attrs = provenance.stamp("summary", attrs, ci_prob=float(ci_prob), ci_kind=kind,
                                 draws=int(ds.sizes["draw"]),
                                 **({"mcse_method": how} if mcse else {}))
    return out


def ratio(tree: xr.DataTree | xr.Dataset, numerator=("o3", "long"),
          denominator=("gpt-4-1-nano", "long"), variable: str = "energy_wh",
          ci_prob: float = 0.95, kind: str = "eti") -> tuple[xr.DataArray, xr.DataArray]:
    """Per-draw ratio of one (model, prompt) footprint to another, and its summary.

    Both footprints come from the same draw, so shared uncertainty (a host's PUE, a
    hardware class's power) cancels where it should; the summary is of the per-draw ratios,
    never a ratio of summaries.

    Returns
    -------
    (draws, summary): the ratio over ``draw`` (units ``1``), and its mean, sd, median and
    interval over ``stat``; ``summary.attrs["prob_gt_1"]`` is the share of draws where the
    numerator exceeds the denominator.
    """
    _check(ci_prob, kind)
    ds, _ = _footprint(tree)
    if variable not in ds.data_vars or "draw" not in ds[variable].dims:
        known = [v for v in ds.data_vars if {"draw", "model", "prompt"} <= set(ds[v].dims)]
        raise InputError(f"unknown footprint variable {variable!r}; known: {', '.join(known)}")
    picked = []
    for role, sel in (("numerator", numerator), ("denominator", denominator)):
        if not (isinstance(sel, (tuple, list)) and len(sel) == 2):
            raise InputError(f"{role} must be a (model, prompt) pair, got {sel!r}")
        m, p = map(str, sel)
        if m not in ds.model.values:
            raise InputError(f"{role} model {m!r} is not in the result; rerun simulate() with "
                             f"it in models=, or pick one of {', '.join(ds.model.values[:6])}...")
        if p not in ds.prompt.values:
            raise InputError(f"{role} prompt {p!r} is not in the result; known: "
                             f"{', '.join(ds.prompt.values)}")
        x = ds[variable].sel(model=m, prompt=p, drop=True)
        if bool(x.isnull().all()):
            raise InputError(f"{role} ({m}, {p}) is not in the catalogue (all draws NaN)")
        picked.append(x.drop_vars([c for c in x.coords if c != "draw"]))
    r = picked[0] / picked[1]
    label = f"{variable} of {numerator[0]}/{numerator[1]} over {denominator[0]}/{denominator[1]}"
    r.attrs = {"units": "1", "long_name": f"per-draw ratio: {label}"}
    r.name = f"{variable}_ratio"
    s = summarize_draws(r, ci_prob, kind)
    s.attrs = dict(r.attrs) | {"ci_prob": float(ci_prob), "ci_kind": kind,
                               "prob_gt_1": float((r > 1).mean())}
    return r, s


def to_dataframe(summary: xr.Dataset) -> "pd.DataFrame":
    """A :func:`summarize` result as a wide table: one row per present (model, prompt),
    columns ``VAR STAT [units]`` (``energy_wh median [Wh]``, ...); ``df.attrs`` keeps the
    summary's attrs (provenance, interval)."""
    import pandas as pd

    cols = {}
    for v in summary.data_vars:
        da = summary[v].transpose("model", "prompt", "stat")
        u = da.attrs.get("units", "")
        for st in da.stat.values:
            cols[f"{v} {st} [{u}]"] = da.sel(stat=st).to_series()
    df = pd.DataFrame(cols)
    df = df[df.notna().any(axis=1)]
    df.attrs = dict(summary.attrs)
    return df
