"""Small values derived at start-up, remembered on disk between processes.

A cron job cleaning two seed files pays every start-up cost each time; a value that is a pure
function of its key (and of the installed packages named in that key) can be computed once.
Stored as JSON in ``$WINNOW_CACHE_DIR``, else ``$XDG_CACHE_HOME/winnow`` or ``~/.cache/winnow``
(where the boilerplate stage keeps its pattern cache); best effort: a missing, unreadable or
unwritable cache only costs the computation.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Callable

import orjson


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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f"{path.name}.{os.getpid()}.tmp")
        temporary.write_bytes(orjson.dumps(value))
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
