"""Scenarios: TOML files declaring a prior for every uncertain input, validated whole on load.

A scenario file has a ``[meta]`` table (``schema``, ``name``, ``description``,
``attribution`` and optionally ``extends``), one table per quantity, and ``[copula.*]``
blocks. Quantities are scoped where they physically belong:

=====================  ===================  ===========  ==========================
quantity               scope (table keys)   unit         allowed values
=====================  ===================  ===========  ==========================
gpu_node_power         hardware             kW           >= 0
nongpu_node_power      hardware             kW           >= 0
gpu_power_factor       hardware             1            >= 0        (share)
gpu_util_min/max       size class.hardware  1            [0, 1]      (band)
gpu_util               size class.hardware  1            [0, 1]      (share)
nongpu_util            size class.hardware  1            [0, 1]      (band, share)
gpus                   size class.hardware  GPUs         >= 1        (physical)
batch_size             size class.hardware  requests     >= 1        (physical)
gpus_per_node          hardware             GPUs         >= 1        (physical)
gpu_power_fraction     hardware             1            [0, 1]      (physical)
host_load              hardware             1            [0, 1]      (physical)
idle_fraction          hardware             1            >= 0
node_share             size class.hardware  1            [0, 1]      (band, share)
embodied_accelerator   hardware             kg CO2e      >= 0
embodied_node          hardware             kg CO2e      >= 0
hardware_lifetime      hardware             yr           > 0
fleet_utilisation      hardware             1            (0, 1]
pue                    host                 1            >= 1
wue_site               host                 L/kWh        >= 0
wue_source             host                 L/kWh        >= 0
cif                    host                 kg CO2e/kWh  >= 0        (location-based)
cif_market             host                 kg CO2e/kWh  >= 0        (market-based)
latency                catalogue row        s            >= 0
speed                  catalogue row        tokens/s     > 0
=====================  ===================  ===========  ==========================

Each entry is ``{dist = ..., <named parameters>, unit = ..., source = ...}`` (``note``
optional). Row-scoped ``latency`` and ``speed`` are ``dist = "empirical"`` through the
catalogue's quantile columns (``from_catalogue = "first_chunk_s"``). A host's ``cif`` or
``wue_source`` may name a grid region instead (``dist = "region"``, ``region = "ireland"``,
optional ``rel_sd``; see ``mcfoot.regions``). A copula block couples
quantities of one scope with a correlation matrix (Gaussian copula); draws are shared by
every model on the same host / hardware / size class within a draw.
"""

from __future__ import annotations

import dataclasses
import hashlib
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
from scipy import special

from . import distributions as dists, plausibility, rng
from .errors import InputError, PriorsError
from .fitprior import expand_fit_entry, fit_hashes
from .io import read_tree
from .posterior import GROUP, Posterior, attach, is_posterior_path
from .regions import RegionError, canonical, expand_region_entry, region_prior
from .variables import HOST, INF, QUANTITIES, Quantity  # noqa: F401 - priors.QUANTITIES

__all__ = ["ATTRIBUTIONS", "Copula", "ENTRY_META", "HOST_QUANTITIES", "INF", "load_scenario",
           "MODE_QUANTITIES", "Prior", "priors_dir", "QUANTITIES", "Quantity", "ROW_COLUMNS",
           "Scenario", "scenario_path", "SCHEMA", "SCOPE_WORDS", "SCOPES", "shipped_scenarios"]

SCHEMA = 1
#: Scope -> how many key levels its entries have (``[pue.Azure]``: 1; ``[gpu_util.Large.H100]``: 2).
SCOPES = {"hardware": 1, "host": 1, "combo": 2, "row": 0, "model": 1}
SCOPE_WORDS = {"hardware": "hardware class", "host": "host", "combo": "size class.hardware",
               "row": "catalogue row",
               "model": "model (keyed by model id, else its size class, else its hardware)"}
ATTRIBUTIONS = ("band", "share", "physical", "serving")


