"""The lean NetCDF-4 writer (mcfoot._netcdf) against its oracle, xarray's own writer: a file
from either reads back identical (values bit for bit, dtypes, variable and attribute order,
encodings), and what the lean writer does not know goes to xarray."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr

import mcfoot
from mcfoot import _netcdf, io


def both(tree: xr.DataTree, tmp_path) -> tuple[xr.DataTree, xr.DataTree]:
    """``tree`` written by mcfoot (write_tree) and by xarray (to_netcdf of the same
    CF-attributed tree), each read back with plain ``xarray.open_datatree``."""
    lean = io.write_tree(tree, tmp_path / "lean.nc")
    ref = tmp_path / "xarray.nc"
    io.with_cf_attrs(tree).to_netcdf(ref, engine="h5netcdf", mode="w")
    out = []
    for p in (lean, ref):
        with xr.open_datatree(p, engine="h5netcdf") as t:
            out.append(t.load())
    return out[0], out[1]


def assert_same_file(got: xr.DataTree, want: xr.DataTree) -> None:
    xr.testing.assert_identical(got, want)
    assert [n.path for n in got.subtree] == [n.path for n in want.subtree]
    for node in want.subtree:
        a, b = got[node.path].to_dataset(inherit=False), node.to_dataset(inherit=False)
        assert list(a.variables) == list(b.variables), node.path
        assert list(a.attrs) == list(b.attrs), node.path  # values: assert_identical
        for k, v in b.variables.items():
            assert a[k].dtype == v.dtype, k
            assert list(a[k].attrs) == list(v.attrs), k
            # h5netcdf chunks an empty variable where mcfoot stores it contiguous, as all
            skip = {"source"} | ({"contiguous", "chunksizes", "preferred_chunks"}
                                 if v.size == 0 else set())
            enc = {e: x for e, x in v.encoding.items() if e not in skip}
            assert {e for e in a[k].encoding if e not in skip} == enc.keys(), k
            for e, x in enc.items():
                y = a[k].encoding[e]
                assert x is y or x == y or (x != x and y != y), (k, e, x, y)


def odd_tree() -> xr.DataTree:
    """Every case the lean writer handles: root variables, nested groups, a dimension
    without coordinate, a scalar, ints, bools, object strings, an int with a fill value,
    times, numeric and list attributes, a non-index coordinate no data variable uses,
    an empty dimension."""
    rng = np.random.default_rng(5)
    x = rng.standard_normal((4, 3))
    x[1, 2] = np.nan
    root = xr.Dataset({"total": ((), 2.5, {"units": "Wh", "n": 3, "w": [1.5, 2.0]})},
                      attrs={"seed": 7, "title": "odd", "grid": np.arange(3)})
    a = xr.Dataset({"x": (("row", "k"), x, {"units": "g"}),
                    "flag": (("k",), np.array([True, False, True])),
                    "name": (("k",), np.array(["a", "bé", ""], dtype=object)),
                    "count": (("row",), np.array([1, 2, 3, 4], np.int32)),
                    "when": (("k",), np.array(["2025-01-01", "2025-06-30", "2026-12-06"],
                                              dtype="datetime64[ns]")),
                    "none": (("empty",), np.zeros(0))},
                   coords={"k": ["p", "q", "r"], "label": ("k", ["L1", "L2", "L3"])})
    a["count"].encoding["_FillValue"] = -1
    b = xr.Dataset(coords={"q": [0.1, 0.5], "tag": ("q", ["lo", "hi"])})
    return xr.DataTree.from_dict({"/": root, "a": a, "a/b": b, "c": xr.Dataset()})


@pytest.mark.parametrize("make", [
    lambda: mcfoot.simulate("default", 40, seed=1),
    lambda: mcfoot.simulate("paper", 30, seed=2, models=["o3", "gpt-4o-mar"]),
    lambda: mcfoot.simulate("default", 30, seed=3, variables=["energy_wh"]),
    lambda: xr.DataTree(mcfoot.rank(mcfoot.simulate("paper", 20, seed=4, models=[
        "o3", "claude-3-7-sonnet", "gpt-4-1-nano", "llama-3-3-70b"]))),
    odd_tree,
], ids=["default", "paper", "variables", "rank", "odd"])
def test_lean_file_reads_back_as_xarrays(make, tmp_path):
    tree = make()
    assert _netcdf.encode(io.with_cf_attrs(tree)) is not None  # the lean writer wrote it
    got, want = both(tree, tmp_path)
    assert_same_file(got, want)
    # and the values are the tree's own, bit for bit (text, and ints with a fill value,
    # come back as xarray reads them: str and float)
    for node in tree.subtree:
        for k, v in node.to_dataset(inherit=False).variables.items():
            masked_int = v.dtype.kind in "iu" and "_FillValue" in v.encoding
            np.testing.assert_array_equal(got[node.path][k].values, v.values,
                                          strict=v.dtype.kind in "fiubM" and not masked_int)


def test_dimension_scales_as_netcdf_c_reads_them(tmp_path):
    import h5py

    p = io.write_tree(odd_tree(), tmp_path / "o.nc")
    with h5py.File(p) as f:
        assert f.attrs["_NCProperties"].startswith(b"version=2,mcfoot=")
        row = f["a/row"]  # a dimension without coordinate: netCDF-C's bare scale
        assert row.attrs["NAME"] == _netcdf.NOT_A_VARIABLE + b"         4"
        x = f["a/x"]
        assert [d[0].name for d in x.dims] == ["/a/row", "/a/k"]
        ids = list(x.attrs["_Netcdf4Coordinates"])
        assert ids == [row.attrs["_Netcdf4Dimid"], f["a/k"].attrs["_Netcdf4Dimid"]]
        assert "_Netcdf4Dimid" not in x.attrs  # only scales carry one
        dimids = [f[g][d].attrs["_Netcdf4Dimid"] for g, d in
                  (("a", "row"), ("a", "k"), ("a", "empty"), ("a/b", "q"))]
        assert len(set(dimids)) == len(dimids)  # unique in the file


@pytest.mark.parametrize("case", ["bool attr", "bytes", "dask", "clash"])
def test_what_it_does_not_know_goes_to_xarray(case, tmp_path):
    ds = xr.Dataset({"v": (("n",), np.arange(3.0))}, coords={"n": [1, 2, 3]})
    if case == "bool attr":
        ds.attrs["ok"] = np.bool_(True)
    elif case == "bytes":
        ds["s"] = ("n", np.array([b"a", b"b", b"c"]))
    elif case == "dask":
        pytest.importorskip("dask")
        ds = ds.chunk({"n": 2})
    else:  # a variable named as a dimension it does not index (h5netcdf renames it)
        ds = xr.Dataset({"k": (("n",), np.arange(3.0)), "w": (("k",), np.arange(2.0))},
                        coords={"n": [1, 2, 3]})
    tree = io.with_cf_attrs(xr.DataTree(ds))
    assert _netcdf.encode(tree) is None
    if case == "bool attr":
        return  # xarray refuses it too, with its own message
    got, want = both(xr.DataTree(ds), tmp_path)
    assert_same_file(got, want)
