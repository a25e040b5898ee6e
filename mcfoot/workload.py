"""The footprint of a request log, with intervals that are right for the total.

Given the shared inputs of a draw (power draw, utilization, PUE, WUE, grid intensity: every
group-level prior of the scenario), every footprint of a request is its node time times a
factor of those inputs (``footprint.py``): ``energy = 1000 * hours * power_kw * PUE`` and so
on. Only the node time, ``hours = (latency + T_out / speed) / 3600``, varies from request to
request (latency and speed are per-request draws from the catalogue's quantiles). So per
draw ``d`` and (model, region) *slot* ``s``:

    total_v[d] = sum_s F_v[s, d] * H_s[d],     H_s[d] = sum of the hours of the slot's requests

where ``F_v[s, d]`` is the footprint of one node-hour of slot ``s`` under the draw's shared
inputs, computed by the sampler itself (:func:`mcfoot.simulate.evaluate` on a slot whose
latency is one hour and output is zero tokens). Two ways to get ``H_s[d]``:

* ``method="mean"`` (large logs): ``H_s = sum_i count_i E[hours_i]``, the conditional mean
  given the shared inputs. ``E[latency]`` and ``E[1/speed]`` of the catalogue's
  piecewise-linear quantile function are exact integrals (:func:`hour_moments`), so there is
  no Monte Carlo error in ``H_s``. What it leaves out is the per-request noise, whose
  relative sd given the shared inputs is at most ``sqrt(sum_i count_i b_i^2) / H_s`` with
  ``b_i = sd(latency_i) + T_out,i sd(1/speed_i)`` (Minkowski; no copula needed): reported as
  ``noise_rel_sd_bound`` per group and tested against per-request sampling.
* ``method="exact"`` (small logs): every request gets its own latency and speed in every
  draw (its own named random streams ``workload/latency/ROW/K``), through the same sampler.

``method="auto"`` is exact up to :data:`EXACT_MAX_REQUESTS` requests, else mean.

``sampling="sobol"`` (:func:`mcfoot.rng.make_design`) makes the shared inputs of the draws a
scrambled Sobol' design, one coordinate per group-level stream (in the plans' order, so the
inputs shared by every request sit on the first, best-balanced dimensions), the same
design -> normals path as :func:`mcfoot.simulate` (:func:`mcfoot.rng.design_normals`). The
per-request latencies and speeds of ``method="exact"`` stay pseudo-random (their own named
streams): each replicate is then still an independent unbiased estimate, so the Monte Carlo
errors from the replicates' spread (:func:`summary_table`, :mod:`mcfoot.mcse`) stay honest. Sums over
rows are exact (:class:`mcfoot.aggregate.ExactSum`: integer mantissas per binary exponent), so
the result does not depend on how the log is chunked or partitioned, nor on the order
partitions finish. Reading and reducing the log is ``mcfoot.aggregate``; this module draws.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import mcse, provenance, rng, variables as V
from ._validate import choice, positive_int
from .catalogue import load_catalogue
from .errors import InputError
from .aggregate import SECONDS_PER_HOUR, LogTotals, split_key, aggregate, quantiles_at
from .logs import CHUNK_ROWS, LogError
from .estimate import INTERPOLATION, EstimateWarning
from .priors import Scenario, load_scenario, with_region
from .simulate import Normals, Plan, build_plan, check_draws, evaluate
from .regions import regions
from .summary import summarize_draws, summary_mcse

#: ``method="auto"`` samples every request when the log has at most this many requests (a
#: numerical setting, not an assumption: above it the per-request noise the conditional mean
#: leaves out has a relative sd of at most cv/sqrt(N), about 3 % of the total for a node-time
#: coefficient of variation cv = 1, and is reported as ``noise_rel_sd_bound``).
EXACT_MAX_REQUESTS = 1_000
#: Requests evaluated together in exact mode (bounds memory: batch x draws x outputs).
EXACT_BATCH = 64
METHODS = ("auto", "mean", "exact")
#: Groupings ``by`` accepts: from the log (time, region) or from the catalogue (per model).
BY_TIME = {"year": "Y", "month": "M", "day": "D"}
BY_MODEL = ("model", "company", "host", "hardware", "size_class")
BY = (*BY_MODEL, *BY_TIME, "region")


# ---- draws -----------------------------------------------------------------------------------

def _slot_plan(plan: Plan, model_pos: np.ndarray, lat_q, spd_q, out_tokens) -> Plan:
    """``plan`` with one slot per entry of ``model_pos`` (positions in ``plan.models``)."""
    first = model_pos * len(plan.prompts)
    return dataclasses.replace(
        plan, present=np.ones(len(model_pos), bool),
        slot_combo=np.ascontiguousarray(plan.slot_combo[first]),
        slot_host=np.ascontiguousarray(plan.slot_host[first]),
        out_tokens=np.ascontiguousarray(out_tokens, float),
        lat_q=np.ascontiguousarray(lat_q, float), spd_q=np.ascontiguousarray(spd_q, float))


def _evaluate_slots(plan: Plan, group: dict, z_lat, z_spd, backend: str) -> dict:
    """Every per-query footprint of the registry (``variables.per_query``) over (slot, draw)."""
    res, _ = evaluate(plan, Normals(group, z_lat, z_spd), backend)
    out = {name: res[v.kernel_key] for name, v in V.FOOTPRINT.items()}
    if res["energy_variants"].shape[0] == 2:
        for i, (name, v) in enumerate(V.BAND.items()):
            out[name] = res[v.kernel_key][i]
    return out


def workload(log, *, scenario="default", draws: int = 10_000, seed=0, by=None,
             catalogue=None, region: str | None = None, columns=None,
             skip_unknown: bool = False, method: str = "auto", backend: str = "numba",
             chunk_rows: int = CHUNK_ROWS, progress: bool | None = None,
             client=None, sampling: str = "mc", replicates: int | None = None
             ) -> xr.DataTree:
    """Footprint of a request log: per-draw totals of every footprint variable, overall and
    per group, with the right uncertainty for a total (see the module docstring).

    Parameters
    ----------
    log : CSV or Parquet file, a folder of Parquet files, or a DataFrame (``mcfoot.logs``).
    scenario, draws, seed, catalogue, backend : as for :func:`mcfoot.simulate`.
    by : None, or one or a list of ``model``, ``company``, ``host``, ``hardware``,
        ``size_class``, ``year``, ``month``, ``day``, ``region``.
    region : grid region (``mcfoot priors regions``) for requests whose log row names none;
        default: each model's host's own priors.
    columns : ``{"model": "engine", ...}`` or ``"model=engine,..."``: the log's column names.
    skip_unknown : drop rows of models the catalogue lacks (reported in the attrs).
    method : ``"auto"``, ``"mean"`` or ``"exact"`` (module docstring).
    client : a ``dask.distributed.Client``: each file of a partitioned log is reduced on the
        cluster (same numbers as locally).
    sampling, replicates : ``"mc"`` or ``"sobol"`` draws of the shared inputs (module
        docstring; ``draws`` must then be replicates x a power of two).

    Returns
    -------
    DataTree: ``total`` (variables over ``draw``, everyday equivalents of the total),
    ``groups`` (over ``draw`` and ``group``, when ``by`` is given) and ``log`` (requests,
    tokens and ``noise_rel_sd_bound`` per group); the root attrs hold the provenance (seed,
    scenario and its hash, catalogue hash, log hash, method, skipped rows).
    """
    draws, _ = check_draws(draws, None)
    design = rng.make_design(sampling, draws, replicates)
    choice("method", method, METHODS)
    chunk_rows = positive_int("chunk_rows", chunk_rows)
    by = _check_by(by)
    ss = rng.normalize_seed(seed)
    sc = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    cat = catalogue if isinstance(catalogue, xr.Dataset) else load_catalogue(catalogue)
    time_unit = next((BY_TIME[b] for b in ("day", "month", "year") if b in by), None)
    keep = EXACT_MAX_REQUESTS if method == "auto" else (0 if method == "mean" else 1 << 62)
    kw = dict(columns=columns, skip_unknown=skip_unknown, time_unit=time_unit, region=region,
              chunk_rows=chunk_rows, keep=keep)
    tot = _log_totals(log, cat, kw, client, progress)
    _warn(tot)
    exact = method == "exact" or (method == "auto" and tot.rows is not None)
    return _draws(tot, sc, cat, ss, design, by, time_unit, exact, backend, log, region)


def _log_totals(log, cat: xr.Dataset, kw: dict, client, progress) -> LogTotals:
    """The log read, validated and reduced to its totals, on the dask ``client`` when given
    (else here, with a progress bar); a log with no request left is an error."""
    if client is not None:
        from .distributed import workload_totals  # lazy: the dask path loads its own modules

        tot = workload_totals(client, log, cat, kw, progress=progress is not False)
    else:
        bar = _progress(log, progress)
        try:
            tot = aggregate(log, cat, progress=bar, **kw)
        finally:
            if bar is not None:
                bar.close()
    if not tot.ints:
        raise LogError(f"no requests left to estimate ({tot.skipped.text()})",
                       _log_label(log))
    return tot


def _warn(tot: LogTotals) -> None:
    """One :class:`~mcfoot.estimate.EstimateWarning` for the requests outside the measured
    prompt sizes and on falling segments (``estimate`` warns per request)."""
    parts = []
    if tot.outside:
        parts.append(f"{tot.outside} of {tot.n_requests} requests lie outside their model's "
                     f"measured prompt sizes (latency and speed held at the nearest one: an "
                     f"underestimate above the range)")
    if tot.falling:
        parts.append(f"{tot.falling} requests lie between prompt sizes where the measured "
                     f"latency falls or speed rises with more input tokens")
    if parts:
        warnings.warn("workload: " + "; ".join(parts) + " (counts in the result's attrs)",
                      EstimateWarning, stacklevel=3)


def _check_by(by) -> list[str]:
    if by is None:
        return []
    items = [by] if isinstance(by, str) else list(by)
    items = [s.strip() for x in items for s in str(x).split(",") if s.strip()]
    bad = [b for b in items if b not in BY]
    if bad:
        raise InputError(f"by: unknown grouping(s) {', '.join(bad)}; use one or more of "
                         f"{', '.join(BY)}")
    if len(set(items)) != len(items):
        raise InputError(f"by: {', '.join(items)} names a grouping twice; name each once")
    if sum(b in BY_TIME for b in items) > 1:
        raise InputError("by: give one of year, month, day")
    return items


def _progress(log, progress):
    if progress is False or isinstance(log, pd.DataFrame):
        return None
    try:
        size = sum(p.stat().st_size for p in ([Path(log)] if Path(log).is_file()
                                               else Path(log).rglob("*.parquet")))
    except OSError:
        return None
    if progress is None and size < 64 << 20:
        return None
    from tqdm.auto import tqdm

    return tqdm(desc="mcfoot workload", unit="rows", unit_scale=True, leave=False)


def _log_label(log) -> str:
    return "the DataFrame" if isinstance(log, pd.DataFrame) else str(log)


def _log_hash(log) -> str:
    if isinstance(log, pd.DataFrame):
        h = pd.util.hash_pandas_object(log, index=False).to_numpy()
        return "sha256:" + hashlib.sha256(h.tobytes()).hexdigest() + " (DataFrame rows)"
    p = Path(log)
    files = sorted(p.rglob("*.parquet")) if p.is_dir() else [p]
    h = hashlib.sha256()
    for f in files:
        with open(f, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 22), b""):
                h.update(block)
    return "sha256:" + h.hexdigest()


def _group_labels(keys: list[int], by: list[str], cat: xr.Dataset, time_unit) -> pd.DataFrame:
    """Per cell key, the value of each ``by`` grouping (strings)."""
    names = ["(host's own)", *regions()]
    rows = []
    for k in keys:
        m, r, t = split_key(k)
        row = {}
        for b in by:
            if b == "model":
                row[b] = str(cat.model.values[m])
            elif b in BY_MODEL:
                row[b] = str(cat[b].values[m])
            elif b == "region":
                row[b] = names[r]
            else:
                row[b] = str(np.datetime64(int(t), time_unit))
        rows.append(row)
    return pd.DataFrame(rows, index=keys)


def _group_codes(labels, by, n_cells: int) -> tuple[np.ndarray, list]:
    """The group index of each of the ``n_cells`` cells and the sorted distinct groups (the
    rows of ``labels``); one group ``None`` when not grouping ``by`` anything."""
    if not by:
        return np.zeros(n_cells, np.int64), [None]
    tuples = list(labels.itertuples(index=False, name=None))
    guniq = sorted(set(tuples))
    where = {t: i for i, t in enumerate(guniq)}
    return np.array([where[t] for t in tuples], np.int64), guniq


def _draws(tot: LogTotals, sc, cat, ss, design: rng.Design, by, time_unit, exact, backend,
           log, region) -> xr.DataTree:
    draws = design.draws
    region_names = [None, *regions()]
    keys = sorted(tot.ints)
    split = {k: split_key(k) for k in keys}
    used_models = sorted({m for m, _, _ in split.values()})
    models = [str(cat.model.values[m]) for m in used_models]
    pos = {m: i for i, m in enumerate(used_models)}
    used_regions = sorted({r for _, r, _ in split.values()})
    plans = {r: build_plan(sc if r == 0 else with_region(sc, region_names[r]), cat, models)
             for r in used_regions}
    # design columns: every plan's group streams, in plan order (each stream once)
    streams = list(dict.fromkeys(s for p in plans.values() for s in p.group_streams()))
    group = dict(zip(streams, rng.design_normals(ss, design, streams, 0, draws)))
    labels = _group_labels(keys, by, cat, time_unit)
    gcodes, guniq = _group_codes(labels, by, len(keys))
    n_groups = len(guniq)
    cell_group = dict(zip(keys, gcodes))
    totals: dict[str, np.ndarray] = {}

    def add(name, g_idx: np.ndarray, values: np.ndarray):  # values (cells, D)
        acc = totals.setdefault(name, np.zeros((n_groups, draws)))
        np.add.at(acc, g_idx, values)

    if exact:
        _exact(tot, plans, group, pos, cell_group, cat, draws, ss, backend, add)
    else:
        hours = tot.hours.values()
        for r, plan in plans.items():
            cells = [k for k in keys if split[k][1] == r]
            models_r = sorted({pos[split[k][0]] for k in cells})
            slot = {m: i for i, m in enumerate(models_r)}
            # footprint of one node-hour of each model under each draw's shared inputs
            one = np.full((len(models_r), len(plan.probs)), SECONDS_PER_HOUR)
            sp = _slot_plan(plan, np.array(models_r), one, np.ones_like(one),
                            np.zeros(len(models_r)))
            z = np.zeros((len(models_r), draws))
            per_hour = _evaluate_slots(sp, group, z, z.copy(), backend)
            weights = np.zeros((n_groups, len(models_r)))  # node-hours per (group, model)
            for k in cells:
                weights[cell_group[k], slot[pos[split[k][0]]]] += hours[k]
            for name, v in per_hour.items():
                acc = totals.setdefault(name, np.zeros((n_groups, draws)))
                for j in range(len(models_r)):  # fixed order (no BLAS: thread-independent)
                    acc += weights[:, j:j + 1] * v[j]
    return _tree(tot, totals, keys, labels, gcodes, guniq, by, plans[min(plans)], ss, design,
                 len(streams), exact, backend, log, region, models)


def _exact(tot, plans, group, pos, cell_group, cat, draws, ss, backend, add):
    """Per-request sampling: every request its own latency and speed in every draw."""
    probs = cat["quantile"].values
    rows = [np.concatenate(parts) for parts in zip(*tot.rows)]
    row_id, keys, model, t_in, t_out, count = rows
    rep = np.repeat(np.arange(len(row_id)), count)  # one entry per request
    k_in_row = np.arange(len(rep)) - np.repeat(np.cumsum(count) - count, count)
    lq, sq, _, _ = quantiles_at(cat, model[rep], t_in[rep])
    region = np.array([split_key(int(k))[1] for k in keys[rep]], np.int64)
    for r, plan in plans.items():
        sel = np.flatnonzero(region == r)
        for s in range(0, len(sel), EXACT_BATCH):
            b = sel[s:s + EXACT_BATCH]
            names = [f"workload/latency/{row_id[rep[i]]}/{k_in_row[i]}" for i in b]
            z_lat = rng.standard_normals_many(ss, names, 0, draws)
            z_spd = rng.standard_normals_many(ss, [n.replace("/latency/", "/speed/", 1)
                                                   for n in names], 0, draws)
            mpos = np.array([pos[int(m)] for m in model[rep[b]]])
            sp = _slot_plan(plan, mpos, lq[b], sq[b], t_out[rep[b]])
            vals = _evaluate_slots(sp, group, z_lat, z_spd, backend)
            g_idx = np.array([cell_group[int(k)] for k in keys[rep[b]]])
            for name, v in vals.items():
                add(name, g_idx, v)


#: The counts of a log (or of a group of it): name -> (units, long name).
_COUNTS = {"requests": ("requests", "requests in the log"),
           "input_tokens": ("tokens", "input tokens in the log"),
           "output_tokens": ("tokens", "output tokens in the log (reasoning included)"),
           "rows": ("rows", "log rows")}


def _per_group(tot, keys, gcodes, n_groups: int):
    """Per group, from its cells: the counts (:data:`_COUNTS`), the expected node hours (h)
    and the largest bound on the relative sd of a cell's per-request noise."""
    hours = tot.hours.values()
    b2 = tot.bound2.values()
    ints = np.zeros((n_groups, 4), np.int64)
    h_g = np.zeros(n_groups)
    noise = np.zeros(n_groups)
    for k, g in zip(keys, gcodes):
        ints[g] += tot.ints[k]
        h_g[g] += hours[k]
        noise[g] = max(noise[g], math.sqrt(b2[k]) / hours[k] if hours[k] > 0 else 0.0)
    return ints, h_g, noise


