"""The discrepancy model of calibration: how far a published figure may sit from mcfoot's
prediction, and how figures move together.

A figure ``e`` of source ``s`` at boundary class ``b`` (``measurement.toml
[discrepancy]``, where every constant is sourced) is::

    log y_e = log mu_e(theta) + delta_s + beta + eps_e

with ``delta_s`` the source's effect (scale ``tau_src``), ``beta`` the boundary's mismatch
(scale ``tau_b``) and ``eps_e`` the figure's own error (sd ``sigma_e = max(stated, residual
floor)``). ``boundary_effect`` says whose ``beta`` it is: ``"per_figure"`` draws one per
figure, ``"shared"`` one per class, common to every figure of that class whatever its
source (so a class's figures from different sources are correlated, and a source held out
is predicted given the others' residuals). Figures linked by a common effect form a group
(:func:`groups`; per figure: a source), one Student-t scale mixture each (the effects and
errors share the mixing variable): a group's figures are jointly multivariate t with
``nu`` degrees of freedom and scale matrix ``Sigma = tau_src^2 S S^T + tau_b^2 B B^T +
diag(sigma_e^2)`` (:func:`covariance`; per figure the boundary term is diagonal); with ``nu
= inf`` (``independent()``, no scales) it is the lognormal of independent figures.
Everything here is closed form (Cholesky factors of ``Sigma``, the t's conditionals):
nothing is integrated numerically. The scales are parameters: the normals of their streams
(:func:`Discrepancy.streams`) are calibrated jointly with the scenario's inputs and mapped
to values by each prior's inverse CDF.

A held-out source's prediction draws a fresh ``delta`` from the learned ``tau_src``, and,
with a shared boundary effect, conditions ``beta`` on the other sources' figures: its
figures' predictive is the multivariate t's conditional (:func:`mvt_conditional`,
:func:`predictive`).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from scipy import special

from . import distributions as dists, variables as V
from ._validate import is_finite_number
from .errors import InputError

SHIPPED = "measurement.toml"
SOURCE_STREAM = "discrepancy/source_scale"
#: how a boundary class's effect enters (``[discrepancy] boundary_effect``)
BOUNDARY_EFFECTS = ("per_figure", "shared")
BOUNDARY_STREAM = "discrepancy/boundary_scale/"


@dataclass(frozen=True)
class Discrepancy:
    """The discrepancy model: ``nu``, the residual floor, the scales' priors (``None``: no
    such term) and each footprint variable's boundary class."""

    nu: float
    residual_floor: float
    source_scale: dists.Distribution | None
    boundary_scales: dict
    boundary_of: dict
    file: str = ""
    #: the sourced constants of the model, as ``mcfoot priors audit`` reads them: (name,
    #: source text, footprint variables it moves) per constant, in file order
    sources: tuple = ()
    #: ``"per_figure"``: each figure draws its own boundary effect; ``"shared"``: one effect
    #: per boundary class, common to every figure of that class, whatever its source
    boundary_effect: str = "per_figure"

    @property
    def shared_boundary(self) -> bool:
        return self.boundary_effect == "shared"

    def boundary(self, variables: tuple[str, ...]) -> str:
        """The boundary class of an entry summing ``variables``: their first one's (the
        headline variable; ``""`` without boundary terms)."""
        return self.boundary_of.get(variables[0], "")

    def streams(self, classes) -> list[str]:
        """Named streams of the scales the entries need: the source scale, then one per
        boundary class present (``classes``), in order."""
        out = [SOURCE_STREAM] if self.source_scale is not None else []
        return out + [BOUNDARY_STREAM + c for c in dict.fromkeys(classes)
                      if c in self.boundary_scales]

    def scales(self, z: dict) -> tuple[np.ndarray | float, dict]:
        """``(tau_src, {class: tau_b})`` at the normals ``z`` (stream -> (n,)): each prior's
        inverse CDF at ``Phi(z)`` (0 where the model has no such term)."""
        tau = 0.0 if self.source_scale is None else \
            self.source_scale.ppf(special.ndtr(z[SOURCE_STREAM]))
        tb = {c: d.ppf(special.ndtr(z[BOUNDARY_STREAM + c]))
              for c, d in self.boundary_scales.items() if BOUNDARY_STREAM + c in z}
        return tau, tb

    def sigma(self, log_sd: float) -> float:
        """A figure's own error sd: max(stated, residual floor)."""
        return max(log_sd, self.residual_floor)


