"""Private numba kernels. Deterministic, no RNG inside; twins live in ``footprint.py``."""

from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from . import variables as V
from ._numba import inline_kernel, kernel, parallel_kernel, prange
from .footprint import NEWTON_STEPS, NEWTON_TOL

_INV_SQRT2 = 1.0 / math.sqrt(2.0)


@kernel
def _knot(u, probs, nq):
    """Where ``u`` falls among the knots ``probs`` for ``np.interp``: ``j >= 0`` when the
    value is knot ``j``'s exactly (clamped below ``probs[0]`` and above ``probs[-1]``, or
    ``u`` on a knot), else ``-k`` for the segment ``probs[k - 1] < u < probs[k]``. Shared by
    every row interpolating at the same ``u`` (:func:`_interp_at`)."""
    if u <= probs[0]:
        return 0
    if u >= probs[nq - 1]:
        return nq - 1
    k = 1
    while probs[k] < u:
        k += 1
    if probs[k] == u:  # numpy.interp returns the knot's value exactly on a knot
        return k
    return -k


@kernel
def _slopes(probs, q, r):
    """``slopes[k]``: numpy.interp's slope of row ``r`` between knots ``k - 1`` and ``k``
    (``k >= 1``), the same expression as it evaluates per point, computed once per row."""
    nq = probs.shape[0]
    out = np.zeros(nq)
    for k in range(1, nq):
        out[k] = (q[r, k] - q[r, k - 1]) / (probs[k] - probs[k - 1])
    return out


@kernel
def _interp_at(u, at, probs, q, r, slopes):
    """np.interp(u, probs, q[r]) for one scalar, ``at = _knot(u, probs, nq)``, ``slopes =
    _slopes(probs, q, r)``."""
    if at >= 0:
        return q[r, at]
    k = -at
    return slopes[k] * (u - probs[k - 1]) + q[r, k - 1]  # numpy.interp's formula


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


#: The kernel's inputs and outputs, named (numba passes namedtuples of arrays as they are).
#: Per catalogue row (R rows, D draws): independent standard normals ``z_lat``/``z_spd``
#: (R, D), the catalogue's latency / speed quantiles ``lat_q``/``spd_q`` (R, Q) at ``probs``
#: (Q,), tokens, and the row's combo, host and model indices.
#: Rows that share one draw of the row streams (a model's prompt sizes, see
#: ``Plan.row_streams``) form a group: ``members`` lists the rows group by group, group ``g``
#: being ``members[starts[g]:starts[g + 1]]``, its first member the row whose normals the
#: group reads.
Rows = namedtuple("Rows", "z_lat z_spd probs lat_q spd_q out_tokens combo host in_tokens "
                          "model members starts")

#: Draws per block of a group's probabilities and knots (:func:`_group`): four 8-byte
#: blocks of 1,024 (32 KiB) stay in a 1 MiB L2 cache beside the rows' streams. A
#: tuning constant (derived from that cache size), not part of the numbers: every draw's
#: values are the same whatever the block.
PHI_BLOCK = 1024
#: Attributed power by boundary (kW) and embodied g CO2e per hour, each (combo, variant, draw).
Power = namedtuple("Power", "acc_kw host_kw idle_kw embodied_g_per_h")
#: Host factors, each (host, draw).
Hosts = namedtuple("Hosts", "pue wue_site wue_source cif cif_market")
#: Output arrays, (R, D) each (``energy_variants``: (V, R, D)); one of zero rows is not
#: requested and not written.
Outputs = namedtuple("Outputs", "latency speed energy_variants energy_accelerator energy_host "
                                "energy_idle energy_it energy carbon carbon_market "
                                "carbon_embodied water_site water_source water batch")


