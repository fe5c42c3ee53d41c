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

from .errors import PackageError, quoted
from .manifest import FORMAT_NAME, FORMAT_VERSION, check_manifest
from .onnx_check import check_self_contained

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MANIFEST", "ArtifactInfo", "Package", "check_manifest", "sha256_bytes"]

MANIFEST = "manifest.json"
# A manifest larger than this is refused before it is parsed: JSON costs a Python process several times
# its size in objects, and a device has 256 MiB in all. Real manifests are kilobytes (a feature with
# 50,000 categories and their frequencies is about 2 MiB). Change it with EDGEPACK_MAX_MANIFEST_BYTES or
# Package.open(..., max_manifest_bytes=N).
MAX_MANIFEST_BYTES = 8 << 20
MANIFEST_LIMIT_ENV = "EDGEPACK_MAX_MANIFEST_BYTES"
# The golden vectors are only parsed by the self-test and parity (a build writes 128 rows, tens of KiB);
# loading a scorer checks their sha256 streamed, in 1 MiB chunks, whatever their size.
MAX_GOLDEN_BYTES = 16 << 20
GOLDEN_LIMIT_ENV = "EDGEPACK_MAX_GOLDEN_BYTES"
_CHUNK = 1 << 20
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
        raise PackageError(f"unsafe path {quoted(name)}: absolute paths are refused", where=where,
                           fix="rebuild the package with edgepack build")
    parts = [p for p in name.replace("\\", "/").split("/") if p not in ("", ".")]
    if ".." in parts:
        raise PackageError(f"unsafe path {quoted(name)}: '..' is refused", where=where,
                           fix="rebuild the package with edgepack build")
    return "/".join(parts)


class _DirSource:
    def __init__(self, root: str) -> None:
        self.root = os.path.realpath(root)

    def _path(self, rel: str) -> str:
        """The file's real path: inside the package (symlinks resolved before the check) and present."""
        rel = _safe_relpath(rel, self.root)
        path = os.path.realpath(os.path.join(self.root, rel))
        if os.path.commonpath([self.root, path]) != self.root:
            raise PackageError(f"{quoted(rel)} resolves outside the package (a symlink or path out of it is refused)",
                               where=self.root, fix="copy the real file into the package, or rebuild it")
        if not os.path.isfile(path):
            raise PackageError(f"missing file {quoted(rel)}", where=self.root,
                               fix="the package is incomplete: copy it again or rebuild it")
        return path

    def read(self, rel: str, limit: int | None = None) -> bytes:
        with open(self._path(rel), "rb") as handle:
            data = handle.read() if limit is None else handle.read(limit + 1)
        if limit is not None and len(data) > limit:
            raise _too_large(rel, limit, self.root)
        return data

    def digest(self, rel: str) -> tuple[str, int]:
        """sha256 and size of a file, read in chunks: never the whole file in memory."""
        with open(self._path(rel), "rb") as handle:
            return _hash_chunks(iter(lambda: handle.read(_CHUNK), b""))

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
                raise PackageError(f"entry {quoted(rel)} unpacks to {info.file_size} bytes, over the limit", where=path)
            if info.file_size > (1 << 20) and info.file_size > MAX_RATIO * max(info.compress_size, 1):
                raise PackageError(f"entry {quoted(rel)} has a compression ratio typical of a zip bomb", where=path)
            if rel in self.members:  # readers disagree on which copy wins (Python the last, unzip the first)
                raise PackageError(f"the zip holds two entries named {quoted(rel)}", where=path,
                                   fix="the package was altered: use the .edgepack file written by edgepack build")
            total += info.file_size
            self.members[rel] = info
        if total > MAX_TOTAL_BYTES:
            raise PackageError(f"package unpacks to {total} bytes, over the limit of {MAX_TOTAL_BYTES}", where=path)

    def read(self, rel: str, limit: int | None = None) -> bytes:
        rel = _safe_relpath(rel, self.path)
        info = self.members.get(rel)
        if info is None:
            raise PackageError(f"missing file {quoted(rel)}", where=self.path,
                               fix="the package is incomplete: rebuild it")
        if limit is not None and info.file_size > limit:
            raise _too_large(rel, limit, self.path)
        # Read with a cap: the declared size in the zip header is itself untrusted.
        import zipfile
        import zlib

        try:
            with self.zip.open(info) as handle:
                data = handle.read(info.file_size + 1)
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
            raise PackageError(f"entry {quoted(rel)} is damaged: {exc}", where=self.path,
                               fix="the package was altered or damaged in transit: copy it again from the build") from exc
        if len(data) != info.file_size:
            raise PackageError(f"entry {quoted(rel)} does not match its declared size", where=self.path)
        return data

    def digest(self, rel: str) -> tuple[str, int]:
        """sha256 and size of an entry, inflated in chunks (at most one byte past its declared size)."""
        rel = _safe_relpath(rel, self.path)
        info = self.members.get(rel)
        if info is None:
            raise PackageError(f"missing file {quoted(rel)}", where=self.path, fix="the package is incomplete: rebuild it")
        import zipfile
        import zlib

        try:
            with self.zip.open(info) as handle:
                left = info.file_size + 1
                def pieces() -> Any:
                    nonlocal left
                    while left > 0:
                        piece = handle.read(min(_CHUNK, left))
                        if not piece:
                            return
                        left -= len(piece)
                        yield piece

                digest, size = _hash_chunks(pieces())  # consumed here, while the entry is open
        except (zipfile.BadZipFile, zlib.error, EOFError, OSError, NotImplementedError, ValueError) as exc:
            raise PackageError(f"entry {quoted(rel)} is damaged: {exc}", where=self.path,
                               fix="the package was altered or damaged in transit: copy it again from the build") from exc
        return digest, size

    def names(self) -> list[str]:
        return sorted(self.members)