def independent(floor: float, source: str = "") -> Discrepancy:
    """Figures independent given theta, lognormal errors of sd max(stated, ``floor``): no
    source or boundary term (``nu`` infinite). ``source``: where the floor comes from (for
    the audit)."""
    return Discrepancy(math.inf, floor, None, {}, {}, "(independent lognormal errors)",
                       (("error.floor_log_sd", source, V.FOOTPRINT),) if source else ())


def load(path: str | Path | None = None) -> Discrepancy:
    """The discrepancy model of a TOML file's ``[discrepancy]`` table (default: the shipped
    ``mcfoot/data/measurement.toml``), validated whole: every problem is reported together,
    each naming the file and the entry. Every footprint variable must belong to exactly
    one boundary class; every scale prior must be positive."""
    if path is None:
        src = f"mcfoot/data/{SHIPPED}"
        with resources.files("mcfoot.data").joinpath(SHIPPED).open("rb") as f:
            doc = tomllib.load(f)
    else:
        src = str(path)
        try:
            doc = tomllib.loads(Path(path).read_text())
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise InputError(f"{src}: cannot read the discrepancy model ({e})") from None
    t = doc.get("discrepancy")
    if not isinstance(t, dict):
        raise InputError(f"{src}: no [discrepancy] table; see mcfoot/data/{SHIPPED}")
    problems: list[str] = []
    nu = _number(t, "nu", src, problems)
    if nu is not None and not nu > 0:
        problems.append(f"{src}: [discrepancy] nu must be > 0, got {nu}")
    floor = _number(t, "residual_floor_log_sd", src, problems)
    if floor is not None and not floor > 0:
        problems.append(f"{src}: [discrepancy] residual_floor_log_sd must be > 0, got {floor}")
    for k in ("nu_source", "residual_floor_source"):
        if not str(t.get(k, "")).strip():
            problems.append(f"{src}: [discrepancy] {k} is missing; say where the number "
                            f"comes from")
    source_scale = _scale(t.get("source_scale"), "[discrepancy] source_scale", src, problems)
    effect = t.get("boundary_effect", "per_figure")
    if effect not in BOUNDARY_EFFECTS:
        problems.append(f"{src}: [discrepancy] boundary_effect must be one of "
                        f"{', '.join(map(repr, BOUNDARY_EFFECTS))}, got {effect!r}")
    scales, boundary_of = _boundaries(t.get("boundary") or {}, src, problems)
    if problems:
        raise InputError("; ".join(problems))
    every = tuple(V.FOOTPRINT)
    sources = (("discrepancy.nu", str(t["nu_source"]), every),
               ("discrepancy.residual_floor_log_sd", str(t["residual_floor_source"]), every),
               ("discrepancy.source_scale", str(t["source_scale"]["source"]), every)) + tuple(
        (f"discrepancy.boundary.{c}", str(t["boundary"][c]["scale"]["source"]),
         tuple(v for v, k in boundary_of.items() if k == c)) for c in scales)
    return Discrepancy(nu, floor, source_scale, scales, boundary_of, src, sources, effect)


def _boundaries(table: dict, src: str, problems: list) -> tuple[dict, dict]:
    """The boundary classes' scale priors and each footprint variable's class, from the
    ``[discrepancy.boundary.CLASS]`` tables (problems appended to ``problems``)."""
    scales, boundary_of = {}, {}
    for cls, bt in table.items():
        where = f"[discrepancy.boundary.{cls}]"
        if not isinstance(bt, dict):
            problems.append(f"{src}: {where} must be a table with variables and scale")
            continue
        scales[cls] = _scale(bt.get("scale"), f"{where} scale", src, problems)
        for v in bt.get("variables", []):
            if v not in V.FOOTPRINT:
                problems.append(f"{src}: {where} variable {v!r} is not a footprint "
                                f"variable; use {', '.join(V.FOOTPRINT)}")
            elif v in boundary_of:
                problems.append(f"{src}: {where} variable {v!r} is already in boundary "
                                f"class {boundary_of[v]!r}; give each variable one class")
            else:
                boundary_of[v] = cls
    missing = [v for v in V.FOOTPRINT if v not in boundary_of]
    if missing:
        problems.append(f"{src}: [discrepancy.boundary] gives no class to "
                        f"{', '.join(missing)}; add each to one class's variables")
    return scales, boundary_of


