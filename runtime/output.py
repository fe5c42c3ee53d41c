"""Prediction lines: `{"label": L, "probabilities": {"<class>": p, ...}, "package": N, "version": V}` or
`{"value": v, "package": N, "version": V}`, with `"id"` first when the caller names an id field.

The constant parts of a line are JSON-encoded once per scorer, so a line costs one `%` format with
float reprs (Python's shortest round-trip form, as json.dumps writes floats).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from .jsonlines import dumps, number_columns


class PredictionFormatter:
    """Turns raw outputs (`Scorer.run_columns`) into JSON lines for one package."""

    def __init__(self, name: str, version: str, classes: Sequence[Any], task: str, with_id: bool) -> None:
        tail = f', "package": {json.dumps(name)}, "version": {json.dumps(version)}}}'
        head = '{"id": %s, ' if with_id else "{"
        self.with_id = with_id
        self.classes = list(classes)
        self._labels = [json.dumps(_plain(c)) for c in self.classes]
        self._label_array = np.array(self._labels, dtype=object)
        self._keys = [json.dumps(str(_plain(c))) for c in self.classes]
        self._tail = tail
        if task == "classification":
            probs = ", ".join(f"{k}: %s" for k in self._keys)
            self._template = head + '"label": %s, "probabilities": {' + probs + "}" + tail
        else:
            self._template = head + '"value": %s' + tail

    def lines(self, raw: dict[str, np.ndarray], ids: Sequence[Any] | None = None) -> list[str]:
        """One JSON text per row of `raw`; `ids` (already Python values) when the formatter has an id."""
        tmpl = self._template
        if "probabilities" in raw:
            probs = np.asarray(raw["probabilities"])
            if not np.isfinite(probs).all():
                return self._slow(raw, ids)
            # first on ties, as scikit-learn's predict
            labels = self._label_array[np.argmax(probs, axis=1)].tolist()
            columns = number_columns(probs)
            if self.with_id:
                return list(map(tmpl.__mod__, zip(map(dumps, ids or ()), labels, *columns)))
            return list(map(tmpl.__mod__, zip(labels, *columns)))
        values = np.asarray(raw["value"]).reshape(-1, 1)
        if not np.isfinite(values).all():
            return self._slow(raw, ids)
        (texts,) = number_columns(values)
        if self.with_id:
            return list(map(tmpl.__mod__, zip(map(dumps, ids or ()), texts)))
        return list(map(tmpl.__mod__, texts))

    def _slow(self, raw: dict[str, np.ndarray], ids: Sequence[Any] | None) -> list[str]:
        # Non-finite outputs (a broken model): written as null, never as invalid JSON.
        out = []
        for i, row in enumerate(self.dicts(raw)):
            if self.with_id and ids is not None:
                row = {"id": ids[i], **row}
            out.append(json.dumps(row, allow_nan=False, default=str)[:-1] + self._tail)
        return out

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
