"""The variable registry: one declaration per variable a mcfoot result holds.

Every per-query output, per-model host factor and sampled row input of a
:func:`mcfoot.simulate` result is declared once here, with its ``units`` (a string pint
parses once :data:`PINT_DEFINITIONS` are loaded: ``CO2e`` is a unit of its own, so
``"g CO2e"`` and ``"kg CO2e/kWh"`` parse and convert), its ``long_name`` and the key of the
kernel output (:func:`mcfoot.simulate.evaluate`) that feeds it. Everything else derives from
this table: the DataTree of ``simulate`` and ``simulate_range``, CF attrs at write time
(``io``), summaries, claims' units, Sobol' indices, streaming, the CLI's choices and plots'
axis labels.

Adding an output variable: declare it in :data:`FOOTPRINT` (name, units, long_name,
``kernel_key``), compute ``out[kernel_key]`` in the kernel (``_kernels.py``) and its NumPy
twin (``footprint.py``), and test it. Nothing else changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from .errors import InputError

__all__ = [
    "BAND", "BENCH", "FOOTPRINT", "HOST", "PINT_DEFINITIONS", "QUANTITIES", "Quantity",
    "ROW_INPUTS", "SERVING", "TOTALS", "UNIT_SUFFIXES", "VARIABLES", "Variable",
    "attrs", "axis_label", "footprint_names", "headline_names", "kernel_keys", "per_query",
    "row_kernel_keys", "select_per_query", "study_input_names", "unit_registry", "units", "VARIANTS_KEY",
]

#: pint definitions for the units mcfoot writes that pint does not know (each defined once).
#: CO2e is a dimension of its own: "g CO2e" is a mass of CO2-equivalent.
PINT_DEFINITIONS = (
    "CO2e = [co2_equivalent]",
    "token = [token]",
    "GPU = [accelerator]",
    "request = [request]",
    "parameter = [parameter]",  # model weights (serving: Gparameter = 1e9 of them)
    "FLOP = [floating_point_operation]",
    "step = [decode_step]",
)

@dataclass(frozen=True)
class Quantity:
    """What a prior quantity is: the scope its keys name (``priors.SCOPES``), its unit, the
    bounds every prior of it must respect, and what it means. Every prior of a scenario file
    is of one of these quantities (``mcfoot.priors``); the sampled ones are written to a
    result's ``inputs`` group with these units and long names."""

    scope: str
    unit: str
    low: float
    high: float
    low_open: bool = False
    long_name: str = ""

    def bounds_text(self) -> str:
        lo = f"{'>' if self.low_open else '>='} {self.low:g}"
        return lo if math.isinf(self.high) else f"in [{self.low:g}, {self.high:g}]"


