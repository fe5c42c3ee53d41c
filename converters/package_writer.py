"""Write a package: files, checksums and the manifest, as a directory or a single `.edgepack` zip."""

from __future__ import annotations

import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..runtime.package import MANIFEST, sha256_bytes
from . import package_destination as destination

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "runtime" / "manifest.schema.json"


def schema_path() -> Path:
    """The committed manifest JSON Schema (installed beside edgepack.runtime)."""
    from importlib import resources

    try:
        return Path(str(resources.files("edgepack.runtime") / "manifest.schema.json"))
    except (ModuleNotFoundError, FileNotFoundError):
        return SCHEMA_PATH


def validate_manifest(manifest: dict[str, Any]) -> None:
    """Validate against the committed JSON Schema. Raises jsonschema.ValidationError."""
    import jsonschema

    schema = json.loads(schema_path().read_text())
    jsonschema.validate(manifest, schema, format_checker=jsonschema.FormatChecker())


def file_record(data: bytes) -> dict[str, Any]:
    return {"sha256": sha256_bytes(data), "size": len(data)}


def write_package(out: Path, manifest: dict[str, Any], files: dict[str, bytes], force: bool = False) -> Path:
    """Write `files` and `manifest` to `out`: a directory, or a zip when `out` ends in `.edgepack`.

    What may be at `out` already, and what happens to it: converters/package_destination.py (an earlier
    package is replaced, anything else is refused unless `force`; nothing else is ever removed). Raises
    UsageError when `out` is refused. A new folder or zip is written aside and renamed into place; an earlier
    package folder is swapped atomically when it holds nothing else, else its files are replaced one by one
    with the manifest last (a reader in between sees a checksum mismatch and refuses the package).
    """
    validate_manifest(manifest)
    payload = dict(files)
    payload[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
    dest = destination.plan(out, force, frozenset(payload))
    out.parent.mkdir(parents=True, exist_ok=True)
    if dest.kind == "zip" or (dest.kind == "new" and out.suffix == ".edgepack"):
        fd, tmp_name = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent)  # a name no one has
        with os.fdopen(fd, "wb") as handle, zipfile.ZipFile(handle, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(payload):
                zf.writestr(name, payload[name])
        os.chmod(tmp_name, 0o666 & ~_umask())
        os.replace(tmp_name, out)
        return out
    if dest.kind == "new":
        tmpdir = _written_aside(out, payload)
        tmpdir.replace(out)
        return out
    if dest.kind == "package" and not dest.others and _may_swap(out):
        tmpdir = _written_aside(out, payload)
        if _exchange(tmpdir, out):  # tmpdir now holds the earlier package: remove its own files only
            _remove_files(tmpdir, dest.own)
            for folder, _, _ in sorted(os.walk(tmpdir), reverse=True):  # and the folders it leaves empty
                _prune(Path(folder), tmpdir.parent)
            return out
        _remove_files(tmpdir, frozenset(payload))
        _prune(tmpdir, tmpdir.parent)
    _write_in_place(out, payload, dest.own)
    return out


def _written_aside(out: Path, payload: dict[str, bytes]) -> Path:
    """A hidden sibling folder of `out` holding the package, with the mode a plain mkdir would give."""
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    os.chmod(tmpdir, 0o777 & ~_umask())
    _write_files(tmpdir, payload)
    return tmpdir


def _umask() -> int:
    """The process's umask (mkstemp and mkdtemp create private files; a package is as readable as any file)."""
    umask = os.umask(0)
    os.umask(umask)
    return umask


def _write_files(folder: Path, payload: dict[str, bytes]) -> None:
    for name, data in payload.items():
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def _may_swap(out: Path) -> bool:
    """Swap the whole folder only when it is a plain folder that is not the working directory (nor holds it):
    a shell sitting in it would be left in the old, removed folder."""
    if out.is_symlink():
        return False
    cwd, real = Path.cwd().resolve(), out.resolve()
    return cwd != real and real not in cwd.parents


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE). False where that is not available."""
    import ctypes  # deferred: only a rebuild over an earlier package needs it

    try:
        renameat2 = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    return renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0


def _write_in_place(out: Path, payload: dict[str, bytes], earlier: frozenset[str]) -> None:
    """Write the package into the existing folder `out`: staged in a hidden folder inside it (same filesystem),
    renamed into place one by one with the manifest last, then the earlier package's files that the new one
    does not have are removed. Files that are neither the earlier package's nor the new one's stay."""
    staging = Path(tempfile.mkdtemp(prefix=".edgepack-new.", dir=out))
    try:
        _write_files(staging, payload)
        for name in sorted(payload, key=lambda n: n == MANIFEST):
            target = out / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(staging / name, target)
        _remove_files(out, earlier - frozenset(payload))
    finally:
        _remove_files(staging, frozenset(payload))
        _prune(staging, out)


def _remove_files(folder: Path, names: frozenset[str]) -> None:
    """Remove the named files (never a folder, never recursively) and the folders they leave empty."""
    for name in sorted(names):
        path = folder / name
        if path.is_symlink() or path.is_file():
            path.unlink()
            _prune(path.parent, folder)


def _prune(folder: Path, stop: Path) -> None:
    """Remove `folder` and its parents up to (not including) `stop` while they are empty."""
    while folder != stop and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return
        folder = folder.parent


def zip_directory(directory: Path, out: Path) -> Path:
    """The single-file form of a package directory."""
    files = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    manifest = json.loads(files.pop(MANIFEST))
    return write_package(out, manifest, files)
