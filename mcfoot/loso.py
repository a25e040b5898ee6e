"""Leave-one-source-out: does a calibration generalise to a provider it never saw?

:func:`loso` calibrates the scenario without each source in turn (an exact refit: with three
providers that is three calibrations, better than an importance approximation whose k̂ is
high) and scores the held-out source's figures under that calibration's predictive, which
draws a *fresh* source effect from the learned scale and, with boundary effects shared
across sources, conditions them on the other sources' figures (:mod:`mcfoot.discrepancy`).
Side by side for the calibrated model and the uncalibrated prior (the same measurement
model, its inputs and scales at their priors, its figures' prior predictive):

- expected log predictive density of each source's figures jointly, summed, with its
  standard error (``sqrt(n var)`` over sources, as ArviZ computes it) and the difference
  calibrated - prior with its standard error (az.compare's ``dse``);
- coverage: the share of held-out figures inside the central ``prob`` predictive interval;
- width: each figure's predictive P95/P5 (for ``prob = 0.9``), median over figures.

The PSIS approximation of the same leave-one-source-out from the full calibration
(``az.loo`` through :mod:`mcfoot._arviz`) is reported beside it with its k̂: where k̂ is
above the threshold the approximation is flagged unreliable, and the exact refit is what the
verdict uses.
"""

from __future__ import annotations

import numpy as np
import xarray as xr
from scipy import special

from . import _arviz, discrepancy as disc, rng, tempering
from .calibrate import calibrate, inference_data, select_observations
from .errors import InputError
from .loo import weighted_quantile
from .observation import Likelihood
from .priors import Scenario, load_scenario

__all__ = ["loso"]

MODELS = ("calibrated", "prior")


def loso(scenario: str | Scenario = "serving", evidence=None, *, draws: int = 4_000,
         min_ess: int = 1_000, seed=0, prob: float = 0.9, exclude=(),
         keep_dependent: bool = False, discrepancy="shipped", method: str = "auto",
         allow_conflict: bool = False, catalogue=None, full: xr.DataTree | None = None
         ) -> xr.Dataset:
    """Leave-one-source-out check of calibrating ``scenario`` (see the module docstring).

    Returns a Dataset over ``entry`` (each held-out figure: its source, published value,
    and per ``model`` (calibrated, prior) the predictive median, lower and upper ``prob``
    bounds, width ratio, PIT and whether it is inside) and ``source`` (per model the
    ELPD of its figures; the PSIS-LOO ELPD and k̂ from the full calibration; the refit's
    method, k̂ and ESS). Totals in the attrs: ``elpd_<model>``, ``elpd_se_<model>``,
    ``elpd_diff``/``elpd_diff_se`` (calibrated - prior), ``coverage_<model>``,
    ``median_width_<model>``, ``psis_unreliable`` (sources whose k̂ is too high), and what
    the calibration left out (``left_out``). ``full``: the calibration on all the evidence
    if already made (same scenario, evidence, draws and seed), else it is made here."""
    if not 0 < prob < 1:
        raise InputError(f"prob must be in (0, 1), got {prob}")
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    ss = rng.normalize_seed(seed)
    obs, left_out = select_observations(sc, evidence, exclude, catalogue, keep_dependent,
                                        discrepancy)
    lik = Likelihood(sc, obs, catalogue, discrepancy=discrepancy)
    if len(lik.sources) < 2:
        raise InputError(f"leave-one-source-out needs evidence from two sources or more; "
                         f"got {', '.join(lik.sources)}")
    kw = dict(draws=draws, min_ess=min_ess, seed=ss, footprint=False, method=method,
              allow_conflict=allow_conflict, keep_dependent=True, discrepancy=lik.disc,
              catalogue=catalogue)
    if full is None:
        full = calibrate(sc, obs, **kw)
    elif full.attrs.get("evidence") != ";".join(o.id for o in lik.obs) or \
            int(full.attrs["draws"]) != draws:
        raise InputError("full: a calibration on other evidence or draws than this check's")
    z0 = lik.normals(ss, draws)  # the prior draws calibrate starts from (seed ss)
    with np.errstate(invalid="ignore", over="ignore"):
        mu0 = tempering.evaluate(lik.predict, z0, 8192)
    flat = np.full(draws, -np.log(draws))
    scores = {m: {} for m in MODELS}
    refits = {}
    for s, members in zip(lik.sources, lik.members):
        held = {lik.obs[i].id for i in members}
        keep = [o for o in obs if o.id not in held]
        fit = calibrate(sc, keep, **kw)
        cal = fit["calibration"].to_dataset()
        z = z0.copy()  # streams the refit did not calibrate: their prior draws
        for j, name in enumerate(map(str, cal["stream"].values)):
            z[lik.col[name]] = cal["z"].values[:, j]
        with np.errstate(invalid="ignore", over="ignore"):
            mu = tempering.evaluate(lik.predict, z, 8192)
        refits[s] = fit.attrs
        scores["calibrated"][s] = _score(lik, mu, z, cal["log_weight"].values, members, prob,
                                         given=True)
        scores["prior"][s] = _score(lik, mu0, z0, flat, members, prob, given=False)
    psis = _arviz.loo(inference_data(full), "published_by_source")
    return _dataset(lik, scores, refits, psis, full.attrs, left_out, prob, sc.name)