def _groups_dataset(totals: dict, by, guniq, ints: np.ndarray, h_g: np.ndarray,
                    noise: np.ndarray, draw, noise_attrs: dict) -> xr.Dataset:
    """The ``groups`` node of a workload result: per group (labelled by its ``by`` values)
    the totals per draw, the counts, the expected node time and the noise bound."""
    gds = xr.Dataset(coords={"draw": draw, "group": np.arange(len(guniq))})
    for b in by:
        gds = gds.assign_coords({b: ("group", [str(t[by.index(b)]) for t in guniq])})
    for name, arr in totals.items():
        units, long_name = V.units(name), V.get(name).long_name
        gds[name] = (("draw", "group"), arr.T.copy(),
                     {"units": units, "long_name": long_name.replace(" per query", "")
                      + ", total over the group's requests"})
    for j, (name, (units, long_name)) in enumerate(_COUNTS.items()):
        gds[name] = ("group", ints[:, j], {"units": units, "long_name": long_name})
    gds["node_hours"] = ("group", h_g, {"units": "h", "long_name": "expected node time"})
    gds["noise_rel_sd_bound"] = ("group", noise,
                                 {"units": "1", "long_name": noise_attrs["long_name"]})
    return gds


def _tree(tot, totals, keys, labels, gcodes, guniq, by, plan, ss, design, dims, exact,
          backend, log, region, models) -> xr.DataTree:
    from .scale import everyday_equivalents  # lazy: `import mcfoot` does not load scale

    draws = design.draws
    hours = tot.hours.values()
    n_groups = len(guniq)
    ints, h_g, noise = _per_group(tot, keys, gcodes, n_groups)
    coords = {"draw": np.arange(draws)}
    total = xr.Dataset(coords=coords)
    for name, arr in totals.items():
        units, long_name = V.units(name), V.get(name).long_name
        total[name] = ("draw", arr.sum(0), {"units": units, "long_name":
                                            long_name.replace(" per query", "") +
                                            ", total over the log"})
    for name, (values, attrs) in everyday_equivalents(
            total["energy_wh"].values, total["water_ml"].values,
            total["carbon_g"].values).items():
        total[name] = ("draw", values, attrs)
    for j, (name, (units, long_name)) in enumerate(_COUNTS.items()):
        total[name] = ((), int(ints[:, j].sum()), {"units": units, "long_name": long_name})
    total["node_hours"] = ((), float(sum(hours.values())),
                           {"units": "h", "long_name": "expected node time of the log's "
                            "requests (conditional mean, exact integral)"})
    total["noise_rel_sd_bound"] = ((), float(noise.max()) if not exact else 0.0,
                                   {"units": "1", "long_name":
                                    "bound on the relative sd of per-request noise left out of "
                                    "the total given the shared inputs (0 in exact mode)"})
    nodes = {"total": total}
    if by:
        nodes["groups"] = _groups_dataset(totals, by, guniq, ints, h_g,
                                          noise if not exact else np.zeros(n_groups),
                                          coords["draw"], total["noise_rel_sd_bound"].attrs)
    run = provenance.run_attrs(plan, ss, draws, backend) | design.record(ss, dims)
    attrs = provenance.stamp(
        "workload", run, title="mcfoot footprint of a request log",
        log=_log_label(log), log_hash=_log_hash(log),
        method="exact (every request sampled)" if exact else
               "mean (conditional mean node time given the shared inputs)",
        by=",".join(by), region=region or "", models=",".join(models),
        requests_outside_measured_input_tokens=tot.outside,
        requests_on_falling_segments=tot.falling,
        input_token_interpolation=INTERPOLATION,
        skipped=tot.skipped.text(), skipped_requests=tot.skipped.total_requests)
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **nodes})


