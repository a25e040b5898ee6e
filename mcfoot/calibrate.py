"""Learn from measurements: condition a scenario's shared inputs on published figures.

:func:`calibrate` returns a DataTree in ArviZ's conventions (groups ``prior``,
``posterior``, ``log_likelihood``, ``observed_data``, ``sample_stats``, the calibrated
scenario in ``calibration`` and, optionally, the posterior footprints ``footprint``,
``inputs``, ``catalogue`` of every catalogue row); :func:`calibrated_scenario` turns it into
a scenario that ``simulate`` (and everything built on it) accepts, and the file it is
written to is accepted as ``scenario="posterior.nc"``. :func:`loo` checks the calibration
out of sample.

**Measurement model** (constants in ``mcfoot/data/measurement.toml``). An entry ``e``
publishes ``y_e`` for a variable (or a sum of variables: e.g. operational plus embodied
carbon) at its own boundary, for one catalogue model, a weighted mix of models, or a lab
configuration, and a statistic (mean or median over queries). In each draw ``i`` of the
scenario's shared inputs ``theta_i`` (hardware power, serving regime, host factors, model
sizes: every group-level input; one draw = one state of the world):

- the *prediction* ``mu_e(theta_i)`` is that statistic of the footprint over queries:
  the footprint of each model of the entry is evaluated at ``query_points`` fixed points of
  the latency/speed normals (query-level randomness, integrated out by a lattice rule, the
  same points for every draw) and reduced by the mean or median; a mix is the mixture of
  its models' query distributions (weighted mean, weighted median of the pooled points);
- token counts the source states are used as they are; a token count the source does not
  state is one unknown per entry (a discrete prior in the evidence file, drawn per draw
  from the stream ``evidence/ID/output_tokens`` or ``.../input_tokens``): what a source
  calls its "typical" query is one number we do not know, not a spread of queries, so it
  is calibrated jointly with the shared inputs. Entries of one disclosure (same id prefix)
  about the same models with the same token prior share it (Google's four figures are
  about one median prompt);
- ``log y_e = log mu_e(theta_i) + delta_s + beta + eps_e`` (:mod:`mcfoot.discrepancy`,
  constants in ``measurement.toml [discrepancy]``): a source effect ``delta_s`` shared by
  the source's figures (scale ``tau_src``), a boundary term ``beta`` (scale ``tau_b`` per
  boundary class; shipped: one per class, shared by its figures whatever their source;
  ``boundary_effect = "per_figure"``: one per figure) and the figure's own error (sd
  ``max(stated log-sd, residual floor)``), one Student-t scale mixture per group of figures
  linked by a source or a shared class: a group's figures are jointly multivariate t
  (closed form), groups independent given ``theta`` and the scales. The scales are
  parameters with priors, on named streams, calibrated with ``theta``. With
  ``discrepancy=None`` the figures are independent lognormals of sd ``max(stated, [error]
  floor_log_sd)``.
- Entries that share data with the scenario's priors (:func:`mcfoot.audit.dependent_entries`)
  are left out unless ``keep_dependent``; the root attrs ``left_out`` say which and why.

A provider's figure informs another provider's estimate through inputs both use (the
scenario's scopes are the sharing structure) and, with the shipped shared boundary effects,
through the boundary classes both report in (and the discrepancy scales). Hardware-class
inputs (accelerator power, power-vs-batch and efficiency relations in ``serving``; the
attributed share per size class and hardware in ``default``) are a regime shared by every
provider on that hardware; host inputs (PUE, WUE, grid) and model inputs (parameter
counts, hardware choice) are each provider's own deviations from it. :func:`loo` measures
how far each entry moves each headline model's interval; :func:`mcfoot.loso.loso` refits
without each source and scores its figures out of sample (ELPD, coverage, width, against
the prior).

**Inference** (``tempering.py``): importance weights on prior draws with Pareto smoothing
(PSIS), or, when those are degenerate (k̂ above threshold, ESS below ``min_ess``), adaptive
tempering with pCN rejuvenation moves through the same sampler; a run that cannot reach a
trustworthy posterior raises :class:`~mcfoot.errors.CalibrationError`.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from . import _arviz, audit, discrepancy as disc, provenance, rng, tempering
from ._validate import check_draws
from .errors import CalibrationError, InputError
# loo and the measurement model live in their own modules; their public names stay
# importable from here (``mcfoot.calibrate.loo``, ``.Observation``, ``.Likelihood``, ...)
from .loo import headline_energy, loo, weighted_quantile  # noqa: F401
from .observation import (FLOOR, LAB_PREDICTORS, NOT_CALIBRATED,  # noqa: F401
                          NOT_CALIBRATED_REASON, SETTINGS, Likelihood, Observation,
                          _discrete_index, query_points, shipped_observations)
from .plan import SCOPE_DIM
from .posterior import Posterior, attach
from .priors import (QUANTITIES, Scenario, calibrated_from_tree, load_calibrated,
                     load_scenario, shipped_scenarios)
from .simulate import Normals, _group_values, simulate

CONFLICT_TAIL = float(SETTINGS["conflict"]["tail_probability"])
#: Largest |z| the normal -> uniform -> inverse-CDF map resolves: Phi(8.3) rounds to 1 in
#: double precision (numerical fact, not an assumption).
Z_EDGE = 8.0


# ---- the public function -------------------------------------------------------------------

def calibrate(scenario: str | Path | Scenario = "serving", evidence=None, *,
              draws: int = 20_000, min_ess: int | None = None, seed=0, exclude=(),
              method: str = "auto", catalogue=None, footprint: bool = True,
              chunk_draws: int = 8_192, backend: str = "numba",
              allow_conflict: bool = False, sampling: str = "mc",
              replicates: int | None = None, keep_dependent: bool = False,
              discrepancy="shipped") -> xr.DataTree:
    """Condition ``scenario``'s shared inputs on published figures.

    Parameters
    ----------
    scenario : scenario name, TOML path or Scenario (default ``"serving"``).
    evidence : evidence file(s) (default: the shipped ones), or a list of
        :class:`Observation`.
    draws : prior draws (importance sampling) or particles (tempering); also the number of
        equal-weight posterior draws returned.
    min_ess : effective sample size asked for, below ``draws`` (default
        :func:`mcfoot.tempering.default_min_ess`: 2,000, or half the draws if less); below
        it (or with Pareto k̂ above its threshold) importance sampling is judged degenerate.
    seed : ``int | SeedSequence | Generator | None`` (recorded).
    exclude : evidence ids left out.
    method : ``"auto"`` (importance sampling, tempering if degenerate), ``"importance"``
        (refuse if degenerate) or ``"tempering"``.
    footprint : add the posterior footprints of every catalogue row (``simulate`` of the
        calibrated scenario, ``draws`` draws, same seed).
    chunk_draws : draws per evaluation chunk (results do not depend on it).
    allow_conflict : go on when an entry is in prior-data conflict (its figure beyond the
        ``measurement.toml`` tail probability of the prior predictive); refused otherwise.
    sampling, replicates : how the prior draws are made (:func:`mcfoot.rng.make_design`):
        ``"mc"`` or ``"sobol"`` (``replicates`` scrambles of a Sobol' sequence over the
        particle streams, group-level inputs first; ``draws`` must be replicates x a power
        of two). The design supplies importance sampling's proposals and tempering's
        initial particles only: self-normalized importance sampling over scrambled Sobol'
        points is consistent (and usually less noisy), but resampling and the tempering
        moves are pseudo-random, so the posterior draws, and the ``footprint`` groups
        simulated from them, are plain Monte Carlo (root attrs ``sampling="mc"``; their
        MCSE uses iid formulas, which for importance sampling hold with n replaced by the
        ESS). The prior design is recorded in the ``prior`` group's attrs (``sampling``,
        ``sampling_replicates``, ...) and as ``prior_sampling*`` in the root attrs; k̂ and
        the ESS are computed as for independent draws (for RQMC proposals the ESS is a
        conservative measure).
    keep_dependent : keep the evidence entries that share data with the scenario's priors
        (:func:`mcfoot.audit.dependent_entries`); by default they are left out, and the
        root attrs ``left_out`` say which and why (as do shipped entries left out by
        ``measurement.toml`` and, on the shipped evidence, lab entries the scenario cannot
        predict; a lab entry of a file you give that it cannot predict is an error).
    discrepancy : the measurement model (:mod:`mcfoot.discrepancy`): ``"shipped"``
        (``measurement.toml [discrepancy]``: source and boundary effects with learned
        scales, Student-t), a TOML path with a ``[discrepancy]`` table, or ``None``
        (independent lognormal errors, sd max(stated, ``[error] floor_log_sd``)).

    Returns
    -------
    DataTree (ArviZ conventions, ``chain`` of size 1): ``prior`` and ``posterior`` (the
    calibrated inputs' values and the discrepancy scales, ``discrepancy__*``; posterior
    equal-weight draws), ``log_likelihood`` (``published`` over ``entry``: each figure given
    its source's other figures; ``published_by_source`` over ``source``: each source's
    figures jointly, what ``az.loo(..., var_name="published_by_source")`` leaves out) and
    ``observed_data`` (variable ``published`` over ``entry``), ``prior_predictive`` /
    ``posterior_predictive`` (``predicted``: each entry's prediction), ``sample_stats``
    (tempering steps), ``calibration`` (the calibrated scenario: weighted normals) and, with
    ``footprint``, the groups of :func:`mcfoot.simulate`. Raises CalibrationError when no
    trustworthy posterior can be returned.
    """
    draws, chunk = check_draws(draws, chunk_draws)
    min_ess = tempering.check_min_ess(min_ess, draws)  # before any work
    design = rng.make_design(sampling, draws, replicates)
    ss = rng.normalize_seed(seed)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if sc.posterior is not None:
        raise InputError(f"scenario '{sc.name}' is already calibrated; calibrate its base "
                         f"scenario on all the evidence at once")
    obs, left_out = select_observations(sc, evidence, exclude, catalogue, keep_dependent,
                                        discrepancy)
    lik = Likelihood(sc, obs, catalogue, backend, discrepancy)
    z0 = rng.design_normals(ss, design, lik.streams, 0, draws)
    mu0 = tempering.evaluate(lik.predict, z0, chunk)
    pit0 = pit(lik, mu0, z0, np.full(draws, -math.log(draws)))
    bad = [f"{o.id} (prior predictive tail probability {min(p, 1 - p):.1e}, figure "
           f"{'above' if p > 0.5 else 'below'} the prior)" for o, p in
           zip(lik.obs, pit0) if min(p, 1 - p) < CONFLICT_TAIL]
    if bad and not allow_conflict:
        raise CalibrationError(
            f"prior-data conflict: scenario '{sc.name}' cannot produce "
            f"{'; '.join(bad)}: fix the prior or the entry's boundary, or leave it out "
            f"(exclude=...); allow_conflict=True goes on anyway")
    fit = tempering.fit(lik, z0, ss, min_ess=min_ess, method=method, chunk=chunk)
    far = np.abs(fit.z[:, fit.log_weights > -np.inf]).max(axis=1) > Z_EDGE
    if far.any():
        raise CalibrationError(
            f"the posterior reaches beyond {Z_EDGE:g} prior standard deviations in "
            f"{', '.join(np.asarray(lik.streams)[far][:4])}: the prior's inverse CDF cannot "
            f"represent it (the evidence contradicts the prior); fix the prior or the evidence")
    return _tree(sc, lik, fit, z0, mu0, pit0, ss, draws, footprint, catalogue, backend,
                 method, design, left_out)


def pit(lik: Likelihood, mu: np.ndarray, z: np.ndarray, log_weights: np.ndarray
        ) -> np.ndarray:
    """Probability integral transform of each published figure under its predictive given
    nothing (a fresh source and boundary effect, :meth:`Likelihood.predictive`) over
    weighted draws: (entries,)."""
    w = np.exp(log_weights - special.logsumexp(log_weights))
    loc, scale, nu = lik.predictive(mu, z, given="nothing")
    with np.errstate(divide="ignore", invalid="ignore"):
        x = (np.log(lik.y)[:, None] - loc) / scale
    x = np.nan_to_num(x, nan=-np.inf)
    return np.stack([disc.t_cdf(x[e], nu[e]) for e in range(len(x))]) @ w


def select_observations(sc: Scenario, evidence, exclude=(), catalogue=None,
                        keep_dependent: bool = False, discrepancy="shipped"
                        ) -> tuple[list, dict]:
    """The observations a calibration of ``sc`` uses, and those it leaves out with why
    ({id: reason}): the ``exclude``d ones; ``measurement.toml``'s ``not_calibrated`` and the
    lab entries ``sc`` cannot predict (shipped evidence only: in a file you give, such an
    entry is an error, raised by :class:`Likelihood`); and, unless ``keep_dependent``, the
    entries that share data with ``sc``'s priors or with the constants of the measurement
    model ``discrepancy`` (:func:`mcfoot.audit.dependent_entries`)."""
    left: dict[str, str] = {}
    if evidence is not None and not isinstance(evidence, (str, Path)) and all(
            isinstance(o, Observation) for o in evidence):
        obs = list(evidence)
        ids = {o.id for o in obs}
        bad = [x for x in exclude if x not in ids]
        if bad:
            raise InputError(f"exclude names unknown evidence id(s) {', '.join(bad)}")
        obs = [o for o in obs if o.id not in set(exclude)]
    else:
        obs = shipped_observations(evidence, exclude, catalogue)
        if evidence is None:
            left |= {i: NOT_CALIBRATED_REASON.removeprefix(f"{i}: ") for i in NOT_CALIBRATED}
            if sc.attribution not in LAB_PREDICTORS:
                left |= {o.id: f"a lab configuration, which scenario '{sc.name}' (attribution "
                         f"'{sc.attribution}') cannot predict" for o in obs if o.lab is not None}
    left |= {x: "excluded (exclude=...)" for x in exclude}
    if not keep_dependent:
        left |= {i: f"shares data with {', '.join(p)} (mcfoot priors "
                 f"audit): no independent check; keep_dependent=True keeps it"
                 for i, p in audit.dependent_entries(sc, obs,
                                                     discrepancy=discrepancy).items()}
    return [o for o in obs if o.id not in left], left


def _values(lik: Likelihood, z: np.ndarray) -> xr.Dataset:
    """The calibrated inputs' values at normals ``z`` (streams, n), one variable per
    quantity over its scope's keys, plus each entry's unknown token counts."""
    n = z.shape[1]
    ds = xr.Dataset(coords={"draw": np.arange(n)})
    vals = {}
    if lik.rows:
        normals = Normals({s: z[lik.col[s]] for s in lik.group}, np.zeros((0, n)),
                          np.zeros((0, n)))
        vals = _group_values(lik.plan, normals, n)
    for s in lik.streams:  # the lab entries' own inputs (bench hardware), by stream
        q, *key = s.split("/")
        prior = lik.scenario.priors.get(q, {}).get(tuple(key)) if q != "evidence" else None
        if s not in lik.group and prior is not None:
            ds[s.replace("/", "__")] = ("draw", prior.value_at(z[lik.col[s]]),
                                        {"units": prior.unit, "long_name":
                                         f"{QUANTITIES[q].long_name} ({'/'.join(key)})"})
    for q, arr in vals.items():
        pri = [p for p in lik.plan.priors[q] if not p.dist.is_fixed]
        if not pri:
            continue
        meta = QUANTITIES[q]
        dim = SCOPE_DIM.get(meta.scope, meta.scope)
        keep = [j for j, p in enumerate(lik.plan.priors[q]) if not p.dist.is_fixed]
        keys = [lik.plan.keys[meta.scope][j] for j in keep]
        labels = ["/".join(k) if isinstance(k, tuple) else str(k) for k in keys]
        ds[q] = xr.DataArray(arr[keep].T, dims=("draw", f"{dim}_{q}"),
                             coords={f"{dim}_{q}": labels},
                             attrs={"units": meta.unit, "long_name": meta.long_name})
    tau, tb = lik.disc.scales({s: z[lik.col[s]] for s in lik.disc_streams})
    for name, v in ([("discrepancy__source_scale", tau)] if lik.disc.source_scale else []) \
            + [(f"discrepancy__boundary_scale__{c}", x) for c, x in tb.items()]:
        ds[name] = ("draw", np.asarray(v), {"units": "1 (log)", "long_name": (
            "source-effect scale tau_src" if name.endswith("source_scale") else
            f"boundary scale tau_b ({name.rsplit('__', 1)[1]})") + " of the discrepancy model"})
    for e, o in enumerate(lik.rows):
        for name, d, axis in lik.layout.nuisance[e]:
            vals_ = np.asarray(d.params["values"], float)[_discrete_index(d, z[lik.col[name]])]
            ds[name.replace("/", "__")] = ("draw", vals_, {
                "units": "tokens", "long_name": f"{name.split('/')[-1].replace('_', ' ')} "
                f"of evidence entry {o.id}"})
    return ds


def _tree(sc, lik, fit, z0, mu_prior, pit0, ss, draws, footprint, catalogue, backend, method,
          design, left_out):
    entries = [o.id for o in lik.obs]
    # equal-weight posterior draws: systematic resampling (tempering's are equal already)
    u0 = float(special.ndtr(rng.standard_normals(ss, "calibrate/posterior", 0, 1))[0])
    idx = np.arange(draws) if fit.method == "tempering" else \
        tempering.systematic(fit.log_weights, u0)
    zpost = fit.z[:, idx]
    with np.errstate(invalid="ignore", over="ignore"):
        mu_fit = mu_prior if fit.method == "importance" else \
            tempering.evaluate(lik.predict, fit.z, 8192)
    mu_post = mu_fit[:, idx]
    with np.errstate(invalid="ignore"):
        ll_entry = lik.entry_log_lik(mu_fit, fit.z)  # given the source's other figures
        ll_source = lik.source_loo_log_lik(mu_fit, fit.z)  # given the other sources'
    tau2, var, shared = lik.variances(fit.z)
    ll_post = ll_entry[:, idx]
    ecoord = {"entry": entries}
    scoord = {"source": lik.sources}
    units = [o.unit for o in lik.obs]

    def per_entry(arr, name, long_name):
        return xr.Dataset({name: (("draw", "entry"), arr.T, {"long_name": long_name})},
                          coords={"draw": np.arange(arr.shape[1]), **ecoord,
                                  "unit": ("entry", units)})

    post = Posterior(tuple(lik.streams), fit.z.T, fit.log_weights)
    prior_design = design.record(ss, len(lik.streams))  # the prior draws' design
    run = provenance.run_attrs(lik.plan, ss, draws=draws, backend=backend)
    diag = {"method": fit.method, "method_asked": method, "khat": fit.khat, "ess": fit.ess,
            "khat_threshold": fit.khat_max, "prior_khat": fit.prior_khat,
            "prior_ess": fit.prior_ess, "tempering_steps": len(fit.stages),
            "evidence": ";".join(entries), "measurement_floor_log_sd": FLOOR,
            "discrepancy": lik.disc.file, "discrepancy_nu": lik.disc.nu,
            "discrepancy_boundary_effect": lik.disc.boundary_effect,
            "residual_floor_log_sd": lik.disc.residual_floor,
            "left_out": "; ".join(f"{k}: {v}" for k, v in left_out.items()),
            "query_points": lik.q.shape[1],
            **{f"prior_{k}": v for k, v in prior_design.items()},
            "max_correlation": max((st["correlation"] for st in fit.stages), default=0.0),
            "mixing": tempering.mixing(fit.stages)}
    calib = xr.Dataset(
        {"z": (("draw", "stream"), fit.z.T, {"long_name": "standard normals of the shared "
                                                          "inputs (posterior draws)"}),
         "log_weight": ("draw", fit.log_weights, {"units": "1", "long_name":
                                                  "normalized log weight of the draw"}),
         "log_likelihood": (("draw", "entry"), ll_entry.T, {"long_name":
                            "log-likelihood of each figure given the rest of its group"}),
         "log_likelihood_source": (("draw", "source"), fit.log_lik.T, {"long_name":
                                   "log-likelihood of each source's figures given the sources "
                                   "before it (rows sum to the joint)"}),
         "log_likelihood_source_loo": (("draw", "source"), ll_source.T, {"long_name":
                                       "log-likelihood of each source's figures given the "
                                       "other sources' (leave-one-source-out)"}),
         "source_scale_sq": ("draw", np.array(tau2), {"units": "1", "long_name":
                             "squared source-effect scale tau_src^2 (log)"}),
         "figure_variance": (("draw", "entry"), var.T, {"units": "1", "long_name":
                             "each figure's own variance sigma_e^2, plus tau_b^2 when the "
                             "boundary effect is drawn per figure (log)"}),
         "shared_boundary_scale_sq": (("draw", "shared_boundary"), np.stack(
             list(shared.values()), axis=1) if shared else np.zeros((draws, 0)),
             {"units": "1", "long_name": "squared scale tau_b^2 of each boundary effect "
                                         "shared by its class's figures (log)"}),
         "predicted": (("draw", "entry"), mu_fit.T,
                       {"long_name": "predicted statistic of each entry (entry's unit)"})},
        coords={"draw": np.arange(draws), "stream": list(lik.streams), **ecoord, **scoord,
                "unit": ("entry", units), "entry_source": ("entry", [lik.sources[i] for i in
                                                                      lik.source_index]),
                "boundary": ("entry", lik.boundary), "shared_boundary": list(shared)},
        attrs={"base_scenario": sc.files[0] if sc.meta.get("name") is None else
               (sc.name if _is_shipped(sc) else sc.files[0]),
               "base_scenario_hash": sc.hash, "posterior_hash": post.hash,
               "scenario_name": f"{sc.name}+calibrated", **diag})
    obs_ds = xr.Dataset({"published": ("entry", lik.y, {"long_name": "published figure"}),
                         "log_sd": ("entry", lik.sigma, {"units": "1", "long_name":
                                    "log-sd of the figure's own error (before the source "
                                    "and boundary terms)"}),
                         "prior_pit": ("entry", pit0, {"units": "1", "long_name":
                                       "prior predictive percentile of the figure"})},
                        coords={**ecoord, "unit": ("entry", units)})
    stats = xr.Dataset({("step_size" if k == "step" else k):
                        ("stage", np.array([s[k] for s in fit.stages], float))
                        for k in ("beta", "ess", "khat", "moves", "acceptance", "step",
                                  "inputs", "moved", "correlation")} if fit.stages else {},
                       coords={"stage": np.arange(len(fit.stages))})
    groups = {
        "/": xr.Dataset(attrs=provenance.stamp("calibration", run, **diag)),
        "prior": _values(lik, z0).assign_attrs(prior_design),
        "posterior": _values(lik, zpost),
        "prior_predictive": per_entry(mu_prior, "predicted", "predicted statistic"),
        "posterior_predictive": per_entry(mu_post, "predicted", "predicted statistic"),
        "log_likelihood": per_entry(ll_post, "published", "log-likelihood of the figure "
                                    "given the other figures of its group").assign(
            published_by_source=(("draw", "source"), ll_source[:, idx].T,
                                 {"long_name": "log-likelihood of the source's figures "
                                               "given the other sources'"})
        ).assign_coords(scoord),
        "observed_data": obs_ds,
        "calibration": calib,
    }
    if fit.stages:
        groups["tempering"] = stats
    for k in ("prior", "posterior", "prior_predictive", "posterior_predictive",
              "log_likelihood"):
        groups[k] = _chain(groups[k])
    if footprint:
        calibrated = attach(sc, post)
        t = simulate(calibrated, draws=draws, seed=ss, catalogue=catalogue, backend=backend,
                     progress=False)
        for k in ("footprint", "inputs", "catalogue"):
            groups[k] = t[k].to_dataset()
    return xr.DataTree.from_dict(groups)


def _is_shipped(sc) -> bool:
    return sc.name in shipped_scenarios() and Path(sc.files[0]).parent.name in (
        "_priors", "priors")


def _chain(ds: xr.Dataset) -> xr.Dataset:
    return ds.expand_dims(chain=[0]).transpose("chain", "draw", ...)


def calibrated_scenario(result: xr.DataTree | str | Path) -> Scenario:
    """The calibrated scenario of a :func:`calibrate` result (or of its file)."""
    if isinstance(result, (str, Path)):
        return load_calibrated(result)
    return calibrated_from_tree(result)


def inference_data(result: xr.DataTree):
    """The ArviZ groups of a :func:`calibrate` result as ArviZ's own object (InferenceData
    under arviz 0.x, DataTree under 1.x): ``az.loo``, ``az.summary``, ``az.plot_dist`` take
    it."""
    names = ("prior", "posterior", "prior_predictive", "posterior_predictive",
             "log_likelihood", "observed_data")
    return _arviz.to_inference_data({k: result[k].to_dataset() for k in names
                                     if k in result.children})


def to_inference_data(tree: xr.DataTree, group: str | None = None):
    """ArviZ's object for a result: a :func:`calibrate` result's ArviZ groups, or a plain
    :func:`mcfoot.simulate` result's ``footprint`` and ``inputs`` variables as one sample
    group (``group``: default ``"prior"``, the scenario's prior predictive distribution; a
    calibrated scenario's run is a posterior: pass ``group="posterior"``)."""
    if "log_likelihood" in tree.children:
        return inference_data(tree)
    fp_ = tree["footprint"].to_dataset()
    inp = tree["inputs"].to_dataset()
    ds = xr.merge([fp_, inp[[v for v in inp.data_vars if v not in fp_]]],
                  combine_attrs="drop_conflicts", compat="override")
    return _arviz.to_inference_data({group or "prior": ds})





