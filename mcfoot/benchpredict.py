"""Bench predictions: GPU energy of a model served at a stated bench configuration.

A bench configuration is one row of the ML.ENERGY v3 data file's own columns
(:mod:`mcfoot.benchmodel`). Its energy is the bench physics
(:func:`mcfoot.benchmodel.bench_physics`) with the hardware-level parameters drawn from the
learned posterior (:mod:`mcfoot.benchfit`, shipped as ``mcfoot/data/bench_fit.nc``) and a
discrepancy: the model's own effect (its posterior if the fit saw it, else a fresh draw of
the learned model-to-model spread) plus a residual. Boundary: the GPUs only; prefill inside.
Lab evidence entries (:mod:`mcfoot.evidence`) are predicted the same way
(:func:`lab_evidence_prediction`, used by ``compare`` and ``calibrate``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr
from scipy import special

from . import benchmodel as bn
from . import distributions as dists
from . import footprint as fp
from . import provenance, rng
from .benchfit import SHIPPED, _gather, fit_priors, load_fit, prior_fit
from .benchmodel import DATA, load_measurements, read_configs
from .errors import InputError
from .fitprior import POSTERIOR_STREAM, flat_draws
from .variables import BENCH

__all__ = ["LAB_ASSUMED", "SHIPPED", "bench", "lab_configs", "lab_evidence_prediction",
           "lab_streams", "load_fit", "predict", "prior_fit", "stream_names"]


def stream_names(df, withhold=(), rows=None, fit_models=()) -> list[str]:
    """Names of the standard-normal streams :func:`predict` uses for configurations ``df``
    (for a caller that supplies them, e.g. calibration)."""
    rows = [str(i) for i in range(len(df))] if rows is None else list(rows)
    unknown = ~df.model_id.isin(bn.model_configs().index) | df.model_id.isin(withhold)
    names = [POSTERIOR_STREAM]
    names += [f"bench/{q}/{m}" for m in dict.fromkeys(df.model_id[unknown]) for q in
              ARCH_STREAMS]
    names += [f"bench/model_effect/{m}" for m in dict.fromkeys(df.model_id)
              if m not in fit_models]
    names += [f"bench/{q}/{r}" for r in dict.fromkeys(rows) for q in
              ("residual", "power_residual")]
    return names


def predict(fit_ds: xr.Dataset, df, draws: int, ss, withhold=(), normals=None,
            rows=None) -> tuple[dict, dict]:
    """Per (config, draw) predictions of validated configurations ``df`` under ``fit_ds``:
    a posterior draw per prediction draw (stream ``bench/posterior``), the model's effect
    (its posterior, or a t draw at the learned spread: ``bench/model_effect/ID``), KV cache
    and recurrent state of a model not in the table (``bench/kv/ID``, ``bench/state/ID``),
    residuals (``bench/residual/ROW``, ``bench/power_residual/ROW``; ``rows``: the ROW key
    of each configuration, default its position). ``withhold``: model ids whose
    config-table rows are not used (architecture from the size priors, fitted without those
    rows). ``normals``: the streams' standard normals (name -> (draws,)) given instead of
    drawn from ``ss``."""
    def z_of(name):
        return normals[name] if normals is not None else rng.standard_normals(ss, name, 0,
                                                                              draws)

    rows = [str(i) for i in range(len(df))] if rows is None else list(rows)
    n = fit_ds.sizes["chain"] * fit_ds.sizes["draw"]
    pick = dists.draw_index(special.ndtr(z_of(POSTERIOR_STREAM)), n)
    flat = {k: flat_draws(fit_ds, k)[pick] for k in fit_ds.data_vars}
    v = {k.replace("__", "/"): x for k, x in flat.items() if k != "model_effect"}
    c = bn.config_arrays(df)
    nu = float(fit_ds.attrs["nu"])
    th = _gather(v, c, {"memory_utilization": float(fit_ds.attrs["memory_utilization"])})
    arch, unknown = _architecture(df, c, draws, withhold, z_of)
    tin = np.stack([v[f"input_tokens/{t}"] for t in c["task"]])
    if "input_tokens" in df.columns:
        given = df.input_tokens.notna().to_numpy()
        tin[given] = df.input_tokens.to_numpy(float)[given, None]
    ph = bn.bench_physics(bn.columns(c), th, arch["kv"], tin, arch["state"],
                          intensity=arch["intensity"])
    models = list(map(str, fit_ds.model.values))
    in_fit = df.model_id.isin(models).to_numpy()
    effect = np.stack([flat["model_effect"][:, models.index(m)] if m in models else
                       v["discrepancy/model_scale"] * _t(z_of(f"bench/model_effect/{m}"), nu)
                       for m in df.model_id])

    def t_noise(name, scale):
        return scale * np.stack([_t(z_of(f"bench/{name}/{r}"), nu) for r in rows])

    out = {"energy_per_token_j": ph["energy_per_token_j"] * np.exp(
               effect + t_noise("residual", v["discrepancy/residual_scale"])),
           "avg_power_w": ph["avg_power_w"] * np.exp(
               t_noise("power_residual", v["discrepancy/power_scale"])),
           "batch": np.broadcast_to(ph["batch"], (len(df), draws)).copy()}
    return out, {"in_fit": in_fit, "kv_known": ~unknown}


def _t(z, nu):
    """Student-t draws with ``nu`` degrees of freedom from standard normals (inverse CDF)."""
    return special.stdtrit(nu, special.ndtr(z))  # scipy.stats.t.ppf's own kernel


#: Per-model architecture streams of a model not in the config table (or withheld).
ARCH_STREAMS = ("kv", "state", "intensity")


def _architecture(df, c, draws, withhold, z_of):
    """Architecture per (config, draw): KV kB per context token, attention FLOP per KV byte,
    state kB per sequence. The table's values, or for models not in it (or withheld) draws
    of the size priors (streams ``bench/kv|state|intensity/ID``)."""
    keys = {"kv": "kv_known", "state": "state_known", "intensity": "intensity_known"}
    arch = {k: np.broadcast_to(c[col][:, None], (len(df), draws)).copy()
            for k, col in keys.items()}
    unknown = np.isnan(c["kv_known"]) | df.model_id.isin(withhold).to_numpy()
    if unknown.any():
        sd_factor = fit_priors().fixed("unknown_architecture", "kv_sd_factor")
        args = (df.total_params_billions[unknown], df.architecture[unknown], tuple(withhold))
        priors = {"kv": bn.kv_prior(*args, sd_factor=sd_factor),
                  "state": bn.state_prior(*args, sd_factor=sd_factor),
                  "intensity": bn.intensity_prior(int(unknown.sum()), tuple(withhold),
                                                  sd_factor=sd_factor)}
        for name in ARCH_STREAMS:
            mu, sd = priors[name]
            z = np.stack([z_of(f"bench/{name}/{m}") for m in df.model_id[unknown]])
            arch[name][unknown] = np.exp(mu[:, None] + sd[:, None] * z)
    return arch, unknown


def bench(configs, *, scenario: str | Path = "bench", draws: int = 4000,
          seed=0) -> xr.Dataset:
    """Predicted GPU energy of bench configurations, over (``config``, ``draw``).

    ``configs``: a DataFrame or CSV path with the data file's columns (:data:`REQUIRED`,
    optional :data:`OPTIONAL`; ``input_tokens`` where known, else the task's learned input
    length). ``scenario``: ``"bench"`` (the shipped fit, ``mcfoot/data/bench_fit.nc``), a
    fit file written by ``python -m mcfoot.benchfit -o FILE``, or ``"prior"`` (the priors of
    ``mcfoot/data/bench_priors.toml``, nothing learned). Returns the variables of
    :data:`mcfoot.variables.BENCH` (``energy_per_request_j``, ``energy_per_token_j``,
    ``avg_power_w``, ``running_batch``) with units and provenance.
    """
    df = read_configs(configs)
    draws = int(draws)
    if draws < 1:
        raise InputError(f"draws must be >= 1, got {draws}")
    ss = rng.normalize_seed(seed)
    fit = load_fit(scenario)
    out, sampled = predict(fit, df, draws, ss)
    ds = xr.Dataset(coords={"config": np.arange(len(df)), "draw": np.arange(draws)})
    for col in ("model_id", "gpu_model", "weight_precision", "task", "num_gpus",
                "max_num_seqs"):
        ds.coords[col] = ("config", df[col].to_numpy())
    out["energy_per_request_j"] = out["energy_per_token_j"] * df.avg_output_len.to_numpy(
        float)[:, None]
    out["running_batch"] = out.pop("batch")
    for name, var in BENCH.items():
        ds[name] = (var.dims, out[name], var.attrs)
    ds.coords["model_in_fit"] = ("config", sampled["in_fit"])
    ds.coords["architecture_from_table"] = ("config", sampled["kv_known"])
    ds.attrs = provenance.stamp(
        "bench", scenario=str(fit.attrs.get("name", scenario)), seed=rng.seed_record(ss),
        seed_entropy=str(ss.entropy), draws=draws, rng=provenance.RNG,
        fit_hash=str(fit.attrs.get("fit_hash", "")),
        data=DATA, data_hash=load_measurements().attrs["hash"],
        boundary="GPUs only, bench conditions (vLLM steady state); prefill inside")
    return ds


#: What a lab evidence entry (``applies_to.lab``, :mod:`mcfoot.evidence`) does not state
#: about its bench, assumed for the prediction (assumption: ML.ENERGY's chat task with a
#: dense model served at its checkpoint's BF16 weights, the common case of its v3 runs).
#: The model is never one the fit saw (it is named only by its size): a fresh model effect.
LAB_ASSUMED = {"architecture": "Dense Transformer", "weight_precision": "bfloat16",
               "task": "lm-arena-chat"}


def lab_configs(e) -> pd.DataFrame:
    """Bench configurations of a lab evidence entry ``e``: one per (output, input) token
    value of its token priors (no input stated: the task's learned input length)."""
    lab = e.applies_to["lab"]
    outs = np.asarray(e.output_tokens.values, float)
    ins = [np.nan] if e.input_tokens is None else np.asarray(e.input_tokens.values, float)
    n = float(lab["model_parameters_b"])
    return pd.DataFrame([{"model_id": f"evidence/{e.id}", "total_params_billions": n,
                          "activated_params_billions": n, "gpu_model": lab["accelerator"],
                          "num_gpus": int(lab["accelerators"]), "max_num_seqs": int(lab["batch"]),
                          "avg_output_len": o, "input_tokens": i, **LAB_ASSUMED}
                         for o in outs for i in ins])


def lab_streams(e) -> list[str]:
    """Names of the standard-normal streams :func:`lab_evidence_prediction` uses."""
    cfg = lab_configs(e)
    tokens = [f"evidence/{e.id}/{w}_tokens" for w, t in (("output", e.output_tokens),
                                                         ("input", e.input_tokens))
              if t is not None and not t.fixed]
    return stream_names(cfg, rows=[f"evidence/{e.id}"] * len(cfg)) + tokens


def lab_evidence_prediction(e, draws: int, seed, normals: dict | None = None,
                            fit="bench") -> np.ndarray:
    """Per-draw GPU energy per output token of lab entry ``e`` in its unit (J or Wh per
    token), through the learned bench physics (:func:`bench`'s predictor): the entry's
    configuration (:func:`lab_configs`), its token counts drawn from its priors (streams
    ``evidence/ID/output_tokens`` and ``.../input_tokens``). ``normals``: the standard
    normals of :func:`lab_streams` given instead of drawn from ``seed`` (calibration)."""
    ss = rng.normalize_seed(seed)
    cfg = lab_configs(e)

    def pick(which):  # the entry's own token pick (Evidence.token_index); none stated: 0
        if getattr(e, which) is None:
            return np.zeros(draws, np.int64)
        return e.token_index(which, draws, ss, normals)

    n_in = 1 if e.input_tokens is None else len(e.input_tokens.values)
    row = pick("output_tokens") * n_in + pick("input_tokens")
    out, _ = predict(load_fit(fit), read_configs(cfg), draws, ss, normals=normals,
                     rows=[f"evidence/{e.id}"] * len(cfg))
    j = out["energy_per_token_j"][row, np.arange(draws)]
    return j if e.unit == "J/token" else j / fp.SECONDS_PER_HOUR