def _number(t: dict, key: str, src: str, problems: list) -> float | None:
    v = t.get(key)
    if not is_finite_number(v):
        problems.append(f"{src}: [discrepancy] {key} must be a number, got {v!r}")
        return None
    return float(v)


def _scale(raw, where: str, src: str, problems: list) -> dists.Distribution | None:
    """A scale's prior: a distribution table with unit and source, positive support."""
    if not isinstance(raw, dict) or "dist" not in raw:
        problems.append(f"{src}: {where} must be a prior table, e.g. {{ dist = \"lognormal\", "
                        f"median = 0.5, p5 = 0.15, p95 = 1.5, unit = \"1 (log)\", source = "
                        f"\"...\" }}")
        return None
    if not str(raw.get("source", "")).strip():
        problems.append(f"{src}: {where} has no source; say where the scale comes from")
    params = {k: v for k, v in raw.items() if k not in ("dist", "unit", "source", "note")}
    try:
        d = dists.make(str(raw["dist"]), params)
    except dists.ParameterError as e:
        problems.append(f"{src}: {where}: {e}")
        return None
    lo = float(np.asarray(d.ppf(np.array([1e-12])))[0])
    if not (d.support()[0] >= 0 and lo > 0):
        problems.append(f"{src}: {where} is not positive (its support starts at "
                        f"{d.support()[0]:g}): a discrepancy scale is a standard deviation; "
                        f"use a prior on positive values, e.g. lognormal with p5 > 0")
        return None
    return d


# ---- closed-form densities (vectorized over draws) -------------------------------------

def covariance(tau2, d: np.ndarray, source_index, classes=(), shared_tb2=None) -> np.ndarray:
    """Scale matrices (n, E, E) of ``E`` figures' log residuals: ``tau2 S S^T + sum_c
    tau_c^2 B_c B_c^T + diag(d)``, ``S`` the figure-by-source and ``B_c`` the figure-in-class
    indicators. ``tau2``: (n,) or scalar; ``d``: each figure's own variance (E, n) (with a
    per-figure boundary effect its ``tau_b^2`` is in it); ``shared_tb2``: {class: (n,)} of
    the boundary effects shared by every figure of their class (``classes``: each figure's)."""
    d = np.asarray(d, float)
    n = d.shape[1]
    src = np.asarray(source_index)
    tau2 = np.broadcast_to(np.asarray(tau2, float), (n,))
    cov = tau2[:, None, None] * (src[:, None] == src[None, :])
    cov = cov + d.T[:, :, None] * np.eye(len(src))
    cls = np.asarray(list(classes), dtype=object)
    for c, t in (shared_tb2 or {}).items():
        m = (cls == c).astype(float)
        cov = cov + np.asarray(t, float)[:, None, None] * np.outer(m, m)
    return cov


