"""Published per-query figures as data: the evidence file format (``priors/evidence/*.toml``).

Evidence is what mcfoot is compared with (``mcfoot compare``) and, later, calibrated on; it
never sets a prior. A file is validated whole on load: every problem is reported together,
each naming the file, the entry and the fix.

File format::

    [meta]
    schema = 1
    name = "published"
    description = "..."

    [[evidence]]
    id = "google-gemini-apps-energy"    # unique; letters, digits, '-', '_', '.'
    variable = "energy_wh"              # a footprint variable, or a list summed per draw
                                        #   (e.g. ["carbon_market_g", "carbon_embodied_g"])
    value = 0.24
    unit = "Wh"                         # the variable's unit; per output token: "Wh/token"
                                        #   or, for Wh variables, "J/token"
    per = "query"                       # "query" (default) or "output_token"
    statistic = "median"                # "mean" or "median" over the source's queries
    uncertainty = "none"                # or {kind = "interval", low, high, prob}
                                        #    or {kind = "relative_sd", value}
    date = "2025-05"                    # YYYY, YYYY-MM or YYYY-MM-DD (of the measurement)
    source = "Elsworth et al. 2025, arXiv 2508.15734"
    boundary = "what the figure counts (a note)"
    note = "optional"
    applies_to = { model = "gemini-2-5-flash-vertex" }
        # or { mix = { "model-a" = 0.7, "model-b" = 0.3 } }   (weights sum to 1)
        # or { lab = { model_parameters_b = 8, accelerator = "H100", accelerators = 1,
        #              batch = 64 } }                          (a test bench)
    [evidence.tokens]
    output = 400                        # a count, or a prior when the source does not say:
    input = { dist = "discrete", values = [100, 1000], weights = [0.5, 0.5], source = "..." }

``statistic`` says what the published number summarises over the source's queries; the
comparison rescales each draw to that statistic of the query-to-query spread given the
draw's assumptions (see :func:`mcfoot.scale.expected_per_query`). ``boundary`` is a note:
the boundary itself is encoded by ``variable`` (e.g. ``energy_accelerator_wh`` = active
accelerators only, ``energy_wh`` = facility; ``carbon_market_g`` = market-based).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from . import distributions as dists, rng
from ._validate import did_you_mean as _hint, is_finite_number, is_number, unit_problems
from .entryfiles import SCHEMA, load_entry_files  # noqa: F401 - evidence.SCHEMA
from .priors import priors_dir
from .variables import FOOTPRINT
from .catalogue import load_catalogue

KEYS = ("id", "variable", "value", "unit", "per", "statistic", "uncertainty", "date",
        "source", "boundary", "note", "applies_to", "tokens")
REQUIRED = ("id", "variable", "value", "unit", "statistic", "date", "source", "boundary",
            "applies_to", "tokens")
STATISTICS = ("mean", "median")
PERS = ("query", "output_token")
LAB_KEYS = {"model_parameters_b": float, "accelerator": str, "accelerators": int,
            "batch": int, "software": str}
LAB_REQUIRED = ("model_parameters_b", "accelerator", "accelerators", "batch")
#: Joules per watt-hour (a unit conversion)
J_PER_WH = 3600.0
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
_DATE = re.compile(r"^\d{4}(-\d{2}(-\d{2})?)?$")


@dataclass(frozen=True)
class Tokens:
    """A token count: fixed, or a discrete prior over counts (``distributions.Discrete``)."""

    dist: dists.Distribution
    source: str = ""

    @property
    def values(self) -> tuple[int, ...]:
        p = self.dist.params
        return (int(p["value"]),) if self.dist.is_fixed else tuple(int(v) for v in p["values"])

    @property
    def fixed(self) -> bool:
        return len(self.values) == 1

    def ppf(self, u):
        """The count at cumulative probability ``u``."""
        return np.broadcast_to(np.asarray(self.dist.ppf(u)), np.shape(u)).astype(int)


@dataclass(frozen=True)
class Evidence:
    """One validated published figure."""

    id: str
    variables: tuple[str, ...]
    value: float
    unit: str
    per: str
    statistic: str
    uncertainty: dict
    date: str
    source: str
    boundary: str
    applies_to: dict  # {"model": {id: 1.0}} | {"mix": {id: w}} | {"lab": {...}}
    output_tokens: Tokens
    input_tokens: Tokens | None
    note: str = ""
    file: str = ""
    file_hash: str = ""
    kind: str = field(default="model")  # model | mix | lab

    @property
    def variable(self) -> str:
        """The variable(s) as written (sums joined with ' + ')."""
        return " + ".join(self.variables)

    @property
    def scale(self) -> float:
        """Factor from mcfoot's per-query variable units to ``unit``."""
        return J_PER_WH if self.unit == "J/token" else 1.0

    def token_index(self, which: str, draws: int, ss=None, normals: dict | None = None
                    ) -> np.ndarray:
        """Per-draw index into ``tokens.values`` of this entry's ``which`` token prior
        (``"output_tokens"`` or ``"input_tokens"``): the count at the normals of the stream
        ``evidence/ID/which``, given in ``normals`` (name -> (draws,)) or drawn from the seed
        sequence ``ss``; a fixed count: all 0 (no stream drawn)."""
        tokens = getattr(self, which)
        if tokens.fixed:
            return np.zeros(draws, np.int64)
        name = f"evidence/{self.id}/{which}"
        z = normals[name] if normals is not None else rng.standard_normals(ss, name, 0, draws)
        return np.searchsorted(np.asarray(tokens.values), tokens.ppf(special.ndtr(z)))


