"""Prediction lines: `{"label": L, "probabilities": {"<class>": p, ...}, "package": N, "version": V}` or
`{"value": v, "package": N, "version": V}`, with `"id"` first when the caller names an id field.

The constant parts of a line are JSON-encoded once per scorer; a batch's text is one join of those parts
interleaved with its fields' texts (floats in their shortest round-trip form, as json.dumps writes them).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .jsonlines import dumps, number_columns


class PredictionFormatter:
    """Turns raw outputs (`Scorer.run_columns`) into JSON lines for one package."""

    def __init__(self, name: str, version: str, classes: Sequence[Any], task: str, with_id: bool,
                 keep: Sequence[str] = ()) -> None:
        tail = f', "package": {json.dumps(name)}, "version": {json.dumps(version)}}}'
        self.with_id = with_id
        self.carried = (["id"] if with_id else []) + list(keep)  # copied fields, first in each line
        self.classes = list(classes)
        self._labels = [json.dumps(_plain(c)) for c in self.classes]
        self._label_array = np.array(self._labels, dtype=object)
        self._keys = [json.dumps(str(_plain(c))) for c in self.classes]
        self._tail = tail
        # A line is constant text around per-row fields: parts[0] field parts[1] field ... parts[-1].
        # Kept as separate strings (not a %-template) so that a "%" in a name or class is plain text.
        parts = []
        opening = "{"
        for key in self.carried:
            parts.append(opening + json.dumps(key) + ": ")
            opening = ", "
        parts.append(opening)
        if task == "classification":
            parts[-1] += '"label": '
            parts.append(', "probabilities": {' + self._keys[0] + ": ")
            parts += [f", {k}: " for k in self._keys[1:]]
            parts.append("}" + tail + "\n")
        else:
            parts[-1] += '"value": '
            parts.append(tail + "\n")
        self._parts = parts

    def text(self, raw: dict[str, np.ndarray], carried: Sequence[Sequence[Any]] | None = None) -> str:
        """Every row of `raw` as one JSON line (newline-terminated), in one string; `carried`: per copied
        field (the id, then the kept fields) its values (already Python values), when the formatter has any.

        Built by one join over constant parts interleaved with the rows' field texts (slice assignment
        places each column), which is about 1.5x faster than formatting line by line."""
        if "probabilities" in raw:
            probs = np.asarray(raw["probabilities"])
            if not np.isfinite(probs).all():
                return self._slow(raw, carried)
            # first on ties, as scikit-learn's predict
            fields = [self._label_array[np.argmax(probs, axis=1)].tolist(), *number_columns(probs)]
        else:
            values = np.asarray(raw["value"]).reshape(-1, 1)
            if not np.isfinite(values).all():
                return self._slow(raw, carried)
            fields = number_columns(values)
        if self.carried:
            fields[:0] = [list(map(dumps, column)) for column in carried or [[]] * len(self.carried)]
        rows = len(fields[0])
        parts = self._parts
        step = len(parts) + len(fields)
        pieces: list[str | None] = [None] * (step * rows)
        for k, part in enumerate(parts):
            pieces[2 * k::step] = [part] * rows
        for k, column in enumerate(fields):
            pieces[2 * k + 1::step] = column
        return "".join(pieces)  # type: ignore[arg-type]

    def _slow(self, raw: dict[str, np.ndarray], carried: Sequence[Sequence[Any]] | None) -> str:
        # Non-finite outputs (a broken model): written as null, never as invalid JSON.
        out = []
        for i, row in enumerate(self.dicts(raw)):
            if carried:
                row = {**{key: column[i] for key, column in zip(self.carried, carried)}, **row}
            out.append(json.dumps(row, allow_nan=False, default=str)[:-1] + self._tail + "\n")
        return "".join(out)

    def dicts(self, raw: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """Rows as dicts without package and version (the Python API's `predict`)."""
        if "probabilities" in raw:
            probs = np.asarray(raw["probabilities"], dtype=np.float64)
            keys = [str(_plain(c)) for c in self.classes]
            best = np.argmax(probs, axis=1).tolist() if len(probs) else []
            return [{"label": _plain(self.classes[b]), "probabilities": dict(zip(keys, map(_finite, r)))}
                    for b, r in zip(best, probs.tolist())]
        return [{"value": _finite(v)} for v in np.asarray(raw["value"], dtype=np.float64).reshape(-1).tolist()]


def _finite(value: float) -> float | None:
    return value if value == value and abs(value) != float("inf") else None


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
