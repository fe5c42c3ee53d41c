"""The support table: which model family reaches which format, with which quantized variants, and why not
where it does not. Every cell is read from the registries the build itself dispatches through (the sources'
SUPPORTED/BOOSTERS tables, the ONNX CONVERTERS, the TensorFlow lowering FAMILIES, Core ML's FINAL_MODELS,
the variant tables), so docs/support.md, which this module renders, cannot disagree with the code
(tests/converters/test_support_table.py compares them).

    python -m edgepack.toolchain.support            print the table (Markdown)
    python -m edgepack.toolchain.support --write    rewrite docs/support.md
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from ..converters.lowering import LOWERINGS
from ..converters.lowering import sklearn as tf_sklearn
from ..converters.quantize import modes_of
from ..converters.sources import SOURCES
from ..converters.sources import catboost as cb_source
from ..converters.sources import lightgbm as lgb_source
from ..converters.sources import sklearn as sk_source
from ..converters.sources import xgboost as xgb_source
from ..converters.targets import MISSING_CATEGORIES, coreml, tfjs, tflite
from ..converters.targets.coreml_sklearn_models import FINAL_MODELS
from ..converters.targets.onnx import CONVERTERS
from ..converters.targets.onnx_sklearn import FLOAT64_FINALS

FORMATS = ("onnx", "tflite", "tfjs", "coreml")
DOC = Path(__file__).resolve().parent.parent / "docs" / "support.md"


@dataclass(frozen=True)
class Cell:
    supported: bool
    note: str  # how (converter, precision) when supported; the refusal's reason when not


@dataclass(frozen=True)
class Row:
    family: str  # estimator class, or a framework's model file
    source: str  # the sources table row that reads it
    role: str
    cells: dict[str, Cell]


def _variants(fmt: str, family: str) -> str:
    if fmt == "onnx":
        return ", ".join(modes_of("onnx"))
    if fmt == "tflite":
        return ", ".join(v for v in tflite.VARIANTS if v != "float32")
    if fmt == "tfjs":
        return ", ".join(v for v in tfjs.VARIANTS if v != "float32")
    builder = FINAL_MODELS.get(family)
    neural = builder is not None and builder.__name__ in ("mlp", "logistic_regression")
    return ", ".join(coreml.VARIANTS) if neural else "none (no reduced form in Core ML)"


def _sklearn_row(family: str, role: str) -> Row:
    booster = family in sk_source.BOOSTERS
    if booster:
        library = sk_source.BOOSTERS[family][1].__module__.rsplit(".", 1)[-1]
        onnx = Cell(True, f"edgepack TreeEnsemble (ai.onnx.ml 5, double; {library} reader)")
    else:
        precision = "float64 where skl2onnx can, else float32" if family in FLOAT64_FINALS else "float32"
        onnx = Cell(True, f"skl2onnx, preprocessing in float64, model in {precision}")
    cells = {"onnx": onnx}
    for fmt in ("tflite", "tfjs"):
        cells[fmt] = Cell(True, "edgepack TensorFlow lowering") if family in tf_sklearn.FAMILIES else \
            Cell(False, f"no TensorFlow lowering for {family}")
    cells["coreml"] = Cell(True, "classic Core ML model types") if family in FINAL_MODELS else \
        Cell(False, f"the Core ML target has no builder for {family}")
    return Row(family, "scikit-learn (.joblib/.pkl, alone or last in a Pipeline)", role, cells)


def _framework_row(framework: str, family: str, reader: str) -> Row:
    cells = {"onnx": Cell(True, f"edgepack TreeEnsemble (ai.onnx.ml 5, double; {reader} reader)")
             if framework in CONVERTERS else Cell(False, f"no ONNX converter for {framework} models")}
    for fmt in ("tflite", "tfjs"):
        cells[fmt] = Cell(True, "edgepack TensorFlow lowering") if framework in LOWERINGS else \
            Cell(False, f"no TensorFlow lowering for {framework} models")
    cells["coreml"] = Cell(True, "") if framework in coreml.BUILDERS else \
        Cell(False, f"no Core ML converter for {framework} models")
    return Row(family, framework, "booster file", cells)


def rows() -> list[Row]:
    """One row per final estimator family and booster file kind, in the sources tables' order."""
    out = [_sklearn_row(name, role) for name, role in sk_source.SUPPORTED.items() if role in ("classifier", "regressor")]
    files = {"xgboost": ("Booster .json/.ubj", xgb_source), "lightgbm": ("Booster .txt", lgb_source),
             "catboost": ("model .cbm", cb_source)}
    for name, _matches, _loader in SOURCES:
        if name in files:
            label, module = files[name]
            out.append(_framework_row(name, f"{name} {label}", module.__name__.rsplit(".", 1)[-1]))
    return out


