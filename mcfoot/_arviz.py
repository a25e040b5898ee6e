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
                    dim: str = "draw", extra_ranks=None):
    """``(median, interval)`` of ``da`` over ``dim``: ``da.median(dim, skipna=False)`` and
    :func:`interval`, computed together (see the module docstring). ``extra_ranks`` (ETI
    only): also return, third, the order statistics of those 0-based ranks over ``dim``
    from the same selection, a NumPy array ``(len(extra_ranks), *other dims)``."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    da = da.drop_vars([c for c in da.coords if dim in da[c].dims and c != dim])
    if kind == "hdi" and arviz_major() >= 1:
        return da.median(dim, skipna=False), _interval_arviz(da, prob, kind, dim)
    x = da.transpose(..., dim)
    values = np.asarray(x.values)
    rows = values.reshape(-1, values.shape[-1]) if values.ndim else values.reshape(1, 1)
    from . import _order  # numba only when used

    med, lower, upper, *extra = _order.median_interval_rows(rows, prob, kind, extra_ranks)
    shape = values.shape[:-1]
    dims = x.dims[:-1]
    coords = {k: v for k, v in x.coords.items() if dim not in v.dims}
    median = xr.DataArray(med.reshape(shape), dims=dims, coords=coords, name=da.name)
    ci = xr.DataArray(np.stack([lower, upper], axis=-1).reshape(shape + (2,)),
                      dims=dims + ("ci_bound",), coords=coords | {"ci_bound": list(BOUNDS)},
                      name=da.name)
    ci.attrs = dict(da.attrs) | {"ci_kind": kind, "ci_prob": float(prob)}
    if extra_ranks is not None:
        return median, ci, np.moveaxis(extra[0].reshape(shape + (-1,)), -1, 0)
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



def psis(log_weights) -> tuple:
    """Pareto-smoothed importance sampling of one set of draws.

    ``log_weights``: 1-D array of log importance ratios (target over proposal, up to a
    constant). Returns ``(smoothed, khat)``: the Pareto-smoothed log weights, normalized so
    that ``exp(smoothed).sum() == 1``, and the estimated generalized Pareto shape k̂ of the
    weights' right tail (Vehtari et al. 2024, JMLR 25(72)).

    ArviZ 0.x's ``arviz.psislw(log_weights)`` takes the log weights; ArviZ 1.x's
    ``arviz_stats.base.array_stats.psislw(ary)`` takes their negation (it is written for
    PSIS-LOO, whose weights are 1 / likelihood, and negates its input): the shim passes each
    what it expects, so both return the same weights (to ~1e-4; the two differ in tail fitting
    details). A k̂ that cannot be estimated (ArviZ 1.x: NaN) is returned as ``inf``.
    """
    import numpy as np

    lw = np.asarray(log_weights, dtype=float)
    if lw.ndim != 1 or lw.size < 2 or not np.all(np.isfinite(lw)):
        raise ValueError("psis needs a 1-D array of at least 2 finite log weights")
    # both emit NumPy RuntimeWarnings on nearly degenerate tails (their k̂ then says so)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore", RuntimeWarning)
        if arviz_major() >= 1:
            from arviz_stats.base import array_stats

            try:
                out, k = array_stats.psislw(-lw)
            except ValueError:  # 1.x refuses tails too degenerate to fit: k̂ is then inf
                out, k = lw, float("nan")
        else:
            warnings.simplefilter("ignore", FutureWarning)
            out, k = _module().psislw(lw)
    out = np.asarray(out, dtype=float)
    out = out - _logsumexp(out)  # exact normalization (both return it to ~1e-16)
    k = float(k)
    # ArviZ 1.x returns NaN when too few weights are non-negligible to fit a tail (the most
    # degenerate case), 0.x a large k̂: both mean "unreliable"
    return out, (float("inf") if k != k else k)


def _logsumexp(a):
    import numpy as np

    m = np.max(a)
    return float(m + np.log(np.sum(np.exp(a - m))))


def khat_threshold(n: int) -> float:
    """Largest reliable Pareto k̂ for ``n`` draws: ``min(1 - 1/log10(n), 0.7)`` (Vehtari et
    al. 2024, sec. 3.2.4; 0.7 from about 2,200 draws on)."""
    import math

    return min(1.0 - 1.0 / math.log10(max(n, 11)), 0.7)


#: Groups of ArviZ's InferenceData schema that carry (chain, draw) sample dimensions.
SAMPLE_GROUPS = ("posterior", "posterior_predictive", "prior", "prior_predictive",
                 "log_likelihood", "sample_stats")


def with_chain(ds: xr.Dataset) -> xr.Dataset:
    """``ds`` with a leading ``chain`` dimension of size 1 on every variable over ``draw``
    (ArviZ's sample dimensions are ``("chain", "draw")``); a dataset that has one is
    returned as is."""
    if "chain" in ds.dims or "draw" not in ds.dims:
        return ds
    out = ds.copy()
    for name in list(out.data_vars):
        if "draw" in out[name].dims:
            out[name] = out[name].expand_dims(chain=[0]).transpose("chain", "draw", ...)
    return out


def to_inference_data(groups: dict[str, xr.Dataset]):
    """An object ArviZ's functions take: ``arviz.InferenceData`` (0.x) or an
    ``xarray.DataTree`` (1.x, which uses DataTree as its data structure). ``groups`` maps
    group name to dataset; sample groups get a ``chain`` dimension of size 1."""
    groups = {k: with_chain(v) if k in SAMPLE_GROUPS else v for k, v in groups.items()}
    if arviz_major() >= 1:
        return xr.DataTree.from_dict(groups)
    az = _module()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return az.InferenceData(**groups)


def rhat_ess(posterior: xr.Dataset) -> tuple[float, float]:
    """Worst rank-normalized split R-hat and worst bulk ESS over every variable (and
    element) of ``posterior`` over (``chain``, ``draw``)."""
    az = _module()
    if arviz_major() >= 1:
        import arviz_stats as azs

        rh, es = azs.rhat(posterior), azs.ess(posterior)
    else:
        rh, es = az.rhat(posterior), az.ess(posterior)
    worst = [float(rh[v].max()) for v in rh.data_vars if rh[v].size]
    least = [float(es[v].min()) for v in es.data_vars if es[v].size]
    return max(worst), min(least)


def loo(idata, var_name: str) -> tuple[float, float, np.ndarray, np.ndarray]:
    """PSIS-LOO of the log-likelihood variable ``var_name`` of ``idata``
    (:func:`to_inference_data`): ``(elpd, se, pointwise elpd, pointwise k̂)``. ArviZ 0.x:
    ``arviz.loo(..., pointwise=True)`` (``elpd_loo``, ``loo_i``); 1.x:
    ``arviz_stats.loo`` (``elpd``, ``elpd_i``). Both warn when a k̂ is high; the k̂ are
    returned, and the caller says so."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # high k̂ and the 0.x FutureWarning: k̂ returned
        if arviz_major() >= 1:
            import arviz_stats as azs

            res = azs.loo(idata, var_name=var_name, pointwise=True)
            elpd, pw = float(res.elpd), np.asarray(res.elpd_i).reshape(-1)
        else:
            res = _module().loo(idata, var_name=var_name, pointwise=True)
            elpd, pw = float(res.elpd_loo), np.asarray(res.loo_i).reshape(-1)
    return elpd, float(res.se), pw, np.asarray(res.pareto_k).reshape(-1)


def elpd_difference(a: np.ndarray, b: np.ndarray) -> tuple[float, float]:
    """``sum(a - b)`` of two models' pointwise ELPD over the same held-out groups and its
    standard error ``sqrt(n var(a - b))``, az.compare's ``dse`` (Vehtari, Gelman & Gabry
    2017, eq. 24). Written out because ``az.compare`` takes only ArviZ's own PSIS results,
    not the exact refits' pointwise values."""
    d = np.asarray(a, float) - np.asarray(b, float)
    return float(d.sum()), elpd_se(d)


def elpd_se(pointwise: np.ndarray) -> float:
    """Standard error of a summed ELPD, ``sqrt(n var(pointwise))`` with the population
    variance, as az.loo's ``se`` and az.compare's ``dse`` compute it (ArviZ 0.23
    ``stats.py``)."""
    p = np.asarray(pointwise, float)
    return float(np.sqrt(len(p) * p.var()))
