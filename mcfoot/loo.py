"""Leave-one-out: how a calibration does out of sample, by reweighting its draws.

:func:`loo` holds out each evidence entry (or each source's entries) in turn: PSIS weights
of a :func:`mcfoot.calibrate` result's draws without it, the held-out figure's PIT in its
leave-one-out posterior predictive, and how far the held-out group narrows and moves the
headline models' energy per query (:func:`headline_energy`).
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special

from . import _arviz, discrepancy as disc, tempering, variables as V
from .errors import InputError
from .observation import SETTINGS, VARIABLE_KEYS, source_of
from .plan import build_plan
from .posterior import GROUP
from .priors import load_scenario
from .simulate import draw_normals, evaluate

__all__ = ["headline_energy", "loo", "weighted_quantile"]


def _groups(entries: list[str], by: str) -> dict[str, list[str]]:
    """Held-out groups: each entry, or each source (the id's first word: one disclosure's
    figures share its method, so leaving one out while keeping its siblings is optimistic)."""
    if by == "entry":
        return {e: [e] for e in entries}
    if by == "source":
        out: dict[str, list[str]] = {}
        for e in entries:
            out.setdefault(source_of(e), []).append(e)
        return out
    raise InputError(f"by must be 'entry' or 'source', got {by!r}")


def _held_log_lik(cal_ds: xr.Dataset, held: list[str]) -> np.ndarray:
    """Log-likelihood (D,) of the held-out entries given the others: one source given
    the other sources' figures (``log_likelihood_source_loo``), whole sources jointly
    (``log_likelihood_source``, per-figure boundary effects only: sources independent), or
    one entry given the other figures of its group (``log_likelihood``)."""
    src = dict(zip(map(str, cal_ds["entry"].values), map(str, cal_ds["entry_source"].values)))
    sources = sorted({src[e] for e in held})
    members = {e for e, s in src.items() if s in sources}
    if members == set(held) and len(sources) == 1:  # given the other sources'
        return cal_ds["log_likelihood_source_loo"].sel(source=sources[0]).values
    if members == set(held) and cal_ds.attrs.get("discrepancy_boundary_effect") != "shared":
        return cal_ds["log_likelihood_source"].sel(source=sources).values.sum(axis=1)
    if len(held) == 1:
        return cal_ds["log_likelihood"].sel(entry=held[0]).values
    raise InputError(f"hold out one entry, one source or (with per-figure boundary effects) "
                     f"whole sources, got {', '.join(held)}")


def _loo_log_weights(cal_ds: xr.Dataset, held: list[str]) -> tuple[np.ndarray, float]:
    """PSIS log weights of the calibration's draws without the entries ``held``, and k̂.

    Importance sampling: the draws are prior draws, weighted by the likelihood of the other
    entries. Tempering: the draws are posterior draws, weighted by 1 / likelihood of the
    held-out entries (PSIS-LOO, Vehtari, Gelman & Gabry 2017)."""
    ll = _held_log_lik(cal_ds, held)
    if cal_ds.attrs["method"] == "importance":
        raw = cal_ds["log_likelihood_source"].values.sum(axis=1) - ll
    else:
        raw = -ll
    lw, k, _ = tempering.importance(raw)
    return lw, k


def _predictive(cal_ds: xr.Dataset, obs: xr.Dataset, given: str):
    """Each figure's log predictive over the calibration's draws (location, scale (E, D),
    dof (E,)), ``given`` what (:func:`mcfoot.discrepancy.predictive`)."""
    mu = cal_ds["predicted"].values.T  # (E, D)
    with np.errstate(divide="ignore", invalid="ignore"):
        logmu = np.log(mu)
    r = np.log(obs["published"].values)[:, None] - logmu
    src = [str(x) for x in cal_ds["entry_source"].values]
    index = np.array([list(dict.fromkeys(src)).index(x) for x in src])
    classes = [str(c) for c in cal_ds["boundary"].values]
    sq = cal_ds["shared_boundary_scale_sq"]
    shared = {str(c): sq.sel(shared_boundary=c).values for c in sq["shared_boundary"].values}
    cov = disc.covariance(cal_ds["source_scale_sq"].values, cal_ds["figure_variance"].values.T,
                          index, classes, shared)
    groups = disc.groups(index, [c if c in shared else "" for c in classes], bool(shared))
    return disc.predictive(logmu, r, cov, float(cal_ds.attrs["discrepancy_nu"]), groups,
                           index, given)


def weighted_quantile(x: np.ndarray, log_weights: np.ndarray, q) -> np.ndarray:
    """Inverted-CDF quantiles ``q`` of ``x`` (..., D) under normalized weights (D,)."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    order = np.argsort(x, axis=-1, kind="stable")
    xs = np.take_along_axis(x, order, axis=-1)
    cw = np.cumsum(w[order], axis=-1)
    q = np.atleast_1d(q)
    idx = np.stack([np.argmax(cw >= qq - 1e-12, axis=-1) for qq in q], axis=-1)
    return np.take_along_axis(xs, idx, axis=-1)


