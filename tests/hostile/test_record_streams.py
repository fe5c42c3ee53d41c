"""Hostile record streams against `edgepack-score` and the Python API (issue 15, items 2, 11, 12, 13).

A seeded mutator mixes good records with hostile lines (random bytes, lone surrogate escapes, lines over
the length limit, unterminated quotes, NUL bytes, invalid UTF-8, wrong types) and dresses the stream in
a byte-order mark, CRLF line ends and a missing final newline. Every case must end in a documented exit
code (0 all scored, 3 some rejected), one error line per hostile line (each a reason), no traceback, and
every good record scored exactly as it is scored alone: never a lost good record.
"""

from __future__ import annotations

import csv
import io
import json
import random

import pytest
from edgepack.converters.sources.sample import records_from_frame
from edgepack.runtime.errors import RecordError
from edgepack.runtime.schema import IOSchema
from edgepack.runtime.scorer import Scorer
from hostile_helpers import assert_clean_failure, json_lines, run_scorer

LIMIT = 2048  # --max-line-bytes in the fuzz: long lines stay cheap to make
BOM = b"\xef\xbb\xbf"


@pytest.fixture(scope="module")
def churn(built_packages):
    model, package = built_packages("logreg_binary")
    schema = IOSchema.from_manifest(json.loads((package / "manifest.json").read_text()))
    records = records_from_frame(model.holdout, schema)[:60]
    return package, schema, records


def _hostile_json_line(rng: random.Random, good: dict) -> bytes:
    kind = rng.randrange(9)
    if kind == 0:  # random bytes: no newline, never blank
        raw = bytes(rng.randrange(256) for _ in range(rng.randint(1, 120))).replace(b"\n", b"x")
        return raw + b"#"
    if kind == 1:  # a lone surrogate in a category
        return json.dumps({**good, "contract": "\ud800"}).encode()
    if kind == 2:  # a lone surrogate in a field name (a field the model does not use)
        return json.dumps({**good, "\udc00note": 1}).encode()
    if kind == 3:  # over the length limit (a good record otherwise)
        return json.dumps({**good, "note": "x" * rng.randint(LIMIT, 3 * LIMIT)}).encode()
    if kind == 4:  # an unterminated string
        return json.dumps(good).encode()[: rng.randint(5, 40)] + b'"abc'
    if kind == 5:  # a NUL byte and invalid UTF-8
        return b'{"contract": "\x00\xff\xfe"}'
    if kind == 6:  # wrong types
        return json.dumps({**good, "monthly_charges": rng.choice([True, "42.5", [1], {"a": 1}])}).encode()
    if kind == 7:  # infinity where a number is needed
        return json.dumps({**good, "monthly_charges": float("inf")}).encode()
    return json.dumps([good]).encode()  # not an object


def _stream(rng: random.Random, records: list[dict], hostile_share: float) -> tuple[bytes, int, list[dict]]:
    lines, good, bad = [], [], 0
    for record in records:
        if rng.random() < hostile_share:
            lines.append(_hostile_json_line(rng, record))
            bad += 1
        else:
            lines.append(json.dumps(record).encode())
            good.append(record)
    ends = [b"\r\n" if rng.random() < 0.3 else b"\n" for _ in lines]
    data = b"".join(line + end for line, end in zip(lines, ends))
    if rng.random() < 0.5:
        data = data.rstrip(b"\r\n")  # no final newline
    if rng.random() < 0.5:
        data = BOM + data
    return data, bad, good


def _same(got: list[dict], want: list[dict]) -> bool:
    """The same predictions, line for line (onnxruntime may round a float32 differently in a batch of
    another size: the last digit is allowed to move)."""
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g["label"] == w["label"]
        assert g["probabilities"] == pytest.approx(w["probabilities"], abs=1e-6)
    return True


def _alone(package, records: list[dict]) -> list[dict]:
    """The prediction lines of these records scored alone, in a clean stream."""
    result = run_scorer([package], "".join(json.dumps(r) + "\n" for r in records))
    assert result.returncode == 0, result.stderr
    return json_lines(result.stdout)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("mode", ["batches", "line-buffered"])
