"""The watch folder under hostile or careless input: names that collide, names that are not UTF-8 or do not
fit, links and FIFOs placed in IN_DIR, folders that overlap, a second watcher. Each case ends in a
documented exit code and a one-line reason, never a traceback, never a record lost or overwritten."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest

SCORER = [sys.executable, "-m", "edgepack.runtime"]
FEATURES = ["tenure_months", "monthly_charges", "support_calls"]


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small numeric package (StandardScaler -> LogisticRegression) built with the real toolchain."""
    import joblib
    import zoo
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = zoo.churn_frame(200, seed=9)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=300))]).fit(
        frame[FEATURES], frame["churn"])
    root = tmp_path_factory.mktemp("hostile-watch")
    joblib.dump(model, root / "m.joblib")
    frame[FEATURES + ["churn"]].to_csv(root / "sample.csv", index=False)
    return build(BuildOptions(model=root / "m.joblib", sample=root / "sample.csv", out=root / "package",
                              label_column="churn", name="hostile", quiet=True)).path


def _records(prefix: str, n: int = 3, bad: tuple[int, ...] = ()) -> bytes:
    lines = []
    for j in range(n):
        rec = {"id": f"{prefix}-{j}", "tenure_months": 3 + j, "monthly_charges": 50.5, "support_calls": 1}
        if j in bad:
            rec["monthly_charges"] = "n/a"
        lines.append(json.dumps(rec))
    return ("\n".join(lines) + "\n").encode()


