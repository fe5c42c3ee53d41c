"""The outputs the docs show are what the code prints (issue 19 item 7): docs/tools/outputs.py --check
reruns every command behind an `<!-- output: ... -->` block (help texts, the Python API walk-through
of docs/python-api.md) and fails naming each block that differs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_every_output_block_is_what_the_code_prints():
    done = subprocess.run([sys.executable, str(ROOT / "docs/tools/outputs.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_walkthrough_block_is_there_and_passes():
    text = (ROOT / "docs/python-api.md").read_text()
    assert "<!-- output: python examples/python_api/walkthrough.py -->" in text
    for line in ("build passed: True", "parity passed: True", "same as scikit-learn: True"):
        assert line in text


def test_the_readme_shows_what_the_churn_example_prints():
    text = (ROOT / "README.md").read_text()
    assert "<!-- output: README churn -->" in text
    for line in ("$ edgepack-score selftest package", "edgepack-score: 3 scored, 0 rejected", "PASS"):
        assert line in text
