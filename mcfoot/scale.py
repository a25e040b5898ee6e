"""Fleet scaling: per-query footprints -> annual totals of a service, with everyday equivalents.

A draw of :func:`mcfoot.simulate` is one query under one set of assumptions (PUE, power,
utilization, ...). A year of a service averages over hundreds of billions of queries, so the
query-to-query spread (latency and speed) averages out and only the assumptions stay
uncertain. :func:`expected_per_query` therefore replaces each draw's own query time by the
mean query time of its catalogue row (energy, carbon and water are proportional to the query
time given the assumptions):

    E[energy | assumptions of draw d] = energy[d] * mean_d(hours) / hours[d]

with ``hours = (latency_s + output_tokens / speed) / 3600`` and the mean taken over the draws
of the result (a Monte Carlo estimate of the row's mean query time).

:func:`scale` multiplies that by a query volume and a prompt mix and divides by everyday
equivalents. Every constant comes from ``mcfoot/data/scaling.toml`` (value, unit, source,
and the study's value where it differs from the primary source).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import xarray as xr

from . import footprint as fp_eq
from . import provenance, variables as V
from ._validate import choice, is_number, positive_number, probability
from ._validate import prompt_mix as valid_prompt_mix
from .errors import InputError

__all__ = ["BASES", "CONSTANT_SETS", "Equivalent", "TOTALS", "UTILIZATIONS",
           "everyday_equivalents", "expected_per_query", "load_constants", "query_hours",
           "scale", "summary_rows",
           "variables"]

#: Unit conversions (definitions, not assumptions).
WH_PER_MWH = 1e6
WH_PER_KWH = 1e3
MWH_PER_GWH = 1e3
KWH_PER_MWH = 1e3
ML_PER_KL = 1e6  # millilitres per kilolitre
KL_PER_MEGALITRE = 1e3
G_PER_T = 1e6

#: Base unit of each annual total that equivalents divide, and how equivalents' units start.
BASES = {"electricity": ("electricity_kwh", "kWh/"), "water": ("water_kl", "kL/"),
         "carbon": ("carbon_t", "t CO2e/")}
UTILIZATIONS = {"combined": "energy_wh", "min": "energy_min_wh", "max": "energy_max_wh"}
CONSTANT_SETS = ("primary", "study")
#: Annual totals (the registry's, ``mcfoot.variables.TOTALS``): name -> Variable.
TOTALS = V.TOTALS


@dataclass(frozen=True)
class Equivalent:
    """One everyday equivalent from ``scaling.toml``."""

    name: str
    quantity: str
    value: float
    study_value: float
    unit: str
    counts: str
    long_name: str
    source: str
    note: str = ""


@cache
def load_constants() -> dict:
    """The parsed, validated ``scaling.toml`` (cached): ``study_case``, ``conversion``,
    ``equivalents`` (name -> :class:`Equivalent`)."""
    src = "mcfoot/data/scaling.toml"
    with resources.files("mcfoot.data").joinpath("scaling.toml").open("rb") as f:
        raw = tomllib.load(f)
    problems, eqs = [], {}
    for name, e in raw.get("equivalent", {}).items():
        q = e.get("quantity")
        if q not in BASES:
            problems.append(f"[equivalent.{name}] quantity must be one of {sorted(BASES)}")
            continue
        if not str(e.get("unit", "")).startswith(BASES[q][1]):
            problems.append(f"[equivalent.{name}] unit must start with {BASES[q][1]!r}")
        for k in ("value", "study_value"):
            if not is_number(e.get(k)) or not e[k] > 0:
                problems.append(f"[equivalent.{name}] {k} must be a positive number")
        if not e.get("source"):
            problems.append(f"[equivalent.{name}] needs a source")
        eqs[name] = Equivalent(name=name, quantity=q, value=float(e.get("value", math.nan)),
                               study_value=float(e.get("study_value", math.nan)),
                               unit=e.get("unit", ""), counts=e.get("counts", ""),
                               long_name=e.get("long_name", name), source=e.get("source", ""),
                               note=e.get("note", ""))
    if problems:
        raise InputError(problems, src)
    return {"study_case": raw["study_case"], "conversion": raw["conversion"],
            "equivalents": eqs}


def variables() -> dict[str, str]:
    """Every per-draw variable :func:`scale` returns, name -> units (for claims files)."""
    out = {k: v.units for k, v in TOTALS.items()}
    for name, e in load_constants()["equivalents"].items():
        out[name] = e.counts
    out["forest_km2"] = "km2"
    return out


def query_hours(tree: xr.DataTree) -> xr.DataArray:
    """Node time of each query (h) over (draw, model, prompt), from the tree's inputs."""
    if "inputs" not in tree.children or "catalogue" not in tree.children:
        raise InputError("the result has no 'inputs'/'catalogue' group; give a result of "
                         "mcfoot.simulate or `mcfoot run`")
    inp, cat = tree["inputs"].to_dataset(), tree["catalogue"].to_dataset()
    tokens = cat["output_tokens"].sel(model=inp["model"], prompt=inp["prompt"])
    h = fp_eq.query_hours(inp["latency_s"], tokens, inp["speed_tokens_per_s"])
    return h.drop_vars([c for c in h.coords if c not in ("draw", "model", "prompt")])


