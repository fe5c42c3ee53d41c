"""One loaded model version as the service scores with it, and the micro-batcher in front of it.

Validation, reasons and prediction lines are edgepack-score's own: `batch.BatchValidator` flags records
and names each reason through `records.check_record`; `output.PredictionFormatter` writes the line
(`{"label": ..., "probabilities": {...}, "package": ..., "version": ...}`). CSV and JSON-lines bodies go
through `stream.StreamScorer`, the code `edgepack-score` runs on stdin.

Micro-batching: requests submitted while the event loop is busy (scoring, parsing other requests) are
scored together in one onnxruntime call when the loop comes back to the batcher. An idle request is
scored on the loop's next turn (no timer); under load (the previous batch held several requests) the
batcher may also wait up to `max_wait` seconds for more, which bounds the delay it adds.
"""

from __future__ import annotations

import asyncio
import io
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..batch import BatchValidator
from ..errors import RecordError
from ..judge import PROFILES
from ..output import PredictionFormatter
from ..records import Rejection, check_record
from ..scorer import Scorer
from ..stream import StreamOptions, StreamScorer


@dataclass
class Scored:
    """Per record of a request: its prediction line (JSON text, no newline) or None when rejected; the
    rejections (indices within the request); and per record a comparable key (its label, or its value) for shadow
    agreement."""

    lines: list[str | None]
    rejected: list[Rejection]
    keys: list[Any]


class LoadedVersion:
    """A verified package version ready to score: its scorer, validator and line formatter."""

    def __init__(self, scorer: Scorer, path: str) -> None:
        self.scorer = scorer
        self.path = path
        self.name = scorer.package.name
        self.version = scorer.package.version
        self.schema = scorer.schema
        self.validator = BatchValidator(scorer.schema)
        self.formatter = PredictionFormatter(self.name, self.version, scorer.schema.classes, scorer.schema.task,
                                             with_id=False)
        scale = float(scorer.package.manifest["outputs"].get("value_scale", 1.0)) or 1.0
        # regression outputs agree in shadow mode within the float32 profile's error, scaled as the package's
        self.value_tolerance = PROFILES["float32"].max_value_error * scale

    def score(self, records: list[Any]) -> Scored:
        """Validate and score parsed JSON records in one onnxruntime call."""
        if len(records) == 1:
            single = self._score_one(records[0])
            if single is not None:
                return single
        checked = self.validator.records(records)
        bad = np.flatnonzero(checked.bad).tolist()
        rejected = []
        for i in bad:
            err = self.validator.reason(records[i])
            rejected.append(Rejection(i, err.field, err.reason))
        lines: list[str | None] = [None] * len(records)
        keys: list[Any] = [None] * len(records)
        if len(bad) < len(records):
            raw = self.scorer.run_columns(checked.good_columns())
            text = self.formatter.text(raw).split("\n")
            good = [i for i, b in enumerate(checked.bad.tolist()) if not b]
            if "probabilities" in raw:
                classes = self.scorer.schema.classes
                found = [classes[i] for i in np.argmax(raw["probabilities"], axis=1).tolist()]
            else:
                found = np.asarray(raw["value"]).reshape(-1).tolist()
            for i, line, key in zip(good, text, found):
                lines[i] = line
                keys[i] = key
        return Scored(lines, rejected, keys)

    def _score_one(self, record: Any) -> Scored | None:
        """One record (an idle service's request): the rule book itself (`check_record`, whose reasons the
        batch validator also gives) and the scorer's one-row path, about 5x less work than a batch of one.
        None when a value is missing (null where allowed): the batch path encodes those."""
        try:
            values = check_record(self.schema, record)
        except RecordError as err:
            return Scored([None], [Rejection(0, err.field, err.reason)], [None])
        except (OverflowError, ValueError):
            return None  # the batch path names these
        if None in values:
            return None
        raw = self.scorer.predict_array(np.array([values], dtype=object))
        if "probabilities" in raw:
            key = self.scorer.schema.classes[int(np.argmax(raw["probabilities"][0]))]
        else:
            key = float(raw["value"][0])
        return Scored([self.formatter.text(raw)[:-1]], [], [key])

    def agree(self, live: Any, candidate: Any) -> bool:
        if self.scorer.schema.task == "classification":  # the same label
            return bool(live == candidate)
        return abs(live - candidate) <= self.value_tolerance

    def score_stream(self, body: bytes, fmt: str) -> tuple[bytes, str, int, int]:
        """A CSV (with header) or JSON-lines body, exactly as `edgepack-score` scores stdin: returns the
        prediction lines, the error lines and the counts (scored, rejected). Raises DataError for a CSV
        header that does not match the model."""
        sink, errors = io.BytesIO(), io.StringIO()
        counts = StreamScorer(self.scorer, sink, errors, StreamOptions(format=fmt)).run(io.BytesIO(body))
        return sink.getvalue(), errors.getvalue(), counts.scored, counts.rejected

    def describe(self) -> dict[str, Any]:
        package = self.scorer.package
        manifest = package.manifest
        return {
            "name": self.name, "version": self.version, "artifact": self.scorer.artifact.id,
            "task": self.scorer.schema.task, "classes": list(self.scorer.schema.classes),
            "inputs": manifest["inputs"]["features"],
            "sha256": {"artifact": self.scorer.artifact.sha256, "golden": manifest["golden"]["sha256"]},
        }


