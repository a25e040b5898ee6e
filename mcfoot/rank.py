"""Eco-efficiency rank probabilities: DEA cross-efficiency in every Monte Carlo draw.

The study (Jegham et al. 2025, arXiv 2505.09598, section 4.5) ranks models by
their mean Doyle-Green cross-efficiency, computed once from point estimates. :func:`rank`
solves the same DEA in every draw of a :func:`mcfoot.simulate` result, so the inputs carry
their uncertainty (and their correlations: a host's PUE draw is shared by all its models),
and reports how often each model lands at each rank.

Layers: small NumPy functions on plain arrays (:func:`min_ranks`, :func:`rank_probabilities`,
:func:`model_scores`), then :func:`rank`, the xarray wrapper. The LPs are solved by
:func:`mcfoot.dea.cross_efficiency`.

Decisions (also in :func:`rank`'s docstring)
--------------------------------------------
* **Ties** get the same, smallest rank ("1224" competition ranking): a model's rank is 1 plus
  the number of models whose score exceeds its own by more than ``tie_tol``. Then the
  columns of ``P(rank = k)`` sum to 1 only if no draw has a tie; the draws with a tie are
  counted in the attr ``tied_draws``. Rows always sum to 1.
* **Missing prompt rows** (a model with no footprint for a prompt size: NaN in every draw)
  when pooling: those DMUs are dropped and the model's score is the mean over the prompt
  sizes it has (a ``UserWarning`` names them; attr ``models_with_missing_prompts``). Such a
  model is scored on fewer, and different, prompts than the others: compare it with care.
* **Models without an output** (NaN, e.g. no intelligence index) are left out, with a
  ``UserWarning``; attr ``excluded_models``.
* **Failed draws** (a DEA LP that could not be solved): with ``on_error="raise"`` (default)
  :class:`mcfoot.dea.DEAError`; with ``on_error="nan"`` the draw's scores and ranks are NaN,
  the variable ``failed`` marks it, the attr ``failed_draws`` counts it, a ``UserWarning``
  says so, and every probability is over the remaining draws (attr ``draws_used``).
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import xarray as xr

from . import mcse as _mcse, provenance, variables
from ._validate import choice, probability
from .dea import DEAError, cross_efficiency
from .errors import InputError

__all__ = ["FOOTPRINT_INPUTS", "INPUT_PRESETS", "POOLED", "Participants", "Ranks",
           "STUDY_INPUTS", "STUDY_OUTPUTS", "TIE_TOL", "has_tie", "min_ranks", "model_scores",
           "participants", "per_prompt_ranks", "pooled_ranks", "rank", "rank_counts",
           "p_top", "rank_mcse", "rank_probabilities"]

#: The study's inputs: per-query energy (combined figure), PUE, WUE site, WUE source, CIF.
STUDY_INPUTS = variables.study_input_names()
#: Our alternative (not the study's): the three headline per-query footprints.
FOOTPRINT_INPUTS = variables.headline_names()
INPUT_PRESETS = {"study": STUDY_INPUTS, "footprint": FOOTPRINT_INPUTS}
POOLED = "pooled"  # how the CLI labels the pooled DEA (one group over all prompt sizes)
#: The study's output: the Artificial Analysis intelligence index (catalogue variable).
STUDY_OUTPUTS = ("intelligence_index",)
#: Scores closer than this tie (cross-efficiency is in (0, 1]); streaming ranks use it too.
TIE_TOL = 1e-9


# ---- array layer ---------------------------------------------------------------------------


def min_ranks(scores: np.ndarray, tie_tol: float = 0.0) -> np.ndarray:
    """Ranks along the last axis, 1 = highest score; ties share the smallest rank.

    ``rank_i = 1 + #{j : scores_j > scores_i + tie_tol}``. NaN scores get rank NaN and do
    not count against the others. Returns float64 (NaN where the score is NaN).
    """
    s = np.asarray(scores, dtype=np.float64)
    above = (s[..., None, :] > s[..., :, None] + tie_tol).sum(axis=-1)
    r = 1.0 + above
    r[np.isnan(s)] = np.nan
    return r


def rank_probabilities(ranks: np.ndarray, n_ranks: int) -> np.ndarray:
    """``P[..., i, k-1] = P(rank_i = k)`` from ranks of shape (draws, ..., n).

    Draws where a unit's rank is NaN are left out of that unit's probabilities; a unit
    with no ranked draw gets NaN.
    """
    r = np.asarray(ranks)
    ok = ~np.isnan(r)
    counts = ok.sum(axis=0)
    ks = np.arange(1, n_ranks + 1)
    hits = (r[..., None] == ks).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = hits / counts[..., None]
    p[counts == 0] = np.nan
    return p


def p_top(P: np.ndarray) -> np.ndarray:
    """``P(rank <= k)`` from ``P(rank = k)`` (last axis); NaN for a unit never ranked."""
    return np.where(np.isnan(P[..., :1]), np.nan, np.cumsum(np.nan_to_num(P), axis=-1))


def rank_mcse(ranks: np.ndarray, n_ranks: int, layout: _mcse.Layout) -> dict[str, np.ndarray]:
    """Monte Carlo standard errors of ``rank_probability``, ``p_top`` and ``expected_rank``
    from ranks (draws, ..., n) of a run with sampling ``layout`` (:func:`mcfoot.mcse.layout`):
    the spread over the replicates of a Sobol' run; binomial and ``sd / sqrt(n)`` errors over
    the ranked draws of a plain Monte Carlo run."""
    if layout.kind == "sobol":
        def stats(r):
            P = rank_probabilities(r, n_ranks)
            return np.concatenate([P, p_top(P), _nanmean0(r)[..., None]], axis=-1)

        err = _mcse.grouped(stats, ranks, layout)
        return {"rank_probability": err[..., :n_ranks], "p_top": err[..., n_ranks:-1],
                "expected_rank": err[..., -1]}
    P = rank_probabilities(ranks, n_ranks)
    n_ok = (~np.isnan(ranks)).sum(axis=0)[..., None]
    return {"rank_probability": _mcse.binomial(P, n_ok), "p_top": _mcse.binomial(p_top(P), n_ok),
            "expected_rank": _mcse.mean_ignoring_nan(ranks, layout)}


def model_scores(dmu_scores: np.ndarray, has: np.ndarray) -> np.ndarray:
    """Mean of (..., model, prompt) DMU scores over the prompts a model has (``has``)."""
    x = np.where(has, dmu_scores, 0.0)
    n = has.sum(axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return x.sum(axis=-1) / n


# ---- xarray layer --------------------------------------------------------------------------


def _variable(tree: xr.DataTree, name: str, kind: str) -> xr.DataArray:
    groups = ("footprint",) if kind == "input" else ("catalogue",)
    for g in groups:
        if g in tree.children and name in tree[g].data_vars:
            return tree[g][name]
    have = sorted(v for g in groups if g in tree.children for v in tree[g].data_vars)
    raise InputError(f"{kind} {name!r} is not a variable of the result's "
                     f"{'/'.join(groups)} group; choose from: {', '.join(have)}")


def _resolve_inputs(inputs) -> tuple[str, ...]:
    if inputs is None:
        return STUDY_INPUTS
    if isinstance(inputs, str):
        if inputs in INPUT_PRESETS:
            return INPUT_PRESETS[inputs]
        inputs = (inputs,)
    inputs = tuple(str(i) for i in inputs)
    if not inputs:
        raise InputError("inputs is empty; give at least one input variable or a preset "
                         f"({', '.join(INPUT_PRESETS)})")
    if len(set(inputs)) != len(inputs):
        raise InputError(f"inputs {inputs} name a variable twice; list each once")
    return inputs


def _gather(tree, inputs, outputs):
    """X (draw, model, prompt, m) and Y (model, prompt, s) as float arrays."""
    fp = tree["footprint"]
    dims = ("draw", "model", "prompt")
    grid = xr.DataArray(np.zeros([fp.sizes[d] for d in dims]), dims=dims,
                        coords={d: fp[d].values for d in dims})
    xs = []
    for name in inputs:
        a = _variable(tree, name, "input")
        if set(a.dims) - set(dims) or "draw" not in a.dims or "model" not in a.dims:
            raise InputError(f"input {name!r} has dims {a.dims}; an input must vary over "
                             "(draw, model[, prompt])")
        xs.append(a.broadcast_like(grid).transpose(*dims).values.astype(np.float64))
    ys = []
    for name in outputs:
        a = _variable(tree, name, "output")
        if "draw" in a.dims or not set(a.dims) <= {"model", "prompt"} or "model" not in a.dims:
            raise InputError(f"output {name!r} has dims {a.dims}; an output must be a "
                             "catalogue variable over model (or model, prompt)")
        try:
            a = a.sel({d: fp[d].values for d in a.dims})
        except KeyError:
            raise InputError(f"output {name!r} does not cover every model/prompt of the "
                             "footprint group; use the catalogue of the same run") from None
        ys.append(a.broadcast_like(grid.isel(draw=0, drop=True))
                  .transpose("model", "prompt").values.astype(np.float64))
    return np.stack(xs, axis=-1), np.stack(ys, axis=-1)


def _check_inputs(X, inputs, models, prompts, rows):
    """InputError for NaN/inf/non-positive values in the DMUs that take part."""
    problems = []
    for j, name in enumerate(inputs):
        x = X[:, rows[0], rows[1], j]  # (draw, dmu)
        bad_nan = ~np.isfinite(x)
        bad_pos = np.isfinite(x) & (x <= 0)
        for bad, what in ((bad_nan, "NaN or infinite"), (bad_pos, "zero or negative")):
            if bad.any():
                d, i = np.argwhere(bad)[0]
                problems.append(
                    f"input {name!r} is {what} in {int(bad.sum())} value(s), first for model "
                    f"{models[rows[0][i]]!r}, prompt {prompts[rows[1][i]]!r}, draw {int(d)} "
                    f"({x[d, i]!r}); DEA needs strictly positive, finite inputs: fix the "
                    "priors/catalogue or choose other inputs")
    if problems:
        raise InputError(problems)


def _dea(X, Y, secondary, include_self, on_error):
    """Cross-efficiency per draw of one DEA: X (draw, n, m), Y (n, s) -> (draw, n)."""
    if X.shape[1] < 2:
        raise InputError(f"only {X.shape[1]} DMU(s) to rank; DEA needs at least 2")
    try:
        return cross_efficiency(X, Y, secondary=secondary, include_self=include_self,
                                on_error=on_error)
    except ValueError as e:  # bad option values from mcfoot.dea
        raise InputError(str(e)) from None


def rank(tree: xr.DataTree, inputs: Sequence[str] | str | None = None,
         outputs: Sequence[str] = STUDY_OUTPUTS, pool_prompts: bool = True,
         secondary: str = "aggressive", *, include_self: bool = True, ci_prob: float = 0.9,
         tie_tol: float = TIE_TOL, on_error: str = "raise") -> xr.Dataset:
    """Eco-efficiency rank probabilities from DEA cross-efficiency in every draw.

    Parameters
    ----------
    tree : a :func:`mcfoot.simulate` result (or :func:`mcfoot.read_tree` of one).
    inputs : variables of the ``footprint`` group, over (draw, model[, prompt]), or a preset:
        ``"study"`` (default; the study's five: ``energy_wh``, ``pue``,
        ``wue_site_l_per_kwh``, ``wue_source_l_per_kwh``, ``cif_kg_per_kwh``, each as drawn
        in each draw) or ``"footprint"`` (``energy_wh``, ``water_ml``, ``carbon_g``; our
        alternative, not the study's).
    outputs : variables of the ``catalogue`` group over model (default: the intelligence
        index). Models with a NaN output are left out, with a ``UserWarning``.
    pool_prompts : True (the study): DMUs are model x prompt size, all scored in one DEA; a
        model's score is the mean over its prompt sizes. False: one DEA per prompt size
        among the models that have it.
    secondary : Doyle-Green secondary goal, ``"aggressive"`` (the study), ``"benevolent"``
        or ``"none"`` (see :func:`mcfoot.dea.cross_efficiency`).
    include_self : average the self-appraisal into the score (the study: True).
    ci_prob : probability of the equal-tailed rank interval (default 0.9: 5th-95th pct).
    tie_tol : scores closer than this (cross-efficiency is in (0, 1]) tie.
    on_error : ``"raise"`` or ``"nan"`` for draws whose DEA fails (see module docstring).

    Returns
    -------
    Dataset over ``draw``, ``model`` (``prompt`` when not pooled), ``k`` (rank position
    1..n) and ``ci_bound`` (lower, upper):

    * ``cross_efficiency`` — a model's score per draw (pooled: mean of its DMUs' scores);
      pooled also ``dmu_cross_efficiency`` over (draw, model, prompt), NaN for non-DMUs.
    * ``rank`` — per draw, 1 = best; ties share the smallest rank; NaN in failed draws.
    * ``rank_probability`` — ``P(rank = k)``; ``p_top`` — ``P(rank <= k)``.
    * ``expected_rank``, ``p_best`` (= ``P(rank = 1)``), ``rank_interval`` (equal-tailed,
      values are ranks taken by some draw: ``inverted_cdf`` quantiles).
    * ``rank_probability_mcse``, ``p_top_mcse``, ``expected_rank_mcse``, ``p_best_mcse`` —
      Monte Carlo standard errors (:func:`rank_mcse`; attr ``mcse_method``).
    * ``point_cross_efficiency``, ``point_rank`` — the same DEA on the mean inputs over
      draws (the study's point-estimate approach).
    * ``failed`` — draws whose DEA failed (only possible with ``on_error="nan"``).
    * pooled only: ``is_dmu`` — which (model, prompt) rows took part as DMUs.

    attrs record the set-up, ``n_dmus``, ``excluded_models``, ``models_with_missing_prompts``,
    ``failed_draws``, ``draws_used``, ``tied_draws`` and the simulation's provenance.
    """
    if not isinstance(tree, xr.DataTree) or "footprint" not in tree.children:
        raise InputError("tree must be a DataTree from mcfoot.simulate() (or read_tree) with "
                         "a 'footprint' group")
    if "catalogue" not in tree.children:
        raise InputError("the result has no 'catalogue' group, so no outputs to rank by; "
                         "use a result of mcfoot.simulate()")
    ci_prob = probability("ci_prob", ci_prob)
    choice("on_error", on_error, ("raise", "nan"))
    if not tie_tol >= 0:
        raise InputError(f"tie_tol must be >= 0, got {tie_tol}")
    part = participants(tree, inputs, outputs, pooled=pool_prompts, warn=True)
    opts = dict(secondary=secondary, include_self=include_self, on_error=on_error,
                tie_tol=tie_tol)
    res = (pooled_ranks if pool_prompts else per_prompt_ranks)(part.X, part.Y, part.has,
                                                                **opts)
    n_draws = part.X.shape[0]
    failed = res.failed
    n_failed = int(np.any(failed, axis=-1).sum()) if failed.ndim == 2 else int(failed.sum())
    if failed.all(axis=0).any():
        raise DEAError("the DEA failed in every draw; nothing to rank (check the inputs)")
    if n_failed:
        warnings.warn(f"the DEA failed in {n_failed} of {n_draws} draw(s); their scores and "
                      "ranks are NaN and the probabilities use the other draws",
                      UserWarning, stacklevel=2)
    n_dmus = int(part.has.sum()) if pool_prompts else \
        ";".join(str(int(h)) for h in part.has.sum(axis=0))
    attrs = dict(
        inputs=";".join(part.inputs), outputs=";".join(part.outputs), secondary=secondary,
        include_self=int(include_self), pool_prompts=int(pool_prompts), n_dmus=n_dmus,
        excluded_models=";".join(part.excluded),
        models_with_missing_prompts=";".join(part.partial), failed_draws=n_failed,
        draws=n_draws, draws_used=n_draws - n_failed, tied_draws=res.tied, tie_tol=tie_tol,
        ci_prob=ci_prob)
    return _to_dataset(tree, part, res, ci_prob, attrs)


@dataclass(frozen=True)
class Participants:
    """Who takes part in a ranking: the models kept, their DMU rows and the DEA arrays.

    ``X`` (draw, model, prompt, input) and ``Y`` (model, prompt, output) over the ``kept``
    models; ``has`` (model, prompt): which rows are DMUs; ``excluded`` (no output),
    ``partial`` (some prompt sizes missing) and ``messages`` (what was left out, to warn).
    """

    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    kept: list[str]
    prompts: list[str]
    X: np.ndarray
    Y: np.ndarray
    has: np.ndarray
    excluded: list[str]
    partial: list[str]
    messages: list[str]


def participants(tree: xr.DataTree, inputs=None, outputs=STUDY_OUTPUTS,
                 pooled: bool = True, warn: bool = False) -> Participants:
    """Select the models and (model, prompt) DMUs of a ranking (see :func:`rank`); with
    ``warn``, what is left out is also a ``UserWarning`` (to the caller of the caller)."""
    inputs = _resolve_inputs(inputs)
    outputs = (outputs,) if isinstance(outputs, str) else tuple(outputs)
    if not outputs:
        raise InputError("outputs is empty; give at least one catalogue variable")
    fp = tree["footprint"]
    models = [str(m) for m in fp.model.values]
    prompts = [str(p) for p in fp.prompt.values]
    X, Y = _gather(tree, inputs, outputs)
    no_output = np.isnan(Y).any(axis=(1, 2))
    excluded = [m for m, b in zip(models, no_output) if b]
    row_missing = np.isnan(X).all(axis=0).any(axis=-1)  # (model, prompt): NaN in every draw
    if (Y[~no_output] <= 0).any():
        i = np.argwhere((Y <= 0).any(axis=(1, 2)) & ~no_output)[0][0]
        raise InputError(f"output of model {models[i]!r} is zero or negative; DEA needs "
                         "strictly positive outputs: fix the catalogue or exclude the model")
    has = ~row_missing & ~no_output[:, None]  # (model, prompt) DMUs
    keep = has.any(axis=1)
    partial = [m for m, h, k in zip(models, has, keep) if k and not h.all()]
    msgs = []
    if excluded:
        msgs.append(f"{len(excluded)} model(s) without {'/'.join(outputs)} are left out of the "
                    f"ranking: {', '.join(excluded)}")
    gone = [m for m, k, b in zip(models, keep, no_output) if not k and not b]
    if gone:
        msgs.append(f"{len(gone)} model(s) have no footprint for any prompt and are left out: "
                    f"{', '.join(gone)}")
    if partial and pooled:
        msgs.append(f"{len(partial)} model(s) lack some prompt sizes; their score averages "
                    f"over the prompts they have: {', '.join(partial)}")
    for msg in msgs if warn else ():
        warnings.warn(msg, UserWarning, stacklevel=3)
    mi = np.flatnonzero(keep)
    if len(mi) < 2:
        raise InputError(f"only {len(mi)} model(s) with {'/'.join(outputs)} and a footprint; "
                         "ranking needs at least 2 models: select more models")
    X, Y, has = X[:, mi], Y[mi], has[mi]
    kept = [models[i] for i in mi]
    _check_inputs(X, inputs, kept, prompts, np.nonzero(has))
    return Participants(inputs, outputs, kept, prompts, X, Y, has, excluded, partial, msgs)


@dataclass(frozen=True)
class Ranks:
    """Scores and ranks of one ranking, per draw and on the mean inputs (point estimate).

    Pooled: ``score`` (draw, model), ``ranks`` likewise, ``dmu_score`` (draw, model,
    prompt), ``failed`` (draw,); per prompt: (draw, model, prompt) and ``failed`` (draw,
    prompt). ``tied``: draws with a tie.
    """

    score: np.ndarray
    ranks: np.ndarray
    point: np.ndarray
    point_ranks: np.ndarray
    failed: np.ndarray
    tied: int
    dmu_score: np.ndarray | None = None
    point_dmu_score: np.ndarray | None = None


def pooled_ranks(X, Y, has, *, secondary="aggressive", include_self=True, on_error="raise",
                 tie_tol=TIE_TOL) -> Ranks:
    """The study's ranking: every (model, prompt) DMU in one DEA per draw, a model's score
    the mean over its DMUs, ranks by :func:`min_ranks`. ``X`` (draw, model, prompt, input),
    ``Y`` (model, prompt, output), ``has`` (model, prompt)."""
    n_draws, n_m, n_p = X.shape[:3]
    r = np.nonzero(has)
    ce = np.full((n_draws, n_m, n_p), np.nan)
    ce[:, r[0], r[1]] = _dea(X[:, r[0], r[1]], Y[r], secondary, include_self, on_error)
    Xm = X.mean(axis=0, keepdims=True)  # per-DMU mean inputs (point estimate)
    pce = np.full((1, n_m, n_p), np.nan)
    pce[:, r[0], r[1]] = _dea(Xm[:, r[0], r[1]], Y[r], secondary, include_self, "raise")
    score = model_scores(ce, has)  # (draw, model)
    point = model_scores(pce, has)[0]
    failed = np.isnan(ce[:, r[0], r[1]]).any(axis=1)
    score[failed] = np.nan
    ranks = min_ranks(score, tie_tol)
    return Ranks(score, ranks, point, min_ranks(point, tie_tol), failed,
                 int(has_tie(ranks[~failed]).sum()), ce, pce[0])


def per_prompt_ranks(X, Y, has, *, secondary="aggressive", include_self=True,
                     on_error="raise", tie_tol=TIE_TOL) -> Ranks:
    """One DEA per prompt size among the models that have it (see :func:`pooled_ranks`)."""
    n_draws, n_m, n_p = X.shape[:3]
    Xm = X.mean(axis=0, keepdims=True)
    score = np.full((n_draws, n_m, n_p), np.nan)
    point = np.full((n_m, n_p), np.nan)
    for p in range(n_p):
        i = np.flatnonzero(has[:, p])
        if len(i) == 0:
            continue
        score[:, i, p] = _dea(X[:, i, p], Y[i, p], secondary, include_self, on_error)
        point[i, p] = _dea(Xm[:, i, p], Y[i, p], secondary, include_self, "raise")[0]
    failed = (np.isnan(score) & has).any(axis=1)  # (draw, prompt)
    score[np.broadcast_to(failed[:, None, :], score.shape)] = np.nan
    ranks = np.moveaxis(min_ranks(np.moveaxis(score, -1, -2), tie_tol), -1, -2)
    tied = int(sum(has_tie(ranks[~failed[:, p]][:, has[:, p], p]).sum() for p in range(n_p)))
    return Ranks(score, ranks, point, min_ranks(point.T, tie_tol).T, failed, tied)


def rank_counts(ranks: np.ndarray, n_ranks: int) -> np.ndarray:
    """Integer counts ``C[i, k-1]`` of draws with ``ranks[:, i] == k`` (NaN ranks: none);
    the mergeable form of :func:`rank_probabilities` (streaming runs add them up)."""
    ks = np.arange(1, n_ranks + 1)
    return (np.asarray(ranks)[..., None] == ks).sum(axis=0).astype(np.int64)


def has_tie(ranks):
    """Per draw (axis 0): does any rank occur twice along the last axis?"""
    r = np.sort(ranks, axis=-1)
    return (np.diff(r, axis=-1) == 0).any(axis=-1)


def _nanmean0(a):
    ok = ~np.isnan(a)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(ok, a, 0).sum(axis=0) / ok.sum(axis=0)


def _nanquantile0(a, qs):
    """Quantiles over axis 0 ignoring NaN (inverted CDF: results are values of ``a``)."""
    flat = a.reshape(a.shape[0], -1)
    out = np.full((len(qs), flat.shape[1]), np.nan)
    for j in range(flat.shape[1]):
        x = flat[:, j][~np.isnan(flat[:, j])]
        if len(x):
            out[:, j] = np.quantile(x, qs, method="inverted_cdf")
    return out.reshape((len(qs),) + a.shape[1:])


def k_coord(n: int) -> tuple:
    """The rank-position coordinate ``k = 1..n`` of a ranking result."""
    return ("k", np.arange(1, n + 1), {"long_name": "rank position (1 = best)"})


def add_rank_probabilities(ds: xr.Dataset, dims: tuple[str, ...], P: np.ndarray,
                           expected: np.ndarray) -> None:
    """Write a ranking's probabilities into ``ds``: ``rank_probability`` (``P`` over
    ``dims + ("k",)``: P(rank = k)), ``p_top``, ``expected_rank`` and ``p_best``, with the
    names and units every ranking result has (:func:`rank`, ``mcfoot.stream``)."""
    one = "1"
    ds["rank_probability"] = (dims + ("k",), P, {"units": one, "long_name": "P(rank = k)"})
    ds["p_top"] = (dims + ("k",), p_top(P), {"units": one, "long_name": "P(rank <= k)"})
    ds["expected_rank"] = (dims, expected, {"units": one, "long_name": "expected rank"})
    ds["p_best"] = (dims, P[..., 0], {"units": one,
                                     "long_name": "probability of being the most efficient"})


def _with_model_labels(ds: xr.Dataset, cat, fp, kept) -> xr.Dataset:
    """``ds`` with each ranked model's display name, company and host as coordinates."""
    for c in ("model_name", "company", "host"):
        src = cat if c in cat.data_vars else fp
        if c in src.variables:
            ds = ds.assign_coords({c: ("model", src[c].sel(model=kept).values.astype(str))})
    return ds


