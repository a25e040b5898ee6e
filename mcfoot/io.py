"""Files: results as NetCDF (h5netcdf) or Zarr, written atomically, read back as a DataTree.

At write time every variable and coordinate of every group gets CF-style ``long_name`` and,
where it is numeric, ``units`` (missing ones are filled from :data:`CF_ATTRS` or from the
unit suffix of the variable's name; existing attrs are never changed). Zarr needs the
optional ``zarr`` package (``pip install 'mcfoot[zarr]'``).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import xarray as xr

from . import _netcdf, variables
from ._resources import check_disk, oserror_text
from ._validate import FIGURE_FORMATS, output_path
from .errors import InputError

__all__ = ["CF_ATTRS", "FIGURE_FORMATS", "FORMATS", "find_dataset", "read_tree",
           "save_figure", "with_cf_attrs", "write_tree"]

#: Formats by file suffix.
FORMATS = {".nc": "netcdf", ".nc4": "netcdf", ".h5": "netcdf", ".zarr": "zarr"}

#: CF attributes (units, long_name) of variables the package writes without them.
#: ``None`` units: text, no unit.
CF_ATTRS: dict[str, tuple[str | None, str]] = {
    "draw": ("1", "Monte Carlo draw index"),
    "model": (None, "model API (catalogue model id)"),
    "model_name": (None, "model display name"),
    "api_id": (None, "provider's API model identifier"),
    "prompt": (None, "prompt size (short 100/300, medium 1000/1000, long 10000/1500 "
                     "input/output tokens)"),
    "company": (None, "company serving the model"),
    "size_class": (None, "model size class (study's inference)"),
    "hardware": (None, "accelerator node class (study's inference)"),
    "host": (None, "data-centre host (study's inference)"),
    "size_class_hardware": (None, "size class / hardware class"),
    "bound": (None, "utilization bound (study's min/max band) or value"),
    "quantile": ("1", "cumulative probability"),
    "present": ("1", "row in catalogue (1 = yes)"),
    "intelligence_index": ("points (0-100)", "Artificial Analysis intelligence index"),
    "input_tokens": ("tokens", "input tokens per query"),
    "output_tokens": ("tokens", "output tokens per query"),
    "stat": (None, "summary statistic"),
    "rank": ("1", "rank (1 = best)"),
    "input": (None, "uncertain input"),
    # every variable of the registry (mcfoot/variables.py)
    **{name: (v.units, v.long_name) for name, v in variables.VARIABLES.items()},
}
#: Benchmark scores of the catalogue are fractions of questions solved.
_SCORES = ("terminal_bench_hard", "tau2_bench_telecom", "aa_lcr", "hle", "mmlu_pro",
           "gpqa_diamond", "livecodebench", "scicode", "ifbench", "aime_2025")
#: Unit suffixes of variable names (longest first), from the registry.
_SUFFIX_UNITS = variables.UNIT_SUFFIXES


def _cf_for(name: str, var: xr.Variable) -> dict:
    units, long_name = CF_ATTRS.get(name, (None, ""))
    if name in _SCORES:
        units, long_name = "1", f"{name.replace('_', ' ')} score (fraction solved)"
    if units is None and var.dtype.kind in "fiub" and name not in CF_ATTRS:
        units = next((u for s, u in _SUFFIX_UNITS if name.endswith(s)), None)
    out = {"long_name": long_name or name.replace("_", " ")}
    if units is not None:
        out["units"] = units
    return out


def with_cf_attrs(tree: xr.DataTree) -> xr.DataTree:
    """A shallow copy of ``tree`` with missing ``long_name``/``units`` filled in every group.

    Existing attributes win; numeric variables whose unit cannot be known (not in
    :data:`CF_ATTRS`, no unit suffix in the name) are left without ``units``.
    """
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False).copy(deep=False)
        for name in [*ds.data_vars, *ds.coords]:
            v = ds[name].variable
            ds[name].attrs = {**_cf_for(str(name), v), **v.attrs}
        nodes[node.path] = ds
    return xr.DataTree.from_dict(nodes)


def _need_zarr() -> None:
    try:
        import zarr  # noqa: F401
    except ImportError:
        raise InputError("writing or reading .zarr needs the zarr package; install it with "
                         "`pip install 'mcfoot[zarr]'` or use .nc") from None


def _tmp_beside(path: Path, directory: bool = False) -> Path:
    try:
        if directory:
            return Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".part",
                                         dir=path.parent))
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=path.parent)
    except OSError as e:  # read-only folder or file system, no permission, full disk
        raise InputError(f"{path}: cannot write in folder {path.parent} ({oserror_text(e)}); "
                         f"choose a folder you can write to") from None
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the usual permissions
    return Path(tmp)


def check_output(path: str | Path, formats=FORMATS, what: str = "result") -> Path:
    """Check before any work that ``path`` can be written: the checks of
    :func:`mcfoot._validate.output_path` (a known suffix, an existing folder, not a folder
    itself), then that the folder accepts a file. Returns it as a Path."""
    path = output_path(path, formats, what)
    _tmp_beside(path).unlink()  # fails now, with one line, if nothing can be written there
    return path


#: Bytes a NetCDF4 file takes beyond its data, per variable and in all (derived: the shipped
#: scenarios' files exceed their data by 1.2 KB per variable at 1 to 2,000 draws, HDF5 object
#: headers and attributes; 4x that, plus 1 MiB for the superblock, B-trees and file-system
#: rounding). HDF5 can crash the process when the disk fills up while it writes, so the
#: free-space check must not underestimate.
FILE_OVERHEAD_PER_VARIABLE, FILE_OVERHEAD = 4096, 2 ** 20


def file_bytes(tree: xr.DataTree) -> int:
    """An upper estimate of the size of ``tree`` written as NetCDF4 (uncompressed)."""
    nodes = [n.to_dataset(inherit=False) for n in tree.subtree]
    return sum(ds.nbytes for ds in nodes) + FILE_OVERHEAD + \
        FILE_OVERHEAD_PER_VARIABLE * sum(len(ds.variables) for ds in nodes)


def _remove(tmp: Path) -> None:
    shutil.rmtree(tmp, ignore_errors=True) if tmp.is_dir() else tmp.unlink(missing_ok=True)


def _write_failed(path: Path, e: OSError) -> InputError:
    return InputError(f"{path}: writing failed ({oserror_text(e)}); nothing was written")


def write_tree(tree: xr.DataTree, path: str | Path) -> Path:
    """Write ``tree`` to ``path`` atomically: NetCDF4 via h5netcdf (``.nc``) or Zarr
    (``.zarr``, needs the optional ``zarr`` package). CF ``long_name``/``units`` are added
    where missing (see :func:`with_cf_attrs`).

    The data go to a temporary file beside ``path`` that is renamed over it only when
    complete, so an interrupted run (an error, Ctrl-C, SIGTERM through the CLI) never leaves
    a half-written file. A folder without room for the data (their size in memory, a lower
    bound of the file's) is refused before anything is written.

    Variables are stored contiguous and uncompressed: measured side by side (10,000 draws of
    ``default``, 241 MB), zlib level 1 with shuffle saved 17% of the size but wrote 5x
    slower; chunks of one (model, prompt) wrote as fast but read everything back 2-3x
    slower. In-memory trees are written by :mod:`mcfoot._netcdf` (plain h5py, the same file
    as xarray's writer, 2-3x faster), lazy ones by xarray chunk by chunk.
    """
    path = check_output(path)
    fmt = FORMATS[path.suffix.lower()]
    if fmt == "zarr":
        _need_zarr()
    tree = with_cf_attrs(tree)
    check_disk(path.parent, file_bytes(tree), f"writing {path.name}")
    tmp = _tmp_beside(path, directory=fmt == "zarr")
    try:
        if fmt == "netcdf":
            groups = _netcdf.encode(tree)
            if groups is None:  # lazy (dask) data or a rare type: xarray's own writer
                tree.to_netcdf(tmp, engine="h5netcdf", mode="w")
            else:
                _netcdf.write(groups, tmp)
            os.replace(tmp, path)
        else:
            _vlen_strings(tree).to_zarr(tmp, mode="w", consolidated=False)
            _replace_dir(tmp, path)
    except OSError as e:
        _remove(tmp)
        raise _write_failed(path, e) from None
    except BaseException:
        _remove(tmp)
        raise
    return path


def _vlen_strings(tree: xr.DataTree) -> xr.DataTree:
    """Fixed-width unicode arrays as variable-length strings (Zarr v3 has a stable
    specification only for the latter)."""
    nodes = {}
    for node in tree.subtree:
        ds = node.to_dataset(inherit=False)
        fixed = {k: v.astype(object) for k, v in ds.variables.items() if v.dtype.kind == "U"}
        nodes[node.path] = ds.assign_coords({k: v for k, v in fixed.items() if k in ds.coords}) \
            .assign({k: v for k, v in fixed.items() if k not in ds.coords})
    return xr.DataTree.from_dict(nodes)


def _replace_dir(tmp: Path, path: Path) -> None:
    """Move directory ``tmp`` to ``path``; an existing ``path`` is moved aside first and
    removed only once the new one is in place."""
    old = None
    if path.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{path.name}.", suffix=".old", dir=path.parent))
        os.replace(path, old / path.name)
    os.replace(tmp, path)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def read_tree(path: str | Path, require: str | None = "footprint") -> xr.DataTree:
    """Read a result written by :func:`write_tree` (fully loaded; the file is closed).

    ``require`` names a group the file must have (``"footprint"`` for a `mcfoot run`
    result); ``None`` reads any NetCDF/Zarr tree (rank, sensitivity, scale results).
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower(), "zarr" if path.is_dir() else "netcdf")
    if not path.exists() or (fmt == "netcdf" and not path.is_file()):
        raise InputError(f"{path}: no such file; give a result written by `mcfoot run`")
    if fmt == "zarr":
        _need_zarr()
    try:
        kw = {"engine": "h5netcdf"} if fmt == "netcdf" else {"engine": "zarr", "consolidated": False}
        with xr.open_datatree(path, **kw) as t:
            tree = t.load()
    except (OSError, ValueError, KeyError) as e:
        raise InputError(f"{path}: not a mcfoot result file ({e})")
    if require is not None and require not in tree.children:
        raise InputError(f"{path}: has no '{require}' group; give a result of `mcfoot run`")
    return tree


def find_dataset(tree: xr.DataTree | xr.Dataset, variable: str, source: str = "") -> xr.Dataset:
    """The dataset of the first group (root first, then depth-first) that holds ``variable``.

    Lets readers accept a result whether the producer wrote its variables at the root or in
    a group. Raises InputError naming the variables found otherwise.
    """
    if isinstance(tree, xr.Dataset):
        nodes = [tree]
    else:
        nodes = [n.to_dataset() for n in tree.subtree]
    for ds in nodes:
        if variable in ds.data_vars:
            return ds
    have = sorted({str(v) for ds in nodes for v in ds.data_vars})
    head = f"{source}: " if source else ""
    raise InputError(f"{head}no variable '{variable}' (found: {', '.join(have[:12]) or 'none'}"
                     f"{', ...' if len(have) > 12 else ''}); give a file that has it")


def save_figure(fig, path: str | Path, dpi: float = 150) -> Path:
    """Save a matplotlib figure atomically (``.png``, ``.pdf`` or ``.svg``)."""
    path = check_output(path, FIGURE_FORMATS, "figure")
    tmp = _tmp_beside(path)
    try:
        fig.savefig(tmp, format=path.suffix.lower()[1:], dpi=dpi, bbox_inches="tight")
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise _write_failed(path, e) from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path



#: Root attrs written as the provenance header of CSV exports, in this order.
PROVENANCE_KEYS = ("mcfoot_version", "created", "scenario", "scenario_hash", "catalogue",
                   "catalogue_hash", "seed", "draws", "method", "log", "log_hash", "region",
                   "skipped")


def to_dataframe(obj: xr.Dataset | xr.DataArray, dim: str | None = None) -> "pd.DataFrame":
    """A Dataset (or DataArray) as a DataFrame whose column names carry the units:
    ``energy_wh [Wh]``. Variables without ``dim`` (when given) are left out; ``df.attrs``
    keeps the object's attrs (provenance)."""
    ds = obj.to_dataset(name=obj.name or "value") if isinstance(obj, xr.DataArray) else obj
    names = [v for v in ds.data_vars if dim is None or dim in ds[v].dims]
    df = ds[names].to_dataframe()
    df = df[[c for c in df.columns if c in names]]
    df.columns = [f"{c} [{ds[c].attrs['units']}]" if ds[c].attrs.get("units") else str(c)
                  for c in df.columns]
    df.attrs = dict(ds.attrs)
    return df


def check_csv_output(path: str | Path) -> Path:
    """``path`` as a Path, if a CSV table can go there (its folder exists)."""
    path = Path(path)
    if not path.parent.exists():
        raise InputError(f"output folder {path.parent} does not exist; create it first")
    return path


def write_csv(df, path: str | Path, provenance: dict | None = None) -> Path:
    """Write ``df`` as CSV (atomically) with the provenance as ``# key: value`` header lines
    (read it back with ``pandas.read_csv(path, comment="#")``)."""
    path = check_csv_output(path)
    prov = dict(provenance if provenance is not None else df.attrs)
    head = "".join(f"# {k}: {prov[k]}\n" for k in PROVENANCE_KEYS if k in prov and prov[k] != "")
    tmp = _tmp_beside(path)
    try:
        with open(tmp, "w", encoding="utf-8", newline="") as f:
            f.write(head)
            df.to_csv(f, index=True)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
