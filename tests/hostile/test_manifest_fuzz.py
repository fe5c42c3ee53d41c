"""Manifest fuzzing: a seeded mutator changes one field of a real package's manifest (its type, its size,
its nesting, or removes it, or adds one) and every consumer must end in a documented exit code: 0 (or 1,
a self-test outside tolerance) when the package is still usable, 4 with a one-line reason when it is not;
never a traceback, never an exception other than EdgepackError from the Python API.

Seeded (not hypothesis): a failing case is reproduced by its seed alone, and the run takes the same
few seconds every time."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import hostile
import pytest
from edgepack.runtime import EdgepackError, Scorer

CASES = 240
PROCESS_CASES = 6  # of those, also through `edgepack-score` as a process


def _nested(depth: int) -> Any:
    value: Any = 0
    for _ in range(depth):
        value = [value]
    return value


# Values a field may be replaced with: every JSON type, edge numbers, big and nested values.
VALUES: list[Any] = [
    None, True, False, 0, -1, 1, 1.0, 0.5, -1e308, 1e308, 2**63, 2**70, float("nan"), float("inf"), "", "x",
    "1", "../../etc/passwd", "/etc/passwd", "model.onnx", "\u0000", "\ud800", "a" * 100_000, [], [5], ["x"], [None],
    [{}], {}, {"a": 1}, {"name": 5}, _nested(60), "__DEEP__",
]
# written as 100,000 nested lists (json.dumps itself cannot nest that deep)
DEEP = "[" * 100_000 + "]" * 100_000


def _slots(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into the manifest (dict keys and list indices), parents before children."""
    out = [path] if path else []
    if isinstance(value, dict):
        for key, item in value.items():
            out += _slots(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value[:6]):  # the first few items of long lists (categories) are enough
            out += _slots(item, (*path, i))
    return out


def mutate(manifest: dict[str, Any], seed: int) -> tuple[dict[str, Any], str]:
    """One mutation of a copy of `manifest`, chosen by `seed`; returns it and a description."""
    rng = random.Random(seed)
    m = json.loads(json.dumps(manifest))
    path = rng.choice(_slots(m))
    parent: Any = m
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    op = rng.choice(["replace", "replace", "replace", "delete", "add", "duplicate"])
    if op == "delete":
        del parent[key]
    elif op == "add" and isinstance(parent, dict):
        parent[f"unknown_{seed}"] = rng.choice(VALUES)
    elif op == "duplicate" and isinstance(parent, list):
        parent.append(json.loads(json.dumps(parent[key])))
    else:
        op = "replace"
        parent[key] = rng.choice(VALUES)
    return m, f"seed {seed}: {op} {'.'.join(map(str, path))}"


@pytest.fixture(scope="module")
def package(built_packages, tmp_path_factory) -> tuple[Path, dict[str, Any]]:
    src = built_packages("logreg_binary")[1]
    dst = hostile.copy_package(src, tmp_path_factory.mktemp("fuzz") / "pkg")
    manifest = hostile.read_manifest(src)
    # more surface for the mutator: an artifact's file list and the variants' report that inspect shows
    art = manifest["artifacts"][0]
    art["files"] = [{"file": art["file"], "sha256": art["sha256"], "size": art["size"]}]
    manifest["quantization"] = {"requested": "auto", "calibration_rows": 80, "holdout_rows": 20, "variants": [
        {"id": "onnx-int8-dynamic", "format": "onnx", "mode": "int8-dynamic", "status": "dropped",
         "reason": "fails the int8 profile", "size": 900, "size_ratio": 0.5, "precision": "int8",
         "metrics": {"holdout": {"label_agreement": 0.9, "max_probability_error": 0.1}}}]}
    hostile.write_manifest(dst, manifest)
    assert hostile.inspect(dst, "--variants").code == 0 and hostile.api(dst).code == 0
    return dst, manifest


def _write(package: Path, manifest: dict[str, Any]) -> None:
    # allow_nan: NaN and Infinity are what a hostile manifest may hold; json.loads reads them back
    text = json.dumps(manifest, allow_nan=True, ensure_ascii=False).replace('"__DEEP__"', DEEP)
    (package / "manifest.json").write_text(text, encoding="utf-8", errors="surrogatepass")


def _check(outcome: hostile.Outcome, prefix: str, allowed: tuple[int, ...], case: str) -> None:
    assert outcome.code in allowed, (case, outcome)
    assert "Traceback" not in outcome.stderr, (case, outcome.stderr)
    if outcome.code == 4:
        assert outcome.reason_line().startswith(prefix) and len(outcome.reason_line()) < 600, (case, outcome.stderr)


def test_mutated_manifests_end_in_documented_exit_codes(package):
    path, original = package
    codes: dict[int, int] = {}
    for seed in range(CASES):
        manifest, case = mutate(original, seed)
        _write(path, manifest)
        api = hostile.api(path)  # any exception but EdgepackError fails the test here, with its traceback
        _check(api, "", (0, 1, 4), case)
        codes[api.code] = codes.get(api.code, 0) + 1
        if api.code in (0, 1):  # still loads: scoring the golden records must not raise either
            scorer = Scorer.load(path)
            golden = json.loads((path / "golden.json").read_text())
            try:
                scorer.score(golden["records"][:5])
            except EdgepackError:
                pass
        _check(hostile.inspect(path), "edgepack inspect: error:", (0, 4), case)
        _check(hostile.inspect(path, "--variants"), "edgepack inspect: error:", (0, 4), case)
    # the mutator exercises both sides: packages still usable and packages refused
    assert codes.get(4, 0) > CASES // 3 and codes.get(0, 0) > 10, codes


def test_mutated_manifests_through_the_scorer_process(package):
    path, original = package
    refused = 0
    for seed in range(1000, 1000 + PROCESS_CASES * 10):
        manifest, case = mutate(original, seed)
        _write(path, manifest)
        if hostile.api(path).code != 4:
            continue  # the process run is for refused packages: their reason must reach stderr in one line
        _check(hostile.score(path, b"{}\n"), "edgepack-score: error:", (4,), case)
        refused += 1
        if refused == PROCESS_CASES:
            break
    assert refused == PROCESS_CASES
