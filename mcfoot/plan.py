"""The run plan: a scenario resolved against (a selection of) a catalogue.

:func:`build_plan` resolves which prior applies to every (quantity, key) the selected
catalogue rows need and lays the rows out on a (model, prompt) grid of slots; the
:class:`Plan` names the random streams a run draws (:meth:`Plan.group_streams`,
:meth:`Plan.row_streams`, :func:`design_columns`). Everything downstream (``simulate``,
``estimate``, calibration's measurement model, provenance) reads a plan; nothing here draws
a random number.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import xarray as xr

from . import catalogue as cat
from ._validate import close_matches, select_ids
from .errors import InputError, PriorsError
from .priors import MODE_QUANTITIES, QUANTITIES, SCOPE_WORDS, Scenario, load_scenario, with_region
from .serving import resolve_model_priors

__all__ = ["build_plan", "design_columns", "Plan", "SCOPE_DIM"]

SCOPE_DIM = {"hardware": "hardware", "host": "host", "combo": "size_class_hardware",
             "model": "model"}

@dataclass(frozen=True)
class Plan:
    """Everything the sampler needs, resolved to arrays. Built by :func:`build_plan`."""

    scenario: Scenario
    catalogue: xr.Dataset
    models: tuple[str, ...]
    prompts: tuple[str, ...]
    present: np.ndarray  # (S,) bool over slots s = model * n_prompts + prompt
    slot_combo: np.ndarray  # (S,) int
    slot_host: np.ndarray  # (S,) int
    out_tokens: np.ndarray  # (S,) float, NaN where missing
    lat_q: np.ndarray  # (S, Q)
    spd_q: np.ndarray  # (S, Q)
    probs: np.ndarray  # (Q,)
    keys: dict  # scope -> tuple of keys (hardware names, hosts, (size class, hardware))
    combo_hw: np.ndarray  # (C,) index into keys["hardware"]
    priors: dict  # quantity -> tuple of Prior, aligned with keys[scope]
    slot_model: np.ndarray  # (S,) int, index into models
    in_tokens: np.ndarray  # (S,) float, NaN where missing

    @property
    def n_slots(self) -> int:
        return len(self.present)

    def group_streams(self) -> list[str]:
        """Names of the random streams of non-fixed group-level priors, in a stable order
        (a joint block's shared stream once, where its first prior stands)."""
        return list(dict.fromkeys(p.stream for q in self.priors for p in self.priors[q]
                                  if not p.dist.is_fixed))

    def row_streams(self, quantity: str) -> list[str]:
        """Stream names of a row-scoped quantity (``latency``/``speed``), one per slot.

        One stream per *model*, shared by its prompt sizes: within a draw a model's rows sit
        at the same quantile of their latency (and speed) distributions (the API is slow or
        fast at that moment for every prompt). This is what lets :func:`mcfoot.estimate`
        reproduce a catalogue row exactly at the row's own token counts and vary
        continuously, draw by draw, in between (common random numbers across token counts).
        """
        return [f"{quantity}/{m}" for m in self.models for _ in self.prompts]

    def row_sources(self) -> np.ndarray:
        """Per slot, the slot whose row normals it shares (:meth:`row_streams`: one stream
        per model, the same for latency and speed): its model's first present slot; an
        absent slot is its own (its normals are 0). A stream is then drawn once per model,
        into its source slot."""
        names, first = self.row_streams("latency"), {}
        src = np.arange(self.n_slots, dtype=np.int64)
        for s in np.flatnonzero(self.present):
            src[s] = first.setdefault(names[s], s)
        return src


def _select(ds: xr.Dataset, models, prompts) -> xr.Dataset:
    for name, wanted in (("model", models), ("prompt", prompts)):
        wanted = select_ids(name, wanted, ds[name].values)
        if wanted is not None:
            ds = ds.sel({name: wanted})
    ds = ds.isel(model=ds.present.any("prompt").values)
    if ds.sizes["model"] == 0:
        raise InputError("the selection has no catalogue rows")
    return ds


def _check_new_keys(sc: Scenario, ds: xr.Dataset) -> None:
    """An entry a scenario file of the user's names (a whole scenario, or what an extending
    file adds) for a host / hardware / size class that no row of the (whole) catalogue has
    would silently do nothing: it is an error, with the closest keys."""
    have = {"hardware": {(str(h),) for h in ds.hardware.values},
            "host": {(str(h),) for h in ds.host.values},
            "combo": {(str(a), str(b)) for a, b in zip(ds.size_class.values, ds.hardware.values)}}
    problems = []
    for q, key in sorted(sc.new_keys):
        scope = QUANTITIES[q].scope
        if scope not in have:  # model-scoped keys (serving): checked where they resolve
            continue
        if key in have[scope]:
            continue
        names = sorted("/".join(k) for k in have[scope])
        close = close_matches("/".join(key), names, cutoff=0.5)
        hint = f"closest: {', '.join(close)}" if close else f"known: {', '.join(names[:8])}" + \
            (", ..." if len(names) > 8 else "")
        problems.append(f"[{q}.{'.'.join(key)}] matches no {SCOPE_WORDS[scope]} of catalogue "
                        f"{ds.attrs.get('source', '(given)')} ({hint}); fix the key or remove "
                        f"the entry")
    if problems:
        raise PriorsError(problems, sc.files[0])


def build_plan(scenario: str | Path | Scenario = "default", catalogue: str | Path | xr.Dataset
               | None = None, models=None, prompts=None, region: str | None = None) -> Plan:
    """Resolve a scenario against (a selection of) a catalogue; ``region`` applies a named
    grid region to every host (:func:`mcfoot.priors.with_region`)."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    if region is not None:
        sc = with_region(sc, region)
    full = catalogue if isinstance(catalogue, xr.Dataset) else cat.load_catalogue(catalogue)
    _check_new_keys(sc, full)
    ds = _select(full, models, prompts)
    n_m, n_p = ds.sizes["model"], ds.sizes["prompt"]
    hw = [str(h) for h in ds.hardware.values]
    host = [str(h) for h in ds.host.values]
    combo = [(str(s), h) for s, h in zip(ds.size_class.values, hw)]
    models = [str(m) for m in ds.model.values]
    problems, priors, lacking = [], {}, {}
    if sc.attribution == "serving":  # model-scoped priors, and the hardware they choose
        priors, hw_keys = resolve_model_priors(sc, models, ds, problems, full)
    else:
        hw_keys = tuple(dict.fromkeys(hw))
    keys = {"hardware": hw_keys, "host": tuple(dict.fromkeys(host)),
            "combo": tuple(dict.fromkeys(combo)), "model": tuple(models)}
    idx = {s: {k: i for i, k in enumerate(v)} for s, v in keys.items()}
    slot_combo = np.repeat([idx["combo"][c] for c in combo], n_p)
    slot_host = np.repeat([idx["host"][h] for h in host], n_p)
    for q in MODE_QUANTITIES[sc.attribution]:
        scope = QUANTITIES[q].scope
        if scope in ("row", "model"):
            continue
        table = sc.priors.get(q, {})
        resolved = []
        for k in keys[scope]:
            key = k if isinstance(k, tuple) else (k,)
            if key not in table:
                lacking.setdefault((scope, key), []).append(q)
            else:
                resolved.append(table[key])
        priors[q] = tuple(resolved)
    for (scope, key), qs in lacking.items():
        k = key if scope == "combo" else key[0]
        users = [m for m, c, hh, ho in zip(ds.model.values, combo, hw, host)
                 if {"combo": c, "hardware": hh, "host": ho}[scope] == k] or \
            [m for m, ps in zip(models, priors.get("hardware_choice", ()))
             if k in ps.labels]
        label = ".".join(repr(x) if " " in x or "/" in x else x for x in key)
        problems.append(
            f"{SCOPE_WORDS[scope]} {' / '.join(key)} (used by {', '.join(users[:3])}"
            f"{', ...' if len(users) > 3 else ''} in catalogue "
            f"{ds.attrs.get('source', '(given)')}) has no prior in {', '.join(f'[{q}]' for q in qs)}"
            f"; add {', '.join(f'[{q}.{label}]' for q in qs)} to the scenario, or fix the "
            f"catalogue's {'size_class/hardware' if scope == 'combo' else scope} column")
    if problems:
        raise PriorsError(problems, sc.files[0])
    return Plan(
        scenario=sc, catalogue=ds, models=tuple(map(str, ds.model.values)),
        prompts=tuple(map(str, ds.prompt.values)),
        present=ds.present.values.reshape(-1).copy(),
        slot_combo=slot_combo.astype(np.int64), slot_host=slot_host.astype(np.int64),
        out_tokens=ds.output_tokens.values.reshape(-1).astype(float),
        lat_q=np.ascontiguousarray(ds.latency_s.values.reshape(n_m * n_p, -1), float),
        spd_q=np.ascontiguousarray(ds.speed_tokens_per_s.values.reshape(n_m * n_p, -1), float),
        probs=ds["quantile"].values.astype(float), keys=keys,
        combo_hw=np.array([idx["hardware"].get(h, -1) for _, h in keys["combo"]], np.int64),
        priors=priors, slot_model=np.repeat(np.arange(n_m, dtype=np.int64), n_p),
        in_tokens=ds.input_tokens.values.reshape(-1).astype(float))


def _row_columns(plan: Plan, quantity: str) -> tuple[list[str], np.ndarray]:
    """Distinct row streams of the present slots, and each slot's index among them (-1 if
    absent)."""
    names = plan.row_streams(quantity)
    cols = list(dict.fromkeys(names[i] for i in np.flatnonzero(plan.present)))
    at = {c: i for i, c in enumerate(cols)}
    return cols, np.array([at[n] if ok else -1 for n, ok in zip(names, plan.present)])


def design_columns(plan: Plan) -> list[str]:
    """Names of the columns a unit-space design must have, in order (see
    :func:`mcfoot.simulate.normals_from_design`): group streams, then the latency and the speed stream of
    every model with a present row."""
    return plan.group_streams() + _row_columns(plan, "latency")[0] + \
        _row_columns(plan, "speed")[0]
