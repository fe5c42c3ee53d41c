"""Publish, promote, retire, list and show: the registry's operations, shared by `edgepack publish`,
`edgepack registry ...` and the Python API. Files go to the store (what devices read); every action is
recorded in the catalog (who, what, when) in the same call."""

from __future__ import annotations

import getpass
import io
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...runtime.errors import PackageError, UsageError
from ...runtime.package import Package, sha256_bytes
from ...runtime.signing import read_signatures
from ..signing import load_private_key, signature_entry, signatures_document
from .catalog import Catalog, utc_now
from .store import Store, archive_path, channel_path, channel_signature_path, checked_name, index_path

POINTER_FORMAT = "edgepack-channel"


def default_actor() -> str:
    """Who acts: $EDGEPACK_ACTOR, else the login name."""
    try:
        return os.environ.get("EDGEPACK_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


def default_catalog(registry: str) -> str:
    """SQLite beside a local registry; a remote registry needs --catalog."""
    if "://" in registry and not registry.startswith("file://"):
        raise UsageError(f"a remote registry ({registry}) needs a shared catalog",
                         fix="pass --catalog postgresql+psycopg://USER@HOST/DB (or sqlite:///PATH)")
    folder = Path(registry.removeprefix("file://"))
    folder.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{folder.resolve() / 'catalog.sqlite'}"


def _archive_bytes(package: Package) -> bytes:
    """The package as one .edgepack archive (a zipped package is taken as it is)."""
    location = Path(package.location)
    if location.is_file():
        return location.read_bytes()
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in package.file_names():
            # A fixed timestamp: the same package always makes the same archive (and the same sha256).
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, package.read_file(name))
    return buffer.getvalue()


def _summary(package: Package) -> tuple[bool | None, dict[str, Any]]:
    """What a reader of the catalog wants to see of a version: its parity results and who signed it."""
    parity = [{"artifact": c.get("artifact"), "runtime": c.get("runtime"), "data": c.get("data"),
               "passed": bool(c.get("passed")), "metrics": c.get("metrics", {})}
              for c in package.manifest.get("parity", []) if "dropped" not in c]
    passed = all(p["passed"] for p in parity) if parity else None
    signers = [str(e.get("key_id")) for e in read_signatures(package)]
    return passed, {"parity": parity, "signed_by": signers, "task": package.task,
                    "artifacts": [a.id for a in package.artifacts()], "drift": None}


