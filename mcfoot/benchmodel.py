"""Bench configurations, the data they are learned from and the physics that predicts them.

A bench configuration is one row of the ML.ENERGY v3 data file's own columns (model,
architecture kind, parameter counts, weight precision, GPU type and count, the scheduler's
cap ``max_num_seqs``, task and mean output length; ``mcfoot/data/SOURCE.md``). This module
reads and validates them (:func:`read_configs`, :func:`load_measurements`), holds the
tables they are predicted from (datasheets, precisions, public model configs, and priors for
models not in the table) and evaluates the serving physics of :mod:`mcfoot.footprint` at
them (:func:`bench_physics`): ``serving_parameters`` and ``bench_energy_per_token_j`` at the
batch the bench keeps running (the cap, or what the KV cache holds). Predictions with the
learned parameters: :mod:`mcfoot.benchpredict`; the fit: :mod:`mcfoot.benchfit`.

Measured columns (``avg_batch_size``, energies, power, throughput, latencies) are never
inputs: a file that holds them is accepted and they are ignored.
"""

from __future__ import annotations

import functools
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd

from . import footprint as fp
from ._validate import did_you_mean
from .catalogue import file_hash
from .errors import InputError

__all__ = ["ARCHITECTURES", "MEASURED", "OPTIONAL", "REQUIRED", "TASKS", "attention_intensity",
           "bench_physics", "columns", "config_arrays", "gpu_specs", "intensity_prior",
           "kv_prior", "load_measurements", "model_configs", "precisions", "read_configs",
           "replicas", "state_prior"]

DATA = "mlenergy-v3-llm.csv"
REQUIRED = ("model_id", "architecture", "total_params_billions", "activated_params_billions",
            "weight_precision", "gpu_model", "num_gpus", "max_num_seqs", "task",
            "avg_output_len")
OPTIONAL = ("tensor_parallel", "expert_parallel", "data_parallel", "input_tokens")
MEASURED = ("avg_batch_size", "avg_power_watts", "energy_per_request_joules",
            "energy_per_token_joules", "output_throughput_tokens_per_sec", "median_itl_ms",
            "p90_itl_ms", "p95_itl_ms", "p99_itl_ms")
ARCHITECTURES = ("Dense Transformer", "MoE", "Mamba-Transformer Hybrid")
#: Tasks with an input-length prior (``mcfoot/data/bench_priors.toml [input_tokens]``).
TASKS = ("lm-arena-chat", "gpqa", "sourcegraph-fim")
#: Precision tier -> column of ``gpu_specs.csv`` with the dense peak at that tier.
PEAK_COLUMN = {"bf16": "bf16_dense_tflops", "fp8": "fp8_dense_tflops",
               "fp4": "fp4_dense_tflops"}
def _data_path(name: str) -> Path:
    return Path(str(resources.files("mcfoot.data").joinpath(name)))


@functools.cache
def gpu_specs() -> pd.DataFrame:
    """Datasheet specs per GPU type (``gpu_specs.csv``), indexed by ``gpu_model``. An empty
    FP4 peak means no FP4 tensor cores: MXFP4 weights are dequantized and multiplied at the
    BF16 rate (SOURCE.md)."""
    df = pd.read_csv(_data_path("gpu_specs.csv")).set_index("gpu_model")
    df["fp4_dense_tflops"] = df["fp4_dense_tflops"].fillna(df["bf16_dense_tflops"])
    return df


@functools.cache
def precisions() -> pd.DataFrame:
    """Bytes per weight and compute tier per weight precision (``precisions.csv``)."""
    return pd.read_csv(_data_path("precisions.csv")).set_index("weight_precision")


@functools.cache
def model_configs() -> pd.DataFrame:
    """Public architecture configs of the bench models (``model_configs.csv``)."""
    return pd.read_csv(_data_path("model_configs.csv")).set_index("model_id")


def _problem(row, col, msg) -> str:
    return f"row {row + 2} (line {row + 2}), column '{col}': {msg}" if row is not None else \
        f"column '{col}': {msg}"


