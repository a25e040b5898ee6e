"""Entry files: the TOML files of published figures (``priors/evidence/``) and of claims
(``priors/claims/``), read and checked the same way.

An entry file is ``[meta]`` (``schema``, and optionally ``name`` and ``description``) and a
list of ``[[TABLE]]`` entries; :func:`load_entry_files` reads shipped names or paths, checks
the frame of every file and hands each entry to the caller's validator, then raises one
:class:`~mcfoot.errors.InputError` per file listing every problem (file, entry, fix).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections.abc import Callable
from pathlib import Path

from .errors import InputError
from .priors import priors_dir

__all__ = ["load_entry_files", "read_shipped_or_file", "META_KEYS", "SCHEMA"]

#: The entry files' format version (``[meta] schema``).
SCHEMA = 1
META_KEYS = ("schema", "name", "description")


def read_shipped_or_file(f, sub: str, shipped, what: str) -> tuple[str, bytes]:
    """``(label, bytes)`` of a data file given by shipped name (``priors/<sub>/<f>.toml``) or
    by path; a path that is no file is one error naming it and the shipped names.
    ``what``: the kind of file for the message (``"claims"``, ``"evidence"``)."""
    if isinstance(f, str) and f in shipped:
        return f"priors/{sub}/{f}.toml", priors_dir(sub).joinpath(f"{f}.toml").read_bytes()
    path = Path(f)
    if not path.is_file():
        raise InputError(f"no such {what} file; give a .toml path or one of "
                         f"{', '.join(shipped)}", str(path))
    return str(path), path.read_bytes()


def load_entry_files(files, sub: str, shipped: list[str], table: str, what: str,
                     entry: Callable) -> list:
    """Entries of the entry files ``files`` (a shipped name of ``priors/<sub>/``, a path, a
    list of those, or ``None`` for every one of ``shipped``).

    ``table``: the entries' table name (``"claim"``, ``"evidence"``); ``what``: the files'
    kind in messages (``"claims"``, ``"evidence"``). ``entry(i, e, src, digest)`` validates
    entry ``i`` (a table) of file ``src`` (content hash ``digest``) and returns ``(problems,
    entry or None)``. Every problem of a file is reported together as one InputError."""
    if files is None:
        files = shipped
    if isinstance(files, (str, Path)):
        files = [files]
    out: list = []
    for f in files:
        src, raw_bytes = read_shipped_or_file(f, sub, shipped, what)
        try:
            raw = tomllib.loads(raw_bytes.decode("utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
            raise InputError(f"not valid TOML ({e}); fix the syntax", src)
        problems = [f"unknown top-level key {k!r}; {'an' if what[0] in 'aeiou' else 'a'} "
                    f"{what} file has [meta] and [[{table}]] entries"
                    for k in raw if k not in ("meta", table)]
        meta = raw.get("meta", {})
        if not isinstance(meta, dict) or meta.get("schema") != SCHEMA:
            problems.append(f"[meta] schema must be {SCHEMA}, got "
                            f"{meta.get('schema') if isinstance(meta, dict) else meta!r}")
        elif set(meta) - set(META_KEYS):
            problems.append(f"[meta] unknown key(s) {', '.join(sorted(set(meta) - set(META_KEYS)))}"
                            f"; allowed: {', '.join(META_KEYS)}")
        entries = raw.get(table, [])
        if not isinstance(entries, list) or not entries:
            problems.append(f"no {what} entries; add [[{table}]] tables")
            entries = []
        digest = "sha256:" + hashlib.sha256(raw_bytes).hexdigest()
        for i, e in enumerate(entries):
            if not isinstance(e, dict):
                problems.append(f"[[{table}]] #{i + 1}: must be a table")
                continue
            ps, x = entry(i, e, src, digest)
            problems += ps
            if x is not None:
                out.append(x)
        if problems:
            raise InputError(problems, src)
    return out
