"""`edgepack parity` on tensor packages (format version 2): every artifact in every tensor runtime
(parity/runners/tensor.py) on the golden inputs, plus the user's holdout (`.npz`, or a folder of pictures
for a model with one image input) when the reference model is given to produce its expected outputs.

Metrics: top-1/top-5 agreement, max absolute error, lowest cosine similarity (parity/tensor_metrics.py),
judged by runtime/judge.py (judge_tensors) under the precision's profile, overridden by --tolerance.
Results are the tabular gate's PairResult/ParityReport: the same text, JSON, JUnit and HTML reports and
exit codes. Worst inputs carry both top classes and, for pictures, the picture itself (parity/png.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..converters.sources import load_source
from ..converters.sources.tensor_io import read_sample
from ..runtime.errors import ModelError, UsageError
from ..runtime.judge import TENSOR_PROFILES, TensorProfile
from ..runtime.progress import Progress
from ..runtime.tensors import CLASS_KINDS, DTYPES, TensorSpec, input_specs, output_specs, top_k
from .png import data_uri, input_picture
from .results import ERROR, FAIL, PASS, UNAVAILABLE, PairResult, ParityOptions, ParityReport, now
from .runners.base import Unavailable
from .runners.tensor import TENSOR_RUNNERS, runtime_info, tensor_runners_for
from .tensor_metrics import tensor_comparison, tensor_verdict

TENSOR_KEYS = tuple(TensorProfile().to_dict())
WORST = 5


@dataclass
class TensorInputs:
    """Rows 0..n_golden-1 are the golden inputs; `expected` holds the reference outputs of every row."""

    inputs: dict[str, np.ndarray]
    expected: dict[str, np.ndarray]
    origin: list[str]
    n_golden: int
    description: str
    notes: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.origin)


def tensor_profile_for(precision: str, manifest: dict[str, Any] | None, overrides: dict[str, dict[str, Any]],
                       artifact_id: str | None = None) -> dict[str, Any]:
    """The default profile of the precision (or the manifest's, when applied), then --tolerance overrides
    for the precision, then for the artifact id. Raises UsageError for a key tensor profiles do not have."""
    own = (manifest or {}).get("tolerance_profiles", {}).get(precision)
    base = TENSOR_PROFILES.get(precision, TENSOR_PROFILES["int8"]).to_dict()
    profile = {**base, **{k: v for k, v in (own or {}).items() if k in TENSOR_KEYS}}
    for scope in (precision, artifact_id):
        extra = overrides.get(scope or "", {})
        wrong = [k for k in extra if k not in TENSOR_KEYS]
        if wrong:
            raise UsageError(f"--tolerance key {wrong[0]!r} does not apply to a tensor package", where="--tolerance",
                             fix=f"tensor profile keys: {', '.join(TENSOR_KEYS)}")
        profile.update(extra)
    return profile


def _own_profiles(manifest: dict[str, Any], asked: bool, notes: list[str]) -> dict[str, Any] | None:
    """The manifest's tolerance_profiles only when asked (a package never grades itself); a note when
    profiles that differ from the defaults were left out."""
    if asked:
        return manifest
    own = manifest.get("tolerance_profiles") or {}
    differing = sorted(p for p, v in own.items()
                       if p in TENSOR_PROFILES and {**TENSOR_PROFILES[p].to_dict(), **v} != TENSOR_PROFILES[p].to_dict())
    if differing:
        notes.append(f"the package's own tolerance_profiles ({', '.join(differing)}) were not applied: a package "
                     "never grades itself (--manifest-tolerances applies them, --tolerance sets yours)")
    return None


def assemble_tensors(package: Any, specs: list[TensorSpec], outputs: list[TensorSpec], data: Path | None,
                     reference: Any | None) -> TensorInputs:
    """Golden inputs first, then the holdout's rows when a reference model gives their expected outputs.
    Raises DataError for an unusable holdout."""
    golden = package.golden()
    inputs = {s.name: np.asarray(golden["inputs"][s.name], dtype=DTYPES[s.dtype]) for s in specs}
    expected = {o.name: np.asarray(golden["outputs"][o.name], dtype=np.float64) for o in outputs}
    n = len(next(iter(inputs.values())))
    origin, parts, notes = ["golden"] * n, [f"{n} golden"], []
    if reference is None:
        notes.append("no reference model given (--reference MODEL): compared on the golden inputs only, whose "
                     "reference outputs the build stored")
        if data is not None:
            notes.append(f"{data.name} was not used: its inputs have no reference outputs without --reference")
    elif data is not None:
        extra = read_sample(data, specs)
        rows = len(next(iter(extra.values())))
        inputs = {k: np.concatenate([v, extra[k]]) for k, v in inputs.items()}
        origin += ["holdout"] * rows
        parts.append(f"{rows} from {data.name}")
    else:
        notes.append("no --data HOLDOUT given: compared on the golden inputs (tensor packages take an .npz or a "
                     "folder of pictures as holdout; no inputs are generated)")
    return TensorInputs(inputs, expected, origin, n, " + ".join(parts) + " inputs", notes)


def run_tensor_parity(opts: ParityOptions, package: Any, runtimes: list[str], notes: list[str]) -> ParityReport:
    """The tensor gate. Raises UsageError, ModelError (unusable --reference), DataError (unusable holdout)."""
    if opts.label_column:
        raise UsageError("--label-column applies to tabular holdouts", where="--label-column",
                         fix="tensor packages are compared with the reference model's outputs; drop --label-column")
    specs, outputs = input_specs(package.manifest), output_specs(package.manifest)
    source = _reference_source(opts.reference) if opts.reference is not None else None
    data = assemble_tensors(package, specs, outputs, opts.data, source)
    data.notes.extend(notes)
    own = _own_profiles(package.manifest, opts.manifest_tolerances, data.notes)
    kinds = {o.name: o.kind for o in outputs}
    classes = list(package.manifest["outputs"].get("classes", []))
    artifacts = package.artifacts()
    pairs = [(art, name) for art in artifacts for name, _, _ in tensor_runners_for(art.format) if name in runtimes]
    for name in runtimes if opts.runtimes else []:  # named by the user: say which run nothing here
        if name != "reference" and not any(n == name for _, n in pairs):
            data.notes.append(f"runtime {name} runs none of this package's artifact formats")
    progress = Progress(len(pairs) + (1 if source else 0), quiet=opts.quiet)
    check = None
    if source is not None:
        with progress.step(f"running the reference model {opts.reference.name} on {len(data)} inputs"):  # type: ignore[union-attr]
            check = _reference_check(source, opts, data, kinds, own)
    results: list[PairResult] = []
    context = (data, kinds, specs, outputs, classes)
    for art in artifacts:
        if not tensor_runners_for(art.format):
            results.append(PairResult(art.id, art.format, art.precision, "-", UNAVAILABLE, data.description, 0,
                                      art.precision, {}, reason=f"no tensor runner runs {art.format} artifacts"))
        for name in (n for a, n in pairs if a.id == art.id):
            profile = tensor_profile_for(art.precision, own, opts.tolerance, art.id)
            with progress.step(f"{art.id} in {name}"):
                results.append(_run_pair(package, art, name, profile, context))
    return ParityReport(package.name, package.version, str(package.location), data.description,
                        str(opts.reference) if opts.reference else None, data.notes, results, now(), opts.strict, check)


def _reference_source(path: Path) -> Any:
    source = load_source(path)
    if getattr(source, "kind", "table") != "tensor":
        raise ModelError(f"{path.name} is a tabular model; this package is a tensor model's", where=str(path),
                         fix="pass the ONNX or Keras model the package was built from")
    return source


def _reference_check(source: Any, opts: ParityOptions, data: TensorInputs, kinds: dict[str, str],
                     own: dict[str, Any] | None) -> PairResult:
    """The reference model on every input; on the golden rows it must reproduce the stored outputs (a
    model other than the package's shows here first). Its outputs become every row's expectation."""
    start = time.perf_counter()
    try:
        got = source.predict_tensors(data.inputs)
    except Exception as exc:  # the user's model raising on the package's own inputs
        raise ModelError(f"the reference model cannot predict on the package's inputs: {type(exc).__name__}: {exc}",
                         where=str(opts.reference), fix="pass the model the package was built from") from exc
    missing = [k for k in kinds if k not in got]
    if missing:
        raise ModelError(f"the reference model has no output {missing[0]!r}", where=str(opts.reference),
                         fix="pass the model the package was built from")
    n = data.n_golden
    profile = tensor_profile_for("float32", own, opts.tolerance)
    result = PairResult(artifact=Path(str(opts.reference)).name, format="model", precision="float32", runtime="reference",
                        status=PASS, data=f"{n} golden", rows=n, profile_name="float32", profile=profile,
                        runtime_info={"name": "reference", "runtime": source.describe().get("estimator", "")})
    _judge(result, data.expected, {k: np.asarray(v)[:n] for k, v in got.items()}, kinds)
    data.expected = {k: np.asarray(got[k], dtype=np.float64) for k in kinds}  # every row, as the tabular gate
    result.seconds = time.perf_counter() - start
    return result


def _run_pair(package: Any, art: Any, name: str, profile: dict[str, Any], context: tuple) -> PairResult:
    data, kinds, specs, outputs, classes = context
    result = PairResult(artifact=art.id, format=art.format, precision=art.precision, runtime=name, status=PASS,
                        data=data.description, rows=len(data), profile_name=art.precision, profile=profile)
    run, available = next((r, a) for n, _, r, a in TENSOR_RUNNERS if n == name)
    reason = available()
    if reason:
        result.status, result.reason = UNAVAILABLE, reason
        return result
    start = time.perf_counter()
    try:
        result.runtime_info = runtime_info(name)
        got = run(package, art, data.inputs)
    except Unavailable as exc:
        result.status, result.reason = UNAVAILABLE, str(exc)
        return result
    except Exception as exc:  # a crashing runtime is a finding: report it with its message
        result.status, result.reason = ERROR, f"{type(exc).__name__}: {exc}"[:4000]
        return result
    finally:
        result.seconds = time.perf_counter() - start
    try:
        _judge(result, data.expected, got, kinds)
    except ValueError as exc:
        result.status, result.reason = ERROR, f"outputs cannot be compared: {exc}"
        return result
    result.worst_rows = worst_inputs(data, specs, outputs, classes, got, result.row_error)
    return result


def _judge(result: PairResult, expected: dict[str, np.ndarray], got: dict[str, np.ndarray], kinds: dict[str, str]) -> None:
    metrics, row_error = tensor_comparison(expected, got, kinds)
    metrics.pop("worst_rows", None)
    verdict = tensor_verdict(metrics, result.profile)
    result.metrics = metrics
    result.row_error = row_error
    result.failures = [f.to_dict() for f in verdict.failures]
    result.status = PASS if verdict.passed else FAIL
    scored = next((k for k, kind in kinds.items() if kind in CLASS_KINDS), None)
    if scored is not None:
        ref, out = np.asarray(expected[scored]), np.asarray(got[scored])
        result.disagreeing = np.flatnonzero(np.argmax(out.reshape(len(out), -1), 1) != np.argmax(ref.reshape(len(ref), -1), 1))


def worst_inputs(data: TensorInputs, specs: list[TensorSpec], outputs: list[TensorSpec], classes: list[Any],
                 got: dict[str, np.ndarray], row_error: np.ndarray, k: int = WORST) -> list[dict[str, Any]]:
    """The k inputs with the largest error: each input's shape and range (and its picture, for an image
    input), and for a classifier the reference's and the artifact's top classes side by side."""
    order = np.argsort(-row_error, kind="stable")[:k]
    scored = next((o for o in outputs if o.kind in CLASS_KINDS), None)
    rows = []
    for i in (int(j) for j in order if row_error[j] > 0):
        row: dict[str, Any] = {"row": i, "origin": data.origin[i], "error": float(row_error[i]), "input": {},
                               "tensor": True}
        pictures = {}
        for spec in specs:
            value = data.inputs[spec.name][i]
            row["input"][spec.name] = f"{list(value.shape)} {value.dtype} in [{float(value.min()):.4g}, {float(value.max()):.4g}]"
            picture = input_picture(value, spec)
            if picture is not None:
                pictures[spec.name] = data_uri(picture)
        if pictures:
            row["images"] = pictures
        if scored is not None:
            names = classes or list(range(np.asarray(got[scored.name]).shape[1]))
            for key, values in (("reference", data.expected[scored.name]), ("artifact", got[scored.name])):
                top = top_k(np.asarray(values[i:i + 1], dtype=np.float64), names, 3, "score")[0]["top_k"]
                row[key] = [{"class": t["class"], "score": round(t["score"], 6)} for t in top]
        else:
            first = outputs[0].name
            row["reference"] = np.asarray(data.expected[first][i], dtype=np.float64).reshape(-1)[:6].round(7).tolist()
            row["artifact"] = np.asarray(got[first][i], dtype=np.float64).reshape(-1)[:6].round(7).tolist()
        rows.append(row)
    return rows
