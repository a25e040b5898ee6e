"""A lean NetCDF-4 writer over h5py, for in-memory DataTrees (used by :func:`io.write_tree`).

xarray's own writer (through h5netcdf) spends most of a run's write outside the data: about
5 ms per variable in h5netcdf's Python bookkeeping of dimensions (a result has ~75
variables), and, where dask is installed, ~0.3 s importing ``distributed`` to ask which
dask scheduler is active. This module writes the same file with plain h5py calls: xarray's
CF encoding (``xarray.conventions``: coordinates attributes, fill values, bools as int8), then
one contiguous, uncompressed HDF5 dataset per variable, its dimensions as HDF5 dimension
scales with the ``_Netcdf4Dimid``/``_Netcdf4Coordinates`` attributes netCDF-C and h5netcdf
read. ``xarray.open_datatree`` reads the file back identical to one xarray writes
(``tests/test_netcdf.py`` compares the two writers, group by group, attribute by attribute).

What it does not know it leaves to xarray: :func:`encode` returns ``None`` for a tree with
lazy (dask) data, which xarray writes chunk by chunk, or with a dtype, attribute or name
outside the plain cases below, and :func:`io.write_tree` then calls ``DataTree.to_netcdf``.
"""

from __future__ import annotations

from numbers import Number

import numpy as np
import xarray as xr
from xarray import conventions

from ._version import __version__

__all__ = ["encode", "write"]

#: Bytes of the buffer through which a strided array (a transposed view, as ``simulate``'s
#: ``(draw, model, prompt)`` arrays over its ``(row, draw)`` storage are) goes to the file,
#: slab by slab along its first axis: one buffer reused for every array, so a write touches
#: 4 MiB of new memory instead of a contiguous copy of each array (on this VM each new GB
#: costs ~1.7 s of page population, see ``benchmarks/bench_sampler.timed``). Measured with
#: ``benchmarks/bench_write.py``; any size from 1 to 16 MiB does as well.
SLAB_BYTES = 4 * 2 ** 20

#: Dimension scales of dimensions without a coordinate variable carry this name, followed by
#: the length in 10 characters (netCDF-C's convention, also h5netcdf's).
NOT_A_VARIABLE = b"This is a netCDF dimension but not a netCDF variable."


def _plain_attr(value) -> bool:
    """An attribute value both writers store the same way: text, a number or a 1-D numeric
    array (a bool, bytes, text arrays or nested values go through xarray)."""
    if isinstance(value, str):
        return True
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (Number, np.number)):
        return True
    if isinstance(value, (list, tuple, np.ndarray)):
        a = np.asarray(value)
        return a.ndim == 1 and a.dtype.kind in "iuf"
    return False


def _attr(value):
    """An attribute as h5netcdf stores it: numbers as 1-element arrays, text as text."""
    return value if isinstance(value, str) else np.atleast_1d(np.asarray(value))


def _data(var: xr.Variable):
    """The array to store and its HDF5 dtype, or None where xarray must write it."""
    a = var.data
    if not isinstance(a, np.ndarray):
        return None
    if a.dtype.kind in "iuf":
        return a, a.dtype
    if a.dtype.kind == "U" or (a.dtype.kind == "O" and all(isinstance(x, str) for x in a.flat)):
        import h5py

        if "_FillValue" in var.attrs:
            return None
        return a.astype(object), h5py.string_dtype()
    return None


def encode(tree: xr.DataTree) -> list | None:
    """Every group of ``tree`` as ``(path, variables, attrs)`` encoded for the file (each
    variable as ``(name, dims, array, dtype, attrs)``), or None if any part needs xarray's
    writer. Encoding copies no data."""
    groups = []
    for node in tree.subtree:
        ds = node.to_dataset(inherit=node is tree)  # as xarray writes: inherited coords once
        variables, attrs = conventions.cf_encoder(*conventions.encode_dataset_coordinates(ds))
        if not all(_plain_attr(v) for v in attrs.values()):
            return None
        out, group_dims = [], {str(d) for v in variables.values() for d in v.dims}
        for name, var in variables.items():
            name = str(name)
            stored = _data(var)
            if stored is None or "/" in name or not all(_plain_attr(v) for v in var.attrs.values()):
                return None
            if name in group_dims and var.dims != (name,):
                return None  # a variable named as a dimension it does not index
            out.append((name, tuple(map(str, var.dims)), *stored, dict(var.attrs)))
        groups.append((node.path, out, attrs))
    return groups


def _through(v, a: np.ndarray, buf):
    """Write strided ``a`` into dataset ``v`` slab by slab through ``buf`` (made, or grown,
    here; returned for the next array)."""
    per = max(1, SLAB_BYTES // (a[0].nbytes or 1))
    need = per * a[0].size
    if buf is None or buf.dtype != a.dtype or buf.size < need:
        buf = np.empty(need, a.dtype)
    for i in range(0, a.shape[0], per):
        part = a[i:i + per]
        slab = buf[:part.size].reshape(part.shape)
        np.copyto(slab, part)
        v.write_direct(slab, dest_sel=np.s_[i:i + part.shape[0]])
    return buf


def write(groups: list, path) -> None:
    """Write groups from :func:`encode` to a new NetCDF-4 file at ``path``."""
    import h5py

    dimid, buf = 0, None
    with h5py.File(path, "w", track_order=True) as f:
        f.attrs["_NCProperties"] = np.bytes_(
            f"version=2,mcfoot={__version__},hdf5={h5py.version.hdf5_version},"
            f"h5py={h5py.__version__}")
        for gpath, variables, attrs in groups:
            g = f if gpath == "/" else f.create_group(gpath, track_order=True)
            sizes = {d: n for _, dims, a, _, _ in variables for d, n in zip(dims, a.shape)}
            coords = {name for name, dims, *_ in variables if dims == (name,)}
            scales, ids = {}, {}
            for d in sizes:  # dimensions without a coordinate variable: a bare scale
                if d not in coords:
                    s = g.create_dataset(d, (sizes[d],), dtype=">f4", track_order=True)
                    s.make_scale(NOT_A_VARIABLE + f"{sizes[d]:10}".encode())
                    s.attrs["_Netcdf4Dimid"] = np.int32(dimid)
                    scales[d], ids[d], dimid = s, dimid, dimid + 1
            for name in sizes:
                if name in coords:
                    ids[name], dimid = dimid, dimid + 1
            made = []
            for name, dims, a, dtype, vattrs in variables:
                fill = vattrs.pop("_FillValue", None)
                strided = not a.flags.c_contiguous and a.nbytes > SLAB_BYTES and a.ndim > 1
                v = g.create_dataset(name, shape=a.shape, dtype=dtype, track_order=True,
                                     fillvalue=fill, data=None if strided else a)
                if strided:
                    buf = _through(v, a, buf)
                if dims == (name,):
                    v.make_scale(name)
                    v.attrs["_Netcdf4Dimid"] = np.int32(ids[name])
                    scales[name] = v
                if dims:
                    v.attrs["_Netcdf4Coordinates"] = np.array([ids[d] for d in dims], np.int32)
                if fill is not None:
                    v.attrs["_FillValue"] = np.array([fill], dtype=a.dtype)
                for k, x in vattrs.items():
                    v.attrs[k] = _attr(x)
                made.append((v, dims, dims == (name,)))
            for v, dims, is_scale in made:
                if not is_scale:
                    for i, d in enumerate(dims):
                        v.dims[i].attach_scale(scales[d])
            for k, x in attrs.items():
                g.attrs[k] = _attr(x)
