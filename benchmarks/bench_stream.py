"""Streaming vs plain simulation, per draw: ``mcfoot.stream.stream`` (simulate + reduce, chunk
by chunk: summaries of the five footprints) next to ``mcfoot.simulate`` on the same scenario,
seed and catalogue (``paper``, 194 rows).

Method: numba caches loaded and both code paths run once before timing (warm); memory warm
(each timed call allocates what the previous, freed, call released: first touch of
never-used memory on this VM costs ~1.7 s/GB, a re-used page ~0.1 s/GB); the previous result
is freed and garbage collected before each call; simulate and stream alternate, best of
``repeat`` each, so both see the same machine load. At 10^6 draws simulate() cannot hold its
result (~14 GB) on a small machine, so its per-draw time there is the one measured at 10^5
in the same run (a lower bound of its cost at 10^6: it only grows with page population);
streaming is run at the full size. "sampling alone" (up to 10^5) is the streaming loop with
the reduction left out (the same chunks, arrays reused): stream minus it is the reduction.

Target (issue 17): stream <= 1.5x simulate per draw.

Run: ``python benchmarks/bench_stream.py [--draws 100000 1000000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import gc
import math
import time

import numba

import mcfoot
from mcfoot import rng
from mcfoot.simulate import build_plan, output_arrays, sample_chunk
from mcfoot.variables import footprint_names
from mcfoot.stream import STREAM_CHUNK, stream

SCENARIO = "paper"
#: How the comparison is measured (printed with the results).
METHOD = ("'paper', 194 rows, seed 0, default chunks (stream: rng.BLOCK draws, arrays "
          "reused); warm (caches loaded, both paths run once first; memory re-used, the "
          "previous result freed and collected before each call); simulate and stream "
          "alternate, best of 3 at 1e5 (1 above); simulate per draw above 1e5 is the one "
          "measured at 1e5 in this run (its ~14 GB result at 1e6 does not fit); 'sampling "
          "alone' (up to 1e5) is the streaming chunk loop without the reduction")


def _time(fn) -> float:
    gc.collect()
    t0 = time.perf_counter()
    out = fn()
    t = time.perf_counter() - t0
    del out
    gc.collect()
    return t


def sampling_only(scenario: str, draws: int, seed: int = 0, chunk: int = STREAM_CHUNK):
    """The chunk loop of a streaming run without its reduction (arrays reused)."""
    plan = build_plan(scenario)
    ss = rng.normalize_seed(seed)
    out = None
    for s in range(0, draws, chunk):
        e = min(s + chunk, draws)
        if out is None or out["latency"].shape[1] != e - s:
            out = None
            out = output_arrays(plan, e - s, footprint_names())  # what stream() reduces
        sample_chunk(plan, ss, s, e, "numba", numba.get_num_threads(), out)
    return None


def stream_rows(sizes=(10**5, 10**6), repeat: int = 3, big_repeat: int = 1,
                in_memory_max: int = 10**5) -> list[dict]:
    """One dict per size: seconds per draw of simulate, stream and streaming's sampling
    alone (best of ``repeat``; ``big_repeat`` above ``in_memory_max``), and the ratio."""
    mcfoot.simulate(SCENARIO, 200, seed=0, progress=False)  # warm: caches, code paths
    stream(SCENARIO, 200, seed=0, progress=False)
    sampling_only(SCENARIO, 200)
    rows, sim_per_draw = [], None
    for n in sorted(sizes):
        reps = repeat if n <= in_memory_max else big_repeat
        t_sim, t_st, t_samp = [], [], []
        for _ in range(reps):
            if n <= in_memory_max:
                t_sim.append(_time(lambda: mcfoot.simulate(SCENARIO, n, seed=0,
                                                           progress=False)))
            t_st.append(_time(lambda: stream(SCENARIO, n, seed=0, progress=False)))
            if n <= in_memory_max:
                t_samp.append(_time(lambda: sampling_only(SCENARIO, n)))
        if t_sim:
            sim_per_draw, sim_note = min(t_sim) / n, f"measured at {n:,}"
        else:
            sim_note = f"simulate per draw from {in_memory_max:,}"
        st = min(t_st) / n
        samp = min(t_samp) / n if t_samp else math.nan
        rows.append({"draws": n, "simulate_s_per_draw": sim_per_draw,
                     "stream_s_per_draw": st, "sampling_only_s_per_draw": samp,
                     "ratio": st / sim_per_draw, "reduction_share": (st - samp) / st,
                     "repeats": reps, "simulate_note": sim_note})
    return rows


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--draws", type=int, nargs="+", default=[10**5, 10**6])
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    for r in stream_rows(args.draws, args.repeat):
        print(f"{r['draws']:>9,} draws: simulate {r['simulate_s_per_draw'] * 1e6:.1f} us/draw "
              f"({r['simulate_note']}), stream {r['stream_s_per_draw'] * 1e6:.1f} us/draw "
              f"(sampling alone {r['sampling_only_s_per_draw'] * 1e6:.1f}): "
              f"{r['ratio']:.2f}x simulate, best of {r['repeats']}")


if __name__ == "__main__":
    main()
