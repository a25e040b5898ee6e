"""The one place where a seed becomes random streams.

A public function takes ``seed: int | SeedSequence | Generator | None`` and calls
:func:`normalize_seed` once. Every prior then gets its own stream, keyed by a stable name
(``zlib.crc32``, never ``hash()``), so adding a prior does not change the draws of the others.
Draws are produced in fixed-size blocks, each block seeded from (name, block index): the
numbers for draw ``i`` are the same whatever range of draws is asked for, which makes results
independent of chunking.
"""

from __future__ import annotations

import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from numbers import Integral

import numpy as np

from ._validate import choice, is_power_of_two
from .errors import InputError

__all__ = ["BLOCK", "DESIGN_KEYS", "Design", "SAMPLINGS", "block_generator", "design_normals", "make_design",
           "normalize_seed", "open_unit", "seed_record", "sobol_blocks", "sobol_normals", "standard_normals",
           "standard_normals_many", "stream_key"]

SeedLike = int | np.random.SeedSequence | np.random.Generator | None

#: Draws per block. A constant of the random-number layout: changing it changes every
#: stream, so it is part of the reproducibility contract (recorded in results' attrs).
BLOCK = 65_536


def normalize_seed(seed: SeedLike) -> np.random.SeedSequence:
    """Turn any accepted seed into a :class:`numpy.random.SeedSequence`.

    ``None`` draws fresh OS entropy (read it back from ``.entropy`` to reproduce the run).
    A ``Generator`` is *spawned from* (its state advances once), never consumed.
    """
    if seed is None:
        return np.random.SeedSequence()
    if isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, np.random.Generator):
        return seed.bit_generator.seed_seq.spawn(1)[0]  # type: ignore[attr-defined]
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"seed must be an int >= 0, a numpy SeedSequence, a Generator or None; got {seed!r}"
        )
    if seed < 0:  # SeedSequence takes only non-negative entropy
        raise InputError(f"seed must be a non-negative integer, got {seed}; use e.g. "
                         f"{abs(int(seed))}")
    return np.random.SeedSequence(int(seed))


def seed_record(ss: np.random.SeedSequence) -> str:
    """A string that reproduces ``ss`` (entropy and spawn key), for result attrs."""
    key = ",".join(str(k) for k in ss.spawn_key)
    return f"{ss.entropy}" if not key else f"{ss.entropy}/spawn_key=({key})"


def seed_from_record(record: str) -> np.random.SeedSequence:
    """The SeedSequence a :func:`seed_record` string was made from (its inverse)."""
    try:
        entropy, _, key = str(record).partition("/spawn_key=")
        spawn = tuple(int(k) for k in key.strip("()").split(",") if k.strip()) if key else ()
        return np.random.SeedSequence(int(entropy), spawn_key=spawn)
    except ValueError:
        raise ValueError(f"not a seed record: {record!r}") from None


def stream_key(name: str) -> int:
    """Stable 32-bit key of a stream name."""
    return zlib.crc32(name.encode("utf-8"))


def block_generator(ss: np.random.SeedSequence, name: str, block: int = 0) -> np.random.Generator:
    """The PCG64 generator of block ``block`` of the named stream ``name`` under ``ss``
    (also the one generator of a named stream that is not drawn in blocks, e.g. a design's
    scrambling)."""
    child = np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, stream_key(name), block)
    )
    return np.random.Generator(np.random.PCG64(child))


def _fill_block(ss: np.random.SeedSequence, name: str, block: int, start: int, stop: int,
                dst: np.ndarray) -> None:
    """Write the draws of ``block`` that fall in ``start..stop-1`` into ``dst`` (the row
    for ``start..stop-1``). NumPy fills ``out=`` arrays with the GIL released (holding
    only the generator's own lock; every block has its own generator), so blocks can be
    filled by several threads at once."""
    b0 = block * BLOCK
    lo, hi = max(start, b0), min(stop, b0 + BLOCK)
    gen = block_generator(ss, name, block)
    if lo > b0:  # skip the head of the block deterministically
        gen.standard_normal(lo - b0)
    gen.standard_normal(out=dst[lo - start : hi - start])


