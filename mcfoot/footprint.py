"""The footprint equations of the study, as small NumPy functions with units.

One query with ``T_out`` output tokens (the method of Jegham et al. 2025, arXiv 2505.09598),
energy split by boundary:

    hours            = (latency_s + T_out / speed_tokens_per_s) / 3600
    accelerator_kw   = P_gpu_node * u_gpu              (attributed accelerator power)
    host_kw          = P_nongpu_node * u_nongpu        (CPU, DRAM, network of the node)
    idle_kw          = (accelerator_kw + host_kw) * idle_fraction
                                                       (provisioned but idle capacity)
    energy_X_wh      = 1000 * hours * X_kw             for X in accelerator, host, idle
    energy_it_wh     = accelerator + host + idle       (IT energy, exactly, per draw)
    energy_wh        = energy_it_wh * PUE              (facility energy, exactly, per draw)
    carbon_g         = energy_wh * CIF                 (kg/kWh == g/Wh; location-based)
    carbon_market_g  = energy_wh * CIF_market          (market-based: net of PPAs/RECs)
    embodied_g_per_h = node_share * (n_acc * E_acc + E_node) * 1000
                       / (lifetime_yr * 8766 * fleet_utilisation)
    carbon_embodied_g= hours * embodied_g_per_h        (manufacturing, amortised)
    water_site       = energy_it_wh * WUE_site         (L/kWh == mL/Wh, per IT energy)
    water_source     = energy_wh * WUE_source          (per facility energy)

``node_share`` is the share of one node's time the query holds (allocated accelerators /
accelerators per node / batch); embodied emissions are amortised over the hours the hardware
serves in its lifetime (lifetime x fleet utilisation), the approach of EcoLogits
(``ecologits/impacts/llm.py``) with a utilisation term added. The study's ``power_kw`` is ``accelerator_kw + host_kw`` (its idle fraction is 0). With the
study's min/max band of ``u_gpu`` the boundary energies are the band's 50/50 means.

These functions are the readable statement of the method and the test oracle
(:func:`footprint_reference`) of the numba kernel in ``_kernels.py``.

The ``serving`` attribution replaces the attributed shares by serving physics (see
:func:`serving_parameters` and :func:`serving_query_energy`): the accelerator energy of a
query follows from the instance's decode step time at the batch that the measured stream
speed implies, so a slower stream is a larger batch sharing the same instance.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["attributed_power_kw", "carbon_g", "empirical_ppf", "facility_energy_wh",
           "footprint_reference", "it_energy_wh", "it_from_facility_wh", "normal_cdf",
           "per_sequence_s", "physical_shares", "query_hours", "SECONDS_PER_HOUR",
           "water_site_ml", "water_source_ml", "weight_stream_s", "WH_PER_KWH"]

#: Seconds per hour and Wh per kWh: unit conversions, not assumptions.
SECONDS_PER_HOUR = 3600.0
WH_PER_KWH = 1000.0
#: Grams per kilogram; hours per (Julian) year, 365.25 d x 24 h: unit conversions.
G_PER_KG = 1000.0
HOURS_PER_YEAR = 8766.0


def query_hours(latency_s, output_tokens, speed_tokens_per_s):
    """Node time of one query (h): first-chunk latency plus generation time."""
    return (latency_s + output_tokens / speed_tokens_per_s) / SECONDS_PER_HOUR


def attributed_power_kw(gpu_node_kw, gpu_share, nongpu_node_kw, nongpu_share):
    """Node power attributed to one query (kW)."""
    return gpu_node_kw * gpu_share + nongpu_node_kw * nongpu_share


def idle_power_kw(active_kw, idle_fraction):
    """Power of provisioned but idle capacity attributed to one query (kW): a fraction of
    the active (accelerator + host) power."""
    return active_kw * idle_fraction


def physical_shares(gpus, gpus_per_node, batch_size, gpu_power_fraction, host_load):
    """(u_gpu, u_nongpu) from allocated GPUs, batch size and power draw fractions (1)."""
    alloc = gpus / gpus_per_node / batch_size
    return alloc * gpu_power_fraction, alloc * host_load


def it_energy_wh(hours, power_kw):
    """IT (server) energy of one query (Wh)."""
    return WH_PER_KWH * hours * power_kw


def facility_energy_wh(it_wh, pue):
    """Facility energy (Wh): IT energy times PUE."""
    return it_wh * pue


def it_from_facility_wh(energy_wh, pue):
    """IT energy (Wh) of a facility energy: facility energy over PUE."""
    return energy_wh / pue


def carbon_g(energy_wh, cif_kg_per_kwh):
    """Operational carbon (g CO2e) of facility energy at grid intensity CIF."""
    return energy_wh * cif_kg_per_kwh


def embodied_g_per_h(node_share, accelerators_per_node, accelerator_kg, node_kg, lifetime_yr,
                     fleet_utilisation):
    """Manufacturing emissions (g CO2e) attributed per hour of one query's node time: the
    query's share of the node's embodied kg CO2e (accelerators + the rest of the node),
    amortised over the hours the node serves in its lifetime."""
    node_g = (accelerators_per_node * accelerator_kg + node_kg) * G_PER_KG
    return node_share * node_g / (lifetime_yr * HOURS_PER_YEAR * fleet_utilisation)


def water_site_ml(it_wh, wue_site_l_per_kwh):
    """On-site (cooling) water (mL): IT energy times on-site WUE."""
    return it_wh * wue_site_l_per_kwh


def water_source_ml(energy_wh, wue_source_l_per_kwh):
    """Off-site water (mL) consumed generating the facility's electricity."""
    return energy_wh * wue_source_l_per_kwh