def _score(lik: Likelihood, mu, z, log_weights, members, prob: float, given: bool) -> dict:
    """The held-out source's ELPD under weighted draws, and each of its figures' predictive
    quantiles and PIT (a fresh source effect: the source was not seen), ``given`` the other
    sources' figures (which inform a shared boundary effect; the calibrated model) or not
    (the prior predictive)."""
    s = int(lik.source_index[members[0]])
    lw = log_weights - special.logsumexp(log_weights)
    with np.errstate(invalid="ignore"):
        ll = lik.source_loo_log_lik(mu, z, given)[s]
    elpd = float(special.logsumexp(lw + ll))
    loc, scale, nu = lik.predictive(mu, z, "other sources" if given else "nothing")
    nu = nu[members]  # one conditioning set for the source: one dof
    loc, scale = loc[members], scale[members]  # (entries of s, n)
    ok = np.isfinite(loc).all(axis=0)
    w = np.where(ok, np.exp(lw), 0.0)
    w = w / w.sum()
    a = (1 - prob) / 2
    q = disc.mixture_quantiles(loc[:, ok], scale[:, ok], float(nu[0]), w[ok], [a, 0.5, 1 - a])
    x = (np.log(lik.y[members])[:, None] - loc[:, ok]) / scale[:, ok]
    pit = disc.t_cdf(x, float(nu[0])) @ w[ok]
    with np.errstate(divide="ignore"):  # the prediction alone, without the discrepancy
        qm = weighted_quantile(mu[members][:, ok], np.log(w[ok]), [a, 1 - a])
    return {"elpd": elpd, "q": np.exp(q), "pit": pit, "width_mu": qm[:, 1] / qm[:, 0]}


def _dataset(lik, scores, refits, psis, full_attrs, left_out, prob, scenario) -> xr.Dataset:
    entries = [o.id for o in lik.obs]
    order = [i for m in lik.members for i in m]  # entries grouped by source
    a = (1 - prob) / 2
    ds = xr.Dataset(coords={"entry": [entries[i] for i in order], "source": lik.sources,
                            "model": list(MODELS)})
    ds["entry_source"] = ("entry", [lik.sources[lik.source_index[i]] for i in order])
    ds["published"] = ("entry", lik.y[order])
    ds["unit"] = ("entry", [lik.obs[i].unit for i in order])
    for name, k in (("lower", 0), ("median", 1), ("upper", 2)):
        ds[name] = (("model", "entry"), np.array([np.concatenate(
            [scores[m][s]["q"][:, k] for s in lik.sources]) for m in MODELS]))
    ds["lower"].attrs["long_name"] = f"{a:.0%} predictive quantile"
    ds["upper"].attrs["long_name"] = f"{1 - a:.0%} predictive quantile"
    ds["width"] = ds["upper"] / ds["lower"]
    ds["width"].attrs = {"units": "1", "long_name": f"predictive P{100 * (1 - a):g}/P{100 * a:g}"}
    ds["width_prediction"] = (("model", "entry"), np.array([np.concatenate(
        [scores[m][s]["width_mu"] for s in lik.sources]) for m in MODELS]),
        {"units": "1", "long_name": "P95/P5 of the prediction mu alone (no discrepancy)"})
    ds["pit"] = (("model", "entry"), np.array([np.concatenate(
        [scores[m][s]["pit"] for s in lik.sources]) for m in MODELS]))
    ds["inside"] = (ds["pit"] >= a) & (ds["pit"] <= 1 - a)
    ds["elpd"] = (("model", "source"), np.array([[scores[m][s]["elpd"] for s in lik.sources]
                                                 for m in MODELS]))
    ds["elpd"].attrs["long_name"] = ("log predictive density of the held-out source's "
                                     "figures jointly (exact refit without it)")
    ds["elpd_psis"] = ("source", psis[2])
    ds["khat_psis"] = ("source", psis[3])
    kmax = _arviz.khat_threshold(int(full_attrs["draws"]))
    ds["psis_reliable"] = ds["khat_psis"] <= kmax
    for k in ("method", "khat", "ess"):
        ds[f"refit_{k}"] = ("source", [refits[s][k] for s in lik.sources])
    attrs = {"scenario": scenario, "prob": prob, "khat_threshold": kmax,
             "left_out": "; ".join(f"{k}: {v}" for k, v in left_out.items()),
             "evidence": ";".join(entries), "discrepancy": lik.disc.file,
             "boundary_effect": lik.disc.boundary_effect,
             "draws": int(full_attrs["draws"]), "seed_entropy": full_attrs["seed_entropy"],
             "elpd_psis": psis[0], "elpd_psis_se": psis[1],
             "psis_unreliable": ";".join(s for s, ok in zip(lik.sources,
                                                             ds["psis_reliable"].values)
                                         if not ok)}
    ds.attrs = attrs | _totals(ds)
    return ds