@inline_kernel
def _over(x, n, inv):
    """``x / n``, as ``x * inv`` where ``inv = 1 / n`` is exact (``n`` a power of two, as
    the 1 or 2 utilization variants are; else ``inv`` is 0 and ``x / n`` is divided): both
    are the correctly rounded quotient of the same real number, bit for bit, and a multiply
    costs a fraction of a division."""
    return x * inv if inv != 0.0 else x / n


@inline_kernel
def _exact_inverse(n):
    """``1 / n`` where that is exact (``n`` a power of two), else 0 (see :func:`_over`)."""
    return 1.0 / n if n > 0 and n & (n - 1) == 0 else 0.0


@inline_kernel
def _hours_energies(acc_kw, host_kw, idle_kw, embodied_g_per_h, c, d, r, hours, p, n_var,
                    inv_var, variants, w_var):
    """(accelerator, host, idle) Wh and embodied g CO2e of one query from hours x power,
    means over the utilization variants (each variant's facility energy into
    ``variants``, when requested)."""
    sa = 0.0
    sh = 0.0
    si = 0.0
    se = 0.0
    for v in range(n_var):
        ea = 1000.0 * hours * acc_kw[c, v, d]
        eh = 1000.0 * hours * host_kw[c, v, d]
        ei = 1000.0 * hours * idle_kw[c, v, d]
        if w_var:
            variants[v, r, d] = (ea + eh + ei) * p
        sa += ea
        sh += eh
        si += ei
        se += hours * embodied_g_per_h[c, v, d]
    return _over(sa, n_var, inv_var), _over(sh, n_var, inv_var), _over(si, n_var, inv_var), se


@kernel
def _row(r, d0, d1, u_lat, u_spd, at_lat, at_spd, rows, power, hosts, serve, out):
    """Draws ``d0..d1-1`` of catalogue row ``r`` from its latency and speed probabilities
    (``u_lat``/``u_spd``, indexed from ``d0``) and their knots (``at_*``, :func:`_knot`):
    the body of :func:`_group`, a function of its own because numba loses writes through a
    namedtuple's arrays made in a ``prange`` body; here the groups are unpacked into plain
    arrays once per row and block."""
    # not the normals: _group read them (the latency/speed outputs may alias them)
    _, _, probs, lat_q, spd_q, out_tokens, combo, host, in_tokens, model, _, _ = rows
    acc_kw, host_kw, idle_kw, embodied_g_per_h = power
    pue, wue_site, wue_source, cif, cif_market = hosts
    (lat_out, spd_out, var_out, acc_out, host_out, idle_out, it_out, energy_out, carbon_out,
     market_out, embodied_out, ws_out, wsrc_out, w_out, batch_out) = out
    n_var = acc_kw.shape[1]
    inv_var = _exact_inverse(n_var)
    c, h, t_out = combo[r], host[r], out_tokens[r]
    # an output of zero rows was not requested: it is not written
    w = (acc_out.shape[0] > 0, host_out.shape[0] > 0, idle_out.shape[0] > 0,
         it_out.shape[0] > 0, energy_out.shape[0] > 0, carbon_out.shape[0] > 0,
         market_out.shape[0] > 0, embodied_out.shape[0] > 0, ws_out.shape[0] > 0,
         wsrc_out.shape[0] > 0, w_out.shape[0] > 0)
    serving, w_batch, w_var = serve.shape[0] > 0, batch_out.shape[0] > 0, var_out.shape[1] > 0
    lat_slopes, spd_slopes = _slopes(probs, lat_q, r), _slopes(probs, spd_q, r)
    for d in range(d0, d1):
        lat = _interp_at(u_lat[d - d0], at_lat[d - d0], probs, lat_q, r, lat_slopes)
        spd = _interp_at(u_spd[d - d0], at_spd[d - d0], probs, spd_q, r, spd_slopes)
        p = pue[h, d]
        if serving:
            ea, eh, ei, bt, se = _serve_query(spd, in_tokens[r], t_out, serve, model[r], d)
            if w_batch:
                batch_out[r, d] = bt
            if w_var:
                var_out[0, r, d] = (ea + eh + ei) * p
        else:
            ea, eh, ei, se = _hours_energies(acc_kw, host_kw, idle_kw, embodied_g_per_h, c, d,
                                             r, (lat + t_out / spd) / 3600.0, p, n_var,
                                             inv_var, var_out, w_var)
        it = ea + eh + ei
        energy = it * p
        ws = it * wue_site[h, d]
        wsrc = energy * wue_source[h, d]
        lat_out[r, d] = lat
        spd_out[r, d] = spd
        if w[0]:
            acc_out[r, d] = ea
        if w[1]:
            host_out[r, d] = eh
        if w[2]:
            idle_out[r, d] = ei
        if w[3]:
            it_out[r, d] = it
        if w[4]:
            energy_out[r, d] = energy
        if w[5]:
            carbon_out[r, d] = energy * cif[h, d]
        if w[6]:
            market_out[r, d] = energy * cif_market[h, d]
        if w[7]:
            embodied_out[r, d] = _over(se, n_var, inv_var)
        if w[8]:
            ws_out[r, d] = ws
        if w[9]:
            wsrc_out[r, d] = wsrc
        if w[10]:
            w_out[r, d] = ws + wsrc


