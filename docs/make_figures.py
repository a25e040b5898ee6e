"""Make the README's figures (docs/*.png) from the shipped scenarios.

    python docs/make_figures.py            # docs/{forest,distribution,rank,tornado,scale}.png
    python docs/make_figures.py --draws 10000 --out docs/

Everything here goes through the public API (simulate, plots, io.save_figure); the same
figures come from the command line with `mcfoot run` and `mcfoot plot` (see README, Tour).
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

import mcfoot
from mcfoot import plots
from mcfoot.io import save_figure

DPI = 90  # keeps each PNG well under 300 KB


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--draws", type=int, default=10_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--rank-draws", type=int, default=1000, help="draws ranked (DEA per draw)")
    ap.add_argument("--sobol-n", type=int, default=512, help="Sobol' base sample size")
    ap.add_argument("--out", default=str(Path(__file__).parent))
    args = ap.parse_args(argv)
    out = Path(args.out)
    default = mcfoot.simulate("default", draws=args.draws, seed=args.seed)
    paper = mcfoot.simulate("paper", draws=args.draws, seed=args.seed)
    figures = {}
    figures["forest.png"] = plots.forest(default, "energy_wh", "medium")
    figures["distribution.png"] = plots.distribution(
        {"paper (the study)": paper, "default (every input uncertain)": default},
        "gpt-4o-mar", "medium")
    with warnings.catch_warnings():  # the note on models without an intelligence index
        warnings.simplefilter("ignore", UserWarning)
        ranks = mcfoot.rank(default.isel(draw=slice(0, args.rank_draws)))
    figures["rank.png"] = plots.rank(ranks)
    sobol = mcfoot.sensitivity.sobol("default", ["gpt-4o-mar"], ["medium"], "energy_wh",
                                     n=args.sobol_n, seed=args.seed)
    figures["tornado.png"] = plots.tornado(sobol, "ST")
    per_day = {"700 M/day (the study)": None, "2.5 bn/day": 2.5e9}
    totals = {label: mcfoot.scale.scale(default, "gpt-4o-mar", queries_per_day=q)
              for label, q in per_day.items()}
    figures["scale.png"] = plots.scale(totals, "electricity_mwh")
    for name, ax in figures.items():
        save_figure(ax.figure, out / name, dpi=DPI)
        print(f"{out / name}: {(out / name).stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