def expected_per_query(tree: xr.DataTree, variable: str = "energy_wh",
                       statistic: str = "mean") -> xr.DataArray:
    """Per draw, the ``statistic`` (``"mean"`` or ``"median"``) of a per-query footprint over
    queries given the draw's assumptions.

    ``variable`` is any footprint variable over (draw, model, prompt) (``energy_wh``,
    ``carbon_g``, ``water_ml``, ..., ``energy_min_wh``). Uses the proportionality of every
    footprint to the query time (see the module docstring): the draw's own query time is
    replaced by the mean (or median) query time of its row. Units are kept.
    """
    if statistic not in ("mean", "median"):
        raise InputError(f"statistic must be 'mean' or 'median', got {statistic!r}")
    fp = tree["footprint"].to_dataset()
    if variable not in fp.data_vars or set(fp[variable].dims) != {"draw", "model", "prompt"}:
        have = [v for v in fp.data_vars if set(fp[v].dims) == {"draw", "model", "prompt"}]
        raise InputError(f"the result has no footprint variable {variable!r}; "
                         f"use one of {', '.join(have)}")
    h = query_hours(tree)
    typical = h.mean("draw") if statistic == "mean" else h.median("draw")
    x = fp[variable] * (typical / h)
    x.attrs = dict(fp[variable].attrs)
    x.attrs["long_name"] = (fp[variable].attrs.get("long_name", variable) +
                            f", {statistic} over queries given the draw's assumptions")
    return x


def everyday_equivalents(energy_wh, water_ml, carbon_g, constants: str = "primary") -> dict:
    """Everyday equivalents (``scaling.toml``) of totals in Wh, mL and g CO2e (arrays):
    name -> (values, attrs with units, constant, its unit and source)."""
    choice("constants", constants, CONSTANT_SETS)
    c = load_constants()
    base = {"electricity": np.asarray(energy_wh, float) / WH_PER_KWH,
            "water": np.asarray(water_ml, float) / ML_PER_KL,
            "carbon": np.asarray(carbon_g, float) / G_PER_T}
    out = {}
    for name, e in c["equivalents"].items():
        value = e.value if constants == "primary" else e.study_value
        out[name] = (base[e.quantity] / value,
                     {"units": e.counts, "long_name": e.long_name, "constant": value,
                      "constant_unit": e.unit, "constant_set": constants, "source": e.source,
                      "note": e.note})
    conv = c["conversion"]["km2_per_acre"]
    out["forest_km2"] = (out["forest_acres"][0] * conv["value"],
                         {"units": "km2", "long_name": "forest area offsetting the carbon",
                          "constant": conv["value"], "constant_unit": conv["unit"],
                          "source": conv["source"]})
    return out


