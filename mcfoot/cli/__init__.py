"""The ``mcfoot`` command. The only place in the package that prints or exits.

Each subcommand lives in its own module of this package with ``register(subparsers)``
(adds its parser and sets ``func``) and a function ``func(args) -> int``; adding one is a
module plus its name in :data:`COMMANDS`. Options several subcommands share are declared
once here (:func:`common`, :func:`sampling`, :func:`region_option`, :func:`evidence_option`,
:func:`design_option`, :func:`ci_option`, :func:`output_option`, :func:`csv_option`,
:func:`dask_options`).
Bad input exits 2 with one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from contextlib import contextmanager

from .. import __version__
from ..errors import InputError

#: Subcommands, in the order ``--help`` lists them, with their one-line help (written only
#: here: each module's parser takes it through :func:`add_command`). ``mcfoot --help`` lists
#: them without importing their modules; only the command named on the line is built.
COMMANDS = {
    "run": "sample a scenario and write the result (NetCDF)",
    "estimate": "footprint of any request: median and 90%% interval per variable",
    "bench": "GPU energy of bench configurations: median and 90%% interval",
    "compare": "published per-query figures against mcfoot, like with like",
    "calibrate": "posterior of a scenario's shared inputs given published figures",
    "workload": "footprint of a request log, with intervals right for the total",
    "summary": "print median and 95%% interval per model (mean with --json)",
    "rank": "eco-efficiency rank probabilities (DEA cross-efficiency per draw)",
    "sensitivity": "rank the inputs that drive a model's footprint",
    "claims": "probability that each headline claim holds, and what drives it",
    "scale": "annual electricity, water and carbon of a service, with equivalents",
    "plot": "draw a figure from result files (PNG, PDF, SVG)",
    "priors": "list, show and validate scenarios (priors files)",
}


class CLIError(InputError):
    """Bad command-line usage found after parsing (exit 2)."""


class Terminated(KeyboardInterrupt):
    """SIGTERM (or SIGHUP) received: unwinds like Ctrl-C, so every atomic write removes its
    temporary file on the way out."""

    def __init__(self, signum: int):
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame):
    raise Terminated(signum)


#: Lines of a long error list shown before "and N more".
MAX_PROBLEMS = 5


def _named_command(argv: list[str]) -> str | None:
    """The subcommand ``argv`` names: its first word that is not an option (the top-level
    parser's options, ``--debug``, ``--version`` and ``-h``, take no value)."""
    return next((a for a in argv if not a.startswith("-")), None)


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    """The command's parser. Every subcommand is listed (its help line from
    :data:`COMMANDS`), but only the one ``argv`` names is built: its module, and whatever that
    module imports (numpy, xarray, the implementation), loads only when it is used."""
    p = argparse.ArgumentParser(
        prog="mcfoot",
        description="Monte Carlo footprints of LLM inference: energy, water and carbon per "
                    "query as probability distributions.",
        epilog="examples:\n  mcfoot run --scenario default --draws 10000 --seed 0 -o out.nc\n"
               "  mcfoot summary out.nc",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    p.add_argument("--version", action="version", version=f"mcfoot {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    named = _named_command(argv)
    for name, line in COMMANDS.items():
        if name == named:
            importlib.import_module(f".{name}", __name__).register(sub)
        else:
            sub.add_parser(name, help=line)
    return p


def add_command(sub, name: str, **kwargs) -> argparse.ArgumentParser:
    """Add subcommand ``name``'s parser to ``sub``, with its help line from :data:`COMMANDS`
    (``kwargs``: the rest of ``add_parser``'s arguments)."""
    return sub.add_parser(name, help=COMMANDS[name], **kwargs)


def common(p: argparse.ArgumentParser, json: bool = False) -> None:
    """Add the flags every subcommand shares."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    if json:
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")


#: what ``--scenario`` accepts (every subcommand that takes one)
SCENARIO_HELP = ("shipped scenario (paper, default, physical, serving), a .toml path, or a "
                 "calibrated scenario file (.nc written by `mcfoot calibrate -o`)")


def sampling(p: argparse.ArgumentParser, *, draws: bool = True, seed: bool = True,
             catalogue: bool = False, when: str = "", scenario: str = "default",
             scenario_help: str = SCENARIO_HELP, draws_default: int = 10_000,
             draws_help: str = "Monte Carlo draws") -> None:
    """``--scenario``, ``--draws``, ``--seed`` (and ``--catalogue``) of a run: the one
    declaration of each (``scenario``, ``draws_default``: the subcommand's defaults).

    ``when``: for subcommands that simulate only without ``--input`` (e.g. "when
    simulating")."""
    tail = f" {when}" if when else ""
    p.add_argument("--scenario", default=scenario,
                   help=f"{scenario_help}{tail} (default: {scenario})")
    if draws:
        p.add_argument("--draws", type=int, default=draws_default,
                       help=f"{draws_help}{tail} ({draws_default})")
    if seed:
        p.add_argument("--seed", type=int, default=0, help=f"random seed{tail} (0)")
    if catalogue:
        p.add_argument("--catalogue", default=None, help="catalogue CSV (default: shipped)")


def region_option(p: argparse.ArgumentParser,
                  what: str = "apply a named grid region to every host") -> None:
    """``--region``: a named grid region (``mcfoot priors regions``) for the hosts."""
    p.add_argument("--region", default=None, help=f"{what} (`mcfoot priors regions`)")


def evidence_option(p: argparse.ArgumentParser, shipped, alias: bool = False) -> None:
    """``--evidence``: the evidence files (.toml) or shipped names of ``shipped``; default:
    every shipped one. ``alias``: also accept ``--file``, compare's former spelling."""
    names = ("--evidence", "--file") if alias else ("--evidence",)
    p.add_argument(*names, dest="evidence", nargs="+", default=None, metavar="EVIDENCE",
                   help=f"evidence files (.toml) or shipped names ({', '.join(shipped)}); "
                        f"default: all shipped" + ("; --file: the former spelling, deprecated"
                                                   if alias else ""))


def design_option(p: argparse.ArgumentParser, what: str = "") -> None:
    """``--sampling`` and ``--replicates``: how the draws are made
    (:func:`mcfoot.rng.make_design` checks them)."""
    from ..rng import DEFAULT_REPLICATES, SAMPLINGS

    tail = f" ({what})" if what else ""
    p.add_argument("--sampling", choices=SAMPLINGS, default="mc",
                   help="mc: pseudo-random draws (default); sobol: randomized quasi-Monte "
                        "Carlo, --replicates scrambles of a Sobol' sequence (draws must be "
                        f"replicates x a power of two){tail}")
    p.add_argument("--replicates", type=int, default=None,
                   help=f"independent Sobol' scrambles (default {DEFAULT_REPLICATES}; "
                        "--sampling sobol only)")


def ci_option(p: argparse.ArgumentParser, default: float = 0.95, what: str = "interval"
              ) -> None:
    """``--ci``: the probability of an interval (checked by the shared validator)."""
    p.add_argument("--ci", type=float, default=default,
                   help=f"{what} probability ({default:g})")


def output_option(p: argparse.ArgumentParser, what: str, required: bool = True) -> None:
    """``-o/--output``: the one way a subcommand names the file it writes. Optional
    (``required=False``) where the main output is a table and the file comes as well
    (rank, sensitivity, scale: read back by ``mcfoot plot``)."""
    p.add_argument("-o", "--output", required=required, default=None, metavar="FILE",
                   help=what)


def csv_option(p: argparse.ArgumentParser, what: str,
               columns: str = "units in column names") -> None:
    """``--csv``: also write ``what`` as CSV (``io.write_csv``: provenance in '#' lines)."""
    p.add_argument("--csv", default=None, metavar="FILE",
                   help=f"also write {what} as CSV ({columns}, provenance in '#' header lines)")


def check_output_option(args) -> None:
    """Refuse a bad ``--output`` (or ``--csv``) before any computing."""
    from .. import io

    if getattr(args, "output", None):
        io.check_output(args.output)
    if getattr(args, "csv", None):
        io.check_csv_output(args.csv)


def dask_options(p: argparse.ArgumentParser, workers: str, scheduler: str) -> None:
    """``--workers``, ``--dask-scheduler`` and ``--dashboard`` (checked by :func:`uses_dask`)."""
    p.add_argument("--workers", type=int, default=None, help=workers)
    p.add_argument("--dask-scheduler", default=None, metavar="ADDRESS", help=scheduler)
    p.add_argument("--dashboard", action="store_true",
                   help="serve the dask dashboard (needs bokeh) with --workers/--dask-scheduler")


def uses_dask(args) -> bool:
    """Whether the command runs on dask; refuses both ``--workers`` and ``--dask-scheduler``,
    a ``--workers`` that is not a positive int and a missing ``dask`` extra."""
    if args.workers is None and args.dask_scheduler is None:
        return False
    if args.workers is not None and args.dask_scheduler is not None:
        raise CLIError("give --workers or --dask-scheduler, not both")
    if args.workers is not None:
        from .._validate import positive_int

        positive_int("--workers", args.workers)
    need_extra("dask", ("dask", "distributed"), "--workers/--dask-scheduler")
    return True


@contextmanager
def dask_client(args):
    """The dask client of ``--workers``/``--dask-scheduler``; with ``--dashboard`` its link
    goes to stderr."""
    from ..distributed import client

    with client(args.workers, args.dask_scheduler, dashboard=args.dashboard) as c:
        if args.dashboard and not args.quiet:
            print(f"mcfoot {args.command}: dask dashboard at {c.dashboard_link}", file=sys.stderr)
        yield c


def write_output(args, result) -> None:
    """Write ``result`` (a Dataset or DataTree) to ``args.output`` if given, atomically."""
    if not getattr(args, "output", None):
        return
    import xarray as xr

    from .. import io

    tree = result if isinstance(result, xr.DataTree) else xr.DataTree(result)
    io.write_tree(tree, args.output)
    if not args.quiet:
        print(f"mcfoot {args.command}: written to {args.output}", file=sys.stderr)


def need_extra(extra: str, modules: tuple[str, ...], what: str) -> None:
    """Raise CLIError naming the extra to install when one of ``modules`` is missing."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise CLIError(f"{what} needs the `{extra}` extra ({', '.join(missing)} not installed); "
                       f"install it with: python3 -m pip install 'mcfoot[{extra}]'")


def compile_note(args, which: str) -> None:
    """Before a long first compile (the DEA kernels: tens of seconds), say so on stderr."""
    if getattr(args, "quiet", False):
        return
    from .. import _numba

    if which == "dea":
        from ..dea.lp import _cross_batch

        kernels, label = (_cross_batch,), "DEA kernels"
    else:
        from .._kernels import _footprint

        kernels, label = (_footprint,), "sampling kernel"
    if not _numba.kernels_cached(*kernels):
        print(f"mcfoot {args.command}: compiling the {label} on first use (up to a minute, "
              f"once; cached in {_numba.cache_dir()})", file=sys.stderr, flush=True)


def error_line(command: str, e: InputError) -> str:
    """One line for an InputError: the first line, then at most :data:`MAX_PROBLEMS`
    problems and "and N more"."""
    lines = str(e).splitlines()
    rest = [s.strip(" -") for s in lines[1:]]
    if len(rest) > MAX_PROBLEMS:
        rest = rest[:MAX_PROBLEMS] + [f"and {len(rest) - MAX_PROBLEMS} more; "
                                      f"`mcfoot priors validate` lists them all"
                                      if command == "priors" else
                                      f"and {len(rest) - MAX_PROBLEMS} more"]
    return f"mcfoot {command}: error: {lines[0]}" + (f" ({'; '.join(rest)})" if rest else "")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = _parser(argv)
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    handlers = {}
    for name in ("SIGTERM", "SIGHUP"):
        sig = getattr(signal, name, None)
        if sig is not None:
            try:
                handlers[sig] = signal.signal(sig, _on_signal)
            except ValueError:  # not the main thread (e.g. called from a worker thread)
                pass
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        if getattr(args, "debug", False):
            raise
        print(error_line(args.command, e), file=sys.stderr)
        return 2
    except MemoryError:
        if getattr(args, "debug", False):
            raise
        print(f"mcfoot {args.command}: error: out of memory; use fewer draws, or a "
              f"bounded-memory run (`mcfoot run --workers 2 --chunk-draws 65536`, the `dask` "
              f"extra)", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `mcfoot summary out.nc | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Terminated as e:
        print(f"mcfoot: terminated by {signal.Signals(e.signum).name}; no partial file is left",
              file=sys.stderr)
        return 128 + e.signum
    except KeyboardInterrupt:
        print("mcfoot: interrupted; no partial file is left", file=sys.stderr)
        return 130
    finally:
        for sig, h in handlers.items():
            signal.signal(sig, h)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