def test_hostile_json_lines_lose_no_good_record(churn, seed, mode):
    package, _, records = churn
    rng = random.Random(seed)
    data, bad, good = _stream(rng, records, hostile_share=rng.choice([0.05, 0.3, 0.9]))
    args = [package, "--max-line-bytes", LIMIT, "--batch-bytes", rng.choice([4096, 1 << 20])]
    if mode == "line-buffered":
        args.append("--line-buffered")
    result = run_scorer(args, data)
    assert_clean_failure(result)
    assert result.returncode == (3 if bad else 0)
    assert _same(json_lines(result.stdout), _alone(package, good))
    errors = json_lines(result.stderr)
    assert len(errors) == bad and all(e["reason"] for e in errors)


def test_a_lone_surrogate_rejects_its_record_only(churn):
    """Was: UnicodeEncodeError, the whole micro-batch lost (1,000 good + 1 bad -> 0 lines out)."""
    package, _, records = churn
    good = [records[i % len(records)] for i in range(1000)]
    bad = {**records[0], "contract": "\ud800"}
    text = "".join(json.dumps(r) + "\n" for r in good[:500] + [bad] + good[500:])
    result = run_scorer([package, "--id-field", "contract"], text)
    assert_clean_failure(result)
    assert result.returncode == 3
    assert len(json_lines(result.stdout)) == 1000
    (error,) = json_lines(result.stderr)
    assert error["line"] == 501 and "surrogate" in error["reason"]


def test_a_lone_surrogate_in_watch_mode_does_not_block_the_folder(churn, tmp_path):
    package, _, records = churn
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "batch.jsonl").write_text(json.dumps(records[0]) + "\n" + json.dumps({**records[1], "contract": "\ud800"})
                                       + "\n" + json.dumps(records[2]) + "\n")
    result = run_scorer([package, "--watch", inbox, "--out", out, "--once", "--min-age", "0", "--quiet"])
    assert_clean_failure(result)
    assert len(json_lines((out / "batch.jsonl").read_bytes())) == 2
    (error,) = json_lines((out / "batch.errors.jsonl").read_bytes())
    assert error["line"] == 2 and "surrogate" in error["reason"]
    assert not list((inbox / ".processing").glob("*"))


def test_a_byte_order_mark_is_skipped_in_json_lines(churn):
    package, _, records = churn
    result = run_scorer([package], BOM + "".join(json.dumps(r) + "\n" for r in records[:3]).encode())
    assert result.returncode == 0, result.stderr
    assert _same(json_lines(result.stdout), _alone(package, records[:3]))


def test_an_errors_file_that_cannot_be_written_is_exit_2(churn):
    package, _, records = churn
    text = json.dumps(records[0]) + "\n" + "not json\n"
    result = run_scorer([package, "--errors", "/dev/full"], text)
    assert result.returncode == 2
    assert_clean_failure(result)
    assert b"cannot write --errors /dev/full" in result.stderr


@pytest.mark.parametrize("line_buffered", [False, True])
def test_an_over_long_line_is_rejected_and_the_rest_scored(churn, line_buffered):
    package, _, records = churn
    long_line = json.dumps({**records[1], "note": "x" * 5000})
    text = json.dumps(records[0]) + "\n" + long_line + "\n" + json.dumps(records[2]) + "\n" + "y" * 9000
    args = [package, "--max-line-bytes", 4096] + (["--line-buffered"] if line_buffered else [])
    result = run_scorer(args, text)
    assert_clean_failure(result)
    assert result.returncode == 3
    assert _same(json_lines(result.stdout), _alone(package, [records[0], records[2]]))
    errors = json_lines(result.stderr)
    assert [e["line"] for e in errors] == [2, 4]
    assert all("longer than 4096 bytes" in e["reason"] for e in errors)


@pytest.mark.parametrize("newline", [True, False], ids=["one-huge-line", "no-newline"])
def test_huge_input_stays_within_the_device_budget(churn, tmp_path, newline):
    """A 40 MB line (or 40 MB without any newline) with the default limits: rejected with a reason, the
    good records around it scored, and the scorer's peak memory under 256 MiB (was 379 / 657 MB)."""
    import subprocess
    import sys

    package, _, records = churn
    path = tmp_path / "huge.jsonl"
    with open(path, "wb") as f:
        f.write((json.dumps(records[0]) + "\n").encode())
        f.write(b'{"note": "' + b"x" * (40 << 20) + b'"}')
        if newline:
            f.write(("\n" + json.dumps(records[1]) + "\n").encode())
    probe = ("import resource, subprocess, sys\n"
             "with open(sys.argv[1], 'rb') as stdin:\n"
             "    p = subprocess.run([sys.executable, '-m', 'edgepack.runtime', sys.argv[2]], stdin=stdin,"
             " capture_output=True)\n"
             "print(p.returncode, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n"
             "sys.stdout.write(p.stdout.decode()); sys.stderr.write(p.stderr.decode())\n")
    result = subprocess.run([sys.executable, "-c", probe, str(path), str(package)], capture_output=True, timeout=300)
    first, *out = result.stdout.decode().splitlines()
    code, peak_kib = map(int, first.split())
    assert code == 3 and "Traceback" not in result.stderr.decode()
    assert peak_kib < 256 * 1024, f"peak RSS {peak_kib / 1024:.0f} MiB"
    assert len([line for line in out if line.startswith("{")]) == (2 if newline else 1)
    assert "longer than 1048576 bytes" in result.stderr.decode()