INF = math.inf
QUANTITIES: dict[str, Quantity] = {
    "gpu_node_power": Quantity("hardware", "kW", 0, INF, long_name="rated accelerator power of a node"),
    "nongpu_node_power": Quantity("hardware", "kW", 0, INF, long_name="rated non-accelerator power of a node"),
    "gpu_power_factor": Quantity("hardware", "1", 0, INF, long_name="actual over study-assumed accelerator power"),
    "gpu_util_min": Quantity("combo", "1", 0, 1, long_name="attributed accelerator share, study minimum"),
    "gpu_util_max": Quantity("combo", "1", 0, 1, long_name="attributed accelerator share, study maximum"),
    "gpu_util": Quantity("combo", "1", 0, 1, long_name="attributed accelerator share"),
    "nongpu_util": Quantity("combo", "1", 0, 1, long_name="attributed non-accelerator share"),
    "gpus": Quantity("combo", "GPUs", 1, INF, long_name="accelerators allocated to one model instance"),
    "batch_size": Quantity("combo", "requests", 1, INF, long_name="concurrent requests sharing an instance"),
    "gpus_per_node": Quantity("hardware", "GPUs", 1, INF, long_name="accelerators per node"),
    "node_share": Quantity("combo", "1", 0, 1, long_name="share of a node's time held by one query (allocated accelerators / node / batch)"),
    "embodied_accelerator": Quantity("hardware", "kg CO2e", 0, INF, long_name="manufacturing emissions per accelerator"),
    "embodied_node": Quantity("hardware", "kg CO2e", 0, INF, long_name="manufacturing emissions of a node without its accelerators"),
    "hardware_lifetime": Quantity("hardware", "yr", 0, INF, low_open=True, long_name="service lifetime of the hardware"),
    "fleet_utilisation": Quantity("hardware", "1", 0, 1, low_open=True, long_name="share of the lifetime the hardware serves queries"),
    "gpu_power_fraction": Quantity("hardware", "1", 0, 1, long_name="accelerator power draw over rated power"),
    "host_load": Quantity("hardware", "1", 0, 1, long_name="non-accelerator power draw over rated power"),
    "idle_fraction": Quantity("hardware", "1", 0, INF, long_name="idle provisioned power over active (accelerator + host) power"),
    "pue": Quantity("host", "1", 1, INF, long_name="power usage effectiveness"),
    "wue_site": Quantity("host", "L/kWh", 0, INF, long_name="on-site water use effectiveness (per IT kWh)"),
    "wue_source": Quantity("host", "L/kWh", 0, INF, long_name="off-site water intensity of electricity"),
    "cif": Quantity("host", "kg CO2e/kWh", 0, INF, long_name="grid carbon intensity (location-based)"),
    "cif_market": Quantity("host", "kg CO2e/kWh", 0, INF, long_name="market-based carbon intensity of the host's electricity (net of PPAs/RECs)"),
    # serving attribution (see priors/serving.toml and footprint.serving_parameters)
    "active_params": Quantity("model", "Gparameter", 0, INF, low_open=True, long_name="parameters active per token (billions)"),
    "moe_total_ratio": Quantity("model", "1", 1, INF, long_name="total over active parameters (1 = dense)"),
    "bytes_per_param": Quantity("model", "bytes", 0, INF, low_open=True, long_name="bytes per served weight"),
    "kv_cache_per_token": Quantity("model", "kB/token", 0, INF, low_open=True, long_name="KV-cache bytes per context token"),
    "spec_tokens_per_step": Quantity("model", "tokens/step", 1, INF, long_name="tokens accepted per decode step (speculative decoding)"),
    "parallelism_factor": Quantity("model", "1", 1, INF, long_name="accelerators per instance over the memory minimum"),
    "hardware_choice": Quantity("model", "1", 0, INF, long_name="accelerator the model is served on (index into classes)"),
    "accelerator_tdp": Quantity("hardware", "W", 0, INF, low_open=True, long_name="rated power of one accelerator"),
    "accelerator_memory": Quantity("hardware", "GB", 0, INF, low_open=True, long_name="memory of one accelerator"),
    "memory_bandwidth": Quantity("hardware", "TB/s", 0, INF, low_open=True, long_name="peak memory bandwidth of one accelerator"),
    "peak_flops": Quantity("hardware", "TFLOP/s", 0, INF, low_open=True, long_name="dense 16-bit peak compute of one accelerator"),
    "bandwidth_efficiency": Quantity("hardware", "1", 0, 1, low_open=True, long_name="achieved over peak memory bandwidth in decode"),
    "compute_efficiency": Quantity("hardware", "1", 0, 1, low_open=True, long_name="achieved over peak compute"),
    "power_fraction_memory_bound": Quantity("hardware", "1", 0, 1, long_name="accelerator power over TDP while streaming weights"),
    "power_fraction_compute_bound": Quantity("hardware", "1", 0, 1, long_name="accelerator power over TDP in per-sequence compute"),
    "host_power_per_accelerator": Quantity("hardware", "W", 0, INF, long_name="host (CPU, DRAM, network) power per accelerator"),
    "memory_utilization": Quantity("hardware", "1", 0, 1, low_open=True, long_name="share of accelerator memory the server may use"),
    "weight_memory_share": Quantity("hardware", "1", 0, 1, low_open=True, long_name="largest share of usable memory given to weights"),
    "max_batch": Quantity("hardware", "requests", 1, INF, long_name="scheduler's cap on concurrent sequences"),
    "batch_occupancy": Quantity("hardware", "1", 0, 1, low_open=True, long_name="running batch in production over the scheduler's cap"),
    "model_effect": Quantity("model", "1", -INF, INF, long_name="the model's standardised effect off the bench physics (Student-t draw)"),
    "model_effect_scale": Quantity("model", "1", 0, INF, low_open=True, long_name="learned model-to-model scale of log accelerator energy off the bench physics"),
    "config_residual": Quantity("model", "1", -INF, INF, long_name="the model's standardised residual off the bench physics (Student-t draw)"),
    "residual_scale": Quantity("model", "1", 0, INF, low_open=True, long_name="learned configuration residual scale of log accelerator energy off the bench physics"),
    "latency": Quantity("row", "s", 0, INF, long_name="time to first chunk"),
    "speed": Quantity("row", "tokens/s", 0, INF, low_open=True, long_name="output speed"),
}