@kernel
def _group(g, rows, c00, c10, c11, power, hosts, serve, out, block):
    """Every draw of the rows of group ``g`` (see :data:`Rows`), block by block: the
    latency and speed probabilities of the group's shared normals once per draw (the
    copula, then ``Phi``: one libm ``erfc`` each) and where they fall among the quantile
    knots (:func:`_knot`, shared: the rows have the same knots), then each member row from
    them. A block's normals are all read before any member writes its latency and speed,
    which may alias them."""
    z_lat, z_spd, probs = rows.z_lat, rows.z_spd, rows.probs
    members, starts = rows.members, rows.starts
    lo, hi = starts[g], starts[g + 1]
    src, n, nq = members[lo], z_lat.shape[1], probs.shape[0]
    u_lat, u_spd = np.empty(block), np.empty(block)
    at_lat, at_spd = np.empty(block, np.int64), np.empty(block, np.int64)
    for d0 in range(0, n, block):
        d1 = min(d0 + block, n)
        for d in range(d0, d1):
            a, b = z_lat[src, d], z_spd[src, d]
            ul = 0.5 * math.erfc(-(c00 * a) * _INV_SQRT2)
            us = 0.5 * math.erfc(-(c10 * a + c11 * b) * _INV_SQRT2)
            u_lat[d - d0], u_spd[d - d0] = ul, us
            at_lat[d - d0], at_spd[d - d0] = _knot(ul, probs, nq), _knot(us, probs, nq)
        for k in range(lo, hi):
            _row(members[k], d0, d1, u_lat, u_spd, at_lat, at_spd, rows, power, hosts,
                 serve, out)


@parallel_kernel
def _footprint(rows, chol, power, hosts, serve, out, block):
    """Fused footprint of every (row, draw); see ``footprint.footprint_reference``.

    ``rows``, ``power``, ``hosts``, ``out``: :data:`Rows`, :data:`Power`, :data:`Hosts`,
    :data:`Outputs`. Power comes split by boundary, each (combo, variant, draw):
    accelerators, host (CPU/DRAM/network) and idle provisioned capacity attributed to the
    query. Per variant the three IT energies are summed and times PUE give
    ``energy_variants``; the boundary energies are variant means, ``it = acc + host +
    idle`` and ``energy = it * PUE`` (the identities hold exactly, per draw). Embodied
    carbon is node time times the hardware's amortised manufacturing emissions per hour of
    the query's share, averaged over variants like the energies.

    With serving parameters (``serve`` of shape (len(SERVE_KEYS), models, draws), else
    (0, 1, 1)) the boundary energies come from serving physics at the batch implied by the
    sampled speed (``_serve_query``; written to ``out.batch``), not from hours x power.

    Row groups (rows sharing one draw of normals) are split across threads (``prange``);
    each iteration writes only its own rows, so results do not depend on the thread count.
    A group's probabilities are computed once per draw for all its rows (the values are
    those of each row computed alone). ``out.latency``/``out.speed`` may alias
    ``rows.z_lat``/``rows.z_spd`` (each element is read before it is written). An output
    of zero rows was not requested: it is not written (the values are computed all the
    same, so the requested ones do not depend on what else was asked).
    """
    c00, c10, c11 = chol[0, 0], chol[1, 0], chol[1, 1]
    for g in prange(rows.starts.shape[0] - 1):
        _group(g, rows, c00, c10, c11, power, hosts, serve, out, block)