def _watch(package: Path, inbox: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[bytes]:
    args = [str(package), "--watch", os.fsdecode(inbox), "--out", os.fsdecode(out), "--once", "--min-age", "0",
            "--id-field", "id", *extra]
    result = subprocess.run([*SCORER, *args], capture_output=True, timeout=120)
    assert b"Traceback" not in result.stderr, result.stderr.decode(errors="replace")
    return result


def _ids(path: Path) -> list[str]:
    return [json.loads(line)["id"] for line in path.read_bytes().splitlines() if line.strip()]


def _delivered(out: Path) -> tuple[Counter[str], Counter[str]]:
    """(scored ids, rejected ids) over every non-hidden output, as a consumer would take them."""
    scored, rejected = Counter(), Counter()
    for path in out.iterdir():
        if not path.name.startswith("."):
            (rejected if path.name.endswith(".errors.jsonl") else scored).update(_ids(path))
    return scored, rejected


def test_an_input_named_like_an_error_report_never_collides(package, tmp_path):
    """Issue 15 item 3: `x.errors.jsonl` wrote its predictions to OUT/x.errors.jsonl, then `x.jsonl`
    overwrote that file with its own error lines."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (inbox / "x.errors.jsonl").write_bytes(_records("xe"))
    (inbox / "x.jsonl").write_bytes(_records("x", bad=(1,)))
    (inbox / "X.ERRORS.jsonl").write_bytes(_records("XE"))
    assert _watch(package, inbox, out).returncode == 0
    scored, rejected = _delivered(out)
    assert scored == Counter({"xe-0": 1, "xe-1": 1, "xe-2": 1, "x-0": 1, "x-2": 1, "XE-0": 1, "XE-1": 1, "XE-2": 1})
    assert rejected == Counter({"x-1": 1})
    assert _ids(out / "x.errors.jsonl") == ["x-1"]  # the error report of x.jsonl, and only that
    assert not [p.name for p in out.iterdir() if p.name.lower().endswith(".errors.jsonl") and p.name != "x.errors.jsonl"]


def test_same_stem_different_suffix_and_a_taken_name_get_their_own_outputs(package, tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    (out / "a.jsonl").write_bytes(b"the user's own file\n")  # not ours: never touched
    for name in ("a.jsonl", "a.csv", "a.ndjson", "a.1.jsonl"):
        data = _records(name) if not name.endswith(".csv") else (
            b"id," + ",".join(FEATURES).encode() + b"\n" + b"".join(f"{name}-{j},3,50.5,1\n".encode() for j in range(3)))
        (inbox / name).write_bytes(data)
    assert _watch(package, inbox, out).returncode == 0
    assert (out / "a.jsonl").read_bytes() == b"the user's own file\n"
    scored = Counter()
    for path in out.iterdir():
        if path.name != "a.jsonl":
            scored.update(_ids(path))
    assert scored == Counter({f"{n}-{j}": 1 for n in ("a.jsonl", "a.csv", "a.ndjson", "a.1.jsonl") for j in range(3)})
    assert len(list((inbox / "done").iterdir())) == 4


def test_a_name_that_is_not_utf8_and_whose_output_is_taken(package, tmp_path):
    """Issue 15 item 5: such an input crashed the watcher while it wrote the `.reason` file, on every
    restart. Now it is scored under the next free name; a binary one fails with a readable reason."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    out.mkdir()
    raw_in, raw_out = os.fsencode(inbox), os.fsencode(out)
    with open(raw_out + b"/caf\xe9.jsonl", "wb") as handle:
        handle.write(b"an earlier output\n")
    with open(raw_in + b"/caf\xe9.jsonl", "wb") as handle:
        handle.write(_records("cafe"))
    with open(raw_in + b"/bin\xff.jsonl", "wb") as handle:
        handle.write(b"\x00\x01binary")
    for _ in range(2):  # and again: a restart finds nothing left to trip on
        result = _watch(package, inbox, out)
        assert result.returncode == 0, result.stderr
    assert open(raw_out + b"/caf\xe9.jsonl", "rb").read() == b"an earlier output\n"
    assert _ids(Path(os.fsdecode(raw_out + b"/caf\xe9.1.jsonl"))) == ["cafe-0", "cafe-1", "cafe-2"]
    reason = (inbox / "failed" / os.fsdecode(b"bin\xff.jsonl.reason")).read_text(encoding="utf-8")
    assert "binary" in reason
    assert os.listdir(raw_in + b"/.processing") == []


def test_names_too_long_for_the_derived_files(package, tmp_path):
    """A 255-byte input name: its outputs, temporaries, `.reason` and done/ names must still fit."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    long_stem = "n" * (255 - len(".jsonl"))
    (inbox / f"{long_stem}.jsonl").write_bytes(_records("long", bad=(0,)))
    (inbox / ("b" * 249 + ".jsonl")).write_bytes(b"\x00binary")
    result = _watch(package, inbox, out)
    assert result.returncode == 0, result.stderr
    scored, rejected = _delivered(out)
    assert scored == Counter({"long-1": 1, "long-2": 1}) and rejected == Counter({"long-0": 1})
    assert all(len(os.fsencode(p.name)) <= 255 for p in out.iterdir())
    assert len(list((inbox / "done").iterdir())) == 1
    assert len([p for p in (inbox / "failed").iterdir() if p.name.endswith(".reason")]) == 1


def test_links_and_fifos_in_in_dir_are_refused_never_read(package, tmp_path):
    """Issue 15 item 13: the watcher followed symlinks placed in IN_DIR (and read the file they point to)."""
    inbox, out, outside = tmp_path / "in", tmp_path / "out", tmp_path / "outside"
    inbox.mkdir()
    outside.mkdir()
    secret = outside / "secret.jsonl"
    secret.write_bytes(_records("secret"))
    (inbox / "link.jsonl").symlink_to(secret)
    (inbox / "dangling.csv").symlink_to(outside / "nothing.csv")
    os.mkfifo(inbox / "pipe.jsonl")
    (inbox / "dir.jsonl").mkdir()  # a folder with an input's name is left alone
    (inbox / "ok.jsonl").write_bytes(_records("ok"))
    result = _watch(package, inbox, out)
    assert result.returncode == 0, result.stderr
    scored, _ = _delivered(out)
    assert scored == Counter({"ok-0": 1, "ok-1": 1, "ok-2": 1})  # nothing read through the link
    failed = inbox / "failed"
    assert (failed / "link.jsonl").is_symlink() and secret.read_bytes() == _records("secret")
    assert "symbolic link" in (failed / "link.jsonl.reason").read_text()
    assert "symbolic link" in (failed / "dangling.csv.reason").read_text()
    assert "FIFO" in (failed / "pipe.jsonl.reason").read_text()
    assert (inbox / "dir.jsonl").is_dir()


def test_a_link_swapped_in_after_the_claim_is_not_read(package, tmp_path):
    """A link that reaches `.processing` (placed there, or swapped in between the scan and the claim)."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    (inbox / ".processing").mkdir(parents=True)
    secret = tmp_path / "secret.jsonl"
    secret.write_bytes(_records("secret"))
    (inbox / ".processing" / "claimed.jsonl").symlink_to(secret)
    result = _watch(package, inbox, out)
    assert result.returncode == 0, result.stderr
    assert _delivered(out) == (Counter(), Counter())
    assert "symbolic link" in (inbox / "failed" / "claimed.jsonl.reason").read_text()


@pytest.mark.parametrize("layout", ["same", "same-through-a-link", "out-in-done", "in-inside-out"])
def test_overlapping_folders_are_refused(package, tmp_path, layout):
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "a.jsonl").write_bytes(_records("a"))
    if layout == "same":
        out = inbox
    elif layout == "same-through-a-link":
        out = tmp_path / "alias"
        out.symlink_to(inbox)
    elif layout == "out-in-done":
        out = inbox / "done"
    else:
        out = tmp_path
    result = _watch(package, inbox, out)
    assert result.returncode == 2, result.stderr
    assert b"how to fix" in result.stderr and result.stderr.count(b"\n") <= 3
    assert (inbox / "a.jsonl").exists() and not (inbox / ".processing").exists()


