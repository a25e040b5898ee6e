"""Shared validators of the public boundary: one check, one message per concept.

Each returns the normalized value or raises :class:`~mcfoot.errors.InputError` naming the
argument, what it got and what it needs. The ``*_problems`` forms return a list of messages
instead, for validators that report every problem of a file or object at once.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping
from numbers import Integral, Real
from pathlib import Path

from .errors import InputError

__all__ = ["FIGURE_FORMATS", "check_draws", "choice", "close_matches", "DEFAULT_CHUNK", "figure_path",
           "finite_number", "is_finite_number", "is_number", "is_power_of_two", "unit_problems", "output_path", "positive_int", "positive_number", "probability", "select_ids",
           "prompt_mix", "prompt_mix_problems", "token_counts", "did_you_mean"]

#: Figure formats the package writes.
FIGURE_FORMATS = (".png", ".pdf", ".svg")


def close_matches(x, known: Iterable, n: int = 3, cutoff: float = 0.6) -> list[str]:
    """Up to ``n`` of ``known`` closest to ``x`` (difflib ratio >= ``cutoff``), closest first:
    the one matcher behind every 'did you mean' hint."""
    return difflib.get_close_matches(str(x), [str(k) for k in known], n=n, cutoff=cutoff)


def did_you_mean(x, known: Iterable) -> str:
    """`` (did you mean a, b?)`` for the close matches of ``x`` among ``known``, or ``""``."""
    close = close_matches(x, known)
    return f" (did you mean {', '.join(close)}?)" if close else ""


def is_number(x) -> bool:
    """A real number that is not a bool (``True`` is an int to Python, not to a user)."""
    return isinstance(x, Real) and not isinstance(x, bool)


def is_finite_number(x) -> bool:
    """A finite real number that is not a bool: the number check of every file validator."""
    return is_number(x) and math.isfinite(x)


def unit_problems(where: str, unit, want, what: str) -> list[str]:
    """The unit check of file validators: ``unit`` must be one of ``want`` (a unit or a
    sequence of accepted units), the units of ``what``; else one problem naming the fix."""
    want = (want,) if isinstance(want, str) else tuple(want)
    if unit in want:
        return []
    units = " or ".join(repr(u) for u in want)
    return [f"{where}: unit {unit!r} does not match {what} (units {units}); write unit = "
            f"{units} and the value in it"]


def is_power_of_two(n) -> bool:
    """An integer (not a bool) that is a power of two (1, 2, 4, ...): the size a Sobol' net
    keeps its balance at."""
    return isinstance(n, Integral) and not isinstance(n, bool) and n >= 1 and not n & (n - 1)


def finite_number(name: str, x) -> float:
    """``x`` as a float; it must be a finite real number (not a bool)."""
    if not is_finite_number(x):
        raise InputError(f"{name} must be a finite number, got {x!r}")
    return float(x)


def positive_number(name: str, x) -> float:
    """``x`` as a float; it must be a finite number > 0 (not a bool)."""
    if not is_number(x) or not math.isfinite(x) or x <= 0:
        raise InputError(f"{name} must be a positive number, got {x!r}")
    return float(x)


def probability(name: str, x) -> float:
    """``x`` as a float in the open interval (0, 1) (an interval's probability)."""
    if not is_number(x) or not 0 < x < 1:
        raise InputError(f"{name} must be a probability in (0, 1), got {x!r}")
    return float(x)


def positive_int(name: str, x) -> int:
    """``x`` as an int >= 1; floats (even 2.0) and bools are refused."""
    if not isinstance(x, Integral) or isinstance(x, bool) or x < 1:
        raise InputError(f"{name} must be a positive integer, got {x!r}")
    return int(x)


def token_counts(name: str, x):
    """``x`` (an int or an array of ints, any shape) as an int64 array of token counts >= 0;
    floats (even 2.0), bools and strings are refused, as by :func:`positive_int`."""
    import numpy as np

    arr = np.asarray(x)
    if arr.size == 0 or arr.dtype.kind not in "iu":
        raise InputError(f"{name} must be a non-negative integer or an array of them, got "
                         f"{x!r}")
    if np.any(arr < 0):
        raise InputError(f"{name} must be non-negative integers (a token count), got "
                         f"{arr.reshape(-1)[np.argmax(arr.reshape(-1) < 0)].item()}")
    return arr.astype(np.int64)


def select_ids(name: str, wanted, have, where: str = "") -> list | None:
    """A selection of ids (``"model"``, ``"prompt"``: one id or a sequence) validated against
    the ids ``have`` (of ``where``, e.g. ``"the result"``): each listed once, every one known,
    at least one; ``None`` (select all) stays None. One InputError naming the offenders and
    some known ids otherwise."""
    if wanted is None:
        return None
    wanted = [wanted] if isinstance(wanted, str) else list(wanted)
    dup = sorted({str(w) for w in wanted if wanted.count(w) > 1})
    if dup:
        raise InputError(f"{name}(s) {', '.join(dup)} selected more than once; list each once")
    have = list(have)
    unknown = [w for w in wanted if w not in set(have)]
    if unknown:
        hint = ", ".join(map(str, have[:8])) + (", ..." if len(have) > 8 else "")
        raise InputError(f"unknown {name}(s) {', '.join(map(str, unknown))}"
                         f"{f' (not in {where})' if where else ''}; known: {hint}")
    if not wanted:
        raise InputError(f"no {name} selected; pass at least one")
    return wanted


def choice(name: str, x, options: Iterable, what: str = ""):
    """``x`` if it is one of ``options``; ``what`` explains the options in the message."""
    options = tuple(options)
    try:
        ok = x in options
    except TypeError:  # unhashable against a dict's keys
        ok = False
    if not ok:
        hint = f" ({what})" if what else ""
        raise InputError(f"{name} must be one of {', '.join(map(repr, options))}{hint}, "
                         f"got {x!r}")
    return x


def prompt_mix_problems(mix, prompts: Iterable[str], label: str = "prompt_mix",
                        present: Mapping[str, bool] | None = None,
                        model: str | None = None) -> list[str]:
    """Every problem of a prompt mix (prompt -> share in [0, 1], shares summing to 1).

    ``present``: which prompts the model has (a positive share of a missing one is a
    problem); ``model`` names it in that message.
    """
    prompts = list(prompts)
    if not isinstance(mix, Mapping) or not mix:
        return [f"{label} must be a mapping prompt -> share, e.g. "
                "{'short': 0.8, 'medium': 0.2}"]
    problems = []
    for p, w in mix.items():
        if p not in prompts:
            problems.append(f"{label}: unknown prompt {p!r}; known: {', '.join(prompts)}")
        elif not is_number(w) or not 0 <= w <= 1:
            problems.append(f"{label}: share of {p!r} must be a number in [0, 1], got {w!r}")
        elif w > 0 and present is not None and not present[p]:
            problems.append(f"{label}: {model} has no {p!r} row in the catalogue; give it "
                            "share 0 or drop it")
    if all(is_number(w) for w in mix.values()) and \
            not math.isclose(sum(mix.values()), 1.0, abs_tol=1e-9):
        problems.append(f"{label} shares must sum to 1, got {sum(mix.values()):g}")
    return problems


def prompt_mix(mix, prompts: Iterable[str], present: Mapping[str, bool] | None = None,
               model: str | None = None) -> dict[str, float]:
    """A validated prompt mix as ``{prompt: float share}`` (see :func:`prompt_mix_problems`)."""
    problems = prompt_mix_problems(mix, prompts, present=present, model=model)
    if problems:
        raise InputError(problems)
    return {p: float(w) for p, w in mix.items()}


def output_path(path, formats: Mapping | Iterable[str], what: str = "result") -> Path:
    """``path`` as a Path whose suffix is one of ``formats``, whose folder exists and that
    is not an existing folder (except a ``.zarr`` store, which is one)."""
    path = Path(path)
    if path.is_dir() and path.suffix.lower() != ".zarr":
        example = "out" + next(iter(formats), ".nc")
        raise InputError(f"{path}: is a folder; give a file name, e.g. {path / example}")
    if path.suffix.lower() not in tuple(formats):
        raise InputError(f"{path}: unknown {what} format '{path.suffix}', not supported; use "
                         f"one of "
                         f"{', '.join(formats)}")
    if not path.parent.exists():
        raise InputError(f"output folder {path.parent} does not exist; create it first")
    return path


def figure_path(path) -> Path:
    """A figure's output path (``.png``, ``.pdf`` or ``.svg``; its folder must exist)."""
    return output_path(path, FIGURE_FORMATS, "figure")


#: Draws per chunk of a sampler run unless told (results do not depend on it).
DEFAULT_CHUNK = 131_072


def check_draws(draws, chunk_draws, default_chunk: int = DEFAULT_CHUNK) -> tuple[int, int]:
    """Validate ``draws`` and ``chunk_draws`` (public boundary); return them as ints."""
    chunk = default_chunk if chunk_draws is None else chunk_draws
    return positive_int("draws", draws), positive_int("chunk_draws", chunk)