DRAW_MODEL_PROMPT = ("draw", "model", "prompt")
#: Kernel output holding the facility energy per utilization variant (V, slot, draw).
VARIANTS_KEY = "energy_variants"


@dataclass(frozen=True)
class Variable:
    """One variable of a result.

    ``group``: DataTree group (``footprint`` or ``inputs``); ``dims``: its dimensions;
    ``kernel_key``: key of the sampler's output dict (``simulate.evaluate``) that holds it
    over (slot, draw); ``quantity``: the prior quantity (``priors.QUANTITIES``) whose draws
    it is, for host factors and row inputs; ``band``: for the study's utilization band,
    which variant (``"min"``/``"max"``) of ``kernel_key`` it is; ``headline``: shown by
    default in the CLI summary and used by the ``"footprint"`` rank preset; ``study_input``:
    one of the study's DEA inputs (the ``"study"`` rank preset).
    """

    name: str
    units: str
    long_name: str
    group: str = "footprint"
    dims: tuple[str, ...] = DRAW_MODEL_PROMPT
    kernel_key: str | None = None
    quantity: str | None = None
    band: str | None = None
    headline: bool = False
    study_input: bool = False

    @property
    def attrs(self) -> dict[str, str]:
        """CF attributes (``units``, ``long_name``)."""
        return {"units": self.units, "long_name": self.long_name}


def _host(name: str, quantity: str, study_input: bool = True) -> Variable:
    q = QUANTITIES[quantity]
    return Variable(name, q.unit, f"{q.long_name} of the model's host (per draw)",
                    dims=("draw", "model"), quantity=quantity, study_input=study_input)


#: Per-query footprints over (draw, model, prompt), in the order results list them.
FOOTPRINT: dict[str, Variable] = {v.name: v for v in (
    Variable("energy_wh", "Wh", "facility energy per query",
             kernel_key="energy", headline=True, study_input=True),
    Variable("carbon_g", "g CO2e", "operational carbon per query (location-based)",
             kernel_key="carbon", headline=True),
    Variable("water_site_ml", "mL", "on-site water per query", kernel_key="water_site"),
    Variable("water_source_ml", "mL", "off-site (electricity) water per query",
             kernel_key="water_source"),
    Variable("water_ml", "mL", "total water per query", kernel_key="water", headline=True),
    # energy by boundary (accelerator + host + idle = IT, exactly; IT x PUE = energy_wh)
    Variable("energy_accelerator_wh", "Wh", "accelerator energy per query (no host, no PUE)",
             kernel_key="energy_accelerator"),
    Variable("energy_host_wh", "Wh", "host (CPU, DRAM, network) energy per query (no PUE)",
             kernel_key="energy_host"),
    Variable("energy_idle_wh", "Wh", "idle provisioned capacity's energy attributed to one "
             "query (no PUE)", kernel_key="energy_idle"),
    Variable("energy_it_wh", "Wh", "IT energy per query (accelerator + host + idle)",
             kernel_key="energy_it"),
    # carbon by accounting method (carbon_g: location-based operational)
    Variable("carbon_market_g", "g CO2e", "operational carbon per query (market-based)",
             kernel_key="carbon_market"),
    Variable("carbon_embodied_g", "g CO2e", "hardware manufacturing carbon amortised to one "
             "query", kernel_key="carbon_embodied"),
)}
#: The study's two utilization bounds (band scenarios only): variants of ``energy``.
BAND: dict[str, Variable] = {v.name: v for v in (
    Variable(f"energy_{b}_wh", "Wh", f"facility energy per query at u_gpu = {b}",
             kernel_key=VARIANTS_KEY, band=b) for b in ("min", "max"))}