def shipped_evidence() -> list[str]:
    """Names of the shipped evidence files (``priors/evidence/*.toml``)."""
    root = priors_dir("evidence")
    return sorted(p.name[:-5] for p in root.iterdir() if p.name.endswith(".toml"))


def _units(variables, per) -> list[str]:
    u = FOOTPRINT[variables[0]].units
    if per == "query":
        return [u]
    return [f"{u}/token"] + (["J/token"] if u == "Wh" else [])


def _tokens(where, name, raw, problems, per) -> Tokens | None:
    lo = 1 if (per == "output_token" and name == "output") else 0
    if isinstance(raw, bool) or raw is None:
        problems.append(f"{where}: tokens.{name} must be a count or a prior "
                        f"{{dist = \"discrete\", values, weights, source}}, got {raw!r}")
        return None
    if isinstance(raw, int):
        if raw < lo:
            problems.append(f"{where}: tokens.{name} = {raw} must be an integer >= {lo}")
            return None
        return Tokens(dists.make("fixed", {"value": raw}))
    if not isinstance(raw, dict):
        problems.append(f"{where}: tokens.{name} must be an integer count or a prior table, "
                        f"got {raw!r}")
        return None
    extra = set(raw) - {"dist", "values", "weights", "source"}
    if extra or raw.get("dist") != "discrete":
        problems.append(f"{where}: tokens.{name} prior must be {{dist = \"discrete\", values = "
                        f"[...], weights = [...], source = \"...\"}}"
                        + (f"; unknown key(s) {', '.join(sorted(extra))}" if extra else ""))
        return None
    vals = raw.get("values")
    if not isinstance(vals, list) or not vals or not all(
            isinstance(v, int) and not isinstance(v, bool) and v >= lo for v in vals):
        problems.append(f"{where}: tokens.{name}.values must be integers >= {lo}, got {vals!r}")
        return None
    try:
        d = dists.make("discrete", {"values": vals, "weights": raw.get("weights")})
    except dists.ParameterError as e:
        problems.append(f"{where}: tokens.{name}: {e}")
        return None
    if not isinstance(raw.get("source"), str) or not raw["source"].strip():
        problems.append(f"{where}: tokens.{name} prior has no source; say where the counts "
                        "come from (or that they are an assumption)")
        return None
    return Tokens(d, raw["source"])


def _applies(where, raw, models, problems) -> tuple[str, dict] | None:
    if not isinstance(raw, dict) or len(raw) != 1 or next(iter(raw)) not in (
            "model", "mix", "lab"):
        problems.append(f"{where}: applies_to must be exactly one of {{model = \"id\"}}, "
                        f"{{mix = {{id = weight, ...}}}} or {{lab = {{...}}}}, got {raw!r}")
        return None
    kind, v = next(iter(raw.items()))
    if kind == "model":
        if not isinstance(v, str) or v not in models:
            problems.append(f"{where}: applies_to.model {v!r} is not a catalogue model"
                            + _hint(v, models))
            return None
        return "model", {"model": {v: 1.0}}
    if kind == "mix":
        return _applies_mix(where, v, models, problems)
    return _applies_lab(where, v, problems)


