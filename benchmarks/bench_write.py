"""Issue 25, item 3: writing a run's result no longer than sampling it. Side by side in one
run, for all outputs and for the study's three (``--variables energy_wh water_ml carbon_g``):
``simulate()``, ``write_tree`` (the lean h5py writer, ``mcfoot._netcdf``), the writer it
replaced (xarray's ``DataTree.to_netcdf`` through h5netcdf, on the same CF-attributed tree)
and the floor (the same bytes written to a raw file). In process, warm: every figure the best
of ``repeat`` alternating repetitions (``bench_floor.side_by_side``), each file removed before
the next repetition. In a fresh process, as ``mcfoot run`` writes (its first write pays the
imports: h5py, and with dask installed xarray's scheduler probe imports ``distributed``):
the best of ``repeat`` pairs of subprocesses, one per writer, alternating.

Run alone: ``python benchmarks/bench_write.py [--draws 10000] [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.bench_floor import print_table, side_by_side  # noqa: E402

import mcfoot  # noqa: E402
from mcfoot import io  # noqa: E402

STUDY = ("energy_wh", "water_ml", "carbon_g")

#: One write in a fresh process, after sampling; prints the write's seconds.
FRESH = """
import sys, time, mcfoot
from mcfoot import io
tree = mcfoot.simulate("default", {draws}, seed=0, progress=False, variables={variables})
t0 = time.perf_counter()
if sys.argv[1] == "lean":
    io.write_tree(tree, sys.argv[2])
else:
    io.with_cf_attrs(tree).to_netcdf(sys.argv[2], engine="h5netcdf", mode="w")
print(time.perf_counter() - t0)
"""


def raw_write(tree, path: Path) -> None:
    """The bytes of every array of ``tree`` written to one raw file (the floor)."""
    with open(path, "wb") as f:
        for node in tree.subtree:
            for v in node.to_dataset(inherit=False).variables.values():
                f.write(np.ascontiguousarray(v.values).tobytes() if v.dtype.kind != "U"
                        else v.values.tobytes())


def in_process_rows(draws: int, repeat: int, folder: Path) -> list[tuple]:
    rows = []
    for label, variables in (("all outputs", None), ("the study's 3", STUDY)):
        tree = mcfoot.simulate("default", draws, seed=0, progress=False, variables=variables)
        cf = io.with_cf_attrs(tree)
        paths = {k: folder / f"{k}.nc" for k in ("lean", "xarray", "raw")}

        def clean(fn, path):
            def run():
                path.unlink(missing_ok=True)  # a new file each time, as a run makes one
                return fn()
            return run

        fns = {"sample": lambda: mcfoot.simulate("default", draws, seed=0, progress=False,
                                                 variables=variables),
               "lean": clean(lambda: io.write_tree(tree, paths["lean"]), paths["lean"]),
               "xarray": clean(lambda: cf.to_netcdf(paths["xarray"], engine="h5netcdf",
                                                    mode="w"), paths["xarray"]),
               "raw": clean(lambda: raw_write(tree, paths["raw"]), paths["raw"])}
        for fn in fns.values():
            fn()  # warm: kernels, h5py, page cache
        t = side_by_side(fns, repeat)
        mb = os.path.getsize(paths["lean"]) / 1e6
        rows += [
            (f"default, {draws:,} draws, {label}: simulate()", f"{t['sample']:.3f} s", "", ""),
            (f"  write_tree, lean h5py writer ({mb:,.0f} MB)", f"{t['lean']:.3f} s",
             f"{t['lean'] / t['sample']:.2f}x simulate", "<= 1.0x"),
            ("  xarray's to_netcdf (the writer it replaced)", f"{t['xarray']:.3f} s",
             f"{t['xarray'] / t['lean']:.2f}x lean", ""),
            ("  floor: the same bytes to a raw file", f"{t['raw']:.3f} s",
             f"{t['lean'] / t['raw']:.2f}x lean/floor", ""),
        ]
    return rows


def fresh_process_rows(draws: int, repeat: int, folder: Path) -> list[tuple]:
    rows = []
    for label, variables in (("all outputs", None), ("the study's 3", STUDY)):
        code = FRESH.format(draws=draws, variables=repr(variables))
        best = {"lean": np.inf, "xarray": np.inf}
        for _ in range(repeat):
            for writer in best:
                out = folder / f"fresh-{writer}.nc"
                out.unlink(missing_ok=True)
                r = subprocess.run([sys.executable, "-c", code, writer, str(out)],
                                   capture_output=True, text=True, check=True)
                best[writer] = min(best[writer], float(r.stdout.split()[-1]))
        rows += [
            (f"fresh process, {label}: write_tree (lean)", f"{best['lean']:.3f} s", "", ""),
            ("  xarray's to_netcdf", f"{best['xarray']:.3f} s",
             f"{best['xarray'] / best['lean']:.2f}x lean", ""),
        ]
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=5)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as d:
        rows = in_process_rows(args.draws, args.repeat, Path(d))
        rows += fresh_process_rows(args.draws, max(2, args.repeat // 2), Path(d))
    print(f"method: best of {args.repeat} alternating repetitions, warm, in process; "
          f"fresh processes: best of {max(2, args.repeat // 2)} alternating pairs")
    print_table(rows, "issue 25 item 3: writing vs sampling")
    return 0


if __name__ == "__main__":
    sys.exit(main())
