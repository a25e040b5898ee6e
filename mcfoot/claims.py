"""Headline claims as probabilities.

A claims file (TOML, validated whole on load) lists statements such as "a short GPT-4o query
uses at most 0.43 Wh". :func:`evaluate_claims` turns each into the probability, over the draws
of a :func:`mcfoot.simulate` result, that it holds, with its Monte Carlo standard error
``sqrt(p (1 - p) / n)`` and the sampled input that drives it most.

File format::

    [meta]
    schema = 1
    name = "study"
    description = "..."

    [[claim]]
    id = "gpt4o-short-le-0.43wh"      # unique; letters, digits, '-', '_', '.'
    kind = "threshold"                # threshold | ratio | rank | fleet
    text = "A short GPT-4o query uses at most 0.43 Wh"
    source = "Jegham et al. 2025, arXiv 2505.09598 (v2)"
    note = "optional"
    op = "<="                         # <, <=, >, >=, between (value = [lo, hi]); == for rank
    value = 0.43
    unit = "Wh"                       # must equal the units of the variable
    # kind-specific fields:
    variable = "energy_wh"            # threshold, ratio: a footprint variable (any
                                      #   boundary: energy_accelerator_wh, carbon_market_g,
                                      #   ...) or, for threshold, a list of them summed
                                      #   per draw; fleet: a variable of mcfoot.scale.scale
    model = "gpt-4o-mar"
    prompt = "short"                  # threshold: a catalogue prompt size, or instead
    # output_tokens = 500             #   any request's token counts (mcfoot.estimate;
    # input_tokens = 100              #   input_tokens optional)
    per = "mean"                      # threshold, ratio: "mean" (default) or "query"

Kinds and their per-draw statistic:

- ``threshold``: ``variable`` of (``model``, ``prompt``), or of ``model`` at
  ``output_tokens`` / ``input_tokens`` (evaluated with :func:`mcfoot.estimate.estimate_tree`
  on the result's scenario, seed and draws, so its draws line up with the result's: pass
  ``scenario=`` to :func:`evaluate_claims` when the result's scenario is not a shipped one).
  ``per = "mean"`` is the mean over
  queries given the draw's assumptions (:func:`mcfoot.scale.expected_per_query`), the right
  reading of a published per-model figure; ``per = "query"`` is one query (mixes the
  query-to-query spread of latency and speed into the probability).
- ``ratio``: ``variable`` of ``numerator = {model, prompt}`` over ``denominator = {model,
  prompt}``, per draw; unit ``"1"``.
- ``rank``: the per-draw rank (1 = best) of ``model`` from :func:`mcfoot.rank.rank`; optional
  ``prompt`` (when ranks are per prompt), ``among`` (model ids to rank among; default: all
  in the result), and ``inputs``, ``outputs``, ``pool_prompts``, ``secondary`` passed to
  ``rank()`` when given; unit ``"rank"``.
- ``fleet``: a per-draw variable of :func:`mcfoot.scale.scale` for ``model`` with ``mix``
  (prompt -> share), ``queries_per_year`` or ``queries_per_day`` (+ ``days``), optional
  ``utilization`` and ``constants`` (``"primary"`` or ``"study"``).

The driver is the sampled input (from the result's ``inputs`` group, restricted to the hosts,
hardware classes and size classes of the claim's models, plus the rows' latency and speed for
per-query and rank claims) with the largest absolute Spearman correlation with the claim's
per-draw statistic (the statistic decides the indicator and is better conditioned than it).
"""

from __future__ import annotations

import math
import operator
import re
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import xarray as xr

from . import mcse as _mcse, provenance, variables
from . import scale as _scale
from ._validate import did_you_mean as _hint
from ._validate import (is_finite_number, is_number, probability, prompt_mix_problems,
                        unit_problems)
from .entryfiles import SCHEMA, load_entry_files
from .priors import load_scenario, priors_dir, shipped_scenarios
from .rank import rank
from .sensitivity import sampled_inputs, spearman
from .errors import InputError
from .catalogue import load_catalogue
from .estimate import estimate_tree
from .rng import seed_from_record

__all__ = ["BETWEEN_OPS", "Claim", "claim_problems", "ClaimResult", "COMMON", "evaluate_claims",
           "FIELDS", "FOOTPRINT_UNITS", "input_columns", "KIND_CHECKS", "KINDS", "load_claims",
           "OPS", "provenance_attrs", "RANK_OPTIONS", "REQUIRED", "results_table", "SCHEMA",
           "shipped_claims", "spearman_driver", "STATEMENT"]

