"""Monte Carlo standard errors (MCSE) of estimates from a run, for both sampling designs.

The run's design is read from its attrs (:meth:`mcfoot.rng.Design.record`):

* ``sampling="sobol"`` (randomized quasi-Monte Carlo): the ``R`` replicates are independent
  scrambles, each an unbiased estimate of the same quantity. The MCSE of an estimate is the
  standard deviation of its ``R`` per-replicate values over ``sqrt(R)`` (L'Ecuyer & Lemieux
  2002, "Recent advances in randomized quasi-Monte Carlo methods"). Plain-MC
  formulas do not apply to QMC points and would overstate the error by orders of magnitude.
  For the mean (and a probability) the pooled estimate is exactly the mean of the replicate
  estimates. A quantile is the pooled-sample quantile ``Q(p)``; the spread of per-replicate
  quantiles would not measure its error (each replicate's quantile of a stratified sample is
  far more regular than the pooled one: up to sqrt(3)x too small in one dimension), so its
  MCSE is the delta method: the replicate error of the CDF at ``Q(p)`` (a share) times the
  slope ``dQ/dp``, from the pooled order statistics at ranks ``n p -+ sqrt(n p (1 - p))``,
  and never less than the replicate quantiles' spread (the delta method degenerates to 0
  when every replicate holds the same share below ``Q(p)``).
* ``sampling="mc"`` (independent draws): the usual iid formulas — the mean ``sd / sqrt(n)``,
  a probability ``sqrt(p (1 - p) / n)``, the sd by the delta method
  ``sqrt((m4 - s^4) / n) / (2 s)`` (for Sobol' runs the same, with the error of the mean
  of the squared deviations taken from the replicates), a quantile ``q`` from the order
  statistics at ranks ``n q -+ sqrt(n q (1 - q))`` (half their distance: the binomial,
  distribution-free interval of a quantile; derived); anything else by sectioning into
  :data:`mcfoot.rng.DEFAULT_REPLICATES` contiguous batches (batch means; Asmussen & Glynn
  2007, Stochastic Simulation, ch. III), each batch an independent estimate.

Every function here works on NumPy arrays with draws on axis 0; xarray wrappers live with the
estimates they accompany (:mod:`mcfoot.summary`, :mod:`mcfoot.claims`, :mod:`mcfoot.rank`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from . import rng
from .errors import InputError

__all__ = ["Layout", "binomial", "grouped", "layout", "mean", "mean_ignoring_nan", "multiplier",
           "proportion", "quantile", "quantile_ranks", "replicate_error", "sd", "sd_error",
           "variance_error_iid"]


@dataclass(frozen=True)
class Layout:
    """How the draws of a result group into independent estimates (see module doc)."""

    kind: str  # "mc" | "sobol"
    draws: int
    replicates: int  # sobol: scrambles; mc: batches used by sectioning

    @property
    def points(self) -> int:
        return self.draws // self.replicates

    def describe(self) -> str:
        """A one-line account of how the MCSE was computed (for result attrs)."""
        if self.kind == "sobol":
            return (f"sd of {self.replicates} independent Sobol' scrambles' estimates / "
                    f"sqrt({self.replicates}) (RQMC; {self.replicates - 1} degrees of freedom: "
                    f"a 95 % interval is +-{multiplier(self):.3g} MCSE)")
        return ("iid: mean sd/sqrt(n), probability sqrt(p(1-p)/n), sd delta method, quantile "
                f"order statistics; otherwise sectioning into {self.replicates} batches")


def multiplier(lay: Layout, prob: float = 0.95) -> float:
    """How many MCSE wide each side a ``prob`` interval of an estimate is: the Student t
    quantile with ``R - 1`` degrees of freedom for RQMC (the MCSE is the spread of ``R``
    replicates: with few of them it is itself uncertain), the normal one for iid draws."""
    from scipy import stats

    a = 0.5 + prob / 2
    return float(stats.t.ppf(a, lay.replicates - 1) if lay.kind == "sobol" and
                 lay.replicates > 1 else stats.norm.ppf(a))


def layout(attrs: dict, draws: int) -> Layout:
    """The :class:`Layout` of a result with ``draws`` draws and root ``attrs``.

    A result without a recorded design is plain Monte Carlo (mcfoot wrote no other before
    designs were recorded). A Sobol' result must hold its whole design: a subset of its draws
    is not a set of complete replicates, and is refused.
    """
    kind = str(attrs.get("sampling", "mc"))
    if kind == "mc":
        return Layout("mc", int(draws), max(1, min(rng.DEFAULT_REPLICATES, int(draws) // 2)))
    if kind != "sobol":
        raise InputError(f"unknown sampling {kind!r} in the result's attrs; expected "
                         f"{' or '.join(rng.SAMPLINGS)}")
    r, m = int(attrs["sampling_replicates"]), int(attrs["sampling_points"])
    if r * m != draws:
        raise InputError(f"the result has {draws} draws but its Sobol' design has {r} "
                         f"replicates x {m} points = {r * m}; Monte Carlo errors need every "
                         "draw of the design: use the whole result (no draw selection)")
    return Layout("sobol", int(draws), r)


def _groups(x: np.ndarray, lay: Layout) -> np.ndarray:
    """(draws, ...) -> (groups, draws per group, ...): replicates, or MC sections."""
    n = lay.points * lay.replicates
    if len(x) != lay.draws:
        raise InputError(f"expected {lay.draws} draws, got {len(x)}")
    return x[:n].reshape(lay.replicates, lay.points, *x.shape[1:])


def replicate_error(values: np.ndarray) -> np.ndarray:
    """MCSE of the mean of independent estimates ``values`` (axis 0): their sd / sqrt(k)."""
    return _spread(np.asarray(values, float), len(values))


def _spread(values: np.ndarray, k: int) -> np.ndarray:
    """sd over axis 0 of ``k`` independent estimates, over sqrt(k)."""
    with np.errstate(invalid="ignore"):
        return np.std(values, axis=0, ddof=1) / math.sqrt(k) if k > 1 \
            else np.full(values.shape[1:], np.nan)


def grouped(fn: Callable[[np.ndarray], np.ndarray], x: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the statistic ``fn`` (draws axis 0 -> estimate) from its value in each
    replicate (RQMC) or section (MC)."""
    g = _groups(np.asarray(x), lay)
    return _spread(np.stack([fn(gi) for gi in g]), lay.replicates)


