"""edgepack from Python: build, check and inspect packages, and score with them.

    from edgepack.toolchain.api import build, parity, inspect, Scorer

    result = build(model, sample_frame, "build/churn", label_column="churn", targets=["onnx", "coreml"])
    assert result.passed
    report = parity(result.path, reference=model, data=holdout_frame, label_column="churn")
    assert report.passed
    print(inspect(result.path))
    scorer = Scorer.load(result.path)
    scorer.predict_proba(holdout_frame)

`model` is a fitted model in memory (a scikit-learn estimator or pipeline, a Keras model, a Spark
PipelineModel) or the path of a saved one; `sample` and `data` are a pandas DataFrame, a 2-D numpy
array (columns named by `columns`, or by the model's `feature_names_in_`) or a CSV/Parquet path. A
model or frame in memory is written to a temporary folder first, exactly as the CLI would read it:
the package records `model.joblib` (or `model.keras`) and `sample.parquet` as its source files.

Every result answers `.passed` (BuildResult, ParityReport, SelfTestResult); errors are the CLI's
EdgepackError subclasses, with `.exit_code`, `.where` and `.fix`. docs/python-api.md has a walk-through.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..parity.harness import ParityOptions, ParityReport, run_parity
from ..parity.profiles import load_overrides
from ..parity.report_html import write_html
from ..runtime.errors import UsageError
from ..runtime.package import Package
from ..runtime.scorer import Scorer, SelfTestResult
from .build import BuildOptions, BuildResult
from .build import build as _build
from .commands.inspect import summary

__all__ = ["BuildResult", "Inspection", "ParityReport", "Scorer", "SelfTestResult", "build", "inspect", "parity"]

PathLike = str | Path


def build(model: Any, sample: Any, out: PathLike, *, label_column: str | None = None, name: str | None = None,
          version: str = "1", targets: Sequence[str] = ("onnx",), quantize: str = "none",
          options: dict[str, dict[str, Any]] | None = None, default_variant: str | None = None,
          columns: Sequence[str] | None = None, author: str | None = None, license: str | None = None,
          description: str | None = None, force: bool = False, quiet: bool = True,
          verbose: bool = False) -> BuildResult:
    """Build a verified edge package, as `edgepack build` does; returns a BuildResult (`.passed`,
    `.path`, `.manifest`, `.checks`, `.unverified`).

    model: a fitted model object or the path of a saved one (.joblib/.pkl, .keras, a Spark directory).
    sample: a DataFrame, a 2-D array (with `columns`, or the model's `feature_names_in_`) or a
    CSV/Parquet path; it may hold the label in `label_column`. targets: names from the targets table
    (onnx, tflite, tfjs, coreml, c, js). quantize: none, auto or modes (see `edgepack build --help`).
    options: {"tflite": {"tree_strategy": "gemm"}}. author, license, description: written into the
    manifest and every artifact's metadata. Raises an EdgepackError subclass for bad input.
    """
    with _staged() as tmp:
        model_path = _model_path(model, tmp, name)
        sample_path = _table_path(sample, tmp / "sample.parquet", columns or _feature_names(model))
        return _build(BuildOptions(
            model=model_path, sample=sample_path, out=Path(out), label_column=label_column,
            name=name or (None if isinstance(model, (str, Path)) else type(model).__name__.lower()),
            version=str(version), targets=list(targets), target_options=options or {}, quiet=quiet,
            verbose=verbose, quantize=quantize, default_variant=default_variant, force=force,
            author=author, license=license, description=description))


def parity(package: PathLike, *, reference: Any = None, data: Any = None, label_column: str | None = None,
           runtimes: Sequence[str] | None = None, rows: int = 500, seed: int = 0,
           tolerance: Sequence[str] = (), strict: bool = False, manifest_tolerances: bool = False,
           html: PathLike | None = None, columns: Sequence[str] | None = None, quiet: bool = True) -> ParityReport:
    """Run every artifact of `package` in every runtime here and compare with the model, as `edgepack
    parity` does; returns the ParityReport the CLI renders (`.passed`, `.results`, `.failed`, `.notes`;
    `render(report)` from edgepack.parity.report_text gives the CLI's text).

    reference: the trained model (object or path); without it the golden vectors are the reference.
    data: holdout rows (DataFrame, array or path); without it rows are generated from the schema.
    tolerance: overrides as on the CLI, e.g. ["float16:max_probability_error=0.02"]. html: also write
    the HTML report there.
    """
    try:
        overrides = load_overrides(list(tolerance))
    except ValueError as exc:
        raise UsageError(str(exc), where="tolerance", fix="e.g. float32:max_probability_error=1e-4") from exc
    with _staged() as tmp:
        model_path = None if reference is None else _model_path(reference, tmp, None)
        data_path = None if data is None else _table_path(data, tmp / "holdout.parquet",
                                                          columns or _feature_names(reference))
        report = run_parity(ParityOptions(
            package=Path(package), data=data_path, reference=model_path, runtimes=list(runtimes) if runtimes else None,
            rows=rows, seed=seed, label_column=label_column, tolerance=overrides, strict=strict, quiet=quiet,
            manifest_tolerances=manifest_tolerances))
    if html is not None:
        scale = float(Package.open(report.location).manifest["outputs"].get("value_scale", 1.0)) or 1.0
        write_html(report, Path(html), scale)
    return report


@dataclass(frozen=True)
class Inspection:
    """A verified package: its manifest, the files checked, and `str()` the summary `edgepack inspect` prints."""

    package: Package
    verified_files: list[str]

    @property
    def manifest(self) -> dict[str, Any]:
        return self.package.manifest

    @property
    def passed(self) -> bool:
        """Always True: a package that fails verification raises PackageError instead."""
        return True

    def __str__(self) -> str:
        return summary(self.package)


def inspect(package: PathLike) -> Inspection:
    """Open and verify a package as a device does (manifest, every file's sha256 and size). Raises
    PackageError (exit code 4 on the CLI) when it fails."""
    opened = Package.open(package)
    return Inspection(opened, opened.verify())


# -- in-memory models and tables to the files the build reads -----------------------------------------
@contextmanager
def _staged() -> Iterator[Path]:
    tmp = Path(tempfile.mkdtemp(prefix="edgepack-api-"))
    try:
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _model_path(model: Any, tmp: Path, name: str | None) -> Path:
    if isinstance(model, (str, Path)):
        return Path(model)
    kind = type(model).__module__.split(".")[0]
    if kind in ("keras", "tf_keras", "tensorflow"):
        path = tmp / f"{name or 'model'}.keras"
        model.save(path)
        return path
    if type(model).__name__ == "PipelineModel" and hasattr(model, "write"):
        path = tmp / (name or "model")
        model.write().overwrite().save(str(path))
        return path
    if not hasattr(model, "predict"):
        raise UsageError(f"cannot build from a {type(model).__name__}",
                         fix="pass a fitted scikit-learn, Keras or Spark ML model, or the path of a saved one")
    import joblib  # deferred: the toolchain's scikit-learn dependency, needed only for a model in memory

    path = tmp / f"{name or 'model'}.joblib"
    joblib.dump(model, path)
    return path


def _feature_names(model: Any) -> list[str] | None:
    names = getattr(model, "feature_names_in_", None)
    return None if names is None else [str(n) for n in names]


def _table_path(table: Any, path: Path, columns: Sequence[str] | None) -> Path:
    if isinstance(table, (str, Path)):
        return Path(table)
    import pandas as pd  # deferred: the toolchain's pandas, needed only for a table in memory

    if isinstance(table, pd.DataFrame):
        frame = table
    else:
        import numpy as np

        array = np.asarray(table)
        if array.ndim != 2:
            raise UsageError(f"a sample must be 2-D, got shape {array.shape}", fix="pass rows x columns")
        if columns is None or len(columns) != array.shape[1]:
            raise UsageError(f"an array of {array.shape[1]} columns needs their names",
                             fix="pass columns=[...] in the model's feature order, or a DataFrame")
        frame = pd.DataFrame(array, columns=list(columns)).infer_objects()
    frame.to_parquet(path, index=False)
    return path