KINDS = ("threshold", "ratio", "rank", "fleet")
OPS: dict[str, Callable] = {"<": operator.lt, "<=": operator.le, ">": operator.gt,
                            ">=": operator.ge, "==": operator.eq}
COMMON = ("id", "kind", "text", "source", "note", "op", "value", "unit")
FIELDS = {
    "threshold": ("variable", "model", "prompt", "per", "output_tokens", "input_tokens"),
    "ratio": ("variable", "numerator", "denominator", "per"),
    "rank": ("model", "prompt", "among", "inputs", "outputs", "pool_prompts", "secondary"),
    "fleet": ("variable", "model", "mix", "queries_per_year", "queries_per_day", "days",
              "utilization", "constants"),
}
REQUIRED = {"threshold": ("variable", "model"),
            "ratio": ("variable", "numerator", "denominator"),
            "rank": ("model",), "fleet": ("variable", "model", "mix")}
RANK_OPTIONS = ("inputs", "outputs", "pool_prompts", "secondary")
BETWEEN_OPS = ("<", "<=", ">", ">=", "between")
#: Footprint variables a threshold / ratio claim may use, with their units (the registry's).
FOOTPRINT_UNITS = {name: v.units for name, v in variables.per_query().items()}
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


@dataclass(frozen=True)
class Claim:
    """One validated claim (see the module docstring for the fields)."""

    id: str
    kind: str
    text: str
    source: str
    op: str
    value: float | tuple[float, float]
    unit: str
    fields: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    file: str = ""

    def __post_init__(self):
        """Validate a claim built in Python as a claims file's entry is validated (model
        and prompt ids are checked against the catalogue when the claim is loaded or
        evaluated)."""
        c = {k: getattr(self, k) for k in COMMON if getattr(self, k) is not None}
        if not c.get("note"):
            c.pop("note", None)
        if isinstance(self.fields, dict):
            c.update(self.fields)
        problems, value = claim_problems(c, f"Claim({self.id!r})")
        if not isinstance(self.fields, dict):
            problems.append(f"Claim({self.id!r}): fields must be a dict")
        if problems:
            raise InputError(problems)
        object.__setattr__(self, "value", value)
        if self.kind in ("threshold", "ratio") and "per" not in self.fields:
            object.__setattr__(self, "fields", {**self.fields, "per": "mean"})


#: The claim's fields a :class:`ClaimResult` reads through from its claim, in
#: :meth:`ClaimResult.to_dict` order.
STATEMENT = ("id", "kind", "text", "source", "op", "value", "unit")


@dataclass
class ClaimResult:
    """The evaluation of one claim.

    ``claim`` is the :class:`Claim` evaluated; its ``id``, ``kind``, ``text``, ``source``,
    ``op``, ``value`` and ``unit`` read as the result's own (``r.id`` is ``r.claim.id``).
    ``probability`` is the share of draws in which the claim holds (NaN if it could not be
    evaluated; ``note`` says why), ``mcse`` its Monte Carlo standard error (for the run's
    sampling design, :func:`mcfoot.mcse.proportion`: ``sqrt(p (1 - p) / n)`` for plain Monte
    Carlo, the spread over the replicates for Sobol' runs), ``draws`` the
    number of draws; ``median``/``lower``/``upper`` summarise the per-draw statistic (in
    ``unit``; 95 % equal-tailed); ``driver`` names the input with the largest |Spearman
    rho| (``driver_rho``) with the statistic; ``samples`` holds the statistic per draw.
    """

    claim: Claim
    probability: float
    mcse: float
    draws: int
    median: float = math.nan
    lower: float = math.nan
    upper: float = math.nan
    driver: str | None = None
    driver_rho: float = math.nan
    note: str = ""
    samples: np.ndarray | None = field(default=None, repr=False, compare=False)

    def to_dict(self) -> dict:
        """JSON-ready dict (the claim's :data:`STATEMENT` fields, then the result's, without
        ``claim`` and ``samples``)."""
        d = {k: getattr(self.claim, k) for k in STATEMENT}
        d.update((k, v) for k, v in asdict(self).items() if k not in ("claim", "samples"))
        if isinstance(d["value"], tuple):
            d["value"] = list(d["value"])
        return {k: (None if isinstance(v, float) and math.isnan(v) else v)
                for k, v in d.items()}


