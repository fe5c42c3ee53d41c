"""Reference profiles and window statistics: binned counts of features and outputs, the same bins everywhere.

A package's reference profile (`profile.json`, written by `edgepack build`, listed and checksummed by
the manifest's `reference_profile` entry) fixes, per feature and output, the bins the device counts in:

    numbers   interior quantile edges e1 < ... < ek of the reference; bin i holds e(i-1) < x <= e(i)
              (the first is (-inf, e1], the last (ek, inf)); one more slot counts missing values
    category  one count per category the manifest knows, then `unseen` (names kept up to MAX_UNSEEN)
              and missing
    outputs   per class score (probabilities) with quantile edges, predicted labels per class;
              regression values like a number

`bin_counts` is the one binning rule: the build counts the reference with it, the device counts its
windows with it. Windows are sums of counts (plus min/max), so `merge_windows` combines the files of a
fleet exactly, in any order. numpy and the standard library only (this module ships to devices).
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import numpy as np

from .errors import PackageError

PROFILE_FILE = "profile.json"
PROFILE_FORMAT = "edgepack-profile"
WINDOW_FORMAT = "edgepack-stats"
VERSION = 1
DEFAULT_BINS = 10
MAX_UNSEEN = 20  # unseen category names kept per feature and window; the rest are counted, not named


# -- the one binning rule -----------------------------------------------------------------------------------
def quantile_edges(values: np.ndarray, bins: int = DEFAULT_BINS) -> list[float]:
    """Interior edges at the 1/bins .. (bins-1)/bins quantiles of the finite values, repeated edges dropped
    (a value held by many rows gets one bin, not several empty ones)."""
    finite = values[np.isfinite(values)]
    if not finite.size:
        return []
    qs = np.quantile(finite, np.arange(1, bins) / bins)
    return [float(e) for e in np.unique(qs)]


def bin_counts(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of float64 values in the bins of their edges, then the NaN count.

    1-D: `values` [N], `edges` [K] -> [K + 1 bins, missing]. 2-D, F columns at once: `values` [N, F],
    `edges` [K, F] (column j's edges, padded with +inf where it has fewer) -> [F, K + 2]. Bin i holds
    e(i-1) < x <= e(i): each column is sorted (NaN last) and the count of values <= each edge found by
    binary search, so the bins are differences of those counts. On the device's batches (2,000 rows x 30
    features, 11 edges) that is 2.3x faster than one comparison pass per edge and 4x a searchsorted of
    every value: numpy's sort is vectorised, and only K lookups per column remain."""
    one = values.ndim == 1
    X = values.reshape(-1, 1) if one else values
    E = edges.reshape(-1, 1) if edges.ndim == 1 else edges
    k, (n, f) = E.shape[0], X.shape
    S = np.sort(X.T, axis=1)  # [F, N], NaN sorts last
    bounds = np.vstack([E, np.full((1, f), np.inf)])  # <= inf: every value but NaN
    below = np.empty((f, k + 1), dtype=np.int64)
    for j in range(f):
        below[j] = np.searchsorted(S[j], bounds[:, j], side="right")
    counts = np.empty((f, k + 2), dtype=np.int64)
    counts[:, 0] = below[:, 0]
    counts[:, 1:k + 1] = np.diff(below, axis=1)
    counts[:, k + 1] = n - below[:, k]
    return counts[0] if one else counts


def padded_edges(edge_lists: list[list[float]]) -> np.ndarray:
    """Edges of several columns as one [K, F] block for bin_counts, +inf where a column has fewer."""
    k = max((len(e) for e in edge_lists), default=0)
    block = np.full((k, len(edge_lists)), np.inf)
    for j, edges in enumerate(edge_lists):
        block[: len(edges), j] = edges
    return block


def category_counts(values: Any, known: dict[str, int]) -> tuple[np.ndarray, Counter[Any]]:
    """Counts per known category (then missing) and a Counter of the values the profile does not know."""
    tally = Counter(values.tolist() if isinstance(values, np.ndarray) else values)
    counts = np.zeros(len(known) + 1, dtype=np.int64)
    unseen: Counter[Any] = Counter()
    for value, n in tally.items():
        slot = known.get(value)
        if slot is not None:
            counts[slot] += n
        elif value is None or value != value:
            counts[-1] += n
        else:
            unseen[value] = n
    return counts, unseen


# -- the reference profile (built by the toolchain from the sample or --reference-data) -----------------------
def reference_profile(features: list[dict[str, Any]], columns: dict[str, np.ndarray], outputs: dict[str, np.ndarray],
                      classes: list[Any], bins: int = DEFAULT_BINS, source: str = "sample") -> dict[str, Any]:
    """The profile of reference data: `features` as the manifest lists them, `columns` as the runtime encodes
    them (float64 with NaN; categories as str with None missing), `outputs` the model's own outputs on them
    ({"probabilities": [N, C]} or {"value": [N]})."""
    rows = len(next(iter(columns.values()))) if columns else 0
    profile: dict[str, Any] = {"format": PROFILE_FORMAT, "version": VERSION, "source": source, "rows": int(rows),
                               "bins": bins, "features": {}, "outputs": {}}
    for feat in features:
        if feat["type"] == "text":  # free text has no bins: the profile leaves it out (the outputs still drift)
            continue
        col = columns[feat["name"]]
        if feat["type"] == "category":
            cats = list(feat.get("categories") or [])
            counts, unseen = category_counts(col, {c: i for i, c in enumerate(cats)})
            profile["features"][feat["name"]] = {"kind": "category", "categories": cats,
                                                 "counts": counts[:-1].tolist(), "missing": int(counts[-1]),
                                                 "unseen": int(sum(unseen.values()))}
        else:
            profile["features"][feat["name"]] = _numeric_entry(np.asarray(col, dtype=np.float64), bins)
    if "probabilities" in outputs:
        probs = np.asarray(outputs["probabilities"], dtype=np.float64)
        profile["outputs"]["scores"] = {str(c): _numeric_entry(probs[:, j], bins) for j, c in enumerate(classes)}
        labels = np.bincount(np.argmax(probs, axis=1), minlength=len(classes)) if len(probs) else np.zeros(len(classes))
        profile["outputs"]["labels"] = {"classes": [str(c) for c in classes], "counts": [int(n) for n in labels]}
    elif "value" in outputs:
        profile["outputs"]["value"] = _numeric_entry(np.asarray(outputs["value"], dtype=np.float64).reshape(-1), bins)
    return profile