#: The host factors (PUE, WUE, grid): the quantities of the registry's host variables.
HOST_QUANTITIES = tuple(v.quantity for v in HOST.values())
_COMMON = ("gpu_node_power", "nongpu_node_power", "idle_fraction", "gpus_per_node",
           "embodied_accelerator", "embodied_node", "hardware_lifetime", "fleet_utilisation",
           *HOST_QUANTITIES, "latency", "speed")
MODE_QUANTITIES = {
    "band": (*_COMMON, "gpu_util_min", "gpu_util_max", "nongpu_util", "node_share"),
    "share": (*_COMMON, "gpu_power_factor", "gpu_util", "nongpu_util", "node_share"),
    "physical": (*_COMMON, "gpus", "batch_size", "gpu_power_fraction", "host_load"),
    "serving": ("idle_fraction", *HOST_QUANTITIES, "latency", "speed", "gpus_per_node",
                "embodied_accelerator", "embodied_node", "hardware_lifetime",
                "fleet_utilisation", "active_params", "moe_total_ratio", "bytes_per_param",
                "kv_cache_per_token", "spec_tokens_per_step", "parallelism_factor",
                "accelerator_tdp", "accelerator_memory", "memory_bandwidth", "peak_flops",
                "bandwidth_efficiency", "compute_efficiency", "power_fraction_memory_bound",
                "power_fraction_compute_bound", "host_power_per_accelerator",
                "memory_utilization", "weight_memory_share", "max_batch", "batch_occupancy",
                "model_effect", "model_effect_scale", "config_residual", "residual_scale"),
}
#: Quantities a mode may use without requiring them (absent: the catalogue's value).
OPTIONAL_QUANTITIES = {"serving": ("hardware_choice",)}
ROW_COLUMNS = {"latency": "first_chunk_s", "speed": "tokens_per_s"}
ENTRY_META = ("dist", "unit", "source", "note")
#: Entry kinds that stand for an ordinary one, by their expander ``(quantity, entry) -> entry``
#: (raising InputError naming the fix): a named grid region (regions.py), the bench fit's
#: posterior (fitprior.py).
EXPANDED_KINDS = {"region": expand_region_entry, "bench_fit": expand_fit_entry}


@dataclass(frozen=True)
class Prior:
    """One validated prior: a distribution with its unit and source."""

    quantity: str
    key: tuple[str, ...]
    dist: dists.Distribution
    unit: str
    source: str
    note: str = ""
    labels: tuple[str, ...] = ()  # hardware_choice: the class each value indexes

    def __post_init__(self):
        """Validate a prior built in Python as a scenario file's entry is validated."""
        where = f"Prior {self.quantity}{''.join(f'[{k}]' for k in self.key)}:"
        if self.quantity not in QUANTITIES:
            raise PriorsError(f"{where} unknown quantity; known: {', '.join(QUANTITIES)}")
        q = QUANTITIES[self.quantity]
        p = _meta_problems(where, self.quantity, self.unit, self.source)
        if not (isinstance(self.key, tuple) and len(self.key) == SCOPES[q.scope]
                and all(isinstance(k, str) for k in self.key)):
            p.append(f"{where} key must be a tuple of {SCOPES[q.scope]} string(s) (one per "
                     f"{SCOPE_WORDS[q.scope]} level), got {self.key!r}")
        if not isinstance(self.dist, dists.Distribution):
            p.append(f"{where} dist must be a mcfoot.distributions.Distribution (e.g. "
                     f"distributions.make('uniform', {{...}})), got {type(self.dist).__name__}")
        elif q.scope != "row":  # row priors stand for the catalogue's quantiles
            p += _support_problems(where, self.quantity, self.dist)
        if p:
            raise PriorsError(p)

    @property
    def stream(self) -> str:
        """Name of this prior's random stream (stable; see ``rng.py``): its own, or the
        shared stream of the joint block it belongs to (``dist = "draws"``, e.g. the bench
        fit's posterior: :mod:`mcfoot.fitprior`)."""
        return self.dist.shared_stream or "/".join((self.quantity, *self.key))

    def value_at(self, z):
        """The prior's draws at standard normals ``z`` of its stream: the inverse CDF at
        ``Phi(z)``, the sampler's one map from normals to values; a fixed prior: its value
        (``z`` is not read and may be None)."""
        return self.dist.params["value"] if self.dist.is_fixed else \
            self.dist.ppf(special.ndtr(z))

    def draws(self, draws: int, ss=None, normals: dict | None = None,
              stream: str | None = None) -> np.ndarray:
        """``draws`` values at the normals of ``stream`` (default: the prior's own), given in
        ``normals`` (name -> (draws,)) or drawn from the seed sequence ``ss``; a fixed
        prior draws no stream."""
        if self.dist.is_fixed:
            return np.full(draws, self.dist.params["value"])
        name = self.stream if stream is None else stream
        return self.value_at(normals[name] if normals is not None else
                             rng.standard_normals(ss, name, 0, draws))