def _applies_mix(where, v, models, problems) -> tuple[str, dict] | None:
    """``applies_to = {mix = {id = weight, ...}}``: catalogue models with weights in (0, 1]
    summing to 1; None (with the problems added) otherwise."""
    if not isinstance(v, dict) or not v:
        problems.append(f"{where}: applies_to.mix must map catalogue model ids to weights")
        return None
    bad = False
    for m, w in v.items():
        if m not in models:
            problems.append(f"{where}: applies_to.mix: {m!r} is not a catalogue model"
                            + _hint(m, models))
            bad = True
        if not is_number(w) or not 0 < w <= 1:
            problems.append(f"{where}: applies_to.mix weight of {m!r} must be in (0, 1], "
                            f"got {w!r}")
            bad = True
    if not bad and not math.isclose(sum(v.values()), 1.0, abs_tol=1e-9):
        problems.append(f"{where}: applies_to.mix weights sum to {sum(v.values()):g}; they "
                        "must sum to 1")
        bad = True
    return None if bad else ("mix", {"mix": {m: float(w) for m, w in v.items()}})


def _applies_lab(where, v, problems) -> tuple[str, dict] | None:
    """``applies_to = {lab = {...}}``: a lab configuration with the known keys, the required
    ones present, each a name or a positive number; None (with the problems added)
    otherwise."""
    if not isinstance(v, dict):
        problems.append(f"{where}: applies_to.lab must be a table {{{', '.join(LAB_KEYS)}}}")
        return None
    bad = False
    for k in v:
        if k not in LAB_KEYS:
            problems.append(f"{where}: applies_to.lab unknown key {k!r}; allowed: "
                            f"{', '.join(LAB_KEYS)}")
            bad = True
    for k in LAB_REQUIRED:
        if k not in v:
            problems.append(f"{where}: applies_to.lab needs {k}")
            bad = True
    for k, t in LAB_KEYS.items():
        if k not in v:
            continue
        x = v[k]
        ok = isinstance(x, str) and x.strip() if t is str else (
            not isinstance(x, bool) and isinstance(x, (int, float) if t is float else int)
            and x > 0)
        if not ok:
            problems.append(f"{where}: applies_to.lab.{k} = {x!r} must be "
                            f"{'a name' if t is str else 'a positive ' + t.__name__}")
            bad = True
    return None if bad else ("lab", {"lab": dict(v)})


def _uncertainty(where, raw, problems) -> dict | None:
    if raw is None or raw == "none":
        return {"kind": "none"}
    if not isinstance(raw, dict):
        problems.append(f"{where}: uncertainty must be \"none\", {{kind = \"interval\", low, high, "
                        f"prob}} or {{kind = \"relative_sd\", value}}, got {raw!r}")
        return None
    kind = raw.get("kind")
    want = {"interval": {"kind", "low", "high", "prob"}, "relative_sd": {"kind", "value"}}
    if kind not in want or set(raw) != want[kind]:
        problems.append(f"{where}: uncertainty {raw!r}: use {{kind = \"interval\", low, high, "
                        f"prob}} or {{kind = \"relative_sd\", value}}")
        return None
    nums = {k: v for k, v in raw.items() if k != "kind"}
    if not all(is_finite_number(v) for v in nums.values()):
        problems.append(f"{where}: uncertainty values must be finite numbers")
        return None
    if kind == "interval" and not (nums["low"] <= nums["high"] and 0 < nums["prob"] < 1):
        problems.append(f"{where}: uncertainty interval needs low <= high and 0 < prob < 1")
        return None
    if kind == "relative_sd" and not nums["value"] > 0:
        problems.append(f"{where}: uncertainty relative_sd must be > 0")
        return None
    return dict(raw)


def _variables_per(where, var, per, p) -> tuple[tuple[str, ...] | None, str]:
    """An entry's footprint variable(s) (one, or distinct ones of one unit to be summed) and
    its ``per``; (None, per), with the problem added, when they are not valid."""
    variables = tuple(var) if isinstance(var, list) else (var,)
    unknown = [v for v in variables if not isinstance(v, str) or v not in FOOTPRINT]
    if not variables or unknown:
        p.append(f"{where}: unknown variable or boundary {', '.join(map(repr, unknown)) or repr(var)}"
                 f"{_hint(unknown[0], FOOTPRINT) if unknown else ''}; use one of "
                 f"{', '.join(FOOTPRINT)} (or a list of them, summed)")
        return None, per
    if len({FOOTPRINT[v].units for v in variables}) != 1 or len(set(variables)) != len(variables):
        p.append(f"{where}: variables {list(variables)} must be distinct and share a unit to "
                 "be summed")
        return None, per
    if per not in PERS:
        p.append(f"{where}: per must be one of {', '.join(PERS)}, got {per!r}")
        return None, per
    return variables, per