def _numeric_entry(values: np.ndarray, bins: int) -> dict[str, Any]:
    edges = quantile_edges(values, bins)
    counts = bin_counts(values, np.asarray(edges, dtype=np.float64))
    finite = values[np.isfinite(values)]
    return {"kind": "number", "edges": edges, "counts": counts[:-1].tolist(), "missing": int(counts[-1]),
            "min": float(finite.min()) if finite.size else None, "max": float(finite.max()) if finite.size else None}


# -- merging windows --------------------------------------------------------------------------------------
def empty_window(profile: dict[str, Any]) -> dict[str, Any]:
    """A window with every count at zero, shaped by `profile` (what merge_windows starts from)."""
    def number(entry: dict[str, Any]) -> dict[str, Any]:
        return {"counts": [0] * (len(entry["edges"]) + 1), "missing": 0, "below": 0, "above": 0}

    features: dict[str, Any] = {}
    for name, entry in profile["features"].items():
        if entry["kind"] == "category":
            features[name] = {"counts": [0] * len(entry["categories"]), "missing": 0, "unseen": 0, "unseen_names": {}}
        else:
            features[name] = number(entry)
    outputs: dict[str, Any] = {}
    if "scores" in profile["outputs"]:
        outputs["scores"] = {c: number(e) for c, e in profile["outputs"]["scores"].items()}
        outputs["labels"] = [0] * len(profile["outputs"]["labels"]["counts"])
    if "value" in profile["outputs"]:
        outputs["value"] = number(profile["outputs"]["value"])
    return {"records": 0, "scored": 0, "rejected": 0, "rejected_by_field": {}, "features": features, "outputs": outputs}


def merge_into(total: dict[str, Any], window: dict[str, Any]) -> None:
    """Add `window`'s counts to `total` (both shaped by the same profile). Raises ValueError when the
    shapes differ (windows of another package version)."""
    for key in ("records", "scored", "rejected"):
        total[key] += int(window.get(key, 0))
    for field, n in window.get("rejected_by_field", {}).items():
        total["rejected_by_field"][field] = total["rejected_by_field"].get(field, 0) + int(n)
    for name, entry in total["features"].items():
        _merge_entry(entry, window["features"][name], name)
    outs = total["outputs"]
    if "scores" in outs:
        for c, entry in outs["scores"].items():
            _merge_entry(entry, window["outputs"]["scores"][c], f"score {c}")
        outs["labels"] = _add(outs["labels"], window["outputs"]["labels"], "labels")
    if "value" in outs:
        _merge_entry(outs["value"], window["outputs"]["value"], "value")


def _merge_entry(total: dict[str, Any], part: dict[str, Any], where: str) -> None:
    total["counts"] = _add(total["counts"], part["counts"], where)
    for key in ("missing", "below", "above", "unseen"):
        if key in total:
            total[key] += int(part.get(key, 0))
    if "min" in total:
        lows = [v for v in (total["min"], part.get("min")) if v is not None]
        highs = [v for v in (total["max"], part.get("max")) if v is not None]
        total["min"], total["max"] = (min(lows) if lows else None), (max(highs) if highs else None)
    if "unseen_names" in total:
        for value, n in part.get("unseen_names", {}).items():
            total["unseen_names"][value] = total["unseen_names"].get(value, 0) + int(n)


def _add(a: list[int], b: list[int], where: str) -> list[int]:
    if len(a) != len(b):
        raise ValueError(f"{where}: {len(b)} bins where the profile has {len(a)} (a window of another package?)")
    return [x + int(y) for x, y in zip(a, b)]


def load_profile(package: Any) -> dict[str, Any]:
    """The package's reference profile, checksum-verified. Raises PackageError when the file fails its
    checksum, KeyError when the package has none (built before profiles existed)."""
    entry = package.manifest["reference_profile"]
    if not (isinstance(entry, dict) and isinstance(entry.get("file"), str) and isinstance(entry.get("sha256"), str)):
        raise PackageError("manifest.json: reference_profile must name a file and its sha256",
                           where=str(package.location), fix="rebuild the package with edgepack build")
    data = package.verify_file(entry["file"], entry["sha256"], size=entry.get("size"), what="reference profile")
    try:
        profile = json.loads(data)
    except (UnicodeDecodeError, ValueError, RecursionError):
        profile = None
    if not (isinstance(profile, dict) and profile.get("format") == PROFILE_FORMAT and isinstance(profile.get("features"), dict)):
        raise PackageError(f"{entry['file']} is not an edgepack reference profile", where=str(package.location),
                           fix="rebuild the package with edgepack build")
    return profile