def _meta_problems(where: str, name: str, unit, source) -> list[str]:
    """Unit and source of a prior of quantity ``name``."""
    q, p = QUANTITIES[name], []
    if unit != q.unit:
        p.append(f"{where} unit = {unit!r}, but {name} is in '{q.unit}'; write unit = "
                 f"\"{q.unit}\" (mcfoot does not convert units)")
    if not isinstance(source, str) or not source.strip():
        p.append(f"{where} has no source; add source = \"where the number comes from\"")
    return p


def _support_problems(where: str, name: str, d: dists.Distribution) -> list[str]:
    """A distribution whose support leaves the allowed values of quantity ``name``."""
    q = QUANTITIES[name]
    lo, hi = d.support()
    if lo < q.low or (q.low_open and lo <= q.low and not d.open_low) or hi > q.high:
        return [f"{where} {d.kind} reaches [{lo:g}, {hi:g}] but {name} ({q.long_name}) must "
                f"be {q.bounds_text()}; change the parameters (nothing is clipped)"]
    b = plausibility.prior_bounds().get(name)  # possible, but not in practice
    if b is not None:
        qq = plausibility.checked_quantile()
        bottom, top = (float(d.params["value"]),) * 2 if d.is_fixed else \
            tuple(map(float, d.quantile(np.array([1 - qq, qq]))))
        if not (b.low <= bottom and top <= b.high):
            at = "" if d.is_fixed else f" (its {100 * (1 - qq):g}-{100 * qq:g} % range)"
            return [f"{where} reaches [{bottom:g}, {top:g}] {q.unit}{at}, outside the "
                    f"{b.text()}; check the value and its unit"]
    return []


@dataclass(frozen=True)
class Copula:
    name: str
    inputs: tuple[str, ...]
    corr: np.ndarray
    source: str


@dataclass(frozen=True)
class Scenario:
    """A validated scenario: priors per quantity and key, copulas, provenance."""

    name: str
    description: str
    attribution: str
    priors: dict[str, dict[tuple[str, ...], Prior]]
    row_sources: dict[str, Prior]
    copulas: tuple[Copula, ...]
    files: tuple[str, ...]
    hashes: tuple[str, ...]
    meta: dict = field(default_factory=dict)
    #: a :class:`mcfoot.posterior.Posterior` when the scenario was calibrated on evidence
    #: (its shared inputs are then drawn from the posterior; see ``posterior.py``)
    posterior: Any = None
    #: (quantity, key) entries that an extending file adds to its base: checked against the
    #: catalogue when the scenario is used (a key no catalogue row has is a misspelling)
    new_keys: frozenset = frozenset()

    @property
    def hash(self) -> str:
        """Content hash of the scenario (of every file it is built from)."""
        return self.hashes[0] if len(self.hashes) == 1 else "sha256:" + hashlib.sha256(
            "".join(self.hashes).encode()).hexdigest()


