"""Provenance: the one set of attrs every mcfoot result carries.

Every result kind (``simulate``, ``stream``, ``summary``, ``rank``, ``sensitivity``,
``scale``, ``claims``) is stamped by :func:`stamp` with the same keys:

* ``result_kind``, ``mcfoot_version``, ``created`` (UTC, ISO 8601);
* the run it comes from (:data:`RUN_KEYS`): ``scenario``, ``scenario_attribution``,
  ``scenario_hash``, ``scenario_files``, ``scenario_file_hashes``, ``catalogue``,
  ``catalogue_hash``, ``regions_hash`` (the shipped ``regions.csv``, from which named
  regions take their values), ``seed``, ``seed_entropy``, ``rng``, ``backend``,
  ``draws`` and the sampling design (:data:`mcfoot.rng.DESIGN_KEYS`: ``sampling``,
  ``sampling_replicates``, and for Sobol' runs ``sampling_points``, ``sampling_dimensions``,
  ``sampling_scramble``, ``sampling_scramble_seeds``).

A sampler result (``simulate``, ``stream``, Sobol' indices) gets the run keys from its
plan and seed (:func:`run_attrs`); a result computed from an existing run copies them from
that run's attrs, so a summary, ranking or scale total names the exact run it summarises.
"""

from __future__ import annotations

import datetime as _dt
from collections.abc import Mapping
from pathlib import Path

from . import regions, rng
from .plan import design_columns
from ._version import __version__

__all__ = ["RUN_KEYS", "run_attrs", "stamp"]

#: Keys describing the run a result comes from, in the order they are written.
RUN_KEYS = ("scenario", "scenario_attribution", "scenario_hash", "scenario_files",
            "scenario_file_hashes", "catalogue", "catalogue_hash", "regions_hash", "seed",
            "seed_entropy", "rng", "backend", "draws", *rng.DESIGN_KEYS)
#: What ``rng`` records.
RNG = f"PCG64 per named stream, blocks of {rng.BLOCK} draws"


def now() -> str:
    """Creation time stamp (UTC, seconds)."""
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def run_attrs(plan, seed, draws: int | None = None, backend: str | None = None,
              design: rng.Design | None = None) -> dict:
    """The run keys of a sampler run: scenario and catalogue of ``plan`` (a
    :class:`mcfoot.plan.Plan`), ``seed`` (normalized here), ``draws``, ``backend`` and
    the sampling ``design`` (:func:`mcfoot.rng.make_design`; default plain Monte Carlo
    over ``draws``)."""
    sc, ss = plan.scenario, rng.normalize_seed(seed)
    out = {
        "scenario": sc.name,
        "scenario_attribution": sc.attribution,
        "scenario_hash": sc.hash,
        "scenario_files": ";".join(Path(f).name for f in sc.files),
        "scenario_file_hashes": ";".join(sc.hashes),
        "catalogue": str(plan.catalogue.attrs.get("source", "")),
        "catalogue_hash": str(plan.catalogue.attrs.get("catalogue_hash", "")),
        "regions_hash": regions.table_hash(),
        "seed": rng.seed_record(ss),
        "seed_entropy": str(ss.entropy),
        "rng": RNG,
    }
    if backend is not None:
        out["backend"] = backend
    if draws is not None:
        out["draws"] = int(draws)
    if design is not None or draws is not None:
        design = design or rng.Design("mc", int(draws))
        out.update(design.record(ss, len(design_columns(plan))))
    return out


def stamp(kind: str, run: Mapping | None = None, **extra) -> dict:
    """Attrs of a result of kind ``kind``.

    ``run``: the run keys (:func:`run_attrs`, or the attrs of the run the result was
    computed from; other keys of it are ignored). ``extra``: the result's own attrs, written
    after the run keys (they win, e.g. the ``draws`` a result actually used).
    """
    out: dict = {"result_kind": kind}
    if run is not None:
        out.update({k: run[k] for k in RUN_KEYS if k in run})
    out.update(extra)
    out["mcfoot_version"] = __version__
    out["created"] = now()
    return out
