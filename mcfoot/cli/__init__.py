"""The ``mcfoot`` command. The only place in the package that prints or exits.

Each subcommand lives in its own module of this package with ``register(subparsers)``
(adds its parser and sets ``func``) and a function ``func(args) -> int``; adding one is a
module plus its name in :data:`COMMANDS`. Options several subcommands share are declared
once here (:func:`common`, :func:`sampling`, :func:`ci_option`, :func:`output_option`).
Bad input exits 2 with one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import InputError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("run", "summary", "rank", "sensitivity", "claims", "scale", "plot", "priors")


class CLIError(InputError):
    """Bad command-line usage found after parsing (exit 2)."""


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="mcfoot",
        description="Monte Carlo footprints of LLM inference: energy, water and carbon per "
                    "query as probability distributions.",
        epilog="examples:\n  mcfoot run --scenario default --draws 10000 --seed 0 -o out.nc\n"
               "  mcfoot summary out.nc",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--debug", action="store_true", help="show tracebacks on errors")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f".{name}", __name__).register(sub)
    return p


def common(p: argparse.ArgumentParser, json: bool = False) -> None:
    """Add the flags every subcommand shares."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    if json:
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")


def sampling(p: argparse.ArgumentParser, *, draws: bool = True, seed: bool = True,
             catalogue: bool = False, when: str = "") -> None:
    """``--scenario``, ``--draws``, ``--seed`` (and ``--catalogue``) of a run.

    ``when``: for subcommands that simulate only without ``--input`` (e.g. "when
    simulating")."""
    tail = f" {when}" if when else ""
    p.add_argument("--scenario", default="default",
                   help=f"shipped scenario (paper, default, physical) or a .toml path{tail} "
                        "(default)")
    if draws:
        p.add_argument("--draws", type=int, default=10_000,
                       help=f"Monte Carlo draws{tail} (10000)")
    if seed:
        p.add_argument("--seed", type=int, default=0, help=f"random seed{tail} (0)")
    if catalogue:
        p.add_argument("--catalogue", default=None, help="catalogue CSV (default: shipped)")


def ci_option(p: argparse.ArgumentParser, default: float = 0.95, what: str = "interval"
              ) -> None:
    """``--ci``: the probability of an interval (checked by the shared validator)."""
    p.add_argument("--ci", type=float, default=default,
                   help=f"{what} probability ({default:g})")


def output_option(p: argparse.ArgumentParser, what: str) -> None:
    """``-o/--output``: the one way a subcommand names the file it writes."""
    p.add_argument("-o", "--output", required=True, help=what)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command", None):
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as e:
        if getattr(args, "debug", False):
            raise
        print(f"mcfoot {args.command}: error: {str(e).splitlines()[0]}" +
              ("" if len(str(e).splitlines()) == 1 else
               " (" + "; ".join(s.strip(" -") for s in str(e).splitlines()[1:]) + ")"),
              file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `mcfoot summary out.nc | head`
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("mcfoot: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
