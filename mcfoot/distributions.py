"""The one registry of distribution kinds a prior may use.

Each kind declares its named parameters, checks them, gives its support and maps uniform
numbers ``u`` in (0, 1) to values through its inverse CDF (``ppf``). Sampling is therefore
"design + transform": the same kinds serve Monte Carlo draws and Sobol designs.

Kinds: ``fixed``, ``uniform``, ``triangular``, ``truncnormal``, ``lognormal`` (median and a
P5–P95 range, optionally shifted), ``logitnormal`` (a fraction normal on the logit scale),
``studentt``, ``pert``, ``beta`` (on a range), ``empirical`` (linear inverse CDF through given
quantiles, clamped outside them as the study does), ``discrete`` and ``draws`` (one column of
a block of joint draws, e.g. a fitted posterior: every prior of the block reads the same
named stream, so one normal picks one joint draw).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
from scipy import special  # scipy.stats (~0.5 s to import) only where used

__all__ = ["Beta", "Discrete", "Distribution", "Draws", "draw_index", "Empirical", "Fixed",
           "LogitNormal", "LogNormal", "make", "ParameterError", "Pert", "REGISTRY", "StudentT", "Triangular",
           "TruncNormal", "Uniform"]

#: z of the 95th percentile of a standard normal (exact, from SciPy at import is avoided).
_Z95 = float(special.ndtri(0.95))


class ParameterError(ValueError):
    """A distribution's parameters are missing, extra, of the wrong type or inconsistent."""


def _num(name: str, v: Any) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise ParameterError(f"parameter '{name}' must be a number, got {v!r}")
    f = float(v)
    if not math.isfinite(f):
        raise ParameterError(f"parameter '{name}' must be finite, got {v!r}")
    return f


def _numlist(name: str, v: Any) -> np.ndarray:
    if not isinstance(v, (list, tuple)) or len(v) < 2:
        raise ParameterError(f"parameter '{name}' must be a list of at least 2 numbers, got {v!r}")
    return np.array([_num(f"{name}[{i}]", x) for i, x in enumerate(v)])