def _token_table(where, tok, p, per):
    """An entry's ``tokens`` table: its output and (optional, else None) input token counts
    or discrete priors; (None, None), with the problem added, when it is not such a table."""
    if not isinstance(tok, dict) or "output" not in tok or set(tok) - {"output", "input"}:
        p.append(f"{where}: tokens must be a table with output (and optionally input): a count "
                 "or a discrete prior each")
        return None, None
    out_t = _tokens(where, "output", tok["output"], p, per)
    in_t = _tokens(where, "input", tok["input"], p, per) if "input" in tok else None
    return out_t, in_t


def _entry(i, e, src, models, seen, digest="") -> tuple[list[str], Evidence | None]:
    eid = e.get("id")
    where = f"[[evidence]] #{i + 1}" + (f" ({eid})" if isinstance(eid, str) else "")
    p: list[str] = []
    for k in e:
        if k not in KEYS:
            p.append(f"{where}: unknown key {k!r}{_hint(k, KEYS)}; allowed: {', '.join(KEYS)}")
    for k in REQUIRED:
        if k not in e:
            p.append(f"{where}: missing {k!r}")
    if p:
        return p, None
    if not isinstance(eid, str) or not _ID.match(eid):
        p.append(f"{where}: id must be letters, digits, '-', '_', '.', got {eid!r}")
    elif eid in seen:
        p.append(f"{where}: duplicate id {eid!r}; ids must be unique")
    seen.add(eid)
    variables, per = _variables_per(where, e["variable"], e.get("per", "query"), p)
    if variables is None:
        return p, None
    p += unit_problems(where, e["unit"], _units(variables, per),
                       f"{' + '.join(variables)} per {per}")
    v = e["value"]
    if not is_finite_number(v) or v < 0:
        p.append(f"{where}: value must be a finite number >= 0, got {v!r}")
    if e["statistic"] not in STATISTICS:
        p.append(f"{where}: statistic must be one of {', '.join(STATISTICS)}, got "
                 f"{e['statistic']!r}")
    if not isinstance(e["date"], str) or not _DATE.match(e["date"]):
        p.append(f"{where}: date must be \"YYYY\", \"YYYY-MM\" or \"YYYY-MM-DD\", got "
                 f"{e['date']!r}")
    for k in ("source", "boundary"):
        if not isinstance(e[k], str) or not e[k].strip():
            p.append(f"{where}: {k} must be a non-empty text")
    unc = _uncertainty(where, e.get("uncertainty"), p)
    app = _applies(where, e["applies_to"], models, p)
    out_t, in_t = _token_table(where, e["tokens"], p, per)
    if p:
        return p, None
    kind, applies = app
    return [], Evidence(
        id=eid, variables=variables, value=float(v), unit=e["unit"], per=per,
        statistic=e["statistic"], uncertainty=unc, date=e["date"], source=e["source"],
        boundary=e["boundary"], applies_to=applies, output_tokens=out_t, input_tokens=in_t,
        note=str(e.get("note", "")), file=src, file_hash=digest, kind=kind)


def load_evidence(files: str | Path | list | None = None, catalogue=None) -> list[Evidence]:
    """Load and validate evidence files.

    ``files``: a shipped name, a path, a list of those, or ``None`` for every shipped file.
    Model ids are checked against ``catalogue`` (path or Dataset; default: shipped). Every
    problem of a file is reported together as one :class:`~mcfoot.errors.InputError` naming
    the file, the entry and the fix.
    """
    ds = catalogue if isinstance(catalogue, xr.Dataset) else load_catalogue(catalogue)
    models = [str(m) for m in ds.model.values]
    seen: set[str] = set()
    return load_entry_files(files, "evidence", shipped_evidence(), "evidence", "evidence",
                            lambda i, e, src, digest: _entry(i, e, src, models, seen, digest))
