"""Chunked runs on dask: a lazy DataTree, and NetCDF written chunk by chunk.

:func:`simulate_dask` returns the same DataTree as :func:`mcfoot.simulate`, except that every
variable with a ``draw`` dimension is a dask array chunked along ``draw``; chunk ``k`` is one
delayed call of :func:`mcfoot.simulate.simulate_range` (``draw_normals`` + ``evaluate`` on
that draw range). Every random number depends only on (seed, stream, draw index), so the
values are bit-identical to an in-memory run whatever the chunk size, the scheduler or the
number of workers (see README, "Reproducibility").

:func:`run_to_netcdf` writes such a tree on a ``dask.distributed`` cluster (a
``LocalCluster`` of ``workers`` processes, or an existing scheduler ``address``); memory stays
bounded by a few chunks per worker. Streaming summaries on a cluster: ``mcfoot.stream.stream(
..., client=...)``.
"""

from __future__ import annotations

import contextlib
import sys
import types
from pathlib import Path

import numpy as np
import xarray as xr

from . import io, rng
from ._validate import positive_int
from .errors import InputError
from .simulate import Plan, build_plan, check_draws, simulate_range
from .stream import release
from .aggregate import aggregate
from .logs import LogError, _files, _pyarrow

__all__ = ["client", "DASHBOARD", "run_to_netcdf", "simulate_dask"]


def _chunk_arrays(plan: Plan, ss, start: int, stop: int, backend: str,
                  names: tuple[tuple[str, str], ...], design: rng.Design | None = None) -> dict:
    tree = simulate_range(plan, ss, start, stop, backend=backend, design=design)
    out = {(g, v): np.ascontiguousarray(tree[g][v].values) for g, v in names}
    release(tree)
    return out


def simulate_dask(scenario="default", draws: int = 10_000, seed=0, models=None, prompts=None,
                  *, catalogue=None, backend: str = "numba",
                  chunk_draws: int | None = None, sampling: str = "mc",
                  replicates: int | None = None) -> xr.DataTree:
    """:func:`mcfoot.simulate` as a lazy DataTree of dask arrays chunked along ``draw``.

    Nothing is computed until the arrays are (``.compute()``, ``.mean().compute()``,
    ``to_netcdf``); each chunk is computed once per ``compute`` call that needs it. Use a
    ``dask.distributed.Client`` to run on a cluster. ``sampling``, ``replicates``: as for
    :func:`mcfoot.simulate` (Sobol' points are fast-forwarded to each chunk's first draw).
    """
    import dask
    import dask.array as da

    draws, chunk = check_draws(draws, chunk_draws)
    design = rng.make_design(sampling, draws, replicates)
    ss = rng.normalize_seed(seed)
    plan = build_plan(scenario, catalogue, models, prompts)
    # layout, attrs, catalogue
    template = simulate_range(plan, ss, 0, 1, backend=backend, design=design)
    names = tuple((g, v) for g in ("footprint", "inputs")
                  for v in template[g].data_vars if "draw" in template[g][v].dims)
    for g, v in names:
        if template[g][v].dims[0] != "draw":
            raise AssertionError(f"{g}/{v}: draw must be the first dimension")
    plan_d = dask.delayed(plan, pure=True)
    bounds = [(s, min(s + chunk, draws)) for s in range(0, draws, chunk)]
    parts = [dask.delayed(_chunk_arrays, pure=True)(plan_d, ss, s, e, backend, names, design)
             for s, e in bounds]
    groups = {}
    for g in ("footprint", "inputs"):
        ds = template[g].to_dataset().isel(draw=slice(0, 0))
        ds = ds.drop_vars([v for (gg, v) in names if gg == g])
        ds = ds.assign_coords(draw=np.arange(draws))
        for gg, v in names:
            if gg != g:
                continue
            t = template[g][v]
            blocks = [da.from_delayed(p[(g, v)], shape=(e - s, *t.shape[1:]), dtype=t.dtype)
                      for p, (s, e) in zip(parts, bounds)]
            ds[v] = (t.dims, da.concatenate(blocks, axis=0), dict(t.attrs))
        groups[g] = ds
    attrs = dict(template.attrs) | {"draws": draws, "chunk_draws": chunk}
    return xr.DataTree.from_dict({"/": xr.Dataset(attrs=attrs), **groups,
                                  "catalogue": template["catalogue"].to_dataset()})


#: Dashboard address of a local cluster: any free port. (``None`` does not stop distributed
#: from probing its default port 8787, and warns when another program holds it.)
DASHBOARD = ":0"