_ERFC = np.frompyfunc(math.erfc, 1, 1)
_INV_SQRT2 = 1.0 / math.sqrt(2.0)


def normal_cdf(y):
    """Standard normal CDF as ``0.5 * erfc(-y / sqrt(2))`` with the C library's ``erfc``.

    The numba kernel computes the same expression with the same ``erfc`` (numba and Python's
    ``math`` both call libm), so the twin matches it bit for bit; ``scipy.special.ndtr`` and
    ``scipy.special.erfc`` differ from libm's erfc in the last bit (max 4.4e-16 absolute).
    """
    y = np.asarray(y, dtype=float)
    return 0.5 * _ERFC(-y * _INV_SQRT2).astype(float)


def empirical_ppf(u, probs, quantiles):
    """Linear inverse CDF through ``quantiles`` at ``probs``, clamped outside (the study's)."""
    return np.interp(u, probs, quantiles)


def footprint_reference(z_lat, z_spd, chol, probs, lat_q, spd_q, out_tokens, row_combo,
                        row_host, acc_kw, host_kw, idle_kw, embodied_rate, pue, wue_site,
                        wue_source, cif, cif_market, serving=None):
    """Plain NumPy twin of ``_kernels._footprint``: the test oracle.

    Shapes: ``z_lat``, ``z_spd`` (R, D) independent standard normals per catalogue row;
    ``chol`` (2, 2) Cholesky factor of the latency/speed copula; ``lat_q``, ``spd_q`` (R, Q);
    ``acc_kw``, ``host_kw``, ``idle_kw`` (C, V, D) attributed power by boundary per combo and
    utilization variant (V = 1, or 2 for the study's min/max band), ``embodied_rate``
    (C, V, D) g CO2e per hour of node time; host factors (H, D).
    Returns a dict of (R, D) arrays: latency, speed, ``energy_variants`` (V, R, D) and one
    per kernel key of the variable registry (``variables.kernel_keys()``).
    ``serving = (in_tokens (R,), row_model (R,), serve (K, M, D))`` switches to the serving
    physics (:func:`serving_query_energy`) and adds ``batch``.
    """
    y1 = chol[0, 0] * z_lat
    y2 = chol[1, 0] * z_lat + chol[1, 1] * z_spd
    u1, u2 = normal_cdf(y1), normal_cdf(y2)
    lat = np.stack([empirical_ppf(u1[r], probs, lat_q[r]) for r in range(len(lat_q))])
    spd = np.stack([empirical_ppf(u2[r], probs, spd_q[r]) for r in range(len(spd_q))])
    pue_r = pue[row_host]
    extra = {}
    if serving is not None:
        in_tokens, row_model, serve = serving
        p = {k: serve[i][row_model] for i, k in enumerate(SERVE_KEYS)}
        acc, host, idle, extra["batch"], embodied = serving_query_energy(
            spd, in_tokens[:, None], out_tokens[:, None], p)
        energy_v = facility_energy_wh(acc + host + idle, pue_r)[None]
    else:
        hours = query_hours(lat, out_tokens[:, None], spd)[None]

        def per_variant(kw):  # (C, V, D) -> (V, R, D) IT energy
            return it_energy_wh(hours, np.moveaxis(kw[row_combo], 1, 0))

        acc_v, host_v, idle_v = per_variant(acc_kw), per_variant(host_kw), per_variant(idle_kw)
        energy_v = facility_energy_wh(acc_v + host_v + idle_v, pue_r[None])
        acc, host, idle = acc_v.mean(axis=0), host_v.mean(axis=0), idle_v.mean(axis=0)
        embodied = (hours * np.moveaxis(embodied_rate[row_combo], 1, 0)).mean(axis=0)
    it = acc + host + idle
    energy = facility_energy_wh(it, pue_r)
    ws = water_site_ml(it, wue_site[row_host])
    wsrc = water_source_ml(energy, wue_source[row_host])
    return {"latency": lat, "speed": spd, "energy_variants": energy_v,
            "energy_accelerator": acc, "energy_host": host, "energy_idle": idle,
            "energy_it": it, "energy": energy, "carbon": carbon_g(energy, cif[row_host]),
            "carbon_market": carbon_g(energy, cif_market[row_host]), "carbon_embodied": embodied,
            "water_site": ws, "water_source": wsrc, "water": ws + wsrc, **extra}