for _name in STATEMENT:
    setattr(ClaimResult, _name, property(operator.attrgetter(f"claim.{_name}"),
                                         doc=f"``claim.{_name}``"))
del _name


# --------------------------------------------------------------------------- loading
def shipped_claims() -> list[str]:
    """Names of the shipped claims files (``priors/claims/*.toml``): the study's first."""
    names = [p.name[:-5] for p in priors_dir("claims").iterdir() if p.name.endswith(".toml")]
    return sorted(names, key=lambda n: (n != "study", n))


def _known_rows(catalogue) -> tuple[list[str], list[str], dict]:
    ds = catalogue if isinstance(catalogue, xr.Dataset) else load_catalogue(catalogue)
    models = [str(m) for m in ds.model.values]
    prompts = [str(p) for p in ds.prompt.values]
    present = {(m, p): bool(ds.present.values[i, j]) for i, m in enumerate(models)
               for j, p in enumerate(prompts)}
    return models, prompts, present


def _check_row(where, model, prompt, models, prompts, present, problems):
    if not isinstance(model, str) or model not in models:
        problems.append(f"{where}: unknown model {model!r}{_hint(model, models)}; use a "
                        f"model_id of the catalogue")
        return
    if prompt is None:
        return
    if not isinstance(prompt, str) or prompt not in prompts:
        problems.append(f"{where}: unknown prompt {prompt!r}; use one of {', '.join(prompts)}")
    elif not present[(model, prompt)]:
        have = [p for p in prompts if present[(model, p)]]
        problems.append(f"{where}: {model} has no {prompt!r} row in the catalogue; use one "
                        f"of {', '.join(have)}")


def _check_common(where: str, c: dict, kind: str, p: list[str]):
    """Keys, strings, op and value of any claim; returns the normalized value."""
    allowed = set(COMMON) | set(FIELDS[kind])
    for k in c:
        if k not in allowed:
            p.append(f"{where}: unknown key {k!r}{_hint(k, allowed)}; allowed for kind "
                     f"{kind!r}: {', '.join(sorted(allowed))}")
    for k in ("id", "text", "source", "op", "unit", "value", *REQUIRED[kind]):
        if k not in c:
            p.append(f"{where}: missing {k!r}; add {k} = ...")
    cid = c.get("id")
    if not isinstance(cid, str) or not _ID.match(cid):
        p.append(f"{where}: id must be a string of letters, digits, '-', '_', '.'")
    for k in ("text", "source", "unit", "note"):
        if k in c and not isinstance(c[k], str):
            p.append(f"{where}: {k} must be a string")
    op, value = c.get("op"), c.get("value")
    ops = ("==", *BETWEEN_OPS) if kind == "rank" else BETWEEN_OPS
    if "op" in c and op not in ops:
        p.append(f"{where}: op must be one of {', '.join(ops)}, got {op!r}")
    elif op == "between":
        if not (isinstance(value, (list, tuple)) and len(value) == 2 and all(
                is_number(v) for v in value) and value[0] < value[1]):
            p.append(f"{where}: op 'between' needs value = [low, high] with low < high")
        else:
            value = (float(value[0]), float(value[1]))
    elif "value" in c:
        if not is_finite_number(value):
            p.append(f"{where}: value must be a finite number, got {value!r}")
        else:
            value = float(value)
    return value


def _check_footprint(where: str, c: dict, kind: str, p: list[str]) -> None:
    """``variable``, ``unit`` and ``per`` of a threshold or ratio claim. A threshold's
    ``variable`` may list several footprints of one unit, summed per draw (a source that
    counts, e.g., market-based plus embodied carbon)."""
    if "per" in c and c["per"] not in ("mean", "query"):
        p.append(f"{where}: per must be 'mean' or 'query', got {c['per']!r}")
    var, unit = c.get("variable"), c.get("unit")
    if "variable" not in c:
        return
    names = list(var) if (kind == "threshold" and isinstance(var, (list, tuple))) else [var]
    bad = [v for v in names if not isinstance(v, str) or v not in FOOTPRINT_UNITS]
    if bad or not names:
        b = bad[0] if bad else var
        p.append(f"{where}: unknown variable {b!r}{_hint(b, FOOTPRINT_UNITS)}; use one of "
                 f"{', '.join(FOOTPRINT_UNITS)}"
                 + (" (or, for a threshold, a list of them summed)" if kind == "threshold"
                    else ""))
        return
    if len({FOOTPRINT_UNITS[v] for v in names}) > 1 or len(set(names)) < len(names):
        p.append(f"{where}: variables {names} must be distinct and share a unit to be summed")
        return
    want = FOOTPRINT_UNITS[names[0]] if kind == "threshold" else "1"
    if want and unit is not None:
        p += unit_problems(where, unit, want,
                           " + ".join(names) if kind == "threshold" else "a ratio")


