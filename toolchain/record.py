"""`--record`: write a parity run's results into the package manifest's `parity` list.

Only manifest.json changes; the artifacts and golden.json keep their bytes, so their checksums stay
valid (they are verified before anything is written). An entry replaces an older one for the same
artifact, runtime and data; unavailable pairs are not recorded (they checked nothing).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from ..converters.package_writer import validate_manifest, write_package
from ..parity.harness import ParityReport
from ..parity.report_text import jsonable
from ..runtime.errors import PackageError
from ..runtime.package import MANIFEST, Package


def entries(report: ParityReport) -> list[dict[str, Any]]:
    out = []
    for r in report.results:
        if r.status == "unavailable":
            continue
        entry = {"artifact": r.artifact, "runtime": r.runtime, "data": r.data, "rows": int(r.rows),
                 "passed": r.passed, "when": report.when, "metrics": jsonable(r.metrics),
                 "profile": r.profile_name, "status": r.status}
        if r.failures:
            entry["failures"] = jsonable(r.failures)
        if r.reason:
            entry["reason"] = r.reason
        out.append(entry)
    return out


def record(report: ParityReport, overridden: bool = False) -> Path:
    """Update the manifest of the package at report.location. Raises PackageError if it cannot be written."""

    location = Path(report.location)
    package = Package.open(location)
    for art in package.artifacts():
        package.artifact_bytes(art)  # refuse to bless a package whose artifacts no longer match
    package.golden()
    manifest = json.loads(json.dumps(package.manifest))
    new = entries(report)
    if overridden:
        for entry, r in zip(new, [x for x in report.results if x.status != "unavailable"]):
            entry["profile"] = jsonable(r.profile)
    keys = {(e["artifact"], e["runtime"], e["data"]) for e in new}
    manifest["parity"] = [e for e in manifest.get("parity", []) if (e["artifact"], e["runtime"], e["data"]) not in keys] + new
    validate_manifest(manifest)
    if location.is_dir():
        fd, tmp = tempfile.mkstemp(prefix=".manifest.", dir=location)
        with os.fdopen(fd, "w") as handle:
            handle.write(json.dumps(manifest, indent=2) + "\n")
        os.replace(tmp, location / MANIFEST)
        return location
    files = {name: package.read_file(name) for name in package.file_names() if name != MANIFEST}
    try:
        return write_package(location, manifest, files)
    except OSError as exc:
        raise PackageError(f"cannot rewrite the package: {exc}", where=str(location)) from exc
