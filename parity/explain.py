"""Why rows disagree: split thresholds near a tree model's features, and the worst rows side by side.

A tree compares each feature with a float32 threshold. When a feature lies within a few float32 ulps of
the threshold on the row's path, any rounding difference before the split (float64 vs float32
preprocessing, a different summation order) can send the row down the other branch: that is a rounding
effect, not a broken artifact. When no split is that close, the disagreement has another cause.

The thresholds come from the ONNX TreeEnsemble* nodes of the artifact (or of the package's ONNX
artifact for other formats); the features are the tree node's own input, exposed as an extra graph
output and computed by onnxruntime.

A TFLite or TF.js tree artifact whose input is `float64-parts` carries every number as a float64 and
decides in the model's own precision: no rounding can move one of its splits, so for it distances are
counted in float64 steps and a split near the value is never called float32 rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..runtime.records import FLOAT64_PARTS, tensors_for
from ..runtime.schema import IOSchema
from .runners.base import InputBatch

NEAR_ULPS = 4.0  # "within float32 rounding": a handful of ulps covers float64->float32 casts and reordering
# A row whose error is at most this (probability, or value over the target's scale) cannot come from a
# flipped split: a flip changes the output by a leaf difference, orders of magnitude larger in trained
# trees, while float32 sums of leaf values and links (sigmoid, softmax) stay within it.
ARITHMETIC_ERROR = 1e-6
MAX_EXPLAINED_ROWS = 20
TREE_OPS = ("TreeEnsembleClassifier", "TreeEnsembleRegressor", "TreeEnsemble")


def worst_rows(batch: InputBatch, origin: list[str], reference: np.ndarray, got: np.ndarray, row_error: np.ndarray,
               k: int = 5) -> list[dict[str, Any]]:
    """The k rows with the largest error: inputs, reference output and artifact output side by side."""
    order = np.argsort(-row_error, kind="stable")[:k]
    return [{"row": int(i), "origin": origin[i], "error": float(row_error[i]), "input": batch.records[i],
             "reference": np.asarray(reference[i], dtype=np.float64).round(7).tolist(),
             "artifact": np.asarray(got[i], dtype=np.float64).round(7).tolist()}
            for i in order if row_error[i] > 0]


def tree_explanations(package: Any, artifact: Any, batch: InputBatch, rows: np.ndarray,
                      feature_names: list[str] | None = None, errors: np.ndarray | None = None,
                      limit: float | None = None) -> list[dict[str, Any]] | None:
    """For each row in `rows` (at most MAX_EXPLAINED_ROWS), the splits on its path whose feature lies
    within NEAR_ULPS float32 ulps of the threshold, and a sentence saying why. `errors` (per row of the
    batch, in the profile's units) and `limit` let a continuous difference be called rounding of the
    arithmetic rather than a decision. None when the model has no tree ensemble (or no ONNX graph to
    read it from)."""
    import onnx

    graph_art = artifact if artifact.format == "onnx" else _onnx_artifact(package)
    if graph_art is None:
        return None
    model = onnx.load_from_string(package.artifact_bytes(graph_art))
    trees = [n for n in model.graph.node if n.op_type in TREE_OPS]
    if not trees:
        return None
    rows = np.asarray(rows[:MAX_EXPLAINED_ROWS], dtype=np.int64)
    if not len(rows):
        return []
    features = _tree_inputs(model, graph_art, package, batch, rows, [n.input[0] for n in trees])
    binding = graph_art.entry["inputs"]
    if feature_names is None and len(binding) == 1 and all(len(binding[0]["features"]) == X.shape[1] for X in features):
        # One input tensor as wide as the trees' input: no preprocessing reorders it, so the names carry over.
        feature_names = list(binding[0]["features"])
    ensembles = [_Ensemble.parse(node) for node in trees]
    exact = any(t.get("dtype") == FLOAT64_PARTS for t in artifact.entry.get("inputs", []))
    out = []
    for pos, row in enumerate(rows):
        near: list[dict[str, Any]] = []
        missing: list[dict[str, Any]] = []
        nearest: dict[str, Any] | None = None
        for ensemble, X in zip(ensembles, features):
            for split in _path_splits(ensemble, X[pos], exact):
                name = feature_names[split["feature_index"]] if feature_names and split["feature_index"] < len(feature_names) \
                    else f"x[{split['feature_index']}]"
                split["feature"] = name
                if split["value"] is None:
                    missing.append(split)
                    continue
                if split["ulps"] <= NEAR_ULPS:
                    near.append(split)
                if nearest is None or split["ulps"] < nearest["ulps"]:
                    nearest = split
        error = float(errors[row]) if errors is not None and row < len(errors) else None
        out.append({"row": int(row), "near_splits": near[:5], "missing_splits": missing[:5], "nearest_split": nearest,
                    "why": _why(near, nearest, missing, error, limit, exact)})
    return out


def _why(near: list[dict[str, Any]], nearest: dict[str, Any] | None, missing: list[dict[str, Any]],
         error: float | None = None, limit: float | None = None, exact: bool = False) -> str:
    """Why one row disagrees. `exact`: the artifact decides in the model's precision (float64 parts), so
    distances are float64 steps and no split decision is put down to rounding."""
    if error is not None and error <= ARITHMETIC_ERROR:
        against = f" against the limit {limit:.3g}" if limit is not None else ""
        return (f"error {error:.3g}{against}: a continuous difference, rounding of the arithmetic (float32 sums of "
                f"leaf values and the link), not a split decision: a flipped split moves the output by a leaf "
                f"difference, far more than {ARITHMETIC_ERROR:g}")
    if missing and not near:
        m = missing[0]
        return (f"feature {m['feature']} is missing and reaches {len(missing)} split(s) on this row's path (first: tree "
                f"{m['tree']}, node {m['node']}, threshold {m['threshold']:.9g}), where the artifact sends missing values "
                f"down the {m['missing_goes']}: the model learned another direction for missing values, or the "
                f"converter did not carry it over")
    if exact and (near or nearest is not None):
        s = (near or [nearest])[0]
        return (f"feature {s['feature']} = {s['value']:.17g} lies {s['ulps']:.3g} float64 steps from the split threshold "
                f"{s['threshold']:.17g} (tree {s['tree']}, node {s['node']}); this artifact takes every number as a float64 "
                f"(three float32 parts) and decides in the model's own precision, so no rounding moves a split: not a "
                f"rounding effect; the artifact's thresholds, its input encoding or its runtime differ from the model's")
    if near:
        s = near[0]
        text = (f"feature {s['feature']} = {s['value']:.9g} lies {s['ulps']:.1f} float32 ulps from the split threshold "
                f"{s['threshold']:.9g} (tree {s['tree']}, node {s['node']}): within float32 rounding, so a rounding "
                f"difference before this split sends the row down the other branch")
        if s["ulps"] == 0:
            # Trained trees put thresholds between observed values (midpoints), so a data value sitting exactly
            # on one is itself a hint that the artifact's threshold is not the trained one.
            text += ("; the value equals the threshold exactly, which trained trees avoid (their thresholds lie "
                     "between observed values): check that this threshold is the model's")
        return text
    if nearest is None:
        return "no split on this row's path could be read"
    size = f"error {error:.3g} is beyond float32 arithmetic and " if error is not None else ""
    return (f"{size}no split on this row's path is within float32 rounding (nearest: {nearest['feature']} = "
            f"{nearest['value']:.9g} vs threshold {nearest['threshold']:.9g}, {nearest['ulps']:.3g} ulps): not a rounding "
            f"effect; the artifact's thresholds or weights differ from the model's")


def _onnx_artifact(package: Any) -> Any:
    try:
        return package.artifact(format="onnx")
    except Exception:  # no ONNX artifact in this package
        return None


def _tree_inputs(model: Any, art: Any, package: Any, batch: InputBatch, rows: np.ndarray, names: list[str]) -> list[np.ndarray]:
    """The tree nodes' input tensors for `rows`, computed by onnxruntime with those tensors as extra outputs."""
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper


    inferred = onnx.shape_inference.infer_shapes(model)
    types = {v.name: v.type.tensor_type.elem_type for v in inferred.graph.value_info}
    types.update({v.name: v.type.tensor_type.elem_type for v in model.graph.input})
    existing = {o.name for o in model.graph.output}
    for name in dict.fromkeys(names):
        if name not in existing:
            model.graph.output.append(helper.make_tensor_value_info(name, types.get(name) or TensorProto.FLOAT, None))
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    columns = {k: v[rows] for k, v in batch.columns.items()}
    feeds = tensors_for(art.entry["inputs"], columns, IOSchema.from_manifest(package.manifest))
    results = session.run(names, feeds)
    return [np.asarray(r, dtype=np.float64 if np.asarray(r).dtype == np.float64 else np.float32).reshape(len(rows), -1)
            for r in results]


def _attrs(node: Any) -> dict[str, Any]:
    from onnx import helper, numpy_helper

    out = {}
    for a in node.attribute:
        value = helper.get_attribute_value(a)
        out[a.name] = numpy_helper.to_array(value) if a.type == a.TENSOR else value
    return out


@dataclass(frozen=True)
class _Ensemble:
    """A TreeEnsemble node's trees as flat arrays, parsed once and walked per row."""

    node_ids: list[int]
    tree_ids: list[int]
    thresholds: np.ndarray
    modes: list[str]
    features: list[int]
    next_true: list[int]  # index of the child, -1 for a leaf
    next_false: list[int]
    missing_true: list[int]
    roots: list[int]
    members: dict[int, set[float]] | None = None  # BRANCH_MEMBER node -> the values sent to its true branch

    @classmethod
    def parse(cls, node: Any) -> _Ensemble:
        if node.op_type == "TreeEnsemble":
            return _parse_v5(_attrs(node))  # defined below, with its own numbering
        a = _attrs(node)
        tree_ids, node_ids = list(a["nodes_treeids"]), list(a["nodes_nodeids"])
        modes = [m.decode() if isinstance(m, bytes) else m for m in a["nodes_modes"]]
        index = {(t, n): i for i, (t, n) in enumerate(zip(tree_ids, node_ids))}
        branch = [m != "LEAF" for m in modes]
        next_true = [index[(t, c)] if b else -1 for t, c, b in zip(tree_ids, a["nodes_truenodeids"], branch)]
        next_false = [index[(t, c)] if b else -1 for t, c, b in zip(tree_ids, a["nodes_falsenodeids"], branch)]
        children = set(next_true) | set(next_false)
        roots = {}
        for i, tree in enumerate(tree_ids):
            if i not in children:
                roots.setdefault(tree, i)
        # float64 thresholds (nodes_values_as_tensor) stay float64: the tree compares in double then
        values = a.get("nodes_values_as_tensor", a.get("nodes_values"))
        return cls(node_ids, tree_ids, np.asarray(values, dtype=np.float64 if getattr(values, "dtype", None) == np.float64 else np.float32),
                   modes, list(a["nodes_featureids"]), next_true, next_false,
                   list(a.get("nodes_missing_value_tracks_true", [0] * len(node_ids))), list(roots.values()))


MODES_V5 = ("BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE", "BRANCH_GT", "BRANCH_EQ", "BRANCH_NEQ", "BRANCH_MEMBER")


def _parse_v5(a: dict[str, Any]) -> _Ensemble:
    """ai.onnx.ml opset 5 TreeEnsemble: internal nodes, then leaves (indices n_internal + j), with the
    tree of each node found by walking from the roots."""
    n = len(a["nodes_featureids"])
    leaves = len(a["leaf_targetids"])

    def child(ids: str, flags: str, i: int) -> int:
        return int(a[ids][i]) + (n if a[flags][i] else 0)
    next_true = [child("nodes_truenodeids", "nodes_trueleafs", i) for i in range(n)] + [-1] * leaves
    next_false = [child("nodes_falsenodeids", "nodes_falseleafs", i) for i in range(n)] + [-1] * leaves
    tree_ids = [0] * (n + leaves)
    roots = [int(r) for r in a["tree_roots"]]
    for t, root in enumerate(roots):
        stack = [root]
        while stack:
            i = stack.pop()
            tree_ids[i] = t
            if i < n:
                stack += [next_true[i], next_false[i]]
    splits = np.asarray(a["nodes_splits"])
    thresholds = np.concatenate([splits.astype(np.float64 if splits.dtype == np.float64 else np.float32),
                                 np.zeros(leaves, dtype=splits.dtype)])
    modes = [MODES_V5[int(m)] for m in np.asarray(a["nodes_modes"]).reshape(-1)] + ["LEAF"] * leaves
    missing = list(a.get("nodes_missing_value_tracks_true", [0] * n)) + [0] * leaves
    # membership_values: each BRANCH_MEMBER node's set in node order, NaN after each
    values = np.asarray(a.get("membership_values", []), dtype=np.float64).reshape(-1)
    sets = np.split(values, np.flatnonzero(np.isnan(values)) + 1)
    members = {i: set(sets[k][~np.isnan(sets[k])].tolist())
               for k, i in enumerate(i for i in range(n) if modes[i] == "BRANCH_MEMBER")}
    return _Ensemble(list(range(n + leaves)), tree_ids, thresholds, modes, list(a["nodes_featureids"]) + [0] * leaves,
                     next_true, next_false, missing, roots, members)


COMPARE = {"BRANCH_LEQ": np.less_equal, "BRANCH_LT": np.less, "BRANCH_GTE": np.greater_equal,
           "BRANCH_GT": np.greater, "BRANCH_EQ": np.equal, "BRANCH_NEQ": np.not_equal}


def _path_splits(trees: _Ensemble, x: np.ndarray, float64: bool = False) -> list[dict[str, Any]]:
    """Follow every tree of the ensemble for one row; return each split on the path with its distance, in
    float32 ulps (float64 steps when `float64`)."""
    unit = np.float64 if float64 else np.float32
    splits = []
    for root in trees.roots:
        i = root
        for _ in range(len(trees.modes)):  # bounded walk: a malformed tree cannot loop forever
            mode = trees.modes[i]
            if mode == "LEAF":
                break
            value, threshold = x[trees.features[i]], trees.thresholds[i]  # in the tree op's own precision
            where = {"tree": int(trees.tree_ids[i]), "node": int(trees.node_ids[i]), "feature_index": int(trees.features[i]),
                     "threshold": float(threshold), "mode": mode}
            if np.isnan(value):
                go_true = bool(trees.missing_true[i])
                splits.append({**where, "value": None, "ulps": float("inf"),
                               "missing_goes": "true branch" if go_true else "false branch"})
            elif mode == "BRANCH_MEMBER":  # a set, not a cut: no distance to speak of
                go_true = float(value) in (trees.members or {}).get(i, set())
                splits.append({**where, "value": float(value), "ulps": float("inf")})
            else:
                go_true = bool(COMPARE[mode](value, threshold))
                ulp = float(np.spacing(unit(max(abs(float(value)), abs(float(threshold)), 1e-30))))
                splits.append({**where, "value": float(value), "ulps": abs(float(value) - float(threshold)) / ulp})
            i = trees.next_true[i] if go_true else trees.next_false[i]
    return splits
