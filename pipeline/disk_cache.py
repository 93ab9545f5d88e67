"""Small values derived at start-up, remembered on disk between processes.

A cron job cleaning two seed files pays every start-up cost each time; a value that is a pure
function of its key (and of the installed packages named in that key) can be computed once.
Stored as JSON in ``$WINNOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/winnow`` or ``~/.cache/winnow``
(where the boilerplate stage keeps its pattern cache); best effort: a missing, unreadable or
unwritable cache only costs the computation.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import unicodedata
import zipfile
from pathlib import Path
from typing import Any, Callable

import numpy as np
import orjson
import regex


def cache_dir() -> Path:
    root = os.environ.get("WINNOW_CACHE_DIR") or os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "winnow")
    return Path(root)


def load(path: Path) -> Any:
    """The JSON value stored at ``path``, or None when it is missing or unreadable."""
    try:
        return orjson.loads(path.read_bytes())
    except (OSError, ValueError):
        return None


def store(path: Path, value: Any) -> bool:
    """Write ``value`` as JSON to ``path`` atomically (a concurrent process never reads half a
    file); False when the cache cannot be written."""
    return _store_bytes(path, orjson.dumps(value))


def _store_bytes(path: Path, data: bytes) -> bool:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(data)
        os.replace(temporary, path)
        return True
    except OSError:
        return False


def remembered(name: str, key: str, compute: Callable[[], Any], valid: Callable[[Any], bool] = lambda v: True) -> Any:
    """``compute()`` (a JSON value), kept under ``key`` in the cache file ``name``.json; a stored
    value that is not ``valid`` (a damaged or hand-edited file) is computed again."""
    path = cache_dir() / f"{name}.json"
    entries = load(path)
    if not isinstance(entries, dict):
        entries = {}
    if key in entries and valid(entries[key]):
        return entries[key]
    value = entries[key] = compute()
    store(path, entries)
    return value


def remembered_table(name: str, ingredients: Any, compute: Callable[[], np.ndarray], dtype: Any = np.uint8) -> np.ndarray:
    """``compute()`` (a per-code-point lookup table of ``dtype``), kept in ``name-<digest>.npy``.

    Such tables come from scanning all 1.1 million code points with regular expressions, a few
    tenths of a second each at every start-up. The digest covers ``ingredients`` (the patterns or
    sets that define the table: pass everything ``compute`` reads) and what else decides the
    answer: the Python version (its Unicode database) and the ``regex`` module's version. A file
    that does not load as a ``dtype`` array over every code point is computed again.
    """
    dtype = np.dtype(dtype)
    key = repr((ingredients, dtype.str, sys.version_info[:2], unicodedata.unidata_version, regex.__version__))
    path = _digest_path(name, key, "npy")
    try:
        table = np.load(path, allow_pickle=False)
        if table.shape == (0x110000,) and table.dtype == dtype:
            return table
    except (OSError, ValueError, EOFError):  # missing, damaged or cut short
        pass
    table = np.asarray(compute(), dtype=dtype)
    buffer = io.BytesIO()
    np.save(buffer, table, allow_pickle=False)
    _store_bytes(path, buffer.getvalue())
    return table


def remembered_arrays(name: str, ingredients: Any, names: tuple[str, ...], compute: Callable[[], dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """``compute()`` (the arrays ``names``), kept in ``name-<digest>.npz``: for tables built from
    word lists at every start-up. The digest covers ``ingredients`` (everything ``compute`` reads:
    data, and the source of the code that hashes it when that matters) and the Python and numpy
    versions. A file that does not load with exactly ``names`` is computed again."""
    path = _digest_path(name, repr((ingredients, sys.version_info[:2], np.__version__)), "npz")
    try:
        with np.load(path, allow_pickle=False) as stored:
            if sorted(stored.files) == sorted(names):
                return {key: stored[key] for key in names}
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile):  # missing, damaged or cut short
        pass
    arrays = compute()
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)  # numeric arrays: nothing is pickled
    _store_bytes(path, buffer.getvalue())
    return arrays


def _digest_path(name: str, key: str, suffix: str) -> Path:
    """``name-<digest>.suffix`` in the cache, the digest of ``key``."""
    digest = hashlib.sha256(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return cache_dir() / f"{name}-{digest}.{suffix}"
