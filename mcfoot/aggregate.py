"""Reducing a request log to exact, mergeable totals per cell (model, region, time bucket):
the node-time moments of each request (exact integrals of the sampler's inverse CDF) and
exact sums (:class:`ExactSum`). The first stage of :func:`mcfoot.workload`; see its module
docstring for the method.
"""

from __future__ import annotations

import dataclasses
from fractions import Fraction

import numpy as np
import pandas as pd
import xarray as xr

from .logs import CHUNK_ROWS, Skipped, read_log
from .estimate import _measured, interpolate_quantiles
from .regions import canonical, regions

#: Seconds per hour: a unit conversion.
SECONDS_PER_HOUR = 3600.0


# ---- exact sums ------------------------------------------------------------------------------

class ExactSum:
    """Exact sums of non-negative float64 values per integer key, mergeable in any order.

    Each value ``m 2^e`` (53-bit integer mantissa ``m``) is split into two 27-bit halves that
    are summed per (key, e) in int64; :meth:`values` turns the integer sums into the
    correctly rounded float of the exact total. Any chunking or merge order gives the same
    bits.
    """

    def __init__(self):
        self.acc: dict[tuple[int, int], list[int]] = {}

    def add(self, keys: np.ndarray, x: np.ndarray, codes=None, uniq=None) -> None:
        """Add values ``x`` under integer ``keys`` (or dense ``codes`` into ``uniq`` keys, as
        ``pandas.factorize`` gives them)."""
        x = np.asarray(x, float)
        if x.size == 0:
            return
        if not np.all(np.isfinite(x)) or np.any(x < 0):
            raise ValueError("ExactSum takes finite values >= 0")
        if len(x) >= 1 << 26:
            raise ValueError("ExactSum.add takes fewer than 2^26 values at a time")
        if codes is None:
            codes, uniq = pd.factorize(np.asarray(keys, np.int64))
        m, e = np.frexp(x)
        mant = np.ldexp(m, 53).astype(np.int64)  # exact: m has 53 significant bits
        hi, lo = mant >> 26, mant & ((1 << 26) - 1)
        e_min = int(e.min())
        span = int(e.max()) - e_min + 1
        comb = codes.astype(np.int64) * span + (e - e_min)
        size = len(uniq) * span
        shi = np.bincount(comb, weights=hi, minlength=size)  # each sum < 2^53: exact
        slo = np.bincount(comb, weights=lo, minlength=size)
        for c in np.flatnonzero((shi != 0) | (slo != 0)):
            k, ee = int(uniq[c // span]), int(c % span) + e_min
            cell = self.acc.setdefault((k, ee), [0, 0])
            cell[0] += int(shi[c])
            cell[1] += int(slo[c])

    def merge(self, other: "ExactSum") -> "ExactSum":
        out = ExactSum()
        for src in (self, other):
            for k, (a, b) in src.acc.items():
                cell = out.acc.setdefault(k, [0, 0])
                cell[0] += a
                cell[1] += b
        return out

    def values(self) -> dict[int, float]:
        """key -> correctly rounded exact sum."""
        tot: dict[int, Fraction] = {}
        for (k, e), (a, b) in self.acc.items():
            tot[k] = tot.get(k, Fraction(0)) + Fraction((a << 26) + b) * Fraction(2) ** (e - 53)
        return {k: float(v) for k, v in tot.items()}


# ---- per-request node time -------------------------------------------------------------------

def hour_moments(probs, lat_q, spd_q, out_tokens) -> tuple[np.ndarray, np.ndarray]:
    """``(E[hours], b)`` per request: the exact mean node time (h) and the bound ``b`` on its sd
    (``sd(latency) + T_out sd(1/speed)``, h) under the sampler's inverse CDF (linear between
    the quantiles ``probs``, constant outside; ``footprint.empirical_ppf``).

    Shapes: ``probs`` (Q,), ``lat_q``, ``spd_q`` (n, Q), ``out_tokens`` (n,).
    """
    e_lat, sd_lat, e_inv, sd_inv = _moments(probs, lat_q, spd_q)
    t_out = np.asarray(out_tokens, float)
    return (e_lat + t_out * e_inv) / SECONDS_PER_HOUR, (sd_lat + t_out * sd_inv) / SECONDS_PER_HOUR


def _moments(probs, lat_q, spd_q):
    """Mean and sd of latency and of 1/speed: exact integrals of the piecewise-linear
    inverse CDF (``E[X] = int_0^1 ppf(u) du`` and so on), per row."""
    p = np.asarray(probs, float)
    dp = np.diff(p)
    lo, hi = p[0], 1.0 - p[-1]
    a, b = lat_q[:, :-1], lat_q[:, 1:]
    e_lat = lo * lat_q[:, 0] + (dp * (a + b) / 2).sum(1) + hi * lat_q[:, -1]
    e_lat2 = lo * lat_q[:, 0] ** 2 + (dp * (a * a + a * b + b * b) / 3).sum(1) \
        + hi * lat_q[:, -1] ** 2
    s, t = spd_q[:, :-1], spd_q[:, 1:]
    d = t - s
    r = d / s
    with np.errstate(divide="ignore", invalid="ignore"):
        seg = np.where(np.abs(r) > 1e-6, np.log1p(r) / np.where(d == 0, 1, d),
                       (1 - r / 2 + r * r / 3) / s)  # int_0^1 dt / (s + d t)
    e_inv = lo / spd_q[:, 0] + (dp * seg).sum(1) + hi / spd_q[:, -1]
    e_inv2 = lo / spd_q[:, 0] ** 2 + (dp / (s * t)).sum(1) + hi / spd_q[:, -1] ** 2
    sd_lat = np.sqrt(np.maximum(e_lat2 - e_lat ** 2, 0))
    sd_inv = np.sqrt(np.maximum(e_inv2 - e_inv ** 2, 0))
    return e_lat, sd_lat, e_inv, sd_inv


def quantiles_at(catalogue: xr.Dataset, model: np.ndarray, input_tokens: np.ndarray):
    """Latency and speed quantiles ``(n, Q)`` of requests of catalogue model index ``model``
    with ``input_tokens``, by :func:`mcfoot.estimate`'s interpolation (linear in log input
    tokens between the measured prompt sizes, held at the nearest one outside). Returns
    ``(lat_q, spd_q, outside, falling)``: bool per request beyond the measured range, and on a
    segment where the measurements make the footprint fall with more input tokens."""
    model = np.asarray(model)
    x = np.asarray(input_tokens, float)
    n, nq = len(model), catalogue.sizes["quantile"]
    lq, sq = np.empty((n, nq)), np.empty((n, nq))
    outside, falling = np.zeros(n, bool), np.zeros(n, bool)
    order = np.argsort(model, kind="stable")
    cuts = np.flatnonzero(np.diff(model[order])) + 1
    for rows in np.split(order, cuts):
        if not len(rows):
            continue
        tin, lat, spd, _, _ = _measured(catalogue, str(catalogue.model.values[model[rows[0]]]))
        lq[rows], a, b = interpolate_quantiles(tin, lat, x[rows])
        sq[rows], _, _ = interpolate_quantiles(tin, spd, x[rows])
        outside[rows] = (x[rows] < tin[0]) | (x[rows] > tin[-1])
        drop = (np.diff(lat, axis=0) < 0).any(1) | (np.diff(spd, axis=0) > 0).any(1)
        falling[rows] = (a != b) & drop[np.minimum(a, len(drop) - 1)] if len(drop) else False
    return np.ascontiguousarray(lq), np.ascontiguousarray(sq), outside, falling


# ---- aggregation of a log --------------------------------------------------------------------

@dataclasses.dataclass
class LogTotals:
    """Exact, mergeable totals of (part of) a log per cell ``(model, region, time bucket)``."""

    hours: ExactSum = dataclasses.field(default_factory=ExactSum)
    bound2: ExactSum = dataclasses.field(default_factory=ExactSum)
    ints: dict = dataclasses.field(default_factory=dict)  # cell -> [requests, in, out, rows]
    outside: int = 0  # requests whose input tokens lie beyond the measured prompt sizes
    falling: int = 0  # requests on a segment where measured latency falls / speed rises
    rows: list | None = dataclasses.field(default_factory=list)  # kept rows (exact mode)
    n_requests: int = 0
    skipped: Skipped = dataclasses.field(default_factory=Skipped)

    def merge(self, o: "LogTotals", keep: int) -> "LogTotals":
        out = LogTotals(self.hours.merge(o.hours), self.bound2.merge(o.bound2))
        for src in (self.ints, o.ints):
            for k, v in src.items():
                cell = out.ints.setdefault(k, [0, 0, 0, 0])
                for i in range(4):
                    cell[i] += v[i]
        out.outside = self.outside + o.outside
        out.falling = self.falling + o.falling
        out.n_requests = self.n_requests + o.n_requests
        out.rows = None if self.rows is None or o.rows is None or out.n_requests > keep \
            else self.rows + o.rows
        for s in (self.skipped, o.skipped):
            for attr in ("rows", "requests", "input_tokens", "output_tokens"):
                d = getattr(out.skipped, attr)
                for m, v in getattr(s, attr).items():
                    d[m] = d.get(m, 0) + v
        return out


#: Cell key layout (int64): model (10 bits) | region (10 bits) | time bucket (offset, 32 bits).
_T_BITS, _R_BITS = 32, 10
_T_OFFSET = 1 << 31


def cell_keys(model, region_idx, bucket) -> np.ndarray:
    return ((model.astype(np.int64) << (_R_BITS + _T_BITS)) |
            (region_idx.astype(np.int64) << _T_BITS) | (bucket.astype(np.int64) + _T_OFFSET))


def split_key(key: int) -> tuple[int, int, int]:
    return (key >> (_R_BITS + _T_BITS), (key >> _T_BITS) & ((1 << _R_BITS) - 1),
            (key & ((1 << _T_BITS) - 1)) - _T_OFFSET)


def _regions_index() -> dict[str, int]:
    return {r: i + 1 for i, r in enumerate(regions())}  # 0 = the host's own grid


def _bucket(ts: np.ndarray | None, unit: str | None, n: int) -> np.ndarray:
    if unit is None or ts is None:
        return np.zeros(n, np.int64)
    return ts.astype(f"datetime64[{unit}]").astype(np.int64)


def _int_bincount(codes, w: np.ndarray, k: int) -> np.ndarray:
    """Integer sums of ``w`` (int64) per code, exact (float bincount while it is exact)."""
    if int(w.sum()) < 1 << 53:
        return np.bincount(codes, weights=w, minlength=k).astype(np.int64)
    out = np.zeros(k, np.int64)
    np.add.at(out, codes, w)
    return out


def _node_hours(ch, catalogue: xr.Dataset, probs: np.ndarray):
    """Per request of a chunk: the expected node-hours, the bound on their spread (both h),
    and whether its input tokens are outside the measured sizes or on a falling segment.

    The node-time moments depend on (model, input tokens) only, so they are computed once
    per distinct pair."""
    pair = (ch.model.astype(np.int64) << 40) | np.minimum(ch.input_tokens, (1 << 40) - 1)
    pcodes, pairs = pd.factorize(pair)
    lq, sq, outside, falling = quantiles_at(catalogue, pairs >> 40, pairs & ((1 << 40) - 1))
    e_lat, sd_lat, e_inv, sd_inv = _moments(probs, lq, sq)
    t_out = ch.output_tokens.astype(float)
    eh = (e_lat[pcodes] + t_out * e_inv[pcodes]) / SECONDS_PER_HOUR
    b = (sd_lat[pcodes] + t_out * sd_inv[pcodes]) / SECONDS_PER_HOUR
    return eh, b, outside[pcodes], falling[pcodes]


def aggregate(log, catalogue: xr.Dataset, *, columns=None, skip_unknown=False,
              time_unit: str | None = None, region: str | None = None,
              chunk_rows: int = CHUNK_ROWS, keep: int = 0,
              progress=None, row_offset: int = 0) -> LogTotals:
    """Read and validate a log and reduce it to :class:`LogTotals` (bounded memory).

    ``keep``: keep the rows themselves while the log has at most this many requests (for
    per-request sampling; 0 keeps none)."""
    known = [str(m) for m in catalogue.model.values]
    ridx = _regions_index()
    default_region = ridx[canonical(region)] if region is not None else 0
    tot = LogTotals()
    probs = catalogue["quantile"].values
    it = read_log(log, known, columns=columns, skip_unknown=skip_unknown,
                  chunk_rows=chunk_rows, skipped=tot.skipped,
                  need_timestamp=time_unit is not None)
    for ch in it:
        n = len(ch)
        if n == 0:
            continue
        r = np.full(n, default_region, np.int64) if ch.region is None else \
            pd.Series(ch.region).map(ridx).fillna(default_region).to_numpy(np.int64)
        keys = cell_keys(ch.model, r, _bucket(ch.timestamp, time_unit, n))
        codes, uniq = pd.factorize(keys)
        eh, b, outside, falling = _node_hours(ch, catalogue, probs)
        c = ch.count.astype(float)
        tot.hours.add(None, c * eh, codes, uniq)
        tot.bound2.add(None, c * b * b, codes, uniq)
        tot.outside += int(ch.count[outside].sum())
        tot.falling += int(ch.count[falling].sum())
        k = len(uniq)
        sums = [_int_bincount(codes, w, k) for w in
                (ch.count, ch.count * ch.input_tokens, ch.count * ch.output_tokens)]
        rows_per = np.bincount(codes, minlength=k)
        for j, key in enumerate(uniq):
            cell = tot.ints.setdefault(int(key), [0, 0, 0, 0])
            cell[0] += int(sums[0][j])
            cell[1] += int(sums[1][j])
            cell[2] += int(sums[2][j])
            cell[3] += int(rows_per[j])
        tot.n_requests += int(ch.count.sum())
        if tot.rows is not None:
            if tot.n_requests > keep:
                tot.rows = None
            else:
                tot.rows.append((row_offset + ch.start + np.arange(n), keys, ch.model, ch.input_tokens,
                                 ch.output_tokens, ch.count))
        if progress is not None:
            progress.update(n)
    return tot
