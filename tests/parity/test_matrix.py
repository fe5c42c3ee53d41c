"""The matrix: every zoo family x every runtime of the parity harness, each cell the real runtime run on
golden + generated rows and compared with the original scikit-learn model (`--reference`).

One parity run per family (cached), one test cell per runtime, ids like `random_forest_clf-onnx-reference`.
"""

from __future__ import annotations

import pytest
import zoo
from edgepack.parity.harness import ParityOptions, run_parity

RUNTIMES = ["reference", "onnxruntime", "onnx-reference", "scorer-cli"]
# Families whose cells cost most here (onnx.reference walks trees in Python; boosting has many trees).
HEAVY = {"gradient_boosting_clf", "gradient_boosting_reg", "hist_gradient_boosting_clf", "hist_gradient_boosting_reg",
         "random_forest_reg", "extra_trees_reg", "extra_trees_clf"}
# Cells known to fail, with the reason (none now: the matrix found that array-fitted forests routed
# missing values differently from scikit-learn; converters/targets/onnx_sklearn.py fixes that).
KNOWN_GAPS: set[tuple[str, str]] = set()
_REPORTS: dict[str, object] = {}


def _report(family: str, built_packages) -> object:
    if family not in _REPORTS:
        _model, package = built_packages(family)
        _REPORTS[family] = run_parity(ParityOptions(package=package, reference=package.parent / f"{family}.joblib",
                                                    rows=100, seed=1, quiet=True))
    return _REPORTS[family]


def _marks(family: str, runtime: str) -> list[pytest.MarkDecorator]:
    marks = [pytest.mark.slow] if family in HEAVY else []
    if (family, runtime) in KNOWN_GAPS:
        marks.append(pytest.mark.xfail(reason="ONNX trees send missing values one fixed way; scikit-learn learned it",
                                       strict=False))
    return marks


CELLS = [pytest.param(f, r, id=f"{f}-{r}", marks=_marks(f, r)) for f in zoo.FAMILIES for r in RUNTIMES]


@pytest.mark.parametrize("family, runtime", CELLS)
def test_family_in_runtime(family, runtime, built_packages):
    report = _report(family, built_packages)
    if runtime == "reference":
        result = report.reference_check
    else:
        result = next(r for r in report.results if r.runtime == runtime and r.artifact == "onnx")
    if result.status == "unavailable":
        pytest.skip(f"{runtime} unavailable: {result.reason}")
    assert result.status == "pass", result.summary()
    assert result.rows >= 100
