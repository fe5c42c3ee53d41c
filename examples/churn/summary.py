"""The closing table of `make demo`: per artifact of a package, its format, files, bytes (every file),
agreement with the model and the runtime that checked it, from the package's manifest and the parity
report `edgepack parity --json` wrote.

Example:
    python examples/churn/summary.py build/churn/package build/churn/parity.json
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from edgepack.runtime.manifest import artifact_size
from edgepack.runtime.table import render_table


def main(argv: list[str]) -> int:
    package = Path(argv[1])
    manifest = json.loads((package / "manifest.json").read_text())
    report = json.loads(Path(argv[2]).read_text())
    by_artifact: dict[str, list[dict]] = {}
    for r in report["results"]:
        by_artifact.setdefault(r["artifact"], []).append(r)
    rows = []
    for a in manifest["artifacts"]:
        checked = [r for r in by_artifact.get(a["id"], []) if r["status"] in ("pass", "fail", "error")]
        agreement = min((r["metrics"].get("label_agreement", 1.0) for r in checked if r["metrics"]), default=None)
        verdict = ("pass" if checked and all(r["status"] == "pass" for r in checked) else
                   "FAIL" if checked else "not verified here")
        files = len(a.get("files", [])) or 1
        rows.append([a["format"], a["id"], a["file"] + (f" (+{files - 1})" if files > 1 else ""), artifact_size(a),
                     agreement, ", ".join(r["runtime"] for r in checked) or "-", verdict])
    print(render_table(["format", "artifact", "file", "bytes", "agreement", "checked in", "parity"], rows,
                       title=f"{manifest['model']['name']} {manifest['model']['version']}: what `make demo` built "
                             f"({report['data']})"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
