"""`edgepack drift --engine spark`: when the statistics windows or the labels are many, Spark reads and
merges them in its executors; the driver receives one merged window per (device, day) and the matched
(probabilities, label) pairs, and the report is computed as on one machine (windows sum exactly, so the
result is the same figure by figure; tests/spark/test_spark_drift_engine.py compares both)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from ...converters.sources import spark_session
from ...runtime.errors import DataError
from ...runtime.profile import WINDOW_FORMAT, empty_window, merge_into
from .labels import Joined
from .performance import class_indices
from .windows import Windows, expand, group_key


def _checked(path: str, text: str, profile_sha256: str) -> dict[str, Any]:
    """A window file's content, or a DataError naming the file (raised in the executor, reported by the driver)."""
    try:
        window = json.loads(text)
    except ValueError as exc:
        raise DataError(f"cannot read the statistics file: {exc}", where=path) from exc
    if not isinstance(window, dict) or window.get("format") != WINDOW_FORMAT:
        raise DataError("not an edgepack statistics window", where=path)
    if window.get("package", {}).get("profile_sha256") != profile_sha256:
        raise DataError("this window was counted for another package version's reference profile", where=path)
    return window


def merged_windows(paths: list[Path], profile: dict[str, Any], profile_sha256: str, master: str | None) -> Windows:
    """Every window read and summed per (device, day) in Spark. Raises DataError like read_windows."""
    files = [str(p.resolve()) for p in expand(paths)]
    if not files:
        raise DataError("no statistics windows to read", where=", ".join(map(str, paths)),
                        fix="pass *.stats.json files or folders holding them (edgepack-score --stats DIR)")
    spark = spark_session.acquire(master)
    try:
        def start(window: dict[str, Any]) -> dict[str, Any]:
            total = empty_window(profile)
            total.update({k: window.get(k) for k in ("start", "end", "device", "package", "format")})
            total["windows"] = 0
            return add(total, window)

        def add(total: dict[str, Any], window: dict[str, Any]) -> dict[str, Any]:
            merge_into(total, window)
            total["windows"] = int(total.get("windows", 0)) + int(window.get("windows", 1))
            total["start"] = min(str(total.get("start") or window.get("start", "")), str(window.get("start", "")))
            total["end"] = max(str(total.get("end", "")), str(window.get("end", "")))
            return total

        def both(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
            b = dict(b, windows=b.get("windows", 1))
            return add(a, b)

        pairs = (spark.sparkContext.wholeTextFiles(",".join(files))
                 .map(lambda item: _checked(item[0], item[1], profile_sha256))
                 .map(lambda w: ((group_key(w, "device"), group_key(w, "day")), w)))
        try:
            merged = pairs.combineByKey(start, add, both).values().collect()
        except Exception as exc:  # an executor's DataError arrives wrapped by Py4J: keep its words
            words = str(exc)
            marker = "DataError: "
            raise DataError(words[words.index(marker) + len(marker):].splitlines()[0] if marker in words else words[-300:],
                            fix="pass the *.stats.json files edgepack-score --stats wrote, for this package version") from None
    finally:
        spark_session.release()
    merged.sort(key=lambda w: (str(w.get("start", "")), str(w.get("device", ""))))
    return Windows(merged, files)


def joined(labels: Path, predictions: list[Path], classes: list[Any], id_field: str, label_column: str | None,
           master: str | None) -> Joined:
    """Labels joined by id to the scorer's prediction lines in Spark; only the matched pairs come back."""
    from pyspark.sql import functions as F

    spark = spark_session.acquire(master)
    try:
        if labels.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            table = spark.read.json(str(labels.resolve()))
        else:
            table = spark.read.option("header", True).csv(str(labels.resolve()))
        columns = table.columns
        label = label_column or ("label" if "label" in columns else next((c for c in columns if c != id_field), None))
        if id_field not in columns or label not in columns:
            raise DataError(f"the labels need an id column {id_field!r} and a label column; found: {', '.join(columns)}",
                            where=str(labels), fix="pass --id-field and --label-column naming the file's columns")
        truth = table.select(F.col(id_field).cast("string").alias("_id"), F.col(label).cast("string").alias("_label"))
        preds = spark.read.json([str(p.resolve()) for p in predictions])
        if id_field not in preds.columns or "probabilities" not in preds.columns:
            raise DataError(f"not prediction lines with {id_field!r} and probabilities", where=str(predictions[0]),
                            fix="pass the output of edgepack-score --id-field (a classifier's package)")
        keys = [str(c) for c in classes]
        probs = preds.select(F.col(id_field).cast("string").alias("_id"),
                             *[F.col("probabilities").getField(k).cast("double").alias(f"_p{i}") for i, k in enumerate(keys)])
        both = probs.join(truth, "_id", "inner")
        rows = both.select(*[f"_p{i}" for i in range(len(keys))], "_label").collect()
        n_labels, n_preds, n_both = truth.count(), probs.count(), len(rows)
    finally:
        spark_session.release()
    matrix = np.asarray([[r[f"_p{i}"] for i in range(len(keys))] for r in rows], dtype=np.float64).reshape(-1, len(keys))
    # labels come back as text: map them to the classes by their text (as the one-machine path compares ids)
    text_classes = {str(c): c for c in classes}
    truth_values = [text_classes.get(r["_label"], r["_label"]) for r in rows]
    return Joined(matrix, class_indices(truth_values, classes), n_labels - n_both, n_preds - n_both)