def scale(tree: xr.DataTree, model: str | None = None, queries_per_day: float | None = None,
          prompt_mix: dict[str, float] | None = None, days: float = 365, ci_prob: float = 0.95,
          *, queries_per_year: float | None = None, utilization: str = "combined",
          constants: str = "primary") -> xr.Dataset:
    """Annual (period) footprint of serving ``model`` at a query volume, with equivalents.

    Parameters
    ----------
    tree : a result of :func:`mcfoot.simulate` (or read from a file of ``mcfoot run``).
    model : catalogue model id (default: the study's case, ``gpt-4o-mar``).
    queries_per_day : queries per day (default: the study's 7e8 unless ``queries_per_year``
        is given); the period volume is ``queries_per_day * days``.
    prompt_mix : prompt -> share, summing to 1 (default: the study's short 0.8, medium 0.2).
    days : length of the period (d).
    ci_prob : probability of the equal-tailed intervals.
    queries_per_year : total volume of the period instead of ``queries_per_day * days``
        (e.g. the study's 772e9 for 2025, whose growth curve is unpublished).
    utilization : ``"combined"`` (``energy_wh``), or ``"min"`` / ``"max"`` for the study's
        utilization bounds (``energy_min_wh`` / ``energy_max_wh``; band scenarios only).
    constants : ``"primary"`` (primary sources) or ``"study"`` (the study's values).

    Returns
    -------
    Dataset with, per draw (dim ``draw``), ``per_query_wh``, ``electricity_mwh``,
    ``electricity_gwh``, ``water_site_kl``, ``water_source_kl``, ``water_kl``,
    ``water_megalitres``, ``carbon_t`` and the equivalents (``us_households``,
    ``people_drinking_water``, ``olympic_pools``, ``gasoline_cars``,
    ``transatlantic_flights``, ``forest_acres``, ``forest_km2``), each with ``units``,
    ``long_name`` and (equivalents) the constant, its unit and source; and for each ``X``
    the summaries ``X_mean``, ``X_median`` and ``X_ci`` (over ``ci_bound`` = lower, upper).
    The totals average over queries (see :func:`expected_per_query`), so their spread is
    the uncertainty of the assumptions, not of single queries.
    """
    c = load_constants()
    model, prompt_mix, ci_prob = _options(c["study_case"], model, prompt_mix, ci_prob,
                                          utilization, constants)
    n, days = _volume(c["study_case"], queries_per_day, queries_per_year, days)
    energy, mix = _energy_of_mix(tree, model, utilization, prompt_mix)
    fp = tree["footprint"].to_dataset()
    out = _total_draws(_totals(energy, fp.sel(model=model), n), fp["draw"].values)
    _equivalents(out, c, constants)
    _summaries(out, ci_prob)
    out.attrs = provenance.stamp(
        "scale", tree.attrs, model=model, queries=n, queries_units="queries over the period",
        days=days if queries_per_year is None else math.nan,
        prompt_mix=", ".join(f"{p}={v:g}" for p, v in mix.items()),
        utilization=utilization, constants=constants, ci_prob=ci_prob,
        scenario=str(tree.attrs.get("scenario", "")), draws=int(fp.sizes["draw"]),
        note="totals average over queries given each draw's assumptions")
    return out


def _total_draws(totals: dict, draw) -> xr.Dataset:
    """A Dataset over ``draw`` of the totals :data:`TOTALS` lists, with their attrs."""
    out = xr.Dataset(coords={"draw": draw})
    for name, x in totals.items():
        if name in TOTALS:
            out[name] = ("draw", np.asarray(x.values, float), TOTALS[name].attrs)
    return out


def _options(case: dict, model, prompt_mix, ci_prob, utilization, constants):
    """:func:`scale`'s model and prompt mix (default: the study's case) and its checked
    ``ci_prob``; ``utilization`` and ``constants`` checked against the known ones."""
    model = case["model"] if model is None else model
    if prompt_mix is None:
        prompt_mix = {k: v for k, v in case["prompt_mix"].items()
                      if k not in ("unit", "source", "note")}
    ci_prob = probability("ci_prob", ci_prob)
    choice("utilization", utilization, UTILIZATIONS)
    choice("constants", constants, CONSTANT_SETS)
    return model, prompt_mix, ci_prob


def _volume(case, queries_per_day, queries_per_year, days) -> tuple[float, float]:
    """(queries over the period, days) from a daily volume and days, or a total."""
    days = positive_number("days", days)
    if queries_per_year is not None:
        if queries_per_day is not None:
            raise InputError("give queries_per_day (with days) or queries_per_year, not both")
        return positive_number("queries_per_year", queries_per_year), days
    qpd = case["queries_per_day"]["value"] if queries_per_day is None else queries_per_day
    return positive_number("queries_per_day", qpd) * days, days


