"""Watch-folder mode: one output per input, done/ and failed/, SIGTERM, and SIGKILL at any moment."""

from __future__ import annotations

import hashlib
import json
import random
import signal
import subprocess
import time
from collections import Counter

from edgepack.runtime.watch_ledger import Commit, Ledger
from scorer_helpers import SCORER, read_lines, run_scorer


def _drop(folder, name, records, bad_every=0):
    """Write an input file with ids `name-j`; every `bad_every`-th record has a text in a numeric field."""
    lines = []
    for j, rec in enumerate(records):
        rec = {"id": f"{name}-{j}", **rec}
        if bad_every and j % bad_every == bad_every - 1:
            rec["monthly_charges"] = "n/a"
        lines.append(json.dumps(rec))
    (folder / f"{name}.jsonl").write_text("\n".join(lines) + "\n")


def _watch_args(pkg, tmp_path, *extra):
    return [pkg.path, "--watch", tmp_path / "in", "--out", tmp_path / "out", "--id-field", "id", "--min-age", "0",
            "--quiet", *extra]


def _ids(paths):
    return Counter(line["id"] for path in paths for line in read_lines(path))


def test_files_become_outputs_and_move_to_done(strict_package, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    records = strict_package.records(6)
    _drop(inbox, "a", records, bad_every=3)
    header = ",".join(strict_package.features)
    (inbox / "b.csv").write_text(header + "\n" + "\n".join(",".join(str(r[f]) for f in strict_package.features)
                                                          for r in records) + "\n")
    (inbox / "empty.jsonl").write_text("")
    (inbox / "wrong.csv").write_text("colour\nred\n")
    (inbox / "binary.jsonl").write_bytes(b"\x00\x01\x02")
    (inbox / ".partial.jsonl").write_text("{")  # hidden: a producer still writing
    (inbox / "notes.txt").write_text("ignored")
    result = run_scorer(_watch_args(strict_package, tmp_path, "--once"))
    assert result.returncode == 0, result.stderr
    out = tmp_path / "out"
    assert sorted(p.name for p in out.iterdir()) == ["a.errors.jsonl", "a.jsonl", "b.jsonl", "empty.jsonl"]
    assert [r["id"] for r in read_lines(out / "a.jsonl")] == ["a-0", "a-1", "a-3", "a-4"]
    assert [(e["line"], e["field"], e["id"]) for e in read_lines(out / "a.errors.jsonl")] == [
        (3, "monthly_charges", "a-2"), (6, "monthly_charges", "a-5")]
    assert len(read_lines(out / "b.jsonl")) == 6 and (out / "empty.jsonl").read_text() == ""
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.jsonl", "b.csv", "empty.jsonl"]
    failed = inbox / "failed"
    assert sorted(p.name for p in failed.iterdir()) == ["binary.jsonl", "binary.jsonl.reason", "wrong.csv", "wrong.csv.reason"]
    assert "missing column(s)" in (failed / "wrong.csv.reason").read_text()
    assert sorted(p.name for p in inbox.iterdir()) == [".partial.jsonl", ".processing", "done", "failed", "notes.txt"]

    # A new file reusing a name whose outputs are still there must not overwrite them: it gets the next name.
    _drop(inbox, "a", records[:1])
    assert run_scorer(_watch_args(strict_package, tmp_path, "--once")).returncode == 0
    assert len(read_lines(out / "a.jsonl")) == 4 and len(read_lines(out / "a.errors.jsonl")) == 2
    assert [r["id"] for r in read_lines(out / "a.1.jsonl")] == ["a-0"]
    assert sorted(p.name for p in (inbox / "done").iterdir()) == ["a.jsonl", "a.jsonl.1", "b.csv", "empty.jsonl"]


def _commit(work, name, publish, sha256=None):
    """The commit marker a run writes at its commit point (step 3), for the claimed input `work/name`."""
    if sha256 is None:
        sha256 = hashlib.sha256((work / name).read_bytes()).hexdigest()
    Ledger(work).write(Commit(name, sha256, tuple(publish), 3, 0))


def test_restart_finishes_each_crash_window(strict_package, tmp_path):
    """The states a kill can leave behind, set up by hand; a restart resolves each exactly once, and an
    output a consumer has already taken is never written again."""
    inbox, out = tmp_path / "in", tmp_path / "out"
    work = inbox / ".processing"
    work.mkdir(parents=True)
    out.mkdir()
    records = strict_package.records(3)
    hand = "".join(json.dumps({"id": f"hidden-{j}", "from": "temporary"}) + "\n" for j in range(3))

    _drop(work, "claimed", records)  # killed while scoring: nothing committed
    (out / ".claimed.jsonl.tmp").write_text('{"id": "claimed-0"}\n')  # its half-written temporary
    _drop(work, "hidden", records)  # killed after the commit, before the publish: the temporary is the output
    (out / ".hidden.jsonl.tmp").write_text(hand)
    _commit(work, "hidden.jsonl", [(".hidden.jsonl.tmp", "hidden.jsonl")])
    _drop(work, "taken", records)  # killed after the publish, before the release; GetFile took the output since
    _commit(work, "taken.jsonl", [(".taken.jsonl.tmp", "taken.jsonl")])
    _drop(work, "stale", records)  # a marker left by an earlier file of the same name vouches for nothing
    _commit(work, "stale.jsonl", [(".stale.jsonl.tmp", "stale.jsonl")], sha256="0" * 64)
    _commit(work, "gone.jsonl", [(".gone.jsonl.tmp", "gone.jsonl")], sha256="1" * 64)  # released, then killed
    _drop(inbox, "fresh", records)

    assert run_scorer(_watch_args(strict_package, tmp_path, "--once")).returncode == 0
    assert (out / "hidden.jsonl").read_text() == hand  # published as committed, not scored again
    assert not (out / "taken.jsonl").exists()  # delivered once already: not scored again
    assert _ids(out.glob("*.jsonl")) == Counter({f"{n}-{j}": 1 for n in ("claimed", "hidden", "stale", "fresh")
                                                 for j in range(3)})
    assert not list(work.iterdir()) and not list(out.glob(".*"))
    assert sorted(p.name for p in (inbox / "done").iterdir()) == [
        "claimed.jsonl", "fresh.jsonl", "hidden.jsonl", "stale.jsonl", "taken.jsonl"]


def test_sigkill_at_random_moments_then_restart_loses_and_repeats_nothing(strict_package, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    records = strict_package.records(40)
    files = 120
    for i in range(files):
        _drop(inbox, f"f{i:03d}", records, bad_every=7)
    rng = random.Random(11)
    kills = 0
    for _ in range(6):
        proc = subprocess.Popen([*SCORER, *map(str, _watch_args(strict_package, tmp_path, "--interval", "0.05"))],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        kills += 1
        if not any(p.suffix == ".jsonl" for p in inbox.iterdir()) and not list((inbox / ".processing").iterdir()):
            break
    assert run_scorer(_watch_args(strict_package, tmp_path, "--once")).returncode == 0
    out = tmp_path / "out"
    scored = _ids(p for p in out.glob("*.jsonl") if not p.name.endswith(".errors.jsonl"))
    rejected = _ids(out.glob("*.errors.jsonl"))
    expected_bad = {f"f{i:03d}-{j}" for i in range(files) for j in range(len(records)) if j % 7 == 6}
    expected_good = {f"f{i:03d}-{j}" for i in range(files) for j in range(len(records))} - expected_bad
    assert set(scored) == expected_good and set(scored.values()) == {1}
    assert set(rejected) == expected_bad and set(rejected.values()) == {1}
    assert len(list((inbox / "done").iterdir())) == files
    assert not list(out.glob(".*")) and kills >= 1


def test_sigterm_finishes_the_current_file_and_exits_0(strict_package, tmp_path):
    inbox = tmp_path / "in"
    inbox.mkdir()
    for i in range(30):
        _drop(inbox, f"g{i:02d}", strict_package.records(50))
    proc = subprocess.Popen([*SCORER, *map(str, _watch_args(strict_package, tmp_path, "--interval", "0.05"))],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not (tmp_path / "out").exists() or not list((tmp_path / "out").glob("g*")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    out_files = sorted((tmp_path / "out").glob("g*.jsonl"))
    assert all(len(read_lines(p)) == 50 for p in out_files)  # every committed file is whole
    assert not list((inbox / ".processing").iterdir())
    assert len(out_files) == len(list((inbox / "done").iterdir()))


def test_output_that_cannot_be_written_keeps_the_input_for_a_retry(strict_package, tmp_path):
    inbox, out = tmp_path / "in", tmp_path / "out"
    inbox.mkdir()
    (out / ".a.jsonl.tmp").mkdir(parents=True)  # the temporary output cannot be created: like a full disk
    _drop(inbox, "a", strict_package.records(3))
    result = run_scorer(_watch_args(strict_package, tmp_path, "--once"))
    assert result.returncode == 2 and b"cannot write the output for a.jsonl" in result.stderr
    assert [p.name for p in (inbox / ".processing").iterdir()] == ["a.jsonl"]
    assert not list((inbox / "failed").iterdir())
    (out / ".a.jsonl.tmp").rmdir()
    assert run_scorer(_watch_args(strict_package, tmp_path, "--once")).returncode == 0
    assert _ids([out / "a.jsonl"]) == Counter({"a-0": 1, "a-1": 1, "a-2": 1})
