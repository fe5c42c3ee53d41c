"""Read an edge package (a directory, or the same directory zipped into one `.edgepack` file) as
untrusted input: bounded unzip, no path escapes, known format version, checksums verified on use.

The device reads only `manifest.json`, `golden.json` and artifacts; it never unpickles anything.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import zipfile

# Paths are plain strings (os.path), not pathlib: importing pathlib costs a device 0.7 MiB at start-up.

from .errors import PackageError

FORMAT_NAME = "edgepack"
FORMAT_VERSION = 1
# Version 2: tensor packages (named tensor inputs: images, sequences; docs/package-format.md). Tabular
# packages stay version 1, so every runtime released before version 2 keeps reading them.
TENSOR_FORMAT_VERSION = 2
READABLE_VERSIONS = (FORMAT_VERSION, TENSOR_FORMAT_VERSION)
MANIFEST = "manifest.json"
# Bounds for a zipped package: generous for real models, fatal for zip bombs.
MAX_MEMBER_BYTES = 1 << 30
MAX_TOTAL_BYTES = 2 << 30
MAX_MEMBERS = 10_000
MAX_RATIO = 200  # uncompressed / compressed, for members above 1 MiB


@dataclass(frozen=True)
class ArtifactInfo:
    """One artifact entry of the manifest."""

    id: str
    format: str
    file: str
    sha256: str
    size: int
    precision: str
    entry: dict[str, Any]


def _safe_relpath(name: str, where: str) -> str:
    """Refuse absolute paths, drive letters and `..` so that nothing resolves outside the package."""
    if not name or name.startswith(("/", "\\")) or (len(name) > 1 and name[1] == ":"):
        raise PackageError(f"unsafe path {name!r}: absolute paths are refused", where=where,
                           fix="rebuild the package with edgepack build")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PackageError(f"unsafe path {name!r}: '..' is refused", where=where,
                           fix="rebuild the package with edgepack build")
    return "/".join(parts)


class _DirSource:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def read(self, rel: str) -> bytes:
        rel = _safe_relpath(rel, self.root)
        path = os.path.realpath(os.path.join(self.root, rel))  # symlinks resolved before the check
        if os.path.commonpath([self.root, path]) != self.root:
            raise PackageError(f"{rel!r} resolves outside the package", where=self.root)
        if not os.path.isfile(path):
            raise PackageError(f"missing file {rel!r}", where=self.root,
                               fix="the package is incomplete: copy it again or rebuild it")
        with open(path, "rb") as handle:
            return handle.read()

    def names(self) -> list[str]:
        return sorted(os.path.relpath(os.path.join(folder, f), self.root)
                      for folder, _, files in os.walk(self.root) for f in files
                      if os.path.isfile(os.path.join(folder, f)))


class _ZipSource:
    def __init__(self, path: str) -> None:
        import zipfile  # imported here: only zipped packages pay for it

        self.path = path
        try:
            self.zip = zipfile.ZipFile(path)
        except (zipfile.BadZipFile, OSError) as exc:
            raise PackageError(f"not a readable .edgepack file: {exc}", where=path,
                               fix="pass a package directory or a .edgepack file written by edgepack build") from exc
        infos = self.zip.infolist()
        if len(infos) > MAX_MEMBERS:
            raise PackageError(f"{len(infos)} entries exceed the limit of {MAX_MEMBERS}", where=path)
        total = 0
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            rel = _safe_relpath(info.filename, path)
            if info.is_dir():
                continue
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackageError(f"entry {rel!r} unpacks to {info.file_size} bytes, over the limit", where=path)
            if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise PackageError(f"entry {rel!r} has a compression ratio typical of a zip bomb", where=path)
            total += info.file_size
            self.members[rel] = info
        if total > MAX_TOTAL_BYTES:
            raise PackageError(f"package unpacks to {total} bytes, over the limit of {MAX_TOTAL_BYTES}", where=path)

    def read(self, rel: str) -> bytes:
        rel = _safe_relpath(rel, self.path)
        info = self.members.get(rel)
        if info is None:
            raise PackageError(f"missing file {rel!r}", where=self.path,
                               fix="the package is incomplete: rebuild it")
        # Read with a cap: the declared size in the zip header is itself untrusted.
        import zipfile
        import zlib

        try:
            with self.zip.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
            raise PackageError(f"entry {rel!r} is damaged: {exc}", where=self.path,
                               fix="the package was altered or damaged in transit: copy it again from the build") from exc
        if len(data) != info.file_size:
            raise PackageError(f"entry {rel!r} does not match its declared size", where=self.path)
        return data

    def names(self) -> list[str]:
        return sorted(self.members)


# Small files are hashed with Python's built-in sha256: importing hashlib loads OpenSSL, several MiB of
# a device's memory at start-up. Large files take OpenSSL's faster code.
_LARGE = 4 << 20


def sha256_bytes(data: bytes) -> str:
    if len(data) < _LARGE:
        builtin = _builtin_sha256()
        if builtin is not None:
            return builtin(data).hexdigest()
    import hashlib

    return hashlib.sha256(data).hexdigest()


def _builtin_sha256() -> Any:
    for name in ("_sha2", "_sha256"):  # Python >= 3.12, then 3.10-3.11
        try:
            return __import__(name).sha256
        except (ImportError, AttributeError):
            continue
    return None


class Package:
    """An opened edge package. `Package.open(path)` checks the format; `artifact_bytes` checks sha256."""

    def __init__(self, location: str, source: _DirSource | _ZipSource, manifest: dict[str, Any]) -> None:
        self.location = location
        self._source = source
        self.manifest = manifest

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> Package:
        """Open a package directory or `.edgepack` file. Raises PackageError when it cannot be trusted."""
        location = os.fspath(path)
        if os.path.isdir(location):
            source: _DirSource | _ZipSource = _DirSource(location)
        elif os.path.isfile(location):
            source = _ZipSource(location)
        else:
            raise PackageError(f"no package at {location}", where=location,
                               fix="pass the directory or .edgepack file written by edgepack build")
        raw = source.read(MANIFEST)
        try:
            manifest = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackageError(f"manifest.json is not valid JSON: {exc}", where=location) from exc
        check_manifest(manifest, location)
        return cls(location, source, manifest)

    # -- the manifest, in the user's words ---------------------------------------------------------
    @property
    def name(self) -> str:
        return str(self.manifest["model"]["name"])

    @property
    def version(self) -> str:
        return str(self.manifest["model"]["version"])

    @property
    def task(self) -> str:
        return str(self.manifest["model"]["task"])

    def artifacts(self) -> list[ArtifactInfo]:
        return [
            ArtifactInfo(a["id"], a["format"], a["file"], a["sha256"], int(a["size"]), a.get("precision", "float32"), a)
            for a in self.manifest["artifacts"]
        ]

    def artifact(self, ident: str | None = None, *, format: str = "onnx") -> ArtifactInfo:
        """The artifact with id `ident`, or the default artifact of `format`."""
        candidates = self.artifacts()
        if ident is not None:
            for art in candidates:
                if art.id == ident:
                    return art
            known = ", ".join(a.id for a in candidates)
            raise PackageError(f"no artifact {ident!r} in this package", where=self.location,
                               fix=f"choose one of: {known}")
        of_format = [a for a in candidates if a.format == format]
        if not of_format:
            raise PackageError(f"the package has no {format} artifact", where=self.location,
                               fix="rebuild it with that target")
        defaults = [a for a in of_format if a.entry.get("default")]
        return (defaults or of_format)[0]

    def read_file(self, rel: str) -> bytes:
        return self._source.read(rel)

    def file_names(self) -> list[str]:
        return self._source.names()

    def artifact_bytes(self, art: ArtifactInfo) -> bytes:
        """The artifact's bytes, after checking size and sha256 against the manifest."""
        data = self._source.read(art.file)
        digest = sha256_bytes(data)
        if digest != art.sha256 or len(data) != art.size:
            raise PackageError(
                f"artifact {art.file!r} failed its checksum (manifest sha256 {art.sha256[:12]}..., file {digest[:12]}...)",
                where=self.location,
                fix="the package was altered or damaged in transit: copy it again from the build",
            )
        return data

    def verify_file(self, rel: str, sha256: str) -> bytes:
        data = self._source.read(rel)
        if sha256_bytes(data) != sha256:
            raise PackageError(f"{rel!r} failed its checksum", where=self.location,
                               fix="the package was altered or damaged: copy it again from the build")
        return data

    def golden(self) -> dict[str, Any]:
        """The golden vectors (sample records and the source model's outputs), checksum-verified."""
        entry = self.manifest["golden"]
        return json.loads(self.verify_file(entry["file"], entry["sha256"]))


def check_manifest(manifest: Any, where: str) -> None:
    """The structural checks a device can afford without jsonschema (the full schema is checked at build)."""
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT_NAME:
        raise PackageError("manifest.json is not an edgepack manifest", where=where)
    version = manifest.get("format_version")
    if version not in READABLE_VERSIONS:
        raise PackageError(
            f"unknown package format version {version!r}; this runtime reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))}",
            where=where,
            fix="upgrade edgepack on this device, or rebuild the package with a matching edgepack",
        )
    for key in ("model", "source", "inputs", "outputs", "artifacts", "golden"):
        if key not in manifest:
            raise PackageError(f"manifest.json lacks {key!r}", where=where, fix="rebuild the package")
    wanted = "tensors" if version == TENSOR_FORMAT_VERSION else "features"
    if not isinstance(manifest["inputs"], dict) or wanted not in manifest["inputs"]:
        raise PackageError(f"a format version {version} manifest lacks inputs.{wanted}", where=where,
                           fix="rebuild the package")
    for entry in manifest["artifacts"]:
        for key in ("id", "format", "file", "sha256", "size"):
            if key not in entry:
                raise PackageError(f"artifact entry lacks {key!r}", where=where, fix="rebuild the package")
        _safe_relpath(entry["file"], where)