def priors_dir(sub: str = ""):
    """The shipped ``priors/`` folder (or its subfolder ``sub``, e.g. ``"claims"``).

    Installed, it is the package ``mcfoot._priors`` (pyproject maps the top-level
    ``priors/`` there); run from a source tree that was never installed
    (``python -m mcfoot`` in a clone), it is the clone's ``priors/`` beside ``mcfoot/``.
    """
    try:
        root = resources.files("mcfoot._priors")
    except ModuleNotFoundError:
        root = Path(__file__).resolve().parent.parent / "priors"
    return root.joinpath(sub) if sub else root


def shipped_scenarios() -> list[str]:
    """Names of the scenarios shipped with mcfoot."""
    root = priors_dir()
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _is_path(s: str) -> bool:
    return s.endswith(".toml") or "/" in s or "\\" in s


def scenario_path(scenario: str | Path) -> Path:
    """Resolve a shipped scenario name or a path to a TOML file."""
    s = str(scenario)
    if s.endswith(".toml") or "/" in s or Path(s).is_file():
        return Path(s)
    cand = priors_dir().joinpath(f"{s}.toml")
    if not cand.is_file():
        raise PriorsError(
            f"no shipped scenario '{s}'; shipped: {', '.join(shipped_scenarios())}, "
            f"or give the path of a .toml file")
    return Path(str(cand))


def _read_toml(path: Path) -> tuple[dict, bytes]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise PriorsError("file not found; give a shipped scenario name or an existing .toml "
                          "path", str(path))
    except OSError as e:
        raise PriorsError(f"cannot read ({e.strerror})", str(path))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise PriorsError("file starts with a UTF-16 byte-order mark (BOM); save it as UTF-8",
                          str(path))
    try:
        # "utf-8-sig": a UTF-8 byte-order mark (Windows editors add one) is accepted
        return tomllib.loads(raw.decode("utf-8-sig")), raw
    except UnicodeDecodeError:
        raise PriorsError("not UTF-8 text; save the file as UTF-8", str(path))
    except tomllib.TOMLDecodeError as e:
        raise PriorsError(f"not valid TOML ({e}); fix the syntax there", str(path))


def _is_entry(t: Any) -> bool:
    return isinstance(t, dict) and "dist" in t


def _merge(base: dict, child: dict) -> dict:
    """Deep-merge ``child`` over ``base``; a prior entry (a table with ``dist``) is replaced
    whole, never merged parameter by parameter."""
    out = dict(base)
    for k, v in child.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict) and not _is_entry(v) \
                and not _is_entry(out[k]) and k != "copula":
            out[k] = _merge(out[k], v)
        elif k == "copula" and isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = {**out[k], **v}
        else:
            out[k] = v
    return out


def _load_tree(path: Path, seen: tuple[Path, ...] = ()
               ) -> tuple[dict, list[str], list[str], frozenset]:
    doc, raw = _read_toml(path)
    files, hashes = [str(path)], ["sha256:" + hashlib.sha256(raw).hexdigest()]
    meta = doc.get("meta")
    base_name = meta.get("extends") if isinstance(meta, dict) else None
    shipped = path.resolve().parent == Path(str(priors_dir())).resolve()
    if base_name is None:  # a whole scenario: every key it names is its own (not shipped)
        return doc, files, hashes, frozenset() if shipped else _new_keys(doc, {})
    if not isinstance(base_name, str):
        raise PriorsError(f"[meta] extends = {base_name!r} must be a scenario name or a path",
                          str(path))
    if _is_path(base_name):  # a path is relative to the extending file, never to the cwd
        base_path = Path(base_name)
        if not base_path.is_absolute():
            base_path = path.parent / base_path
        if not base_path.is_file():
            raise PriorsError(f"[meta] extends = {base_name!r}: no file {base_path} (a relative "
                              f"path is read from the folder of {path.name}); fix the path or "
                              f"name a shipped scenario ({', '.join(shipped_scenarios())})",
                              str(path))
    else:
        try:
            base_path = scenario_path(base_name)
        except PriorsError as e:
            raise PriorsError(f"[meta] extends = {base_name!r}: {e}", str(path)) from None
    if base_path.resolve() in [p.resolve() for p in (*seen, path)]:
        raise PriorsError(f"[meta] extends '{base_name}' makes a cycle; remove it", str(path))
    base, bfiles, bhashes, bnew = _load_tree(base_path, (*seen, path))
    mode = meta.get("attribution", base.get("meta", {}).get("attribution"))
    if mode in MODE_QUANTITIES and mode != base.get("meta", {}).get("attribution"):
        # A child that changes the attribution model keeps only the base's quantities that
        # the new model uses (documented; listed in meta.dropped_from_base).
        used = set(MODE_QUANTITIES[mode])
        dropped = [k for k in base if k not in ("meta", "copula") and k not in used]
        base = {k: v for k, v in base.items() if k not in dropped}
        doc = {**doc, "meta": {**meta, "dropped_from_base": dropped}}
    merged = _merge(base, doc)
    merged["meta"] = {**{k: v for k, v in base.get("meta", {}).items() if k != "extends"},
                      **doc["meta"]}
    merged["meta"].pop("extends", None)
    new = bnew | (frozenset() if shipped else _new_keys(doc, base))
    return merged, files + bfiles, hashes + bhashes, new


