"""Plausibility bounds of physical inputs, with sources (``mcfoot/data/plausibility.toml``).

Hard limits (a PUE below 1, a negative power) live with each quantity; these bounds catch
what is possible in principle but not in practice: a node power of 1e308 kW, zero output
tokens, a latency column holding tokens/s. Loading refuses such a value with the bound and
its source; nothing is clipped.
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from importlib import resources

FILE = "plausibility.toml"


@dataclass(frozen=True)
class Bound:
    name: str
    low: float
    high: float
    unit: str
    source: str

    def text(self) -> str:
        return f"plausible range [{self.low:g}, {self.high:g}] {self.unit} ({self.source})"


@functools.cache
def _load() -> tuple[float, dict[str, dict[str, Bound]]]:
    doc = tomllib.loads(resources.files("mcfoot.data").joinpath(FILE).read_text("utf-8"))
    out = {}
    for group in ("catalogue", "priors"):
        out[group] = {k: Bound(k, float(v["low"]), float(v["high"]), v["unit"], v["source"])
                      for k, v in doc[group].items()}
    return float(doc["meta"]["checked_quantile"]), out


def catalogue_bounds() -> dict[str, Bound]:
    """Bounds of catalogue columns (prefixes of the quantile columns, token counts)."""
    return _load()[1]["catalogue"]


def prior_bounds() -> dict[str, Bound]:
    """Bounds of scenario quantities."""
    return _load()[1]["priors"]


def checked_quantile() -> float:
    """The quantile of a prior that must lie inside its quantity's bound."""
    return _load()[0]
