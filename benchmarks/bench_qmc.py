"""Randomized quasi-Monte Carlo vs plain Monte Carlo at equal points.

For each scenario, ``reps`` independent runs of each method with the same number of points
(different seeds) give, per catalogue row, the variance across runs of each estimate; the
table reports the ratio var(MC) / var(RQMC) over rows (median, 10th percentile, worst):

* the mean, 5th and 95th percentiles of ``energy_wh``;
* a claim probability: ``P(energy_wh > t)`` with ``t`` the row's median (a 50 % claim,
  the hardest case for an indicator);
* a rank probability: DEA ``P(rank = k)`` of a subset of models (entries whose probability is
  between 5 % and 95 %), at fewer points (one DEA per draw);

then "points needed to reach an MCSE of 0.1 % of the mean" per row: plain MC
``var / (0.001 mean)^2``; RQMC extrapolated from its variance at ``points`` and ``points/4``
(rate ``var ~ N^-a`` fitted per row, ``a >= 1``); and the time cost of making the design
(Sobol' normals vs PCG64 normals for the same draws, and the whole ``simulate``).
"""

from __future__ import annotations

import time
import warnings

import numpy as np

import mcfoot
from mcfoot import rng
from mcfoot.simulate import build_plan, design_columns, draw_normals

RANK_MODELS = ["gpt-4o-mar", "o3", "claude-3-7-sonnet", "gpt-4-1-nano", "gpt-4-1", "o4-mini-high",
               "gpt-4o-mini", "claude-4-sonnet", "deepseek-r1-deepseek-128k", "llama-4-maverick"]


def _estimates(tree) -> dict[str, np.ndarray]:
    e = tree["footprint"]["energy_wh"].transpose("draw", "model", "prompt").values
    e = e.reshape(len(e), -1)
    e = e[:, np.isfinite(e).all(axis=0)]
    q = np.quantile(e, [0.05, 0.5, 0.95], axis=0)
    return {"mean": e.mean(axis=0), "p5": q[0], "p95": q[2], "var": e.var(axis=0, ddof=1),
            "sample": e}


def _runs(scenario, points, reps, sampling, replicates=None, models=None):
    sc, cat = mcfoot.load_scenario(scenario), mcfoot.load_catalogue()
    out = []
    for seed in range(reps):
        tree = mcfoot.simulate(sc, points, seed=1000 + seed, models=models, catalogue=cat,
                               sampling=sampling, replicates=replicates, progress=False)
        out.append(tree)
    return out


def _ratio_stats(v_mc: np.ndarray, v_q: np.ndarray) -> tuple[float, float, float]:
    with np.errstate(invalid="ignore", divide="ignore"):
        r = v_mc / v_q
    r = r[np.isfinite(r)]
    return float(np.median(r)), float(np.percentile(r, 10)), float(r.min())


def variance_rows(scenario: str, points: int = 4096, reps: int = 12,
                  replicates: int = rng.DEFAULT_REPLICATES) -> dict:
    """Per-row variance ratios (see module doc) for one scenario."""
    est = {}
    for kind in ("mc", "sobol"):
        trees = _runs(scenario, points, reps, kind, replicates if kind == "sobol" else None)
        est[kind] = [_estimates(t) for t in trees]
        del trees
    med = np.median(np.concatenate([e["sample"] for e in est["mc"]]), axis=0)
    res = {}
    for stat in ("mean", "p5", "p95"):
        v = {k: np.var(np.stack([e[stat] for e in est[k]]), axis=0, ddof=1) for k in est}
        res[stat] = _ratio_stats(v["mc"], v["sobol"])
    p = {k: np.stack([(e["sample"] > med).mean(axis=0) for e in est[k]]) for k in est}
    res["claim P(X > median)"] = _ratio_stats(p["mc"].var(0, ddof=1), p["sobol"].var(0, ddof=1))
    res["_var_sobol"] = np.var(np.stack([e["mean"] for e in est["sobol"]]), axis=0, ddof=1)
    res["_var_mc_mean"] = np.var(np.stack([e["mean"] for e in est["mc"]]), axis=0, ddof=1)
    res["_var_x"] = np.mean([e["var"] for e in est["mc"]], axis=0)
    res["_mean"] = np.mean([e["mean"] for e in est["mc"]], axis=0)
    res["n_rows"] = len(med)
    return res


def layout_row(scenario: str, res: dict, points: int, reps: int, replicates: int):
    """var(MC) / var(RQMC) of the mean per row with another replicate layout at the same
    points (the MC runs of ``res``)."""
    v = np.var(np.stack([_estimates(t)["mean"] for t in _runs(scenario, points, reps, "sobol",
                                                               replicates)]), axis=0, ddof=1)
    return _ratio_stats(res["_var_mc_mean"], v)


