"""Which priors share data with which evidence entries (``mcfoot priors audit``).

A prior must never be set from the figure it is checked against. ``mcfoot/data/sources.toml``
declares the sources that priors and evidence cite (with the patterns that identify each in a
``source`` text) and which of them report the same measurements (``shares_data_with``). A
prior *depends on* an evidence entry when the sources its text cites and the sources the
entry's text cites are the same or declared to share data. The audit is derived from the
shipped texts, so a new prior that cites an evidence source shows up without anyone listing
it; what is looked for is only what ``sources.toml`` declares.
"""

from __future__ import annotations

import functools
import re
import tomllib
from dataclasses import dataclass
from importlib import resources

from . import benchfit, benchmodel
from .errors import InputError
from .evidence import load_evidence
from .observation import LAB_PREDICTORS, discrepancy_model
from .priors import QUANTITIES, Scenario, load_scenario
from .variables import FOOTPRINT

__all__ = ["AuditRow", "Source", "audit", "dependent_entries", "load_sources", "to_markdown"]

FILE = "sources.toml"
SCHEMA = 1
_SOURCE_KEYS = {"cite", "patterns", "shares_data_with", "why"}


@dataclass(frozen=True)
class Source:
    """A cited source: how to recognise it in a text, and whose data it shares."""

    key: str
    cite: str
    patterns: tuple[str, ...]
    shares_data_with: tuple[str, ...] = ()
    why: str = ""

    def __post_init__(self):
        p = _source_problems(self.key, {"cite": self.cite, "patterns": list(self.patterns),
                                        "shares_data_with": list(self.shares_data_with),
                                        "why": self.why})
        if p:
            raise InputError(p, "Source")


def _source_problems(key: str, t) -> list[str]:
    """Problems of one ``[source.KEY]`` table (references to other keys are checked later)."""
    where = f"[source.{key}]"
    if not isinstance(t, dict):
        return [f"{where} must be a table with cite and patterns"]
    p = [f"{where}: unknown key {k!r}; allowed: {', '.join(sorted(_SOURCE_KEYS))}"
         for k in t if k not in _SOURCE_KEYS]
    if not isinstance(t.get("cite"), str) or not t["cite"].strip():
        p.append(f"{where}: cite is missing; add cite = \"the citation\"")
    pats = t.get("patterns")
    if not (isinstance(pats, list) and pats and all(isinstance(s, str) and s.strip()
                                                    for s in pats)):
        p.append(f"{where}: patterns must be a non-empty list of strings that identify the "
                 f"source in a `source` text, got {pats!r}")
    shares = t.get("shares_data_with", [])
    if not (isinstance(shares, list) and all(isinstance(s, str) for s in shares)):
        p.append(f"{where}: shares_data_with must be a list of source keys, got {shares!r}")
    elif shares and not (isinstance(t.get("why"), str) and t["why"].strip()):
        p.append(f"{where}: shares_data_with needs why = \"which measurements both report\"")
    return p


def _reaches_problems(table) -> list[str]:
    """Problems of the ``[reaches]`` table: quantity -> footprint variables it can move."""
    if not isinstance(table, dict):
        return ["[reaches] must be a table of quantity = [footprint variables]"]
    p = []
    for q, names in table.items():
        if q not in QUANTITIES:
            p.append(f"[reaches]: {q!r} is not a prior quantity; known: {', '.join(QUANTITIES)}")
        bad = [n for n in names if n not in FOOTPRINT] if isinstance(names, list) else [names]
        if bad or not names:
            p.append(f"[reaches] {q}: {bad or names!r} not a non-empty list of footprint "
                     f"variables; known: {', '.join(FOOTPRINT)}")
    return p


def parse_sources(doc: dict, src: str = FILE) -> tuple[dict[str, Source], dict]:
    """Validate a sources document whole; every problem in one :class:`InputError`.
    Returns the sources by key and the ``[reaches]`` table (quantity -> frozenset of
    footprint variables; quantities not in it reach every variable)."""
    problems = [f"unknown top-level key {k!r}; a sources file has [meta], [source.KEY] and "
                f"[reaches]" for k in doc if k not in ("meta", "source", "reaches")]
    meta = doc.get("meta", {})
    if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
        problems.append(f"[meta] schema must be {SCHEMA}")
    tables = doc.get("source", {})
    if not isinstance(tables, dict) or not tables:
        problems.append("no sources; add [source.KEY] tables")
        tables = {}
    for key, t in tables.items():
        problems += _source_problems(key, t)
    for key, t in tables.items():
        for other in (t.get("shares_data_with", []) if isinstance(t, dict) else []):
            if isinstance(other, str) and other not in tables:
                problems.append(f"[source.{key}]: shares_data_with names {other!r}, which is "
                                f"not a source here; add [source.{other}] or correct the key")
    reaches = doc.get("reaches", {})
    problems += _reaches_problems(reaches)
    if problems:
        raise InputError(problems, src)
    return ({k: Source(k, t["cite"], tuple(t["patterns"]), tuple(t.get("shares_data_with", [])),
                       t.get("why", "")) for k, t in tables.items()},
            {q: frozenset(v) for q, v in reaches.items()})


@functools.cache
def load_sources() -> tuple[dict[str, Source], dict]:
    """The shipped source registry (``mcfoot/data/sources.toml``), validated: sources by key
    and the ``[reaches]`` table (see :func:`parse_sources`)."""
    text = resources.files("mcfoot.data").joinpath(FILE).read_text("utf-8")
    return parse_sources(tomllib.loads(text), f"mcfoot/data/{FILE}")