def _blocks(start: int, stop: int) -> range:
    return range(start // BLOCK, -(-stop // BLOCK))


def standard_normals(
    ss: np.random.SeedSequence, name: str, start: int, stop: int, out: np.ndarray | None = None
) -> np.ndarray:
    """Standard normal draws ``start..stop-1`` of the stream ``name``.

    The value of draw ``i`` depends only on (seed, name, i): asking for ``[0, 10)`` and for
    ``[0, 5)`` + ``[5, 10)`` gives the same numbers.
    """
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got {start}, {stop}")
    if out is None:
        out = np.empty(stop - start)
    for block in _blocks(start, stop):
        _fill_block(ss, name, block, start, stop, out)
    return out


def standard_normals_many(
    ss: np.random.SeedSequence,
    names: list[str],
    start: int,
    stop: int,
    out: np.ndarray | None = None,
    threads: int = 1,
    rows=None,
) -> np.ndarray:
    """Rows of :func:`standard_normals`, one per name, shape ``(len(names), stop - start)``.

    ``rows``: optional row of ``out`` for each name (default ``0..len(names)-1``), to fill
    some rows of a larger array in place. ``threads > 1`` fills the (name, block) pieces
    concurrently (see :func:`_fill_block`); each piece is written by exactly one task and
    its numbers depend only on (seed, name, block), so they do not depend on ``threads``.
    """
    if not 0 <= start <= stop:
        raise ValueError(f"need 0 <= start <= stop, got {start}, {stop}")
    if out is None:
        out = np.empty((len(names), stop - start))
    rows = range(len(names)) if rows is None else [int(r) for r in rows]
    tasks = [(name, r, block) for name, r in zip(names, rows) for block in _blocks(start, stop)]
    if threads <= 1 or len(tasks) < 2:
        for name, r, block in tasks:
            _fill_block(ss, name, block, start, stop, out[r])
        return out
    with ThreadPoolExecutor(min(threads, len(tasks))) as pool:
        list(pool.map(lambda t: _fill_block(ss, t[0], t[2], start, stop, out[t[1]]), tasks))
    return out


# --------------------------------------------------------------------------- sampling designs
#: How the unit-space points of a run are made: independent PCG64 streams (``"mc"``), or
#: randomized quasi-Monte Carlo, independent scrambles of a Sobol' sequence (``"sobol"``).
SAMPLINGS = ("mc", "sobol")
#: scipy.stats.qmc.Sobol's default resolution: points are multiples of 2**-SOBOL_BITS.
SOBOL_BITS = 30
#: Dimensions scipy.stats.qmc.Sobol has direction numbers for (Joe & Kuo 2008, new-joe-kuo-6.21201).
SOBOL_MAX_DIM = 21_201
#: Default scrambles of an RQMC run. Derived: the MCSE is the sd of the replicate estimates
#: over sqrt(R), with R - 1 degrees of freedom; with R = 16, +-2 MCSE is a 93.6 % interval
#: (Student t, 15 df) and the MCSE itself is known to ~18 % (1/sqrt(2 (R - 1))), while each
#: replicate keeps draws/16 points of its own balanced Sobol' net.
DEFAULT_REPLICATES = 16
#: Points generated per block while filling a chunk (bounds the design's memory to
#: block x dimensions x 8 bytes; the values do not depend on it).
SOBOL_BLOCK = 4096
_SCRAMBLE_STREAM = "sampling/sobol/scramble"
#: Result attrs that describe the sampling design (:meth:`Design.record`).
DESIGN_KEYS = ("sampling", "sampling_replicates", "sampling_points", "sampling_dimensions",
               "sampling_scramble", "sampling_scramble_seeds")


@dataclass(frozen=True)
class Design:
    """How the draws ``0..draws-1`` of a run are made (see :func:`make_design`).

    ``kind="mc"``: draw ``i`` of every stream is its own PCG64 number (:func:`standard_normals`);
    ``replicates`` is 1. ``kind="sobol"``: the draws are ``replicates`` independent scrambles of
    one Sobol' sequence of ``points`` points each, replicate-major: draw ``i`` is point
    ``i % points`` of replicate ``i // points``; the points' coordinates are the run's design
    columns (``mcfoot.simulate.design_columns``: group-level inputs first, then every row's
    latency and speed).
    """

    kind: str = "mc"
    draws: int = 0
    replicates: int = 1

    @property
    def points(self) -> int:
        """Points per replicate."""
        return self.draws // self.replicates

    def replicate_of(self, draw: np.ndarray) -> np.ndarray:
        """Replicate (0 for ``"mc"``) of each draw index."""
        return np.asarray(draw) // self.points

    def record(self, ss: np.random.SeedSequence, dims: int) -> dict:
        """Result attrs describing the design (everything needed to rebuild the points)."""
        if self.kind == "mc":
            return {"sampling": "mc", "sampling_replicates": 1, "sampling_points": self.draws,
                    "sampling_dimensions": dims, "sampling_scramble": "none",
                    "sampling_scramble_seeds": ""}
        return {"sampling": "sobol", "sampling_replicates": self.replicates,
                "sampling_points": self.points, "sampling_dimensions": dims,
                "sampling_scramble": "scipy.stats.qmc.Sobol(scramble=True): linear matrix "
                                     "scramble + digital shift, one per replicate; points "
                                     f"moved to their cell centre (+2**-{SOBOL_BITS + 1})",
                "sampling_scramble_seeds": ";".join(
                    seed_record(_scramble_seq(ss, r)) for r in range(self.replicates))}


def make_design(sampling: str | Design = "mc", draws: int = 0,
                replicates: int | None = None) -> Design:
    """Validate a run's sampling options (public boundary) and return its :class:`Design`.

    ``sampling="sobol"`` needs ``draws = replicates x points`` with ``points`` a power of two
    (the balance of a Sobol' net holds for its first 2**k points only; Owen 2020, "On dropping
    the first Sobol' point", arXiv 2008.08051): anything else is refused, naming the nearest
    valid draw counts. ``replicates`` (default :data:`DEFAULT_REPLICATES`) must be >= 2: the
    Monte Carlo error of an RQMC estimate comes from the spread between replicates.
    """
    if isinstance(sampling, Design):
        if sampling.draws != draws:
            raise InputError(f"the design is for {sampling.draws} draws, the run has {draws}")
        return sampling
    choice("sampling", sampling, SAMPLINGS, "plain Monte Carlo or scrambled Sobol' points")
    if sampling == "mc":
        if replicates not in (None, 1):
            raise InputError(f"replicates={replicates!r} applies to sampling='sobol' only; "
                             "plain Monte Carlo draws are all independent")
        return Design("mc", int(draws), 1)
    r = DEFAULT_REPLICATES if replicates is None else replicates
    if not isinstance(r, Integral) or isinstance(r, bool) or r < 2:
        raise InputError(f"replicates must be an integer >= 2 (independent scrambles, whose "
                         f"spread gives the Monte Carlo error), got {replicates!r}")
    r = int(r)
    m, rem = divmod(int(draws), r)
    if rem or not is_power_of_two(m):
        hi = 1 << max(0, int(draws) // r).bit_length()  # smallest power with hi * r > draws
        near = [f"draws={p * r} ({r} x {p})" for p in (hi // 2, hi) if p >= 1]
        raise InputError(
            f"sampling='sobol' needs draws = replicates x a power of two; draws={draws} with "
            f"{r} replicates is {draws / r:g} points per replicate: use "
            f"{' or '.join(near)}, or change replicates")
    if m > 1 << SOBOL_BITS:
        raise InputError(f"at most 2**{SOBOL_BITS} Sobol' points per replicate; use more "
                         f"replicates (draws={draws}, replicates={r})")
    return Design("sobol", int(draws), r)


def _scramble_seq(ss: np.random.SeedSequence, replicate: int) -> np.random.SeedSequence:
    return np.random.SeedSequence(
        ss.entropy, spawn_key=(*ss.spawn_key, stream_key(_SCRAMBLE_STREAM), int(replicate)))


def open_unit(u: np.ndarray) -> np.ndarray:
    """Move Sobol' points (multiples of 2**-SOBOL_BITS in [0, 1)) to their cell centres,
    strictly inside (0, 1), so inverse CDFs stay finite. In place; returns ``u``."""
    u += 2.0 ** -(SOBOL_BITS + 1)
    return u


def sobol_blocks(ss: np.random.SeedSequence, design: Design, dims: int, start: int,
                 stop: int, block: int = SOBOL_BLOCK):
    """Yield ``(offset, u)``: the design points of draws ``start..stop-1`` in blocks, ``u`` of
    shape (k, dims) strictly inside (0, 1), ``offset`` its first draw minus ``start``.

    Point ``j`` of replicate ``r`` comes from the engine of ``r`` (scrambled from the
    SeedSequence (seed, crc32("sampling/sobol/scramble"), r)) fast-forwarded to ``j``, so
    the values depend only on (seed, design, dims, draw index): any chunking gives the same
    numbers bit for bit.
    """
    from scipy.stats import qmc

    if design.kind != "sobol":
        raise ValueError("sobol_blocks needs a 'sobol' design")
    if not 1 <= dims <= SOBOL_MAX_DIM:
        raise InputError(f"a Sobol' design supports 1 to {SOBOL_MAX_DIM} dimensions (SciPy's "
                         f"direction numbers); this run has {dims}: use sampling='mc' or "
                         "select fewer models")
    if not 0 <= start <= stop <= design.draws:
        raise ValueError(f"need 0 <= start <= stop <= {design.draws}, got {start}, {stop}")
    m = design.points
    i = start
    while i < stop:
        r, j = divmod(i, m)
        end = min(stop, (r + 1) * m)
        eng = qmc.Sobol(dims, scramble=True, bits=SOBOL_BITS,
                        seed=np.random.Generator(np.random.PCG64(_scramble_seq(ss, r))))
        if j:
            eng.fast_forward(j)
        elif end - i > 1:  # the first point alone: SciPy warns on a first draw of 2**k + c
            yield i - start, open_unit(eng.random(1))
            i += 1
        while i < end:
            k = min(block, end - i)
            yield i - start, open_unit(eng.random(k))
            i += k


def sobol_normals(ss: np.random.SeedSequence, design: Design, dims: int, start: int,
                  stop: int, block: int = SOBOL_BLOCK):
    """:func:`sobol_blocks` mapped to standard normals (the inverse normal CDF of each
    coordinate): yield ``(offset, z)``, ``z`` of shape (k, dims)."""
    from scipy import special

    for offset, u in sobol_blocks(ss, design, dims, start, stop, block):
        yield offset, special.ndtri(u)


def design_normals(ss: np.random.SeedSequence, design: Design, names: list[str], start: int,
                   stop: int) -> np.ndarray:
    """Standard normals of draws ``start..stop-1`` for the named streams ``names`` under
    ``design``, shape ``(len(names), stop - start)``: each name's own PCG64 stream
    (:func:`standard_normals_many`) for ``"mc"``; for ``"sobol"`` one coordinate of the
    design per name, in the order given (put the inputs that matter most first)."""
    if design.kind != "sobol":
        return standard_normals_many(ss, list(names), start, stop)
    out = np.empty((len(names), stop - start))
    for offset, z in sobol_normals(ss, design, len(names), start, stop):
        out[:, offset:offset + len(z)] = z.T
    return out