def _column_problems(df: pd.DataFrame) -> list[str]:
    problems = [_problem(None, c, "missing; the file needs the columns " + ", ".join(REQUIRED))
                for c in REQUIRED if c not in df.columns]
    if problems:
        return problems
    choices = {"architecture": ARCHITECTURES, "weight_precision": tuple(precisions().index),
               "gpu_model": tuple(gpu_specs().index), "task": TASKS}
    for col, known in choices.items():
        for i, v in df[col].items():
            if v not in known:
                problems.append(_problem(i, col, f"unknown {v!r}{did_you_mean(v, known)}; "
                                         f"known: {', '.join(known)}"))
    num = {c: pd.to_numeric(df[c], errors="coerce") for c in
           ("total_params_billions", "activated_params_billions", "num_gpus", "max_num_seqs",
            "avg_output_len", *(c for c in OPTIONAL if c in df.columns))}
    for col, x in num.items():
        optional = col in OPTIONAL
        for i in x.index[~(x > 0) & ~(optional & df[col].isna())]:
            floor = "an integer >= 1" if col in ("num_gpus", "max_num_seqs") else "> 0"
            problems.append(_problem(i, col, f"{df[col][i]!r} must be {floor}"))
    for col in ("num_gpus", "max_num_seqs"):
        x = num[col]
        for i in x.index[(x > 0) & (x != np.round(x))]:
            problems.append(_problem(i, col, f"{x[i]!r} must be an integer >= 1"))
    if "data_parallel" in num:
        dp = num["data_parallel"]
        for i in dp.index[(dp > num["num_gpus"]) | ((dp > 0) & (dp != np.round(dp)))]:
            problems.append(_problem(i, "data_parallel", f"{df['data_parallel'][i]!r} must be "
                                     "an integer from 1 to num_gpus (replicas share the GPUs)"))
    over = num["activated_params_billions"] > num["total_params_billions"]
    for i in over.index[over]:
        problems.append(_problem(i, "activated_params_billions", "active parameters exceed "
                                 "total_params_billions; give active <= total"))
    return problems


def read_configs(configs, source: str = "") -> pd.DataFrame:
    """Validated bench configurations from a DataFrame or a CSV path: every problem at once,
    each naming the row and column (:class:`InputError`). Measured columns are dropped."""
    if isinstance(configs, (str, Path)):
        source = str(configs)
        try:
            configs = pd.read_csv(configs)
        except FileNotFoundError:
            raise InputError("file not found; give a CSV of bench configurations", source)
        except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
            raise InputError(f"not a readable CSV ({str(e).splitlines()[0][:120]})", source)
    df = pd.DataFrame(configs).reset_index(drop=True)
    problems = _column_problems(df)
    if problems:
        raise InputError(problems, source)
    keep = [c for c in (*REQUIRED, *OPTIONAL) if c in df.columns]
    return df[keep].copy()


@functools.cache
def load_measurements() -> pd.DataFrame:
    """The shipped bench measurements (``mlenergy-v3-llm.csv``), validated whole: the
    configuration columns as :func:`read_configs` checks them, every measured column
    present and > 0."""
    path = _data_path(DATA)
    df = pd.read_csv(path)
    problems = _column_problems(df)
    for c in MEASURED:
        if c not in df.columns:
            problems.append(_problem(None, c, "missing"))
        else:
            bad = ~(pd.to_numeric(df[c], errors="coerce") > 0)
            problems += [_problem(i, c, f"{df[c][i]!r} must be > 0") for i in df.index[bad]]
    if problems:
        raise InputError(problems, str(path))
    df.attrs["source"], df.attrs["hash"] = DATA, file_hash(path)
    return df


def _configs_less(exclude) -> pd.DataFrame:
    """The config table less the models ``exclude`` (ids not in it ignored): the rows the
    priors for models not in the table learn from (a withheld model's own row left out)."""
    t = model_configs()
    return t.drop(index=[m for m in exclude if m in t.index])