@dataclass
class Registry:
    """A registry location (directory or fsspec URL) and its catalog (SQLAlchemy URL)."""

    location: str
    catalog_url: str | None = None

    def __post_init__(self) -> None:
        self.store = Store(self.location)
        self.catalog = Catalog(self.catalog_url or default_catalog(self.location))

    def publish(self, package_path: str | Path, actor: str | None = None) -> dict[str, Any]:
        """Add a package as `model/version`. Publishing the same bytes again is a no-op; the same version
        with other bytes is refused (versions are immutable). Raises PackageError / UsageError."""
        actor = actor or default_actor()
        package = Package.open(package_path)
        package.verify()  # never publish a package that does not match its own manifest
        model = checked_name(package.name, "model name")
        version = checked_name(package.version, "version")
        data = _archive_bytes(package)
        digest = sha256_bytes(data)
        known = self.catalog.version(model, version)
        if known is not None:
            if known["sha256"] == digest:
                return {**known, "status": "already published"}
            raise UsageError(f"{model} version {version} is already published with other contents",
                             where=self.location, fix="build the new package with another --version")
        archive = archive_path(model, digest)
        if not self.store.exists(archive):
            self.store.write(archive, data)
        passed, summary = _summary(package)
        row = {"model": model, "version": version, "sha256": digest, "archive": archive, "size": len(data),
               "published_at": utc_now(), "published_by": actor, "parity_passed": passed, "summary": summary,
               "retired_at": None}
        index = self.store.read_json(index_path(model)) if self.store.exists(index_path(model)) else {
            "model": model, "versions": []}
        index["versions"].append({k: row[k] for k in ("version", "sha256", "archive", "size", "published_at",
                                                      "parity_passed")})
        self.store.write_json(index_path(model), index)
        self.catalog.add_version(row, actor)
        return {**row, "status": "published"}

    def promote(self, model: str, version: str, channel: str, key: Path, actor: str | None = None,
                note: str = "", shadow_records: int = 0) -> dict[str, Any]:
        """Point `channel` at `version`: a pointer file signed with `key` that devices verify. A retired
        or unpublished version cannot be promoted. With `shadow_records`, devices first score that many
        records with both versions and switch only when they agree (runtime/follow.py). Returns the pointer."""
        actor = actor or default_actor()
        checked_name(channel, "channel")
        row = self.catalog.version(model, version)
        if row is None:
            raise UsageError(f"{model} version {version} is not published here", where=self.location,
                             fix="publish it first: edgepack publish PKG REGISTRY")
        if row["retired_at"]:
            raise UsageError(f"{model} version {version} was retired on {row['retired_at']}", where=self.location,
                             fix="promote another version")
        private = load_private_key(key)
        previous = self.catalog.channels_of(model).get(channel, {}).get("version")
        pointer = {"format": POINTER_FORMAT, "model": model, "channel": channel, "version": version,
                   "sha256": row["sha256"], "archive": row["archive"], "size": row["size"],
                   "promoted_at": utc_now(), "promoted_by": actor, "previous": previous,
                   "shadow_records": max(0, int(shadow_records))}
        data = (json.dumps(pointer, indent=2, sort_keys=True) + "\n").encode()
        # The signature first: a device that reads a new pointer before its signature refuses it and
        # keeps its version; the reverse order could pair an old pointer with a new signature the same way.
        self.store.write(channel_signature_path(model, channel), signatures_document([signature_entry(private, data)]))
        self.store.write(channel_path(model, channel), data)
        self.catalog.promote(model, version, channel, actor, note)
        return pointer

    def retire(self, model: str, version: str, actor: str | None = None, note: str = "") -> None:
        """Mark a version retired: never promoted again. Refused while a channel serves it."""
        actor = actor or default_actor()
        if self.catalog.version(model, version) is None:
            raise UsageError(f"{model} version {version} is not published here", where=self.location)
        serving = [c for c, s in self.catalog.channels_of(model).items() if s["version"] == version]
        if serving:
            raise UsageError(f"{model} version {version} is served by channel(s) {', '.join(serving)}",
                             fix="promote another version to those channels first")
        self.catalog.retire(model, version, actor, note)

    def list(self, model: str | None = None) -> list[dict[str, Any]]:
        """Every version (of `model`), each with the channels that serve it."""
        rows = self.catalog.versions(model)
        channels: dict[str, dict[str, dict[str, Any]]] = {}
        for row in rows:
            if row["model"] not in channels:
                channels[row["model"]] = self.catalog.channels_of(row["model"])
            row["channels"] = sorted(c for c, s in channels[row["model"]].items() if s["version"] == row["version"])
        return rows

    def show(self, model: str, version: str | None = None) -> dict[str, Any]:
        """A model's channels and history, or one version's record, channels and history."""
        if version is None:
            return {"model": model, "channels": self.catalog.channels_of(model), "versions": self.list(model),
                    "history": self.catalog.history(model)}
        row = self.catalog.version(model, version)
        if row is None:
            raise UsageError(f"{model} version {version} is not published here", where=self.location)
        row["channels"] = sorted(c for c, s in self.catalog.channels_of(model).items() if s["version"] == version)
        row["history"] = self.catalog.history(model, version)
        return row

    def fetch(self, model: str, version: str, out: Path) -> Path:
        """Download a version's archive to `out`, checking its sha256. Raises PackageError."""
        row = self.catalog.version(model, version)
        if row is None:
            raise UsageError(f"{model} version {version} is not published here", where=self.location)
        if out.exists():
            raise UsageError(f"{out} already exists; edgepack never overwrites a file", fix="choose another path")
        data = self.store.read(row["archive"])
        if sha256_bytes(data) != row["sha256"]:
            raise PackageError(f"the archive of {model} {version} does not match its sha256", where=row["archive"])
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, out)
        return out