def groups(source_index, classes=(), shared: bool = False) -> list[np.ndarray]:
    """The figures that share an effect, transitively: those of one source, and with a shared
    boundary effect those of one class (``classes``: each figure's, ``""`` for none). Each
    group is one Student-t scale mixture (one mixing variable), groups are independent."""
    src = list(source_index)
    cls = list(classes) if shared else [""] * len(src)
    parent = list(range(len(src)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for a in range(len(src)):
        for b in range(a + 1, len(src)):
            if src[a] == src[b] or (cls[a] and cls[a] == cls[b]):
                parent[root(a)] = root(b)
    roots = list(dict.fromkeys(root(i) for i in range(len(src))))
    return [np.array([i for i in range(len(src)) if root(i) == r]) for r in roots]


def mvt_log_density(r: np.ndarray, cov: np.ndarray, nu: float) -> np.ndarray:
    """Log density (n,) of log residuals ``r`` (k, n) under the centred multivariate t with
    ``nu`` degrees of freedom (``inf``: the normal) and scale matrices ``cov`` (n, k, k), by
    Cholesky factors (0 for k = 0)."""
    k = r.shape[0]
    if k == 0:
        return np.zeros(r.shape[1])
    chol = np.linalg.cholesky(cov)
    y = np.linalg.solve(chol, r.T[:, :, None])[:, :, 0]
    q = (y * y).sum(axis=1)
    logdet = 2 * np.log(np.diagonal(chol, axis1=1, axis2=2)).sum(axis=1)
    if math.isinf(nu):
        return -0.5 * (k * math.log(2 * math.pi) + logdet + q)
    const = special.gammaln((nu + k) / 2) - special.gammaln(nu / 2) \
        - 0.5 * k * math.log(nu * math.pi)
    return const - 0.5 * logdet - 0.5 * (nu + k) * np.log1p(q / nu)


def mvt_conditional(r: np.ndarray, cov: np.ndarray, nu: float, j: int, given):
    """Location, scale (n,) and degrees of freedom of residual ``j`` given the residuals
    ``given`` (indices into ``r`` (E, n), ``cov`` (n, E, E)): the multivariate t's
    conditional, a univariate t with ``nu + m`` degrees of freedom (``m = len(given)``),
    location ``S_jg S_gg^-1 r_g`` and squared scale ``(nu + q) / (nu + m)`` times the Schur
    complement ``S_jj - S_jg S_gg^-1 S_gj`` (``q = r_g^T S_gg^-1 r_g``); the normal's for
    ``nu = inf``."""
    g = np.asarray(given, int)
    if not len(g):
        return np.zeros(r.shape[1]), np.sqrt(cov[:, j, j]), nu
    sgg = cov[:, g][:, :, g]
    sjg = cov[:, j, g]
    sol = np.linalg.solve(sgg, np.stack([r[g].T, sjg], axis=-1))  # (n, m, 2)
    loc = (sjg * sol[..., 0]).sum(axis=1)
    var = cov[:, j, j] - (sjg * sol[..., 1]).sum(axis=1)
    if math.isinf(nu):
        return loc, np.sqrt(var), nu
    q = (r[g].T * sol[..., 0]).sum(axis=1)
    return loc, np.sqrt(var * (nu + q) / (nu + len(g))), nu + len(g)


def t_cdf(x: np.ndarray, nu: float) -> np.ndarray:
    """Standard Student-t CDF (``nu = inf``: the normal's)."""
    return special.ndtr(x) if math.isinf(nu) else special.stdtr(nu, x)


def mixture_quantiles(loc: np.ndarray, scale: np.ndarray, nu: float, weights: np.ndarray,
                      probs) -> np.ndarray:
    """Quantiles ``probs`` of the weighted mixture over draws of ``loc + scale * t_nu``
    (loc, scale: (E, n); weights (n,) summing to 1): (E, len(probs)), by bisection on the
    mixture CDF (monotone; 60 halvings of a bracket wider than every component's 1e-9
    quantiles resolve it to below 1e-12 of the bracket)."""
    tq = special.ndtri(1e-9) if math.isinf(nu) else special.stdtrit(nu, 1e-9)
    lo = (loc + tq * scale).min(axis=1)
    hi = (loc - tq * scale).max(axis=1)
    out = []
    for p in np.atleast_1d(probs):
        a, b = lo.copy(), hi.copy()
        for _ in range(60):
            mid = 0.5 * (a + b)
            f = t_cdf((mid[:, None] - loc) / scale, nu) @ weights
            a, b = np.where(f < p, mid, a), np.where(f < p, b, mid)
        out.append(0.5 * (a + b))
    return np.stack(out, axis=1)


#: what a figure's predictive is conditioned on (:func:`predictive`)
GIVEN = ("nothing", "other sources", "others")


def predictive(logmu: np.ndarray, r: np.ndarray, cov: np.ndarray, nu: float, groups,
               source_index, given: str = "other sources"):
    """Location and scale (entries, n) of each figure's log predictive, a t with the
    returned degrees of freedom (entries,): ``log mu`` plus the conditional of its residual
    (:func:`mvt_conditional`) given, within its group (:func:`groups`), ``"nothing"`` (a
    fresh source and boundary effect: the prior predictive), the figures of ``"other
    sources"`` (its source held out; with per-figure boundary effects a group is one source,
    so this is a fresh source effect) or all ``"others"`` (its source's other figures
    too). ``r``: log residuals (entries, n); ``cov``: :func:`covariance`."""
    if given not in GIVEN:
        raise ValueError(f"given must be one of {GIVEN}, got {given!r}")
    src = np.asarray(source_index)
    loc, scale = np.empty_like(r), np.empty_like(r)
    dof = np.full(r.shape[0], float(nu))
    for g in groups:
        for e in g:
            cond = [] if given == "nothing" else [i for i in g if i != e and (
                given == "others" or src[i] != src[e])]
            a, b, dof[e] = mvt_conditional(r, cov, nu, int(e), cond)
            loc[e], scale[e] = logmu[e] + a, b
    return loc, scale, dof
