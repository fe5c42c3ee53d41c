"""Prometheus text metrics for the scoring service: requests, a latency histogram, rejected records by
reason and shadow agreement, each per model version. Updated on the event loop only (no locks).

The reason label is the rejection reason's kind, cut before its first quoted value or colon
("expected a number, got str 'x'" -> "expected a number, got str"): the values a client sends never
become label values, so the number of series stays bounded.
"""

from __future__ import annotations

import bisect
from collections import defaultdict

# Seconds. Fine at the low end: a scored record takes tens of microseconds, a request under a millisecond.
BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0)


def reason_kind(reason: str) -> str:
    cut = len(reason)
    for mark in ("'", '"', ":", ";"):
        at = reason.find(mark)
        if 0 <= at < cut:
            cut = at
    return reason[:cut].strip().rstrip(",") or "other"


def _labels(**labels: str) -> str:
    def esc(value: str) -> str:
        return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")

    return "{" + ",".join(f'{k}="{esc(v)}"' for k, v in labels.items()) + "}"


class Metrics:
    def __init__(self) -> None:
        self.requests: dict[tuple[str, str, str], int] = defaultdict(int)  # (model, version, code)
        self.latency: dict[tuple[str, str], list[int]] = {}  # (model, version) -> bucket counts (+Inf last)
        self.latency_sum: dict[tuple[str, str], float] = defaultdict(float)
        self.records: dict[tuple[str, str], int] = defaultdict(int)  # scored records
        self.rejected: dict[tuple[str, str, str], int] = defaultdict(int)  # (model, version, reason kind)
        self.batches: dict[tuple[str, str], int] = defaultdict(int)
        self.shadow: dict[tuple[str, str, str], list[int]] = {}  # (model, live, candidate) -> [compared, agreed]
        self.http_errors: dict[str, int] = defaultdict(int)  # code, for requests that reached no model

    def request(self, model: str, version: str, code: int, seconds: float) -> None:
        key = (model, version)
        self.requests[(model, version, str(code))] += 1
        counts = self.latency.get(key)
        if counts is None:
            counts = self.latency[key] = [0] * (len(BUCKETS) + 1)
        counts[bisect.bisect_left(BUCKETS, seconds)] += 1
        self.latency_sum[key] += seconds

    def scored(self, model: str, version: str, scored: int, reasons: list[str]) -> None:
        self.records[(model, version)] += scored
        for reason in reasons:
            self.rejected[(model, version, reason_kind(reason))] += 1

    def batch(self, model: str, version: str) -> None:
        self.batches[(model, version)] += 1

    def compared(self, model: str, live: str, candidate: str, compared: int, agreed: int) -> None:
        entry = self.shadow.setdefault((model, live, candidate), [0, 0])
        entry[0] += compared
        entry[1] += agreed

    def text(self) -> str:
        out = ["# HELP edgepack_requests_total Scoring requests answered, by model version and HTTP status.",
               "# TYPE edgepack_requests_total counter"]
        out += [f"edgepack_requests_total{_labels(model=m, version=v, code=c)} {n}"
                for (m, v, c), n in sorted(self.requests.items())]
        out += ["# HELP edgepack_http_errors_total Requests refused before reaching a model, by HTTP status.",
                "# TYPE edgepack_http_errors_total counter"]
        out += [f"edgepack_http_errors_total{_labels(code=c)} {n}" for c, n in sorted(self.http_errors.items())]
        out += ["# HELP edgepack_request_seconds Time from a scoring request's arrival to its answer.",
                "# TYPE edgepack_request_seconds histogram"]
        for (m, v), counts in sorted(self.latency.items()):
            total = 0
            for bound, count in zip([*map(repr, BUCKETS), "+Inf"], counts):
                total += count
                out.append(f"edgepack_request_seconds_bucket{_labels(model=m, version=v, le=bound)} {total}")
            out.append(f"edgepack_request_seconds_sum{_labels(model=m, version=v)} {self.latency_sum[(m, v)]!r}")
            out.append(f"edgepack_request_seconds_count{_labels(model=m, version=v)} {total}")
        out += ["# HELP edgepack_records_scored_total Records scored, by model version.",
                "# TYPE edgepack_records_scored_total counter"]
        out += [f"edgepack_records_scored_total{_labels(model=m, version=v)} {n}" for (m, v), n in sorted(self.records.items())]
        out += ["# HELP edgepack_batches_total onnxruntime calls (micro-batches), by model version.",
                "# TYPE edgepack_batches_total counter"]
        out += [f"edgepack_batches_total{_labels(model=m, version=v)} {n}" for (m, v), n in sorted(self.batches.items())]
        out += ["# HELP edgepack_records_rejected_total Records refused by validation, by reason kind.",
                "# TYPE edgepack_records_rejected_total counter"]
        out += [f"edgepack_records_rejected_total{_labels(model=m, version=v, reason=r)} {n}"
                for (m, v, r), n in sorted(self.rejected.items())]
        out += ["# HELP edgepack_shadow_records_total Records a shadow version scored beside the live one.",
                "# TYPE edgepack_shadow_records_total counter"]
        agreement = []
        for (m, live, cand), (compared, agreed) in sorted(self.shadow.items()):
            labels = _labels(model=m, live=live, candidate=cand)
            out.append(f"edgepack_shadow_records_total{labels} {compared}")
            agreement.append(f"edgepack_shadow_agreement_ratio{labels} {agreed / compared if compared else 1.0!r}")
        out += ["# HELP edgepack_shadow_agreement_ratio Share of shadow-scored records whose prediction agrees "
                "with the live version's (same label; regression: within the package's tolerance).",
                "# TYPE edgepack_shadow_agreement_ratio gauge", *agreement]
        return "\n".join(out) + "\n"