def _check_threshold(where, c, known, p) -> None:
    _check_footprint(where, c, "threshold", p)
    has_p, has_t = "prompt" in c, "output_tokens" in c
    if has_p == has_t:
        p.append(f"{where}: give exactly one of prompt (a catalogue row) or output_tokens "
                 f"(any request, with optional input_tokens)")
    if "input_tokens" in c and not has_t:
        p.append(f"{where}: input_tokens goes with output_tokens")
    for k in ("output_tokens", "input_tokens"):
        if k in c and (isinstance(c[k], bool) or not isinstance(c[k], int) or c[k] < 0):
            p.append(f"{where}: {k} must be an integer >= 0, got {c[k]!r}")
    if known is not None and "model" in c:
        _check_row(where, c["model"], c.get("prompt"), *known, p)


def _check_ratio(where, c, known, p) -> None:
    _check_footprint(where, c, "ratio", p)
    for side in ("numerator", "denominator"):
        s = c.get(side)
        if side not in c:
            continue
        if not isinstance(s, dict) or set(s) != {"model", "prompt"}:
            p.append(f"{where}: {side} must be {{ model = ..., prompt = ... }}")
        elif known is not None:
            _check_row(f"{where} {side}", s["model"], s["prompt"], *known, p)


def _check_rank(where, c, known, p) -> None:
    unit = c.get("unit")
    if unit is not None and unit != "rank":
        p.append(f"{where}: unit of a rank claim must be 'rank'")
    if known is not None and "model" in c:
        _check_row(where, c["model"], c.get("prompt"), *known, p)
    among = c.get("among")
    if among is not None:
        if not isinstance(among, (list, tuple)) or not among:
            p.append(f"{where}: among must be a non-empty list of model ids")
        else:
            if known is not None:
                for m in among:
                    _check_row(f"{where} among", m, None, *known, p)
            if c.get("model") not in among:
                p.append(f"{where}: among must include the claim's model {c.get('model')!r}")
    for k in ("inputs", "outputs"):
        if k in c and not (isinstance(c[k], (list, tuple)) and
                           all(isinstance(x, str) for x in c[k])):
            p.append(f"{where}: {k} must be a list of strings")
    if "pool_prompts" in c and not isinstance(c["pool_prompts"], bool):
        p.append(f"{where}: pool_prompts must be true or false")
    if "secondary" in c and not isinstance(c["secondary"], str):
        p.append(f"{where}: secondary must be a string (e.g. 'aggressive')")


def _check_fleet(where, c, known, p) -> None:
    var, unit = c.get("variable"), c.get("unit")
    fleet_units = _scale.variables()
    if "variable" in c and var not in fleet_units:
        p.append(f"{where}: unknown fleet variable {var!r}{_hint(var, fleet_units)}; use "
                 f"one of {', '.join(fleet_units)}")
    elif unit is not None and var in fleet_units:
        p += unit_problems(where, unit, fleet_units[var], var)
    if known is not None and "model" in c:
        _check_row(where, c["model"], None, *known, p)
    if "mix" in c:
        mix = c["mix"]
        prompts = known[1] if known is not None else (list(mix) if isinstance(mix, dict)
                                                      else [])
        p += [f"{where}: {m}" for m in prompt_mix_problems(mix, prompts, "mix")]
    has_y, has_d = "queries_per_year" in c, "queries_per_day" in c
    if has_y == has_d:
        p.append(f"{where}: give exactly one of queries_per_year or queries_per_day")
    if has_y and "days" in c:
        p.append(f"{where}: days goes with queries_per_day, not queries_per_year")
    for k in ("queries_per_year", "queries_per_day", "days"):
        if k in c and (not is_number(c[k]) or not c[k] > 0):
            p.append(f"{where}: {k} must be a positive number")
    if "utilization" in c and c["utilization"] not in _scale.UTILIZATIONS:
        p.append(f"{where}: utilization must be one of {', '.join(_scale.UTILIZATIONS)}")
    if "constants" in c and c["constants"] not in _scale.CONSTANT_SETS:
        p.append(f"{where}: constants must be 'primary' or 'study'")