def footprint(z_lat, z_spd, chol, probs, lat_q, spd_q, out_tokens, row_combo, row_host,
              acc_kw, host_kw, idle_kw, embodied_g_per_h, pue, wue_site, wue_source, cif,
              cif_market, out, serving=None, source=None):
    """Run the kernel, writing into the arrays of ``out`` (dict of preallocated arrays).

    ``out`` must hold ``"latency"`` and ``"speed"``; an output key it does not hold is
    computed but not written (zero-size placeholder), so a caller pays memory and bandwidth
    only for what it asked for. ``serving``: optional ``(in_tokens (R,), row_model (R,),
    serve (K, M, D))`` of the serving attribution; then ``out["batch"]`` (R, D), if present,
    receives the implied batch. ``source``: optional (R,) row whose normals each row reads
    (rows that share a stream: ``z_lat``/``z_spd`` then need only the source rows filled);
    default: every row its own.
    """
    none2, none3 = np.empty((0, 0)), np.empty((0, 0, 0))
    if serving is None:
        serving = (np.zeros(1), np.zeros(1, np.int64), np.zeros((0, 1, 1)))
    in_tokens, row_model, serve = serving
    rows = Rows(z_lat, z_spd, probs, lat_q, spd_q, out_tokens, row_combo, row_host, in_tokens,
                row_model, *row_groups(source, z_lat.shape[0]))
    outputs = Outputs(out["latency"], out["speed"], out.get(V.VARIANTS_KEY, none3),
                      *(out.get(k, none2) for k in _OUTPUT_KEYS), out.get("batch", none2))
    _footprint(rows, np.ascontiguousarray(chol), Power(acc_kw, host_kw, idle_kw,
                                                       embodied_g_per_h),
               Hosts(pue, wue_site, wue_source, cif, cif_market), serve, outputs, PHI_BLOCK)
    return out


def row_groups(source, n_rows: int) -> tuple[np.ndarray, np.ndarray]:
    """``(members, starts)`` of :data:`Rows`: the rows grouped by ``source`` (per row, the
    row whose normals it reads, itself a source; ``None``: every row its own), each group's
    source first."""
    if source is None:
        return np.arange(n_rows, dtype=np.int64), np.arange(n_rows + 1, dtype=np.int64)
    source = np.asarray(source, dtype=np.int64)
    if source.shape != (n_rows,) or np.any((source < 0) | (source >= n_rows)) \
            or np.any(source[source] != source):
        raise ValueError(f"source must give each of the {n_rows} rows a row that is its own "
                         f"source, got {source!r}")
    rows = np.arange(n_rows)
    members = np.lexsort((rows != source, source))
    starts = np.flatnonzero(np.diff(source[members], prepend=-1) != 0)
    return members.astype(np.int64), np.append(starts, n_rows).astype(np.int64)


#: the kernel's per-(slot, draw) outputs (:data:`Outputs` fields), in its order
_OUTPUT_KEYS = ("energy_accelerator", "energy_host", "energy_idle", "energy_it", "energy",
                "carbon", "carbon_market", "carbon_embodied", "water_site", "water_source",
                "water")
