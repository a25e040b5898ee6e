"""The ``mcfoot`` command. The only place in the package that prints or exits.

Each subcommand lives in its own module of this package with ``register(subparsers)``
(adds its parser and sets ``func``) and a function ``func(args) -> int``. Shared flags:
``--quiet``, ``--debug``; bad input exits 2 with one line on stderr, no traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from ..errors import InputError

#: Subcommand modules, in the order ``--help`` lists them.
COMMANDS = ("run", "estimate", "compare", "calibrate", "summary", "rank", "sensitivity", "claims", "scale",
            "plot", "priors")


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
        try:
            mod = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name == f"{__name__}.{name}":
                continue  # subcommand not built yet
            raise
        mod.register(sub)
    return p


def common(p: argparse.ArgumentParser, json: bool = False) -> None:
    """Add the flags every subcommand shares."""
    p.add_argument("-q", "--quiet", action="store_true", help="no progress output")
    p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                   help="show tracebacks on errors")
    if json:
        p.add_argument("--json", action="store_true", help="print machine-readable JSON")


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
