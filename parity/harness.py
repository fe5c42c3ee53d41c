"""The parity run: every artifact of a package in every runtime that can run it, on the same inputs,
compared with the reference outputs under the artifact's tolerance profile.

    report = run_parity(ParityOptions(package=Path("build/churn/package"), reference=Path("churn.joblib")))
    report.exit_code  # 0 every pair passed, 1 any failed or crashed

A runtime that is not installed (or cannot run one artifact) is reported "unavailable", never fatal; a
runner that raises is reported as an "error" with its message and fails the gate.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from ..runtime.errors import ModelError, UsageError, did_you_mean
from ..runtime.package import Package
from ..runtime.progress import Progress
from ..runtime.tensors import is_tensor_package
from . import runners as runner_table
from .compare import compare
from .data import ParityData, assemble
from .explain import tree_explanations, worst_rows
from .profiles import harness_profile, package_profiles
from .results import ERROR, FAIL, PASS, UNAVAILABLE, PairResult, ParityOptions, ParityReport, now
from .runners import runner_class, runners_for
from .runners.base import InputBatch, Unavailable
from .tensor_harness import run_tensor_parity

__all__ = ["ERROR", "FAIL", "PASS", "UNAVAILABLE", "PairResult", "ParityOptions", "ParityReport", "run_parity"]

REFERENCE = "reference"


def check_runtimes(names: list[str] | None) -> list[str]:
    """The runtimes to run, in table order. Raises UsageError naming an unknown one."""
    known = [row[0] for row in runner_table.RUNNERS]
    if not names:  # every runtime that runs artifacts; reference runners (no formats) only when named
        return [row[0] for row in runner_table.RUNNERS if row[1]]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UsageError(f"unknown runtime {', '.join(unknown)}{did_you_mean(unknown[0], known)}",
                         fix=f"choose from: {', '.join(known)}")
    return [n for n in known if n in names]


def run_parity(opts: ParityOptions) -> ParityReport:
    """Run the harness (tensor packages: tensor_harness.py). Raises PackageError (invalid package),
    UsageError, ModelError (unusable reference), DataError (unusable holdout)."""

    runtimes = check_runtimes(opts.runtimes)  # a typo is reported before any work
    package = Package.open(opts.package)
    if opts.reference is not None and not opts.reference.exists():
        raise UsageError(f"no model file at {opts.reference}", fix="pass --reference with the trained model the package was built from")
    notes: list[str] = []
    if opts.reference is not None:
        _note_model_identity(package, opts.reference, notes)
    if is_tensor_package(package.manifest):  # format version 2: named tensors (tensor_harness.py)
        return run_tensor_parity(opts, package, runtimes, notes)
    data = assemble(package, data=opts.data, rows=opts.rows, seed=opts.seed, label_column=opts.label_column,
                    with_reference=opts.reference is not None)
    data.notes.extend(notes)
    artifacts = package.artifacts()
    own = package_profiles(package.manifest, opts.manifest_tolerances, data.notes)
    pairs = [(art, name) for art in artifacts for name in runners_for(art.format) if name in runtimes]
    for name in runtimes:
        if name != REFERENCE and not any(n == name for _, n in pairs):
            data.notes.append(f"runtime {name} runs none of this package's artifact formats")
    progress = Progress(len(pairs) + (1 if opts.reference else 0), quiet=opts.quiet)
    results: list[PairResult] = []
    reference_outputs = dict(data.golden_outputs)
    feature_names, check = None, None
    if opts.reference is not None:
        with progress.step(f"running the reference model {opts.reference.name} on {len(data.batch)} rows"):
            check, reference_outputs, feature_names = _reference(package, opts, data)
    batch = data.batch
    for art in artifacts:
        if not runners_for(art.format):  # nothing in the runners table runs this format: say so, never skip silently
            results.append(PairResult(art.id, art.format, art.precision, "-", UNAVAILABLE, data.description, 0,
                                      art.precision, {}, reason=f"no runner in the runners table runs {art.format} artifacts"))
        for name in (n for a, n in pairs if a.id == art.id):
            profile = harness_profile(art.precision, own, opts.tolerance, art.id)
            with progress.step(f"{art.id} in {name}"):
                results.append(_run_pair(package, art, name, batch, data, reference_outputs, profile, feature_names))
    return ParityReport(package.name, package.version, str(package.location), data.description,
                        str(opts.reference) if opts.reference else None, data.notes, results, now(), opts.strict, check)


def _reference(package: Any, opts: ParityOptions, data: ParityData
               ) -> tuple[PairResult, dict[str, np.ndarray], list[str] | None]:
    """Reference outputs for every row from the model, and a check that it reproduces the golden outputs
    (a different model file than the one the package was built from shows here first)."""
    assert opts.reference is not None, "called only with a reference model"
    cls = runner_class(REFERENCE)
    start = time.perf_counter()
    runner = cls(package, None, model=opts.reference)
    runner.prepare()  # load_source raises ModelError/UsageError for a model it cannot read
    try:
        outputs = runner.predict(data.batch)
    except Exception as exc:  # the user's model raising on the package's own inputs
        raise ModelError(f"the reference model cannot predict on the package's inputs: {type(exc).__name__}: {exc}",
                         where=str(opts.reference), fix="pass the model the package was built from") from exc
    profile = harness_profile("float32", package_profiles(package.manifest, opts.manifest_tolerances), opts.tolerance)
    n = data.n_golden
    head = {k: v[:n] for k, v in outputs.items()}
    result = PairResult(artifact=opts.reference.name, format="model", precision="float32", runtime=REFERENCE, status=PASS,
                        data=f"{n} golden", rows=n, profile_name="float32", profile=profile,
                        runtime_info=runner.describe())
    _judge(result, package.task, data.golden_outputs, head, profile, _scale(package), None,
           InputBatch(data.batch.records[:n], {k: v[:n] for k, v in data.batch.columns.items()}), data.origin[:n])
    result.seconds = time.perf_counter() - start
    return result, outputs, _feature_names_out(runner)


def _note_model_identity(package: Any, model: Path, notes: list[str]) -> None:
    """Say when the reference model file is not the one the package was built from (same bytes)."""
    import hashlib

    built_from = package.manifest.get("source", {}).get("sha256")
    if built_from and hashlib.sha256(model.read_bytes()).hexdigest() != built_from:
        notes.append(f"{model.name} is not the file the package was built from (sha256 differs from the manifest's "
                     f"source.sha256 {built_from[:12]}...): the reference check below shows whether it predicts the same")


def _feature_names_out(runner: Any) -> list[str] | None:
    """Names of the preprocessed columns the final estimator sees, when the model can say them."""
    model = getattr(getattr(runner, "_source", None), "model", None)
    try:
        from sklearn.pipeline import Pipeline

        if isinstance(model, Pipeline) and len(model.steps) > 1:
            return [str(n) for n in model[:-1].get_feature_names_out()]
    except Exception:  # a step without get_feature_names_out: explanations fall back to x[j]
        return None
    return None


def _run_pair(package: Any, art: Any, name: str, batch: InputBatch, data: ParityData,
              reference: dict[str, np.ndarray], profile: dict[str, Any], feature_names: list[str] | None) -> PairResult:
    rows = len(reference.get("probabilities", reference.get("value", [])))
    batch = batch if rows == len(batch) else InputBatch(batch.records[:rows], {k: v[:rows] for k, v in batch.columns.items()})
    result = PairResult(artifact=art.id, format=art.format, precision=art.precision, runtime=name, status=PASS,
                        data=data.description if rows == len(data.batch) else f"{rows} golden", rows=rows,
                        profile_name=art.precision, profile=profile)
    try:
        cls = runner_class(name)
        reason = cls.availability()
    except Exception as exc:  # a runner module that cannot even be imported here: its runtime is missing
        reason = f"the {name} runner cannot be loaded: {type(exc).__name__}: {exc}"
    if reason:
        result.status, result.reason = UNAVAILABLE, reason
        return result
    start = time.perf_counter()
    runner = cls(package, art)
    try:
        runner.prepare()
        result.runtime_info = runner.describe()
        got = runner.predict(batch)
    except Unavailable as exc:
        result.status, result.reason = UNAVAILABLE, str(exc)
        return result
    except Exception as exc:  # a crashing runtime is a finding: report it with its message
        result.status, result.reason = ERROR, f"{type(exc).__name__}: {exc}"
        return result
    finally:
        result.seconds = time.perf_counter() - start
        _close(runner)
    labels = data.labels[:rows] if data.labels is not None else None
    try:
        _judge(result, package.task, reference, got, profile, _scale(package), labels, batch, data.origin[:rows])
    except ValueError as exc:
        result.status, result.reason = ERROR, f"outputs cannot be compared: {exc}"
        return result
    if result.status == FAIL and len(result.row_error):
        disagreeing = _rows_to_explain(result, _scale(package))
        try:
            classify = "label_agreement" in result.metrics
            # errors and limit in the profile's units (a regressor's relative to the target's scale)
            errors = result.row_error if classify else result.row_error / (_scale(package) or 1.0)
            limit = result.profile.get("max_probability_error" if classify else "max_value_error")
            result.explanations = tree_explanations(package, art, batch, disagreeing, feature_names, errors, limit)
        except Exception as exc:  # explanations are a help, never the reason a run stops
            result.explanations = [{"row": None, "why": f"explanations unavailable: {type(exc).__name__}: {exc}"}]
    return result


def _rows_to_explain(result: PairResult, scale: float) -> np.ndarray:
    """Rows whose label flipped; without any, the rows beyond the profile's error limit, worst first."""
    if len(result.disagreeing):
        return result.disagreeing
    limit = result.profile.get("max_probability_error") if "label_agreement" in result.metrics \
        else result.profile.get("max_value_error", 0.0) * scale
    order = np.argsort(-result.row_error, kind="stable")
    beyond = order[result.row_error[order] > (limit or 0.0)]
    return beyond if len(beyond) else order[:5]


def _judge(result: PairResult, task: str, reference: dict[str, np.ndarray], got: dict[str, np.ndarray],
           profile: dict[str, Any], scale: float, labels: np.ndarray | None, batch: InputBatch, origin: list[str]) -> None:
    comparison = compare(task, reference, got, profile, scale=scale, labels=labels)
    result.metrics = comparison.metrics
    result.failures = comparison.failures
    result.row_error = comparison.row_error
    result.status = PASS if comparison.passed else FAIL
    if not comparison.passed:
        key = "probabilities" if task == "classification" else "value"
        result.worst_rows = worst_rows(batch, origin, np.asarray(reference[key]), np.asarray(got[key]), comparison.row_error)
    result.disagreeing = comparison.disagreeing


def _close(runner: Any) -> None:
    try:
        runner.close()
    except Exception:  # closing a crashed runtime must not hide the first error
        pass


def _scale(package: Any) -> float:
    return float(package.manifest["outputs"].get("value_scale", 1.0)) or 1.0