# --------------------------------------------------------------------------------------
# Serving physics (the ``serving`` attribution). Units: parameters in billions (1e9),
# memory in GB (1e9 bytes), bandwidth in TB/s (1e12 bytes/s), compute in TFLOP/s (1e12
# FLOP/s), KV cache in kB (1e3 bytes) per context token, power in W, time in s.
#
#   weights           W_t = N_total * 1e9 * q                      (bytes; q bytes/param)
#   accelerators      n = 2^ceil(log2(W_t / (M * u_mem * w_max))) * parallelism
#                     (the memory minimum, times the tensor/expert parallelism used beyond it)
#   instance rates    BW = n * bw * eta_m ;  F = n * F16 * (2 / q) * eta_c
#   decode step       t(B) = W_t / BW * (1 - (1 - 1/R)^B) + B * b  (s per step, batch B)
#                     b = sigma * 2 * N_active * 1e9 / F + kv * 1e3 * ctx / BW
#   stream speed      s(B) = sigma / t(B)                            (tokens/s per stream)
#   batch             B solves s(B) = measured speed, within [1, min(max_batch, K / ctx)]
#                     K = (n * M * u_mem - W_t) / (kv * 1e3)         (KV-cache capacity)
#   accelerator J     T_out / sigma * n * TDP * (f_lo * t_w(B) / B + f_hi * b)
#                     + T_in * 2 * N_active * 1e9 / F * n * TDP * f_hi        (prefill)
#                     where t_w(B) gains the gap max(0, sigma / speed - t(B)): when the batch
#                     is at its cap and the measured stream is still slower than t(B), the
#                     instance is busy for the measured time (the extra at f_lo: stalls);
#                     at batch 1 a stream faster than physics is charged physics' time
#   host J            n * P_host * (T_out / sigma * t_eff / B + T_in * 2 N_active 1e9 / F),
#                     t_eff = max(t(B), sigma / speed)
#   idle              (accelerator + host) * idle_fraction
#   embodied g        instance-time / 3600 * n * embodied g per accelerator-hour
#
# Bench extensions (outside SERVE_KEYS: the catalogue's models have none of them):
#   attention FLOPs   b += a * kv * 1e3 * ctx / F   (a: attention FLOP per KV-cache byte read)
#   replicas r        weight stream r * W_t / BW * (1 - (1 - 1/R)^(B / r)): r data-parallel
#                     ranks each run their own forward pass on B / r sequences and stream the
#                     weights (dense) or the experts their sequences touch (MoE), so the
#                     batch splits over replicas; per-sequence work is unchanged
#
# The weight stream (t_w) runs at the memory-bound power fraction f_lo, the per-sequence
# work (compute and KV reads, b) at f_hi, so the instance's power rises with batch from
# about f_lo (batch 1) towards f_hi (large batch) and the energy per output token,
# n * TDP * (f_lo * t_w(B) / B + f_hi * b) / sigma, never rises with batch. MoE models read
# the experts the batch touches: with uniform routing a share 1 - (1 - 1/R)^B of all weights
# (R = total / active parameters), the active weights at batch 1 and all of them at large
# batch.
# --------------------------------------------------------------------------------------

