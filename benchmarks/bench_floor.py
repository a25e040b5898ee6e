"""Issue 17 ratios, each measured side by side in one run: the RNG draw vs the warm
single-thread NumPy floor; ``simulate()`` vs its lower bound (issue 25: mcfoot's named
streams + one libm erfc per normal + one write pass over the bytes of the arrays the run
returns, for all footprints and for the study's three; and, to show where the time goes,
the same with only the distinct streams simulate draws: one per model, shared by its prompt
sizes, and one Phi per distinct normal); ``summarize()`` vs the
``simulate()`` that made the draws, and DEA cross-efficiency / ``rank()`` in ms per draw.

Method (printed with the table): every figure is the best of ``repeat`` wall times taken
in this process after a warm-up call (numba caches loaded, memory pages touched); the two
sides of a ratio alternate repetition by repetition, so both see the same load; results are
freed before each repetition (``bench_sampler.timed``), output buffers of the RNG rows are
preallocated and reused (warm memory) on both sides. Thread counts: mcfoot uses numba's
(``NUMBA_NUM_THREADS``), the floor one thread.

Run alone: ``python benchmarks/bench_floor.py [--draws 100000]``.
"""

from __future__ import annotations

import argparse
import gc
import sys
import time
import warnings
from pathlib import Path

import math

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import bench_dea  # noqa: E402

import mcfoot  # noqa: E402
from mcfoot import rng as mrng  # noqa: E402
from mcfoot._numba import parallel_kernel, prange  # noqa: E402
from mcfoot.simulate import build_plan  # noqa: E402
from mcfoot.summary import summarize  # noqa: E402

_INV_SQRT2 = 1.0 / math.sqrt(2.0)

METHOD = ("best of {repeat} alternating repetitions after a warm-up; results freed between "
          "repetitions; RNG output buffers preallocated (warm) on both sides; mcfoot on "
          "{threads} numba thread(s), the NumPy floor on 1")


def side_by_side(fns: dict, repeat: int) -> dict:
    """Best wall time of each callable, the callables alternating within each repetition."""
    best = dict.fromkeys(fns, np.inf)
    for _ in range(repeat):
        for name, fn in fns.items():
            out = None
            gc.collect()
            t0 = time.perf_counter()
            out = fn()
            best[name] = min(best[name], time.perf_counter() - t0)
            del out
    return best


@parallel_kernel
def _phi_only(z, out):
    """The kernel's normal -> probability map alone (``0.5 * erfc(-y / sqrt(2))``, the C
    library's erfc), once per element: the part of the sampler no bit-identical change can
    remove."""
    for i in prange(z.shape[0]):
        out[i] = 0.5 * math.erfc(-z[i] * _INV_SQRT2)


def output_bytes(tree) -> int:
    """Bytes of the arrays a run produces (every group but the catalogue, coordinates
    included): what any sampler must write at least once."""
    return sum(n.to_dataset(inherit=False).nbytes for n in tree.subtree
               if n.name != "catalogue")


