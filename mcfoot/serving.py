"""The ``serving`` attribution: a query's share of the node from serving physics.

The equations are in :mod:`mcfoot.footprint` (``serving_parameters``,
``serving_query_energy``); this module connects them to scenarios and plans:

- :func:`resolve_model_priors` finds, for every catalogue model, its model-scoped priors
  (parameter counts, bytes per weight, KV cache per token, speculative tokens per step and the
  hardware it is served on), keyed in the scenario by model id, else by size class, else by
  the catalogue's hardware class;
- :func:`serve_arrays` turns one draw of every prior into the per-(model, draw) arrays the
  kernel needs (the hardware-scoped inputs gathered at each draw's hardware choice);
  The hardware-level physics of the accelerators the ML.ENERGY bench measured comes from the
  bench fit (``dist = "bench_fit"`` priors, :mod:`mcfoot.fitprior`), with the fit's
  discrepancy for models it never saw (:func:`discrepancy_factor`).

A lab configuration (a model at a stated accelerator count, batch and precision) has one
predictor: the bench physics with the learned fit, :func:`mcfoot.bench`
(:mod:`mcfoot.benchpredict`), which evidence entries measured on a test bench also go through
(:mod:`mcfoot.observation`).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from . import distributions as dists
from . import footprint as fp
from .catalogue import load_catalogue
from .priors import QUANTITIES, Prior, Scenario

#: Model-scoped inputs of the serving physics (``hardware_choice`` is optional).
MODEL_QUANTITIES = ("active_params", "moe_total_ratio", "bytes_per_param",
                    "kv_cache_per_token", "spec_tokens_per_step", "parallelism_factor",
                    "model_effect", "model_effect_scale", "config_residual", "residual_scale")
#: Hardware-scoped inputs, by the keyword of ``footprint.serving_parameters`` they feed.
HARDWARE_INPUTS = {
    "accelerator_tdp": "tdp_w", "accelerator_memory": "memory_gb",
    "memory_bandwidth": "bandwidth_tb_s", "peak_flops": "peak_tflops",
    "bandwidth_efficiency": "bandwidth_efficiency", "compute_efficiency": "compute_efficiency",
    "power_fraction_memory_bound": "power_low", "power_fraction_compute_bound": "power_high",
    "host_power_per_accelerator": "host_power_w", "memory_utilization": "memory_utilization",
    "weight_memory_share": "weight_memory_share", "max_batch": "max_batch",
    "idle_fraction": "idle_fraction",
}
#: Hardware-scoped inputs of the embodied-carbon rate (``footprint.embodied_g_per_h``).
EMBODIED_INPUTS = ("gpus_per_node", "embodied_accelerator", "embodied_node",
                   "hardware_lifetime", "fleet_utilisation")
MODEL_INPUTS = {"active_params": "active_params", "moe_total_ratio": "moe_total_ratio",
                "bytes_per_param": "bytes_per_param", "kv_cache_per_token": "kv_cache_kb",
                "spec_tokens_per_step": "spec_tokens", "parallelism_factor": "parallelism"}


def resolve_model_priors(sc: Scenario, models: list[str], ds: xr.Dataset,
                         problems: list[str], full: xr.Dataset | None = None
                         ) -> tuple[dict, tuple[str, ...]]:
    """Model-scoped priors aligned with ``models`` and the hardware classes they may use.

    A table entry keyed by the model id wins over one keyed by the model's size class, which
    wins over one keyed by its catalogue hardware class; a resolved class-level prior is
    re-keyed by the model so each model gets its own random stream. Without a
    ``hardware_choice`` the model runs on its catalogue hardware class. A key that names no
    model, size class or hardware class of the (whole, unselected) catalogue ``full`` is an
    error: it would otherwise be ignored silently (keys naming the shipped catalogue's
    models are always allowed, so a shipped scenario runs on a custom catalogue).
    """
    size = dict(zip(models, map(str, ds.size_class.values)))
    hw = dict(zip(models, map(str, ds.hardware.values)))
    full = ds if full is None else full
    known = set()
    for c in (full, load_catalogue()):  # a shipped scenario also names the shipped models
        known |= set(map(str, c.model.values)) | set(map(str, c.size_class.values)) | \
            set(map(str, c.hardware.values))
    out: dict[str, tuple[Prior, ...]] = {}
    for q in (*MODEL_QUANTITIES, "hardware_choice"):
        table = sc.priors.get(q, {})
        for (k,) in table:
            if k not in known:
                problems.append(f"[{q}.{k}] names no model id, size class or hardware class "
                                f"of catalogue {full.attrs.get('source', '(given)')} or the "
                                f"shipped one; fix the key (model ids look like 'llama-3-1-8b')")
        resolved = []
        for m in models:
            for key in ((m,), (size[m],), (hw[m],)):
                if key in table:
                    resolved.append(replace(table[key], key=(m,)))
                    break
            else:
                if q == "hardware_choice":
                    resolved.append(Prior(q, (m,), dists.make("fixed", {"value": 0.0}), "1",
                                          "catalogue hardware class", labels=(hw[m],)))
                else:
                    problems.append(f"model {m} (size class {size[m]}, hardware {hw[m]}) has "
                                    f"no prior in [{q}]; add [{q}.{m}], [{q}.{size[m]}] or "
                                    f"[{q}.\"{hw[m]}\"] ({QUANTITIES[q].long_name}, unit "
                                    f"'{QUANTITIES[q].unit}')")
        out[q] = tuple(resolved)
    labels = [lab for p in out["hardware_choice"] for lab in p.labels]
    return out, tuple(dict.fromkeys(labels))


def _choice_index(plan, values: dict) -> np.ndarray:
    """Per (model, draw) index into ``plan.keys['hardware']`` of the drawn hardware."""
    hw_idx = {h: i for i, h in enumerate(plan.keys["hardware"])}
    choice = values["hardware_choice"].astype(np.int64)
    out = np.empty(choice.shape, np.int64)
    for m, p in enumerate(plan.priors["hardware_choice"]):
        lut = np.array([hw_idx[lab] for lab in p.labels], np.int64)
        out[m] = lut[choice[m]]
    return out


def discrepancy_factor(values: dict) -> np.ndarray:
    """exp(model effect + residual) per (model, draw): the bench fit's discrepancy
    (``log E = log E_phys + delta_m + eps``, :mod:`mcfoot.benchfit`) for a model the bench
    never measured, each term a standard Student-t draw times its learned scale."""
    return np.exp(values["model_effect_scale"] * values["model_effect"] +
                  values["residual_scale"] * values["config_residual"])


def serve_arrays(plan, values: dict) -> tuple[np.ndarray, dict]:
    """(``serve`` of shape (len(SERVE_KEYS), models, draws), extra per-(model, draw) inputs:
    ``hardware_index`` and ``accelerators``) from one evaluation of every prior.

    The running batch is capped at ``max_batch x batch_occupancy`` (at least 1): production
    keeps fewer sequences running than the scheduler allows. The accelerator's power (both
    fractions) carries the bench fit's discrepancy (:func:`discrepancy_factor`), so the
    accelerator energy of a model varies as the bench's energy per token does around its
    physics; the host's energy (instance time x host power) does not."""
    h = _choice_index(plan, values)

    def at_choice(q):  # (hardware, draw) -> (model, draw) at each draw's hardware
        v = values[q]
        return np.take_along_axis(v, h, axis=0) if v.shape[0] > 1 else \
            np.broadcast_to(v[0], h.shape)

    kw = {arg: values[q] for q, arg in MODEL_INPUTS.items()}
    kw |= {arg: at_choice(q) for q, arg in HARDWARE_INPUTS.items()}
    kw["max_batch"] = np.maximum(1.0, kw["max_batch"] * at_choice("batch_occupancy"))
    factor = discrepancy_factor(values)
    kw["power_low"] = kw["power_low"] * factor
    kw["power_high"] = kw["power_high"] * factor
    per_node, acc_kg, node_kg, life, util = (at_choice(q) for q in EMBODIED_INPUTS)
    kw["embodied_g_per_accelerator_h"] = fp.embodied_g_per_h(1.0 / per_node, per_node, acc_kg,
                                                             node_kg, life, util)
    p = fp.serving_parameters(**kw)
    serve = np.empty((len(fp.SERVE_KEYS), *h.shape))
    for i, k in enumerate(fp.SERVE_KEYS):
        serve[i] = p[k]
    return serve, {"hardware_index": h, "accelerators": np.asarray(p["accelerators"])}
