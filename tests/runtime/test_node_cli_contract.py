"""One CLI contract in Node and Python (issue 19 item 6): web/bin/score.mjs and edgepack-score run on the
same package and the same lines, and their stdout (prediction lines: key order, separators, numbers) and
rejection lines are compared byte for byte; exit codes and --errors FILE alike.

The byte comparison uses a decision tree, whose probabilities are leaf values either engine returns
exactly; for a logistic regression onnxruntime-web (WebAssembly) and onnxruntime compute float32
probabilities that may differ in the last digit, so that case compares the lines with the numbers read
back (within 1e-6) and everything else as text. Not compared: the reason given for a line that is not
JSON (each language's parser words it) and the program name in the summary line."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
pytestmark = pytest.mark.skipif(shutil.which("node") is None or not (WEB / "node_modules" / "onnxruntime-web").is_dir(),
                                reason="node or web/node_modules (make web) is missing")


def _both(package: Path, text: str, *flags: str) -> tuple[subprocess.CompletedProcess, subprocess.CompletedProcess]:
    py = subprocess.run([sys.executable, "-m", "edgepack.runtime", str(package), *flags], input=text,
                        capture_output=True, text=True, timeout=120)
    node = subprocess.run(["node", str(WEB / "bin" / "score.mjs"), str(package), *flags], input=text,
                          capture_output=True, text=True, timeout=120)
    return py, node


@pytest.fixture(scope="module")
def tree_package(tmp_path_factory):
    import zoo
    from edgepack.toolchain.build import BuildOptions, build

    root = tmp_path_factory.mktemp("tree")
    model, sample = zoo.save(zoo.get("decision_tree_clf"), root)
    frame = zoo.get("decision_tree_clf").sample
    build(BuildOptions(model=model, sample=sample, out=root / "package", label_column="churn", quiet=True))
    return root / "package", frame


def _tree_records(frame, n):
    names = [c for c in frame.columns if c != "churn"]
    out = json.loads(frame[names].head(n).to_json(orient="records"))
    for i, r in enumerate(out):
        r["customer_id"] = f"c{i}" if i % 3 else i
    return out


def _lines(strict_package, n):
    records = strict_package.records(n)
    for i, r in enumerate(records):
        r["customer_id"] = f"c{i}" if i % 3 else i  # ids of either type; not a model input
    return records


def test_prediction_and_rejection_lines_are_the_same_bytes(tree_package):
    package, frame = tree_package
    records = _tree_records(frame, 40)
    bad = [{**records[1], "contract": 7}, {**records[2], "tenure_months": "x"},
           {k: v for k, v in records[3].items() if k != "contract"}]
    text = "".join(json.dumps(r) + "\n" for r in records[:20] + bad + records[20:]) + "\n"
    py, node = _both(package, text, "--id-field", "customer_id", "--keep-fields", "region,contract")
    assert (py.returncode, node.returncode) == (3, 3), node.stderr
    assert py.stdout.count("\n") == 40 and py.stderr.count("\n") == 4
    assert node.stdout == py.stdout
    assert node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr


def test_errors_file_quiet_and_exit_codes(tree_package, tmp_path):
    package, frame = tree_package
    records = _tree_records(frame, 5)
    text = "".join(json.dumps(r) + "\n" for r in records + [{"tenure_months": -1}])
    py_file, node_file = tmp_path / "py.jsonl", tmp_path / "node.jsonl"
    py, node = (subprocess.run([*cmd, str(package), "--errors", str(f), "--quiet"], input=text, capture_output=True,
                               text=True, timeout=120)
                for cmd, f in (([sys.executable, "-m", "edgepack.runtime"], py_file),
                               (["node", str(WEB / "bin" / "score.mjs")], node_file)))
    assert (py.returncode, node.returncode) == (3, 3)
    assert node.stdout == py.stdout and node.stderr == py.stderr == ""
    assert node_file.read_bytes() == py_file.read_bytes() != b""
    ok_py, ok_node = _both(package, "".join(json.dumps(r) + "\n" for r in records))
    assert (ok_py.returncode, ok_node.returncode) == (0, 0) and ok_node.stdout == ok_py.stdout


def test_a_computed_probability_may_differ_in_its_last_digit_only(strict_package):
    records = _lines(strict_package, 20)
    text = "".join(json.dumps(r) + "\n" for r in records)
    py, node = _both(strict_package.path, text, "--id-field", "customer_id")
    assert (py.returncode, node.returncode) == (0, 0)
    for a, b in zip(py.stdout.splitlines(), node.stdout.splitlines(), strict=True):
        pa, pb = json.loads(a), json.loads(b)
        assert list(pa) == list(pb) and pa["id"] == pb["id"] and pa["label"] == pb["label"]
        for k in pa["probabilities"]:
            assert abs(pa["probabilities"][k] - pb["probabilities"][k]) <= 1e-6


def test_selftest_prints_the_same_table_and_verdict(tree_package):
    package, _ = tree_package
    py = subprocess.run([sys.executable, "-m", "edgepack.runtime", "selftest", str(package)], capture_output=True,
                        text=True, timeout=120)
    node = subprocess.run(["node", str(WEB / "bin" / "score.mjs"), "selftest", str(package)], capture_output=True,
                          text=True, timeout=120)
    assert (py.returncode, node.returncode) == (0, 0), node.stderr
    assert node.stdout == py.stdout and py.stdout.endswith("PASS\n")


def test_csv_input_the_same_lines_and_header_errors(tree_package):
    package, frame = tree_package
    table = frame.head(30).assign(customer_id=[f"c{i}" for i in range(30)])
    text = table.to_csv(index=False)
    lines = text.splitlines()
    lines[4] = "x" + lines[4][lines[4].index(","):]  # a number column that is not a number
    lines[7] = lines[7].split(",", 1)[0]  # too few fields
    text = "\n".join(lines) + "\n"
    py, node = _both(package, text, "--format", "csv", "--id-field", "customer_id")
    assert (py.returncode, node.returncode) == (3, 3), node.stderr
    assert node.stdout == py.stdout and py.stdout.count("\n") == 28
    assert node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr
    header_only = "customer_id\nc1\n"
    py, node = _both(package, header_only, "--format", "csv")
    assert (py.returncode, node.returncode) == (6, 6)
    assert node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr


def test_line_buffered_and_a_line_over_the_limit(tree_package):
    package, frame = tree_package
    records = _tree_records(frame, 4)
    long = json.dumps({**records[0], "note": "x" * 600})
    text = "".join(json.dumps(r) + "\n" for r in records[:2]) + long + "\n" + json.dumps(records[2]) + "\n"
    py, node = _both(package, text, "--line-buffered", "--max-line-bytes", "400")
    assert (py.returncode, node.returncode) == (3, 3)
    assert node.stdout == py.stdout and py.stdout.count("\n") == 3
    assert node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr and "--max-line-bytes" in py.stderr
