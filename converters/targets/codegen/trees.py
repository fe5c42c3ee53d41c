"""ai.onnx.ml TreeEnsembleClassifier / TreeEnsembleRegressor as const tables and one traversal loop per
tree: no recursion, no allocation, no libm (only comparisons and additions). Decisions compare the input
in its own type with the node's threshold (the double thresholds of `nodes_values_as_tensor` when the
graph has them); missing values follow `nodes_missing_value_tracks_true`; leaves add their weights in
double, then the ensemble's aggregation, base values and post-transform apply, as onnx.reference does."""

from __future__ import annotations

import numpy as np

from ....runtime.errors import ModelError
from .ir import Node, Value
from .ops import post_transform
from .printer import Printer

MODES = {"BRANCH_LEQ": "<=", "BRANCH_LT": "<", "BRANCH_GTE": ">=", "BRANCH_GT": ">", "BRANCH_EQ": "==", "BRANCH_NEQ": "!="}


def tree_ensemble(p: Printer, node: Node) -> None:
    a = node.attrs
    x = node.inputs[0]
    classifier = node.op == "TreeEnsembleClassifier"
    y = node.outputs[1] if classifier else node.outputs[0]
    prefix = "class" if classifier else "target"
    tree_ids, node_ids = list(a["nodes_treeids"]), list(a["nodes_nodeids"])
    modes = list(a["nodes_modes"])
    thresholds = np.asarray(a["nodes_values_as_tensor"] if "nodes_values_as_tensor" in a else a["nodes_values"],
                            dtype=np.float64 if "nodes_values_as_tensor" in a else np.float32)
    weights = np.asarray(a[f"{prefix}_weights_as_tensor"] if f"{prefix}_weights_as_tensor" in a else a[f"{prefix}_weights"],
                         dtype=np.float64)
    missing = list(a.get("nodes_missing_value_tracks_true") or [0] * len(modes))
    index = {(t, n): i for i, (t, n) in enumerate(zip(tree_ids, node_ids))}
    trees = sorted(set(tree_ids))
    roots = [min(i for i, t in enumerate(tree_ids) if t == tree) for tree in trees]
    branch_modes = {m for m in modes if m != "LEAF"}
    if not branch_modes <= set(MODES):
        raise ModelError(f"tree node modes {sorted(branch_modes - set(MODES))} are outside what the c/js targets generate")
    n_nodes = len(modes)
    feature = [int(f) if m != "LEAF" else -1 for f, m in zip(a["nodes_featureids"], modes)]
    true_next = [index[(t, n)] if m != "LEAF" else 0 for t, n, m in zip(tree_ids, a["nodes_truenodeids"], modes)]
    false_next = [index[(t, n)] if m != "LEAF" else 0 for t, n, m in zip(tree_ids, a["nodes_falsenodeids"], modes)]
    # Leaf weights, grouped by node: leaf_first[n] .. leaf_first[n + 1] index leaf_out / leaf_w.
    owners = [index[(t, n)] for t, n in zip(a[f"{prefix}_treeids"], a[f"{prefix}_nodeids"])]
    outs = list(a[f"{prefix}_ids"])
    order = sorted(range(len(owners)), key=lambda i: owners[i])
    leaf_first = np.zeros(n_nodes + 1, dtype=np.int64)
    for i in owners:
        leaf_first[i + 1] += 1
    leaf_first = np.cumsum(leaf_first)
    xd = "f64" if x.dtype == "f64" else "f32"
    th_dtype = "f64" if thresholds.dtype == np.float64 or xd == "f64" else "f32"

    def table(suffix: str, dtype: str, values: object) -> str:
        arr = np.asarray(values)
        return p.table(Value(f"{y.name}_{suffix}", dtype, arr.shape, arr))

    t_feat = table("feat", "i64", np.asarray(feature, dtype=np.int64))
    t_th = table("th", th_dtype, thresholds.astype(np.float64 if th_dtype == "f64" else np.float32))
    t_true = table("true", "i64", np.asarray(true_next, dtype=np.int64))
    t_false = table("false", "i64", np.asarray(false_next, dtype=np.int64))
    t_miss = table("miss", "i64", np.asarray(missing, dtype=np.int64))
    t_roots = table("roots", "i64", np.asarray(roots, dtype=np.int64))
    t_first = table("first", "i64", leaf_first)
    t_out = table("out", "i64", np.asarray([outs[i] for i in order], dtype=np.int64))
    t_w = table("w", "f64", np.asarray([weights[i] for i in order], dtype=np.float64))
    one_mode = len(branch_modes) == 1
    if not one_mode:
        codes = {m: k for k, m in enumerate(MODES)}
        t_mode = table("mode", "i64", np.asarray([codes.get(m, -1) for m in modes], dtype=np.int64))

    n_out = y.size
    aggregate = a.get("aggregate_function", "SUM") if not classifier else "SUM"
    if aggregate not in ("SUM", "AVERAGE"):
        raise ModelError(f"tree aggregate_function {aggregate} is outside what the c/js targets generate")
    acc = p.array(Value(y.name + "_acc", "f64", (n_out,)))
    src = p.ref(x)
    idx = (lambda e: f"Math.trunc({e})") if p.lang == "js" else (lambda e: f"(int)({e})")
    p.loop("i", n_out)
    p.line(f"{acc}[i] = 0;")
    p.close()
    p.loop("t", len(trees))
    p.scalar("n", "i64", f"{t_roots}[t]")
    p.open(f"while ({t_feat}[{idx('n')}] >= 0)")
    node_index = idx("n")
    p.scalar("v", xd, f"{src}[{idx(f'{t_feat}[{node_index}]')}]")
    if one_mode:
        cmp = MODES[next(iter(branch_modes))]
        test = f"(v {cmp} {t_th}[{idx('n')}])"
    else:
        parts = " : ".join(f"{t_mode}[{idx('n')}] == {k} ? (v {op} {t_th}[{idx('n')}])" for k, op in enumerate(MODES.values()))
        test = f"({parts} : 0)"
    p.line(f"n = ({p.is_nan('v')} ? {t_miss}[{idx('n')}] != 0 : {test}) ? {t_true}[{idx('n')}] : {t_false}[{idx('n')}];")
    p.close()
    p.open(f"for ({p.int_decl('k')} = {idx(f'{t_first}[{node_index}]')}; k < {t_first}[{node_index} + 1]; k++)")
    p.line(f"{acc}[{idx(f'{t_out}[k]')}] += {t_w}[k];")
    p.close()
    p.close()
    base = np.asarray(a.get("base_values_as_tensor", a.get("base_values", [])) or [], dtype=np.float64).reshape(-1)
    out = p.array(y)
    if aggregate == "AVERAGE":
        p.loop("i", n_out)
        p.line(f"{acc}[i] = {acc}[i] / {len(trees)};")
        p.close()
    if base.size:
        t_base = table("base", "f64", np.broadcast_to(base, (n_out,)).copy())
        p.loop("i", n_out)
        p.line(f"{acc}[i] = {acc}[i] + {t_base}[i];")
        p.close()
    transform = a.get("post_transform", "NONE")
    if classifier and len(set(outs)) == 1:  # binary: one score, its complement beside it (onnx.reference)
        if n_out != 2:
            raise ModelError("a binary tree classifier without two class labels is outside what the c/js targets generate")
        p.line(f"{acc}[1] = {acc}[0];")
        p.line(f"{acc}[0] = {'1 - ' if transform in ('NONE', None, 'PROBIT') else '-'}{acc}[1];")
    if transform == "PROBIT":
        raise ModelError("tree post_transform PROBIT is outside what the c/js targets generate")
    p.loop("i", n_out)
    p.line(f"{out}[i] = {p.round(f'{acc}[i]', y.dtype)};")
    p.close()
    post_transform(p, out, n_out, y.dtype, transform)