#: Per-kind checks: (where, claim dict, known catalogue rows or None, problems) -> None.
KIND_CHECKS: dict[str, Callable] = {"threshold": _check_threshold, "ratio": _check_ratio,
                                    "rank": _check_rank, "fleet": _check_fleet}


def claim_problems(c: dict, where: str, known=None) -> tuple[list[str], Any]:
    """Every problem of one claim given as a dict (a ``[[claim]]`` entry), and its
    normalized value. ``known``: the catalogue's (models, prompts, present) to check model
    and prompt ids against; ``None`` skips those checks."""
    kind = c.get("kind")
    if kind not in KINDS:
        return [f"{where}: kind must be one of {', '.join(KINDS)}, got {kind!r}"], None
    p: list[str] = []
    value = _check_common(where, c, kind, p)
    KIND_CHECKS[kind](where, c, known, p)
    return p, value


def _validate(i: int, c: dict, src: str, known, seen: set) -> tuple[list[str], Claim | None]:
    cid = c.get("id")
    where = f"[[claim]] #{i + 1}" + (f" ({cid})" if isinstance(cid, str) else "")
    p, value = claim_problems(c, where, known)
    if isinstance(cid, str) and _ID.match(cid):
        if cid in seen:
            p.append(f"{where}: duplicate id {cid!r}; ids must be unique across the files "
                     "loaded")
        seen.add(cid)
    if p:
        return p, None
    kind = c["kind"]
    f = {k: c[k] for k in FIELDS[kind] if k in c}
    if kind in ("threshold", "ratio"):
        f.setdefault("per", "mean")
    if isinstance(f.get("variable"), list):
        f["variable"] = tuple(f["variable"])
    return [], Claim(id=cid, kind=kind, text=c["text"], source=c["source"], op=c["op"],
                     value=value, unit=c["unit"], fields=f, note=c.get("note", ""), file=src)


def load_claims(files: str | Path | list | None = None, catalogue=None) -> list[Claim]:
    """Load and validate claims files.

    ``files``: a shipped name (``"study"``, ``"external"``), a path, a list of those, or
    ``None`` for every shipped file. Model and prompt ids are checked against ``catalogue``
    (a path or Dataset; default: the shipped catalogue). All problems of a file are reported
    together as one :class:`~mcfoot.errors.InputError` naming the file, the entry and the fix.
    """
    known = _known_rows(catalogue)
    seen: set[str] = set()
    return load_entry_files(files, "claims", shipped_claims(), "claim", "claims",
                            lambda i, c, src, _: _validate(i, c, src, known, seen))


# --------------------------------------------------------------------------- evaluation
def _holds(x: np.ndarray, op: str, value) -> np.ndarray:
    if op == "between":
        return (x >= value[0]) & (x <= value[1])
    return OPS[op](x, value)


def _footprint(tree, claim, model, prompt) -> xr.DataArray:
    var = claim.fields["variable"]
    total = None
    for v in (var if isinstance(var, tuple) else (var,)):
        if v not in tree["footprint"].data_vars:
            raise InputError(f"claim {claim.id}: the result has no {v!r} (only band scenarios "
                             f"such as 'paper' have energy_min_wh/energy_max_wh)")
        x = _scale.expected_per_query(tree, v) if claim.fields["per"] == "mean" else \
            tree["footprint"][v]
        x = x.sel(model=model, prompt=prompt)
        total = x if total is None else total + x
    return total