@contextlib.contextmanager
def client(workers: int | None = None, address: str | None = None, processes: bool = True,
           threads_per_worker: int = 1, dashboard: bool = False):
    """A ``dask.distributed.Client``: on a new ``LocalCluster`` of ``workers`` workers, or
    connected to the scheduler at ``address``. Closed (and the cluster stopped) on exit.

    ``dashboard=True`` serves the dask dashboard (it needs ``bokeh``; without it the
    dashboard's pages do not exist, so this is an error); otherwise the cluster's HTTP
    endpoints listen on a free port and no dashboard is advertised.
    """
    from distributed import Client, LocalCluster

    if (workers is None) == (address is None):
        raise InputError("give either a number of workers or a scheduler address")
    if dashboard:
        try:
            import bokeh  # noqa: F401
        except ModuleNotFoundError:
            raise InputError("the dask dashboard needs bokeh; install it (pip install "
                             "'bokeh>=3.1') or leave out --dashboard") from None
    if address is not None:
        with Client(address) as c:
            yield c
        return
    workers = positive_int("workers", workers)
    with LocalCluster(n_workers=workers, threads_per_worker=threads_per_worker,
                      processes=processes,
                      dashboard_address=":8787" if dashboard else DASHBOARD) as cluster, \
            Client(cluster) as c:
        yield c


def run_to_netcdf(path: str | Path, scenario="default", draws: int = 10_000, seed=0,
                  models=None, prompts=None, *, catalogue=None, backend: str = "numba",
                  chunk_draws: int | None = None, workers: int | None = None,
                  address: str | None = None, processes: bool = True, sampling: str = "mc",
                  replicates: int | None = None, dask_client=None,
                  progress: bool = False) -> Path:
    """Sample on a dask cluster and write the NetCDF result chunk by chunk (atomically).

    The file equals ``write_tree(simulate(...), path)`` in every value and attribute except
    ``created`` and ``chunk_draws``. ``dask_client``: an open client to use instead of
    making one from ``workers`` / ``address``. ``progress``: the distributed client's text
    progress bar on stderr while the cluster computes and writes the chunks.
    """
    tree = simulate_dask(scenario, draws, seed, models, prompts, catalogue=catalogue,
                         backend=backend, chunk_draws=chunk_draws, sampling=sampling,
                         replicates=replicates)
    if dask_client is not None:
        with _progress(dask_client, progress):
            return io.write_tree(tree, path)
    with client(workers, address, processes) as c, _progress(c, progress):
        return io.write_tree(tree, path)


@contextlib.contextmanager
def _progress(dask_client, show: bool):
    """While open, dask computes on ``dask_client`` with distributed's text progress bar
    on stderr (``show``), e.g. xarray's chunk-by-chunk write of a dask-backed tree."""
    if not show:
        yield
        return
    import dask
    from distributed import progress

    def get(self, dsk, keys, **kwargs):
        futures = self.get(dsk, keys, sync=False, **kwargs)
        with contextlib.redirect_stdout(sys.stderr):  # the bar prints to stdout
            progress(futures, notebook=False, multi=False)
        print(file=sys.stderr)  # the bar ends without a newline
        return self.gather(futures)

    # a method of the client: xarray recognises the distributed scheduler by ``__self__``
    with dask.config.set(scheduler=types.MethodType(get, dask_client)):
        yield


def _file_totals(path: str, offset: int, catalogue, kw: dict):
    return aggregate(path, catalogue, row_offset=offset, **kw)


def workload_totals(client, log, catalogue, kw: dict, progress: bool = True):
    """:func:`mcfoot.workload.aggregate` of a log on a dask cluster, one task per file of a
    partitioned log (a folder of Parquet files). Sums are exact, so the merged totals equal
    a local run's bit for bit; row numbers (and so exact mode's per-request streams) are
    those of the files read in sorted order, as locally. A progress bar goes to stderr."""
    import pandas as pd
    from distributed import as_completed

    if isinstance(log, pd.DataFrame):
        raise LogError("a DataFrame is reduced locally; give a file or a folder of Parquet "
                       "files to use dask")
    files = _files(log)
    offsets, off = [], 0
    for f in files:
        offsets.append(off)
        if len(files) > 1:
            off += _pyarrow().read_metadata(f).num_rows
    cat = client.scatter(catalogue, broadcast=True)
    futures = [client.submit(_file_totals, str(f), o, cat, kw, pure=False)
               for f, o in zip(files, offsets)]
    if progress:
        from tqdm.auto import tqdm

        with tqdm(total=len(futures), desc="mcfoot workload (dask)", unit="file",
                  leave=False) as bar:
            for _ in as_completed(futures):
                bar.update(1)
    parts = client.gather(futures)
    total = parts[0]
    keep = kw.get("keep", 0)
    for p in parts[1:]:
        total = total.merge(p, keep)
    return total
