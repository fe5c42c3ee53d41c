"""Run `edgepack-score` as a process, the way a device or an agent runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

SCORER = [sys.executable, "-m", "edgepack.runtime"]


def run_scorer(args: list[str], stdin: bytes | str = b"", env: dict[str, str] | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([*SCORER, *map(str, args)], input=data, capture_output=True, timeout=timeout, env=full_env)


def jsonl(records: list[Any]) -> str:
    return "".join(json.dumps(r) + "\n" for r in records)


def read_lines(data: bytes | str | Path) -> list[dict[str, Any]]:
    if isinstance(data, Path):
        data = data.read_bytes()
    text = data.decode() if isinstance(data, bytes) else data
    return [json.loads(line) for line in text.splitlines() if line.strip().startswith("{")]