def test_a_huge_manifest_is_refused_before_it_is_parsed(churn, tmp_path):
    import shutil

    package, _, _ = churn
    copy = tmp_path / "pkg"
    shutil.copytree(package, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["padding"] = "x" * (9 << 20)
    (copy / "manifest.json").write_text(json.dumps(manifest))
    result = run_scorer([copy], "")
    assert result.returncode == 4
    assert_clean_failure(result)
    assert b"larger than the limit" in result.stderr and b"EDGEPACK_MAX_MANIFEST_BYTES" in result.stderr


# -- CSV ---------------------------------------------------------------------------------------------------

def _csv_text(schema, records, quote_all=False) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n", quoting=csv.QUOTE_ALL if quote_all else csv.QUOTE_MINIMAL)
    writer.writerow(schema.names)
    for r in records:
        writer.writerow(["" if r[n] is None else r[n] for n in schema.names])
    return buf.getvalue()


def test_a_quoted_csv_field_spanning_lines_is_one_record(churn):
    """Was: its first half rejected and its second half scored under a made-up id."""
    package, schema, records = churn
    spanning = {**records[1], "contract": "month-\nto-month"}  # an unseen category: the model ignores it
    text = _csv_text(schema, [records[0], spanning, records[2]])
    result = run_scorer([package, "--format", "csv"], text)
    assert_clean_failure(result)
    assert result.returncode == 0, result.stderr
    _, outputs, _ = Scorer.load(package).score([records[0], spanning, records[2]])
    got = json_lines(result.stdout)
    assert [g["probabilities"] for g in got] == [pytest.approx(o["probabilities"], abs=1e-6) for o in outputs]


def test_a_stray_quote_swallows_no_good_csv_record(churn):
    package, schema, records = churn
    text = _csv_text(schema, records[:5]).splitlines()
    text.insert(2, 'a"b,1')  # an unmatched quote on line 3
    result = run_scorer([package, "--format", "csv"], "\n".join(text) + "\n")
    assert_clean_failure(result)
    assert result.returncode == 3
    assert len(json_lines(result.stdout)) == 5
    assert [e["line"] for e in json_lines(result.stderr)] == [3]


def test_a_literal_quote_inside_a_field_joins_no_lines(churn):
    """`x"` (a quote inside an unquoted field is literal) then a good row, then another literal quote: the
    three lines are not one record, and the good row between them is scored."""
    package, schema, records = churn
    header, *rows = _csv_text(schema, records[:3]).splitlines()
    cells = next(csv.reader([rows[0]]))
    odd = ",".join(cells[:-1] + [cells[-1] + 'x"'])
    result = run_scorer([package, "--format", "csv"], "\n".join([header, odd, rows[1], odd, rows[2]]) + "\n")
    assert_clean_failure(result)
    assert _same(json_lines(result.stdout), _alone(package, records[1:3]))
    assert [e["line"] for e in json_lines(result.stderr)] == [2, 4]


def test_a_quote_never_closed_at_the_end_is_rejected(churn):
    package, schema, records = churn
    text = _csv_text(schema, records[:2]) + '"month-to-month,5\n'
    result = run_scorer([package, "--format", "csv"], text)
    assert_clean_failure(result)
    assert result.returncode == 3 and len(json_lines(result.stdout)) == 2


@pytest.mark.parametrize("number", ["1_000", "\uff14\uff12", "4\u00b2"])
def test_csv_numbers_are_refused_where_json_would_refuse_them(churn, number):
    """float() reads 1_000 and full-width digits; JSON does not, and neither does a CSV cell."""
    package, schema, records = churn
    text = _csv_text(schema, records[:2]).splitlines()
    header = text[0].split(",")
    row = next(csv.reader([text[2]]))
    row[header.index("support_calls")] = number
    text[2] = ",".join(row)
    result = run_scorer([package, "--format", "csv"], "\n".join(text) + "\n")
    assert result.returncode == 3
    (error,) = json_lines(result.stderr)
    assert error["field"] == "support_calls" and "expected a number, got str" in error["reason"]


def _hostile_csv_row(rng: random.Random, cells: list[str], numeric: list[int]) -> str:
    kind = rng.randrange(5)
    if kind == 0:  # random text: no comma, quote or newline, never blank
        return "".join(chr(rng.choice([rng.randrange(33, 127), rng.randrange(0xa0, 0x3000)])) for _ in range(
            rng.randint(1, 60))).replace(",", ";").replace('"', "'") + "#"
    if kind == 1:  # a number JSON would not read
        cells = list(cells)
        cells[rng.choice(numeric)] = rng.choice(["1_000", "\uff14\uff12", "0x10", "4\u00b2", "seven"])
        return ",".join(cells)
    if kind == 2:  # over the length limit
        return ",".join(cells) + "," + "9" * rng.randint(LIMIT, 2 * LIMIT)
    if kind == 3:  # a field short
        return ",".join(cells[:-1])
    return ",".join(cells) + ",extra"  # a field too many


@pytest.mark.parametrize("seed", range(4))
def test_hostile_csv_loses_no_good_record(churn, seed):
    package, schema, records = churn
    rng = random.Random(100 + seed)
    header, *rows = _csv_text(schema, records).splitlines()
    numeric = [j for j, f in enumerate(schema.features) if f.type != "category"]
    lines, good, bad = [header], [], 0
    for record, row in zip(records, rows):
        if rng.random() < 0.3:
            lines.append(_hostile_csv_row(rng, next(csv.reader([row])), numeric))
            bad += 1
        else:
            quoted = rng.random() < 0.3  # a good row with every cell quoted
            lines.append(",".join(f'"{c}"' for c in next(csv.reader([row]))) if quoted else row)
            good.append(record)
    ends = [rng.choice(["\n", "\r\n"]) for _ in lines]
    data = "".join(line + end for line, end in zip(lines, ends)).encode()
    data = (BOM if rng.random() < 0.5 else b"") + (data.rstrip(b"\r\n") if rng.random() < 0.5 else data)
    result = run_scorer([package, "--format", "csv", "--max-line-bytes", LIMIT,
                         "--batch-bytes", rng.choice([4096, 1 << 20])], data)
    assert_clean_failure(result)
    assert result.returncode == (3 if bad else 0)
    assert _same(json_lines(result.stdout), _alone(package, good))
    errors = json_lines(result.stderr)
    assert len(errors) == bad and all(e["reason"] for e in errors)


def test_csv_with_bom_crlf_quotes_and_no_final_newline(churn):
    package, schema, records = churn
    text = _csv_text(schema, records[:20], quote_all=True).replace("\n", "\r\n").rstrip("\r\n")
    result = run_scorer([package, "--format", "csv", "--batch-bytes", 4096], BOM + text.encode())
    assert result.returncode == 0, result.stderr
    assert _same(json_lines(result.stdout), _alone(package, records[:20]))


# -- Python API ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_python_api_never_raises_on_hostile_records(churn, seed):
    package, _, records = churn
    rng = random.Random(seed)
    scorer = Scorer.load(package)
    hostile = [None, "text", 3, [1, 2], {"contract": "\ud800"}, {**records[0], "contract": "\udfff"},
               {**records[0], "monthly_charges": True}, {**records[0], "tenure_months": 10 ** 400},
               {**records[0], "contract": None}, {}, {**records[0], "monthly_charges": "42.5"}]
    batch, good_at = [], []
    for record in records[:30]:
        if rng.random() < 0.4:
            batch.append(rng.choice(hostile))
        else:
            good_at.append(len(batch))
            batch.append(record)
    kept, outputs, rejected = scorer.score(batch)
    assert kept == good_at
    assert len(rejected) == len(batch) - len(good_at) and all(r.reason for r in rejected)
    assert outputs == scorer.score([batch[i] for i in good_at])[1]
    if rejected:
        with pytest.raises(RecordError):
            scorer.predict(batch)


def test_the_cli_states_the_streams_default_line_limit():
    """cli.py keeps its own copy (its --help must not import the stream module): the two must agree."""
    from edgepack.runtime import cli, stream

    assert cli.DEFAULT_MAX_LINE_BYTES == stream.DEFAULT_MAX_LINE_BYTES
