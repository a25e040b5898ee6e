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

import numpy as np

from .errors import InputError

__all__ = ["BLOCK", "block_generator", "normalize_seed", "seed_record", "standard_normals",
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
    pos = 0
    for block in range(start // BLOCK, -(-stop // BLOCK)):
        b0 = block * BLOCK
        lo, hi = max(start, b0), min(stop, b0 + BLOCK)
        gen = block_generator(ss, name, block)
        if lo > b0:  # skip the head of the block deterministically
            gen.standard_normal(lo - b0)
        gen.standard_normal(out=out[pos : pos + hi - lo])
        pos += hi - lo
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
    some rows of a larger array in place. NumPy releases the GIL while filling, so
    ``threads > 1`` fills rows concurrently; the numbers do not depend on ``threads``.
    """
    if out is None:
        out = np.empty((len(names), stop - start))
    rows = range(len(names)) if rows is None else [int(r) for r in rows]
    if threads <= 1 or len(names) < 2:
        for name, r in zip(names, rows):
            standard_normals(ss, name, start, stop, out=out[r])
        return out
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(lambda nr: standard_normals(ss, nr[0], start, stop, out=out[nr[1]]),
                      zip(names, rows)))
    return out