def _request_tree(tree: xr.DataTree, claim: Claim, scenario, cache: dict) -> xr.DataTree:
    """The result's run (same scenario, seed, draws, catalogue) at the claim's token counts."""
    f = claim.fields
    key = ("request", f["model"], f["output_tokens"], f.get("input_tokens"))
    if key in cache:
        return cache[key]
    attrs = tree.attrs
    draw = tree["footprint"]["draw"].values
    if not np.array_equal(draw, np.arange(len(draw))):
        raise InputError(f"claim {claim.id} has token counts: it needs a whole run (draws "
                         f"0..n-1), not a draw range")
    if str(attrs.get("sampling", "mc")) != "mc":
        raise InputError(f"claim {claim.id} has token counts: it is re-run draw by draw on "
                         f"plain Monte Carlo (sampling='mc'); this result used "
                         f"sampling={attrs.get('sampling')!r}")
    if scenario is None:
        name = attrs.get("scenario")
        sc = load_scenario(name) if name in shipped_scenarios() else None
        if sc is None or sc.hash != attrs.get("scenario_hash"):
            raise InputError(f"claim {claim.id} has token counts: evaluate_claims needs the "
                             f"result's scenario (scenario=...); {name!r} is not a shipped "
                             "scenario with the result's hash")
        scenario = sc
    cat = tree["catalogue"].to_dataset()
    cat.attrs = {"source": attrs.get("catalogue", ""),
                 "catalogue_hash": attrs.get("catalogue_hash", "")}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        sub = estimate_tree(f["model"], f["output_tokens"], f.get("input_tokens"),
                            scenario=scenario, draws=len(draw),
                            seed=seed_from_record(attrs["seed"]), catalogue=cat)
    for w in caught:
        if not issubclass(w.category, UserWarning):
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    sub.attrs["claim_note"] = "; ".join(str(w.message) for w in caught
                                        if issubclass(w.category, UserWarning))
    cache[key] = sub
    return sub


def _subset(tree: xr.DataTree, models: list[str]) -> xr.DataTree:
    nodes = {}
    for path, node in tree.subtree_with_keys:
        ds = node.to_dataset(inherit=False)
        nodes[path if path != "." else "/"] = ds.sel(model=models) if "model" in ds.dims \
            else ds
    return xr.DataTree.from_dict(nodes)


class _NotRanked(Exception):
    """The claim's model is absent from the ranking (e.g. it has no intelligence index)."""


def _statistic(tree, claim: Claim, rank_fn, cache: dict) -> tuple[np.ndarray, dict]:
    """Per-draw statistic of a claim and the scope of inputs that may drive it."""
    f = claim.fields
    if claim.kind == "threshold" and "output_tokens" in f:
        sub = _request_tree(tree, claim, cache.get("scenario"), cache)
        x = _footprint(sub, claim, f["model"], "r0").values
        return x, {"models": [f["model"]], "rows": [], "note": sub.attrs["claim_note"]}
    if claim.kind == "threshold":
        x = _footprint(tree, claim, f["model"], f["prompt"]).values
        rows = [(f["model"], f["prompt"])] if f["per"] == "query" else []
        return x, {"models": [f["model"]], "rows": rows}
    if claim.kind == "ratio":
        num, den = f["numerator"], f["denominator"]
        x = (_footprint(tree, claim, num["model"], num["prompt"]) /
             _footprint(tree, claim, den["model"], den["prompt"])).values
        rows = [(num["model"], num["prompt"]), (den["model"], den["prompt"])] \
            if f["per"] == "query" else []
        return x, {"models": [num["model"], den["model"]], "rows": rows}
    if claim.kind == "fleet":
        ds = _scale.scale(tree, f["model"], queries_per_day=f.get("queries_per_day"),
                          prompt_mix=dict(f["mix"]), days=f.get("days", 365),
                          queries_per_year=f.get("queries_per_year"),
                          utilization=f.get("utilization", "combined"),
                          constants=f.get("constants", "primary"))
        return ds[f["variable"]].values, {"models": [f["model"]], "rows": []}
    # rank
    opts = {k: f[k] for k in RANK_OPTIONS if k in f}
    among = f.get("among")
    key = (repr(sorted(opts.items())), tuple(among) if among else None)
    if key not in cache:
        sub = _subset(tree, list(among)) if among else tree
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            res = rank_fn(sub, **opts)
        for w in caught:  # rank() explains what it left out: keep it in the result's note
            if not issubclass(w.category, UserWarning):
                warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        msgs = [str(w.message).split(":")[0] for w in caught
                if issubclass(w.category, UserWarning)]
        cache[key] = (res["rank"] if isinstance(res, xr.Dataset) else res, "; ".join(msgs))
    ranks, msg = cache[key]
    if f["model"] not in set(map(str, ranks.model.values)):
        raise _NotRanked(f"{f['model']} is not ranked (rank: {msg or 'left out'})")
    r = ranks.sel(model=f["model"])
    if "prompt" in r.dims:
        if "prompt" not in f:
            raise InputError(f"claim {claim.id}: ranks are per prompt (pool_prompts = false);"
                             f" add prompt = ... to the claim")
        r = r.sel(prompt=f["prompt"])
    models = list(among) if among else None
    return np.asarray(r.values, float), {"models": models, "rows": "all", "note": msg}


