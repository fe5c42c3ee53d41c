"""Run `edgepack-score` as a device does (a process fed on stdin) and read what it says."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import Any

SCORER = [sys.executable, "-m", "edgepack.runtime"]


def run_scorer(args: list[Any], stdin: bytes | str = b"", timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([*SCORER, *map(str, args)], input=data, capture_output=True, timeout=timeout,
                          env=dict(os.environ))


def json_lines(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in data.decode().splitlines() if line.startswith("{")]


def assert_clean_failure(result: subprocess.CompletedProcess[bytes]) -> None:
    """No traceback, and every stderr line is an error line or the scorer's one-line messages."""
    err = result.stderr.decode("utf-8", "replace")
    assert "Traceback" not in err, err
    for line in err.splitlines():
        assert line.startswith(("{", "edgepack-score", "  how to fix")), line
