"""``mcfoot run``: sample a scenario and write the result to NetCDF."""

from __future__ import annotations

import sys
import time

from .. import io
from ..simulate import simulate
from . import (CLIError, add_command, common, dask_client, dask_options, design_option,
               output_option, region_option, sampling, uses_dask)


def register(sub) -> None:
    p = add_command(sub, "run",
                       description="Sample footprint distributions for every catalogue row.",
                       epilog="example: mcfoot run --scenario default --draws 10000 --seed 0 "
                              "-o out.nc")
    sampling(p, catalogue=True)
    p.add_argument("--models", nargs="+", default=None, help="model ids to keep")
    p.add_argument("--prompts", nargs="+", default=None, help="prompt sizes to keep")
    region_option(p)
    p.add_argument("--chunk-draws", type=int, default=None, help="draws per chunk")
    p.add_argument("--variables", nargs="+", default=None, metavar="NAME",
                   help="per-query footprints to compute and write, e.g. energy_wh water_ml "
                        "carbon_g (default: all)")
    design_option(p)
    dask_options(p, "run on a local dask cluster of this many worker processes, writing the "
                    "file chunk by chunk (bounded memory)",
                 "run on the dask scheduler at ADDRESS (e.g. tcp://host:8786)")
    output_option(p, "output file (.nc)")
    common(p)
    p.set_defaults(func=_run)


def _run(args) -> int:
    t0 = time.perf_counter()
    io.check_output(args.output)  # before sampling: a bad path costs no run
    if uses_dask(args):
        if args.variables is not None:
            raise CLIError("--variables is not supported with --workers/--dask-scheduler yet; "
                           "leave it out (all footprints are written)")
        from ..distributed import run_to_netcdf
        from ..priors import load_scenario, with_region

        scenario = args.scenario if args.region is None else \
            with_region(load_scenario(args.scenario), args.region)
        with dask_client(args) as c:
            run_to_netcdf(args.output, scenario, args.draws, args.seed, args.models,
                          args.prompts, catalogue=args.catalogue,
                          chunk_draws=args.chunk_draws, dask_client=c,
                          sampling=args.sampling, replicates=args.replicates,
                          progress=not args.quiet)
        if not args.quiet:
            print(f"mcfoot run: {args.draws} draws on dask written to {args.output} in "
                  f"{time.perf_counter() - t0:.2f} s", file=sys.stderr)
        return 0
    scenario, catalogue = _load(args)
    t1 = time.perf_counter()
    tree = simulate(scenario, draws=args.draws, seed=args.seed, models=args.models,
                    prompts=args.prompts, catalogue=catalogue,
                    chunk_draws=args.chunk_draws, progress=False if args.quiet else None,
                    sampling=args.sampling, replicates=args.replicates,
                    variables=args.variables)
    t2 = time.perf_counter()
    io.write_tree(tree, args.output)
    if not args.quiet:
        fp = tree["footprint"]
        print(f"mcfoot run: scenario '{tree.attrs['scenario']}', {args.draws} draws x "
              f"{fp.sizes['model']} models x {fp.sizes['prompt']} prompts: loaded in "
              f"{t1 - t0:.2f} s, sampled in {t2 - t1:.2f} s, written to {args.output} in "
              f"{time.perf_counter() - t2:.2f} s", file=sys.stderr)
    return 0


def _load(args):
    """What a run reads before it samples, timed apart from sampling: the sampler's modules
    (numba with its lowering registries, and the kernel module; the kernels' cached machine
    code itself loads at their first call, inside sampling), the scenario (parsed, validated, with ``--region`` applied) and
    the catalogue (read and validated). The same objects :func:`simulate` would load itself
    from the names, so the numbers and the recorded provenance are the same."""
    from numba.core.registry import cpu_target

    from .. import _kernels  # noqa: F401

    # numba imports its lowering registries (~0.5 s) when the first kernel is compiled or
    # loaded from the cache; done here, that is counted as loading
    cpu_target.target_context.refresh()
    from ..catalogue import load_catalogue
    from ..priors import load_scenario, with_region

    scenario = load_scenario(args.scenario)
    if args.region is not None:
        scenario = with_region(scenario, args.region)
    return scenario, load_catalogue(args.catalogue)
