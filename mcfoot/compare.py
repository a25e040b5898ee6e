"""Published figures against mcfoot, like with like: each evidence entry at its own boundary,
token counts and statistic, under a chosen scenario.

For every entry of the evidence files (:mod:`mcfoot.evidence`) :func:`compare` predicts the
distribution of the published quantity and reports its median, 90 % interval and the
percentile at which the published figure falls:

1. **Boundary**: the entry's variable(s) (summed per draw when a source counts several, e.g.
   market-based + embodied carbon).
2. **Requests**: the entry's model, or every model of its weighted mix, at every token count
   of its token priors (:func:`mcfoot.estimate.request_catalogue`: latency and speed
   interpolated in log input tokens; same scenario, seed and draws for every entry).
3. **Statistic**: per draw, the entry's statistic (mean or median) of the query-to-query
   spread given that draw's assumptions, by calibration's measurement model
   (:class:`mcfoot.observation.Likelihood`, the same prediction calibration compares the
   figure with): the footprint at a fixed lattice of latency/speed points, reduced by the
   mean or median.
4. **Token priors**: each draw picks its token counts from the entry's priors (streams
   ``evidence/ID/output_tokens`` and ``evidence/ID/input_tokens``): the prior's uncertainty
   joins the others.
5. **Mix**: per draw, the weighted mean of the models' means, or the median of the mixture
   of their query distributions.
6. ``per = "output_token"``: divided by the draw's output tokens (and Wh -> J when the unit
   is J/token).

**Lab configurations** (a test bench: model size, accelerators, batch) are not API rows. A
scenario predicts them only if its attribution models a serving configuration; the shipped
``paper``, ``default`` and ``physical`` scenarios do not (their accelerator share is per
catalogue row and size class, with no batch or throughput of the bench), so these entries
are reported as **not predictable under this scenario**, with the reason, never with a
made-up number. :data:`mcfoot.observation.LAB_PREDICTORS` is where a scenario attribution that models serving
registers its prediction.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import xarray as xr

from . import audit, provenance, rng
from ._validate import check_draws
from .errors import InputError
from .evidence import Evidence, load_evidence
from .observation import LAB_PREDICTORS, NotPredictable, predict  # noqa: F401 - public names
from .plan import build_plan
from .priors import Scenario, load_scenario

CI = 0.9


def _uncertainty_text(u: dict) -> str:
    """The entry's stated uncertainty as text ('none' when the source states none)."""
    if u["kind"] == "interval":
        return f"{100 * u['prob']:g} % interval [{u['low']:g}, {u['high']:g}]"
    if u["kind"] == "relative_sd":
        return f"relative sd {u['value']:g}"
    return "none"


def _predictions(entries, sc: Scenario, draws: int, ss, catalogue):
    """Every entry's prediction per draw (draw, entry; NaN when not predictable), its status
    (``ok`` / ``not predictable``) and the reason (the estimate's notes, or why not)."""
    pred = np.full((draws, len(entries)), np.nan)
    status, reason = [], []
    for j, e in enumerate(entries):
        try:
            y, notes = predict(e, sc, draws, ss, catalogue)
            pred[:, j] = y
            status.append("ok")
            reason.append("; ".join(notes))
        except NotPredictable as err:
            status.append("not predictable")
            reason.append(str(err))
    return pred, status, reason


def _positions(pred: np.ndarray, value: np.ndarray, ok: np.ndarray, a: float):
    """For the predictable entries ``ok``: the median and the ``a``, ``1 - a`` quantiles of
    the prediction (3, entry) and the published figure's percentile in it (ties count half);
    NaN for the others."""
    n = len(value)
    q = np.full((3, n), np.nan)
    pct = np.full(n, np.nan)
    if ok.any():
        q[:, ok] = np.quantile(pred[:, ok], [0.5, a, 1 - a], axis=0)
        below = (pred[:, ok] < value[ok]).mean(0) + 0.5 * (pred[:, ok] == value[ok]).mean(0)
        pct[ok] = 100 * below
    return q, pct


def _entry_coords(entries, status, reason, draws: int, shared: dict) -> dict:
    """The coordinates of :func:`compare`'s result: entry ids, draws, and what each entry
    states (variable, unit, statistic, kind, source, boundary, date, uncertainty) with its
    status and reason, and the scenario's priors it shares data with (``shared``:
    :func:`mcfoot.audit.dependent_entries`)."""
    return {
        "shares_data_with": ("evidence", ["; ".join(shared.get(e.id, ())) for e in entries]),
        "evidence": [e.id for e in entries], "draw": np.arange(draws),
        "variable": ("evidence", [e.variable for e in entries]),
        "unit": ("evidence", [e.unit for e in entries]),
        "statistic": ("evidence", [e.statistic for e in entries]),
        "kind": ("evidence", [e.kind for e in entries]),
        "status": ("evidence", status), "reason": ("evidence", reason),
        "source": ("evidence", [e.source for e in entries]),
        "boundary": ("evidence", [e.boundary for e in entries]),
        "date": ("evidence", [e.date for e in entries]),
        "uncertainty": ("evidence", [_uncertainty_text(e.uncertainty) for e in entries])}