def _new_keys(doc: dict, base: dict) -> frozenset:
    """(quantity, key) entries of ``doc`` that ``base`` has no entry for."""
    out = set()
    for name, table in doc.items():
        q = QUANTITIES.get(name)
        if q is None or q.scope == "row" or not isinstance(table, dict):
            continue

        def walk(t, key, b):
            if len(key) == SCOPES[q.scope]:
                if not isinstance(b, dict):
                    out.add((name, key))
                return
            if not isinstance(t, dict) or _is_entry(t):
                return
            for k, sub in t.items():
                walk(sub, (*key, k), b.get(k) if isinstance(b, dict) else None)

        walk(table, (), base.get(name))
    return frozenset(out)


def load_scenario(scenario: str | Path = "default") -> Scenario:
    """Load and validate a scenario (shipped name or TOML path). Raises PriorsError listing
    every problem, each naming the entry and what to change."""
    if is_posterior_path(scenario):  # a calibrated scenario (`mcfoot calibrate -o FILE`)
        return load_calibrated(scenario)
    path = scenario_path(scenario)
    doc, files, hashes, new = _load_tree(path)
    return _parse(doc, str(path), files, hashes, new)


def calibrated_from_tree(tree, where: str = "the calibration result") -> Scenario:
    """The calibrated scenario held in a DataTree's ``calibration`` group (a
    :func:`mcfoot.calibrate` result): its base scenario, which must still hash as it did,
    with the group's posterior draws attached."""
    ds = tree[GROUP].to_dataset()
    a = ds.attrs
    base = load_scenario(a["base_scenario"])
    if base.hash != a["base_scenario_hash"]:
        raise InputError(f"{where}: calibrated on scenario '{a['base_scenario']}' with content "
                         f"hash {a['base_scenario_hash']}, which now hashes to {base.hash}; "
                         f"the scenario changed since: run `mcfoot calibrate` again")
    post = Posterior(tuple(str(s) for s in ds["stream"].values), ds["z"].values,
                     ds["log_weight"].values)
    if post.hash != a["posterior_hash"]:
        raise InputError(f"{where}: the calibration group's content does not match its "
                         f"recorded hash; the file is damaged: run `mcfoot calibrate` again")
    return attach(base, post, name=a.get("scenario_name"))


def load_calibrated(path: str | Path) -> Scenario:
    """The calibrated scenario stored in a result file of :func:`mcfoot.calibrate`."""
    path = Path(path)
    tree = read_tree(path, require=None)
    if GROUP not in tree.children:
        raise InputError(f"{path}: has no '{GROUP}' group; give a file written by `mcfoot "
                         f"calibrate -o FILE` (a `mcfoot run` result is not a scenario)")
    sc = calibrated_from_tree(tree, str(path))
    return dataclasses.replace(sc, files=(str(path), *sc.files))


