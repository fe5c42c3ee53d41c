"""`edgepack-score` run as a process: the issue's check, CSV, ids, streaming, exit codes.

Expected predictions come from the scikit-learn model the package was built from.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from pathlib import Path

import numpy as np
import pytest
from scorer_helpers import SCORER, jsonl, read_lines, run_scorer

BOTH_PARSERS = pytest.mark.parametrize("env", [{}, {"EDGEPACK_NO_ORJSON": "1"}], ids=["orjson", "stdlib"])


def _expected(pkg, records):
    import pandas as pd

    frame = pd.DataFrame(records)[pkg.features]
    return pkg.model.predict_proba(frame), pkg.model.predict(frame)


def _check_predictions(pkg, lines, records):
    probs, labels = _expected(pkg, records)
    assert len(lines) == len(records)
    for line, p, label in zip(lines, probs, labels):
        assert line["label"] == int(label)
        assert line["package"] == "strict" and line["version"] == "2"
        np.testing.assert_allclose([line["probabilities"]["0"], line["probabilities"]["1"]], p, atol=1e-5)


@BOTH_PARSERS
def test_issue_check_good_and_bad_records(strict_package, env):
    good = strict_package.records(5)
    missing = dict(good[0])
    del missing["support_calls"]
    text_in_number = {**good[1], "monthly_charges": "seventy"}
    unknown = {**good[2], "contract": "weekly"}
    lines = [json.dumps(good[0]), json.dumps(missing), json.dumps(good[1]), json.dumps(text_in_number),
             json.dumps({**good[3], "tenure_months": float("nan")}),  # the NaN literal Python's json writes
             json.dumps(unknown), json.dumps(good[4])]
    result = run_scorer([strict_package.path], "\n".join(lines) + "\n", env=env)
    assert result.returncode == 3, result.stderr
    _check_predictions(strict_package, read_lines(result.stdout), [good[0], good[1], good[4]])
    errors = read_lines(result.stderr)
    assert [(e["line"], e["field"]) for e in errors] == [
        (2, "support_calls"), (4, "monthly_charges"), (5, "tenure_months"), (6, "contract")]
    assert "missing field" in errors[0]["reason"]
    assert "expected a number" in errors[1]["reason"]
    assert "missing value" in errors[2]["reason"]
    assert "unknown category 'weekly'" in errors[3]["reason"]
    assert "3 scored, 4 rejected" in result.stderr.decode()


@BOTH_PARSERS
def test_more_bad_records_each_named(strict_package, env):
    good = strict_package.records(1)[0]
    cases = {
        "not json {": (None, "not a JSON object"),
        json.dumps([1, 2]): (None, "must be a JSON object"),
        json.dumps({**good, "extra": 1}): ("extra", "unknown field"),
        json.dumps({**good, "tenure_months": 3.5}): ("tenure_months", "expected an integer"),
        json.dumps({**good, "tenure_months": True}): ("tenure_months", "boolean"),
        json.dumps({**good, "monthly_charges": float("inf")}): ("monthly_charges", "infinity"),
        json.dumps({**good, "contract": 3}): ("contract", "expected a category"),
        json.dumps({**good, "monthly_charges": None}): ("monthly_charges", "missing value"),
        json.dumps({**good, "monthly_charges": 10 ** 400}): ("monthly_charges", ""),
    }
    stdin = "\n".join([json.dumps(good), *cases, "", json.dumps(good)]) + "\n"
    result = run_scorer([strict_package.path, "--strict"], stdin, env=env)  # --strict: "extra" is refused
    assert result.returncode == 3
    assert len(read_lines(result.stdout)) == 2
    errors = read_lines(result.stderr)
    assert len(errors) == len(cases)
    for err, (field, words), line in zip(errors, cases.values(), range(2, 2 + len(cases))):
        assert err["line"] == line and err["field"] == field and words in err["reason"], err


def test_csv_with_header_ids_and_errors_file(strict_package, tmp_path):
    records = strict_package.records(4)
    header = ["id", *reversed(strict_package.features)]  # column order differs from the schema's
    rows = [",".join([f"r{i}"] + [str(r[f]) for f in reversed(strict_package.features)]) for i, r in enumerate(records)]
    bad_empty = rows[1].replace(f",{records[1]['support_calls']},", ",,", 1)
    bad_text = "r9," + ",".join("x" if f == "tenure_months" else str(records[0][f]) for f in reversed(strict_package.features))
    quoted = "\"r5\"," + ",".join(f"\"{records[2][f]}\"" for f in reversed(strict_package.features))
    stdin = "\n".join([",".join(header), rows[0], bad_empty, bad_text, rows[2], quoted, "short,row", rows[3], rows[0] + ",9"]) + "\n"
    errors_file = tmp_path / "rejected.jsonl"
    result = run_scorer([strict_package.path, "--format", "csv", "--id-field", "id", "--errors", errors_file], stdin)
    assert result.returncode == 3, result.stderr
    out = read_lines(result.stdout)
    assert [o["id"] for o in out] == ["r0", "r2", "r5", "r3"]
    _check_predictions(strict_package, out, [records[0], records[2], records[2], records[3]])
    errors = read_lines(errors_file)
    assert [(e["line"], e["field"], e.get("id")) for e in errors] == [
        (3, "support_calls", "r1"), (4, "tenure_months", "r9"), (7, None, None), (9, None, None)]
    assert "see" in result.stderr.decode() and read_lines(result.stderr) == []


def test_csv_header_that_does_not_match_is_refused(strict_package):
    result = run_scorer([strict_package.path, "--format", "csv"], "tenure_months,colour\n1,red\n")
    assert result.returncode == 6
    assert b"missing column(s)" in result.stderr and b"Traceback" not in result.stderr


def test_empty_input_is_not_an_error(strict_package):
    for fmt in ("jsonl", "csv"):
        result = run_scorer([strict_package.path, "--format", fmt], "")
        assert result.returncode == 0 and result.stdout == b""


def test_line_buffered_answers_before_eof(strict_package):
    record = json.dumps(strict_package.records(1)[0]) + "\n"
    proc = subprocess.Popen([*SCORER, str(strict_package.path), "--line-buffered"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        got: list[bytes] = []
        reader = threading.Thread(target=lambda: got.append(proc.stdout.readline()))
        reader.start()
        proc.stdin.write(record.encode())
        proc.stdin.flush()  # stdin stays open: no EOF yet
        reader.join(timeout=30)
        assert got and json.loads(got[0])["package"] == "strict"
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
    finally:
        proc.kill()
        proc.wait()


def _damaged(pkg, tmp_path, how):
    copy = tmp_path / "pkg"
    shutil.copytree(pkg.path, copy)
    how(copy)
    return copy


def _flip_byte(copy):
    data = bytearray((copy / "model.onnx").read_bytes())
    data[len(data) // 2] ^= 0x01
    (copy / "model.onnx").write_bytes(bytes(data))


def _future_version(copy):
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["format_version"] = 99
    (copy / "manifest.json").write_text(json.dumps(manifest))


@pytest.mark.parametrize("how, words", [
    (_flip_byte, "checksum"),
    (_future_version, "format version"),
    (lambda copy: (copy / "model.onnx").unlink(), "missing file"),
], ids=["flipped-byte", "unknown-format-version", "missing-artifact"])
def test_invalid_package_exits_4(strict_package, tmp_path, how, words):
    copy = _damaged(strict_package, tmp_path, how)
    stdin = jsonl(strict_package.records(2))
    for args in ([copy], ["selftest", copy]):
        result = run_scorer(args, stdin)
        assert result.returncode == 4, result.stderr
        assert words in result.stderr.decode() and b"Traceback" not in result.stderr
        assert result.stdout == b""


def test_unknown_artifact_and_usage_errors(strict_package):
    assert run_scorer([strict_package.path, "--artifact", "tflite-int8"], "").returncode == 4
    assert run_scorer([], "").returncode == 2
    assert run_scorer([strict_package.path, "--format", "xml"], "").returncode == 2
    assert run_scorer([strict_package.path, "--watch", "/tmp"], "").returncode == 2
    assert run_scorer([strict_package.path, "--artifact", "onnx"], "").returncode == 0


def test_help_has_examples_and_exit_codes():
    for args in (["--help"], ["selftest", "--help"]):
        result = run_scorer(args)
        text = result.stdout.decode()
        assert result.returncode == 0 and "example" in text and "exit codes" in text and "3  some records" in text


def test_selftest_reports_and_fails_outside_tolerance(strict_package, tmp_path):
    result = run_scorer(["selftest", strict_package.path])
    assert result.returncode == 0, result.stdout
    assert b"label agreement" in result.stdout and b"max probability error" in result.stdout

    def impossible(copy):  # a tolerance of zero: float32 arithmetic never matches scikit-learn's float64 exactly
        manifest = json.loads((copy / "manifest.json").read_text())
        manifest["tolerance_profiles"]["float32"]["max_probability_error"] = 0.0
        (copy / "manifest.json").write_text(json.dumps(manifest))

    result = run_scorer(["selftest", _damaged(strict_package, tmp_path, impossible)])
    assert result.returncode == 1 and b"FAIL" in result.stdout


@BOTH_PARSERS
def test_crlf_blank_lines_bom_and_bad_bytes(strict_package, env):
    good = json.dumps(strict_package.records(1)[0]).encode()
    stdin = good + b"\r\n" + b'{"contract": "\xff\xfe"}\r\n' + b"\r\n" + good  # no newline at the end
    result = run_scorer([strict_package.path], stdin, env=env)
    assert result.returncode == 3
    assert len(read_lines(result.stdout)) == 2
    assert [(e["line"], e["reason"]) for e in read_lines(result.stderr)] == [(2, "the line is not valid UTF-8")]

    record = strict_package.records(1)[0]
    names = strict_package.features
    csv_text = "\ufeff" + ",".join(names) + "\r\n" + ",".join(str(record[n]) for n in names) + "\r\n"
    result = run_scorer([strict_package.path, "--format", "csv"], csv_text.encode("utf-8"), env=env)
    assert result.returncode == 0, result.stderr
    _check_predictions(strict_package, read_lines(result.stdout), [record])


def test_zipped_package_scores_the_same(strict_package, tmp_path):
    archive = shutil.make_archive(str(tmp_path / "strict"), "zip", strict_package.path)
    zipped = tmp_path / "strict.edgepack"
    shutil.move(archive, zipped)
    records = strict_package.records(3)
    result = run_scorer([zipped], jsonl(records))
    assert result.returncode == 0, result.stderr
    _check_predictions(strict_package, read_lines(result.stdout), records)
    assert run_scorer(["selftest", zipped]).returncode == 0


def test_damaged_zipped_package_exits_4(strict_package, tmp_path):
    import zipfile

    archive = Path(shutil.make_archive(str(tmp_path / "strict"), "zip", strict_package.path))
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("model.onnx")
    data = bytearray(archive.read_bytes())
    data[info.header_offset + 30 + len(info.filename) + len(info.extra) + 50] ^= 0xFF  # inside the compressed data
    zipped = tmp_path / "damaged.edgepack"
    zipped.write_bytes(bytes(data))
    result = run_scorer([zipped], jsonl(strict_package.records(1)))
    assert result.returncode == 4 and b"Traceback" not in result.stderr, result.stderr


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs Linux's /dev/full")
def test_output_that_cannot_be_written_exits_2_with_the_reason(strict_package):
    with open("/dev/full", "wb") as full:
        result = subprocess.run([*SCORER, str(strict_package.path)], input=jsonl(strict_package.records(3)).encode(),
                                stdout=full, stderr=subprocess.PIPE, timeout=60)
    assert result.returncode == 2
    assert b"cannot write the output" in result.stderr and b"Traceback" not in result.stderr
