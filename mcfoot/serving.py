"""The ``serving`` attribution: a query's share of the node from serving physics.

The equations are in :mod:`mcfoot.footprint` (``serving_parameters``,
``serving_query_energy``); this module connects them to scenarios and plans:

- :func:`resolve_model_priors` finds, for every catalogue model, its model-scoped priors
  (parameter counts, bytes per weight, KV cache per token, speculative tokens per step and the
  hardware it is served on), keyed in the scenario by model id, else by size class, else by
  the catalogue's hardware class;
- :func:`serve_arrays` turns one draw of every prior into the per-(model, draw) arrays the
  kernel needs (the hardware-scoped inputs gathered at each draw's hardware choice);
- :func:`lab_prediction` evaluates the same physics at a stated lab configuration (model
  size, accelerator count and type, batch) under the scenario's hardware priors.

Evidence measured on a test bench is predicted by the physics learned from the ML.ENERGY
bench (:mod:`mcfoot.benchpredict`, called from :mod:`mcfoot.observation`), not here.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import xarray as xr

from . import distributions as dists
from . import footprint as fp
from . import rng
from .catalogue import load_catalogue
from .errors import InputError, PriorsError
from .priors import QUANTITIES, Prior, Scenario, load_scenario

#: Model-scoped inputs of the serving physics (``hardware_choice`` is optional).
MODEL_QUANTITIES = ("active_params", "moe_total_ratio", "bytes_per_param",
                    "kv_cache_per_token", "spec_tokens_per_step", "parallelism_factor")
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


def serve_arrays(plan, values: dict) -> tuple[np.ndarray, dict]:
    """(``serve`` of shape (len(SERVE_KEYS), models, draws), extra per-(model, draw) inputs:
    ``hardware_index`` and ``accelerators``) from one evaluation of every prior."""
    h = _choice_index(plan, values)

    def at_choice(q):  # (hardware, draw) -> (model, draw) at each draw's hardware
        v = values[q]
        return np.take_along_axis(v, h, axis=0) if v.shape[0] > 1 else \
            np.broadcast_to(v[0], h.shape)

    kw = {arg: values[q] for q, arg in MODEL_INPUTS.items()}
    kw |= {arg: at_choice(q) for q, arg in HARDWARE_INPUTS.items()}
    per_node, acc_kg, node_kg, life, util = (at_choice(q) for q in EMBODIED_INPUTS)
    kw["embodied_g_per_accelerator_h"] = fp.embodied_g_per_h(1.0 / per_node, per_node, acc_kg,
                                                             node_kg, life, util)
    p = fp.serving_parameters(**kw)
    serve = np.empty((len(fp.SERVE_KEYS), *h.shape))
    for i, k in enumerate(fp.SERVE_KEYS):
        serve[i] = p[k]
    return serve, {"hardware_index": h, "accelerators": np.asarray(p["accelerators"])}


def lab_prediction(hardware: str, active_params, accelerators, batch, *,
                   total_params=None, bytes_per_param=2.0, kv_cache_per_token,
                   context_tokens, spec_tokens_per_step=1.0, input_tokens=0.0,
                   output_tokens=None, scenario="serving", draws: int = 10_000,
                   seed=0, normals: dict | None = None) -> xr.Dataset:
    """Accelerator energy per output token at a lab configuration, over the scenario's draws of
    the hardware inputs (power fractions, efficiencies) of ``hardware``.

    ``active_params`` / ``total_params`` in billions, ``accelerators`` on the instance,
    ``batch`` concurrent requests, ``kv_cache_per_token`` (kB), ``context_tokens`` the mean
    context during decode. With ``output_tokens`` the prefill of ``input_tokens`` per
    request is spread over its output tokens (a bench that divides all GPU energy by output
    tokens); by default the prediction is decode only. Returns a Dataset over ``draw`` with
    ``energy_accelerator_j_per_token`` (J per output token, accelerators only, no host, no
    PUE). The draws use the same named streams as ``simulate`` (``QUANTITY/hardware``), so a
    run and this prediction with the same seed share the hardware draws. ``normals``: the
    standard normals of those streams (name -> (draws,)), given instead of drawn from
    ``seed`` (calibration evaluates the prediction at its particles).
    """
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if sc.attribution != "serving":
        raise InputError(f"scenario '{sc.name}' has attribution '{sc.attribution}'; "
                         f"lab predictions need the serving attribution")
    draws = int(draws)
    ss = rng.normalize_seed(seed)
    vals = {}
    for q, arg in HARDWARE_INPUTS.items():
        prior = sc.priors.get(q, {}).get((hardware,))
        if prior is None:
            known = ", ".join(k[0] for k in sc.priors.get(q, {}))
            raise PriorsError(f"no [{q}.\"{hardware}\"] prior; known hardware: {known}",
                              sc.files[0])
        vals[arg] = prior.draws(draws, ss, normals)
    total = active_params if total_params is None else total_params
    p = fp.serving_parameters(active_params=active_params,
                              moe_total_ratio=np.asarray(total, float) / active_params,
                              bytes_per_param=bytes_per_param, kv_cache_kb=kv_cache_per_token,
                              spec_tokens=spec_tokens_per_step, accelerators=accelerators,
                              **vals)
    e = fp.decode_energy_per_token_j(float(batch), np.asarray(context_tokens, float), p)
    if output_tokens is not None:
        e = e + np.asarray(input_tokens, float) * p["prefill_s_per_token"] * \
            p["power_high_w"] / np.asarray(output_tokens, float)
    return xr.Dataset(
        {"energy_accelerator_j_per_token": ("draw", np.broadcast_to(e, (draws,)).copy(), {
            "units": "J/token", "long_name": "accelerator energy per output token (decode)"})},
        coords={"draw": np.arange(draws)},
        attrs={"scenario": sc.name, "hardware": hardware, "accelerators": float(accelerators),
               "batch": float(batch), "active_params_billion": float(active_params),
               "seed": rng.seed_record(ss)})