def headline_energy(result: xr.DataTree, models=None, prompts=None,
                    variable: str = "energy_wh", catalogue=None
                    ) -> tuple[xr.DataArray, np.ndarray]:
    """``variable`` of the headline models (``measurement.toml [headline]``) in every draw
    of the calibration group (its shared inputs; query-level randomness and streams the
    evidence did not involve from the prior, as ``simulate`` draws them), and the draws'
    log weights."""
    cal_ds = result[GROUP].to_dataset()
    models = list(SETTINGS["headline"]["models"] if models is None else models)
    prompts = list(SETTINGS["headline"]["prompts"] if prompts is None else prompts)
    base = load_scenario(cal_ds.attrs["base_scenario"])
    plan = build_plan(base, catalogue, models, prompts)
    ss = np.random.SeedSequence(int(result.attrs["seed_entropy"]))
    d = cal_ds.sizes["draw"]
    normals = draw_normals(plan, ss, 0, d)
    streams = [str(s) for s in cal_ds["stream"].values]
    z = cal_ds["z"].values
    for j, s in enumerate(streams):
        if s in normals.group:
            normals.group[s] = z[:, j].copy()
    res, _ = evaluate(plan, normals)
    x = res[VARIABLE_KEYS[variable]].reshape(len(plan.models), len(plan.prompts), d)
    da = xr.DataArray(x, dims=("model", "prompt", "draw"),
                      coords={"model": list(plan.models), "prompt": list(plan.prompts)},
                      attrs={"units": V.FOOTPRINT[variable].units})
    return da, cal_ds["log_weight"].values


def loo(result: xr.DataTree, *, by: str = "entry", prob: float = 0.9, models=None,
        prompts=None, catalogue=None) -> xr.Dataset:
    """Leave-one-out check of a :func:`mcfoot.calibrate` result, by reweighting its draws.

    For each held-out group (an entry, or with ``by="source"`` all entries of one source):
    PSIS weights without it (k̂ reported: above ``khat_threshold`` the reweighting is not
    reliable and the row says so), the PIT of each held-out figure in its leave-one-out
    posterior predictive (:mod:`mcfoot.discrepancy`: a held-out source's figures with a
    fresh source effect, given the other sources' figures; a held-out entry given its
    group's other figures), whether it falls in the central 50 % and 90 % intervals, and
    how much the group narrows the headline models' ``prob`` intervals of energy per query:
    ``1 - log width(all evidence) / log width(without the group)`` (widths as ratios upper
    / lower; ``models``/``prompts`` default to the headline ones), and how far it moves
    their medians, ``median_shift = log(median with / without the group)``: with ``by="source"`` this is how far one provider's figures move another provider's
    estimate (zero where the two share no input: the posterior there is the prior).
    Coverage over all held-out figures is in the attrs (``coverage_50``, ``coverage_90``).
    """
    cal_ds = result[GROUP].to_dataset()
    obs = result["observed_data"].to_dataset()
    entries = [str(e) for e in obs["entry"].values]
    groups = _groups(entries, by)
    mu = cal_ds["predicted"].values  # (D, E)
    y = obs["published"].values
    # the held-out figure's predictive: a fresh source effect when its source is held out
    loc, scale, nu = _predictive(cal_ds, obs, "others" if by == "entry" else "other sources")
    energy, lw_all = headline_energy(result, models, prompts, catalogue=catalogue)
    a = (1 - prob) / 2
    full = weighted_quantile(energy.values, lw_all, [a, 0.5, 1 - a])
    width_full = full[..., 2] / full[..., 0]
    rows = []
    for g, held in groups.items():
        lw, k = _loo_log_weights(cal_ds, held)
        w = np.exp(lw)
        q = weighted_quantile(energy.values, lw, [a, 0.5, 1 - a])
        narrowing = 1 - np.log(width_full) / np.log(q[..., 2] / q[..., 0])
        shift = np.log(full[..., 1] / q[..., 1])
        for e in held:
            j = entries.index(e)
            with np.errstate(divide="ignore", invalid="ignore"):
                r = (np.log(y[j]) - loc[j]) / scale[j]
            p = float(disc.t_cdf(np.nan_to_num(r, nan=-np.inf), nu[j]) @ w)
            med = float(weighted_quantile(mu[:, j], lw, [0.5])[0])
            rows.append({"entry": e, "group": g, "pit": p, "khat": k,
                         "reliable": bool(k <= _arviz.khat_threshold(len(w))),
                         "in_50": bool(0.25 <= p <= 0.75), "in_90": bool(0.05 <= p <= 0.95),
                         "loo_median": med, "published": float(y[j]),
                         "narrowing": narrowing, "shift": shift})
    return _loo_dataset(rows, energy, obs, prob, by, result.attrs.get("scenario", ""))


def _loo_dataset(rows: list[dict], energy: xr.DataArray, obs: xr.Dataset, prob: float,
                 by: str, scenario: str) -> xr.Dataset:
    """The Dataset :func:`loo` returns from its rows (one per held-out entry): the per-entry
    checks over ``entry``, the narrowing and median shift over (entry, model, prompt) of the
    headline ``energy``, and the coverage over all entries in the attrs."""
    ds = xr.Dataset(coords={"entry": [r["entry"] for r in rows], "model": energy.model.values,
                            "prompt": energy.prompt.values})
    for key in ("group", "pit", "khat", "reliable", "in_50", "in_90", "loo_median",
                "published"):
        ds[key] = ("entry", np.array([r[key] for r in rows]))
    ds["narrowing"] = (("entry", "model", "prompt"), np.stack([r["narrowing"] for r in rows]),
                       {"units": "1", "long_name": f"1 - log width of the {prob:.0%} energy "
                        "interval with all evidence / without the held-out group"})
    ds["median_shift"] = (("entry", "model", "prompt"), np.stack([r["shift"] for r in rows]),
                   {"units": "1", "long_name": "log(median energy with all evidence / median "
                    "without the held-out group): how far the group moves each headline "
                    "model's estimate"})
    ds["pit"].attrs = {"units": "1", "long_name": "PIT of the held-out figure"}
    ds["loo_median"].attrs = {"long_name": "leave-one-out posterior predictive median",
                              "units_per_entry": ";".join(map(str, obs["unit"].values))}
    ds.attrs = {"by": by, "coverage_50": float(ds["in_50"].mean()),
                "coverage_90": float(ds["in_90"].mean()), "ci_prob": prob,
                "scenario": scenario}
    return ds