def mean(x: np.ndarray, lay: Layout, sd: np.ndarray | None = None) -> np.ndarray:
    """MCSE of the mean over axis 0 (NaN where any draw is NaN); ``sd``: the sample sd
    (ddof=1) over axis 0 when the caller has it (plain Monte Carlo: ``sd / sqrt(n)``)."""
    x = np.asarray(x, float)
    if lay.kind == "sobol":
        return grouped(lambda g: g.mean(axis=0), x, lay)
    if sd is not None and len(x) > 1:
        return np.asarray(sd, float) / math.sqrt(len(x))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.std(_draws_last(x), axis=-1, ddof=1) / math.sqrt(len(x)) if len(x) > 1 \
            else np.full(x.shape[1:], np.nan)


def proportion(hold: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the share of draws (axis 0) where ``hold`` is true."""
    h = np.asarray(hold, float)
    if lay.kind == "sobol":
        return grouped(lambda g: g.mean(axis=0), h, lay)
    return binomial(h.mean(axis=0), len(h))


def binomial(p, n) -> np.ndarray:
    """MCSE ``sqrt(p (1 - p) / n)`` of a share ``p`` of ``n`` independent draws (NaN where
    ``n`` is 0)."""
    p, n = np.asarray(p, float), np.asarray(n, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.sqrt(p * (1 - p) / n), np.nan)


def mean_ignoring_nan(x: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the mean over axis 0 of the non-NaN draws (e.g. ranks of failed draws)."""
    x = np.asarray(x, float)
    ok = ~np.isnan(x)

    def m(g):
        k = (~np.isnan(g)).sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(np.isnan(g), 0.0, g).sum(axis=0) / k

    if lay.kind == "sobol":
        return grouped(m, x, lay)
    n = ok.sum(axis=0)
    dev = np.where(ok, x - m(x), 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 1, np.sqrt((dev ** 2).sum(axis=0) / (n - 1) / n), np.nan)


def _draws_last(x: np.ndarray) -> np.ndarray:
    """``x`` (draws on axis 0) with the draws moved last: a contiguous view for mcfoot's
    results, whose arrays are stored (row, draw), so reductions over draws run along memory."""
    return np.moveaxis(x, 0, -1)


def sd(x: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the sample sd (ddof=1) over axis 0."""
    x = np.asarray(x, float)
    n = len(x)
    if lay.kind == "sobol":
        d2 = x - x.mean(axis=0)
        np.multiply(d2, d2, out=d2)
        m2 = d2.mean(axis=0)
    else:
        xt = _draws_last(x)
        d2 = xt - xt.mean(axis=-1, keepdims=True)
        np.multiply(d2, d2, out=d2)  # squared deviations (a product: ``** 4`` calls pow)
        m2 = d2.mean(axis=-1)
    # delta method through the variance, the mean of the squared deviations: its error
    # by mean() (replicates for Sobol', iid otherwise), then d sd = d var / (2 sd)
    if lay.kind == "sobol":
        se_var = mean(d2, lay)
    else:
        np.multiply(d2, d2, out=d2)
        se_var = variance_error_iid(m2, d2.mean(axis=-1), n)
    return sd_error(se_var, m2)


def variance_error_iid(m2, m4, n) -> np.ndarray:
    """MCSE ``sqrt((m4 - m2^2) / n)`` of the mean squared deviation of ``n`` iid draws with
    central moments ``m2``, ``m4`` (ddof 0)."""
    m2, m4 = np.asarray(m2, float), np.asarray(m4, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sqrt(np.maximum(m4 - m2 ** 2, 0.0) / n)


def sd_error(se_var, m2) -> np.ndarray:
    """MCSE of the sd from the MCSE ``se_var`` of the variance ``m2`` (delta method,
    ``d sd = d var / (2 sd)``); 0 for a constant, NaN stays NaN."""
    m2 = np.asarray(m2, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.asarray(se_var, float) / (2 * np.sqrt(m2))
    return np.where(m2 == 0, 0.0, out)


def quantile_ranks(n: int, q) -> list[int]:
    """0-based ranks of the order statistics bracketing each ``q`` quantile of ``n`` draws,
    ``n q -+ sqrt(n q (1 - q))`` (1-based, clipped to the sample): ``[lo_0, hi_0, lo_1,
    ...]``, the inputs of :func:`quantile`'s ``brackets``."""
    out = []
    for qi in np.atleast_1d(np.asarray(q, float)):
        half = math.sqrt(n * qi * (1 - qi))
        out.append(min(max(int(math.floor(n * qi - half)) - 1, 0), n - 1))
        out.append(min(max(int(math.ceil(n * qi + half)) - 1, 0), n - 1))
    return out


def quantile(x: np.ndarray, q, lay: Layout, brackets: np.ndarray | None = None) -> np.ndarray:
    """MCSE of the ``q`` sample quantile(s) over axis 0 (a sequence of ``q`` adds a last
    axis, one per ``q``). ``brackets``: the order statistics of :func:`quantile_ranks` over
    axis 0, when the caller already selected them (:func:`mcfoot.summary.summarize` does,
    with the median and interval)."""
    x = np.asarray(x, float)
    qs = np.atleast_1d(np.asarray(q, float))
    n = len(x)
    from ._order import order_statistics  # numba only when used

    # only the order statistics needed, not a sort
    s = order_statistics(x, quantile_ranks(n, qs)) if brackets is None else brackets
    cols = []
    for i, qi in enumerate(qs):
        slope = (s[2 * i + 1] - s[2 * i]) / 2  # ~ dQ/dp x sqrt(p (1 - p) / n)
        if lay.kind == "sobol":
            # delta method: the error of the CDF at the pooled quantile (a share, whose
            # replicate spread is exact for the pooled sample) times dQ/dp
            qhat = np.quantile(x, qi, axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                slope = proportion(x <= qhat, lay) * slope / math.sqrt(qi * (1 - qi) / n)
            # when n_rep p is an integer in a well-stratified dimension every replicate has
            # the same share below Q(p) and the delta method says 0: never report less
            # than the spread of the replicates' own quantiles
            slope = np.fmax(slope, grouped(lambda g: np.quantile(g, qi, axis=0), x, lay))
        cols.append(slope)
    out = np.stack(cols, axis=-1)
    return out if np.ndim(q) else out[..., 0]
