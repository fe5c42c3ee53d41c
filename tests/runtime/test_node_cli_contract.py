"""One CLI contract in Node and Python (issue 19 item 6): web/bin/score.mjs and edgepack-score run on the
same package and the same lines, and their stdout (prediction lines: key order, separators, numbers) and
rejection lines are compared byte for byte; exit codes and --errors FILE alike.

The byte comparison uses a decision tree, whose probabilities are leaf values either engine returns
exactly; for a logistic regression onnxruntime-web (WebAssembly) and onnxruntime compute float32
probabilities that may differ in the last digit, so that case compares the lines with the numbers read
back (within 1e-6) and everything else as text. A line that is not JSON is refused with Python's json
message in both (web/node/py-json-error.js). Watch mode (--watch/--out) is compared by the whole folder
trees both leave behind (outputs, done/, failed/ with reasons, a killed run's leftovers recovered) and
their stderr. Not compared: the program name at the start of stderr lines."""

from __future__ import annotations

import json
import os
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


BAD_JSON = ['{"tenure_months": 1,', 'not json', '{"a": 1} x', '[1, 2', '{"a" 1}', '{"k": "\\q"}', '{"é": @}',
            '{"x": "\\u12"}', '{"a": 1,}']


def test_a_line_that_is_not_json_is_worded_as_python_words_it(tree_package):
    package, frame = tree_package
    records = _tree_records(frame, 3)
    text = json.dumps(records[0]) + "\n" + "\n".join(BAD_JSON) + "\n" + json.dumps(records[1]) + "\n"
    py, node = _both(package, text)
    assert (py.returncode, node.returncode) == (3, 3)
    assert py.stderr.count("not a JSON object: ") == len(BAD_JSON)
    assert node.stdout == py.stdout and node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr


def _watch_inputs(root: Path, package: Path, frame) -> None:
    """The same folder for both scorers: good and bad lines, CSV, names that collide, files that cannot be
    scored (binary, .npy, a link, a CSV without the model's columns), and a killed run's leftovers: one input
    committed (its marker written by edgepack-score's own ledger, its outputs still hidden), one claimed
    without a marker (scored again), a stale marker and an unfinished temporary."""
    from edgepack.runtime.watch_ledger import Commit, Ledger, content_sha256

    inp, out = root / "in", root / "out"
    (inp / ".processing").mkdir(parents=True)
    out.mkdir()
    records = _tree_records(frame, 30)
    lines = [json.dumps(r) for r in records]
    bad = [json.dumps({**records[0], "tenure_months": "x"}), *BAD_JSON[:4]]
    (inp / "a.jsonl").write_bytes(("\n".join(lines[:10] + bad + lines[10:15]) + "\n").encode() + b'{"contract": "\xff"}\n')
    table = frame.head(12).assign(customer_id=[f"c{i}" for i in range(12)])
    csv_lines = table.to_csv(index=False).splitlines()
    csv_lines[3] = csv_lines[3].split(",", 1)[0]
    (inp / "b.csv").write_text("\n".join(csv_lines) + "\n")
    (inp / "c.jsonl").write_text("\n".join(lines[15:20]) + "\n")
    (out / "c.jsonl").write_text("an earlier output, not taken yet\n")
    (inp / "d.errors.jsonl").write_text("\r\n".join(lines[20:23]) + "\r\n")
    (inp / "e.csv").write_text("customer_id\nc1\n")
    (inp / "f.jsonl").write_bytes(b"\x00\x01binary")
    (inp / "g.npy").write_bytes(b"\x93NUMPY")
    (inp / "link.jsonl").symlink_to("a.jsonl")
    (inp / "notes.txt").write_text("not an input\n")
    # the leftovers of a run killed after its commit point (r) and before it (s)
    r_text = "\n".join(lines[23:26]) + "\n"
    (inp / ".processing" / "r.jsonl").write_text(r_text)
    (out / ".r.jsonl.tmp").write_bytes(subprocess.run(
        [sys.executable, "-m", "edgepack.runtime", str(package), "--id-field", "customer_id"], input=r_text.encode(),
        capture_output=True, check=True).stdout)
    with open(inp / ".processing" / "r.jsonl", "rb") as handle:
        Ledger(inp / ".processing").write(Commit("r.jsonl", content_sha256(handle), ((".r.jsonl.tmp", "r.jsonl"),), 3, 0))
    (inp / ".processing" / "s.jsonl").write_text("\n".join(lines[26:30]) + "\n")
    Ledger(inp / ".processing").write(Commit("gone.jsonl", "0" * 64, ((".gone.jsonl.tmp", "gone.jsonl"),), 1, 0))
    (out / ".half.jsonl.tmp").write_text('{"label": 0')


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): (b"-> " + os.readlink(p).encode()) if p.is_symlink() else p.read_bytes()
            for p in sorted(root.rglob("*")) if p.is_symlink() or p.is_file()}


