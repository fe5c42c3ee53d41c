"""Write a package: files, checksums and the manifest, as a directory or a single `.edgepack` zip."""

from __future__ import annotations

import json
import shutil
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from ..runtime.package import MANIFEST, sha256_bytes

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


def write_package(out: Path, manifest: dict[str, Any], files: dict[str, bytes]) -> Path:
    """Write `files` and `manifest` to `out`: a directory, or a zip when `out` ends in `.edgepack`.

    Written to a temporary sibling first and renamed, so an interrupted build leaves no half package.
    """
    validate_manifest(manifest)
    payload = dict(files)
    payload[MANIFEST] = (json.dumps(manifest, indent=2, sort_keys=False) + "\n").encode()
    out.parent.mkdir(parents=True, exist_ok=True)
    if out.suffix == ".edgepack":
        tmp = out.with_name(out.name + ".tmp")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(payload):
                zf.writestr(name, payload[name])
        tmp.replace(out)
        return out
    tmpdir = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    for name, data in payload.items():
        target = tmpdir / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    tmpdir.replace(out)
    return out


def zip_directory(directory: Path, out: Path) -> Path:
    """The single-file form of a package directory."""
    files = {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}
    manifest = json.loads(files.pop(MANIFEST))
    return write_package(out, manifest, files)