def _totals(ds: xr.Dataset) -> dict:
    """Per model: summed ELPD and its SE, coverage, figures inside, median widths; and
    the calibrated - prior ELPD difference with its SE."""
    attrs = {}
    for i, m in enumerate(MODELS):
        pw = ds["elpd"].values[i]
        attrs |= {f"elpd_{m}": float(pw.sum()), f"elpd_se_{m}": _arviz.elpd_se(pw),
                  f"coverage_{m}": float(ds["inside"].values[i].mean()),
                  f"inside_{m}": int(ds["inside"].values[i].sum()),
                  f"median_width_{m}": float(np.median(ds["width"].values[i])),
                  f"median_width_prediction_{m}":
                      float(np.median(ds["width_prediction"].values[i]))}
    attrs["elpd_diff"], attrs["elpd_diff_se"] = _arviz.elpd_difference(*ds["elpd"].values)
    return attrs


def table(ds: xr.Dataset) -> str:
    """The printed leave-one-source-out report: each held-out figure's interval under the
    calibrated model and the prior, each source's ELPD, then the totals."""
    a = ds.attrs
    p = 100 * (1 - a["prob"]) / 2
    lines = [f"leave-one-source-out, scenario {a['scenario']} ({a['draws']} draws; exact refit "
             f"without each source; {a['prob']:.0%} predictive intervals with a fresh source "
             f"effect; boundary effect {a['boundary_effect'].replace('_', ' ')})",
             f"{'figure':46s} {'published':>9s}  {f'calibrated [P{p:g}, P{100 - p:g}]':>24s} "
             f"in  {'prior':>24s} in"]
    for e in map(str, ds.entry.values):
        r = ds.sel(entry=e)
        cells = []
        for m in MODELS:
            x = r.sel(model=m)
            cells.append(f"{float(x['median']):8.3g} [{float(x['lower']):.3g}, "
                         f"{float(x['upper']):.3g}]".rjust(24)
                         + f" {'yes' if bool(x['inside']) else 'NO ':>3s}")
        lines.append(f"{e[:46]:46s} {float(r['published']):9.4g}  {cells[0]}  {cells[1]}")
    lines += ["", f"{'held-out source':16s} {'ELPD calibrated':>15s} {'ELPD prior':>10s} "
              f"{'inside':>9s} {'P95/P5':>15s} {'PSIS-LOO (k̂)':>16s}  refit (k̂, ESS)",
              f"{'':16s} {'':15s} {'':10s} {'cal/prior':>9s} {'cal/prior':>15s}"]
    for s in map(str, ds.source.values):
        r = ds.sel(source=s)
        mark = "" if bool(r["psis_reliable"]) else " !"
        fig = ds.sel(entry=ds.entry_source == s)
        inside = "/".join(str(int(fig["inside"].sel(model=m).sum())) for m in MODELS)
        width = "/".join(f"{float(fig['width'].sel(model=m).median()):.3g}" for m in MODELS)
        lines.append(f"{s:16s} {float(r['elpd'].sel(model='calibrated')):15.2f} "
                     f"{float(r['elpd'].sel(model='prior')):10.2f} "
                     f"{inside + ' of ' + str(fig.sizes['entry']):>9s} {width:>15s} "
                     f"{float(r['elpd_psis']):8.2f} ({float(r['khat_psis']):.2f}){mark:2s} "
                     f" {str(r['refit_method'].values)} ({float(r['refit_khat']):.2f}, "
                     f"{float(r['refit_ess']):.0f})")
    n = ds.sizes["entry"]
    lines += [f"{'total':16s} {a['elpd_calibrated']:8.2f} ± {a['elpd_se_calibrated']:4.2f} "
              f"{a['elpd_prior']:6.2f} ± {a['elpd_se_prior']:.2f}   calibrated - prior "
              f"{a['elpd_diff']:+.2f} ± {a['elpd_diff_se']:.2f}",
              f"inside the {a['prob']:.0%} interval: calibrated {a['inside_calibrated']} of {n}, "
              f"prior {a['inside_prior']} of {n}; median P{100 - p:g}/P{p:g}: calibrated "
              f"{a['median_width_calibrated']:.1f}x, prior {a['median_width_prior']:.1f}x "
              f"(the prediction alone, without the discrepancy: calibrated "
              f"{a['median_width_prediction_calibrated']:.1f}x, prior "
              f"{a['median_width_prediction_prior']:.1f}x)"]
    if a["psis_unreliable"]:
        lines.append(f"! PSIS-LOO k̂ above {a['khat_threshold']:.2f} for "
                     f"{a['psis_unreliable'].replace(';', ', ')}: the importance "
                     f"approximation is unreliable there; the exact refits decide")
    if a["left_out"]:
        lines.append(f"left out of the calibration: {a['left_out']}")
    return "\n".join(lines)