def write_pass(nbytes: int) -> np.ndarray:
    """One write pass over ``nbytes`` of fresh memory (allocated here, so its page faults
    are paid, as a run's new output arrays pay them)."""
    a = np.empty(nbytes // 8)
    a.fill(0.5)
    return a


def rng_rows(draws: int, scenario: str = "paper", repeat: int = 3) -> list[tuple]:
    """mcfoot's named row streams (every latency and speed stream of the scenario, in
    blocks, threaded) vs one NumPy generator filling the same number of normals."""
    plan = build_plan(scenario)
    rows = np.flatnonzero(plan.present)
    names = ([plan.row_streams("latency")[i] for i in rows]
             + [plan.row_streams("speed")[i] for i in rows])
    # what simulate draws: each model's row stream once (its prompt sizes share it,
    # Plan.row_sources), and one Phi per distinct normal
    distinct = list(dict.fromkeys(names))
    ss = mrng.normalize_seed(0)
    threads = numba.get_num_threads()
    out = np.empty((len(names), draws))
    flat = np.empty(len(names) * draws)
    study = ("energy_wh", "carbon_g", "water_ml")  # the study's three footprints
    phi_out = np.empty_like(flat)
    _phi_only(flat[:8], phi_out[:8])
    fns = {
        "floor": lambda: np.random.default_rng(0).standard_normal(out=flat),
        "mcfoot": lambda: mrng.standard_normals_many(ss, names, 0, draws, out=out,
                                                     threads=threads),
        "mcfoot_1": lambda: mrng.standard_normals_many(ss, names, 0, draws, out=out, threads=1),
        "phi": lambda: _phi_only(flat, phi_out),
        "simulate": lambda: mcfoot.simulate(scenario, draws, seed=0, progress=False),
        "simulate_study": lambda: mcfoot.simulate(scenario, draws, seed=0, progress=False,
                                                  variables=study),
    }
    for name in ("floor", "mcfoot", "mcfoot_1", "phi"):
        fns[name]()  # warm: touch the pages of both buffers
    mcfoot.simulate(scenario, 200, seed=0, progress=False)  # kernels loaded
    n_all = output_bytes(fns["simulate"]())
    n_study = output_bytes(fns["simulate_study"]())
    fns["write_all"] = lambda: write_pass(n_all)
    fns["write_study"] = lambda: write_pass(n_study)
    # last in each repetition, so the rows above run in the order they always had
    fns["distinct"] = lambda: mrng.standard_normals_many(ss, distinct, 0, draws,
                                                         out=out[:len(distinct)],
                                                         threads=threads)
    fns["phi_distinct"] = lambda: _phi_only(flat[:len(distinct) * draws],
                                            phi_out[:len(distinct) * draws])
    t = side_by_side(fns, repeat)
    rng = t["mcfoot"] + t["phi"]  # the sampler's lower bound: named streams + Phi
    own = t["distinct"] + t["phi_distinct"]  # the same for the streams simulate draws
    n = f"{len(names) * draws:,} normals"
    n_fp = len(mcfoot.variables.footprint_names(band=scenario == "paper"))
    return [
        (f"RNG: NumPy floor, 1 generator, 1 thread ({n})", f"{t['floor']:.3f} s", "", ""),
        (f"  mcfoot named streams, {threads} threads", f"{t['mcfoot']:.3f} s",
         f"{t['mcfoot'] / t['floor']:.2f}x the floor", "<= 1.0x"),
        ("  mcfoot named streams, 1 thread", f"{t['mcfoot_1']:.3f} s",
         f"{t['mcfoot_1'] / t['floor']:.2f}x the floor", ""),
        (f"  Phi alone: one libm erfc per normal, {threads} threads", f"{t['phi']:.3f} s",
         f"{t['phi'] / t['floor']:.2f}x the floor", ""),
        ("  lower bound of the sampler: named streams + Phi", f"{t['mcfoot'] + t['phi']:.3f} s",
         f"{(t['mcfoot'] + t['phi']) / t['floor']:.2f}x the floor", ""),
        (f"  simulate('{scenario}'), all {n_fp} footprints (RNG + kernel + tree)",
         f"{t['simulate']:.3f} s", f"{t['simulate'] / t['floor']:.2f}x the floor", "<= 1.0x"),
        (f"  simulate('{scenario}', variables=<the study's {len(study)}>)",
         f"{t['simulate_study']:.3f} s", f"{t['simulate_study'] / t['floor']:.2f}x the floor",
         "<= 1.0x"),
        (f"  one write pass over all outputs ({n_all / 1e6:,.0f} MB, fresh pages)",
         f"{t['write_all']:.3f} s", "", ""),
        (f"  one write pass over the study's outputs ({n_study / 1e6:,.0f} MB)",
         f"{t['write_study']:.3f} s", "", ""),
        ("  simulate, all, vs streams + Phi + write pass",
         f"{rng + t['write_all']:.3f} s", f"{t['simulate'] / (rng + t['write_all']):.2f}x bound",
         "<= 1.5x"),
        ("  simulate, the study's 3, vs streams + Phi + write pass",
         f"{rng + t['write_study']:.3f} s",
         f"{t['simulate_study'] / (rng + t['write_study']):.2f}x bound", "<= 1.5x"),
        (f"  what simulate draws: {len(distinct)} distinct streams (1 per model) + Phi",
         f"{own:.3f} s", f"{own / t['floor']:.2f}x the floor", ""),
        ("  simulate, all, vs distinct streams + Phi + write pass",
         f"{own + t['write_all']:.3f} s",
         f"{t['simulate'] / (own + t['write_all']):.2f}x", ""),
        ("  simulate, the study's 3, vs distinct streams + Phi + write",
         f"{own + t['write_study']:.3f} s",
         f"{t['simulate_study'] / (own + t['write_study']):.2f}x", ""),
    ]


def summary_rows(draws: int, scenario: str = "paper", repeat: int = 2) -> list[tuple]:
    """summarize() (ETI and HDI; the statistics, ``mcse=False``; and the default with Monte
    Carlo standard errors) of a simulate() result vs that simulate()."""
    warm = mcfoot.simulate(scenario, 200, seed=0)
    summarize(warm), summarize(warm, kind="hdi", mcse=False)
    del warm
    held = {}

    def sim():
        held.pop("tree", None)
        held["tree"] = mcfoot.simulate(scenario, draws, seed=0)

    sim()
    t = side_by_side({"simulate": sim,
                      "eti": lambda: summarize(held["tree"], mcse=False),
                      "hdi": lambda: summarize(held["tree"], kind="hdi", mcse=False),
                      "eti_mcse": lambda: summarize(held["tree"])}, repeat)
    n_rows = int(held["tree"]["catalogue"]["present"].sum())
    held.clear()
    return [
        (f"simulate('{scenario}', {draws:,} draws, {n_rows} rows)", f"{t['simulate']:.3f} s",
         "", ""),
        ("  summarize(), ETI", f"{t['eti']:.3f} s", f"{t['eti'] / t['simulate']:.2f}x simulate",
         "<= 1.0x"),
        ("  summarize(), HDI", f"{t['hdi']:.3f} s", f"{t['hdi'] / t['simulate']:.2f}x simulate",
         "<= 1.0x"),
        ("  summarize() with MCSE (the default), ETI", f"{t['eti_mcse']:.3f} s",
         f"{t['eti_mcse'] / t['simulate']:.2f}x simulate", ""),
    ]


def rank_rows(dea_draws: int = 1000, rank_draws: int = 2000, repeat: int = 3) -> list[tuple]:
    """DEA cross-efficiency (126 DMUs x 5 inputs, aggressive; bench_dea's study-shaped
    data) on numba's threads and on one, and the full rank() of a default run, per draw."""
    from mcfoot.dea import cross_efficiency
    from mcfoot.rank import rank

    X, Y = bench_dea.study_like(np.random.default_rng(2025), dea_draws)
    cross_efficiency(X[:2], Y)
    threads = numba.get_num_threads()

    def one_thread():
        numba.set_num_threads(1)
        try:
            return cross_efficiency(X, Y)
        finally:
            numba.set_num_threads(threads)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # models without an index are named
        rank(mcfoot.simulate("default", 20, seed=0, progress=False))  # warm-up
        tree = mcfoot.simulate("default", rank_draws, seed=0, progress=False)
        t = side_by_side({"dea": lambda: cross_efficiency(X, Y), "dea_1": one_thread,
                          "rank": lambda: rank(tree)}, repeat)
    n_dmu = X.shape[1]
    ms = lambda s, n: f"{s / n * 1e3:.3f} ms/draw"  # noqa: E731
    return [
        (f"DEA cross-efficiency, {n_dmu} DMUs x 5 inputs, {threads} threads",
         ms(t["dea"], dea_draws), "", "<= 0.2 ms"),
        ("  the same on 1 thread", ms(t["dea_1"], dea_draws),
         f"{t['dea_1'] / t['dea']:.2f}x {threads} threads", ""),
        (f"rank(): default, {rank_draws:,} draws, pooled DMUs", ms(t["rank"], rank_draws), "", ""),
    ]


def floor_rows(draws: int = 100_000, quick: bool = False) -> list[tuple]:
    """All rows of the issue-17 table."""
    return (rng_rows(draws) + summary_rows(draws)
            + rank_rows(100 if quick else 1000, 200 if quick else 2000))


def print_table(rows, title: str = "") -> None:
    w = max(len(r[0]) for r in rows) + 2
    if title:
        print(f"\n{title}")
    print(f"{'benchmark':<{w}}{'measured':>18}{'ratio':>22}{'target':>10}")
    for r in rows:
        print(f"{r[0]:<{w}}{r[1]:>18}{r[2]:>22}{r[3]:>10}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, default=100_000)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    args = ap.parse_args(argv)
    draws = 5_000 if args.quick else args.draws
    print(f"method: {METHOD.format(repeat='2-3', threads=numba.get_num_threads())}")
    print_table(floor_rows(draws, args.quick), "issue 17: at the floor")
    return 0


if __name__ == "__main__":
    sys.exit(main())
