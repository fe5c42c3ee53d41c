"""The Runner interface: one small module per runtime (after Polygraphy's runners).

A runner runs one artifact of a package (or the reference model) on a batch of inputs and returns
{output name: array} with the package's output names: "probabilities" [N, C] for classifiers, "value"
[N] for regressors. Runners outside Python (Node, Chromium, the tiny scorer's CLI) run a subprocess and
exchange JSON.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

import numpy as np


class Unavailable(Exception):
    """Raised by prepare() when this runtime cannot run this particular artifact (e.g. an operator the
    runtime lacks). The harness reports the pair as "unavailable" with the message, not as an error.
    (Added beside availability(), which answers for the runtime as a whole.)"""


@dataclass(frozen=True)
class InputBatch:
    """The same inputs for every runner: JSON records and the runtime's feature columns
    (float64 with NaN for missing, or str objects for categories)."""

    records: list[dict[str, Any]]
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.records)


class Runner(ABC):
    """Lifecycle: prepare() once, predict(batch) any number of times, close(). Usable as a context manager."""

    name: str = "runner"
    formats: tuple[str, ...] = ()  # artifact formats this runner executes; () for the reference

    def __init__(self, package: Any, artifact: Any = None, **options: Any) -> None:
        self.package = package
        self.artifact = artifact
        self.options = options
        self.last_inference_seconds: float | None = None

    # Modules the runtime needs, each with the reason shown when it is missing. The default
    # availability() checks them without importing heavy runtimes; runners with other needs override it.
    requires: tuple[tuple[str, str], ...] = ()

    @classmethod
    def availability(cls) -> str | None:
        """None when the runtime is installed here, else a reason (the report shows it as 'unavailable')."""
        import importlib.util

        for module, reason in cls.requires:
            try:
                found = importlib.util.find_spec(module)
            except ImportError:  # a missing parent package
                found = None
            if found is None:
                return reason
        return None

    def prepare(self) -> None:
        """Load the runtime and the artifact (lazily imported here, not at module import)."""

    @abstractmethod
    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]: ...

    def predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        start = time.perf_counter()
        out = self._predict(batch)
        self.last_inference_seconds = time.perf_counter() - start
        return out

    def close(self) -> None:
        """Release the runtime (subprocesses, sessions)."""

    def describe(self) -> dict[str, str]:
        """name, runtime and version, for the report."""
        return {"name": self.name, "runtime": self.name, "version": "unknown"}

    def __enter__(self) -> Runner:
        self.prepare()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
