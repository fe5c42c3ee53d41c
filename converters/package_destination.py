"""Where a package may be written (`edgepack build -o OUT`), and how it replaces an earlier package there
without touching anything else in the folder.

| OUT                                          | without --force                       | with --force                    |
|----------------------------------------------|---------------------------------------|---------------------------------|
| missing                                      | created                               | created                         |
| an empty folder                              | written into                          | written into                    |
| a folder holding an edgepack package         | the package's own files replaced; other files untouched (refused if a new package file would replace one of them) | same, other same-named files replaced |
| a folder holding other files (`-o .` too)    | refused (exit 2)                      | written beside them; files with the package's names replaced |
| a file, when a folder is wanted              | refused                               | refused                         |
| FILE.edgepack: missing or an edgepack zip    | written (atomically replaced)         | same                            |
| FILE.edgepack: any other file                | refused                               | replaced                        |

A package's own files are those its manifest lists (manifest.json, golden vectors, artifact files) whose
content still has the listed sha256: a file the manifest names but whose bytes differ is not the
package's, and is never deleted. Nothing is ever removed recursively.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from ..runtime.errors import UsageError
from ..runtime.package import MANIFEST, listed_entries, sha256_bytes

MAX_MANIFEST_BYTES = 64 << 20  # an earlier manifest larger than this is not read (and not taken for a package)
_FIX = "choose an empty or new folder for -o, or pass --force to write the package beside the files there"


@dataclass(frozen=True)
class Destination:
    """What `plan` found at OUT. kind: new | zip | empty | package | forced."""

    path: Path
    kind: str
    own: frozenset[str] = field(default_factory=frozenset)  # the earlier package's own files (relative)
    others: frozenset[str] = field(default_factory=frozenset)  # every other file in the folder (relative)


def plan(out: Path, force: bool = False, new_files: frozenset[str] | None = None) -> Destination:
    """Decide how to write a package at `out` (see the module docstring). Raises UsageError when writing
    there would replace or remove a file that is not the earlier package's. `new_files`, when known, are
    the relative names the new package will write."""
    if out.suffix == ".edgepack":
        return _plan_zip(out, force)
    if not os.path.lexists(out):
        return Destination(out, "new")
    if not out.is_dir():
        raise UsageError(f"-o {out} is a file, not a folder", where=str(out),
                         fix="choose another -o (or end it in .edgepack for the single-file form)")
    files = _files_under(out)
    if not files:
        return Destination(out, "empty")
    own = _own_files(out)
    others = frozenset(files) - own
    if not own and not force:
        shown = ", ".join(sorted(files)[:5]) + (", ..." if len(files) > 5 else "")
        raise UsageError(f"-o {out} is not empty and holds no edgepack package ({shown}); building there "
                         "would mix the package with these files", where=str(out), fix=_FIX)
    in_the_way = sorted(others & (new_files or frozenset()))
    if in_the_way and not force:
        raise UsageError(f"-o {out} holds an edgepack package, and also {', '.join(in_the_way)}, which the new "
                         "package would replace but which is not the earlier package's (its checksum differs, or "
                         "the earlier manifest does not list it)", where=str(out),
                         fix="move those files away, or pass --force to replace them")
    return Destination(out, "package" if own else "forced", own, others)


def _plan_zip(out: Path, force: bool) -> Destination:
    if not os.path.lexists(out):
        return Destination(out, "new")
    if out.is_dir() or not out.is_file():
        raise UsageError(f"-o {out} is a folder (or not a regular file); the .edgepack form is one file",
                         where=str(out), fix="choose another -o")
    if not force and not _is_package_zip(out):
        raise UsageError(f"-o {out} exists and is not an edgepack package", where=str(out),
                         fix="choose another -o, or pass --force to replace that file")
    return Destination(out, "zip")


def _read_manifest(data: bytes) -> dict[str, Any] | None:
    try:
        manifest = json.loads(data)
    except (ValueError, RecursionError):  # not JSON, not UTF-8, or nested beyond reason
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == "edgepack" else None


def _is_package_zip(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo(MANIFEST)
            return info.file_size <= MAX_MANIFEST_BYTES and _read_manifest(zf.read(info)) is not None
    except (OSError, KeyError, zipfile.BadZipFile, RuntimeError, ValueError):
        return False


def _listed(manifest: dict[str, Any]) -> dict[str, str]:
    """relative name -> sha256 of every file the manifest lists (entries of unexpected shape are skipped)."""
    return {e["file"]: e["sha256"] for e in listed_entries(manifest) if isinstance(e.get("sha256"), str)}


def _inside(name: str) -> bool:
    """A plain relative path that stays inside the folder (no absolute path, no `..`)."""
    parts = PurePosixPath(name).parts
    return bool(parts) and not name.startswith("/") and "\\" not in name and ".." not in parts


def _own_files(folder: Path) -> frozenset[str]:
    """The files of the package in `folder` whose content matches its manifest (empty: no package there)."""
    manifest_path = folder / MANIFEST
    try:
        if not manifest_path.is_file() or manifest_path.is_symlink() or manifest_path.stat().st_size > MAX_MANIFEST_BYTES:
            return frozenset()
        manifest = _read_manifest(manifest_path.read_bytes())
    except OSError:
        return frozenset()
    if manifest is None:
        return frozenset()
    own = {MANIFEST}
    for name, sha in _listed(manifest).items():
        path = folder / name
        if not _inside(name) or path.is_symlink() or not path.is_file():
            continue
        try:
            if sha256_bytes(path.read_bytes()) == sha:
                own.add(str(PurePosixPath(name)))
        except OSError:
            continue
    return frozenset(own)


def _files_under(folder: Path) -> list[str]:
    """Every entry below `folder` that is not a folder (links included), relative, with '/'."""
    found = []
    for root, dirs, files in os.walk(folder):
        rel = Path(root).relative_to(folder)
        for name in files + [d for d in dirs if (Path(root) / d).is_symlink()]:
            found.append((rel / name).as_posix())
    return found
