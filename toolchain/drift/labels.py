"""Labels that arrive later, joined by id to the predictions the scorer emitted (`--id-field`).

    --labels FILE         CSV with a header, or JSON lines: an id column and the label column
    --predictions FILES   the scorer's output lines (JSON lines with "id" and "probabilities")

Ids are compared as text (a CSV's "17" is the JSON 17). Labels without a prediction, and predictions
without a label, are counted and left out.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError
from .performance import class_indices, classification_performance


@dataclass
class Joined:
    probabilities: np.ndarray  # [N, C], classes in the manifest's order
    truth: np.ndarray  # class indices, -1 for a label the model does not know
    unmatched_labels: int
    unmatched_predictions: int


def read_labels(path: Path, id_field: str, label_column: str | None) -> dict[str, Any]:
    """id (as text) -> label. Raises DataError naming the file and the columns it has."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"cannot read the labels: {exc}", where=str(path)) from exc
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for n, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    rows.append(json.loads(line))
                except ValueError as exc:
                    raise DataError(f"not a JSON line: {exc}", where=f"{path}:{n}") from exc
    else:
        rows = list(csv.DictReader(text.splitlines()))
    columns = list(rows[0]) if rows and isinstance(rows[0], dict) else []
    label = label_column or ("label" if "label" in columns else next((c for c in columns if c != id_field), None))
    if id_field not in columns or label not in columns:
        raise DataError(f"the labels need an id column {id_field!r} and a label column; found: {', '.join(columns) or 'none'}",
                        where=str(path), fix="pass --id-field and --label-column naming the file's columns")
    return {str(r[id_field]): r[label] for r in rows}


def join(labels: dict[str, Any], predictions: list[Path], classes: list[Any], id_field: str) -> Joined:
    """Predictions with a label, in file order. Raises DataError for a line that is not a prediction."""
    probs, truth_raw, seen = [], [], set()
    keys = [str(c) for c in classes]
    unmatched = 0
    for path in predictions:
        try:
            handle = open(path, encoding="utf-8")  # noqa: SIM115  (closed by the with below)
        except OSError as exc:
            raise DataError(f"cannot read the predictions: {exc.strerror}", where=str(path)) from exc
        with handle:
            for n, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    pred = json.loads(line)
                    ident, p = str(pred[id_field]), pred["probabilities"]
                    row = [float(p[k]) for k in keys]
                except (ValueError, KeyError, TypeError) as exc:
                    raise DataError(f"not a prediction line with {id_field!r} and probabilities ({exc})",
                                    where=f"{path}:{n}",
                                    fix="pass the output of edgepack-score --id-field (a classifier's package)") from exc
                if ident not in labels:
                    unmatched += 1
                    continue
                seen.add(ident)
                probs.append(row)
                truth_raw.append(labels[ident])
    truth = class_indices(truth_raw, classes)
    matrix = np.asarray(probs, dtype=np.float64).reshape(-1, len(classes))
    return Joined(matrix, truth, len(labels) - len(seen), unmatched)


def current_performance(joined: Joined) -> dict[str, Any]:
    out = classification_performance(joined.probabilities, joined.truth)
    out["unmatched_labels"] = joined.unmatched_labels
    out["unmatched_predictions"] = joined.unmatched_predictions
    return out
