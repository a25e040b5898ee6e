"""Private numba kernels. Deterministic, no RNG inside; twins live in ``footprint.py``."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from . import variables as V
from ._numba import kernel, parallel_kernel, prange
from .footprint import NEWTON_STEPS, NEWTON_TOL, TAIL_MARGIN_Z

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@kernel
def _interp(u, probs, q, r, nq):
    """np.interp(u, probs, q[r]) for one scalar: clamped outside [probs[0], probs[-1]]."""
    if u <= probs[0]:
        return q[r, 0]
    if u >= probs[nq - 1]:
        return q[r, nq - 1]
    k = 1
    while probs[k] < u:
        k += 1
    if probs[k] == u:  # numpy.interp returns the knot's value exactly on a knot
        return q[r, k]
    x0 = probs[k - 1]
    x1 = probs[k]
    y0 = q[r, k - 1]
    y1 = q[r, k]
    slope = (y1 - y0) / (x1 - x0)
    return slope * (u - x0) + y0  # numpy.interp's formula


@kernel
def _sampled(y, z_lo, z_hi, probs, q, r, nq):
    """``_interp(0.5 * erfc(-y / sqrt(2)), probs, q, r, nq)``: the quantile function at the
    normal ``y``; below ``z_lo`` / above ``z_hi`` (the outer knots' normal quantiles minus /
    plus ``footprint.TAIL_MARGIN_Z``) the clamped knot value, with no ``erfc``."""
    if y < z_lo:
        return q[r, 0]
    if y > z_hi:
        return q[r, nq - 1]
    return _interp(0.5 * math.erfc(-y * _INV_SQRT2), probs, q, r, nq)


@kernel
def _batch(spd, t_in, t_out, wt, lq, bc, bkv, kcap, sig, bmax):
    """Implied batch and per-sequence step time (s); twin ``footprint.implied_batch``."""
    b = bc + bkv * (t_in + 0.5 * t_out)
    cap = kcap / (t_in + t_out)
    if cap > bmax:
        cap = bmax
    if cap < 1.0:
        cap = 1.0
    target = sig / spd
    t1 = wt * (1.0 - math.exp(lq)) + b
    if t1 >= target:
        return 1.0, b
    tc = wt * (1.0 - math.exp(cap * lq)) + cap * b
    if tc <= target:
        return cap, b
    if lq == -math.inf:  # dense: the step time is linear in the batch
        return (target - wt) / b, b
    bb = 1.0
    for _ in range(NEWTON_STEPS):
        e = math.exp(bb * lq)
        g = wt * (1.0 - e) + bb * b - target
        step = g / (b - wt * lq * e)
        bb = bb - step
        if abs(step) <= NEWTON_TOL * bb:
            break
    return bb, b


@kernel
def _serve_query(spd, t_in, t_out, sv, m, d):
    """(accelerator, host, idle) Wh, batch and embodied g CO2e of one query; twin
    ``footprint.serving_query_energy``. ``sv`` is (len(SERVE_KEYS), models, draws)."""
    wt = sv[0, m, d]
    lq = sv[1, m, d]
    sig = sv[9, m, d]
    batch, b = _batch(spd, t_in, t_out, wt, lq, sv[2, m, d], sv[3, m, d], sv[5, m, d], sig,
                      sv[10, m, d])
    steps = t_out / sig
    w = wt * (1.0 - math.exp(batch * lq))
    gap = sig / spd - (w + batch * b)  # the measured step is slower than physics at the cap
    if gap < 0.0:
        gap = 0.0
    w = w + gap
    pf = sv[4, m, d]
    phi = sv[7, m, d]
    acc = steps * (sv[6, m, d] * w / batch + phi * b) + t_in * pf * phi
    tau = steps * (w / batch + b) + t_in * pf
    acc_wh = acc / 3600.0
    host_wh = sv[8, m, d] * tau / 3600.0
    return acc_wh, host_wh, (acc_wh + host_wh) * sv[11, m, d], batch, \
        tau / 3600.0 * sv[12, m, d]


@parallel_kernel
def _footprint(z_lat, z_spd, chol, z_lo, z_hi, probs, lat_q, spd_q, out_tokens, row_combo, row_host,
               acc_kw, host_kw, idle_kw, embodied_g_per_h, pue, wue_site, wue_source, cif,
               cif_market, in_tokens, row_model, serve, lat_out, spd_out, energy_v_out, acc_out,
               host_out, idle_out, it_out, energy_out, carbon_out, carbon_market_out,
               carbon_embodied_out, ws_out, wsrc_out, w_out, batch_out):
    """Fused footprint of every (row, draw); see ``footprint.footprint_reference``.

    Power comes split by boundary, each (combo, variant, draw): accelerators, host
    (CPU/DRAM/network) and idle provisioned capacity attributed to the query. Per variant
    the three IT energies are summed and times PUE give ``energy_v_out``; the boundary
    energies are variant means, ``it = acc + host + idle`` and ``energy = it * PUE`` (the
    identities hold exactly, per draw). Embodied carbon is node time times the hardware's
    amortised manufacturing emissions per hour of the query's share (``embodied_g_per_h``,
    per combo, variant and draw), averaged over variants like the energies.

    With serving parameters (``serve`` of shape (len(SERVE_KEYS), models, draws), else
    (0, 1, 1)) the boundary energies come from serving physics at the batch implied by the
    sampled speed (``_serve_query``; written to ``batch_out``), not from hours x power.

    Rows are split across threads (``prange``); each iteration writes only its own row, so
    results do not depend on the thread count. ``lat_out``/``spd_out`` may alias
    ``z_lat``/``z_spd`` (each element is read before it is written).
    """
    n_rows, n_draws = z_lat.shape
    n_var = acc_kw.shape[1]
    nq = probs.shape[0]
    c00, c10, c11 = chol[0, 0], chol[1, 0], chol[1, 1]
    serving = serve.shape[0] > 0
    # an output of zero rows was not requested: it is not written (the values are computed
    # all the same, so the requested ones do not depend on what else was asked)
    w_var = energy_v_out.shape[1] > 0
    w_acc = acc_out.shape[0] > 0
    w_host = host_out.shape[0] > 0
    w_idle = idle_out.shape[0] > 0
    w_it = it_out.shape[0] > 0
    w_energy = energy_out.shape[0] > 0
    w_carbon = carbon_out.shape[0] > 0
    w_market = carbon_market_out.shape[0] > 0
    w_embodied = carbon_embodied_out.shape[0] > 0
    w_ws = ws_out.shape[0] > 0
    w_wsrc = wsrc_out.shape[0] > 0
    w_w = w_out.shape[0] > 0
    w_batch = batch_out.shape[0] > 0
    for r in prange(n_rows):
        c = row_combo[r]
        h = row_host[r]
        t_out = out_tokens[r]
        for d in range(n_draws):
            a = z_lat[r, d]
            b = z_spd[r, d]
            lat = _sampled(c00 * a, z_lo, z_hi, probs, lat_q, r, nq)
            spd = _sampled(c10 * a + c11 * b, z_lo, z_hi, probs, spd_q, r, nq)
            p = pue[h, d]
            if serving:
                ea, eh, ei, bt, se = _serve_query(spd, in_tokens[r], t_out, serve, row_model[r],
                                                  d)
                if w_batch:
                    batch_out[r, d] = bt
                if w_var:
                    energy_v_out[0, r, d] = (ea + eh + ei) * p
            else:
                hours = (lat + t_out / spd) / 3600.0
                sa = 0.0
                sh = 0.0
                si = 0.0
                se = 0.0
                for v in range(n_var):
                    ea = 1000.0 * hours * acc_kw[c, v, d]
                    eh = 1000.0 * hours * host_kw[c, v, d]
                    ei = 1000.0 * hours * idle_kw[c, v, d]
                    if w_var:
                        energy_v_out[v, r, d] = (ea + eh + ei) * p
                    sa += ea
                    sh += eh
                    si += ei
                    se += hours * embodied_g_per_h[c, v, d]
                ea = sa / n_var
                eh = sh / n_var
                ei = si / n_var
            it = ea + eh + ei
            energy = it * p
            ws = it * wue_site[h, d]
            wsrc = energy * wue_source[h, d]
            lat_out[r, d] = lat
            spd_out[r, d] = spd
            if w_acc:
                acc_out[r, d] = ea
            if w_host:
                host_out[r, d] = eh
            if w_idle:
                idle_out[r, d] = ei
            if w_it:
                it_out[r, d] = it
            if w_energy:
                energy_out[r, d] = energy
            if w_carbon:
                carbon_out[r, d] = energy * cif[h, d]
            if w_market:
                carbon_market_out[r, d] = energy * cif_market[h, d]
            if w_embodied:
                carbon_embodied_out[r, d] = se / n_var
            if w_ws:
                ws_out[r, d] = ws
            if w_wsrc:
                wsrc_out[r, d] = wsrc
            if w_w:
                w_out[r, d] = ws + wsrc


def footprint(z_lat, z_spd, chol, probs, lat_q, spd_q, out_tokens, row_combo, row_host,
              acc_kw, host_kw, idle_kw, embodied_g_per_h, pue, wue_site, wue_source, cif,
              cif_market, out, serving=None):
    """Run the kernel, writing into the arrays of ``out`` (dict of preallocated arrays).

    ``out`` must hold ``"latency"`` and ``"speed"``; an output key it does not hold is
    computed but not written (zero-size placeholder), so a caller pays memory and bandwidth
    only for what it asked for. ``serving``: optional ``(in_tokens (R,), row_model (R,),
    serve (K, M, D))`` of the serving attribution; then ``out["batch"]`` (R, D), if present,
    receives the implied batch.
    """
    none2, none3 = np.empty((0, 0)), np.empty((0, 0, 0))
    if serving is None:
        serving = (np.zeros(1), np.zeros(1, np.int64), np.zeros((0, 1, 1)))
    batch = out.get("batch", none2)
    o = [out.get(k, none2) for k in _OUTPUT_KEYS]
    z_lo = float(special.ndtri(probs[0])) - TAIL_MARGIN_Z  # the erfc-free tails (_sampled)
    z_hi = float(special.ndtri(probs[-1])) + TAIL_MARGIN_Z
    _footprint(z_lat, z_spd, np.ascontiguousarray(chol), z_lo, z_hi, probs, lat_q, spd_q, out_tokens,
               row_combo, row_host, acc_kw, host_kw, idle_kw, embodied_g_per_h, pue, wue_site,
               wue_source, cif, cif_market, *serving, out["latency"], out["speed"],
               out.get(V.VARIANTS_KEY, none3), *o, batch)
    return out


#: the kernel's per-(slot, draw) output arguments, in its signature's order
_OUTPUT_KEYS = ("energy_accelerator", "energy_host", "energy_idle", "energy_it", "energy",
                "carbon", "carbon_market", "carbon_embodied", "water_site", "water_source",
                "water")
