"""Importance sampling and adaptive tempering over independent standard normal inputs.

The array layer of calibration (``calibrate.py`` wraps it for scenarios and evidence). Every
uncertain input of a scenario is a deterministic function of independent standard normals
(one named stream per prior, ``rng.py``), so the prior is N(0, I) in the space of those
normals ``z`` (shape ``(P, D)``: P inputs, D draws) and a posterior is
``N(0, I)(z) * exp(sum_e loglik_e(z))``. Two ways to sample it:

1. **Importance sampling** (``method="importance"``): weights ``sum_e loglik_e`` on the prior
   draws, Pareto-smoothed by PSIS (ArviZ, through ``_arviz.psis``), with the Pareto k̂ and the
   effective sample size ``ESS = 1 / sum(w^2)`` of the smoothed normalized weights. Reliable
   when k̂ <= ``_arviz.khat_threshold(D)`` (0.7 from ~2,200 draws) and ESS >= ``min_ess``.
2. **Adaptive tempering** (``method="tempering"``; Del Moral, Doucet & Jasra 2012, Jasra et
   al. 2011): targets ``N(0, I)(z) exp(beta * loglik(z))`` for ``0 = beta_0 < ... < beta_T =
   1``, each ``beta`` chosen by bisection so that the incremental weights keep an ESS of
   ``max(ess_fraction * D, min_ess)``; after each step the particles are resampled
   (systematic) and rejuvenated by Metropolis-Hastings moves that change a random subset
   of the inputs (each input with probability ``k / P``, drawn independently of the state:
   random-scan Metropolis-within-Gibbs) by the autoregressive step ``z_j' = m_j + sqrt(1 -
   h^2) (z_j - m_j) + h s_j xi_j`` around the normal N(m_j, s_j^2) fitted to the particles'
   input ``j`` (a preconditioned Crank-Nicolson move, Cotter et al. 2013, centred and
   scaled on the particles: it leaves that normal invariant), accepted with the tempered
   likelihood ratio times the N(0, I) prior ratio over the reference ratio. Why a subset:
   the evidence constrains a few combinations of many inputs (8 figures, ~80 inputs; each
   input's posterior sd stays ~0.8-0.9 of its prior's), so a move of all inputs at once
   changes the constrained combinations by the sum of many small changes and is accepted
   only at a tiny step (measured on the shipped evidence: h ~ 0.12 at 30 % acceptance, and
   the particles' correlation with where resampling put them still 0.96 after 20 moves);
   changing ~k inputs at a large step keeps the acceptance and moves every input further.
   ``k`` and ``h`` adapt to the acceptance rate (``_adapt``: the step first, up to
   ``STEP_MAX``, then the number of inputs); moves continue until 99 % of particles have
   moved and the particles have decorrelated from their resampled positions (mean over
   inputs of the correlation below ``CORRELATION``), at least ``MIN_MOVES``, at most
   ``MAX_MOVES``; a step after which fewer than 95 % of the particles moved is refused
   (the posterior would repeat draws), and the correlation reached is reported.

``method="auto"`` tries importance sampling and switches to tempering when its weights are
degenerate. Every random number (resampling uniforms, proposals, acceptance uniforms) comes
from a named stream of the seed, indexed by particle, so the same seed gives the same
posterior; the log-likelihood is evaluated in chunks of draws, each draw independently, so
the result does not depend on ``chunk``. A tempering run that cannot finish (more than
``max_stages`` steps, or moves that no longer move the particles) raises
:class:`~mcfoot.errors.CalibrationError`: nothing degenerate is returned as fine.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from . import rng
from ._arviz import khat_threshold, psis
from .errors import CalibrationError, InputError

METHODS = ("auto", "importance", "tempering")
#: Tuning of the tempering sampler (algorithm constants, not physical assumptions):
#: target ESS fraction per step (Jasra et al. 2011 use 0.5); initial and largest step of
#: the autoregressive move; the acceptance rate it adapts to; moves per step; the fraction
#: of particles that must have moved (and below which a step is refused).
ESS_FRACTION = 0.5
STEP0, STEP_MAX = 0.5, 0.95
#: inputs a move starts by changing (expected number; adapted, see ``_adapt``)
SUBSET0 = 8
ACCEPT_TARGET = 0.3
MIN_MOVES, MAX_MOVES = 5, 50
MOVED_FRACTION, MOVED_REFUSE = 0.99, 0.95
#: the moves of a step continue until the particles have decorrelated from where the
#: resampling put them: mean over inputs of corr(z_start, z_now) below this (PyMC's SMC
#: stops its moves on the same kind of criterion), or MAX_MOVES; the correlation reached is
#: reported per step (``Fit.stages``, ``max_correlation``): above it the moves did not
#: fully mix and the posterior's spread may be understated
CORRELATION = 0.5
MAX_STAGES = 60
#: the effective sample size a calibration asks for by default (:func:`default_min_ess`;
#: derived: at 2,000 the Monte Carlo SE of a 5 % tail probability is
#: sqrt(0.05 x 0.95 / 2000) = 0.005, a tenth of the tail it estimates)
MIN_ESS = 2_000
#: added to the particles' sd per input (z units) so the reference normal is proper
REF_RIDGE = 1e-4

LogLik = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class Fit:
    """Result of :func:`fit`.

    ``z`` (P, D) draws of the normals and ``log_lik`` (E, D) their per-entry
    log-likelihoods; ``log_weights`` (D,) normalized log weights (PSIS-smoothed for
    importance sampling, equal for tempering); ``khat``/``ess`` diagnostics of the returned
    weights (tempering: k̂ and ESS of the last step's incremental weights); ``prior_khat``,
    ``prior_ess``: importance sampling from the prior (what ``auto`` judged); ``stages``:
    one dict per tempering step (beta, ess, khat, moves, acceptance, step, inputs: the
    expected number of inputs a move changed at the end, moved, correlation).
    """

    z: np.ndarray
    log_lik: np.ndarray
    log_weights: np.ndarray
    method: str
    khat: float
    ess: float
    prior_khat: float
    prior_ess: float
    khat_max: float
    stages: tuple[dict, ...] = field(default_factory=tuple)

    @property
    def weights(self) -> np.ndarray:
        return np.exp(self.log_weights)


def mixing(stages) -> str:
    """What the tempering moves achieved, in words: whether at every step they decorrelated
    the particles from where resampling put them (``correlation`` below ``CORRELATION``),
    or a WARNING (the posterior's spread may be understated)."""
    if not stages:
        return "not applicable (importance sampling)"
    worst = max(st["correlation"] for st in stages)
    if worst < CORRELATION:
        return "moves decorrelated the particles at every step"
    return ("WARNING: at some tempering step the moves did not decorrelate the particles "
            f"(mean correlation with their resampled positions {worst:.2f}, above "
            f"{CORRELATION}, see the tempering group): the posterior's spread may be "
            "understated; use more draws")


def evaluate(loglik: LogLik, z: np.ndarray, chunk: int) -> np.ndarray:
    """``loglik`` over the draws of ``z`` in chunks of ``chunk`` draws: (E, D), float.

    A NaN log-likelihood is an error of the model, never a zero weight."""
    d = z.shape[1]
    parts = [np.asarray(loglik(z[:, a:min(a + chunk, d)]), dtype=float)
             for a in range(0, d, chunk)]
    out = np.concatenate(parts, axis=1) if len(parts) > 1 else parts[0]
    if out.ndim != 2 or out.shape[1] != d:
        raise ValueError(f"loglik must return (entries, draws); got shape {out.shape}")
    if np.isnan(out).any():
        raise ValueError("the log-likelihood is NaN for some draws (a prediction is NaN)")
    return out


def ess(log_weights: np.ndarray) -> float:
    """Effective sample size ``1 / sum(w^2)`` of normalized weights ``exp(log_weights)``
    (Kish 1965); equals D for equal weights."""
    lw = log_weights - special.logsumexp(log_weights)
    return float(1.0 / np.exp(special.logsumexp(2.0 * lw)))


def importance(log_lik_total: np.ndarray) -> tuple[np.ndarray, float, float]:
    """PSIS-smoothed normalized log weights, k̂ and ESS of weights ``exp(log_lik_total)``.

    Draws of zero likelihood (``-inf``) keep weight zero (PSIS smooths the finite ones).
    """
    lw = np.asarray(log_lik_total, dtype=float)
    fin = np.isfinite(lw)
    if fin.sum() < 2:
        return np.full_like(lw, -np.inf), math.inf, 0.0
    if np.ptp(lw[fin]) == 0.0 and fin.all():  # no information: the prior itself
        out = np.full_like(lw, -math.log(len(lw)))
        return out, -math.inf, float(len(lw))
    out = np.full_like(lw, -np.inf)
    out[fin], k = psis(lw[fin])
    return out, k, ess(out[fin])


def _uniforms(ss, name: str, n: int) -> np.ndarray:
    """Uniforms in (0, 1) of stream ``name`` for particles 0..n-1 (rng's normals through
    the normal CDF, so they inherit its per-index reproducibility)."""
    return special.ndtr(rng.standard_normals(ss, name, 0, n))


def systematic(log_weights: np.ndarray, u0: float) -> np.ndarray:
    """Systematic resampling (Kitagawa 1996): indices of D draws with expected counts
    ``D * w``, one uniform ``u0`` in (0, 1)."""
    d = len(log_weights)
    c = np.cumsum(np.exp(log_weights - special.logsumexp(log_weights)))
    c[-1] = 1.0
    return np.minimum(np.searchsorted(c, (u0 + np.arange(d)) / d, side="right"), d - 1)


def _correlation(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over inputs (rows) of the correlation across particles of ``a`` and ``b``;
    inputs that do not vary count as decorrelated."""
    a = a - a.mean(axis=1, keepdims=True)
    b = b - b.mean(axis=1, keepdims=True)
    den = np.sqrt((a * a).sum(axis=1) * (b * b).sum(axis=1))
    ok = den > 0
    if not ok.any():
        return 0.0
    return float(np.mean(np.where(ok, (a * b).sum(axis=1) / np.where(ok, den, 1), 0.0)))


def _adapt(k_sub: float, h: float, accepted: float, p: int) -> tuple[float, float]:
    """Tune the move to the acceptance rate: more (fewer) inputs per move while the step
    is at ``STEP_MAX`` (above 1 input), the step otherwise. Multiplicative, ``exp(2 (a -
    ACCEPT_TARGET))`` per move."""
    f = math.exp(2.0 * (accepted - ACCEPT_TARGET))
    if (f > 1 and h >= STEP_MAX) or (f < 1 and k_sub > 1):
        return min(float(p), max(1.0, k_sub * f)), h
    return k_sub, min(STEP_MAX, max(1e-3, h * f))


def default_min_ess(draws: int) -> int:
    """The effective sample size asked for by default: :data:`MIN_ESS`, or ``ESS_FRACTION``
    of the draws when that is less (an ESS of all the draws needs equal weights, so asking
    for it stalls tempering at beta ~ 0)."""
    return min(MIN_ESS, max(1, int(ESS_FRACTION * draws)))


def check_min_ess(min_ess: int | None, draws: int) -> int:
    """The effective sample size to ask for: ``min_ess`` (``None``: :func:`default_min_ess`),
    which must be at least 1 and below ``draws`` (an ESS of every draw needs equal weights,
    which no evidence gives); the error says when the number is the default."""
    asked = default_min_ess(draws) if min_ess is None else min_ess
    if not 1 <= asked < draws:
        what = (f"got {asked}" if min_ess is not None else
                f"its default for {draws} draws is {asked}")
        raise InputError(f"min_ess must be at least 1 and below the draws ({draws}), {what}: "
                         f"an effective sample size of every draw needs equal weights, which "
                         f"no evidence gives; ask for more draws or a smaller effective "
                         f"sample size")
    return asked


def _next_beta(total: np.ndarray, beta: float, target: float) -> float:
    """Largest beta' in (beta, 1] whose incremental weights keep ESS >= target."""
    if ess((1.0 - beta) * total) >= target:
        return 1.0
    lo, hi = 0.0, 1.0 - beta
    for _ in range(60):  # bisection on the increment (ESS decreases in it)
        mid = 0.5 * (lo + hi)
        if ess(mid * total) >= target:
            lo = mid
        else:
            hi = mid
    return beta + max(lo, 1e-12)


def fit(loglik: LogLik, z0: np.ndarray, ss: np.random.SeedSequence, *, min_ess: int | None,
        method: str = "auto", chunk: int = 65_536, stream: str = "calibrate",
        max_stages: int = MAX_STAGES) -> Fit:
    """Sample the posterior ``N(0, I)(z) exp(sum_e loglik_e(z))`` from prior draws ``z0``.

    ``loglik(z)`` maps normals (P, n) to per-entry log-likelihoods (E, n). ``min_ess``: the
    effective sample size the caller needs (``None``: :func:`default_min_ess`). See the
    module docstring for the methods; ``method="importance"`` raises CalibrationError when
    its weights are degenerate.
    """
    if method not in METHODS:
        raise InputError(f"method must be one of {', '.join(METHODS)}, got {method!r}")
    z0 = np.ascontiguousarray(z0, dtype=float)
    d = z0.shape[1]
    min_ess = check_min_ess(min_ess, d)
    ll = evaluate(loglik, z0, chunk)
    lw, k, n_eff = importance(ll.sum(axis=0))
    kmax = khat_threshold(d)
    ok = k <= kmax and n_eff >= min_ess
    if method == "importance" or (method == "auto" and ok):
        if not ok:
            raise CalibrationError(
                f"importance sampling from the prior is degenerate (Pareto k̂ = {k:.2f}, "
                f"reliable up to {kmax:.2f}; effective sample size {n_eff:.0f} of {d} draws, "
                f"{min_ess:.0f} asked): the evidence is far from the prior's bulk. Use "
                f"method='tempering' (or 'auto'), many more draws, or check the evidence")
        return Fit(z0, ll, lw, "importance", k, n_eff, k, n_eff, kmax)
    return _temper(loglik, z0, ll, ss, min_ess, chunk, stream, max_stages, k, n_eff, kmax)


def _reweight(total: np.ndarray, beta: float, new: float) -> tuple[np.ndarray, dict]:
    """The particles' normalised log weights from ``beta`` to ``new`` (log-likelihood
    ``total`` per particle) and the step's record so far: beta, ESS and PSIS k̂."""
    inc = (new - beta) * total
    lw = inc - special.logsumexp(inc)
    fin = np.isfinite(lw)
    return lw, {"beta": new, "ess": ess(lw),
                "khat": psis(lw[fin])[1] if fin.sum() > 1 else math.inf}


def _move(loglik, z, ll, total, loc, scale, h: float, k_sub: float, beta: float, chunk,
          ss, prefix: str, m: int):
    """Move ``m`` of a tempering step at ``beta``: every particle proposes, on a random
    subset of about ``k_sub`` inputs, an autoregressive step of size ``h`` around the
    reference N(loc, scale^2), accepted by Metropolis-Hastings against the tempered
    posterior. Its random numbers come from the named streams under ``prefix``. Returns the
    particles, their log-likelihoods and totals after the move, and which ones moved."""
    p, d = z.shape
    xi = rng.standard_normals(ss, f"{prefix}/move/{m}", 0, d * p).reshape(d, p).T
    pick = _uniforms(ss, f"{prefix}/subset/{m}", d * p).reshape(d, p).T < k_sub / p
    zp = np.where(pick, loc + math.sqrt(1.0 - h * h) * (z - loc) + h * scale * xi, z)
    r0, r1 = (z - loc) / scale, (zp - loc) / scale
    log_ratio = -0.5 * ((zp * zp).sum(axis=0) - (z * z).sum(axis=0)) \
        + 0.5 * ((r1 * r1).sum(axis=0) - (r0 * r0).sum(axis=0))  # prior / reference
    llp = evaluate(loglik, zp, chunk)
    tp = llp.sum(axis=0)
    logu = np.log(_uniforms(ss, f"{prefix}/accept/{m}", d))
    with np.errstate(invalid="ignore"):
        acc = np.isfinite(tp) & (logu < beta * (tp - total) + log_ratio)
    return np.where(acc, zp, z), np.where(acc, llp, ll), np.where(acc, tp, total), acc


def _temper(loglik, z, ll, ss, min_ess, chunk, stream, max_stages, k0, ess0, kmax) -> Fit:
    d = z.shape[1]
    target = max(ESS_FRACTION * d, float(min_ess))
    beta, h, k_sub, stages = 0.0, STEP0, float(min(SUBSET0, z.shape[0])), []
    total = ll.sum(axis=0)
    if not np.isfinite(total).any():
        raise CalibrationError("every prior draw has zero likelihood: the evidence is "
                               "impossible under this scenario (check units and boundaries)")
    while beta < 1.0:
        s = len(stages)
        if s >= max_stages:
            raise CalibrationError(
                f"tempering did not reach the posterior in {max_stages} steps (beta = "
                f"{beta:.3g}): the evidence and the prior barely overlap; check the evidence "
                f"(units, boundary) or widen the priors")
        new = _next_beta(np.where(np.isfinite(total), total, -np.inf), beta, target)
        lw, st = _reweight(total, beta, new)
        idx = systematic(lw, float(_uniforms(ss, f"{stream}/tempering/{s}/resample", 1)[0]))
        z, ll, total = z[:, idx], ll[:, idx], total[idx]
        moved = np.zeros(d, bool)
        acc_all = []
        z_start = z.copy()
        loc = z.mean(axis=1, keepdims=True)  # the reference N(loc, scale^2), per input
        scale = z.std(axis=1, keepdims=True) + REF_RIDGE
        p = z.shape[0]
        for m in range(MAX_MOVES):
            z, ll, total, acc = _move(loglik, z, ll, total, loc, scale, h, k_sub, new, chunk,
                                      ss, f"{stream}/tempering/{s}", m)
            moved |= acc
            a = float(acc.mean())
            acc_all.append(a)
            k_sub, h = _adapt(k_sub, h, a, p)
            if m + 1 >= MIN_MOVES and moved.mean() >= MOVED_FRACTION:
                rho = _correlation(z_start, z)
                if rho < CORRELATION:
                    break
        rho = _correlation(z_start, z)
        st |= {"moves": len(acc_all), "acceptance": float(np.mean(acc_all)), "step": h,
               "inputs": k_sub, "moved": float(moved.mean()), "correlation": rho}
        stages.append(st)
        if moved.mean() < MOVED_REFUSE:
            raise CalibrationError(
                f"tempering step {s} (beta = {new:.3g}): only {moved.mean():.0%} of the "
                f"particles moved in {len(acc_all)} moves (acceptance "
                f"{np.mean(acc_all):.2f}); the posterior would repeat a few draws. Ask for "
                f"more draws, or check the evidence")
        beta = new
    last = stages[-1]
    return Fit(z, ll, np.full(d, -math.log(d)), "tempering", last["khat"], last["ess"],
               k0, ess0, kmax, tuple(stages))