def _parse_meta(meta, src: str, problems: list[str]) -> dict:
    """A scenario file's ``[meta]`` table, its keys and schema checked (problems added); a
    missing table or an unknown attribution is raised at once, as nothing else can be read
    without it."""
    if not isinstance(meta, dict):
        raise PriorsError("no [meta] table; start the file with [meta] schema = 1, name = ..., "
                          "attribution = \"band\" | \"share\" | \"physical\"", src)
    for k in meta:
        if k not in ("schema", "name", "description", "attribution", "extends", "source",
                     "dropped_from_base"):
            problems.append(f"[meta] unknown key '{k}'; allowed: schema, name, description, "
                            f"attribution, extends, source")
    if meta.get("schema") != SCHEMA:
        problems.append(f"[meta] schema = {meta.get('schema')!r}; this mcfoot reads schema = "
                        f"{SCHEMA}")
    mode = meta.get("attribution")
    if mode not in ATTRIBUTIONS:
        problems.append(f"[meta] attribution = {mode!r}; use one of {', '.join(ATTRIBUTIONS)}")
        raise PriorsError(problems, src)
    return meta


def _parse(doc: dict, src: str, files: list[str], hashes: list[str],
           new_keys: frozenset = frozenset()) -> Scenario:
    problems: list[str] = []
    meta = _parse_meta(doc.get("meta"), src, problems)
    mode = meta["attribution"]
    wanted = MODE_QUANTITIES[mode]
    allowed = (*wanted, *OPTIONAL_QUANTITIES.get(mode, ()))
    priors: dict[str, dict[tuple[str, ...], Prior]] = {}
    row_sources: dict[str, Prior] = {}
    for name, table in doc.items():
        if name in ("meta", "copula"):
            continue
        if name not in QUANTITIES:
            problems.append(f"[{name}] unknown quantity; known: {', '.join(QUANTITIES)}")
            continue
        if name not in allowed:
            problems.append(f"[{name}] is not used by attribution '{mode}' (it uses "
                            f"{', '.join(allowed)}); remove it or change [meta] attribution")
            continue
        if not isinstance(table, dict):
            problems.append(f"[{name}] must be a table, got {table!r}")
            continue
        q = QUANTITIES[name]
        if q.scope == "row":
            prior = _parse_entry(name, (), table, problems, row=True)
            if prior is not None:
                row_sources[name] = prior
            continue
        entries: dict[tuple[str, ...], Prior] = {}
        _walk(name, q, table, (), entries, problems)
        priors[name] = entries
    for name in wanted:
        if name not in doc:
            problems.append(f"[{name}] missing: attribution '{mode}' needs a prior for "
                            f"{QUANTITIES[name].long_name} ({SCOPE_WORDS[QUANTITIES[name].scope]}"
                            f" scope, unit '{QUANTITIES[name].unit}')")
    copulas = _parse_copulas(doc.get("copula", {}), problems)
    problems += [f"[copula.{c.name}] couples {q}, whose [{_label(q, k)}] is a column of the "
                 f"joint block '{p.stream}' (its draws keep their own dependence); drop it "
                 f"from the copula" for c in copulas for q in c.inputs
                 for k, p in priors.get(q, {}).items() if p.dist.shared_stream]
    if problems:
        raise PriorsError(problems, src)
    try:
        hashes = [*hashes, *fit_hashes(doc)]
    except InputError as e:
        raise PriorsError([str(e)], src) from None
    return Scenario(name=str(meta.get("name", Path(src).stem)),
                    description=str(meta.get("description", "")), attribution=mode,
                    priors=priors, row_sources=row_sources, copulas=tuple(copulas),
                    files=tuple(files), hashes=tuple(hashes), meta=dict(meta),
                    new_keys=new_keys)