#: Multiply-adds per parameter per token of a transformer forward pass: 2 FLOP
#: (Kaplan et al. 2020, arXiv 2001.08361, C_forward ~ 2N per token).
FLOP_PER_PARAM_TOKEN = 2.0
#: Bytes per parameter at which ``peak_flops`` is quoted (16-bit); 8-bit runs at twice it
#: (NVIDIA A100/H100 and Google TPU v6e datasheets: INT8/FP8 peak = 2 x BF16 peak).
PEAK_FLOPS_BYTES = 2.0
#: Decimal prefixes (unit conversions).
GIGA, TERA, KILO = 1e9, 1e12, 1e3
#: Newton iterations solving s(B) = measured speed for MoE models (g is concave, so Newton
#: from B = 1 climbs monotonically to the root), at most NEWTON_STEPS, stopping once a step
#: is below NEWTON_TOL of the batch (the same rule in numba and NumPy keeps them equal).
NEWTON_STEPS = 16
NEWTON_TOL = 1e-12

#: Accesses of a sequence's recurrent state per decode step: read once and written once
#: (Mamba-2's state update h_t = A h_{t-1} + B x_t, Dao and Gu 2024, arXiv 2405.21060).
STATE_ACCESSES = 2.0
#: Per-(model, draw) serving parameters handed to the kernel, in this order.
SERVE_KEYS = ("weight_read_s", "log_unused_share", "seq_compute_s", "seq_kv_s_per_token",
              "prefill_s_per_token", "kv_capacity_tokens", "power_low_w", "power_high_w",
              "host_power_w", "spec_tokens", "max_batch", "idle_fraction",
              "embodied_g_per_instance_h")


def accelerators_per_instance(weight_bytes, memory_gb, memory_utilization,
                              weight_memory_share):
    """Accelerators of one model instance (1): the smallest power of two whose usable memory
    (``memory_gb * memory_utilization`` each) holds the weights within
    ``weight_memory_share`` of it, the rest left to the KV cache."""
    need = np.asarray(weight_bytes) / (np.asarray(memory_gb) * GIGA * memory_utilization
                                       * weight_memory_share)
    return np.exp2(np.ceil(np.log2(np.maximum(need, 1.0))))