def input_columns(tree: xr.DataTree, models: list[str] | None = None,
                  rows: list[tuple[str, str]] | str = ()) -> tuple[list[str], np.ndarray]:
    """Per-draw sampled inputs that can affect the given models, as (labels, (draw, k)):
    :func:`mcfoot.sensitivity.sampled_inputs` without the units."""
    labels, x, _ = sampled_inputs(tree, models, rows)
    return labels, x


def spearman_driver(y: np.ndarray, labels: list[str], x: np.ndarray) -> tuple[str | None, float]:
    """The column of ``x`` (draw, k) with the largest |Spearman rho| with ``y``, and rho."""
    if x.shape[1] == 0 or np.ptp(y) == 0:
        return None, math.nan
    rho = spearman(x, y)
    i = int(np.argmax(np.abs(rho)))
    return labels[i], float(rho[i])


def evaluate_claims(tree: xr.DataTree, claims: list[Claim] | str | Path | None = None, *,
                    rank_fn: Callable | None = None, ci_prob: float = 0.95,
                    scenario=None) -> list[ClaimResult]:
    """Probability that each claim holds over the draws of ``tree``.

    ``claims``: validated :class:`Claim` objects, or what :func:`load_claims` accepts
    (default: every shipped file). ``rank_fn``: the ranking function for rank claims
    (default: :func:`mcfoot.rank.rank`). ``scenario``: the result's scenario (name, path or
    :class:`~mcfoot.priors.Scenario`), needed by claims with token counts when it is not a
    shipped scenario. Returns one :class:`ClaimResult` per claim, in order;
    :func:`provenance_attrs` describes the run they were evaluated on.
    """
    ci_prob = probability("ci_prob", ci_prob)
    if not isinstance(claims, list) or not all(isinstance(c, Claim) for c in claims):
        claims = load_claims(claims)
    fp = tree["footprint"]
    have = set(map(str, fp.model.values))
    n = int(fp.sizes["draw"])
    lay = _mcse.layout(tree.attrs, n)
    cache: dict = {"scenario": scenario}
    a = (1 - ci_prob) / 2
    out = []
    for c in claims:
        f = c.fields
        need = {f.get("model")} | {f[s]["model"] for s in ("numerator", "denominator")
                                   if s in f} | set(f.get("among") or ())
        missing = sorted(m for m in need - {None} if m not in have)
        if missing:
            raise InputError(f"claim {c.id}: model(s) {', '.join(missing)} not in this result;"
                             f" simulate them too (models=None)")
        base = dict(claim=c, draws=n)
        try:
            x, scope = _statistic(tree, c, rank_fn or rank, cache)
        except _NotRanked as e:
            out.append(ClaimResult(**base, probability=math.nan, mcse=math.nan,
                                   note=f"not evaluated: {e}"))
            continue
        if not np.isfinite(x).all():
            raise InputError(f"claim {c.id}: the statistic is not finite in "
                             f"{int((~np.isfinite(x)).sum())} draws; check the catalogue rows")
        hold = _holds(x, c.op, c.value)
        p = float(hold.mean())
        labels, cols = input_columns(tree, scope["models"], scope["rows"])
        drv, rho = spearman_driver(x, labels, cols)
        q = np.quantile(x, [0.5, a, 1 - a])
        notes = [s for s in (c.note, scope.get("note", "")) if s]
        if drv is None:
            notes.append("statistic fixed under this scenario")
        out.append(ClaimResult(
            **base, probability=p, mcse=float(_mcse.proportion(hold, lay)), median=float(q[0]),
            lower=float(q[1]), upper=float(q[2]), driver=drv, driver_rho=rho,
            note="; ".join(notes), samples=x))
    return out


def provenance_attrs(tree: xr.DataTree, ci_prob: float = 0.95) -> dict:
    """Provenance of claim results evaluated on ``tree`` (see :mod:`mcfoot.provenance`)."""
    n = int(tree["footprint"].sizes["draw"])
    return provenance.stamp("claims", tree.attrs, ci_prob=ci_prob, draws=n,
                            mcse_method=_mcse.layout(tree.attrs, n).describe())


def results_table(results: list[ClaimResult]) -> list[dict]:
    """Results as JSON-ready dicts (see :meth:`ClaimResult.to_dict`)."""
    return [r.to_dict() for r in results]
