"""Summaries of footprint distributions: mean, sd, median and a credible interval."""

from __future__ import annotations

import numpy as np
import xarray as xr

from .errors import InputError

STATS = ("mean", "sd", "median", "lower", "upper")


def summarize(tree: xr.DataTree | xr.Dataset, ci_prob: float = 0.95, kind: str = "eti",
              variables=None) -> xr.Dataset:
    """Per (model, prompt) mean, sd (ddof=1), median and a ``ci_prob`` interval of each
    footprint variable. ``kind="eti"`` is the equal-tailed interval.

    Returns a Dataset with the same variables (and units) over (model, prompt, stat).
    """
    ds = tree["footprint"].to_dataset() if isinstance(tree, xr.DataTree) else tree
    if not 0 < ci_prob < 1:
        raise InputError(f"ci_prob must be in (0, 1), got {ci_prob}")
    if kind != "eti":
        raise InputError(f"kind must be 'eti', got {kind!r}")
    names = variables or [v for v in ds.data_vars if set(ds[v].dims) == {"draw", "model",
                                                                          "prompt"}]
    a = (1 - ci_prob) / 2
    out = xr.Dataset(coords={"model": ds.model, "prompt": ds.prompt, "stat": list(STATS)})
    for v in names:
        x = ds[v].transpose("model", "prompt", "draw").values
        q = np.quantile(x, [0.5, a, 1 - a], axis=-1)
        stats = np.stack([x.mean(-1), x.std(-1, ddof=1), q[0], q[1], q[2]], axis=-1)
        out[v] = (("model", "prompt", "stat"), stats, dict(ds[v].attrs))
    out.attrs = {"ci_prob": ci_prob, "ci_kind": kind, "draws": int(ds.sizes["draw"])}
    return out