def _energy_of_mix(tree, model, utilization, prompt_mix) -> tuple[xr.DataArray, dict]:
    """Mean facility energy per query of the prompt mix (Wh, per draw), and the mix."""
    fp = tree["footprint"].to_dataset()
    models = [str(m) for m in fp.model.values]
    if model not in models:
        raise InputError(f"model {model!r} is not in this result; simulate it (models=None "
                         f"or include it); have: {', '.join(models[:6])}"
                         f"{', ...' if len(models) > 6 else ''}")
    var = UTILIZATIONS[utilization]
    if var not in fp.data_vars:
        raise InputError(f"utilization={utilization!r} needs {var!r}, which only band "
                         f"scenarios (e.g. 'paper') produce; use utilization='combined'")
    energy = expected_per_query(tree, var).sel(model=model)
    prompts = [str(p) for p in fp.prompt.values]
    present = {p: bool(np.isfinite(energy.sel(prompt=p).values).all()) for p in prompts}
    mix = valid_prompt_mix(prompt_mix, prompts, present, model)
    used = [p for p, w in mix.items() if w > 0]
    w = xr.DataArray([mix[p] for p in used], dims="prompt", coords={"prompt": used})
    return (energy.sel(prompt=used) * w).sum("prompt"), mix


def _totals(e_wh: xr.DataArray, f: xr.Dataset, n: float) -> dict[str, xr.DataArray]:
    """Period totals of ``n`` queries of mean facility energy ``e_wh`` (Wh) at the host
    factors ``f`` of the model, by the study's equations (``footprint.py``)."""
    it_wh = fp_eq.it_from_facility_wh(e_wh, f["pue"])
    tot = {
        "per_query_wh": e_wh,
        "electricity_mwh": e_wh * n / WH_PER_MWH,
        "water_site_kl": fp_eq.water_site_ml(it_wh, f["wue_site_l_per_kwh"]) * n / ML_PER_KL,
        "water_source_kl": fp_eq.water_source_ml(e_wh, f["wue_source_l_per_kwh"]) * n
        / ML_PER_KL,
        "carbon_t": fp_eq.carbon_g(e_wh, f["cif_kg_per_kwh"]) * n / G_PER_T,
    }
    tot["electricity_gwh"] = tot["electricity_mwh"] / MWH_PER_GWH
    tot["water_kl"] = tot["water_site_kl"] + tot["water_source_kl"]
    tot["water_megalitres"] = tot["water_kl"] / KL_PER_MEGALITRE
    tot["electricity_kwh"] = tot["electricity_mwh"] * KWH_PER_MWH
    return tot


def _equivalents(out: xr.Dataset, c: dict, constants: str) -> None:
    """Add the everyday equivalents of the totals in ``out`` (in place)."""
    for name, (values, attrs) in everyday_equivalents(
            out["electricity_mwh"].values * WH_PER_MWH, out["water_kl"].values * ML_PER_KL,
            out["carbon_t"].values * G_PER_T, constants).items():
        out[name] = ("draw", values, attrs)


def _summaries(out: xr.Dataset, ci_prob: float) -> None:
    """Add ``X_mean``, ``X_median`` and ``X_ci`` of every per-draw variable (in place)."""
    a = (1 - ci_prob) / 2
    for name in list(out.data_vars):
        x = out[name].values
        units = out[name].attrs["units"]
        out[f"{name}_mean"] = ((), float(x.mean()), {"units": units})
        out[f"{name}_median"] = ((), float(np.median(x)), {"units": units})
        out[f"{name}_ci"] = ("ci_bound", np.quantile(x, [a, 1 - a]),
                             {"units": units, "ci_kind": "eti", "ci_prob": ci_prob})
    out.coords["ci_bound"] = ["lower", "upper"]


def summary_rows(ds: xr.Dataset) -> list[dict]:
    """Rows (name, units, mean, median, lower, upper, constant, source) of a :func:`scale`
    result, in order: totals then equivalents."""
    rows = []
    for name in [v for v in ds.data_vars if ds[v].dims == ("draw",)]:
        lo, hi = (float(x) for x in ds[f"{name}_ci"].values)
        a = ds[name].attrs
        rows.append({"name": name, "units": a["units"], "long_name": a.get("long_name", ""),
                     "mean": float(ds[f"{name}_mean"]), "median": float(ds[f"{name}_median"]),
                     "lower": lo, "upper": hi, "constant": a.get("constant"),
                     "constant_unit": a.get("constant_unit"), "source": a.get("source")})
    return rows
