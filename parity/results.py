"""What a parity run returns: one PairResult per artifact x runtime, gathered in a ParityReport whose
exit code is the gate's. The tabular harness (harness.py) and the tensor harness (tensor_harness.py) both
fill them; the reports (text, JSON, JUnit, HTML) and `--record` read them.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.errors import EXIT_CHECK_FAILED, EXIT_OK
from .compare import failure_text

PASS, FAIL, ERROR, UNAVAILABLE = "pass", "fail", "error", "unavailable"


@dataclass
class ParityOptions:
    package: Path
    data: Path | None = None
    reference: Path | None = None
    runtimes: list[str] | None = None  # None: every runtime in the runners table
    rows: int = 500
    seed: int = 0
    label_column: str | None = None
    tolerance: dict[str, dict[str, Any]] = field(default_factory=dict)  # parity/profiles.py: load_overrides
    strict: bool = False  # an unavailable runtime fails the gate too
    quiet: bool = False
    # A package never grades itself: its manifest's tolerance_profiles apply only when the user asks.
    manifest_tolerances: bool = False


@dataclass
class PairResult:
    """One artifact in one runtime."""

    artifact: str
    format: str
    precision: str
    runtime: str
    status: str
    data: str
    rows: int
    profile_name: str
    profile: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    failures: list[dict[str, Any]] = field(default_factory=list)
    reason: str | None = None
    explanations: list[dict[str, Any]] | None = None
    worst_rows: list[dict[str, Any]] = field(default_factory=list)
    runtime_info: dict[str, str] = field(default_factory=dict)
    seconds: float = 0.0
    row_error: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)  # per row, for the plots
    disagreeing: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64), repr=False)

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def summary(self) -> str:
        """One sentence: `onnx in onnxruntime fails: max_probability_error 0.15 > 1e-05 (profile float32)`."""
        head = f"{self.artifact} in {self.runtime}"
        if self.status in (ERROR, UNAVAILABLE):
            return f"{head}: {self.status}: {self.reason}"
        if self.status == PASS:
            return f"{head} passes (profile {self.profile_name})"
        return f"{head} fails: {'; '.join(failure_text(f) for f in self.failures)} (profile {self.profile_name})"

    def as_dict(self) -> dict[str, Any]:
        out = {k: v for k, v in self.__dict__.items() if k not in ("row_error", "disagreeing")}
        out["summary"] = self.summary()
        if self.row_error.size:
            finite = self.row_error[np.isfinite(self.row_error)]
            out["error_quantiles"] = {q: float(np.quantile(finite, float(q))) for q in ("0.5", "0.9", "0.99", "1.0")} \
                if finite.size else {}
        return out


@dataclass
class ParityReport:
    package: str
    version: str
    location: str
    data: str
    reference: str | None
    notes: list[str]
    results: list[PairResult]
    when: str
    strict: bool = False
    # The reference model against the golden vectors (with --reference): a model file other than the one
    # the package was built from shows here first. Kept apart from `results`, which are artifact x runtime.
    reference_check: PairResult | None = None

    @property
    def failed(self) -> list[PairResult]:
        bad = (FAIL, ERROR, UNAVAILABLE) if self.strict else (FAIL, ERROR)
        checks = self.results + ([self.reference_check] if self.reference_check else [])
        return [r for r in checks if r.status in bad]

    @property
    def passed(self) -> bool:
        """The gate's verdict: every artifact x runtime checked passed (and at least one was checked)."""
        return self.exit_code == EXIT_OK

    @property
    def exit_code(self) -> int:
        checked = [r for r in self.results if r.status in (PASS, FAIL, ERROR)]
        return EXIT_CHECK_FAILED if self.failed or not checked else EXIT_OK

    def as_dict(self) -> dict[str, Any]:
        counts = {s: sum(r.status == s for r in self.results) for s in (PASS, FAIL, ERROR, UNAVAILABLE)}
        return {"package": self.package, "version": self.version, "location": self.location, "when": self.when,
                "data": self.data, "reference": self.reference, "notes": self.notes, "summary": counts,
                "passed": self.exit_code == EXIT_OK, "results": [r.as_dict() for r in self.results],
                "reference_check": self.reference_check.as_dict() if self.reference_check else None}


def now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
