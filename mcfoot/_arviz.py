"""The one module that knows which ArviZ is installed.

ArviZ 0.x (0.23 on Python 3.11) has ``arviz.hdi(ary, hdi_prob=...)``, which reduces over
``("chain", "draw")`` and returns an ``hdi`` dimension labelled ``lower``/``higher``; it has
no ETI function. ArviZ 1.x (Python >= 3.12) moved the statistics to ``arviz_stats``:
``azs.hdi(data, prob=..., dim=[...])`` and ``azs.eti(data, prob=..., dim=[...])`` return a
``ci_bound`` dimension labelled ``lower``/``upper``.

:func:`interval` hides the difference: it always returns a DataArray whose last dimension is
``ci_bound`` = (``lower``, ``upper``), with attrs ``ci_kind`` and ``ci_prob``. Rows that
contain NaN (e.g. a (model, prompt) absent from the catalogue) give NaN bounds.

ETI under 0.x is the linear-interpolation quantile pair ``((1 - p)/2, (1 + p)/2)``, which is
exactly what ``arviz_stats.eti`` computes (``DataArray.quantile(method="linear")``).

Speed: :func:`median_interval` computes the median and the interval in one pass of the
order-statistic kernels of :mod:`mcfoot._order`, which select only the order statistics
needed and reproduce the numbers bit for bit: the ETI is NumPy's linear quantile (the slow
part there is ``DataArray.quantile``, not ArviZ), the HDI is ArviZ 0.x's algorithm (the slow
part is ArviZ itself, a Python loop sorting every row). Under ArviZ 1.x the HDI still comes
from ``arviz_stats.hdi`` (its algorithm is not checked here). :func:`_interval_arviz` is
the straightforward path, kept as the test oracle.
"""

from __future__ import annotations

import functools
import warnings
from importlib.metadata import PackageNotFoundError, version

import numpy as np
import xarray as xr

from . import _order

KINDS = ("eti", "hdi")
BOUNDS = ("lower", "upper")


@functools.cache
def arviz_major() -> int:
    """Major version of the installed ArviZ (0 or 1+)."""
    try:
        v = version("arviz")
    except PackageNotFoundError:  # pragma: no cover - arviz is a hard dependency
        raise ImportError("mcfoot needs arviz: python3 -m pip install arviz") from None
    return int(v.split(".")[0])


@functools.cache
def _module():
    """The module that provides hdi/eti: ``arviz`` (0.x) or ``arviz_stats`` (1.x)."""
    if arviz_major() >= 1:
        import arviz_stats

        return arviz_stats
    with warnings.catch_warnings():
        # arviz 0.2x announces its 1.0 refactor with a FutureWarning at import time.
        warnings.simplefilter("ignore", FutureWarning)
        import arviz

    return arviz


def interval(da: xr.DataArray, prob: float, kind: str = "eti",
             dim: str = "draw") -> xr.DataArray:
    """Credible interval of ``da`` over ``dim``: a DataArray with a trailing ``ci_bound``
    dimension (``lower``, ``upper``). ``kind`` is ``"eti"`` (equal-tailed) or ``"hdi"``
    (highest density, the shortest interval holding ``prob`` of the draws)."""
    return median_interval(da, prob, kind, dim)[1]


def median_interval(da: xr.DataArray, prob: float, kind: str = "eti",
                    dim: str = "draw") -> tuple[xr.DataArray, xr.DataArray]:
    """``(median, interval)`` of ``da`` over ``dim``: ``da.median(dim, skipna=False)`` and
    :func:`interval`, computed together (see the module docstring)."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    da = da.drop_vars([c for c in da.coords if dim in da[c].dims and c != dim])
    if kind == "hdi" and arviz_major() >= 1:
        return da.median(dim, skipna=False), _interval_arviz(da, prob, kind, dim)
    x = da.transpose(..., dim)
    values = np.asarray(x.values)
    rows = values.reshape(-1, values.shape[-1]) if values.ndim else values.reshape(1, 1)
    med, lower, upper = _order.median_interval_rows(rows, prob, kind)
    shape = values.shape[:-1]
    dims = x.dims[:-1]
    coords = {k: v for k, v in x.coords.items() if dim not in v.dims}
    median = xr.DataArray(med.reshape(shape), dims=dims, coords=coords, name=da.name)
    ci = xr.DataArray(np.stack([lower, upper], axis=-1).reshape(shape + (2,)),
                      dims=dims + ("ci_bound",), coords=coords | {"ci_bound": list(BOUNDS)},
                      name=da.name)
    ci.attrs = dict(da.attrs) | {"ci_kind": kind, "ci_prob": float(prob)}
    return median, ci


def _interval_arviz(da: xr.DataArray, prob: float, kind: str = "eti",
                    dim: str = "draw") -> xr.DataArray:
    """:func:`interval` the straightforward way: ``DataArray.quantile`` (ETI) or the
    installed ArviZ's ``hdi``. The HDI path under ArviZ 1.x; elsewhere the test oracle."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    da = da.drop_vars([c for c in da.coords if dim in da[c].dims and c != dim])
    az = _module()
    if arviz_major() >= 1:
        fn = az.hdi if kind == "hdi" else az.eti
        out = fn(da, prob=prob, dim=[dim])
    elif kind == "hdi":
        name = da.name if da.name is not None else "x"
        ds = da.rename({dim: "draw"}).expand_dims("chain").to_dataset(name=name)
        out = az.hdi(ds, hdi_prob=prob)[name].rename({"hdi": "ci_bound"})
    else:
        a = (1 - prob) / 2
        out = da.quantile([a, 1 - a], dim=dim, method="linear", skipna=False).rename(
            {"quantile": "ci_bound"})
    out = out.assign_coords(ci_bound=list(BOUNDS)).transpose(..., "ci_bound")
    # a row with any NaN has no interval (arviz 1.x's eti would skip NaNs silently)
    bad = da.isnull().any(dim)
    out = out.where(~bad)
    out.attrs = dict(da.attrs) | {"ci_kind": kind, "ci_prob": float(prob)}
    return out
