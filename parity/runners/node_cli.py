"""What the Node-based runners share: where web/ is, running its CLIs on JSON lines, and reading their
output lines back into raw arrays in the package's class order.

web/bin/browser-score.mjs writes one line per record: {"label", "probabilities": {"<class>": p}} or
{"value": v}, or {"error": {"line", "field", "reason"}}. web/bin/score.mjs writes edgepack-score's lines:
predictions on stdout, {"line", "field", "reason"} per rejected record on stderr (exit 3).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import EdgepackError, PackageError

WEB_DIR = Path(__file__).resolve().parents[2] / "web"
NODE = os.environ.get("EDGEPACK_NODE", "node")
# Seconds a Node CLI may take for one batch (starting a runtime, or a browser, included).
TIMEOUT = 300


def node_availability(*needs: str) -> str | None:
    """None when node and web/'s npm packages (`needs`, under node_modules/) are here, else why not."""
    if shutil.which(NODE) is None:
        return "node is not installed"
    for name in needs:
        if not (WEB_DIR / "node_modules" / name).is_dir():
            return f"web/node_modules/{name} is missing (run `make web`)"
    return None


def npm_version(name: str) -> str:
    try:
        return json.loads((WEB_DIR / "node_modules" / name / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def web_version() -> str:
    """edgepack-web's own version (web/package.json)."""
    try:
        return json.loads((WEB_DIR / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "unknown"


def class_key(value: Any) -> str:
    """The key a class has in the probabilities objects: Python's str(), as the scorers write it."""
    return str(value)


def run_jsonl(command: list[str], records: list[dict[str, Any]], what: str) -> list[dict[str, Any]]:
    """Run a CLI with records as JSON lines on stdin; its output lines, one per record.
    Raises PackageError when it refuses the package, EdgepackError when a record is rejected or it fails."""
    stdin = "".join(json.dumps(r, allow_nan=True) + "\n" for r in records)
    proc = subprocess.run(command, input=stdin, capture_output=True, text=True, timeout=TIMEOUT, cwd=WEB_DIR)
    if proc.returncode == 4:
        raise PackageError(f"{what} refused the package: {proc.stderr.strip()}")
    if proc.returncode not in (0, 3):
        raise EdgepackError(f"{what} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    for text in proc.stderr.splitlines() if proc.returncode == 3 else ():
        if text.startswith('{"line":'):  # score.mjs: the rejected record's line, as edgepack-score writes it
            err = json.loads(text)
            raise EdgepackError(f"{what} rejected record {err['line']}: {err['reason']}", where=f"field {err['field']!r}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    if len(lines) != len(records):
        raise EdgepackError(f"{what} wrote {len(lines)} lines for {len(records)} records")
    for line in lines:
        if "error" in line:
            err = line["error"]
            raise EdgepackError(f"{what} rejected record {err['line']}: {err['reason']}", where=f"field {err['field']!r}")
    return lines


def raw_outputs(lines: list[dict[str, Any]], classes: list[Any]) -> dict[str, np.ndarray]:
    """Output lines -> {"probabilities": [N, C]} in `classes` order, or {"value": [N]}."""
    if lines and "value" in lines[0]:
        return {"value": np.array([line["value"] for line in lines], dtype=np.float64)}
    keys = [class_key(c) for c in classes]
    probs = np.array([[line["probabilities"][k] for k in keys] for line in lines], dtype=np.float64)
    return {"probabilities": probs.reshape(len(lines), len(keys))}