def compare(scenario: str | Path | Scenario = "default", evidence=None, *, draws: int = 10_000,
            seed=0, catalogue=None) -> xr.Dataset:
    """mcfoot against every published figure of ``evidence`` (shipped files by default).

    Returns a Dataset over ``evidence`` (entry ids) with ``value`` (the published figure),
    ``median``, ``lower``, ``upper`` (90 % equal-tailed interval of mcfoot's prediction at
    the entry's boundary, tokens and statistic), ``percentile`` (100 x the share of draws
    below the published figure; NaN when not predictable) and ``prediction`` over
    (draw, evidence); coordinates ``variable``, ``unit``, ``statistic``, ``kind``,
    ``status`` (``ok`` / ``not predictable``), ``reason`` (why not, or the estimate's
    warnings), ``source``, ``boundary``, ``date``, ``uncertainty`` (as stated by the
    source) and ``shares_data_with`` (the scenario's priors that share data with the entry,
    ``mcfoot priors audit``: such an entry is no independent check, its verdict says so). Attrs: the provenance stamp of the run (scenario, hashes, seed, draws) and the
    evidence files' hashes.
    """
    draws, _ = check_draws(draws, None)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    entries = evidence if isinstance(evidence, list) and all(
        isinstance(x, Evidence) for x in evidence) else load_evidence(evidence, catalogue)
    if not entries:
        raise InputError("no evidence entries to compare")
    ss = rng.normalize_seed(seed)
    pred, status, reason = _predictions(entries, sc, draws, ss, catalogue)
    value = np.array([e.value for e in entries])
    a = (1 - CI) / 2
    q, pct = _positions(pred, value, np.array([s == "ok" for s in status]), a)
    shared = audit.dependent_entries(sc, entries, discrepancy=False)  # no measurement model
    out = xr.Dataset(coords=_entry_coords(entries, status, reason, draws, shared))
    long = {"value": "published figure", "median": "mcfoot median",
            "lower": f"mcfoot {100 * a:g} % quantile", "upper": f"mcfoot {100 * (1 - a):g} % quantile"}
    for name, arr in (("value", value), ("median", q[0]), ("lower", q[1]), ("upper", q[2])):
        out[name] = ("evidence", arr, {"long_name": long[name],
                                       "units": "see the unit coordinate"})
    out["percentile"] = ("evidence", pct, {"units": "%", "long_name": "percentile of the "
                                           "published figure in mcfoot's distribution"})
    out["prediction"] = (("draw", "evidence"), pred, {"long_name": "mcfoot's prediction of "
                                                      "the published quantity, per draw",
                                                      "units": "see the unit coordinate"})
    files = dict.fromkeys((e.file, e.file_hash) for e in entries)
    out.attrs = provenance.stamp(
        "compare", provenance.run_attrs(build_plan(sc, catalogue), ss, draws, "numba"),
        ci_prob=CI, evidence_files=";".join(Path(f).name for f, _ in files),
        evidence_file_hashes=";".join(h for _, h in files),
        method="mcfoot.compare: boundary variables, token priors, statistic rescaling "
               "(see mcfoot/compare.py)")
    return out


def verdict(row) -> str:
    """Where the published figure falls relative to mcfoot's 90 % interval:
    'published below', 'inside', 'published above', or 'n/a'; 'not independent' when a
    prior of the scenario shares data with the entry (it is left out of the checks)."""
    if row["status"] != "ok" or math.isnan(row["median"]):
        return "n/a"
    if row.get("shares_data_with"):
        return "not independent"
    if row["value"] < row["lower"]:
        return "published below"
    if row["value"] > row["upper"]:
        return "published above"
    return "inside"


def table(ds: xr.Dataset) -> list[dict]:
    """One JSON-ready dict per evidence entry."""
    rows = []
    for j, eid in enumerate(ds.evidence.values):
        r = {"id": str(eid)}
        for c in ("variable", "unit", "statistic", "kind", "status", "reason", "source",
                  "boundary", "date", "uncertainty", "shares_data_with"):
            r[c] = str(ds[c].values[j])
        for v in ("value", "median", "lower", "upper", "percentile"):
            x = float(ds[v].values[j])
            r[v] = None if math.isnan(x) else x
        r["verdict"] = verdict({k: (math.nan if r[k] is None else r[k]) if k in (
            "value", "median", "lower", "upper") else r[k] for k in r})
        rows.append(r)
    return rows