def serving_parameters(active_params, moe_total_ratio, bytes_per_param, kv_cache_kb,
                       spec_tokens, tdp_w, memory_gb, bandwidth_tb_s, peak_tflops,
                       bandwidth_efficiency, compute_efficiency, power_low, power_high,
                       host_power_w, memory_utilization, weight_memory_share, max_batch,
                       idle_fraction, parallelism=1.0, accelerators=None,
                       embodied_g_per_accelerator_h=0.0, compute_speedup=None,
                       state_kb_per_seq=0.0, attention_flop_per_kv_byte=0.0, replicas=1.0):
    """Per-instance serving parameters from model and hardware inputs (arrays broadcast).

    ``active_params`` in billions, ``moe_total_ratio`` total / active (>= 1),
    ``bytes_per_param`` (bytes), ``kv_cache_kb`` (kB per context token), ``spec_tokens``
    (tokens per decode step), ``tdp_w`` (W), ``memory_gb`` (GB), ``bandwidth_tb_s``
    (TB/s), ``peak_tflops`` (dense 16-bit TFLOP/s), efficiencies and power fractions (1),
    ``host_power_w`` (W per accelerator), ``max_batch`` (requests), ``parallelism``
    (accelerators over the memory minimum, 1). ``accelerators`` overrides the memory rule
    and ``parallelism`` (a lab configuration). ``embodied_g_per_accelerator_h`` (g CO2e per
    accelerator-hour of service, see :func:`embodied_g_per_h`) gives the instance's rate.
    ``compute_speedup``: the accelerator's peak at the weights' precision over its 16-bit
    peak (1; a datasheet ratio, e.g. 1 for MXFP4 on a GPU without FP4 units); by default
    ``PEAK_FLOPS_BYTES / bytes_per_param`` (8-bit at twice 16-bit). ``state_kb_per_seq``:
    recurrent (Mamba) state per sequence (kB), read and written every decode step at the
    instance's bandwidth (``seq_state_s``, outside :data:`SERVE_KEYS`: the catalogue's models
    have none). Bench extensions, also outside :data:`SERVE_KEYS` (defaults: none of them):
    ``attention_flop_per_kv_byte`` (FLOP of the attention scores and weighted sum per byte
    of KV cache read, :func:`mcfoot.benchmodel.attention_intensity`), run at the instance's
    compute;
    ``replicas`` (data-parallel ranks, each running its own forward pass on its share of the
    batch, :func:`weight_stream_s`; a dense model stores its weights once per replica, an
    MoE's experts are sharded over the ranks and stored once). Returns a dict with
    :data:`SERVE_KEYS` (s, s per context token, tokens, W, ...) and ``accelerators``.
    """
    ratio = np.asarray(moe_total_ratio, dtype=float)
    w_total = np.asarray(active_params) * ratio * GIGA * bytes_per_param
    n = accelerators_per_instance(w_total, memory_gb, memory_utilization,
                                  weight_memory_share) * parallelism if accelerators is None \
        else np.broadcast_to(np.asarray(accelerators, dtype=float), w_total.shape)
    bw = n * bandwidth_tb_s * TERA * bandwidth_efficiency  # bytes/s of the instance
    speedup = PEAK_FLOPS_BYTES / np.asarray(bytes_per_param) if compute_speedup is None \
        else compute_speedup
    flops = n * peak_tflops * TERA * speedup * compute_efficiency
    flop_token = FLOP_PER_PARAM_TOKEN * np.asarray(active_params) * GIGA
    moe = ratio > 1.0
    unused = np.log(np.where(moe, 1.0 - 1.0 / np.where(moe, ratio, 2.0), 1.0))
    stored = w_total * np.where(moe, 1.0, replicas)  # dense replicas each hold the weights
    kv_bytes = np.asarray(kv_cache_kb) * KILO
    out = {
        "weight_read_s": w_total / bw,
        "log_unused_share": np.where(moe, unused, -np.inf),
        "seq_compute_s": spec_tokens * flop_token / flops,
        "seq_kv_s_per_token": kv_bytes / bw,
        "seq_state_s": STATE_ACCESSES * np.asarray(state_kb_per_seq) * KILO / bw,
        "prefill_s_per_token": flop_token / flops,
        "kv_capacity_tokens": (n * np.asarray(memory_gb) * GIGA * memory_utilization - stored)
        / kv_bytes,
        "seq_attn_s_per_token": np.asarray(attention_flop_per_kv_byte) * kv_bytes / flops,
        "replicas": replicas,
        "power_low_w": n * tdp_w * power_low,
        "power_high_w": n * tdp_w * power_high,
        "host_power_w": n * host_power_w,
        "spec_tokens": spec_tokens, "max_batch": max_batch, "idle_fraction": idle_fraction,
        "embodied_g_per_instance_h": n * embodied_g_per_accelerator_h,
    }
    shape = np.broadcast_shapes(*(np.shape(v) for v in out.values()))
    out = {k: np.broadcast_to(np.asarray(v, dtype=float), shape) for k, v in out.items()}
    out["accelerators"] = np.broadcast_to(n, shape)
    return out