# ai.onnx.ml opset 5 TreeEnsemble: integer modes, split values as a tensor (double where the model decides
# in double), explicit leaf arrays, set-membership nodes for categories.
V5_MODES = {0: "<=", 1: "<", 2: ">=", 3: ">", 4: "==", 5: "!="}
V5_MEMBER = 6


def tree_ensemble_v5(p: Printer, node: Node) -> None:
    a = node.attrs
    x, y = node.inputs[0], node.outputs[0]
    splits = np.asarray(a["nodes_splits"]).reshape(-1)
    th_dtype = "f64" if splits.dtype == np.float64 or x.dtype == "f64" else "f32"
    modes = [int(m) for m in np.asarray(a["nodes_modes"]).reshape(-1)]
    unknown = sorted(set(modes) - set(V5_MODES) - {V5_MEMBER})
    if unknown:
        raise ModelError(f"TreeEnsemble node modes {unknown} are outside what the c/js targets generate")
    true_ids, false_ids = list(a["nodes_truenodeids"]), list(a["nodes_falsenodeids"])
    true_leaf, false_leaf = list(a["nodes_trueleafs"]), list(a["nodes_falseleafs"])
    # One pointer per branch: a node index (>= 0) or a leaf as -(leaf index) - 1.
    t_next = [(-i - 1) if leaf else i for i, leaf in zip(true_ids, true_leaf)]
    f_next = [(-i - 1) if leaf else i for i, leaf in zip(false_ids, false_leaf)]
    roots = []
    for r in a["tree_roots"]:
        is_leaf = true_leaf[r] and false_leaf[r] and true_ids[r] == false_ids[r]
        roots.append(-true_ids[r] - 1 if is_leaf else int(r))
    missing = list(a.get("nodes_missing_value_tracks_true") or [0] * len(modes))
    # Set membership: each MEMBER node's values, in order, separated by NaN in membership_values.
    member_first, member_values = [0] * (len(modes) + 1), []
    if V5_MEMBER in modes:
        values = list(np.asarray(a["membership_values"], dtype=np.float64).reshape(-1))
        it = iter(values)
        for n, m in enumerate(modes):
            if m == V5_MEMBER:
                for v in it:
                    if np.isnan(v):
                        break
                    member_values.append(v)
            member_first[n + 1] = len(member_values)

    def table(suffix: str, dtype: str, values: object) -> str:
        arr = np.asarray(values)
        return p.table(Value(f"{y.name}_{suffix}", dtype, arr.shape, arr))

    t_feat = table("feat", "i64", np.asarray(a["nodes_featureids"], dtype=np.int64))
    t_th = table("th", th_dtype, splits.astype(np.float64 if th_dtype == "f64" else np.float32))
    t_true = table("true", "i64", np.asarray(t_next, dtype=np.int64))
    t_false = table("false", "i64", np.asarray(f_next, dtype=np.int64))
    t_miss = table("miss", "i64", np.asarray(missing, dtype=np.int64))
    t_roots = table("roots", "i64", np.asarray(roots, dtype=np.int64))
    t_target = table("target", "i64", np.asarray(a["leaf_targetids"], dtype=np.int64))
    t_w = table("w", "f64", np.asarray(a["leaf_weights"], dtype=np.float64).reshape(-1))
    kinds = set(modes)
    idx = (lambda e: f"Math.trunc({e})") if p.lang == "js" else (lambda e: f"(int)({e})")
    n_i = idx("n")
    if len(kinds) == 1 and V5_MEMBER not in kinds:
        test = f"(v {V5_MODES[modes[0]]} {t_th}[{n_i}])"
    else:
        t_mode = table("mode", "i64", np.asarray(modes, dtype=np.int64))
        parts = [f"{t_mode}[{n_i}] == {k} ? (v {op} {t_th}[{n_i}])" for k, op in V5_MODES.items() if k in kinds]
        if V5_MEMBER in kinds:
            t_mfirst = table("mfirst", "i64", np.asarray(member_first, dtype=np.int64))
            t_mval = table("mval", "f64", np.asarray(member_values or [0.0], dtype=np.float64))
            parts.append(f"{t_mode}[{n_i}] == {V5_MEMBER} ? ep_member_{p.name(y)}(v, {t_mfirst}[{n_i}], {t_mfirst}[{n_i} + 1])")
            kind = "static int" if p.lang == "c" else "function"
            sig = "(double v, long a, long b)" if p.lang == "c" else "(v, a, b)"
            loop = "for (long k = a; k < b; k++)" if p.lang == "c" else "for (let k = a; k < b; k++)"
            p.tables.append(f"{kind} ep_member_{p.name(y)}{sig} {{ {loop} if ({t_mval}[k] == v) return 1; return 0; }}")
        test = f"({' : '.join(parts)} : 0)"
    n_out = y.size
    acc = p.array(Value(y.name + "_acc", "f64", (n_out,)))
    src = p.ref(x)
    p.loop("i", n_out)
    p.line(f"{acc}[i] = 0;")
    p.close()
    p.loop("t", len(roots))
    p.scalar("n", "i64", f"{t_roots}[t]")
    p.open("while (n >= 0)")
    p.scalar("v", "f64" if th_dtype == "f64" else "f32", f"{src}[{idx(f'{t_feat}[{n_i}]')}]")
    p.line(f"n = ({p.is_nan('v')} ? {t_miss}[{n_i}] != 0 : {test}) ? {t_true}[{n_i}] : {t_false}[{n_i}];")
    p.close()
    leaf = idx("-n - 1")
    p.line(f"{acc}[{idx(f'{t_target}[{leaf}]')}] += {t_w}[{leaf}];")
    p.close()
    aggregate = int(a.get("aggregate_function", 1))
    if aggregate not in (0, 1):
        raise ModelError("TreeEnsemble aggregate MIN/MAX is outside what the c/js targets generate")
    out = p.array(y)
    p.loop("i", n_out)
    p.line(f"{out}[i] = {p.round(f'{acc}[i]' + (f' / {len(roots)}' if aggregate == 0 else ''), y.dtype)};")
    p.close()
    transform = {0: "NONE", 1: "SOFTMAX", 2: "LOGISTIC"}.get(int(a.get("post_transform", 0)))
    if transform is None:
        raise ModelError("TreeEnsemble post_transform SOFTMAX_ZERO/PROBIT is outside what the c/js targets generate")
    post_transform(p, out, n_out, y.dtype, transform)