@dataclass(frozen=True)
class Distribution:
    """Base class: a distribution kind with validated, named parameters."""

    params: dict
    required: ClassVar[tuple[str, ...]] = ()
    optional: ClassVar[dict[str, Any]] = {}
    kind: ClassVar[str] = ""
    #: True when values never equal the support's lower end (e.g. a lognormal above shift).
    open_low: ClassVar[bool] = False

    @classmethod
    def from_params(cls, params: dict) -> "Distribution":
        missing = [p for p in cls.required if p not in params]
        extra = [p for p in params if p not in cls.required and p not in cls.optional]
        if missing:
            raise ParameterError(
                f"'{cls.kind}' needs parameter(s) {', '.join(missing)} "
                f"(it takes {cls.signature()})"
            )
        if extra:
            raise ParameterError(
                f"'{cls.kind}' does not take parameter(s) {', '.join(extra)} "
                f"(it takes {cls.signature()})"
            )
        full = {**cls.optional, **params}
        return cls(cls.check(full))

    @classmethod
    def signature(cls) -> str:
        opt = [f"{k}={v}" for k, v in cls.optional.items()]
        return ", ".join([*cls.required, *opt])

    @classmethod
    def check(cls, p: dict) -> dict:  # pragma: no cover - every kind overrides
        return p

    @property
    def is_fixed(self) -> bool:
        return False

    @property
    def shared_stream(self) -> str | None:
        """The stream every prior of a joint block reads (``draws``), else None: the prior's
        own stream (``priors.Prior.stream``)."""
        return None

    def support(self) -> tuple[float, float]:
        raise NotImplementedError

    def ppf(self, u: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def quantile(self, q) -> np.ndarray:
        """The distribution's quantiles at probabilities ``q`` (its inverse CDF)."""
        return self.ppf(q)

    def described(self) -> dict:
        """Parameters to show a reader (listings, JSON), those left at their default dropped."""
        return {k: v for k, v in self.params.items()
                if not (k in self.optional and v == self.optional[k])}

    def median(self) -> float:
        return float(self.quantile(np.array([0.5]))[0])


class _Bounded(Distribution):
    """A kind whose parameters ``low`` and ``high`` are the ends of its support."""

    def support(self):
        return (self.params["low"], self.params["high"])


class Fixed(Distribution):
    kind = "fixed"
    required = ("value",)

    @classmethod
    def check(cls, p):
        return {"value": _num("value", p["value"])}

    @property
    def is_fixed(self):
        return True

    def support(self):
        return (self.params["value"], self.params["value"])

    def ppf(self, u):
        return np.full(np.shape(u), self.params["value"])


class Uniform(_Bounded):
    kind = "uniform"
    required = ("low", "high")

    @classmethod
    def check(cls, p):
        lo, hi = _num("low", p["low"]), _num("high", p["high"])
        if not lo < hi:
            raise ParameterError(f"needs low < high, got low={lo}, high={hi}")
        return {"low": lo, "high": hi}

    def ppf(self, u):
        lo, hi = self.params["low"], self.params["high"]
        return lo + (hi - lo) * np.asarray(u, dtype=float)


class Triangular(_Bounded):
    kind = "triangular"
    required = ("low", "mode", "high")

    @classmethod
    def check(cls, p):
        lo, mo, hi = (_num(k, p[k]) for k in cls.required)
        if not (lo <= mo <= hi and lo < hi):
            raise ParameterError(f"needs low <= mode <= high and low < high, got {lo}, {mo}, {hi}")
        return {"low": lo, "mode": mo, "high": hi}

    def ppf(self, u):
        lo, mo, hi = self.params["low"], self.params["mode"], self.params["high"]
        from scipy import stats

        return stats.triang.ppf(u, (mo - lo) / (hi - lo), loc=lo, scale=hi - lo)


class TruncNormal(_Bounded):
    kind = "truncnormal"
    required = ("mean", "sd")
    optional = {"low": -math.inf, "high": math.inf}

    @classmethod
    def check(cls, p):
        mean, sd = _num("mean", p["mean"]), _num("sd", p["sd"])
        lo = float(p["low"]) if p["low"] == -math.inf else _num("low", p["low"])
        hi = float(p["high"]) if p["high"] == math.inf else _num("high", p["high"])
        if not sd > 0:
            raise ParameterError(f"needs sd > 0, got {sd}")
        if not lo < hi:
            raise ParameterError(f"needs low < high, got low={lo}, high={hi}")
        return {"mean": mean, "sd": sd, "low": lo, "high": hi}

    def ppf(self, u):
        m, s, lo, hi = (self.params[k] for k in ("mean", "sd", "low", "high"))
        return _truncnorm_ppf(u, (lo - m) / s, (hi - m) / s, m, s)


def _log_sum(log_p, log_q):
    return special.logsumexp([log_p, log_q], axis=0)


def _log_gauss_mass(a, b):
    """Log of the standard normal's mass in [a, b] (SciPy's ``_log_gauss_mass``)."""
    a, b = np.broadcast_arrays(a, b)
    case_left = b <= 0
    case_right = a > 0
    case_central = ~(case_left | case_right)

    def left(a, b):  # log(Phi(b) - Phi(a)) as logsumexp(log Phi(b), log Phi(a) + i pi)
        return special.logsumexp([special.log_ndtr(b), special.log_ndtr(a) + np.pi * 1j],
                                 axis=0)

    out = np.full_like(a, fill_value=np.nan, dtype=np.complex128)
    if a[case_left].size:
        out[case_left] = left(a[case_left], b[case_left])
    if a[case_right].size:
        out[case_right] = left(-b[case_right], -a[case_right])
    if a[case_central].size:
        ac, bc = a[case_central], b[case_central]
        out[case_central] = special.log1p(-special.ndtr(ac) - special.ndtr(-bc))
    return np.real(out)


def _truncnorm_ppf(u, a, b, loc, scale):
    """``scipy.stats.truncnorm(a, b, loc, scale).ppf(u)`` step for step (SciPy's
    ``rv_continuous.ppf`` and ``truncnorm_gen._ppf``, 1.11-1.17) with :mod:`scipy.special`
    alone: the same numbers bit for bit (tests/test_distributions.py compares them), without
    importing ``scipy.stats`` (~0.8 s) in a run."""
    q = np.asarray(u)
    a, b, loc, scale = (np.asarray(x) for x in (a, b, loc, scale))
    cond0 = (a < b) & (scale > 0) & (loc == loc)
    cond = cond0 & (0 < q) & (q < 1)
    output = np.full(np.shape(cond), fill_value=np.nan)
    np.place(output, cond0 & (q == 0), a * scale + loc)
    np.place(output, cond0 & (q == 1), b * scale + loc)
    if np.any(cond):
        q = np.extract(cond, np.broadcast_to(q, cond.shape)) if not np.all(cond) \
            else np.broadcast_arrays(np.atleast_1d(q), cond)[0].ravel()
        a1, b1 = np.atleast_1d(a), np.atleast_1d(b)
        q, a1, b1 = np.broadcast_arrays(q, a1, b1)
        out = np.empty_like(q)
        left = a1 < 0
        if q[left].size:
            ql, al, bl = q[left], a1[left], b1[left]
            out[left] = special.ndtri_exp(_log_sum(special.log_ndtr(al),
                                                   np.log(ql) + _log_gauss_mass(al, bl)))
        right = ~left
        if q[right].size:
            qr, ar, br = q[right], a1[right], b1[right]
            out[right] = -special.ndtri_exp(_log_sum(special.log_ndtr(-br),
                                                     np.log1p(-qr) + _log_gauss_mass(ar, br)))
        np.place(output, cond, out * np.atleast_1d(scale) + np.atleast_1d(loc))
    if output.ndim == 0:
        return output[()]
    return output


class LogNormal(Distribution):
    """Lognormal given by its median and P5–P95 range, on ``x - shift``.

    When ``ln(median - shift)`` lies midway between ``ln(p5 - shift)`` and
    ``ln(p95 - shift)`` this is the ordinary lognormal. Published ranges are often skewed
    around their central value; then the two halves get their own log-scale sigma (a
    two-piece lognormal) so that the median, P5 and P95 are all met exactly.
    """

    kind = "lognormal"
    open_low = True
    required = ("median", "p5", "p95")
    optional = {"shift": 0.0}

    @classmethod
    def check(cls, p):
        med, p5, p95, sh = (_num(k, p[k]) for k in ("median", "p5", "p95", "shift"))
        if not p5 < p95:
            raise ParameterError(f"needs p5 < p95, got p5={p5}, p95={p95}")
        if not p5 <= med <= p95:
            raise ParameterError(f"needs p5 <= median <= p95, got {p5}, {med}, {p95}")
        if not sh < p5:
            raise ParameterError(f"needs shift < p5 (values above shift), got shift={sh}, p5={p5}")
        return {"median": med, "p5": p5, "p95": p95, "shift": sh}

    def _mu_sigmas(self):
        med, p5, p95, sh = (self.params[k] for k in ("median", "p5", "p95", "shift"))
        mu = math.log(med - sh)
        return mu, (mu - math.log(p5 - sh)) / _Z95, (math.log(p95 - sh) - mu) / _Z95

    def support(self):
        return (self.params["shift"], math.inf)

    def ppf(self, u):
        mu, s_lo, s_hi = self._mu_sigmas()
        z = special.ndtri(np.asarray(u, dtype=float))
        return self.params["shift"] + np.exp(mu + z * np.where(z < 0, s_lo, s_hi))


class LogitNormal(Distribution):
    """A fraction in (0, 1) whose logit is normal with mean ``mu`` and sd ``sigma``."""

    kind = "logitnormal"
    open_low = True
    required = ("mu", "sigma")

    @classmethod
    def check(cls, p):
        mu, sd = _num("mu", p["mu"]), _num("sigma", p["sigma"])
        if not sd > 0:
            raise ParameterError(f"needs sigma > 0, got {sd}")
        return {"mu": mu, "sigma": sd}

    def support(self):
        return (0.0, 1.0)

    def ppf(self, u):
        z = special.ndtri(np.asarray(u, dtype=float))
        return special.expit(self.params["mu"] + self.params["sigma"] * z)


class StudentT(Distribution):
    """Student-t with ``nu`` degrees of freedom, location ``loc`` and scale ``scale``."""

    kind = "studentt"
    required = ("nu",)
    optional = {"loc": 0.0, "scale": 1.0}

    @classmethod
    def check(cls, p):
        nu, loc, sc = (_num(k, p[k]) for k in ("nu", "loc", "scale"))
        if not (nu > 0 and sc > 0):
            raise ParameterError(f"needs nu > 0 and scale > 0, got nu={nu}, scale={sc}")
        return {"nu": nu, "loc": loc, "scale": sc}

    def support(self):
        return (-math.inf, math.inf)

    def ppf(self, u):  # special.stdtrit is scipy.stats.t.ppf's own kernel
        return self.params["loc"] + self.params["scale"] * special.stdtrit(
            self.params["nu"], np.asarray(u, dtype=float))


class Draws(Distribution):
    """One quantity's column of a block of joint draws (``values``, in the block's stored
    order), read through the block's shared ``stream``: ``u`` picks draw ``floor(u * n)``, so
    every prior of the block takes the same joint draw at the same normal. Not monotone in
    ``u``, so never part of a copula."""

    kind = "draws"
    required = ("values", "stream")

    @classmethod
    def check(cls, p):
        v = p["values"]
        if not isinstance(v, (list, tuple)) or not v:
            raise ParameterError(f"parameter 'values' must be a non-empty list of numbers, got "
                                 f"{type(v).__name__}")
        if any(isinstance(x, bool) or not isinstance(x, (int, float)) for x in v):
            raise ParameterError("parameter 'values' must hold numbers only")
        vals = np.asarray(v, dtype=float)
        if not np.isfinite(vals).all():
            raise ParameterError(f"parameter 'values' must be finite; entry "
                                 f"{int(np.flatnonzero(~np.isfinite(vals))[0])} is not")
        vals = tuple(vals.tolist())
        if not (isinstance(p["stream"], str) and p["stream"].strip()):
            raise ParameterError(f"parameter 'stream' must name the block's stream, got "
                                 f"{p['stream']!r}")
        return {"values": vals, "stream": p["stream"]}

    @property
    def shared_stream(self) -> str:
        return self.params["stream"]

    def support(self):
        return (min(self.params["values"]), max(self.params["values"]))

    def ppf(self, u):
        v = np.asarray(self.params["values"])
        return v[draw_index(u, len(v))]

    def quantile(self, q):  # the block's own quantiles: ppf is not monotone
        return np.quantile(np.asarray(self.params["values"]), np.asarray(q, dtype=float))

    def described(self) -> dict:  # a summary, not thousands of draws
        p5, med, p95 = (float(x) for x in self.quantile([0.05, 0.5, 0.95]))
        return {"draws": len(self.params["values"]), "stream": self.params["stream"],
                "median": round(med, 6), "p5": round(p5, 6), "p95": round(p95, 6)}


def draw_index(u, n: int) -> np.ndarray:
    """Which of ``n`` stored joint draws a uniform ``u`` picks: ``floor(u * n)`` (``u = 1``
    kept on the last). The one pick of a block of draws (:class:`Draws`, and the bench
    predictor's posterior draw, :mod:`mcfoot.benchpredict`), so both take the same draw."""
    return np.minimum((np.asarray(u, dtype=float) * n).astype(np.int64), n - 1)


def _scaled_beta_ppf(lo, hi, a, b, u):
    """Inverse CDF of a Beta(a, b) stretched onto [lo, hi]."""
    return lo + (hi - lo) * special.betaincinv(a, b, np.asarray(u, dtype=float))


class Pert(_Bounded):
    kind = "pert"
    required = ("low", "mode", "high")
    optional = {"shape": 4.0}

    @classmethod
    def check(cls, p):
        lo, mo, hi, sh = (_num(k, p[k]) for k in ("low", "mode", "high", "shape"))
        if not (lo <= mo <= hi and lo < hi):
            raise ParameterError(f"needs low <= mode <= high and low < high, got {lo}, {mo}, {hi}")
        if not sh > 0:
            raise ParameterError(f"needs shape > 0, got {sh}")
        return {"low": lo, "mode": mo, "high": hi, "shape": sh}

    def ab(self):
        lo, mo, hi, sh = (self.params[k] for k in ("low", "mode", "high", "shape"))
        return 1 + sh * (mo - lo) / (hi - lo), 1 + sh * (hi - mo) / (hi - lo)

    def ppf(self, u):
        return _scaled_beta_ppf(self.params["low"], self.params["high"], *self.ab(), u)


class Beta(_Bounded):
    kind = "beta"
    required = ("low", "high", "alpha", "beta")

    @classmethod
    def check(cls, p):
        lo, hi, a, b = (_num(k, p[k]) for k in cls.required)
        if not lo < hi:
            raise ParameterError(f"needs low < high, got low={lo}, high={hi}")
        if not (a > 0 and b > 0):
            raise ParameterError(f"needs alpha > 0 and beta > 0, got {a}, {b}")
        return {"low": lo, "high": hi, "alpha": a, "beta": b}

    def ppf(self, u):
        return _scaled_beta_ppf(self.params["low"], self.params["high"], self.params["alpha"],
                                self.params["beta"], u)


class _OnValues(Distribution):
    """A kind given by ascending ``values`` paired with a second list of the same length
    (``pair``: probabilities or weights); its support runs from the first value to the last."""

    pair: ClassVar[str] = ""

    @classmethod
    def _lists(cls, p) -> tuple[np.ndarray, np.ndarray]:
        v, w = _numlist("values", p["values"]), _numlist(cls.pair, p[cls.pair])
        if v.size != w.size:
            raise ParameterError(f"'values' ({v.size}) and '{cls.pair}' ({w.size}) differ in "
                                 f"length")
        return v, w

    def support(self):
        return (self.params["values"][0], self.params["values"][-1])


class Empirical(_OnValues):
    """Linear inverse CDF through ``values`` at cumulative probabilities ``probs``.

    Below ``probs[0]`` and above ``probs[-1]`` the value is clamped to the end quantile, as
    the study does with Artificial Analysis' P5..P95 (so 5 % of the mass sits on each end).
    """

    kind = "empirical"
    required = ("values", "probs")
    pair = "probs"

    @classmethod
    def check(cls, p):
        v, q = cls._lists(p)
        if not (np.all(np.diff(q) > 0) and q[0] >= 0 and q[-1] <= 1):
            raise ParameterError(f"'probs' must increase strictly within [0, 1], got {q.tolist()}")
        if np.any(np.diff(v) < 0):
            raise ParameterError(f"'values' must not decrease (quantiles), got {v.tolist()}")
        return {"values": v.tolist(), "probs": q.tolist()}

    def ppf(self, u):
        return np.interp(u, self.params["probs"], self.params["values"])


class Discrete(_OnValues):
    """Finite set of ``values`` with ``weights`` (normalised); ppf steps at cumulative weights."""

    kind = "discrete"
    required = ("values", "weights")
    pair = "weights"

    @classmethod
    def check(cls, p):
        v, w = cls._lists(p)
        if np.any(w < 0) or not w.sum() > 0:
            raise ParameterError(f"'weights' must be >= 0 with a positive sum, got {w.tolist()}")
        if np.any(np.diff(v) <= 0):
            raise ParameterError(f"'values' must increase strictly, got {v.tolist()}")
        return {"values": v.tolist(), "weights": w.tolist()}

    def cdf_steps(self) -> np.ndarray:
        w = np.asarray(self.params["weights"])
        c = np.cumsum(w) / w.sum()
        c[-1] = 1.0
        return c

    def ppf(self, u):
        idx = np.searchsorted(self.cdf_steps(), np.asarray(u, dtype=float), side="left")
        return np.asarray(self.params["values"])[np.minimum(idx, len(self.params["values"]) - 1)]


REGISTRY: dict[str, type[Distribution]] = {
    cls.kind: cls
    for cls in (Fixed, Uniform, Triangular, TruncNormal, LogNormal, LogitNormal, StudentT, Pert,
                Beta, Empirical, Discrete, Draws)
}


def make(kind: str, params: dict) -> Distribution:
    """Build a distribution of ``kind`` from named ``params`` (raises ParameterError)."""
    if kind not in REGISTRY:
        raise ParameterError(
            f"unknown distribution '{kind}'; known: {', '.join(sorted(REGISTRY))}"
        )
    return REGISTRY[kind].from_params(params)
