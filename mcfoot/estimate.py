"""Any request: the footprint of ``model`` for any output and input token counts.

:func:`estimate` lays each request out as one row of a catalogue built for the occasion and
runs the same sampler as :func:`mcfoot.simulate` on it, so every footprint variable comes
with the same priors, streams and provenance.

How a request's latency and speed are obtained (documented choice):

- **Output tokens** enter through the method's equations: node time is
  ``latency_s + output_tokens / speed_tokens_per_s``.
- **Input tokens** move the latency and speed distributions. Artificial Analysis measured
  them at a few prompt sizes (the study: 100, 1,000 and 10,000 input tokens). Between two
  measured sizes each quantile (P5..P95) of latency and of speed is interpolated **linearly
  in log input tokens**; at a measured size the measured quantiles are used as they are.
  Below the smallest or above the largest measured size the nearest measured quantiles are
  **held** (no extrapolation) and an :class:`EstimateWarning` says so: above the range this
  is likely an underestimate, since prefill time grows with the prompt.
- ``input_tokens=None`` means the model's smallest measured prompt size.
- **Streams**: a request's latency and speed come from its model's streams
  (``latency/MODEL``, ``speed/MODEL``; see :meth:`mcfoot.simulate.Plan.row_streams`), the
  same for every token count. Hence at a catalogue row's own token counts the draws *are*
  that row's draws of :func:`mcfoot.simulate` with the same seed, bit for bit, and between
  token counts the draws vary continuously (common random numbers).

**Monotonicity.** With common random numbers, a draw's energy is non-decreasing in output
tokens always, and non-decreasing in input tokens wherever the measured latency quantiles
do not decrease and the speed quantiles do not increase from one prompt size to the next.
The measurements are not always like that (about one transition in eight of the shipped
catalogue has a shorter median query time at the larger prompt, e.g. a faster deployment
for long prompts, or measurement noise). mcfoot resolves the tension in favour of the
measurements: at measured sizes the estimate *is* the catalogue row, and between sizes it
follows the data; a request that falls on such a segment gets an :class:`EstimateWarning`
naming the model and the two prompt sizes, because its energy may then *decrease* with more
input tokens. Nothing is clipped or silently reordered.
"""

from __future__ import annotations

import warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import xarray as xr

from . import catalogue as cat
from . import provenance
from ._validate import token_counts
from .errors import InputError
from .priors import Scenario
from .plan import _select
from .simulate import simulate

#: dimension of the requests when token arguments are arrays
REQUEST_DIM = "request"
INTERPOLATION = ("latency and speed quantiles linear in log(input tokens) between measured "
                 "prompt sizes, measured quantiles at measured sizes, held at the nearest "
                 "measured size outside the range; output tokens through the method's "
                 "equations; streams per model (a catalogue row's token counts reproduce "
                 "its draws)")


class EstimateWarning(UserWarning):
    """A request outside the measured prompt sizes, or on a segment where the measured
    latency/speed make the footprint decrease with more input tokens."""


@contextmanager
def estimate_warnings():
    """Collect the :class:`EstimateWarning` messages raised inside the block (every one, in
    order, into the list it yields, filled when the block ends); any other warning is issued
    again as it was, so the caller's filters still see it."""
    notes: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", EstimateWarning)
        yield notes
    for w in caught:
        if issubclass(w.category, EstimateWarning):
            notes.append(str(w.message))
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)


def _measured(ds: xr.Dataset, model: str):
    """(input tokens ascending, latency quantiles, speed quantiles, output tokens) of the
    model's measured prompt sizes."""
    row = ds.sel(model=model)
    ok = row.present.values
    tin = row.input_tokens.values[ok]
    order = np.argsort(tin, kind="stable")
    tin = tin[order]
    if len(np.unique(tin)) != len(tin):
        raise InputError(f"model {model!r} has two prompt sizes with the same input_tokens "
                         f"({', '.join(str(int(t)) for t in tin)}) in catalogue "
                         f"{ds.attrs.get('source', '(given)')}; estimate needs one measured "
                         "row per input size")
    return (tin, row.latency_s.values[ok][order], row.speed_tokens_per_s.values[ok][order],
            row.output_tokens.values[ok][order], np.asarray(row.prompt.values)[ok][order])


def _interpolate(tin, q, x: float) -> tuple[np.ndarray, int, int]:
    """Quantiles at input size ``x`` and the indices (a, b) of the measured sizes used."""
    out, a, b = interpolate_quantiles(tin, q, np.array([x], float))
    return out[0], int(a[0]), int(b[0])