_EXP = np.frompyfunc(math.exp, 1, 1)


def _exp(x):
    """libm ``exp`` elementwise (the kernel's ``math.exp``; NumPy's SIMD exp may differ in the
    last bit)."""
    return np.asarray(_EXP(np.asarray(x, dtype=float)), dtype=float)


def decode_step_s(batch, weight_read_s, log_unused_share, per_seq_s):
    """Decode step time of an instance at ``batch`` concurrent streams (s)."""
    return weight_read_s * (1.0 - _exp(batch * log_unused_share)) + batch * per_seq_s


def weight_stream_s(batch, p):
    """Weight-stream time of one decode step of the instance at ``batch`` (s): each of the
    ``replicas`` data-parallel ranks streams the weights its ``batch / replicas`` sequences
    need (all of a dense model's, the experts they touch of an MoE's) at the instance's
    bandwidth, so r ranks cost r times one rank at B / r. One replica: the weight term of
    :func:`decode_step_s`."""
    r = p["replicas"]
    return r * p["weight_read_s"] * (1.0 - _exp(batch / r * p["log_unused_share"]))


def per_sequence_s(context_tokens, p):
    """Per-sequence work of one decode step at a mean context (s): the linear layers'
    FLOPs, the KV-cache reads and attention FLOPs over the context, and the recurrent
    state."""
    ctx = np.asarray(context_tokens, dtype=float)
    return (p["seq_compute_s"] + (p["seq_kv_s_per_token"] + p["seq_attn_s_per_token"]) * ctx
            + p["seq_state_s"])


def decode_energy_per_token_j(batch, context_tokens, p):
    """Accelerator energy per output token at ``batch`` and mean context (J/token), from the
    parameters ``p`` of :func:`serving_parameters` (a lab configuration: no speed needed)."""
    b = per_sequence_s(context_tokens, p)
    return (p["power_low_w"] * weight_stream_s(batch, p) / batch + p["power_high_w"] * b) \
        / p["spec_tokens"]


def batch_cap(input_tokens, output_tokens, p):
    """The largest running batch (requests): the scheduler's cap ``max_batch`` or as many
    full contexts (inputs + outputs) as the KV cache holds, at least 1."""
    cap = p["kv_capacity_tokens"] / (input_tokens + output_tokens)
    cap = np.where(cap > p["max_batch"], p["max_batch"], cap)
    return np.where(cap < 1.0, 1.0, cap)


def bench_energy_per_token_j(batch, input_tokens, output_tokens, p):
    """Accelerator energy (J) and instance time (s) per output token of a bench that keeps
    ``batch`` requests running and divides all GPU energy by output tokens: decode at the
    mean context (inputs + half the outputs, :func:`decode_energy_per_token_j`) plus the
    prefill of ``input_tokens`` per request spread over its ``output_tokens`` (the linear
    layers' FLOPs per input token, and the full-attention layers' attention FLOPs over the
    causal mean of half the input before it)."""
    t_in = np.asarray(input_tokens, dtype=float)
    per_out = t_in / np.asarray(output_tokens, dtype=float)
    ctx = t_in + 0.5 * np.asarray(output_tokens, dtype=float)
    prefill_s = per_out * (p["prefill_s_per_token"] + p["seq_attn_s_per_token"] * 0.5 * t_in)
    energy = decode_energy_per_token_j(batch, ctx, p) + prefill_s * p["power_high_w"]
    step = weight_stream_s(batch, p) + batch * per_sequence_s(ctx, p)
    return energy, (step / batch) / p["spec_tokens"] + prefill_s