def _walk(name, q, table, key, out, problems):
    depth = SCOPES[q.scope]
    if len(key) == depth:
        prior = _parse_entry(name, key, table, problems)
        if prior is not None:
            out[key] = prior
        return
    if _is_entry(table):
        problems.append(f"[{_label(name, key)}] needs one table per {SCOPE_WORDS[q.scope]}, e.g. "
                        f"[{name}.{'.'.join(['KEY'] * depth)}] dist = ...")
        return
    for k, sub in table.items():
        if not isinstance(sub, dict):
            problems.append(f"[{_label(name, (*key, k))}] must be a table with dist, its "
                            f"parameters, unit and source; got {sub!r}")
            continue
        _walk(name, q, sub, (*key, k), out, problems)


def _label(name: str, key: tuple[str, ...]) -> str:
    return ".".join([name, *(f'"{k}"' if (" " in k or "/" in k) else k for k in key)])


def _parse_entry(name, key, table, problems, row=False) -> Prior | None:
    q = QUANTITIES[name]
    where = f"[{_label(name, key)}]"
    expand = EXPANDED_KINDS.get(str(table["dist"])) if _is_entry(table) else None
    if expand is not None:
        try:
            table = expand(name, table)
        except InputError as e:
            problems.append(f"{where} {e}")
            return None
    if not _is_entry(table):
        problems.append(f"{where} has no 'dist'; add dist = one of "
                        f"{', '.join(sorted(dists.REGISTRY))}")
        return None
    before = len(problems)
    unit, source = table.get("unit"), table.get("source")
    problems += _meta_problems(where, name, unit, source)
    params = {k: v for k, v in table.items() if k not in ENTRY_META}
    kind = table["dist"]
    labels: tuple[str, ...] = ()
    if name == "hardware_choice":
        labels = _choice_labels(where, kind, params, problems)
        params.pop("classes", None)
    if row:
        if kind != "empirical" or set(params) != {"from_catalogue"} or \
                params["from_catalogue"] != ROW_COLUMNS[name]:
            problems.append(f"{where} must be dist = \"empirical\" with from_catalogue = "
                            f"\"{ROW_COLUMNS[name]}\" (the catalogue's quantile columns)")
            return None
        if len(problems) > before:
            return None
        return Prior(name, (), dists.make("fixed", {"value": 0.0}), unit, source,
                     str(table.get("note", "")))
    try:
        d = dists.make(str(kind), params)
    except dists.ParameterError as e:
        problems.append(f"{where} {e}")
        return None
    problems += _support_problems(where, name, d)
    if len(problems) > before:
        return None
    return Prior(name, key, d, unit, source, str(table.get("note", "")), labels)


def _choice_labels(where, kind, params, problems) -> tuple[str, ...]:
    """Validate a ``hardware_choice`` entry: a discrete prior over ``values = [0, 1, ...]``
    with one hardware class named per value in ``classes``."""
    classes, values = params.get("classes"), params.get("values")
    if kind != "discrete" or not (isinstance(classes, list) and classes and all(
            isinstance(c, str) and c for c in classes)):
        problems.append(f"{where} must be dist = \"discrete\" with classes = [\"hardware\", ...]"
                        f" and values = [0, 1, ...] indexing them")
        return ()
    if values != list(range(len(classes))) or len(set(classes)) != len(classes):
        problems.append(f"{where} values must be [0, ..., {len(classes) - 1}], one per distinct "
                        f"class in classes = {classes!r}; got values = {values!r}")
    return tuple(classes)