def _objectives() -> list[str]:
    lines = []
    for name, module in (("XGBoost", xgb_source), ("LightGBM", lgb_source), ("CatBoost", cb_source)):
        pairs = ", ".join(f"`{k}` ({v})" for k, v in module.OBJECTIVES.items())
        lines.append(f"- {name}: {pairs}")
    return lines


def render() -> str:
    """docs/support.md as this code base supports it."""
    table = ["| family | role | " + " | ".join(FORMATS) + " |", "|---|---|" + "---|" * len(FORMATS)]
    refusals = []
    for row in rows():
        marks = []
        for fmt in FORMATS:
            cell = row.cells[fmt]
            marks.append("yes" if cell.supported else "no")
            if not cell.supported:
                refusals.append(f"| {row.family} | {fmt} | {cell.note} |")
        table.append(f"| {row.family} | {row.role} | " + " | ".join(marks) + " |")
    quant = ["| format | variants tried under `--quantize` (each kept only when it passes its tolerance profile) |",
             "|---|---|"]
    for fmt in FORMATS:
        quant.append(f"| {fmt} | {_variants(fmt, 'MLPClassifier')} |")
    neural = ", ".join(n for n in FINAL_MODELS if _variants("coreml", n) != _variants("coreml", ""))
    quant += ["", f"Core ML variants exist only where the Core ML model is a neural network: {neural}. ONNX's modes",
              "apply to MatMul/Gemm weights (MLPs); on ai.onnx.ml operators (linear models, trees, SVMs) every mode",
              "reports \"not applicable\". Tree models usually lose their TFLite/TF.js variants: quantizing a",
              "threshold moves a split."]
    transformers = ", ".join(f"`{n}`" for n, r in sk_source.SUPPORTED.items() if r == "transformer")
    settings = [f"| {name}({param}={value!r}) | {reason} |" for (name, param, value), reason in sk_source.REFUSED_SETTINGS.items()]
    lines = [
        "# What edgepack supports",
        "",
        "Generated by `python -m edgepack.toolchain.support --write` from the registries the build dispatches",
        "through; `tests/converters/test_support_table.py` fails when this file and the code disagree. Do not",
        "edit by hand.",
        "",
        "## Final estimators and model files x formats",
        "",
        "A `yes` means the build converts it and checks the artifact against the original model in the format's",
        "runtime; the build fails (exit 1) when that check does not pass. A `no` is refused at build time with",
        "the estimator, the format and the reason below (exit 5).",
        "",
        *table,
        "",
        "## Why not: every refusal, by estimator and format",
        "",
        "| family | format | reason (the build's message) |",
        "|---|---|---|",
        *refusals,
        "",
        "## Settings refused in any format",
        "",
        "| setting | reason |",
        "|---|---|",
        *settings,
        "",
        "A category column with missing values (a `nullable` category feature) is taken by: "
        + ", ".join(sorted(MISSING_CATEGORIES)) + "; the other formats take it only where the model treats a",
        "missing category as an unknown one, and refuse it otherwise with the feature's name.",
        "",
        "Also refused, by the tree readers (message names the library and the setting): native categorical",
        "splits of XGBoost (`enable_categorical`), LightGBM (`categorical_feature`) and CatBoost (`cat_features`);",
        "XGBoost dart/gblinear and multi-output trees; a `missing` other than NaN; LightGBM rf mode and linear",
        "trees; CatBoost non-symmetric trees; HistGradientBoosting fitted on pandas category columns of text.",
        "skl2onnx's own refusals (e.g. OneHotEncoder infrequent categories) reach the user as",
        "\"skl2onnx could not convert <estimators> to ONNX: <reason>\".",
        "",
        "## Objectives of the boosting libraries (objective, link)",
        "",
        *_objectives(),
        "",
        "## Preprocessing (in a Pipeline or ColumnTransformer)",
        "",
        f"Transformers the scikit-learn source accepts (ONNX through skl2onnx, in float64): {transformers}.",
        "The TensorFlow and Core ML lowerings refuse a preprocessing step they have no rule for, by name.",
        "",
        "## Quantized variants",
        "",
        *quant,
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    text = render()
    if "--write" in args:
        DOC.write_text(text)
        print(f"wrote {DOC}")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