#: Per-draw host factors of each model (footprint group, over (draw, model)).
HOST: dict[str, Variable] = {v.name: v for v in (
    _host("pue", "pue"), _host("wue_site_l_per_kwh", "wue_site"),
    _host("wue_source_l_per_kwh", "wue_source"), _host("cif_kg_per_kwh", "cif"),
    _host("cif_market_kg_per_kwh", "cif_market", study_input=False))}
#: Row-scoped sampled inputs (inputs group, over (draw, model, prompt)).
ROW_INPUTS: dict[str, Variable] = {v.name: v for v in (
    Variable("latency_s", "s", "time to first chunk", group="inputs", kernel_key="latency",
             quantity="latency"),
    Variable("speed_tokens_per_s", "tokens/s", "output speed", group="inputs",
             kernel_key="speed", quantity="speed"),
)}
#: Derived inputs (not sampled; left out of sensitivity and driver analyses).
DERIVED: dict[str, Variable] = {v.name: v for v in (
    Variable("power_kw", "kW", "active (accelerator + host) node power attributed to one "
             "query", group="inputs",
             dims=("draw", "size_class_hardware", "bound")),
)}
#: Derived inputs of the serving attribution (``priors/serving.toml``; not sampled, left out
#: of sensitivity and driver analyses), keyed like the sampler's outputs and group values.
SERVING: dict[str, Variable] = {v.name: v for v in (
    Variable("batch", "request", "concurrent requests on the instance implied by the sampled "
             "speed (serving physics)", group="inputs", kernel_key="batch"),
    Variable("accelerators", "GPU", "accelerators per model instance (memory minimum x "
             "parallelism)", group="inputs", dims=("draw", "model"), kernel_key="accelerators"),
    Variable("hardware_index", "1", "index into the inputs' hardware coordinate of the "
             "accelerator the model is served on", group="inputs", dims=("draw", "model"),
             kernel_key="hardware_index"),
)}
#: Fleet totals of :func:`mcfoot.scale.scale` over its period (per draw; ``scale`` group of
#: no result tree: the Dataset ``scale`` returns).
TOTALS: dict[str, Variable] = {v.name: v for v in (
    Variable(name, units, long_name, group="scale", dims=("draw",)) for name, units, long_name in (
        ("per_query_wh", "Wh", "mean facility energy per query of the prompt mix"),
        ("electricity_mwh", "MWh", "facility electricity over the period"),
        ("electricity_gwh", "GWh", "facility electricity over the period"),
        ("water_site_kl", "kL", "on-site water over the period"),
        ("water_source_kl", "kL", "off-site (electricity) water over the period"),
        ("water_kl", "kL", "total water (site + source) over the period"),
        ("water_megalitres", "ML", "total water (site + source) over the period, megalitres"),
        ("carbon_t", "t CO2e", "operational carbon over the period")))}
#: Outputs of a bench prediction (``mcfoot.bench``, over (config, draw)): GPU boundary, bench
#: conditions, prefill inside.
BENCH: dict[str, Variable] = {v.name: v for v in (
    Variable("energy_per_request_j", "J/request", "GPU energy per request (prefill inside)",
             group="bench", dims=("config", "draw")),
    Variable("energy_per_token_j", "J/token", "GPU energy per output token (prefill inside)",
             group="bench", dims=("config", "draw")),
    Variable("avg_power_w", "W", "mean power of the instance's GPUs together", group="bench",
             dims=("config", "draw")),
    Variable("running_batch", "request", "running batch the bench physics implies (the "
             "scheduler's cap or what the KV cache holds)", group="bench",
             dims=("config", "draw")),
)}
#: Every declared variable of a result by name (the fleet totals are ``scale``'s own).
VARIABLES: dict[str, Variable] = {**FOOTPRINT, **BAND, **HOST, **ROW_INPUTS, **DERIVED,
                                  **SERVING, **BENCH}


