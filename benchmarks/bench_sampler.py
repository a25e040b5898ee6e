"""Sampler benchmarks: mcfoot's sampler vs a per-row NumPy implementation of the same method
and vs the NumPy random-number floor; scaling of in-memory and streaming runs.

Memory is measured with ``tracemalloc`` (NumPy reports its array buffers to it), as the peak
of traced allocations during the call above what was allocated before; "outputs" is the
``nbytes`` of the arrays of the result (footprint and inputs groups).
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np
from scipy import special

import mcfoot
from mcfoot import footprint as fp
from mcfoot.priors import HOST_QUANTITIES
from mcfoot.simulate import _group_values, _power_kw, _row_chol, build_plan, \
    draw_normals
from mcfoot import rng as mrng


def timed(fn, repeat=1):
    """Best of ``repeat`` wall times. The previous result is freed before each run: on this
    VM the first touch of never-used memory costs ~1.7 s/GB (the hypervisor populating guest
    pages; a second allocation of the same size then costs ~0.1 s/GB), so without freeing,
    every repetition would time page population instead of the code."""
    best, out = np.inf, None
    for _ in range(repeat):
        out = None
        gc.collect()
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def peak_bytes(fn):
    """Peak traced allocation (bytes) of ``fn()`` above the allocations alive before it."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    tracemalloc.reset_peak()
    out = fn()
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    return peak, out


def tree_bytes(tree) -> int:
    return sum(tree[g][v].nbytes for g in ("footprint", "inputs") for v in tree[g].data_vars)


def per_row_numpy(scenario: str, draws: int, seed: int = 0) -> dict:
    """The method written the straightforward way: a loop over catalogue rows, each
    vectorised over draws (own generator per row; same distributions, not the same numbers)."""
    plan = build_plan(scenario)
    gen = np.random.default_rng(seed)
    ss = mrng.normalize_seed(seed)
    normals = draw_normals(plan, ss, 0, 1)  # group-level values: a few draws
    normals.group = {k: gen.standard_normal(draws) for k in normals.group}
    values = _group_values(plan, normals, draws)
    power = _power_kw(plan, values)
    chol = _row_chol(plan)
    host = {q: values[q] for q in HOST_QUANTITIES}
    # the same outputs as simulate(): sampled latency and speed, energy per utilization
    # bound and combined, carbon, site, source and total water
    keys = ("latency", "speed", "energy", "carbon", "water_site", "water_source", "water")
    out = {k: np.full((plan.n_slots, draws), np.nan) for k in keys}
    out["energy_variants"] = np.full((power.shape[1], plan.n_slots, draws), np.nan)
    for r in np.flatnonzero(plan.present):
        z = gen.standard_normal((2, draws))
        u1 = special.ndtr(chol[0, 0] * z[0])
        u2 = special.ndtr(chol[1, 0] * z[0] + chol[1, 1] * z[1])
        lat = np.interp(u1, plan.probs, plan.lat_q[r])
        spd = np.interp(u2, plan.probs, plan.spd_q[r])
        hours = fp.query_hours(lat, plan.out_tokens[r], spd)
        h, c = plan.slot_host[r], plan.slot_combo[r]
        pue = host["pue"][h]
        for v in range(power.shape[1]):
            out["energy_variants"][v, r] = fp.facility_energy_wh(
                fp.it_energy_wh(hours, power[c, v]), pue)
        energy = out["energy_variants"][:, r].mean(axis=0)
        out["latency"][r], out["speed"][r], out["energy"][r] = lat, spd, energy
        out["carbon"][r] = fp.carbon_g(energy, host["cif"][h])
        out["water_site"][r] = fp.water_site_ml(energy / pue, host["wue_site"][h])
        out["water_source"][r] = fp.water_source_ml(energy, host["wue_source"][h])
        out["water"][r] = out["water_site"][r] + out["water_source"][r]
    return out


def sampler_rows(draws: int = 100_000, scenario: str = "paper") -> list[tuple]:
    """(label, seconds, peak MB, note) rows of the sampler comparison."""
    n_rows = int(build_plan(scenario).present.sum())
    mcfoot.simulate(scenario, 100, seed=0)  # compile / load the numba cache
    t_mc, tree = timed(lambda: mcfoot.simulate(scenario, draws, seed=0), repeat=3)
    out_mb = tree_bytes(tree) / 1e6
    del tree
    t_np, _ = timed(lambda: per_row_numpy(scenario, draws), repeat=3)
    n_normals = 2 * n_rows * draws
    t_rng, _ = timed(lambda: np.random.default_rng(0).standard_normal(n_normals), repeat=3)
    peak, tree = peak_bytes(lambda: mcfoot.simulate(scenario, draws, seed=0))
    del tree
    return [("n_rows", n_rows), ("t_mcfoot", t_mc), ("t_numpy_rows", t_np), ("t_rng", t_rng),
            ("peak_mb", peak / 1e6), ("out_mb", out_mb)]


def scaling_rows(sizes=(10**3, 10**4, 10**5, 10**6), scenario: str = "paper",
                 in_memory_max: int = 10**5, chunk: int | None = None) -> list[tuple]:
    """(draws, mode, seconds, peak MB) for in-memory simulate() and streaming stream()."""
    from mcfoot.stream import STREAM_CHUNK, stream

    chunk = chunk or STREAM_CHUNK
    rows = []
    for n in sizes:
        if n <= in_memory_max:
            t0 = time.perf_counter()
            peak, tree = peak_bytes(lambda: mcfoot.simulate(scenario, n, seed=0))
            rows.append((n, "in-memory", time.perf_counter() - t0, peak / 1e6))
            del tree
        else:
            rows.append((n, "in-memory", np.nan, np.nan))
        t0 = time.perf_counter()
        peak, _ = peak_bytes(lambda: stream(scenario, n, seed=0, chunk_draws=chunk,
                                            progress=False))
        rows.append((n, f"streaming ({chunk:,}/chunk)", time.perf_counter() - t0, peak / 1e6))
    return rows
