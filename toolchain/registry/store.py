"""The registry's files, through fsspec: a local directory, or any URL fsspec reaches (s3://, gs://, and
http(s):// for reads), so a static web server or an object store is the registry.

    REGISTRY/models/<model>/archives/<sha256>.edgepack    each published version, content-addressed
    REGISTRY/models/<model>/index.json                    every version: number, sha256, size, when, parity
    REGISTRY/models/<model>/channels/<channel>.json       the version a channel points at (what devices read)
    REGISTRY/models/<model>/channels/<channel>.sig.json   Ed25519 signatures of that pointer

Devices need only the last three kinds of file and plain HTTP or a file path (runtime/ has no fsspec).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from ...runtime.errors import UsageError

NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")


def checked_name(value: str, what: str) -> str:
    """Model names, versions and channels become path parts: letters, digits, `.`, `_`, `-` only."""
    if not NAME.match(value) or value in (".", ".."):
        raise UsageError(f"{what} {value!r} cannot name a registry entry", fix="use letters, digits, '.', '_' and '-'")
    return value


@dataclass(frozen=True)
class Store:
    """Bytes in and out of the registry location (a directory path or an fsspec URL)."""

    url: str

    def _fs(self) -> tuple[Any, str]:
        import fsspec

        fs, root = fsspec.core.url_to_fs(self.url)
        return fs, root.rstrip("/")

    def path(self, rel: str) -> str:
        return f"{self._fs()[1]}/{rel}"

    def read(self, rel: str) -> bytes:
        fs, root = self._fs()
        with fs.open(f"{root}/{rel}", "rb") as handle:
            return bytes(handle.read())

    def exists(self, rel: str) -> bool:
        fs, root = self._fs()
        return bool(fs.exists(f"{root}/{rel}"))

    def write(self, rel: str, data: bytes) -> None:
        """Whole-file write: to a temporary name first where the filesystem can rename (local files),
        so a reader never sees half a file."""
        fs, root = self._fs()
        target = f"{root}/{rel}"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        protocols = fs.protocol if isinstance(fs.protocol, tuple) else (fs.protocol,)
        if "file" in protocols:
            tmp = f"{target}.tmp"
            with fs.open(tmp, "wb") as handle:
                handle.write(data)
            fs.mv(tmp, target)
        else:
            with fs.open(target, "wb") as handle:
                handle.write(data)

    def read_json(self, rel: str) -> Any:
        return json.loads(self.read(rel))

    def write_json(self, rel: str, value: Any) -> None:
        self.write(rel, (json.dumps(value, indent=2, sort_keys=True) + "\n").encode())


def archive_path(model: str, sha256: str) -> str:
    return f"models/{model}/archives/{sha256}.edgepack"


def index_path(model: str) -> str:
    return f"models/{model}/index.json"


def channel_path(model: str, channel: str) -> str:
    return f"models/{model}/channels/{channel}.json"


def channel_signature_path(model: str, channel: str) -> str:
    return f"models/{model}/channels/{channel}.sig.json"
