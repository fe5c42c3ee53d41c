"""On-device statistics (issue 20, item 2): windows counted in the reference profile's bins, written
atomically, merging exactly; the profile is a listed, checksummed file of every package."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from edgepack.runtime import Package, Scorer
from edgepack.runtime.errors import PackageError, UsageError
from edgepack.runtime.profile import empty_window, load_profile, merge_into
from edgepack.runtime.signing import listed_files
from edgepack.runtime.stats import StatsCollector, parse_every
from edgepack.runtime.stream import StreamOptions, StreamScorer
from scorer_helpers import jsonl, run_scorer


def _windows(folder):
    return [json.loads(p.read_text()) for p in sorted(folder.glob("*.stats.json"))]


def test_profile_is_listed_checksummed_and_signed(strict_package, tmp_path):
    package = Package.open(strict_package.path)
    entry = package.manifest["reference_profile"]
    assert entry["file"] in listed_files(package.manifest)  # so signatures cover it
    profile = load_profile(package)
    assert profile["rows"] == 300 and set(profile["features"]) == set(strict_package.features)
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(strict_package.path, copy)
    text = (copy / entry["file"]).read_text().replace('"rows": 300', '"rows": 301')
    (copy / entry["file"]).write_text(text)
    with pytest.raises(PackageError, match="checksum"):
        load_profile(Package.open(copy))


def test_window_counts_are_the_reference_bins_counted_by_hand(strict_package, tmp_path):
    scorer = Scorer.load(strict_package.path)
    records = strict_package.records(100)
    bad = dict(records[0], contract="ten-year")  # refused by this model: counted as rejected, by field
    stats = StatsCollector(scorer.package, tmp_path / "stats", every="1h", device="gw1")
    sink = io.BytesIO()
    StreamScorer(scorer, sink, io.StringIO(), StreamOptions(), stats=stats).run(io.BytesIO(jsonl(records + [bad]).encode()))
    assert stats.close() is not None
    (window,) = _windows(tmp_path / "stats")
    assert (window["records"], window["scored"], window["rejected"]) == (101, 100, 1)
    assert window["rejected_by_field"] == {"contract": 1} and window["device"] == "gw1"
    profile = load_profile(scorer.package)
    edges = profile["features"]["monthly_charges"]["edges"]
    values = [r["monthly_charges"] for r in records]
    bounds = [-np.inf, *edges, np.inf]
    by_hand = [sum(1 for v in values if lo < v <= hi) for lo, hi in zip(bounds, bounds[1:])]
    assert window["features"]["monthly_charges"]["counts"] == by_hand
    cats = profile["features"]["contract"]["categories"]
    assert window["features"]["contract"]["counts"] == [sum(r["contract"] == c for r in records) for c in cats]
    probs = np.array([[p["probabilities"][k] for k in ("0", "1")] for p in map(json.loads, sink.getvalue().splitlines())])
    assert window["outputs"]["labels"] == np.bincount(np.argmax(probs, 1), minlength=2).tolist()
    assert not list((tmp_path / "stats").glob(".*"))  # no temporary left behind


def test_windows_of_a_split_stream_merge_to_the_whole(strict_package, tmp_path):
    scorer = Scorer.load(strict_package.path)
    data = jsonl(strict_package.records(100)).encode()
    whole = StatsCollector(scorer.package, tmp_path / "whole")
    StreamScorer(scorer, io.BytesIO(), io.StringIO(), StreamOptions(), stats=whole).run(io.BytesIO(data))
    whole.close()
    parts = StatsCollector(scorer.package, tmp_path / "parts", every="30")
    # small micro-batches so that windows close inside the stream (at the first batch past 30 records)
    StreamScorer(scorer, io.BytesIO(), io.StringIO(), StreamOptions(batch_bytes=2000), stats=parts).run(io.BytesIO(data))
    parts.close()
    windows = _windows(tmp_path / "parts")
    assert len(windows) >= 3
    profile = load_profile(scorer.package)
    merged = empty_window(profile)
    for window in reversed(windows):  # any order
        merge_into(merged, window)
    (single,) = _windows(tmp_path / "whole")
    for key in ("records", "scored", "features", "outputs"):
        assert merged[key] == single[key], key


def test_python_api_counts_a_batch(strict_package, tmp_path):
    scorer = Scorer.load(strict_package.path)
    stats = StatsCollector(scorer.package, tmp_path, every="10")
    scorer.score(strict_package.records(12), stats=stats)
    (window,) = _windows(tmp_path)  # 12 records passed the 10-record mark: written
    assert window["scored"] == 12


def test_cli_writes_windows_and_refuses_bad_options(strict_package, tmp_path):
    done = run_scorer([strict_package.path, "--stats", tmp_path / "s", "--stats-every", "5m", "--quiet"],
                      stdin=jsonl(strict_package.records(20)))
    assert done.returncode == 0, done.stderr
    assert _windows(tmp_path / "s")[0]["scored"] == 20
    bad = run_scorer([strict_package.path, "--stats", tmp_path / "s", "--stats-every", "soon"], stdin="")
    assert bad.returncode == 2 and b"--stats-every" in bad.stderr and b"Traceback" not in bad.stderr


@pytest.mark.parametrize(("text", "want"), [("10000", (10000, None)), ("300s", (None, 300.0)), ("5m", (None, 300.0)),
                                            ("1h", (None, 3600.0))])
def test_stats_every(text, want):
    assert parse_every(text) == want


@pytest.mark.parametrize("text", ["0", "-5", "soon", "5x", ""])
def test_stats_every_refuses(text):
    with pytest.raises(UsageError):
        parse_every(text)


def test_watch_folder_counts_every_file(strict_package, tmp_path):
    import os
    import time

    from edgepack.runtime.watch import WatchOptions, watch

    scorer = Scorer.load(strict_package.path)
    inbox = tmp_path / "in"
    inbox.mkdir()
    for name, rows in (("a.jsonl", 7), ("b.jsonl", 5)):
        path = inbox / name
        path.write_text(jsonl(strict_package.records(rows)))
        os.utime(path, (time.time() - 10, time.time() - 10))
    stats = StatsCollector(scorer.package, tmp_path / "stats")
    watch(scorer, inbox, tmp_path / "out", WatchOptions(once=True, min_age=0, quiet=True), stats=stats)
    stats.close()
    assert sum(w["scored"] for w in _windows(tmp_path / "stats")) == 12


def test_line_buffered_records_are_counted_like_a_batch(strict_package, tmp_path):
    # one record per batch waits in the collector (runtime/stats.py: SMALL_BATCH) and is counted in groups
    scorer = Scorer.load(strict_package.path)
    data = jsonl(strict_package.records(100)).encode()
    for name, options in (("lines", StreamOptions(line_buffered=True)), ("batch", StreamOptions())):
        stats = StatsCollector(scorer.package, tmp_path / name)
        StreamScorer(scorer, io.BytesIO(), io.StringIO(), options, stats=stats).run(io.BytesIO(data))
        stats.close()
    (lines,), (batch,) = _windows(tmp_path / "lines"), _windows(tmp_path / "batch")
    assert lines["scored"] == 100
    for key in ("features", "outputs"):
        assert lines[key] == batch[key], key


def test_hostile_profile_entries_are_refused(strict_package, tmp_path):
    import shutil

    copy = tmp_path / "pkg"
    shutil.copytree(strict_package.path, copy)
    manifest = json.loads((copy / "manifest.json").read_text())
    manifest["reference_profile"] = "profile.json"  # not an entry
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match="reference_profile"):
        load_profile(Package.open(copy))
    manifest["reference_profile"] = {"file": "../outside.json", "sha256": "0" * 64, "size": 1}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match="unsafe path"):
        Package.open(copy)
    (copy / "junk.json").write_text("[1, 2]")
    manifest["reference_profile"] = {"file": "junk.json", "sha256": __import__("hashlib").sha256(b"[1, 2]").hexdigest(),
                                     "size": 6}
    (copy / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(PackageError, match="not an edgepack reference profile"):
        load_profile(Package.open(copy))
    done = run_scorer([copy, "--stats", tmp_path / "s"], stdin="")
    assert done.returncode == 4 and b"Traceback" not in done.stderr


def test_bin_counts_is_the_rule_counted_by_hand():
    from edgepack.runtime.profile import bin_counts, padded_edges

    rng = np.random.default_rng(0)
    for _ in range(100):
        n, f = int(rng.integers(0, 40)), int(rng.integers(1, 5))
        X = np.round(rng.normal(size=(n, f)), 1)  # ties with the edges on purpose
        X[rng.random((n, f)) < 0.2] = np.nan
        lists = [sorted(set(np.round(rng.normal(size=int(rng.integers(0, 5))), 1).tolist())) for _ in range(f)]
        got = bin_counts(X, padded_edges(lists))
        for j, edges in enumerate(lists):
            bounds = [-np.inf, *edges, np.inf]
            want = [int(np.sum((X[:, j] > lo) & (X[:, j] <= hi))) for lo, hi in zip(bounds, bounds[1:])]
            assert got[j, : len(edges) + 1].tolist() == want
            assert got[j, -1] == int(np.isnan(X[:, j]).sum())
        assert bin_counts(X[:, 0], np.asarray(lists[0])).tolist() == got[0, : len(lists[0]) + 1].tolist() + [got[0, -1]]