def test_watch_mode_writes_the_same_files_and_lines(tree_package, tmp_path):
    package, frame = tree_package
    runs = {}
    for who, cmd in (("py", [sys.executable, "-m", "edgepack.runtime"]), ("node", ["node", str(WEB / "bin" / "score.mjs")])):
        root = tmp_path / who
        _watch_inputs(root, package, frame)
        done = subprocess.run([*cmd, str(package), "--watch", "in", "--out", "out", "--once", "--min-age", "0",
                               "--id-field", "customer_id"], cwd=root, capture_output=True, timeout=300)
        runs[who] = (done, _tree(root))
    (py, py_files), (node, node_files) = runs["py"], runs["node"]
    assert (py.returncode, node.returncode) == (0, 0), node.stderr.decode()
    assert node.stderr.decode().replace("score.mjs:", "edgepack-score:") == py.stderr.decode()
    assert list(node_files) == list(py_files)
    for name in py_files:
        assert node_files[name] == py_files[name], name
    # what the run had to do, seen in edgepack-score's own files (not only that both agree)
    assert "out/c.1.jsonl" in py_files and py_files["out/c.jsonl"].startswith(b"an earlier")
    assert "out/d.errors.1.jsonl" in py_files and "out/d.errors.jsonl" not in py_files  # never named like a report
    assert py_files["out/r.jsonl"].count(b"\n") == 3 and "in/done/r.jsonl" in py_files and "in/done/s.jsonl" in py_files
    assert {n for n in py_files if n.startswith("in/failed/")} == {
        "in/failed/e.csv", "in/failed/e.csv.reason", "in/failed/f.jsonl", "in/failed/f.jsonl.reason",
        "in/failed/g.npy", "in/failed/g.npy.reason", "in/failed/link.jsonl", "in/failed/link.jsonl.reason"}
    assert not [n for n in py_files if n.startswith(("in/.processing/", "out/."))]
    assert py_files["out/a.errors.jsonl"].count(b"\n") == 6 and b"not valid UTF-8" in py_files["out/a.errors.jsonl"]


def test_watch_mode_usage_errors_and_exit_codes(tree_package, tmp_path):
    package, _ = tree_package
    (tmp_path / "in").mkdir()
    cases = [["--watch", "missing", "--out", "out", "--once"], ["--watch", "in", "--out", "in", "--once"],
             ["--watch", "in", "--out", "in/done/x", "--once"], ["--watch", "in"]]
    for flags in cases:
        py = subprocess.run([sys.executable, "-m", "edgepack.runtime", str(package), *flags], cwd=tmp_path,
                            capture_output=True, text=True, timeout=120)
        node = subprocess.run(["node", str(WEB / "bin" / "score.mjs"), str(package), *flags], cwd=tmp_path,
                              capture_output=True, text=True, timeout=120)
        assert py.returncode == node.returncode == 2, (flags, node.stderr)
        if flags != ["--watch", "in"]:  # argparse prints its usage first; the error line is the same
            assert node.stderr.replace("score.mjs:", "edgepack-score:") == py.stderr, flags
        else:
            assert node.stderr.splitlines()[0].split("error: ")[1] == py.stderr.splitlines()[-1].split("error: ")[1]


