"""The HTML report paints a metric red only when that metric fails its profile."""

from __future__ import annotations

import numpy as np
from edgepack.parity.harness import PairResult
from edgepack.parity.report_html import agreement_passes
from edgepack.parity.svg import agreement_bars

FLOAT32 = {"min_label_agreement": 1.0, "max_probability_error": 1e-5, "max_value_error": 1e-5}


def _result(agreement: float, error: float) -> PairResult:
    return PairResult("onnx", "onnx", "float32", "onnxruntime", "fail", "sample", 4, "float32", FLOAT32,
                      metrics={"label_agreement": agreement, "max_probability_error": error},
                      row_error=np.array([0.0, 0.0, error, 0.0]))


def test_every_label_agreeing_is_green_even_when_the_error_fails():
    kept_labels = _result(1.0, 0.03)  # the pair fails on its probability error, not on its labels
    flipped = _result(0.75, 0.6)
    assert agreement_passes(kept_labels, 1.0) and not agreement_passes(flipped, 1.0)
    svg = agreement_bars([("kept", 1.0, agreement_passes(kept_labels, 1.0))], "t")
    assert "#54a24b" in svg and "#d62728" not in svg
