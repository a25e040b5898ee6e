"""Monte Carlo standard errors (MCSE) of estimates from a run, for both sampling designs.

The run's design is read from its attrs (:meth:`mcfoot.rng.Design.record`):

* ``sampling="sobol"`` (randomized quasi-Monte Carlo): the ``R`` replicates are independent
  scrambles, each an unbiased estimate of the same quantity. The MCSE of an estimate is the
  standard deviation of its ``R`` per-replicate values over ``sqrt(R)`` (L'Ecuyer & Lemieux
  2002, "Recent advances in randomized quasi-Monte Carlo methods", section 4). Plain-MC
  formulas do not apply to QMC points and would overstate the error by orders of magnitude.
  For the mean (and a probability) the pooled estimate is exactly the mean of the replicate
  estimates; for a quantile it is the pooled-sample quantile, whose error the replicates'
  spread over ``sqrt(R)`` approximates (the pooled quantile is no less precise).
* ``sampling="mc"`` (independent draws): the usual iid formulas — the mean ``sd / sqrt(n)``,
  a probability ``sqrt(p (1 - p) / n)``, the sd by the delta method
  ``sqrt((m4 - s^4) / n) / (2 s)``, a quantile ``q`` from the order statistics at ranks
  ``n q -+ sqrt(n q (1 - q))`` (half their distance: the binomial interval of a quantile,
  e.g. Gelman et al., BDA3, section 10.5); anything else by sectioning into
  :data:`mcfoot.rng.DEFAULT_REPLICATES` contiguous batches (batch means; Asmussen & Glynn
  2007, Stochastic Simulation, III.5), each batch an independent estimate.

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
                    f"sqrt({self.replicates}) (RQMC)")
        return ("iid: mean sd/sqrt(n), probability sqrt(p(1-p)/n), sd delta method, quantile "
                f"order statistics; otherwise sectioning into {self.replicates} batches")


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


def mean(x: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the mean over axis 0 (NaN where any draw is NaN)."""
    x = np.asarray(x, float)
    if lay.kind == "sobol":
        return grouped(lambda g: g.mean(axis=0), x, lay)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.std(x, axis=0, ddof=1) / math.sqrt(len(x)) if len(x) > 1 \
            else np.full(x.shape[1:], np.nan)


def proportion(hold: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the share of draws (axis 0) where ``hold`` is true."""
    h = np.asarray(hold, float)
    if lay.kind == "sobol":
        return grouped(lambda g: g.mean(axis=0), h, lay)
    p = h.mean(axis=0)
    return np.sqrt(p * (1 - p) / len(h))


def sd(x: np.ndarray, lay: Layout) -> np.ndarray:
    """MCSE of the sample sd (ddof=1) over axis 0."""
    x = np.asarray(x, float)
    if lay.kind == "sobol":
        return grouped(lambda g: g.std(axis=0, ddof=1), x, lay)
    n = len(x)
    dev = x - x.mean(axis=0)
    m2, m4 = (dev ** 2).mean(axis=0), (dev ** 4).mean(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.sqrt(np.maximum(m4 - m2 ** 2, 0.0) / n) / (2 * np.sqrt(m2))
    return np.where(m2 > 0, out, 0.0)


def quantile(x: np.ndarray, q: float, lay: Layout) -> np.ndarray:
    """MCSE of the ``q`` sample quantile over axis 0."""
    x = np.asarray(x, float)
    if lay.kind == "sobol":
        return grouped(lambda g: np.quantile(g, q, axis=0), x, lay)
    n = len(x)
    half = math.sqrt(n * q * (1 - q))
    lo = min(max(int(math.floor(n * q - half)) - 1, 0), n - 1)  # 1-based ranks -> index
    hi = min(max(int(math.ceil(n * q + half)) - 1, 0), n - 1)
    s = np.sort(x, axis=0)
    return (s[hi] - s[lo]) / 2