def kv_prior(total_params, kind, exclude=(), *, sd_factor: float
             ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd) of log KV-cache kB per context token for models not in the config table:
    a least-squares line in log total parameters with an intercept per architecture kind,
    over the table's rows (less ``exclude``), the predictive sd widened by ``sd_factor``
    (``[unknown_architecture] kv_sd_factor`` of ``mcfoot/data/bench_priors.toml``)."""
    t = _configs_less(exclude)
    kinds = _kinds(t.index)
    x = np.log(t["total_params_billions"].to_numpy(float))
    y = np.log(t["kv_bytes_per_token_bf16"].to_numpy(float) / fp.KILO)
    design = np.column_stack([x] + [kinds == k for k in ARCHITECTURES]).astype(float)
    used = design.any(axis=0)  # a kind with no row falls back to the others' mean intercept
    coef, *_ = np.linalg.lstsq(design[:, used], y, rcond=None)
    full = np.zeros(design.shape[1])
    full[used] = coef
    full[1:][~used[1:]] = coef[1:].mean()
    resid = y - design[:, used] @ coef
    sd = np.sqrt(resid @ resid / max(len(y) - used.sum(), 1))
    kind = np.asarray(kind)
    row = np.column_stack([np.log(np.asarray(total_params, float))] +
                          [kind == k for k in ARCHITECTURES]).astype(float)
    return row @ full, np.full(len(row), sd * sd_factor)


def state_prior(total_params, kind, exclude=(), *, sd_factor: float
                ) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd) of log recurrent-state kB per sequence for models not in the config table:
    0 state (log = -inf, sd 0) unless a hybrid; a hybrid's state per billion parameters is
    the geometric mean of the table's hybrids (less ``exclude``), with the KV prior's sd
    (:func:`kv_prior`)."""
    t = _configs_less(exclude)
    hyb = t[t.mamba_state_bytes_per_seq_bf16.notna()]
    if hyb.empty:
        raise InputError("no hybrid left in model_configs.csv to set a state prior from")
    per_b = np.mean(np.log(hyb.mamba_state_bytes_per_seq_bf16 / fp.KILO /
                           hyb.total_params_billions))
    total = np.asarray(total_params, float)
    is_hybrid = np.asarray(kind) == ARCHITECTURES[2]
    _, sd = kv_prior(total, kind, exclude, sd_factor=sd_factor)
    return np.where(is_hybrid, per_b + np.log(total), -np.inf), np.where(is_hybrid, sd, 0.0)


def attention_intensity(t: pd.DataFrame | None = None) -> pd.Series:
    """Attention FLOPs per byte of KV cache read in decode (FLOP/byte, derived), per model of
    the config table ``t`` (default :func:`model_configs`), 2 FLOP per multiply-add
    (:data:`mcfoot.footprint.FLOP_PER_PARAM_TOKEN`'s count), per layer and context token:

    * GQA: scores q.k and the weighted sum of values, 2 heads head_dim FLOP each (4 heads
      head_dim), over a cached (K, V) of 2 kv_heads head_dim 16-bit values (4 kv_heads
      head_dim bytes): heads / kv_heads (the GQA group).
    * MLA, decoded on its latent (the absorbed form, DeepSeek-V2, arXiv 2405.04434,
      s. 2.1.2-2.1.3): scores over rank + rope dims and values over rank
      (``kv_lora_rank``, ``qk_rope_head_dim``), 2 heads (2 rank + rope) FLOP, over a cached
      latent of 2 (rank + rope) bytes: heads (2 rank + rope) / (rank + rope).
    """
    t = model_configs() if t is None else t
    heads = t.num_attention_heads.astype(float)
    gqa = heads / t.num_key_value_heads.astype(float)
    r, rope = t.kv_lora_rank.astype(float), t.qk_rope_head_dim.astype(float)
    mla = heads * (2 * r + rope) / (r + rope)
    return gqa.where(t.attention_kind != "mla", mla)


def intensity_prior(n: int, exclude=(), *, sd_factor: float) -> tuple[np.ndarray, np.ndarray]:
    """(mean, sd) of log attention intensity (:func:`attention_intensity`) for ``n`` models
    not in the config table: the table's rows (less ``exclude``), their log mean and sd, the
    sd widened by ``sd_factor`` (as :func:`kv_prior`)."""
    t = _configs_less(exclude)
    x = np.log(attention_intensity(t).to_numpy(float))
    return np.full(n, x.mean()), np.full(n, x.std(ddof=1) * sd_factor)


def _kinds(model_ids) -> np.ndarray:
    """Architecture kind of table models, from the bench data (the table's own column names
    the HF class)."""
    kinds = dict(zip(load_measurements().model_id, load_measurements().architecture))
    return np.array([kinds[m] for m in model_ids])