def implied_batch(speed, input_tokens, output_tokens, p):
    """The batch at which the instance's stream speed equals the measured ``speed`` (requests),
    within [1, min(max_batch, KV capacity / context)]; NumPy twin of ``_kernels._batch``."""
    spd = np.asarray(speed, dtype=float)
    t_in = np.broadcast_to(input_tokens, spd.shape)
    t_out = np.broadcast_to(output_tokens, spd.shape)
    b = p["seq_compute_s"] + p["seq_kv_s_per_token"] * (t_in + 0.5 * t_out)
    cap = batch_cap(t_in, t_out, p)
    target = p["spec_tokens"] / spd
    wt, lq = p["weight_read_s"], p["log_unused_share"]
    t1 = wt * (1.0 - _exp(lq)) + b
    tc = wt * (1.0 - _exp(cap * lq)) + cap * b
    # the kernel's branches, in its order (a NaN speed falls through to the last one)
    first = t1 >= target
    second = ~first & (tc <= target)
    dense = np.isneginf(lq)
    rest = ~first & ~second
    batch = np.where(first, 1.0, cap)
    d = rest & dense  # dense: the step time is linear in the batch
    batch[d] = (target[d] - wt[d]) / b[d]
    moe = rest & ~dense
    wm, lm, pm, tm = wt[moe], lq[moe], b[moe], target[moe]
    bm = np.ones(wm.shape)
    act = np.ones(wm.shape, bool)  # still iterating (the kernel's per-element loop)
    for _ in range(NEWTON_STEPS):
        i = np.flatnonzero(act)
        if i.size == 0:
            break
        e = _exp(bm[i] * lm[i])
        g = wm[i] * (1.0 - e) + bm[i] * pm[i] - tm[i]
        step = g / (pm[i] - wm[i] * lm[i] * e)
        bm[i] = bm[i] - step
        act[i[np.abs(step) <= NEWTON_TOL * bm[i]]] = False
    batch[moe] = bm
    return batch, b


def serving_query_energy(speed, input_tokens, output_tokens, p):
    """Energy of one query by boundary (Wh), its batch and embodied carbon: NumPy twin of
    ``_kernels._serve_query``. ``p`` holds :data:`SERVE_KEYS` arrays broadcastable with
    ``speed`` (tokens/s). Returns (accelerator Wh, host Wh, idle Wh, batch, embodied g CO2e:
    the instance's amortised manufacturing rate over the query's instance-time)."""
    batch, b = implied_batch(speed, input_tokens, output_tokens, p)
    t_in = np.broadcast_to(input_tokens, batch.shape)
    steps = np.broadcast_to(output_tokens, batch.shape) / p["spec_tokens"]
    w = p["weight_read_s"] * (1.0 - _exp(batch * p["log_unused_share"]))
    gap = p["spec_tokens"] / np.asarray(speed, dtype=float) - (w + batch * b)
    w = w + np.where(gap < 0.0, 0.0, gap)  # measured step slower than physics at the cap
    acc = steps * (p["power_low_w"] * w / batch + p["power_high_w"] * b) \
        + t_in * p["prefill_s_per_token"] * p["power_high_w"]
    tau = steps * (w / batch + b) + t_in * p["prefill_s_per_token"]
    acc_wh = acc / SECONDS_PER_HOUR
    host_wh = p["host_power_w"] * tau / SECONDS_PER_HOUR
    embodied = tau / SECONDS_PER_HOUR * p["embodied_g_per_instance_h"]
    return acc_wh, host_wh, (acc_wh + host_wh) * p["idle_fraction"], batch, embodied
