"""Make the README's figures (docs/*.png) from the shipped scenarios.

    python docs/make_figures.py            # writes docs/forest.png, docs/distribution.png
    python docs/make_figures.py --draws 10000 --out docs/

Everything here goes through the public API (simulate, plots, io.save_figure); the same
figures come from the command line with `mcfoot run` and `mcfoot plot` (see README, Tour).
"""

from __future__ import annotations

import argparse
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
    ap.add_argument("--out", default=str(Path(__file__).parent))
    args = ap.parse_args(argv)
    out = Path(args.out)
    default = mcfoot.simulate("default", draws=args.draws, seed=args.seed)
    paper = mcfoot.simulate("paper", draws=args.draws, seed=args.seed)
    ax = plots.forest(default, "energy_wh", "medium")
    save_figure(ax.figure, out / "forest.png", dpi=DPI)
    ax = plots.distribution({"paper (the study)": paper, "default (every input uncertain)":
                             default}, "gpt-4o-mar", "medium")
    save_figure(ax.figure, out / "distribution.png", dpi=DPI)
    for f in ("forest.png", "distribution.png"):
        print(f"{out / f}: {(out / f).stat().st_size / 1024:.0f} KB")


if __name__ == "__main__":
    main()
