"""Files: results as NetCDF (h5netcdf), written atomically, read back as a DataTree."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import xarray as xr

from .errors import InputError


def write_tree(tree: xr.DataTree, path: str | Path) -> Path:
    """Write ``tree`` to ``path`` (NetCDF4 via h5netcdf) atomically.

    The data go to a temporary file beside ``path`` that is renamed over it only when
    complete, so an interrupted run never leaves a half-written file.
    """
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"output folder {path.parent} does not exist; create it first")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    try:
        tree.to_netcdf(tmp, engine="h5netcdf", mode="w")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_tree(path: str | Path) -> xr.DataTree:
    """Read a result written by :func:`write_tree` (fully loaded; the file is closed)."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; give a result written by `mcfoot run`")
    try:
        with xr.open_datatree(path, engine="h5netcdf") as t:
            tree = t.load()
    except (OSError, ValueError) as e:
        raise InputError(f"{path}: not a mcfoot result file ({e})")
    if "footprint" not in tree.children:
        raise InputError(f"{path}: has no 'footprint' group; give a result of `mcfoot run`")
    return tree
