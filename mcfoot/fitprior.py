"""Priors drawn from the bench fit: ``dist = "bench_fit"`` entries of a scenario file.

The bench fit (:mod:`mcfoot.benchfit`, shipped as ``mcfoot/data/bench_fit.nc``) is a block of
joint posterior draws over (``chain``, ``draw``). A scenario entry

    bandwidth_efficiency."H100 SXM" = { dist = "bench_fit", parameter = "bandwidth_efficiency/H100",
                                        unit = "1", source = "..." }

becomes a ``draws`` prior (:class:`mcfoot.distributions.Draws`): the parameter's draws in the
fit's stored order, read through the one stream :data:`POSTERIOR_STREAM`. Every such prior of
a run takes the same posterior draw at the same normal, so the fitted quantities keep their
joint (correlated) posterior; a lab entry predicted by :mod:`mcfoot.benchpredict` picks its
posterior draw from the same stream, so the catalogue and the bench share a draw of the fit.

Other forms of ``parameter``:

- ``"NAME/*"``: the parameter on hardware the fit never measured. A logit-normal (its own
  stream, independent of the block) centred on the mean over the fit's GPU types of their
  posterior means on the logit scale, with variance the mean posterior variance plus the
  fit's GPU-to-GPU spread: the variance between the GPU types' posterior means, averaged
  over the fit's four hardware parameters (derived: :func:`pooled`).
- ``"model_effect"``: a standard Student-t with the fit's degrees of freedom (``nu``), the
  heavy-tailed shape of the fit's per-model effect and residual; scaled per draw by the
  fitted scales (``"discrepancy/model_scale"``, ``"discrepancy/residual_scale"``).

``fit`` (optional): ``"bench"`` (the shipped fit, default) or the path of a fit file, so a
re-fitted ``bench_fit.nc`` drops in; the scenario's hash covers the fit's ``fit_hash``.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import xarray as xr
from scipy import special

from .benchmodel import _data_path
from .errors import InputError

__all__ = ["POSTERIOR_STREAM", "SHIPPED", "expand_fit_entry", "fit_dataset", "fit_hashes",
           "flat_draws", "pooled"]

#: The stream that picks one joint draw of the fit (:func:`mcfoot.benchpredict.predict`).
POSTERIOR_STREAM = "bench/posterior"
#: the shipped fit, in mcfoot/data/ (``python -m mcfoot.benchfit -o``)
SHIPPED = "bench_fit.nc"
#: The fit's GPU-level parameters (fractions, on the logit scale in the fit).
HARDWARE = ("bandwidth_efficiency", "compute_efficiency", "power_fraction_memory_bound",
            "power_fraction_compute_bound")
ENTRY_KEYS = ("dist", "parameter", "fit", "unit", "source", "note")


def fit_path(fit: str | Path = "bench") -> Path:
    """The file of a fit: ``"bench"`` is the shipped one."""
    return _data_path(SHIPPED) if str(fit) == "bench" else Path(fit)


def fit_dataset(fit: str | Path = "bench") -> xr.Dataset:
    """The fit file's Dataset (loaded once per file version), validated as a bench fit."""
    path = fit_path(fit)
    if not path.is_file():
        raise InputError(f"no bench fit at {path}; give 'bench' or a file written by "
                         f"`python -m mcfoot.benchfit -o FILE`", str(fit))
    st = path.stat()
    return _read(str(path.resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=4)
def _read(path: str, mtime_ns: int, size: int) -> xr.Dataset:
    with xr.open_dataset(path) as f:
        ds = f.load()
    if ds.attrs.get("result_kind") != "bench_fit":
        raise InputError("not a bench fit (result_kind is not 'bench_fit')", path)
    return ds


def flat_draws(ds: xr.Dataset, name: str) -> np.ndarray:
    """Draws of fit variable ``name`` (``"bandwidth_efficiency/H100"`` or its stored name)
    flattened over (chain, draw) in stored order, the order :data:`POSTERIOR_STREAM` indexes."""
    var = ds[name.replace("/", "__")]
    n = ds.sizes["chain"] * ds.sizes["draw"]
    return var.values.reshape(n, *var.shape[2:])


def _gpus(ds: xr.Dataset) -> list[str]:
    pre = f"{HARDWARE[0]}__"
    return [k[len(pre):] for k in ds.data_vars if k.startswith(pre)]


def pooled(ds: xr.Dataset, parameter: str) -> tuple[float, float]:
    """(mu, sigma) on the logit scale of ``parameter`` on hardware the fit never measured
    (derived; see the module docstring)."""
    gpus = _gpus(ds)
    if len(gpus) < 2:
        raise InputError(f"the fit has {len(gpus)} GPU type(s); a prior for other hardware "
                         f"needs at least 2 to measure their spread")

    def logits(p):
        return np.stack([special.logit(flat_draws(ds, f"{p}/{g}")) for g in gpus])

    x = logits(parameter)
    spread = np.mean([np.var(logits(p).mean(axis=1), ddof=1) for p in HARDWARE])
    return float(x.mean()), float(np.sqrt(np.mean(x.var(axis=1)) + spread))


def expand_fit_entry(quantity: str, entry: dict) -> dict:
    """Turn a ``dist = "bench_fit"`` scenario entry into an ordinary one (used by priors.py);
    raises InputError naming what to fix."""
    extra = sorted(set(entry) - set(ENTRY_KEYS))
    if extra:
        raise InputError(f"dist = \"bench_fit\" does not take {', '.join(extra)} (it takes "
                         f"parameter, fit='bench', unit, source, note)")
    ds = fit_dataset(entry.get("fit", "bench"))
    name = entry.get("parameter")
    meta = {k: entry[k] for k in ("unit", "source", "note") if k in entry}
    if name == "model_effect":
        return {"dist": "studentt", "nu": float(ds.attrs["nu"]), **meta}
    if isinstance(name, str) and name.endswith("/*") and name[:-2] in HARDWARE:
        mu, sigma = pooled(ds, name[:-2])
        return {"dist": "logitnormal", "mu": mu, "sigma": sigma, **meta}
    known = [k.replace("__", "/") for k in ds.data_vars if k != "model_effect"]
    if not isinstance(name, str) or name not in known:
        raise InputError(f"dist = \"bench_fit\" needs parameter = one of {', '.join(known)}, "
                         f"'NAME/*' for NAME in {', '.join(HARDWARE)}, or 'model_effect'; "
                         f"got {name!r}")
    return {"dist": "draws", "values": flat_draws(ds, name).tolist(),
            "stream": POSTERIOR_STREAM, **meta}


def fit_hashes(doc: dict) -> list[str]:
    """``bench_fit:<fit_hash>`` of every fit the ``bench_fit`` entries of a scenario document
    read (so a result records which fit it used)."""
    fits = set()

    def walk(t):
        if isinstance(t, dict):
            if t.get("dist") == "bench_fit":
                fits.add(str(t.get("fit", "bench")))
            else:
                for v in t.values():
                    walk(v)
    walk(doc)
    return [f"bench_fit:{fit_dataset(f).attrs.get('fit_hash', '')}" for f in sorted(fits)]
