"""The tiny scorer: a verified package's ONNX artifact run in onnxruntime, nothing heavier.

Example:
    from edgepack.runtime import Scorer
    scorer = Scorer.load("build/churn/package")
    scorer.predict(frame)          # -> array([1, 0, ...]): labels, like scikit-learn's predict
    scorer.predict_proba(frame)    # -> array([[0.31, 0.69], ...])
    scorer.predict_records([{"tenure_months": 3, ...}])  # -> [{"label": 1, "probabilities": {"0": 0.31, "1": 0.69}}]
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .batch import BatchValidator
from .errors import PackageError, RecordError, UsageError, quoted
from .judge import Metrics, ToleranceProfile, Verdict, judge, profile_of
from .ortvalues import RowFeeds
from .package import ArtifactInfo, Package
from .records import Rejection, encode_records, tensors_for
from .schema import STRING_TYPES, IOSchema

if TYPE_CHECKING:
    from pathlib import Path

    from .signing import TrustSet
    from .stats import StatsCollector


@dataclass(frozen=True)
class SelfTestResult:
    rows: int
    label_agreement: float | None
    max_error: float
    tolerance: ToleranceProfile
    verdict: Verdict

    @property
    def passed(self) -> bool:
        return self.verdict.passed


# A category no model knows, for an unknown index in a numeric array ("" would read as missing).
UNKNOWN_CATEGORY = "\x00unknown"


class Scorer:
    """Scores records with one artifact of a package. Use `Scorer.load(path)`."""

    def __init__(self, package: Package, artifact: ArtifactInfo, session: Any) -> None:
        self.package = package
        self.artifact = artifact
        self.schema = IOSchema.from_manifest(package.manifest)
        self._session = session
        self._binding: list[dict[str, Any]] = artifact.entry["inputs"]
        self._outputs: dict[str, str] = artifact.entry["outputs"]
        self._output_names = list(self._outputs.values())
        self._classes = list(self.schema.classes)
        self._class_keys = [str(c) for c in self._classes]
        self._plan, self._number_positions = _array_plan(self._binding, self.schema)
        self._has_strings = any(kind in ("string", "text") for *_, kind in self._plan)
        self._validators: dict[tuple[frozenset[str], bool], BatchValidator] = {}
        # The binding under InferenceSession.run skips its per-call input checks (2-3 us of a 15 us call);
        # predict_array's plan already guarantees the inputs.
        inner = getattr(session, "_sess", None)
        self._run = (lambda names, feeds: inner.run(names, feeds, None)) if inner is not None else session.run
        # predict_array's one-record path (runtime/ortvalues.py), when it can serve; made on first use
        singles = [(t["name"], self.schema.feature(t["features"][0])) for t in self._binding
                   if t["dtype"] == "string" and len(t["features"]) == 1]
        self._row_strings = {name: list(feat.categories) for name, feat in singles if feat.categories}
        self._row_session = inner if inner is not None and RowFeeds.supported(inner, self._plan, self._row_strings) else None
        self._row_feeds: RowFeeds | None = None
        kind = "probabilities" if "probabilities" in self._outputs else "value"
        self._array_output = (kind, [self._outputs[kind]])

    @classmethod
    def load(cls, path: str | Path | Package, artifact: str | None = None, threads: int = 1,
             trust: str | Path | TrustSet | None = None) -> Scorer:
        """Open and verify a package and load its ONNX artifact (`artifact`: an id, default the package's; a
        TFLite artifact's id runs it in ai-edge-litert, the optional `tflite` extra, where onnxruntime has no wheel).
        `trust`: a public key file, a directory of them or a TrustSet; the package must then carry a valid
        signature by one of those keys (runtime/signing.py).

        Verifies the manifest's shape, the artifact's and the golden vectors' checksums, and that the
        artifact is self-contained (no external data). Raises PackageError when any of that fails or, with
        `trust`, the package is unsigned or wrongly signed; UsageError when `trust` names no usable key or
        the `signing` extra is missing.
        """
        package = path if isinstance(path, Package) else Package.open(path)
        if trust is not None:
            from .signing import (  # deferred: a start-up without --trust stays as small
                TrustSet,
                verify_package,
            )

            verify_package(package, trust if isinstance(trust, TrustSet) else TrustSet.load(trust))
        art = package.artifact(artifact, format="onnx")
        if art.format not in ("onnx", "tflite"):
            raise PackageError(f"artifact {quoted(art.id)} is {art.format}; this scorer runs ONNX and TFLite artifacts",
                               fix="choose an ONNX or TFLite artifact (edgepack inspect lists them)")
        data = package.artifact_bytes(art)
        package.check_golden()  # the README's promise: every checksum verified before anything is scored
        if art.format == "tflite":  # boards without an onnxruntime wheel: the optional tflite extra
            from .tflite_session import TFLiteTableSession  # deferred: only a chosen TFLite artifact needs it

            return cls(package, art, TFLiteTableSession(data, art.entry, threads))
        import onnxruntime as ort  # the one heavy import of the device runtime (not needed for TFLite)

        options = ort.SessionOptions()
        # One thread each: a gateway shares its cores, and single-record latency is best without handoffs.
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # Bytes that are not an ONNX model (an ORT-format flatbuffer, which runtime/onnx_check.py does not
        # read) are refused rather than guessed at.
        options.add_session_config_entry("session.load_model_format", "ONNX")
        try:
            session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types
            raise PackageError(f"onnxruntime cannot load {quoted(art.file)}: {exc}", where=str(package.location)) from exc
        _check_binding(art, session, package.location)
        return cls(package, art, session)

    # -- scoring -------------------------------------------------------------------------------------
    def run_columns(self, columns: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Raw outputs for validated feature columns: {"probabilities": [N, C]} or {"value": [N]}."""
        feeds = tensors_for(self._binding, columns, self.schema)
        results = self._session.run(self._output_names, feeds)
        out = dict(zip(self._outputs.keys(), results))
        if "value" in out:
            out["value"] = np.asarray(out["value"], dtype=np.float64).reshape(-1)
        return out

    def predict_array(self, X: np.ndarray | dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Score rows without validation: the fast path for callers that built their arrays themselves.

        `X`: a 2-D array (or one row) in schema order. Numeric features as numbers; a category feature as
        its string (in an object array) or, in a numeric array, as its index in the manifest's
        `categories` (-1 for unknown), the encoding of contract 2. Or a dict of feature columns.
        Returns {"probabilities": [N, C]} (classes in `schema.classes` order) or {"value": [N]};
        `labels_from(probabilities)` gives labels.
        """
        if type(X) is not np.ndarray:
            if isinstance(X, dict):
                return self.run_columns(X)
            X = np.asarray(X)
        if X.ndim == 1:
            X = X.reshape(1, -1)
        if self._row_session is not None and len(X) == 1 and (X.dtype.kind in "OU" or not self._has_strings):
            row = self._predict_row(X[0].tolist())
            if row is not None:
                return row
        feeds = {}
        if X.dtype == object:  # mixed rows: numbers converted in one block, strings passed as they are
            block = X[:, self._number_positions].astype(np.float64)
            for name, in_x, in_block, dtype, kind in self._plan:
                if kind == "string":
                    feeds[name] = X[:, in_x]
                elif kind == "number":
                    feeds[name] = block[:, in_block].astype(dtype, copy=False)
                else:
                    return self._predict_array_general(X)
        else:
            for name, in_x, _, dtype, kind in self._plan:
                if kind in ("string", "text"):
                    return self._predict_array_general(X)
                feeds[name] = X[:, in_x].astype(dtype, copy=False)  # "coded" takes indices as they are
        key, names = self._array_output
        out = self._run(names, feeds)[0]
        if key == "value":
            out = np.asarray(out, dtype=np.float64).reshape(-1)
        return {key: out}

    def _predict_row(self, values: list[Any]) -> dict[str, np.ndarray] | None:
        """One row as OrtValues onnxruntime reads in place (runtime/ortvalues.py): about 17 us a churn
        record where handing it numpy arrays costs 21. None when the row needs the slicing path."""
        row_feeds = self._row_feeds
        if row_feeds is None:  # two threads may both build one: each is whole, the last one stays
            row_feeds = self._row_feeds = RowFeeds(self._row_session, self._plan, self._row_strings)
        key, names = self._array_output
        out = row_feeds.run(values, names)
        if out is None:
            return None
        if key == "value":
            out = np.asarray(out, dtype=np.float64).reshape(-1)
        return {key: out}

    def _predict_array_general(self, X: np.ndarray) -> dict[str, np.ndarray]:
        columns: dict[str, np.ndarray] = {}
        for j, feat in enumerate(self.schema.features):
            col = X[:, j]
            if feat.type not in STRING_TYPES:
                columns[feat.name] = col.astype(np.float64)
            elif X.dtype == object:
                columns[feat.name] = col
            else:  # an index into the categories -> the category string; -1 unknown, NaN missing (contract 2)
                cats = np.array([*(feat.categories or ()), UNKNOWN_CATEGORY, None], dtype=object)
                index = np.where(np.isnan(col.astype(np.float64)), -1, col).astype(np.int64)
                known = (index >= 0) & (index < len(cats) - 2)
                columns[feat.name] = cats[np.where(known, index, np.where(np.isnan(col.astype(np.float64)), -1, -2))]
        raw = self.run_columns(columns)
        key = self._array_output[0]
        return {key: raw[key]}

    def labels_from(self, probabilities: np.ndarray) -> list[Any]:
        # The label is the most probable class, first on ties, as scikit-learn's predict does.
        return [self._classes[i] for i in np.argmax(probabilities, axis=1)]

    def format(self, raw: dict[str, np.ndarray]) -> list[dict[str, Any]]:
        """Raw outputs to one JSON-ready dict per row."""
        if "probabilities" in raw:
            probs = np.asarray(raw["probabilities"], dtype=np.float64)
            labels = self.labels_from(probs)
            keys = self._class_keys
            return [
                {"label": _jsonable(lab), "probabilities": dict(zip(keys, map(float, row)))}
                for lab, row in zip(labels, probs)
            ]
        return [{"value": float(v)} for v in raw["value"]]

    def score(self, records: Iterable[Any], allowed_extra: frozenset[str] = frozenset(), start: int = 0,
              strict: bool = False, stats: StatsCollector | None = None
              ) -> tuple[list[int], list[dict[str, Any]], list[Rejection]]:
        """Validate and score. Returns (indices of scored records, their predictions, rejections).
        `stats` (runtime/stats.py) counts the batch in the package's reference bins.

        The input contract: fields the model does not use are ignored, unless `strict` (then only
        `allowed_extra` may appear besides the features); a nullable feature left out is missing.
        Validation is vectorised (runtime/batch.py) with the reasons of records.check_record."""
        records = records if isinstance(records, list) else list(records)
        key = (allowed_extra, strict)
        validator = self._validators.get(key)
        if validator is None:
            validator = self._validators[key] = BatchValidator(self.schema, allowed_extra, strict=strict)
        checked = validator.records(records)
        bad = checked.bad.tolist()
        kept = [i + start for i, b in enumerate(bad) if not b]
        rejected = []
        for i, b in enumerate(bad):
            if b:
                err = validator.reason(records[i])
                rejected.append(Rejection(i + start, err.field, err.reason))
        columns = checked.good_columns() if kept else None
        raw = self.run_columns(columns) if columns is not None else None
        if stats is not None:
            stats.observe(columns, raw, [r.field for r in rejected])
        if raw is None:
            return [], [], rejected
        return kept, self.format(raw), rejected

    def predict(self, X: Any, strict: bool = False) -> np.ndarray:
        """Labels (classifiers, in `classes_`' types) or values (regressors) as a numpy array, one per
        row, as scikit-learn's `predict` returns them.

        `X`: a pandas DataFrame, a 2-D numpy array with the columns in schema order
        (`scorer.schema.names`), one record (a dict keyed by feature name), a dict of columns, or a list
        of records. Every row is validated as `edgepack-score` validates it: fields the model does not
        use are ignored unless `strict`; a nullable feature left out (or None/NaN) is missing. Raises
        RecordError naming the first bad row and field."""
        raw = self._checked_raw(X, strict)
        if "probabilities" in raw:
            return np.asarray(self.labels_from(np.asarray(raw["probabilities"])))
        return np.asarray(raw["value"], dtype=np.float64)

    def predict_proba(self, X: Any, strict: bool = False) -> np.ndarray:
        """Class probabilities [N, C] as float64, columns in `classes_` order (classifiers only).
        `X` and validation as in `predict`."""
        raw = self._checked_raw(X, strict)
        if "probabilities" not in raw:
            raise UsageError(f"predict_proba: {self.package.name} is a regressor", fix="use predict")
        return np.asarray(raw["probabilities"], dtype=np.float64)

    def predict_records(self, X: Any, strict: bool = False) -> list[dict[str, Any]]:
        """The record form, ready for JSON: `[{"label": 1, "probabilities": {"0": 0.31, "1": 0.69}}]` or
        `[{"value": 12.5}]`, one dict per row. `X` and validation as in `predict`."""
        return self.format(self._checked_raw(X, strict))

    @property
    def classes_(self) -> np.ndarray:
        """The class labels in the order of `predict_proba`'s columns (empty for a regressor)."""
        return np.asarray(self._classes)

    def _checked_raw(self, X: Any, strict: bool) -> dict[str, np.ndarray]:
        records = as_records(X, self.schema.names)
        validator = self._validators.get((frozenset(), strict))
        if validator is None:
            validator = self._validators[(frozenset(), strict)] = BatchValidator(self.schema, frozenset(), strict=strict)
        checked = validator.records(records)
        bad = checked.bad.tolist()
        if any(bad):
            index = bad.index(True)
            err = validator.reason(records[index])
            raise RecordError(err.reason, field=err.field, record=index)
        if not records:
            return self._empty_raw()
        return self.run_columns(checked.good_columns())

    def _empty_raw(self) -> dict[str, np.ndarray]:
        if "probabilities" in self._outputs:
            return {"probabilities": np.zeros((0, len(self._classes)))}
        return {"value": np.zeros(0)}

    # -- self-test -----------------------------------------------------------------------------------
    def selftest(self) -> SelfTestResult:
        """Score the package's golden vectors and compare with the source model's stored outputs."""
        records, expected = _golden_parts(self.package.golden(), self.schema, self.package.location)
        raw = self.run_columns(encode_checked(self.schema, records))
        tolerance = profile_of(self.artifact.precision, self.package.manifest)
        if "probabilities" in raw:
            got = np.asarray(raw["probabilities"], dtype=np.float64)
            want = np.asarray(expected["probabilities"], dtype=np.float64)
            agree = float(np.mean(np.argmax(got, 1) == np.asarray([self._classes.index(v) for v in expected["label"]])))
            err = float(np.max(np.abs(got - want))) if len(want) else 0.0
            verdict = judge(Metrics(label_agreement=agree, max_probability_error=err), tolerance)
            return SelfTestResult(len(records), agree, err, tolerance, verdict)
        want = np.asarray(expected["value"], dtype=np.float64)
        scale = float(self.package.manifest["outputs"].get("value_scale", 1.0)) or 1.0
        err = float(np.max(np.abs(raw["value"] - want)) / scale) if len(want) else 0.0
        return SelfTestResult(len(records), None, err, tolerance, judge(Metrics(max_scaled_error=err), tolerance))


def as_records(X: Any, names: list[str]) -> list[Any]:
    """The input forms `Scorer.predict` takes, as a list of records.

    A DataFrame is recognised by its `columns` and `to_dict` (pandas is not imported: the device
    runtime does without it); NaN and pandas' missing markers become None (a missing value). A 2-D
    numpy array (or one row) is read in schema order `names`. A dict is one record, or a dict of
    columns when every value is a list, tuple or array. Anything else iterable is a list of records."""
    if hasattr(X, "columns") and hasattr(X, "to_dict"):
        return [{k: _missing_to_none(v) for k, v in row.items()} for row in X.to_dict("records")]
    if isinstance(X, np.ndarray):
        rows = X.reshape(1, -1) if X.ndim == 1 else X
        if rows.ndim != 2 or rows.shape[1] != len(names):
            raise UsageError(f"an array of shape {X.shape} for {len(names)} features",
                             fix=f"pass rows with the columns in schema order: {', '.join(names)}")
        return [dict(zip(names, map(_missing_to_none, row))) for row in rows.tolist()]
    if isinstance(X, dict):
        if X and all(isinstance(v, (list, tuple, np.ndarray)) for v in X.values()):
            columns = {k: list(v) for k, v in X.items()}
            n = len(next(iter(columns.values())))
            return [{k: _missing_to_none(v[i]) for k, v in columns.items()} for i in range(n)]
        return [X]
    if isinstance(X, (str, bytes)):
        raise UsageError(f"cannot score a {type(X).__name__}", fix="pass a DataFrame, an array, a dict or a list of dicts")
    return list(X)


def _missing_to_none(value: Any) -> Any:
    """NaN, pandas.NA and NaT are missing values: None, as a JSON null is."""
    if value is None or isinstance(value, (str, bool, int)):
        return value
    try:
        return None if value != value else value  # NaN (and NaT, NA) is not equal to itself
    except TypeError:  # pandas.NA: its comparison has no truth value
        return None


# The manifest's tensor dtypes as onnxruntime names the graph's input types.
_ORT_TYPES = {"float32": "tensor(float)", "float64": "tensor(double)", "int64": "tensor(int64)",
              "int32": "tensor(int32)", "string": "tensor(string)"}


def _check_binding(art: ArtifactInfo, session: Any, where: str) -> None:
    """The manifest's tensors are the graph's (names, dtypes, [N, features] shapes): a manifest that says
    otherwise is refused at load, not by onnxruntime in the middle of a stream."""
    def bad(what: str) -> PackageError:
        return PackageError(f"artifact {quoted(art.id)}: {what}", where=where, fix="rebuild the package with edgepack build")

    graph_inputs = {i.name: i for i in session.get_inputs()}
    declared = {t["name"]: t for t in art.entry["inputs"]}
    if set(declared) != set(graph_inputs) or len(declared) != len(art.entry["inputs"]):
        raise bad(f"the manifest's input tensors {sorted(declared)} are not the model's {sorted(graph_inputs)}")
    for name, tensor in declared.items():
        node = graph_inputs[name]
        if node.type != _ORT_TYPES[tensor["dtype"]]:
            raise bad(f"input {quoted(name)} is {node.type} in the model, {tensor['dtype']} in the manifest")
        shape = node.shape
        if len(shape) != 2 or (isinstance(shape[1], int) and shape[1] != len(tensor["features"])):
            raise bad(f"input {quoted(name)} has shape {shape} in the model; the manifest stacks "
                      f"{len(tensor['features'])} feature(s) as [N, {len(tensor['features'])}]")
    graph_outputs = {o.name for o in session.get_outputs()}
    missing = [name for name in art.entry["outputs"].values() if name not in graph_outputs]
    if missing:
        raise bad(f"the model has no output {quoted(missing[0])}")


def _golden_parts(golden: Any, schema: IOSchema, where: str) -> tuple[list[Any], dict[str, Any]]:
    """The golden vectors' records and expected outputs, refused (PackageError) unless they fit the
    manifest: as many outputs as records, labels among its classes, one probability per class."""
    def bad(what: str) -> PackageError:
        return PackageError(f"golden vectors: {what}", where=where, fix="rebuild the package with edgepack build")

    if not isinstance(golden, dict) or not isinstance(golden.get("records"), list) \
            or not isinstance(golden.get("outputs"), dict):
        raise bad("expected {\"records\": [...], \"outputs\": {...}}")
    records, outputs = golden["records"], golden["outputs"]
    n = len(records)
    if schema.task == "classification":
        labels, probs = outputs.get("label"), outputs.get("probabilities")
        if not isinstance(labels, list) or not isinstance(probs, list) or len(labels) != n or len(probs) != n:
            raise bad(f"expected {n} labels and {n} probability rows, one per record")
        known = {(type(c), c) for c in schema.classes}
        for i, (label, row) in enumerate(zip(labels, probs)):
            if (type(label), label) not in known:
                raise bad(f"row {i}: label {quoted(label)} is not one of the manifest's classes")
            if not isinstance(row, list) or len(row) != len(schema.classes) \
                    or not all(type(p) in (int, float) for p in row):
                raise bad(f"row {i}: expected {len(schema.classes)} probabilities")
    else:
        values = outputs.get("value")
        if not isinstance(values, list) or len(values) != n or not all(type(v) in (int, float) for v in values):
            raise bad(f"expected {n} numbers under outputs.value, one per record")
    return records, outputs


def encode_checked(schema: IOSchema, records: list[Any]) -> dict[str, np.ndarray]:
    columns, _, rejected = encode_records(schema, records)
    if rejected:
        bad = rejected[0]
        raise PackageError(f"golden record {bad.index} fails the package's own schema: {bad.reason} ({bad.field})",
                           fix="rebuild the package")
    return columns


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    return value


def _array_plan(binding: list[dict[str, Any]], schema: IOSchema) -> tuple[list[tuple[str, Any, Any, Any, str]], list[int]]:
    """How predict_array cuts a schema-ordered array into the artifact's tensors, computed once.

    Per tensor: (name, columns in X, columns in the block of numeric features, dtype, kind) with kind
    "number", "string" (categories as strings), "text" (strings the runtime lowercases first: the general path)
    or "coded" (a numeric tensor holding category indices).
    Column selectors are slices when consecutive (views, no copies). Also returns the positions of the
    features that feed "number" tensors: the block an object array is converted to in one call.
    """
    position = {name: j for j, name in enumerate(schema.names)}
    def is_number(t: dict[str, Any]) -> bool:
        return t["dtype"] != "string" and all(schema.feature(n).type not in STRING_TYPES for n in t["features"])

    numbers = [position[n] for t in binding if is_number(t) for n in t["features"]]
    in_block = {j: k for k, j in enumerate(numbers)}
    plan: list[tuple[str, Any, Any, Any, str]] = []
    for tensor in binding:
        idx = [position[n] for n in tensor["features"]]
        if tensor["dtype"] == "string":
            plan.append((tensor["name"], _selector(idx), None, object, "text" if tensor.get("lowercase") else "string"))
            continue
        if not is_number(tensor):
            plan.append((tensor["name"], _selector(idx), None, np.dtype(tensor["dtype"]), "coded"))
            continue
        plan.append((tensor["name"], _selector(idx), _selector([in_block[j] for j in idx]), np.dtype(tensor["dtype"]),
                     "number"))
    return plan, numbers


def _selector(idx: list[int]) -> Any:
    return slice(idx[0], idx[-1] + 1) if idx == list(range(idx[0], idx[-1] + 1)) else idx
