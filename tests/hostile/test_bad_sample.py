"""A sample the model cannot use is unusable data: exit 6 with the column and row that mixes text into
numbers, never exit 1 or a traceback (issue 15: "A sample with strings in a numeric column exits 1")."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import zoo
from edgepack.runtime.errors import EXIT_DATA


def test_text_in_a_numeric_column_of_the_sample_exits_6_naming_the_cell(tmp_path: Path):
    model = zoo.get("gradient_boosting_clf")
    model_path, sample_path = zoo.save(model, tmp_path / "m")
    rows = list(csv.reader(sample_path.open()))
    column = next(name for name in rows[0] if name != model.label and
                  str(model.sample[name].dtype).startswith(("float", "int")))
    rows[5][rows[0].index(column)] = "lots"
    bad = tmp_path / "bad.csv"
    with bad.open("w", newline="") as handle:
        csv.writer(handle).writerows(rows)
    done = subprocess.run([sys.executable, "-m", "edgepack.toolchain.cli", "build", str(model_path), "--sample", str(bad),
                           "--label-column", model.label, "-o", str(tmp_path / "out")], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == EXIT_DATA, done.stderr
    assert f"column {column!r}, row 5: 'lots'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()
