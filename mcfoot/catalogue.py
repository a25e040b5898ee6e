"""The catalogue of model APIs: who serves what, on which hardware, how fast.

The shipped catalogue is the study's snapshot of 2025-10-26 (66 model APIs x 3 prompt sizes,
see ``mcfoot/data/SOURCE.md``). :func:`load_catalogue` returns it as an ``xarray.Dataset``
indexed by ``(model, prompt)``; missing prompt sizes and unmeasured scores stay NaN.
"""

from __future__ import annotations

import hashlib
import io
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
import xarray as xr

from . import plausibility
from ._validate import close_matches
from .errors import CatalogueError

__all__ = ["file_hash", "load_catalogue", "MODEL_TEXT", "PROMPTS", "QUANTILE_PROBS",
           "QUANTILE_SERIES", "QUANTILE_SUFFIX", "read_catalogue", "REQUIRED", "SCORES",
           "SHIPPED", "shipped_path"]

SHIPPED = "catalogue_2025-10-26.csv"
PROMPTS = ("short", "medium", "long")
#: Artificial Analysis quantile levels and the column suffixes that hold them.
QUANTILE_PROBS = (0.05, 0.25, 0.50, 0.75, 0.95)
QUANTILE_SUFFIX = ("p05", "p25", "p50", "p75", "p95")

MODEL_TEXT = ("model", "api_id", "company", "size_class", "hardware", "host")
SCORES = (
    "intelligence_index", "terminal_bench_hard", "tau2_bench_telecom", "aa_lcr", "hle",
    "mmlu_pro", "gpqa_diamond", "livecodebench", "scicode", "ifbench", "aime_2025",
)
#: Row-level quantile columns: prefix -> (variable name, unit, long name).
QUANTILE_SERIES = {
    "first_chunk_s": ("latency_s", "s", "time to first chunk"),
    "tokens_per_s": ("speed_tokens_per_s", "tokens/s", "output speed"),
}
REQUIRED = (
    "model_id", *MODEL_TEXT, "prompt", "input_tokens", "output_tokens", "intelligence_index",
    *(f"{p}_{s}" for p in QUANTILE_SERIES for s in QUANTILE_SUFFIX),
)


def shipped_path() -> Path:
    """Path of the shipped catalogue CSV inside the installed package."""
    return Path(str(resources.files("mcfoot.data").joinpath(SHIPPED)))


def file_hash(path: str | Path) -> str:
    """``sha256:<hex>`` of a file's bytes (recorded in results for provenance)."""
    return "sha256:" + hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _read(path: Path) -> pd.DataFrame:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise CatalogueError("file not found; give the path of a catalogue CSV", str(path))
    except OSError as e:
        raise CatalogueError(f"cannot read ({e.strerror})", str(path))
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CatalogueError("file starts with a UTF-16 byte-order mark (BOM, e.g. Excel's "
                             "'Unicode text'); save it as 'CSV UTF-8 (comma delimited)'", str(path))
    try:
        # "utf-8-sig": the byte-order mark of Excel's "CSV UTF-8" export is accepted
        df = pd.read_csv(io.BytesIO(raw), encoding="utf-8-sig",
                         dtype={c: str for c in ("model_id", *MODEL_TEXT, "prompt")})
    except (pd.errors.EmptyDataError, pd.errors.ParserError, UnicodeDecodeError) as e:
        hint = "not UTF-8 text; save it as UTF-8" if isinstance(e, UnicodeDecodeError) else \
            f"not a readable CSV ({str(e).splitlines()[0][:120]})"
        raise CatalogueError(f"{hint}; start from the shipped template", str(path))
    header = raw.decode("utf-8", "replace").splitlines()[0] if raw.strip() else ""
    if len(df.columns) == 1:
        for sep, word in ((";", "semicolon"), ("\t", "tab")):
            if header.count(sep) >= 2:
                raise CatalogueError(f"only one column found: the file looks {word}-separated? "
                                     f"save it comma-separated (the shipped template's format)",
                                     str(path))
    # rows with every cell empty (e.g. the ",,,," lines a spreadsheet export appends)
    return df.dropna(how="all")