def cited(text: str, sources: dict[str, Source]) -> frozenset[str]:
    """Keys of the sources whose patterns occur in ``text`` as whole words."""
    return frozenset(k for k, s in sources.items()
                     if any(re.search(rf"(?<![\w.-]){re.escape(p)}(?![\w-])", text)
                            for p in s.patterns))


def _related(keys: frozenset[str], sources: dict[str, Source]) -> frozenset[str]:
    """``keys`` and every source declared to share data with one of them (both ways)."""
    out = set(keys)
    for k, s in sources.items():
        if k in keys:
            out |= set(s.shares_data_with)
        if keys & set(s.shares_data_with):
            out.add(k)
    return frozenset(out)


#: What a scenario that predicts lab entries (``observation.LAB_PREDICTORS``) predicts them
#: with: a fit to the ML.ENERGY bench, an input of those predictions as a prior is.
BENCH_FIT_SOURCE = (f"bench physics learned from mcfoot/data/{benchmodel.DATA} (ML.ENERGY "
                    f"Leaderboard v3, 348 configurations), fit mcfoot/data/{benchfit.SHIPPED}")


@dataclass(frozen=True)
class AuditRow:
    """One prior of one scenario and the evidence entries it shares data with."""

    scenario: str
    quantity: str
    key: str
    source: str
    cites: tuple[str, ...]
    entries: tuple[str, ...]  # evidence ids the prior shares data with

    @property
    def independent(self) -> bool:
        return not self.entries


def _priors(sc):
    """(quantity, key text, prior) of every prior of a scenario, in file order."""
    for q, prior in sc.row_sources.items():
        yield q, "(each catalogue row)", prior
    for q, table in sc.priors.items():
        for key, prior in table.items():
            yield q, "/".join(key), prior


def _sharing(text: str, moves: frozenset, entry_keys, sources) -> tuple[tuple, tuple]:
    """The one matching rule: the sources ``text`` cites, and the ids of the entries
    (``entry_keys``: (id, cited sources, variables the prior could move)) that cite one of
    them or a source declared to share data with one, at a variable in ``moves``."""
    keys = cited(text, sources)
    near = _related(keys, sources)
    return tuple(sorted(keys)), tuple(i for i, ek, ev in entry_keys if ek & near and ev & moves)


def audit(scenario, evidence=None, *, discrepancy="shipped") -> list[AuditRow]:
    """Audit every prior of ``scenario`` (a name, path or :class:`Scenario`) against
    ``evidence`` (a list of :class:`~mcfoot.evidence.Evidence`; default: the shipped files),
    and the sourced constants of the measurement model its calibration uses
    (``discrepancy``, as :func:`mcfoot.calibrate.calibrate` takes it: ``"shipped"``, a TOML
    path, a :class:`~mcfoot.discrepancy.Discrepancy`, ``None`` for independent errors with
    the ``[error]`` floor; ``False``: the scenario's priors only, what ``mcfoot compare``
    predicts with). A measurement-model constant moves every figure its term enters (the
    source scale and the floors every figure, a boundary scale its class's variables), lab
    entries included."""
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    entries = load_evidence() if evidence is None else evidence
    sources, reaches = load_sources()
    every = [(e.id, cited(e.source, sources), frozenset(e.variables)) for e in entries]
    # a lab entry is predicted by the bench fit (below), never by the scenario's priors
    by_priors = [(i, ek, frozenset() if e.kind == "lab" else ev)
                 for e, (i, ek, ev) in zip(entries, every)]
    rows = []
    for q, key, prior in _priors(sc):
        rows.append(AuditRow(sc.name, q, key, prior.source, *_sharing(
            prior.source, reaches.get(q, frozenset(FOOTPRINT)), by_priors, sources)))
    if sc.attribution in LAB_PREDICTORS:  # lab entries: the physics learned from the bench
        labs = [k for e, k in zip(entries, every) if e.kind == "lab"]
        rows.append(AuditRow(sc.name, "bench_fit", "(lab entries)", BENCH_FIT_SOURCE,
                             *_sharing(BENCH_FIT_SOURCE, frozenset(FOOTPRINT), labs, sources)))
    if discrepancy is not False:
        model = discrepancy_model(discrepancy)
        for name, text, moves in model.sources:
            rows.append(AuditRow(sc.name, "measurement", name, text,
                                 *_sharing(text, frozenset(moves), every, sources)))
    return rows


def dependent_entries(scenario, evidence=None, *, discrepancy="shipped"
                      ) -> dict[str, tuple[str, ...]]:
    """Evidence ids that share data with a prior of ``scenario`` or a constant of the
    measurement model (``discrepancy``, see :func:`audit`), each with those priors
    (``quantity[key]``): the entries that cannot check this scenario independently."""
    out: dict[str, list[str]] = {}
    for r in audit(scenario, evidence, discrepancy=discrepancy):
        for i in r.entries:
            out.setdefault(i, []).append(f"{r.quantity}[{r.key}]")
    return {i: tuple(v) for i, v in out.items()}


def to_markdown(rows: list[AuditRow]) -> str:
    """The audit as a Markdown table (``docs/priors_audit.md`` is this for every shipped
    scenario)."""
    lines = ["| scenario | prior | cites | shares data with | source |",
             "|---|---|---|---|---|"]
    for r in rows:
        src = r.source.replace("|", "\\|")
        lines.append(f"| {r.scenario} | {r.quantity}[{r.key}] | {', '.join(r.cites) or '-'} "
                     f"| {', '.join(r.entries) or 'independent'} | {src} |")
    return "\n".join(lines) + "\n"
