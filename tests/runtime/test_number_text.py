"""Prediction lines do not depend on the install: numbers written as orjson writes them with or without
orjson (runtime/jsonlines.py orjson_number), and by web/bin/score.mjs (web/node/score-lines.js)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from edgepack.runtime.jsonlines import orjson_number

orjson = pytest.importorskip("orjson")
WEB = Path(__file__).resolve().parents[2] / "web"


def _values(dtype, n=4000):
    rng = np.random.default_rng(1)
    values = rng.random(n) * 10.0 ** rng.integers(-14, 22, n)
    values[:8] = [1e-5, 1.0, 0.5, 1.5e-7, 1e16, 425228.625, 0.1, 123456789.0]
    return values.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_without_orjson_the_text_is_orjsons(dtype):
    values = _values(dtype)
    want = orjson.dumps(values.reshape(1, -1), option=orjson.OPT_SERIALIZE_NUMPY).decode()[2:-2].split(",")
    assert [orjson_number(v) for v in values] == want


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_node_writes_the_same_text(dtype, tmp_path):
    values = _values(dtype)
    want = orjson.dumps(values.reshape(1, -1), option=orjson.OPT_SERIALIZE_NUMPY).decode()[2:-2].split(",")
    (tmp_path / "in.json").write_text(json.dumps([float(v) for v in values]))
    script = (f"import('{(WEB / 'node' / 'score-lines.js').as_uri()}').then(({{numberText}}) => {{"
              f"const xs = JSON.parse(require('fs').readFileSync('{tmp_path / 'in.json'}', 'utf8'));"
              f"console.log(JSON.stringify(xs.map((x) => numberText(x, {str(dtype is np.float32).lower()}))));}});")
    done = subprocess.run(["node", "-e", script], capture_output=True, text=True, timeout=60, check=True)
    assert json.loads(done.stdout) == want


def test_edgepack_score_lines_are_the_same_with_and_without_orjson(strict_package):
    records = strict_package.records(30)
    text = "".join(json.dumps({**r, "customer_id": i}) + "\n" for i, r in enumerate(records)) + '{"tenure_months": "x"}\n'
    runs = [subprocess.run([sys.executable, "-m", "edgepack.runtime", str(strict_package.path), "--id-field",
                            "customer_id"], input=text, capture_output=True, text=True, timeout=120,
                           env={**os.environ, **env}) for env in ({}, {"EDGEPACK_NO_ORJSON": "1"})]
    assert runs[0].returncode == runs[1].returncode == 3
    assert runs[0].stdout == runs[1].stdout and runs[0].stderr == runs[1].stderr
