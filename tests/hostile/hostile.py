"""Helpers for the hostile-package tests: copy a built package, change its manifest or files, and run it
through every consumer (the Python API, `edgepack inspect`, `edgepack-score` and its selftest), collecting
(exit code, stderr) so that a test can say: documented exit code, one-line reason, never a traceback."""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from edgepack.runtime import EdgepackError, Scorer
from edgepack.runtime.errors import EXIT_PACKAGE

SCORER = [sys.executable, "-m", "edgepack.runtime"]


def copy_package(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def read_manifest(package: Path) -> dict[str, Any]:
    return json.loads((package / "manifest.json").read_text())


def write_manifest(package: Path, manifest: Any) -> None:
    (package / "manifest.json").write_text(json.dumps(manifest))


@dataclass
class Outcome:
    code: int
    stderr: str

    def reason_line(self) -> str:
        """The first line of stderr: the reason, in one line."""
        return self.stderr.splitlines()[0] if self.stderr else ""


def api(package: Path) -> Outcome:
    """Scorer.load and selftest in this process: 0/1, or the exit code of the EdgepackError raised.
    Any other exception propagates: the test fails with it."""
    try:
        scorer = Scorer.load(package)
        result = scorer.selftest()
    except EdgepackError as err:
        return Outcome(err.exit_code, str(err))
    return Outcome(0 if result.passed else 1, "")


def in_process(main: Any, argv: list[str]) -> Outcome:
    """A CLI's main() in this process, its stderr captured; stdout discarded."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = main(argv)
    return Outcome(code, err.getvalue())


def inspect(package: Path, *options: str) -> Outcome:
    from edgepack.toolchain.cli import main

    return in_process(main, ["inspect", str(package), *options])


def selftest(package: Path) -> Outcome:
    from edgepack.runtime.cli import main

    return in_process(main, ["selftest", str(package)])


def score(package: Path, stdin: bytes = b"", env: dict[str, str] | None = None) -> Outcome:
    """`edgepack-score PACKAGE` as a process (the device's way)."""
    proc = subprocess.run([*SCORER, str(package)], input=stdin, capture_output=True, timeout=120,
                          env={**os.environ, **(env or {})})
    return Outcome(proc.returncode, proc.stderr.decode("utf-8", "replace"))


def assert_refused(outcome: Outcome, prefix: str, words: str = "") -> None:
    """Exit 4, a reason on the first line that starts with the command's `error:` prefix, no traceback."""
    assert outcome.code == EXIT_PACKAGE, outcome
    assert "Traceback" not in outcome.stderr, outcome.stderr
    line = outcome.reason_line()
    assert line.startswith(prefix), outcome.stderr
    assert words.lower() in outcome.stderr.lower(), (words, outcome.stderr)