def _closest(name: str, options) -> str:
    close = close_matches(name, options, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _validate(df: pd.DataFrame, src: str) -> None:
    problems: list[str] = []
    missing = [c for c in REQUIRED if c not in df.columns]
    if missing:
        raise CatalogueError(
            f"missing column(s) {', '.join(missing)}; the columns are those of the shipped "
            f"catalogue (see `mcfoot/data/catalogue_template.csv`)", src)
    if df.empty:
        raise CatalogueError("no rows; add at least one model and prompt size", src)
    for col in df.columns:
        if col not in REQUIRED and col not in SCORES:
            problems.append(f"unknown column '{col}'{_closest(str(col), (*REQUIRED, *SCORES))}"
                            f" (the columns are those of mcfoot/data/catalogue_template.csv)")
    if problems:
        raise CatalogueError(problems, src)
    problems += _cell_problems(df)
    if problems:
        raise CatalogueError(problems, src)
    problems += _value_problems(df)
    problems += _implausible(df)
    meta = df.groupby("model_id")[[*MODEL_TEXT, *[c for c in SCORES if c in df.columns]]]
    varying = meta.nunique(dropna=False) > 1
    for model, row in varying.iterrows():
        for col in row.index[row.to_numpy()]:
            problems.append(f"model '{model}': column '{col}' differs between its prompt sizes; "
                            f"model metadata must be the same on every row of a model")
    if problems:
        raise CatalogueError(problems, src)


def _cell_problems(df: pd.DataFrame) -> list[str]:
    """Each cell of a catalogue that is empty, not a number or not finite where it must be,
    each prompt not a known size and each duplicate (model, prompt) row (1-based CSV rows,
    the header being row 1)."""
    problems: list[str] = []
    for col in ("model_id", *MODEL_TEXT, "prompt"):
        bad = df.index[df[col].isna() | (df[col].astype(str).str.strip() == "")]
        for i in bad:
            problems.append(f"row {i + 2}: column '{col}' is empty; fill it in")
    bad_prompt = ~df["prompt"].isin(PROMPTS)
    for i in df.index[bad_prompt & df["prompt"].notna()]:
        problems.append(f"row {i + 2}: prompt '{df.at[i, 'prompt']}' is not one of "
                        f"{', '.join(PROMPTS)}")
    dup = df.duplicated(["model_id", "prompt"], keep="first")
    for i in df.index[dup]:
        problems.append(f"row {i + 2}: duplicate of model '{df.at[i, 'model_id']}', prompt "
                        f"'{df.at[i, 'prompt']}'; keep one row per model and prompt size")
    numeric = ["input_tokens", "output_tokens",
               *(f"{p}_{s}" for p in QUANTILE_SERIES for s in QUANTILE_SUFFIX)]
    for col in numeric + list(c for c in SCORES if c in df.columns):
        vals = pd.to_numeric(df[col], errors="coerce")
        for i in df.index[vals.isna() & df[col].notna()]:
            problems.append(f"row {i + 2}: column '{col}' = {df.at[i, col]!r} is not a number")
        if col in numeric:
            for i in df.index[df[col].isna()]:
                problems.append(f"row {i + 2}: column '{col}' is empty; it is needed for the "
                                f"footprint")
            bad = vals.notna() & ~np.isfinite(vals)
            for i in df.index[bad]:
                problems.append(f"row {i + 2}: column '{col}' is not finite ({vals[i]})")
    return problems


def _value_problems(df: pd.DataFrame) -> list[str]:
    """Each negative token count, and each latency/speed quantile series that decreases or
    starts below its bound, of a catalogue whose cells are all numbers."""
    problems: list[str] = []
    for col in ("input_tokens", "output_tokens"):
        for i in df.index[pd.to_numeric(df[col]) < 0]:
            problems.append(f"row {i + 2}: '{col}' = {df.at[i, col]} is negative")
    for prefix, (_, unit, label) in QUANTILE_SERIES.items():
        q = df[[f"{prefix}_{s}" for s in QUANTILE_SUFFIX]].astype(float).to_numpy()
        for i in np.flatnonzero((np.diff(q, axis=1) < 0).any(axis=1)):
            problems.append(f"row {df.index[i] + 2}: {label} quantiles {q[i].tolist()} "
                            f"decrease; quantiles P5..P95 must not decrease")
        low = q[:, 0] <= 0 if prefix == "tokens_per_s" else q[:, 0] < 0
        for i in np.flatnonzero(low):
            problems.append(f"row {df.index[i] + 2}: {label} P5 = {q[i, 0]} {unit} is not "
                            f"{'positive' if prefix == 'tokens_per_s' else 'non-negative'}")
    return problems


def _implausible(df: pd.DataFrame) -> list[str]:
    """Values outside the plausibility bounds (``mcfoot/data/plausibility.toml``), and
    latency/speed columns that look swapped."""
    out = []
    bounds = plausibility.catalogue_bounds()
    lat, spd = (df[[f"{p}_{s}" for s in QUANTILE_SUFFIX]].astype(float).to_numpy()
                for p in QUANTILE_SERIES)
    mid = QUANTILE_SUFFIX.index("p50")
    swapped = (lat[:, mid] > spd[:, mid]) & (spd[:, mid] < bounds["tokens_per_s"].low) & \
        (lat[:, mid] >= bounds["tokens_per_s"].low)
    for i in np.flatnonzero(swapped):
        out.append(f"row {df.index[i] + 2}: latency and speed look swapped (first_chunk_s_p50 = "
                   f"{lat[i, mid]:g} s, tokens_per_s_p50 = {spd[i, mid]:g} tokens/s): "
                   f"first_chunk_s_* hold seconds to the first chunk, tokens_per_s_* output "
                   f"tokens per second")
    cols = {"input_tokens": ["input_tokens"], "output_tokens": ["output_tokens"],
            **{p: [f"{p}_{s}" for s in QUANTILE_SUFFIX] for p in QUANTILE_SERIES}}
    for name, columns in cols.items():
        b = bounds[name]
        for col in columns:
            vals = df[col].astype(float)
            hard = vals <= 0 if col.startswith("tokens_per_s") else vals < 0  # said above
            for i in df.index[((vals < b.low) | (vals > b.high)) & ~hard]:
                if name in QUANTILE_SERIES and i in set(df.index[swapped]):
                    continue  # reported as swapped
                out.append(f"row {i + 2}: '{col}' = {vals[i]:g} is outside the {b.text()}")
    return out


def read_catalogue(path: str | Path | None = None) -> pd.DataFrame:
    """The catalogue as a validated flat table (one row per model x prompt)."""
    p = shipped_path() if path is None else Path(path)
    df = _read(p)
    _validate(df, str(p))
    return df


def load_catalogue(path: str | Path | None = None) -> xr.Dataset:
    """Load a catalogue (the shipped one by default) as a Dataset over (model, prompt).

    Variables: model metadata (``company``, ``size_class``, ``hardware``, ``host``, ...,
    ``intelligence_index`` and benchmark scores over ``model``), ``input_tokens`` and
    ``output_tokens`` over (model, prompt), and ``latency_s`` / ``speed_tokens_per_s`` over
    (model, prompt, quantile). Missing rows and unmeasured scores are NaN; ``present`` marks
    the (model, prompt) pairs the catalogue has.
    """
    p = shipped_path() if path is None else Path(path)
    df = read_catalogue(p)
    models = list(dict.fromkeys(df["model_id"]))
    prompts = [q for q in PROMPTS if q in set(df["prompt"])]
    mi = {m: i for i, m in enumerate(models)}
    pi = {q: i for i, q in enumerate(prompts)}
    im = df["model_id"].map(mi).to_numpy()
    ip = df["prompt"].map(pi).to_numpy()
    shape = (len(models), len(prompts))

    def grid(values, extra=()):
        out = np.full(shape + extra, np.nan)
        out[im, ip] = values
        return out

    first = df.drop_duplicates("model_id").set_index("model_id").loc[models]
    ds = xr.Dataset(coords={"model": models, "prompt": prompts,
                            "quantile": np.array(QUANTILE_PROBS)})
    ds["quantile"].attrs = {"units": "1", "long_name": "cumulative probability"}
    for col in MODEL_TEXT:  # the CSV's display name "model" becomes "model_name"
        ds["model_name" if col == "model" else col] = ("model", first[col].astype(str).to_numpy())
    for col in SCORES:
        vals = pd.to_numeric(first[col], errors="coerce").to_numpy(float) if col in first \
            else np.full(len(models), np.nan)
        unit = "points (0-100)" if col == "intelligence_index" else "1"
        ds[col] = ("model", vals, {"units": unit, "long_name": col.replace("_", " ")})
    present = np.zeros(shape, bool)
    present[im, ip] = True
    ds["present"] = (("model", "prompt"), present, {"long_name": "row in catalogue"})
    for col in ("input_tokens", "output_tokens"):
        ds[col] = (("model", "prompt"), grid(df[col].to_numpy(float)),
                   {"units": "tokens", "long_name": col.replace("_", " ")})
    for prefix, (name, unit, label) in QUANTILE_SERIES.items():
        q = df[[f"{prefix}_{s}" for s in QUANTILE_SUFFIX]].to_numpy(float)
        ds[name] = (("model", "prompt", "quantile"), grid(q, (len(QUANTILE_PROBS),)),
                    {"units": unit, "long_name": f"{label} quantiles (Artificial Analysis)"})
    ds.attrs = {"source": str(p.name), "catalogue_hash": file_hash(p)}
    return ds