def _suffix(units: str) -> str:
    """The name suffix that spells ``units``: ``"L/kWh"`` -> ``"_l_per_kwh"`` (CO2e left
    out: ``"g CO2e"`` -> ``"_g"``)."""
    return "_" + units.replace(" CO2e", "").replace("/", "_per_").lower()


#: (name suffix, units) of every unit a sampler variable's name ends with, longest suffix
#: first: the units of a numeric variable written without them (``io``), and the part
#: ``plots`` strips from a name to say it in words.
UNIT_SUFFIXES: tuple[tuple[str, str], ...] = tuple(sorted(
    {_suffix(v.units): v.units for v in VARIABLES.values()
     if v.name.endswith(_suffix(v.units)) and len(v.name) > len(_suffix(v.units))}.items(),
    key=lambda su: -len(su[0])))


def footprint_names(band: bool = False) -> tuple[str, ...]:
    """Names of the per-query footprints (with the band variants when ``band``)."""
    return tuple(FOOTPRINT) + (tuple(BAND) if band else ())


def select_per_query(names=None, band: bool = False) -> tuple[str, ...]:
    """Validated per-query footprint names (a name or a sequence; ``None``: every footprint
    of :func:`footprint_names` with the band variants when ``band``), registry order kept
    as given; one InputError naming the unknown ones and the known ones."""
    known = footprint_names(band=band)
    if names is None:
        return known
    names = (names,) if isinstance(names, str) else tuple(names)
    bad = [v for v in names if v not in known]
    if bad or not names:
        raise InputError(f"unknown footprint variable(s) {', '.join(map(str, bad)) or '(none given)'}"
                         f"; known: {', '.join(known)}")
    return tuple(dict.fromkeys(names))


def per_query() -> dict[str, Variable]:
    """Every per-query footprint a result may hold (footprints and band variants)."""
    return {**FOOTPRINT, **BAND}


def study_input_names() -> tuple[str, ...]:
    """The study's DEA inputs (energy and the four host factors), in registry order."""
    return tuple(n for n, v in VARIABLES.items() if v.study_input)


def headline_names() -> tuple[str, ...]:
    """The headline footprints (energy, water, carbon) in display order."""
    order = ("energy_wh", "water_ml", "carbon_g")
    return tuple(n for n in order if FOOTPRINT[n].headline)


def kernel_keys() -> tuple[str, ...]:
    """Keys of the sampler's per-(slot, draw) footprint outputs, in registry order."""
    return tuple(v.kernel_key for v in FOOTPRINT.values())


def row_kernel_keys() -> tuple[str, ...]:
    """Keys of the sampler's per-(slot, draw) sampled row inputs (latency, speed)."""
    return tuple(v.kernel_key for v in ROW_INPUTS.values())


def get(name: str) -> Variable:
    """The declaration of ``name``; InputError naming the known ones otherwise."""
    try:
        return VARIABLES[name]
    except KeyError:
        raise InputError(f"unknown variable {name!r}; known: {', '.join(VARIABLES)}") from None


def units(name: str) -> str:
    """Units of a declared variable."""
    return get(name).units


def attrs(name: str) -> dict[str, str]:
    """CF attributes (``units``, ``long_name``) of a declared variable."""
    return get(name).attrs


def axis_label(name: str) -> str:
    """``long_name (units)`` of a declared variable, for a plot axis."""
    v = get(name)
    return f"{v.long_name} ({v.units})"


def unit_registry():
    """A ``pint.UnitRegistry`` that parses every unit above (needs the ``pint`` package)."""
    import pint

    ureg = pint.UnitRegistry()
    for d in PINT_DEFINITIONS:
        ureg.define(d)
    return ureg