def rank_row(scenario: str, points: int = 512, reps: int = 8) -> tuple[float, float, float]:
    """Variance ratio of DEA rank probabilities over (model, rank) entries in (5 %, 95 %)."""
    P = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # models without an index are named
        for kind in ("mc", "sobol"):
            P[kind] = np.stack([mcfoot.rank(t)["rank_probability"].values for t in
                                _runs(scenario, points, reps, kind, models=RANK_MODELS)])
    ref = P["mc"].mean(axis=0)
    keep = (ref > 0.05) & (ref < 0.95)
    if not keep.any():
        return (np.nan, np.nan, np.nan)
    return _ratio_stats(P["mc"].var(0, ddof=1)[keep], P["sobol"].var(0, ddof=1)[keep])


def points_needed(scenario: str, res: dict, points: int, reps: int,
                  replicates: int = rng.DEFAULT_REPLICATES, target: float = 1e-3):
    """Median over rows of the points needed for an MCSE of ``target`` x the mean (MC, RQMC)."""
    small = [_estimates(t)["mean"] for t in _runs(scenario, points // 4, reps, "sobol",
                                                 replicates)]
    v_small = np.var(np.stack(small), axis=0, ddof=1)
    goal = (target * res["_mean"]) ** 2
    n_mc = res["_var_x"] / goal
    with np.errstate(invalid="ignore", divide="ignore"):
        a = np.maximum(np.log(v_small / res["_var_sobol"]) / np.log(4.0), 1.0)
        n_q = points * (res["_var_sobol"] / goal) ** (1 / a)
    ok = np.isfinite(n_mc) & np.isfinite(n_q) & (res["_var_sobol"] > 0)
    return float(np.median(n_mc[ok])), float(np.median(n_q[ok])), float(np.median(a[ok]))


def design_cost(scenario: str = "default", points: int = 65_536, repeat: int = 3):
    """(s for PCG64 normals, s for Sobol' normals, s simulate mc, s simulate sobol)."""
    plan = build_plan(scenario)
    ss = rng.normalize_seed(0)
    design = rng.make_design("sobol", points)

    def best(fn):
        t = np.inf
        for _ in range(repeat):
            t0 = time.perf_counter()
            fn()
            t = min(t, time.perf_counter() - t0)
        return t

    t_mc = best(lambda: draw_normals(plan, ss, 0, points))
    t_q = best(lambda: draw_normals(plan, ss, 0, points, design=design))
    sc = mcfoot.load_scenario(scenario)
    s_mc = best(lambda: mcfoot.simulate(sc, points, seed=0, progress=False))
    s_q = best(lambda: mcfoot.simulate(sc, points, seed=0, sampling="sobol", progress=False))
    return t_mc, t_q, s_mc, s_q, len(design_columns(plan))


def main(points: int = 4096, reps: int = 12, rank_points: int = 512, cost_points: int = 65_536,
         scenarios=("paper", "default"), layouts=(4,)) -> None:
    print(f"\nRQMC (sampling='sobol', {rng.DEFAULT_REPLICATES} scrambles) vs MC at {points:,} "
          f"points, {reps} independent runs each: var(MC) / var(RQMC) per row "
          "(median / 10th pct / worst)")
    print(f"{'scenario':<9}{'statistic':<26}{'median':>10}{'p10':>10}{'worst':>10}")
    for sc in scenarios:
        res = variance_rows(sc, points, reps)
        for stat in ("mean", "p5", "p95", "claim P(X > median)"):
            m, p10, w = res[stat]
            print(f"{sc:<9}{stat:<26}{m:>9.1f}x{p10:>9.1f}x{w:>9.2f}x")
        for r in layouts:
            m, p10, w = layout_row(sc, res, points, reps, r)
            label = f"mean, {r} x {points // r:,}"
            print(f"{sc:<9}{label:<26}{m:>9.1f}x{p10:>9.1f}x{w:>9.2f}x")
        m, p10, w = rank_row(sc, rank_points, max(4, reps // 2))
        print(f"{sc:<9}{f'rank P(rank=k) @{rank_points}':<26}{m:>9.1f}x{p10:>9.1f}x{w:>9.2f}x")
        n_mc, n_q, a = points_needed(sc, res, points, reps)
        print(f"{sc:<9}{'points for MCSE 0.1% mean':<26} MC {n_mc:,.0f}, RQMC {n_q:,.0f} "
              f"({n_mc / n_q:,.0f}x fewer; fitted var ~ N^-{a:.2f}; {res['n_rows']} rows, "
              "medians)")
    t_mc, t_q, s_mc, s_q, d = design_cost("default", cost_points)
    print(f"design cost ('default', {cost_points:,} draws, {d} dimensions): normals PCG64 "
          f"{t_mc:.2f} s, Sobol' {t_q:.2f} s ({t_q / t_mc:.2f}x); simulate mc {s_mc:.2f} s, "
          f"sobol {s_q:.2f} s ({s_q / s_mc:.2f}x)")


if __name__ == "__main__":
    main()