def _add_rank_mcse(ds: xr.Dataset, dims: tuple[str, ...], mcse: dict) -> None:
    """The Monte Carlo standard errors (:func:`rank_mcse`) of the rank probabilities."""
    for name, d in (("rank_probability", dims + ("k",)), ("p_top", dims + ("k",)),
                    ("expected_rank", dims), ("p_best", dims)):
        err = mcse["rank_probability"][..., 0] if name == "p_best" else mcse[name]
        ds[f"{name}_mcse"] = (d, err, {"units": "1", "long_name":
                                       f"Monte Carlo standard error of {name}"})


def _to_dataset(tree, part: Participants, res: Ranks, ci_prob: float, attrs: dict) -> xr.Dataset:
    kept, prompts, has = part.kept, part.prompts, part.has
    pooled = res.dmu_score is not None
    score, ranks, point, pranks, failed = res.score, res.ranks, res.point, res.point_ranks, \
        res.failed
    P = rank_probabilities(ranks, len(kept))  # (model[, prompt], k)
    expected = _nanmean0(ranks)
    a = (1 - ci_prob) / 2
    interval = np.moveaxis(_nanquantile0(ranks, (a, 1 - a)), 0, -1)
    fp = tree["footprint"]
    n_m = len(kept)
    cat = tree["catalogue"]
    coords = {"draw": fp.draw.values, "model": kept, "prompt": prompts, "k": k_coord(n_m),
              "ci_bound": ["lower", "upper"]}
    ds = _with_model_labels(xr.Dataset(coords=coords), cat, fp, kept)
    m_dims = ("model",) if pooled else ("model", "prompt")
    d_dims = ("draw",) + m_dims
    how = "mean over the model's prompt sizes of its DMUs' " if pooled else ""
    one = "1"
    ds["cross_efficiency"] = (d_dims, score, {
        "units": one, "long_name": f"{how}mean cross-efficiency (per draw)"})
    if pooled:
        ds["dmu_cross_efficiency"] = (("draw", "model", "prompt"), res.dmu_score, {
            "units": one, "long_name": "mean cross-efficiency of the model x prompt DMU "
            "(per draw; NaN: not a DMU)"})
    ds["rank"] = (d_dims, ranks, {
        "units": one, "long_name": "rank by cross-efficiency per draw (1 = best; ties share "
        "the smallest rank; NaN: failed draw or absent)"})
    add_rank_probabilities(ds, m_dims, P, expected)
    lay = _mcse.layout(tree.attrs, fp.sizes["draw"])
    _add_rank_mcse(ds, m_dims, rank_mcse(ranks, n_m, lay))
    ds["rank_interval"] = (m_dims + ("ci_bound",), interval, {
        "units": one, "long_name": f"{100 * attrs['ci_prob']:g}% equal-tailed rank interval",
        "ci_kind": "eti", "ci_prob": attrs["ci_prob"]})
    ds["point_cross_efficiency"] = (m_dims, point, {
        "units": one, "long_name": f"{how}mean cross-efficiency on the mean inputs over "
        "draws (point estimate)"})
    ds["point_rank"] = (m_dims, pranks, {
        "units": one, "long_name": "rank of the point-estimate cross-efficiency (1 = best)"})
    ds["failed"] = (("draw",) if pooled else ("draw", "prompt"), failed, {
        "units": one, "long_name": "the DEA of this draw failed (on_error='nan')"})
    if pooled:
        ds["is_dmu"] = (("model", "prompt"), has, {"units": one,
                                                   "long_name": "model x prompt is a DMU"})
    ds.attrs = provenance.stamp(
        "rank", tree.attrs, title="mcfoot eco-efficiency rank probabilities",
        method="input-oriented CCR DEA, Doyle & Green (1994) cross-efficiency, in every "
               "draw (Jegham et al. 2025, arXiv 2505.09598, section 4.5)",
        mcse_method=lay.describe(), **attrs)
    return ds
