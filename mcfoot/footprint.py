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
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["attributed_power_kw", "carbon_g", "empirical_ppf", "facility_energy_wh",
           "footprint_reference", "it_energy_wh", "it_from_facility_wh", "normal_cdf",
           "physical_shares", "query_hours", "SECONDS_PER_HOUR", "water_site_ml",
           "water_source_ml", "WH_PER_KWH"]

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
                        wue_source, cif, cif_market):
    """Plain NumPy twin of ``_kernels._footprint``: the test oracle.

    Shapes: ``z_lat``, ``z_spd`` (R, D) independent standard normals per catalogue row;
    ``chol`` (2, 2) Cholesky factor of the latency/speed copula; ``lat_q``, ``spd_q`` (R, Q);
    ``acc_kw``, ``host_kw``, ``idle_kw`` (C, V, D) attributed power by boundary per combo and
    utilization variant (V = 1, or 2 for the study's min/max band), ``embodied_rate``
    (C, V, D) g CO2e per hour of node time; host factors (H, D).
    Returns a dict of (R, D) arrays: latency, speed, ``energy_variants`` (V, R, D) and one
    per kernel key of the variable registry (``variables.kernel_keys()``).
    """
    y1 = chol[0, 0] * z_lat
    y2 = chol[1, 0] * z_lat + chol[1, 1] * z_spd
    u1, u2 = normal_cdf(y1), normal_cdf(y2)
    lat = np.stack([empirical_ppf(u1[r], probs, lat_q[r]) for r in range(len(lat_q))])
    spd = np.stack([empirical_ppf(u2[r], probs, spd_q[r]) for r in range(len(spd_q))])
    hours = query_hours(lat, out_tokens[:, None], spd)[None]
    pue_r = pue[row_host]

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
            "water_site": ws, "water_source": wsrc, "water": ws + wsrc}