def _too_large(rel: str, limit: int, where: str) -> PackageError:
    env = MANIFEST_LIMIT_ENV if rel == MANIFEST else GOLDEN_LIMIT_ENV
    return PackageError(f"{quoted(rel)} is larger than the limit of {limit} bytes", where=where,
                        fix=f"raise the limit ({env}=BYTES) if this package is trusted and really that large")


def _limit(env: str, default: int) -> int:
    raw = os.environ.get(env, "").strip()
    if not raw:
        return default
    if not raw.isdigit():
        raise PackageError(f"{env}={quoted(raw)} is not a number of bytes", where=env,
                           fix=f"set it to a whole number, e.g. {default}")
    return int(raw)


def manifest_limit() -> int:
    """The manifest size limit in force: $EDGEPACK_MAX_MANIFEST_BYTES, else MAX_MANIFEST_BYTES."""
    return _limit(MANIFEST_LIMIT_ENV, MAX_MANIFEST_BYTES)


def golden_limit() -> int:
    """The golden vectors' size limit for parsing them: $EDGEPACK_MAX_GOLDEN_BYTES, else MAX_GOLDEN_BYTES."""
    return _limit(GOLDEN_LIMIT_ENV, MAX_GOLDEN_BYTES)


def _hash_chunks(chunks: Any) -> tuple[str, int]:
    """sha256 (hex) and total size of an iterable of byte chunks."""
    builtin = _builtin_sha256()
    if builtin is None:
        import hashlib

        builtin = hashlib.sha256
    hasher = builtin()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


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
    def open(cls, path: str | os.PathLike[str], *, max_manifest_bytes: int | None = None) -> Package:
        """Open a package directory or `.edgepack` file and check its manifest's shape (runtime/manifest.py).
        Raises PackageError when it cannot be trusted. The manifest may be at most `max_manifest_bytes`
        (default: manifest_limit())."""
        location = os.fspath(path)
        if os.path.isdir(location):
            source: _DirSource | _ZipSource = _DirSource(location)
        elif os.path.isfile(location):
            source = _ZipSource(location)
        else:
            raise PackageError(f"no package at {location}", where=location,
                               fix="pass the directory or .edgepack file written by edgepack build")
        raw = source.read(MANIFEST, max_manifest_bytes if max_manifest_bytes is not None else manifest_limit())
        try:
            manifest = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise PackageError(f"manifest.json is not valid JSON: {exc}", where=location,
                               fix="rebuild the package with edgepack build") from exc
        except RecursionError:  # 100,000 nested lists: no manifest field nests more than a few levels
            raise PackageError("manifest.json nests too deeply to be a manifest", where=location,
                               fix="rebuild the package with edgepack build") from None
        check_manifest(manifest, location)
        for name in _manifest_paths(manifest):
            _safe_relpath(name, location)
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
            raise PackageError(f"no artifact {quoted(ident)} in this package", where=self.location,
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
        """The artifact's bytes, after checking size and sha256 against the manifest; an ONNX artifact
        must also be self-contained (runtime/onnx_check.py: no external data), whoever loads it next."""
        data = self._source.read(art.file)
        digest = sha256_bytes(data)
        if digest != art.sha256 or len(data) != art.size:
            raise PackageError(
                f"artifact {quoted(art.file)} failed its checksum (manifest sha256 {art.sha256[:12]}..., file {digest[:12]}...)",
                where=self.location,
                fix="the package was altered or damaged in transit: copy it again from the build",
            )
        if art.format == "onnx":
            check_self_contained(data, f"{self.location}: {art.file}")
        return data

    def verify_file(self, rel: str, sha256: str, *, size: int | None = None, what: str = "") -> bytes:
        """A file's bytes after checking its sha256 (and size, when given) against the manifest's."""
        data = self._source.read(rel)
        if sha256_bytes(data) != sha256 or (size is not None and len(data) != size):
            raise PackageError(f"{what + ' ' if what else ''}{quoted(rel)} failed its checksum", where=self.location,
                               fix="the package was altered or damaged: copy it again from the build")
        return data

    def check_golden(self) -> None:
        """Check golden.json's sha256, streamed (Scorer.load does, before scoring anything): memory stays
        flat whatever its size. Raises PackageError when it is missing, outside the package or altered."""
        entry = self.manifest["golden"]
        digest, _size = self._source.digest(entry["file"])
        if digest != entry["sha256"]:
            raise PackageError(f"golden vectors {quoted(entry['file'])} failed their checksum", where=self.location,
                               fix="the package was altered or damaged: copy it again from the build")

    def golden(self) -> dict[str, Any]:
        """The golden vectors (sample records and the source model's outputs), checksum-verified and parsed
        (at most golden_limit() bytes)."""
        entry = self.manifest["golden"]
        data = self._source.read(entry["file"], golden_limit())
        if sha256_bytes(data) != entry["sha256"]:
            raise PackageError(f"golden vectors {quoted(entry['file'])} failed their checksum", where=self.location,
                               fix="the package was altered or damaged: copy it again from the build")
        try:
            return json.loads(data)
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
            raise PackageError(f"the golden vectors are not valid JSON: {exc}", where=self.location,
                               fix="rebuild the package with edgepack build") from None

    def verify(self) -> list[str]:
        """Check every file the manifest lists (each artifact, its parts, the golden vectors) against its
        sha256 and size, inside the package (no symlink out). Returns the files checked; raises PackageError
        on the first that fails."""
        checked = []
        for art in self.artifacts():
            self.artifact_bytes(art)
            checked.append(art.file)
            for part in art.entry.get("files", []):
                if part["file"] != art.file:
                    self.verify_file(part["file"], part["sha256"], size=part["size"])
                    checked.append(part["file"])
        self.check_golden()
        checked.append(self.manifest["golden"]["file"])
        profile = self.manifest.get("reference_profile")
        if isinstance(profile, dict):  # the drift reference (runtime/profile.py), in packages built since issue 20
            self.verify_file(profile["file"], profile["sha256"], size=profile.get("size"), what="reference profile")
            checked.append(profile["file"])
        return checked


def listed_entries(manifest: Any) -> list[dict[str, Any]]:
    """Every file entry the manifest lists (golden vectors, the reference profile, each artifact and its
    extra files), as the manifest holds them ({file, sha256, size}); entries of an unexpected shape are
    left out. The one list of a package's files: verification, signatures and `build -o` read it."""
    entries: list[dict[str, Any]] = []

    def add(entry: Any) -> None:
        if isinstance(entry, dict) and isinstance(entry.get("file"), str):
            entries.append(entry)

    if not isinstance(manifest, dict):
        return entries
    add(manifest.get("golden"))
    add(manifest.get("reference_profile"))
    for art in manifest.get("artifacts") or []:
        add(art)
        for part in (art.get("files") or []) if isinstance(art, dict) else []:
            add(part)
    return entries


def _manifest_paths(manifest: dict[str, Any]) -> list[str]:
    """Every path the manifest names inside the package (files, and Core ML bundle folders)."""
    names = [e["file"] for e in listed_entries(manifest)]
    names += [art["bundle"] for art in manifest["artifacts"] if isinstance(art.get("bundle"), str)]
    return names
