"""Grid regions: name a region instead of typing its grid carbon intensity or water intensity.

``mcfoot/data/regions.csv`` holds, for common cloud regions and countries, the location-based
grid carbon intensity (``cif_kg_per_kwh``, kg CO2e/kWh) and the off-site water intensity of
electricity (``wue_source_l_per_kwh``, L/kWh), each with its own source column naming the
published figure (see ``mcfoot/data/SOURCE.md``). An empty cell means
no source was found: asking for it is an error, never a guess.

In a scenario file, a host's ``cif`` or ``wue_source`` entry may name a region::

    [cif]
    my-dc = { dist = "region", region = "ireland", rel_sd = 0.10, unit = "kg CO2e/kWh",
              source = "my data centre is in Dublin" }

``rel_sd`` (optional, default 0) is the standard deviation relative to the regional value:
0 gives ``dist = "fixed"`` at that value; > 0 gives a normal truncated at 0 with
``sd = rel_sd * value`` (a relative spread for grid intensity, e.g.
rel_sd = 0.10). The entry's own ``source`` (optional) is appended to the table's.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from importlib import resources

import pandas as pd

from ._validate import is_finite_number
from .errors import InputError

__all__ = ["COLUMNS", "ENTRY_KEYS", "expand_region_entry", "FILE", "load_regions", "region_prior",
           "region_value", "RegionError", "regions", "table", "table_hash"]

FILE = "regions.csv"
#: scenario quantity -> (value column, source column, unit)
COLUMNS = {
    "cif": ("cif_kg_per_kwh", "cif_source", "kg CO2e/kWh"),
    "wue_source": ("wue_source_l_per_kwh", "wue_source_source", "L/kWh"),
}
ENTRY_KEYS = ("dist", "region", "rel_sd", "unit", "source", "note")


class RegionError(InputError):
    """An unknown region, a quantity the table has no (sourced) value for, or a bad entry."""


@lru_cache(maxsize=1)
def load_regions() -> pd.DataFrame:
    """The shipped regions table, indexed by ``region`` (read once, on first use)."""
    path = resources.files("mcfoot.data").joinpath(FILE)
    with path.open("r", encoding="utf-8") as f:
        df = pd.read_csv(f, dtype={"region": str, "aliases": str}, keep_default_na=True)
    return df.set_index("region")


@lru_cache(maxsize=1)
def table_hash() -> str:
    """``sha256:<hex>`` of the shipped regions table's bytes (recorded in every result: a
    scenario may name a region, and the value then comes from this table, not the TOML)."""
    data = resources.files("mcfoot.data").joinpath(FILE).read_bytes()
    return "sha256:" + hashlib.sha256(data).hexdigest()


def regions() -> list[str]:
    """Names of the shipped regions."""
    return list(load_regions().index)


def canonical(name: str) -> str:
    df = load_regions()
    key = str(name).strip().lower()
    if key in df.index:
        return key
    for region, aliases in df["aliases"].dropna().items():
        if key in [a.strip().lower() for a in aliases.split(";")]:
            return region
    raise RegionError(f"unknown region '{name}'; known: {', '.join(df.index)} "
                      f"(see mcfoot/data/{FILE})")


def region_value(name: str, quantity: str) -> tuple[float, str, str]:
    """``(value, unit, source)`` of ``quantity`` (``"cif"`` or ``"wue_source"``) in a region."""
    if quantity not in COLUMNS:
        raise RegionError(f"regions hold {' and '.join(COLUMNS)}, not '{quantity}'; give "
                          f"{quantity} as an ordinary distribution")
    region = canonical(name)
    col, src_col, unit = COLUMNS[quantity]
    row = load_regions().loc[region]
    value = row[col]
    if pd.isna(value):
        have = [r for r in load_regions().index if not pd.isna(load_regions().at[r, col])]
        raise RegionError(f"region '{region}' has no sourced {quantity} value; give one "
                          f"yourself or use a region that has one: {', '.join(have)}")
    return float(value), unit, f"{row['label']}: {row[src_col]} (mcfoot/data/{FILE})"


def region_prior(name: str, quantity: str, rel_sd: float = 0.0, source: str = "",
                 note: str = "") -> dict:
    """A scenario entry (the dict a TOML table would give) for ``quantity`` in a region.

    ``rel_sd = 0`` gives ``{"dist": "fixed", "value": v, ...}``; ``rel_sd > 0`` a
    ``truncnormal`` with ``mean = v``, ``sd = rel_sd * v``, ``low = 0``.
    """
    if not is_finite_number(rel_sd) or rel_sd < 0:
        raise RegionError(f"rel_sd = {rel_sd!r} must be a number >= 0 (e.g. 0.10 for 10% of "
                          f"the regional value)")
    value, unit, table_source = region_value(name, quantity)
    src = table_source + (f"; {source}" if source else "")
    if rel_sd == 0 or value == 0:
        entry = {"dist": "fixed", "value": value}
    else:
        entry = {"dist": "truncnormal", "mean": value, "sd": rel_sd * value, "low": 0.0}
    entry |= {"unit": unit, "source": src}
    if note:
        entry["note"] = note
    return entry


def expand_region_entry(quantity: str, entry: dict) -> dict:
    """Turn a ``dist = "region"`` scenario entry into an ordinary one (used by priors.py).

    The entry's ``unit`` is kept if given, so a wrong unit is still reported by the
    scenario validator.
    """
    extra = sorted(set(entry) - set(ENTRY_KEYS))
    if extra:
        raise RegionError(f"dist = \"region\" does not take {', '.join(extra)} (it takes "
                          f"region, rel_sd=0, unit, source, note)")
    if not isinstance(entry.get("region"), str):
        raise RegionError(f"dist = \"region\" needs region = \"NAME\", one of "
                          f"{', '.join(regions())}")
    out = region_prior(entry["region"], quantity, entry.get("rel_sd", 0.0),
                       str(entry.get("source", "") or ""), str(entry.get("note", "") or ""))
    if "unit" in entry:
        out["unit"] = entry["unit"]
    return out


def table() -> pd.DataFrame:
    """The regions table for display: region, label, values with units, sources."""
    return load_regions().reset_index()