def config_arrays(df: pd.DataFrame) -> dict[str, np.ndarray]:
    """Per-configuration physics inputs (datasheet, precision, architecture) as arrays."""
    spec, prec = gpu_specs().loc[df.gpu_model], precisions().loc[df.weight_precision]
    tiers = prec["compute_tier"].to_numpy()
    peak = np.array([spec[PEAK_COLUMN[t]].iloc[i] for i, t in enumerate(tiers)], float)
    known = df.model_id.isin(model_configs().index).to_numpy()
    t = model_configs().loc[df.model_id[known]]
    kv, state, intensity = (np.full(len(df), np.nan) for _ in range(3))
    kv[known] = t.kv_bytes_per_token_bf16 / fp.KILO
    state[known] = t.mamba_state_bytes_per_seq_bf16.fillna(0.0) / fp.KILO
    intensity[known] = attention_intensity(t)
    return {
        "active": df.activated_params_billions.to_numpy(float),
        "ratio": (df.total_params_billions / df.activated_params_billions).to_numpy(float),
        "bytes": prec["bytes_per_param"].to_numpy(float),
        "speedup": peak / spec["bf16_dense_tflops"].to_numpy(float),
        "tdp": spec["tdp_w"].to_numpy(float), "memory": spec["memory_gb"].to_numpy(float),
        "bandwidth": spec["memory_bandwidth_tb_s"].to_numpy(float),
        "peak16": spec["bf16_dense_tflops"].to_numpy(float),
        "gpus": df.num_gpus.to_numpy(float), "cap": df.max_num_seqs.to_numpy(float),
        "out": df.avg_output_len.to_numpy(float), "kv_known": kv, "state_known": state,
        "intensity_known": intensity,
        "replicas": replicas(df),
        "gpu": df.gpu_model.to_numpy(str), "precision": df.weight_precision.to_numpy(str),
        "task": df.task.to_numpy(str),
    }


def replicas(df: pd.DataFrame) -> np.ndarray:
    """Data-parallel replicas of each configuration (1): ``data_parallel`` where given, else
    the GPUs beyond tensor x expert parallelism (``num_gpus / (tensor_parallel x
    expert_parallel)``) where those are given, else 1 (one instance over all its GPUs)."""
    r = np.ones(len(df))
    if {"tensor_parallel", "expert_parallel"} <= set(df.columns):
        split = (df.num_gpus / (df.tensor_parallel * df.expert_parallel)).to_numpy(float)
        r = np.where(np.isfinite(split) & (split > 1.0), split, r)
    if "data_parallel" in df.columns:
        dp = df.data_parallel.to_numpy(float)
        r = np.where(np.isnan(dp), r, dp)
    return r


def columns(c: dict) -> dict:
    """:func:`config_arrays` with the numeric arrays as columns (C, 1), to broadcast against
    parameter draws (C, D) or (1, K)."""
    return {k: a[:, None] if a.dtype.kind == "f" else a for k, a in c.items()}


def bench_physics(c: dict, theta: dict, kv_kb, input_tokens, state_kb, *,
                  intensity) -> dict[str, np.ndarray]:
    """Energy per output token (J), mean power (W) and running batch of configurations
    ``c`` (:func:`config_arrays`, arrays over configurations, broadcast against the
    parameter arrays of ``theta``: per-GPU ``bandwidth_efficiency``, ``compute_efficiency``,
    ``power_fraction_memory_bound``, ``power_fraction_compute_bound`` and the precision's
    ``precision_compute_factor``, already gathered per configuration). ``kv_kb``: KV-cache
    kB per context token (sliding-window layers counted at full size: the bench fits worse
    with their reads capped at the window, see README); ``intensity``: attention FLOP per
    KV byte (:func:`attention_intensity`: the table's ``c["intensity_known"]``, or draws of
    :func:`intensity_prior` for a model not in it); ``input_tokens``: mean input tokens
    per request; ``state_kb``: recurrent state kB per sequence (hybrids; 0 otherwise).
    ``c["replicas"]``: data-parallel replicas (:func:`replicas`)."""
    p = fp.serving_parameters(
        active_params=c["active"], moe_total_ratio=c["ratio"], bytes_per_param=c["bytes"],
        kv_cache_kb=kv_kb, spec_tokens=1.0, tdp_w=c["tdp"], memory_gb=c["memory"],
        bandwidth_tb_s=c["bandwidth"], peak_tflops=c["peak16"],
        bandwidth_efficiency=theta["bandwidth_efficiency"],
        compute_efficiency=theta["compute_efficiency"] * theta["precision_compute_factor"],
        power_low=theta["power_fraction_memory_bound"],
        power_high=theta["power_fraction_compute_bound"], host_power_w=0.0,
        memory_utilization=theta["memory_utilization"], weight_memory_share=1.0,
        max_batch=c["cap"], idle_fraction=0.0, accelerators=c["gpus"],
        compute_speedup=c["speedup"], state_kb_per_seq=state_kb,
        attention_flop_per_kv_byte=intensity, replicas=c["replicas"])
    batch = fp.batch_cap(input_tokens, c["out"], p)
    energy, seconds = fp.bench_energy_per_token_j(batch, input_tokens, c["out"], p)
    return {"energy_per_token_j": energy, "avg_power_w": energy / seconds, "batch": batch}