def _copula_corr(corr, k: int, where: str, problems: list[str]) -> np.ndarray | None:
    """A copula's ``corr`` as a k x k correlation matrix (symmetric, unit diagonal, entries
    in [-1, 1], positive definite); None, with the problem added, when it is not one."""
    try:
        c = np.array(corr, dtype=float)
    except (TypeError, ValueError):
        c = np.zeros(0)
    if c.shape != (k, k) or not np.all(np.isfinite(c)):
        problems.append(f"{where} corr must be a {k}x{k} matrix of numbers")
        return None
    if not (np.allclose(c, c.T) and np.allclose(np.diag(c), 1) and np.all(np.abs(c) <= 1)):
        problems.append(f"{where} corr must be symmetric with ones on the diagonal and "
                        f"entries in [-1, 1]")
        return None
    if np.linalg.eigvalsh(c).min() <= 1e-10:
        problems.append(f"{where} corr is not positive definite (smallest eigenvalue "
                        f"{np.linalg.eigvalsh(c).min():.3g}); weaken the correlations")
        return None
    return c


def _parse_copulas(blocks, problems) -> list[Copula]:
    out = []
    if not isinstance(blocks, dict):
        problems.append("[copula] must hold tables [copula.NAME] with inputs, corr, source")
        return out
    for cname, b in blocks.items():
        where = f"[copula.{cname}]"
        if not isinstance(b, dict):
            problems.append(f"{where} must be a table with inputs, corr, source")
            continue
        extra = set(b) - {"inputs", "corr", "source", "note"}
        if extra:
            problems.append(f"{where} unknown key(s) {', '.join(sorted(extra))}; allowed: "
                            f"inputs, corr, source, note")
        inputs = b.get("inputs")
        if not (isinstance(inputs, list) and len(inputs) >= 2 and all(
                isinstance(i, str) and i in QUANTITIES for i in inputs)):
            problems.append(f"{where} inputs must list 2 or more quantities from "
                            f"{', '.join(QUANTITIES)}; got {inputs!r}")
            continue
        scopes = {QUANTITIES[i].scope for i in inputs}
        if len(scopes) != 1 or len(set(inputs)) != len(inputs):
            problems.append(f"{where} couples quantities of different scopes or repeats one; a "
                            f"copula couples distinct quantities of one scope")
            continue
        if scopes == {"row"} and sorted(inputs) != ["latency", "speed"]:
            problems.append(f"{where} a row copula couples exactly latency and speed")
            continue
        c = _copula_corr(b.get("corr"), len(inputs), where, problems)
        if c is None:
            continue
        if not isinstance(b.get("source"), str) or not b["source"].strip():
            problems.append(f"{where} has no source; add source = \"...\"")
            continue
        if any(any(i in o.inputs for i in inputs) for o in out):
            problems.append(f"{where} shares a quantity with another copula; merge them")
            continue
        out.append(Copula(cname, tuple(inputs), c, b["source"]))
    return out


def with_region(sc: Scenario, region: str, rel_sd: float = 0.0) -> Scenario:
    """``sc`` with every host's grid carbon intensity (``cif``) — and off-site water
    intensity (``wue_source``) where the region table has a sourced one — taken from the
    named grid region (``mcfoot/data/regions.csv``; ``rel_sd`` as in ``dist = "region"``).

    The result's name is ``NAME@region`` and its hash covers the region's values, so results
    record what was applied. Streams keep their names (``cif/HOST``).
    """
    name = canonical(region)
    priors = {q: dict(t) for q, t in sc.priors.items()}
    problems: list[str] = []
    applied = []
    for q in ("cif", "wue_source"):
        try:
            entry = region_prior(name, q, rel_sd)
        except RegionError:
            if q == "cif":
                raise
            continue  # no sourced water factor for this region: the hosts' own priors stay
        applied.append(f"{q}={entry.get('value', entry.get('mean'))}")
        for key in priors.get(q, {}):
            prior = _parse_entry(q, key, entry, problems)
            if prior is not None:
                priors[q][key] = prior
    if problems:
        raise PriorsError(problems, f"region {name}")
    tag = hashlib.sha256(f"{name}:{rel_sd!r}:{';'.join(applied)}".encode()).hexdigest()
    return dataclasses.replace(sc, name=f"{sc.name}@{name}", priors=priors,
                               hashes=(*sc.hashes, f"region:{name}:sha256:{tag}"),
                               meta={**sc.meta, "region": name, "region_rel_sd": rel_sd})
