"""fsspec at the edges: inputs and outputs may be URLs (``s3://``, ``gs://``, ``memory://``, ``file://``).

Plain local paths keep the fast ``pathlib``/``open`` path; anything with a ``protocol://`` goes
through fsspec (``s3://`` needs ``s3fs`` installed, ``gs://`` needs ``gcsfs``, as fsspec says).
``UrlPath`` gives a URL the handful of ``Path`` methods the readers use, so they need no branches.
"""

from __future__ import annotations

import os
import re
import stat
from pathlib import Path
from typing import IO, Any, Iterator

_PROTOCOL = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")


def is_url(path: Any) -> bool:
    """True for ``scheme://...`` strings; ``Path`` objects and plain paths are local."""
    return isinstance(path, str) and bool(_PROTOCOL.match(path))


def url_fs(url: str) -> tuple[Any, str]:
    """(filesystem, path inside it) for a URL."""
    import fsspec

    return fsspec.core.url_to_fs(url)


class UrlPath:
    """A file behind a URL, with the ``Path`` surface the readers use (name, stem, exists, open)."""

    def __init__(self, url: str):
        self.fs, self.path = url_fs(url)
        self.url = self.fs.unstrip_protocol(self.path)

    @property
    def name(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]

    @property
    def stem(self) -> str:
        return self.name.rsplit(".", 1)[0] if "." in self.name[1:] else self.name

    def exists(self) -> bool:
        return bool(self.fs.exists(self.path))

    def is_dir(self) -> bool:
        return bool(self.fs.isdir(self.path))

    def is_file(self) -> bool:
        return bool(self.fs.isfile(self.path))

    def stat(self) -> os.stat_result:
        """Size and type in ``os.stat`` form, for readers written against ``Path.stat()``."""
        info = self.fs.info(self.path)  # FileNotFoundError if missing, as Path.stat()
        kind = stat.S_IFDIR if info.get("type") == "directory" else stat.S_IFREG
        return os.stat_result((kind | 0o444, 0, 0, 1, 0, 0, int(info.get("size") or 0), 0, 0, 0))

    def read_bytes(self) -> bytes:
        return self.fs.cat_file(self.path)

    def open_binary(self) -> IO[bytes]:
        return self.fs.open(self.path, "rb")

    def resolve(self) -> "UrlPath":
        return self

    def files_below(self) -> Iterator["UrlPath"]:
        """Every file under this directory, sorted, skipping hidden directories (as ``discover``
        does locally: a hidden file such as ``.DS_Store`` is still listed, and reported)."""
        root = self.path.rstrip("/")
        for found in sorted(self.fs.find(root)):
            folders = found[len(root) :].lstrip("/").split("/")[:-1]
            if not any(part.startswith(".") for part in folders):
                yield UrlPath(self.fs.unstrip_protocol(found))

    def __str__(self) -> str:
        return self.url

    def __repr__(self) -> str:
        return f"UrlPath({self.url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, UrlPath) and other.url == self.url

    def __hash__(self) -> int:
        return hash(self.url)


def as_path(raw: str | Path) -> Path | UrlPath:
    """A local ``Path`` or, for ``scheme://`` strings, a ``UrlPath``."""
    return UrlPath(raw) if is_url(raw) else Path(raw)


def local_or_url(target: str | Path) -> Path | str:
    """A ``Path`` for local targets (``file://`` too, to keep atomic renames), else the URL."""
    if isinstance(target, str) and target.startswith("file://"):
        return Path(url_fs(target)[1])
    return target if is_url(target) else Path(target)


def exists(raw: str | Path) -> bool:
    return as_path(raw).exists()


def open_binary(path: Path | UrlPath) -> IO[bytes]:
    """Raw bytes of an input file, wherever it is."""
    return path.open_binary() if isinstance(path, UrlPath) else open(path, "rb")


def upload(local: Path, url_dir: str, name: str) -> None:
    """Copy one finished local file to ``url_dir/name`` (one object: readers never see half of it
    on object stores such as S3; on filesystem-like remotes atomicity is the backend's)."""
    fs, root = url_fs(url_dir)
    fs.makedirs(root, exist_ok=True)
    fs.put_file(str(local), f"{root.rstrip('/')}/{name}")