def test_a_second_watcher_on_the_same_folders_is_refused(package, tmp_path):
    inbox, out, other = tmp_path / "in", tmp_path / "out", tmp_path / "other"
    inbox.mkdir()
    other.mkdir()
    first = subprocess.Popen([*SCORER, str(package), "--watch", str(inbox), "--out", str(out), "--interval", "0.05"],
                             stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while not (inbox / "failed").exists() and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)  # the folders exist once the first watcher holds them
        for inbox_, out_ in ((inbox, other / "out"), (other, out)):
            result = _watch(package, inbox_, out_)
            assert result.returncode == 2 and b"another edgepack-score is watching" in result.stderr, result.stderr
    finally:
        first.terminate()
        assert first.wait(timeout=30) == 0


def test_a_step_that_cannot_be_done_stops_with_exit_2_and_resumes_after_the_fix(package, tmp_path):
    """A filesystem step failing (here: something in the way of the commit marker) is a usage error with
    its reason, not a traceback; the input waits, and after the fix it is delivered once."""
    import hashlib

    inbox, out = tmp_path / "in", tmp_path / "out"
    (inbox / ".processing").mkdir(parents=True)
    (inbox / "a.jsonl").write_bytes(_records("a"))
    key = hashlib.sha256(b"a.jsonl").hexdigest()[:40]
    blocker = inbox / ".processing" / f".commit-{key}.json.tmp"
    blocker.mkdir()
    (blocker / "x").write_text("")
    result = _watch(package, inbox, out)
    assert result.returncode == 2 and b"the watch folder cannot go on" in result.stderr, result.stderr
    (blocker / "x").unlink()
    blocker.rmdir()
    assert _watch(package, inbox, out).returncode == 0
    assert _delivered(out) == (Counter({"a-0": 1, "a-1": 1, "a-2": 1}), Counter())


def test_seeded_random_names_each_record_delivered_once(package, tmp_path):
    """Random byte names (any byte but '/' and NUL, up to the 255-byte limit, suffixes in any case, stems
    that collide once lowercased or cut): every record is delivered once, nothing is overwritten, and a
    second run finds nothing left to do."""
    import random

    rng = random.Random(1515)
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    expected: set[str] = set()
    alphabet = [bytes([b]) for b in range(1, 256) if b not in (ord("/"),)]
    for i in range(40):
        suffix = rng.choice([b".jsonl", b".JSONL", b".ndjson", b".json", b".errors.jsonl", b".Errors.jsonl"])
        length = rng.choice([1, 5, 30, 255 - len(suffix)])
        stem = b"".join(rng.choice(alphabet) for _ in range(length)).lstrip(b".") or b"s"
        name = os.fsencode(inbox) + b"/" + stem[: 255 - len(suffix)] + suffix
        if os.path.lexists(name):
            continue
        with open(name, "wb") as handle:
            handle.write(_records(f"r{i}", bad=(1,)))
        expected |= {f"r{i}-0", f"r{i}-1", f"r{i}-2"}
    for _ in range(2):
        result = _watch(package, inbox, out, "--quiet")
        assert result.returncode == 0, result.stderr
    scored, rejected = _delivered(out)
    assert set(scored) | set(rejected) == expected and set((scored + rejected).values()) == {1}
    assert set(rejected) == {i for i in expected if i.endswith("-1")}
    assert sorted(os.listdir(inbox)) == [".processing", "done", "failed"] and not os.listdir(inbox / "failed")