def interpolate_quantiles(tin, q, x) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The interpolation of the module docstring for many input sizes at once.

    ``tin`` (P,) measured input sizes, ascending; ``q`` (P, Q) their quantiles; ``x`` (n,)
    input sizes. Returns the quantiles (n, Q) and the indices ``a``, ``b`` (n,) of the
    measured sizes used (``a == b`` at a measured size and outside the range)."""
    tin = np.asarray(tin, float)
    x = np.asarray(x, float)
    last = len(tin) - 1
    b = np.searchsorted(tin, x)  # first measured size >= x
    exact = (b <= last) & (tin[np.minimum(b, last)] == x)
    below, above = x < tin[0], x > tin[-1]
    inside = ~(exact | below | above)
    a = np.where(exact, b, np.where(below, 0, np.where(above, last, b - 1)))
    b = np.where(inside, b, a)
    out = q[a].copy()
    if inside.any():
        ai, bi = a[inside], b[inside]
        t = (np.log(x[inside]) - np.log(tin[ai])) / (np.log(tin[bi]) - np.log(tin[ai]))
        out[inside] = q[ai] + t[:, None] * (q[bi] - q[ai])
    return out, a, b


def _interpolated(ds: xr.Dataset, models, n: int, in_t):
    """Latency and speed quantiles (model, request, quantile) interpolated at each of the
    ``n`` requests' input tokens ``in_t`` (None: each model's smallest measured size), the
    input tokens used (model, request), and the requests outside the measured range and on
    falling segments (for the warnings)."""
    shape = (len(models), n, ds.sizes["quantile"])
    lat, spd = np.empty(shape), np.empty(shape)
    tin_used = np.empty((len(models), n))
    outside, falling = [], []
    for i, m in enumerate(models):
        tin, lq, sq, _, prompts = _measured(ds, m)
        for j in range(n):
            x = float(tin[0]) if in_t is None else float(in_t[j])
            tin_used[i, j] = x
            lat[i, j], a, b = _interpolate(tin, lq, x)
            spd[i, j], _, _ = _interpolate(tin, sq, x)
            if x < tin[0] or x > tin[-1]:
                outside.append(f"{m} at {int(x)} input tokens (measured "
                               f"{int(tin[0])}-{int(tin[-1])}; held at {int(tin[a])})")
            elif a != b and (np.any(lq[b] < lq[a]) or np.any(sq[b] > sq[a])):
                falling.append(f"{m} between {prompts[a]} ({int(tin[a])}) and {prompts[b]} "
                               f"({int(tin[b])} input tokens)")
    return lat, spd, tin_used, outside, falling


def request_catalogue(ds: xr.Dataset, models, output_tokens, input_tokens) -> xr.Dataset:
    """A catalogue Dataset with one row (``prompt`` = request label) per request of every
    model: latency/speed quantiles interpolated at the request's input tokens (module
    docstring). Emits :class:`EstimateWarning` outside the measured range and on segments
    where the measurements decrease."""
    out_t, in_t = output_tokens.reshape(-1), None if input_tokens is None else \
        input_tokens.reshape(-1)
    n = len(out_t)
    labels = [f"r{j}" for j in range(n)]
    lat, spd, tin_used, outside, falling = _interpolated(ds, models, n, in_t)
    if outside:
        warnings.warn("estimate: outside the measured prompt sizes, latency and speed are held "
                      "at the nearest measured size (no extrapolation; an underestimate above "
                      "the range): " + "; ".join(dict.fromkeys(outside)), EstimateWarning,
                      stacklevel=3)
    if falling:
        warnings.warn("estimate: the measured latency falls or speed rises with more input "
                      "tokens on this segment, so the footprint may decrease with input tokens "
                      "there (the estimate follows the measurements): "
                      + "; ".join(dict.fromkeys(falling)), EstimateWarning, stacklevel=3)
    sub = ds.sel(model=list(models))
    out = xr.Dataset(coords={"model": list(models), "prompt": labels,
                             "quantile": ds["quantile"].values})
    out["quantile"].attrs = dict(ds["quantile"].attrs)
    for v in sub.data_vars:
        if sub[v].dims == ("model",):
            out[v] = sub[v]
    out["present"] = (("model", "prompt"), np.ones((len(models), n), bool),
                      {"long_name": "row in catalogue"})
    out["input_tokens"] = (("model", "prompt"), tin_used,
                           {"units": "tokens", "long_name": "input tokens"})
    out["output_tokens"] = (("model", "prompt"), np.broadcast_to(
        out_t.astype(float), (len(models), n)).copy(), {"units": "tokens",
                                                        "long_name": "output tokens"})
    out["latency_s"] = (("model", "prompt", "quantile"), lat, dict(ds.latency_s.attrs))
    out["speed_tokens_per_s"] = (("model", "prompt", "quantile"), spd,
                                 dict(ds.speed_tokens_per_s.attrs))
    out.attrs = dict(ds.attrs)
    return out


def estimate_tree(model, output_tokens, input_tokens=None, *, scenario: str | Path | Scenario
                  = "default", draws: int = 10_000, seed=0, catalogue=None,
                  backend: str = "numba", region: str | None = None, sampling: str = "mc",
                  replicates: int | None = None) -> xr.DataTree:
    """:func:`estimate` as a full result tree (``footprint``, ``inputs``, ``catalogue`` over
    ``prompt`` = request labels ``r0, r1, ...``), for the functions that take a
    :func:`mcfoot.simulate` result (e.g. :func:`mcfoot.scale.expected_per_query`)."""
    out_t = token_counts("output_tokens", output_tokens)
    in_t = None if input_tokens is None else token_counts("input_tokens", input_tokens)
    if in_t is not None:
        try:
            out_t, in_t = np.broadcast_arrays(out_t, in_t)
        except ValueError:
            raise InputError(f"output_tokens (shape {out_t.shape}) and input_tokens (shape "
                             f"{in_t.shape}) do not broadcast; give equal shapes or a scalar")
    ds = catalogue if isinstance(catalogue, xr.Dataset) else cat.load_catalogue(catalogue)
    models = [model] if isinstance(model, str) else model
    if not isinstance(models, (list, tuple)) or not all(isinstance(m, str) for m in models):
        raise InputError(f"model must be a catalogue model id or a list of them, got {model!r}")
    sel = _select(ds, list(models), None)
    gone = [m for m in models if m not in set(sel.model.values)]
    if gone:
        raise InputError(f"model(s) {', '.join(gone)} have no measured row in catalogue "
                         f"{ds.attrs.get('source', '(given)')}")
    req = request_catalogue(sel, list(models), out_t, in_t)
    tree = simulate(scenario, draws=draws, seed=seed, catalogue=req, backend=backend,
                    progress=False, region=region, sampling=sampling, replicates=replicates)
    tree.attrs = provenance.stamp("estimate", tree.attrs, estimate=INTERPOLATION,
                                  request_shape=",".join(map(str, out_t.shape)) or "scalar")
    return tree


def estimate(model, output_tokens, input_tokens=None, *, scenario: str | Path | Scenario
             = "default", draws: int = 10_000, seed=0, catalogue=None,
             region: str | None = None, sampling: str = "mc",
             replicates: int | None = None) -> xr.Dataset:
    """Footprint distributions of any request: ``model`` answering ``output_tokens`` (after
    ``input_tokens`` of prompt) under ``scenario``.

    Parameters
    ----------
    model : a catalogue model id, or a list of them (adds a ``model`` dimension).
    output_tokens, input_tokens : non-negative integers, or arrays of them (broadcast
        together; adds a ``request`` dimension with both counts as coordinates).
        ``input_tokens=None``: the model's smallest measured prompt size.
    scenario, draws, seed, catalogue, region : as for :func:`mcfoot.simulate`.
    sampling, replicates : ``"mc"`` or ``"sobol"`` (randomized QMC), as for
        :func:`mcfoot.simulate`; a Sobol' design spans the request catalogue's own columns,
        so its draws differ from a whole-catalogue Sobol' run's (plain MC draws do not).

    Returns
    -------
    Dataset over ``draw`` (and ``model``, ``request``) with every footprint variable of
    :func:`mcfoot.simulate` (``energy_wh`` and its boundaries ``energy_accelerator_wh``,
    ``energy_host_wh``, ``energy_idle_wh``, ``energy_it_wh``; ``carbon_g``,
    ``carbon_market_g``, ``carbon_embodied_g``; ``water_site_ml``, ``water_source_ml``,
    ``water_ml``; the host factors), the sampled ``latency_s`` and ``speed_tokens_per_s``,
    units, and the provenance attrs of ``simulate`` plus ``estimate`` (the interpolation).
    At a catalogue row's own token counts the draws equal that row's draws of
    ``simulate(scenario, draws, seed)``. See the module docstring for interpolation,
    extrapolation (held, with an :class:`EstimateWarning`) and monotonicity.
    """
    tree = estimate_tree(model, output_tokens, input_tokens, scenario=scenario, draws=draws,
                         seed=seed, catalogue=catalogue, region=region, sampling=sampling,
                         replicates=replicates)
    shape = np.shape(output_tokens) if input_tokens is None else \
        np.broadcast_shapes(np.shape(output_tokens), np.shape(input_tokens))
    return _request_dataset(tree, one_request=shape == (), one_model=isinstance(model, str))


def _request_dataset(tree: xr.DataTree, *, one_request: bool, one_model: bool) -> xr.Dataset:
    """The flat Dataset :func:`estimate` returns from its run tree: the footprint with the
    sampled latency and speed, over ``request`` (token counts as coordinates) and
    ``model``, each dimension dropped when the caller gave one value."""
    fpt = tree["footprint"].to_dataset()
    inp = tree["inputs"].to_dataset()
    for v in ("latency_s", "speed_tokens_per_s"):
        fpt[v] = inp[v]
    reqcat = tree["catalogue"].to_dataset()
    fpt = fpt.rename({"prompt": REQUEST_DIM})
    fpt = fpt.assign_coords({
        "output_tokens": (REQUEST_DIM, reqcat["output_tokens"].values[0].astype(np.int64),
                          {"units": "tokens"}),
        "input_tokens": ((("model", REQUEST_DIM)), reqcat["input_tokens"].values.astype(
            np.int64), {"units": "tokens"})})
    fpt = fpt.drop_vars(REQUEST_DIM)
    if one_request:
        fpt = fpt.isel({REQUEST_DIM: 0})
    if one_model:
        fpt = fpt.isel(model=0)
    fpt.attrs = dict(tree.attrs)
    return fpt