def test_python_json_messages_on_mutated_lines():
    """web/node/py-json-error.js against Python's json.loads (the C scanner) on 2000 mutated lines."""
    import random

    rng = random.Random(19)
    base = ['{"a": 1, "b": [1, 2.5e3, "x\\u00e9y"], "c": {"d": null, "e": true}}', '[1,2,3]', '"s\\n"',
            '{"k":"\\ud83d\\ude00"}', '{"x": -0.5E+2, "c": "month"}', '{"a": NaN, "b": -Infinity}', '{ }', '[ ]']
    alphabet = [*'{}[]",:\\u0aeE+-.1 9\t\r', 'tnfxNI', "\x01", "é", "😀", "\\u12", "\\ud800"]
    cases = []
    for _ in range(2000):
        text = list(rng.choice(base))
        for _ in range(rng.randint(1, 3)):
            at = rng.randint(0, len(text))
            if rng.random() < 0.4 and text:
                del text[min(at, len(text) - 1)]
            elif rng.random() < 0.85:
                text.insert(at, rng.choice(alphabet))
            else:
                text = text[:at]
        cases.append("".join(text))
    expected = []
    for case in cases:
        try:
            json.loads(case)
            expected.append(None)
        except json.JSONDecodeError as exc:
            expected.append(str(exc))
    script = ("import {pythonJsonError} from './node/py-json-error.js'; import {readFileSync} from 'node:fs';"
              "process.stdout.write(JSON.stringify(JSON.parse(readFileSync(0, 'utf8')).map(pythonJsonError)));")
    done = subprocess.run(["node", "--input-type=module", "-e", script], cwd=WEB, input=json.dumps(cases),
                          capture_output=True, text=True, timeout=120, check=True)
    assert sum(e is not None for e in expected) > 1000
    assert json.loads(done.stdout) == expected


def test_node_watcher_scores_files_as_they_come_and_stops_on_sigterm(tree_package, tmp_path):
    import signal
    import time

    package, frame = tree_package
    (tmp_path / "in").mkdir()
    proc = subprocess.Popen(["node", str(WEB / "bin" / "score.mjs"), str(package), "--watch", "in", "--out", "out",
                             "--interval", "0.05", "--min-age", "0"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        (tmp_path / "in" / ".x.jsonl.part").write_text("".join(json.dumps(r) + "\n" for r in _tree_records(frame, 3)))
        (tmp_path / "in" / ".x.jsonl.part").rename(tmp_path / "in" / "x.jsonl")  # as a producer drops a file
        deadline = time.monotonic() + 60
        while not (tmp_path / "in" / "done" / "x.jsonl").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert (tmp_path / "out" / "x.jsonl").read_text().count("\n") == 3
    assert err == "score.mjs: x.jsonl -> out/x.jsonl: 3 scored, 0 rejected\n"


@pytest.mark.slow
def test_node_watcher_delivers_each_record_once_when_killed_before_any_step(tree_package, tmp_path):
    """SIGKILL before the k-th filesystem operation of a run, for every k, then a restart; a GetFile-like
    consumer takes (reads and deletes) the outputs after each run. Every record is delivered once."""
    from collections import Counter

    package, frame = tree_package
    records = _tree_records(frame, 6)
    for i, r in enumerate(records):
        r["customer_id"] = f"r{i}"
    records[2]["tenure_months"] = "x"  # rejected: delivered as an error line, with its id
    text = "".join(json.dumps(r) + "\n" for r in records)
    cmd = ["node", "--import", str(Path(__file__).with_name("node_killer.mjs")), str(WEB / "bin" / "score.mjs"),
           str(package), "--watch", "in", "--out", "out", "--once", "--min-age", "0", "--id-field", "customer_id",
           "--quiet"]
    k = 1
    while True:
        root = tmp_path / f"k{k}"
        (root / "in").mkdir(parents=True)
        (root / "in" / "batch.jsonl").write_text(text)
        taken: list[str] = []

        def consume(root=root, taken=taken):
            for out in sorted((root / "out").glob("[!.]*.jsonl")) if (root / "out").exists() else []:
                taken.extend(out.read_text().splitlines())
                out.unlink()

        killed = subprocess.run(cmd, cwd=root, capture_output=True, timeout=120,
                                env={**os.environ, "KILL_ROOT": str(root.resolve()), "KILL_AT": str(k)})
        consume()
        if killed.returncode == 0:
            break  # k is past the last operation: every step has had its kill
        assert killed.returncode == -9, killed.stderr
        again = subprocess.run(cmd, cwd=root, capture_output=True, timeout=120)
        assert again.returncode == 0, again.stderr
        consume()
        ids = Counter(json.loads(line)["id"] for line in taken)
        assert ids == Counter(r["customer_id"] for r in records), (k, ids)
        k += 1
    assert k > 10  # the run had that many steps to be killed before
