"""A calibrated scenario: a scenario whose shared inputs are drawn from a posterior.

:func:`mcfoot.calibrate` conditions a scenario on published figures and returns the
posterior as weighted draws of the independent standard normals behind the scenario's
group-level (shared) inputs: ``z`` (draws, streams) with normalized ``log_weight``.
A :class:`Posterior` attached to a :class:`~mcfoot.priors.Scenario` changes one thing in
the sampler (``simulate.draw_normals``): for draw ``i`` of any run, the normals of the
posterior's streams are row ``j_i`` of ``z``, where ``j_i`` is drawn with probability
``weight[j]`` from the uniform of draw ``i`` of the stream ``posterior/index``
(inverse-CDF resampling). Everything else is untouched:

- streams the evidence did not involve (hosts, hardware, models no entry depends on) are
  drawn from their priors as usual: the posterior equals the prior there, because the
  prior is independent across streams in normal space (copula blocks stay whole: a plan
  resolves every quantity of a key it uses);
- query-level randomness (latency and speed of each row) is drawn fresh per draw;
- every random number still depends only on (seed, stream, draw index), so a calibrated
  run is reproducible bit for bit whatever the chunking, threads or workers.

A calibrated scenario is stored in a result file's ``calibration`` group (``mcfoot
calibrate -o posterior.nc``) and loaded back by ``priors.load_calibrated`` wherever a scenario
is accepted (``scenario="posterior.nc"``; :func:`mcfoot.priors.load_calibrated`). The file records the base scenario's name and
content hash; loading refuses a base scenario whose content has changed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import special

from . import rng
from .errors import InputError

#: Name of the stream whose uniforms pick a posterior draw for every draw of a run.
INDEX_STREAM = "posterior/index"
GROUP = "calibration"
SUFFIXES = (".nc", ".nc4", ".h5", ".zarr")


@dataclass(frozen=True, eq=False)
class Posterior:
    """Weighted posterior draws of standard normals: ``z`` (D, P) over ``streams`` (P,),
    ``log_weight`` (D,) normalized. ``hash``: content hash (recorded in results)."""

    streams: tuple[str, ...]
    z: np.ndarray
    log_weight: np.ndarray

    def __post_init__(self):
        z = np.ascontiguousarray(self.z, dtype=float)
        lw = np.asarray(self.log_weight, dtype=float)
        if z.ndim != 2 or z.shape[1] != len(self.streams) or lw.shape != (z.shape[0],):
            raise InputError(f"posterior: z must be (draws, {len(self.streams)}) and "
                             f"log_weight (draws,), got {z.shape} and {lw.shape}")
        if not np.all(np.isfinite(z)) or np.isnan(lw).any() or not np.isfinite(lw).any():
            raise InputError("posterior: z must be finite and some weight positive")
        total = special.logsumexp(lw)
        if abs(total) > 1e-9:
            raise InputError(f"posterior: weights must sum to 1 (log sum {total:.3g})")
        object.__setattr__(self, "z", z)
        object.__setattr__(self, "log_weight", lw)
        object.__setattr__(self, "_col", {s: i for i, s in enumerate(self.streams)})
        object.__setattr__(self, "_cdf", np.cumsum(np.exp(lw)))

    @property
    def hash(self) -> str:
        h = hashlib.sha256()
        h.update("\n".join(self.streams).encode())
        h.update(self.z.tobytes())
        h.update(self.log_weight.tobytes())
        return "sha256:" + h.hexdigest()

    def __contains__(self, stream: str) -> bool:
        return stream in self._col

    def indices(self, ss: np.random.SeedSequence, start: int, stop: int) -> np.ndarray:
        """Posterior draw used by run draws ``start..stop-1`` (inverse-CDF resampling)."""
        u = special.ndtr(rng.standard_normals(ss, INDEX_STREAM, start, stop))
        return np.minimum(np.searchsorted(self._cdf, u * self._cdf[-1], side="right"),
                          len(self._cdf) - 1)

    def normals(self, stream: str, idx: np.ndarray) -> np.ndarray:
        """Normals of ``stream`` at posterior draws ``idx``."""
        return self.z[idx, self._col[stream]]


def attach(scenario, posterior: Posterior, name: str | None = None):
    """The scenario ``scenario`` with its shared inputs drawn from ``posterior``."""
    return replace(scenario, name=name or f"{scenario.name}+calibrated",
                   hashes=(posterior.hash, *scenario.hashes), posterior=posterior)


def is_posterior_path(scenario) -> bool:
    return isinstance(scenario, (str, Path)) and str(scenario).lower().endswith(SUFFIXES)
