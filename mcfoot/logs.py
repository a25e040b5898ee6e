"""Request logs: read a CSV / Parquet file (or a folder of Parquet files, or a DataFrame) in
bounded memory, validating every row.

A log has one row per request (or per group of identical requests, with ``count``):

==============  ========  ===================================================
column          required  what
==============  ========  ===================================================
model           yes       catalogue model id (e.g. ``gpt-4o-mar``)
input_tokens    yes       prompt tokens of the request (integer >= 0)
output_tokens   yes       generated tokens, reasoning included (integer >= 0)
count           no        identical requests this row stands for (integer >= 0; 1)
timestamp       no        when (read and checked when grouping by time, ``by="month"``)
region          no        grid region the request was served in (``mcfoot/data/regions.csv``)
==============  ========  ===================================================

Other columns are ignored; ``columns={"model": "engine", ...}`` maps differently named ones.
:func:`read_log` yields validated :class:`Chunk` s of at most ``chunk_rows`` rows. The first
bad row stops the read with one :class:`LogError` naming the file, the row (the CSV's line
number, or the 1-based row of a Parquet file / DataFrame), the value and the fix. Nothing is
dropped silently: with ``skip_unknown=True`` rows of models the catalogue lacks are dropped
and counted (:class:`Skipped`); any other bad row is still an error.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from ._validate import close_matches, positive_int
from .errors import InputError
from .regions import RegionError, canonical

REQUIRED = ("model", "input_tokens", "output_tokens")
OPTIONAL = ("count", "timestamp", "region")
COLUMNS = REQUIRED + OPTIONAL
TOKEN_COLUMNS = ("input_tokens", "output_tokens", "count")
#: Rows per chunk: ~100 MB of columns, whatever the log's size.
CHUNK_ROWS = 1_000_000
#: Bad rows quoted in one error (the total is given too).
MAX_QUOTED = 5


class LogError(InputError):
    """A request log that cannot be used as it is."""


@dataclass
class Chunk:
    """Validated rows ``start .. start + len - 1`` (0-based data-row index) of a log."""

    start: int
    model: np.ndarray  # (n,) int64 index into the known model ids
    input_tokens: np.ndarray  # (n,) int64
    output_tokens: np.ndarray  # (n,) int64
    count: np.ndarray  # (n,) int64
    timestamp: np.ndarray | None = None  # (n,) datetime64[ns] (UTC), if the log has one
    region: np.ndarray | None = None  # (n,) object: canonical region names (NaN: none given)

    def __len__(self) -> int:
        return len(self.model)


@dataclass
class Skipped:
    """Rows dropped by ``skip_unknown``: per unknown model, rows, requests and tokens."""

    rows: dict = field(default_factory=dict)  # model -> rows
    requests: dict = field(default_factory=dict)  # model -> sum of count
    input_tokens: dict = field(default_factory=dict)
    output_tokens: dict = field(default_factory=dict)

    def add(self, models: pd.Series, count, t_in, t_out) -> None:
        df = pd.DataFrame({"m": models.to_numpy(), "c": count, "i": t_in * count,
                           "o": t_out * count})
        for m, g in df.groupby("m", sort=True):
            self.rows[m] = self.rows.get(m, 0) + len(g)
            self.requests[m] = self.requests.get(m, 0) + int(g["c"].sum())
            self.input_tokens[m] = self.input_tokens.get(m, 0) + int(g["i"].sum())
            self.output_tokens[m] = self.output_tokens.get(m, 0) + int(g["o"].sum())

    @property
    def total_requests(self) -> int:
        return sum(self.requests.values())

    def text(self) -> str:
        if not self.rows:
            return "no rows skipped"
        return (f"skipped {sum(self.rows.values())} rows ({self.total_requests} requests, "
                f"{sum(self.input_tokens.values())} input and {sum(self.output_tokens.values())}"
                f" output tokens) of unknown model(s) {', '.join(sorted(self.rows))}")


def closest(name: str, known) -> list[str]:
    """Up to three known ids closest to ``name`` (for 'did you mean' hints)."""
    known = list(known)
    out = close_matches(name, known, cutoff=0.5)
    if not out:
        low = str(name).lower()
        out = [k for k in known if low[:4] and k.lower().startswith(low[:4])][:3]
    return out


def parse_columns(text: str | dict | None) -> dict[str, str]:
    """``"model=engine,output_tokens=completion"`` (or a dict) -> {our name: the log's name}."""
    if text is None:
        return {}
    if isinstance(text, dict):
        pairs = dict(text)
    else:
        pairs = {}
        for part in str(text).split(","):
            k, sep, v = part.partition("=")
            if not sep or not k.strip() or not v.strip():
                raise LogError(f"--columns: cannot read {part!r}; write ours=theirs pairs, e.g. "
                               f"model=engine,output_tokens=completion_tokens")
            pairs[k.strip()] = v.strip()
    bad = [k for k in pairs if k not in COLUMNS]
    if bad:
        raise LogError(f"columns: unknown column(s) {', '.join(bad)} to map; the log's columns "
                       f"are {', '.join(COLUMNS)}")
    return {k: str(v) for k, v in pairs.items()}


def _label(source) -> str:
    return "the DataFrame" if isinstance(source, pd.DataFrame) else str(source)


def _files(source) -> list[Path]:
    p = Path(source)
    if p.is_dir():
        files = sorted(f for f in p.rglob("*.parquet") if f.is_file())
        if not files:
            raise LogError("folder holds no .parquet files; give a CSV or Parquet file, or a "
                           "folder of Parquet files", str(p))
        return files
    if not p.exists():
        raise LogError("file not found; give the path of a CSV or Parquet log", str(p))
    return [p]


def _pyarrow():
    try:
        import pyarrow.parquet as pq
    except ModuleNotFoundError:
        raise LogError("reading Parquet needs pyarrow; install it with "
                       "pip install 'mcfoot[parquet]' (or give a CSV)")
    return pq


def _raw_chunks(source, wanted: dict[str, str], chunk_rows: int):
    """Yield (label, line offset, DataFrame with the log's own column names) per chunk."""
    theirs = list(wanted.values())
    if isinstance(source, pd.DataFrame):
        _check_header(list(source.columns), wanted, _label(source))
        for s in range(0, max(len(source), 1), chunk_rows):
            yield _label(source), 1, source.iloc[s:s + chunk_rows][
                [c for c in theirs if c in source.columns]].reset_index(drop=True)
        return
    for path in _files(source):
        if path.suffix.lower() in (".parquet", ".pq"):
            pq = _pyarrow()
            try:
                f = pq.ParquetFile(path)
            except Exception as e:  # pyarrow raises its own error types
                raise LogError(f"not a readable Parquet file ({e})", str(path))
            with f:
                _check_header(f.schema_arrow.names, wanted, str(path))
                if f.metadata.num_rows == 0:
                    yield str(path), 1, pd.DataFrame(columns=theirs)
                cols = [c for c in theirs if c in f.schema_arrow.names]
                for batch in f.iter_batches(batch_size=chunk_rows, columns=cols):
                    yield str(path), 1, batch.to_pandas()
            continue
        try:
            head = pd.read_csv(path, nrows=0)
        except pd.errors.EmptyDataError:
            raise LogError("the file is empty; a log needs a header line "
                           f"({','.join(REQUIRED)}) and at least one request", str(path))
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise LogError(f"not a readable CSV ({e})", str(path))
        _check_header(list(head.columns), wanted, str(path))
        cols = [c for c in theirs if c in head.columns]
        text = {wanted[k]: str for k in ("model", "region", "timestamp") if k in wanted}
        try:
            with pd.read_csv(path, usecols=cols, dtype=text, chunksize=chunk_rows,
                             keep_default_na=False, na_values=[""]) as reader:
                first = True
                for df in reader:
                    first = False
                    yield str(path), 2, df
                if first:
                    yield str(path), 2, pd.DataFrame(columns=cols)
        except (pd.errors.ParserError, UnicodeDecodeError) as e:
            raise LogError(f"not a readable CSV ({e}); fix the line it names", str(path))


def _check_header(have: list[str], wanted: dict[str, str], label: str) -> None:
    missing = [f"{ours}" + (f" (mapped to '{theirs}')" if ours != theirs else "")
               for ours, theirs in wanted.items() if ours in REQUIRED and theirs not in have]
    if missing:
        raise LogError(f"missing column(s) {', '.join(missing)}; the log has "
                       f"{', '.join(map(str, have)) or 'no columns'}. Rename them, or map them "
                       f"with --columns ours=theirs (e.g. model=engine)", label)
    for ours, theirs in wanted.items():
        if ours in OPTIONAL and ours != theirs and theirs not in have:
            raise LogError(f"column '{theirs}' (mapped to {ours}) is not in the log; the log "
                           f"has {', '.join(map(str, have))}", label)


def _where(label: str, line0: int, start: int, i: int) -> str:
    n = start + i + line0
    return f"line {n}" if line0 == 2 else f"row {n}"


def _datetimes(raw: pd.Series) -> pd.Series:
    """UTC timestamps of a column (datetime already, ISO 8601 fast, anything else as
    ``pandas.to_datetime`` reads it); NaT where unreadable."""
    if pd.api.types.is_datetime64_any_dtype(raw):
        return raw.dt.tz_localize("UTC") if raw.dt.tz is None else raw.dt.tz_convert("UTC")
    ts = pd.to_datetime(raw, errors="coerce", utc=True, format="ISO8601")
    bad = ts.isna() & raw.notna()
    if bad.any():
        ts[bad] = pd.to_datetime(raw[bad], errors="coerce", utc=True, format="mixed")
    return ts


def _show(v) -> str:
    return repr(v.item() if isinstance(v, np.generic) else v)


def _integers(df, col, theirs, label, line0, in_file, low, problems) -> np.ndarray:
    raw = df[theirs]
    if raw.dtype.kind in "iu":
        v = raw.to_numpy(np.int64)
        bad = np.flatnonzero(v < low)
        why = f"is below {low}"
    else:
        num = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        with np.errstate(invalid="ignore"):
            ok = np.isfinite(num) & (num >= low) & (num == np.floor(num)) & (num < 2 ** 53)
        bad = np.flatnonzero(~ok)
        v = np.where(ok, num, 0).astype(np.int64)
        why = "is not an integer >= " + str(low)
    for i in bad[:MAX_QUOTED]:
        problems.append(f"{_where(label, line0, in_file, i)}: {col} = {_show(raw.iloc[i])} {why}; "
                        f"token counts and counts are whole numbers (fix or remove the row)")
    if len(bad) > MAX_QUOTED:
        problems.append(f"... and {len(bad) - MAX_QUOTED} more rows with a bad {col} in this "
                        f"chunk")
    return v


def _model_codes(column: pd.Series, index: pd.Index, where, problems: list[str]):
    """The catalogue index of each row's model (-1: empty or not in the catalogue), the
    factorized codes and names of the log's own model strings, and the empty-model mask; an
    empty model is a problem (``where(i)`` names row i)."""
    mcodes, muniq = pd.factorize(column, use_na_sentinel=True)
    names = pd.Index([str(u).strip() for u in muniq], dtype=object)
    empty_u = np.array([n == "" for n in names], bool)
    empty = (mcodes < 0) | (empty_u[mcodes] if len(names) else False)
    for i in np.flatnonzero(empty)[:MAX_QUOTED]:
        problems.append(f"{where(i)}: model is empty; give a catalogue model id")
    ucodes = index.get_indexer(names)
    codes = np.where(mcodes < 0, -1, ucodes[mcodes] if len(names) else -1)
    return codes, mcodes, names.to_numpy(), empty


def _timestamps(raw: pd.Series, where, problems: list[str]) -> np.ndarray:
    """The timestamp column as naive datetime64[ns]; a cell that is not a date/time is a
    problem."""
    ts = _datetimes(raw)
    for i in np.flatnonzero(ts.isna().to_numpy())[:MAX_QUOTED]:
        problems.append(f"{where(i)}: timestamp = {_show(raw.iloc[i])} is not a date/time; "
                        f"write ISO 8601, e.g. 2025-06-30T12:00:00Z")
    return ts.dt.tz_localize(None).to_numpy("datetime64[ns]")


def _regions(raw: pd.Series, where, problems: list[str]) -> np.ndarray:
    """The region column as canonical region names ("" for an empty cell: the model's host's
    own grid); an unknown region is a problem."""
    text = raw.astype(str).str.strip().where(raw.notna(), "")
    names = {}
    for r in pd.unique(text):
        if r == "":
            continue
        try:
            names[r] = canonical(r)
        except RegionError:
            i = int(np.flatnonzero((text == r).to_numpy())[0])
            problems.append(f"{where(i)}: unknown region {r!r}; "
                            f"`mcfoot priors regions` lists the known ones")
    return text.map(names).to_numpy(object)


def _unknown_models(models: pd.Series, unknown: np.ndarray, known, where) -> str:
    """The problem naming the log's models that are not in the catalogue (the first
    MAX_QUOTED, each at its first row, with the closest catalogue ids) and the fixes."""
    names = pd.unique(models[unknown])
    hints = []
    for m in names[:MAX_QUOTED]:
        i = int(np.flatnonzero((models == m).to_numpy() & unknown)[0])
        near = closest(m, known)
        hints.append(f"{where(i)}: unknown model {m!r}"
                     + (f" (closest catalogue ids: {', '.join(near)})" if near else ""))
    more = f" and {len(names) - MAX_QUOTED} more" if len(names) > MAX_QUOTED else ""
    return ("; ".join(hints) + more + "; use catalogue model ids "
            "(`mcfoot priors show` / the catalogue CSV), map them in the log, "
            "or pass --skip-unknown to drop (and report) them")


def _chunk(df: pd.DataFrame, start: int, has: set, wanted: dict, index: pd.Index, known,
           skip_unknown: bool, skipped, need_timestamp: bool, at: tuple) -> Chunk:
    """One raw chunk of a log validated whole into a :class:`Chunk` (``start``: the rows of
    the log before it; ``at``: its file label, first line and rows of the file before it):
    every problem of the chunk is raised together as a :class:`LogError`; rows of unknown
    models are dropped into ``skipped`` when ``skip_unknown``."""
    n, label = len(df), at[0]
    problems: list[str] = []

    def where(i):
        return _where(*at, i)

    codes, mcodes, model_names, empty = _model_codes(df[wanted["model"]], index, where,
                                                     problems)
    t_in = _integers(df, "input_tokens", wanted["input_tokens"], *at, 0, problems)
    t_out = _integers(df, "output_tokens", wanted["output_tokens"], *at, 0, problems)
    count = _integers(df, "count", wanted["count"], *at, 0, problems) \
        if "count" in has else np.ones(n, np.int64)
    ts = _timestamps(df[wanted["timestamp"]], where, problems) \
        if "timestamp" in has and need_timestamp else None
    region = _regions(df[wanted["region"]], where, problems) if "region" in has else None
    unknown = (codes < 0) & ~empty
    if unknown.any():
        models = pd.Series(model_names[np.maximum(mcodes, 0)], dtype=object)
        if not skip_unknown:
            problems.append(_unknown_models(models, unknown, known, where))
    if problems:
        raise LogError(problems, label)
    if unknown.any():
        if skipped is not None:
            skipped.add(models[unknown], count[unknown], t_in[unknown], t_out[unknown])
        sel = np.flatnonzero(~unknown)
        codes, t_in, t_out, count = codes[sel], t_in[sel], t_out[sel], count[sel]
        ts = ts[sel] if ts is not None else None
        region = region[sel] if region is not None else None
    return Chunk(start, codes.astype(np.int64), t_in, t_out, count, ts, region)


def read_log(source, known_models, *, columns=None, skip_unknown: bool = False,
             chunk_rows: int = CHUNK_ROWS, skipped: Skipped | None = None,
             need_timestamp: bool = False) -> Iterator[Chunk]:
    """Validated chunks of a request log (see the module docstring).

    ``known_models``: the catalogue's model ids (``Chunk.model`` indexes them). ``skipped``:
    a :class:`Skipped` to fill when ``skip_unknown`` drops rows. ``need_timestamp``: the
    caller groups by time, so a log without ``timestamp`` is an error.
    """
    known = list(known_models)
    index = pd.Index(known)
    mapping = parse_columns(columns)
    wanted = {c: mapping.get(c, c) for c in COLUMNS}
    chunk_rows = positive_int("chunk_rows", chunk_rows)
    start = 0  # rows of the whole log before this chunk
    seen_rows = 0
    label = prev = _label(source)
    in_file = 0  # rows of this file before this chunk (for row/line numbers)
    for label, line0, df in _raw_chunks(source, wanted, int(chunk_rows)):
        if label != prev:
            prev, in_file = label, 0
        has = {c for c in COLUMNS if wanted[c] in df.columns}
        if need_timestamp and "timestamp" not in has:
            raise LogError("grouping by time needs a 'timestamp' column (or map one with "
                           "--columns timestamp=NAME)", label)
        n = len(df)
        if n == 0:
            continue
        seen_rows += n
        yield _chunk(df, start, has, wanted, index, known, skip_unknown, skipped,
                     need_timestamp, (label, line0, in_file))
        start += n
        in_file += n
    if seen_rows == 0:
        raise LogError("the log has no requests (only a header); add at least one row", label)