Done = Callable[["Scored | Exception"], None]


class MicroBatcher:
    """Coalesces the requests submitted to one version into one `score` call per loop turn.

    `submit(records, done)`: `done` is called once, on the loop, with the request's `Scored` or the
    exception that scoring raised. Callbacks, not futures: the answer is written in the same loop turn as
    the scoring, not two turns later."""

    def __init__(self, version: LoadedVersion, max_wait: float = 0.0, max_records: int = 4096,
                 on_batch: Callable[[str, str], None] = lambda name, version: None) -> None:
        self.version = version
        self.on_batch = on_batch
        self.max_wait = max_wait
        self.max_records = max_records
        self._pending: list[tuple[list[Any], Done]] = []
        self._count = 0
        self._handle: asyncio.Handle | asyncio.TimerHandle | None = None
        self._last_requests = 0
        self.batches = 0

    def submit(self, records: list[Any], done: Done) -> None:
        loop = asyncio.get_running_loop()
        self._pending.append((records, done))
        self._count += len(records)
        if self._count >= self.max_records:
            if self._handle is not None:
                self._handle.cancel()
            self._handle = loop.call_soon(self._flush)
        elif self._handle is None:
            if self.max_wait > 0 and self._last_requests > 1:
                self._handle = loop.call_later(self.max_wait, self._flush)
            else:
                self._handle = loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._handle = None
        pending, self._pending, self._count = self._pending, [], 0
        self._last_requests = len(pending)
        if not pending:
            return
        records = [r for recs, _ in pending for r in recs] if len(pending) > 1 else pending[0][0]
        try:
            scored = self.version.score(records)
        except Exception as exc:  # a bug or a failing model: every request is answered, none hangs
            if len(pending) == 1:
                pending[0][1](exc)
                return
            # one request's records must not fail the requests batched with it: score each alone
            for recs, done in pending:
                try:
                    alone: Scored | Exception = self.version.score(recs)
                except Exception as failed:
                    alone = failed
                done(alone)
            return
        self.batches += 1
        self.on_batch(self.version.name, self.version.version)
        if len(pending) == 1:
            pending[0][1](scored)
            return
        by_request: list[list[Rejection]] = [[] for _ in pending]
        starts, start = [], 0
        for recs, _ in pending:
            starts.append(start)
            start += len(recs)
        owner = np.repeat(np.arange(len(pending)), [len(recs) for recs, _ in pending]).tolist()
        for rej in scored.rejected:
            k = owner[rej.index]
            by_request[k].append(Rejection(rej.index - starts[k], rej.field, rej.reason))
        for k, (recs, done) in enumerate(pending):
            a, b = starts[k], starts[k] + len(recs)
            done(Scored(scored.lines[a:b], by_request[k], scored.keys[a:b]))