def summary_table(tree: xr.DataTree, ci_prob: float = 0.90, variables=None) -> pd.DataFrame:
    """Median, ``ci_prob`` equal-tailed interval and mean of every total (and group), each with
    its Monte Carlo standard error (:func:`mcfoot.summary.summary_mcse`, following the run's
    sampling design): one row per group (``total`` first), columns ``VAR median [units]``,
    ``VAR lower [units]``, ``VAR upper [units]``, ``VAR mean [units]``, ``VAR_mcse STAT
    [units]`` for each of those, plus ``requests``; ``df.attrs`` holds the run's provenance
    and ``mcse_method``."""
    lay = mcse.layout(tree.attrs, tree["total"].sizes["draw"])
    parts = [("total", tree["total"].to_dataset().expand_dims(group=["total"]))]
    if "groups" in tree.children:
        g = tree["groups"].to_dataset()
        by = [b for b in tree.attrs["by"].split(",") if b]
        labels = ["; ".join(f"{b}={g[b].values[i]}" for b in by) for i in range(g.sizes["group"])]
        parts.append(("groups", g.drop_vars(by).assign_coords(group=labels)))
    frames = []
    for _, ds in parts:
        names = [v for v in ds.data_vars if "draw" in ds[v].dims]
        if variables is not None:
            names = [v for v in names if v in variables]
        cols = {"requests": ds["requests"].values.reshape(-1)}
        for v in names:
            s = summarize_draws(ds[v].transpose("group", "draw"), ci_prob)
            err = summary_mcse(ds[v].transpose("draw", "group"), lay, ci_prob)
            u = ds[v].attrs.get("units", "")
            for st in ("median", "lower", "upper", "mean"):
                cols[f"{v} {st} [{u}]"] = s.sel(stat=st).values
            for st in ("median", "lower", "upper", "mean"):
                cols[f"{v}_mcse {st} [{u}]"] = err.sel(stat=st).values
        frames.append(pd.DataFrame(cols, index=pd.Index([str(x) for x in ds.group.values],
                                                        name="group")))
    df = pd.concat(frames)
    df.attrs = dict(tree.attrs) | {"ci_prob": ci_prob, "ci_kind": "eti",
                                   "mcse_method": lay.describe()}
    return df
