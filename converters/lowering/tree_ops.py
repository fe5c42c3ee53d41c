"""Two TensorFlow formulations of a tree ensemble, after Hummingbird's GEMM and tree traversal.

gemm: every split of every tree is evaluated at once; a batched matrix product with a (node x leaf)
      path matrix finds the leaf each row reaches; a second product reads the leaf values. Few,
      large operations: fastest for shallow trees, but sizes grow with 2^depth per tree.
gather: rows walk down all trees together, one level per step, reading node arrays with gathers.
      Size grows with the number of nodes only; the graph has depth x 9 small operations.
`choose` picks one by the measured heuristic (docs/BENCHMARKS.md, "Tree strategies"); the targets'
`tree_strategy` option overrides it. Both use TFLite builtins and TF.js cpu/wasm kernels only.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...runtime.errors import UsageError
from ..sources.trees import Tree
from .columns import is_nan

STRATEGIES = ("gemm", "gather")
# GEMM's matrices hold (internal nodes x leaves) per tree, ~4^depth. Measured (docs/BENCHMARKS.md, "Tree
# strategies"): GEMM is smaller and faster up to depth 3; from depth 4 the gather walk is smaller, and from
# depth 5 faster too (depth 8 x 100 trees: 13 MB and 1.9 ms per row against 0.5 MB and 20 µs).
GEMM_MAX_DEPTH = 3


def choose(trees: list[Tree], requested: str) -> str:
    if requested in STRATEGIES:
        return requested
    if requested != "auto":
        raise UsageError(f"unknown tree_strategy {requested!r}", fix="choose gemm, gather or auto")
    return "gemm" if max(t.depth for t in trees) <= GEMM_MAX_DEPTH else "gather"


def decisions(tf: Any, v: list[Any], thr: list[Any], nan_left: Any) -> Any:
    """1.0 where a row goes left at a split, else 0.0: v <= thr, or the NaN route when v is missing.
    v and thr are one float32 part each, or three (hi, mid, lo: runtime/records.py float64_parts) compared
    lexicographically: hi < T_hi, or hi == T_hi and (mid < T_mid, or mid == T_mid and lo <= T_lo); as
    sums of products of 0/1 floats, since at most one term holds.
    Selects between floats, never bools: the TF.js wasm backend writes out of bounds selecting bools."""
    def f(b: Any) -> Any:
        return tf.cast(b, tf.float32)

    left = f(tf.math.less_equal(v[-1], thr[-1]))
    for part, t in zip(v[-2::-1], thr[-2::-1]):
        left = f(tf.math.less(part, t)) + f(tf.math.equal(part, t)) * left
    return tf.where(is_nan(tf, v[0]), nan_left, left)


def _member(tf: Any, parts: list[Any], node: Any, lookup: Any, row_c: Any) -> Any:
    """1.0 where v is in the set of a membership node (lowering/trees.py: CategoryLookup), from one gather
    into the flattened table. Integer tests by float arithmetic: casting NaN or out-of-range floats to
    integers differs between runtimes, so v is brought into range first. With float64 parts, a whole
    number has zero residual parts."""
    v = parts[0]
    low, span = float(lookup.low), lookup.span
    inside = tf.cast(tf.math.greater_equal(v, low), tf.float32) * tf.cast(tf.math.less_equal(v, low + span - 1), tf.float32)
    safe = tf.where(inside > 0.5, v, tf.zeros_like(v) + low)
    code = tf.cast(safe - low, tf.int32)
    whole = tf.cast(tf.math.equal(tf.cast(code, tf.float32) + low, v), tf.float32) * inside
    for rest in parts[1:]:
        whole = whole * tf.cast(tf.math.equal(rest, 0.0), tf.float32)
    column = tf.where(whole > 0.5, code, tf.zeros_like(code) + span)
    table = tf.constant(lookup.table.reshape(-1))
    return tf.gather(table, tf.gather(row_c, node) * (span + 1) + column)


def gather_sum(tf: Any, base: list[Any], folded: list[tuple[Tree, np.ndarray, np.ndarray]], n_out: int,
               lookup: Any = None) -> Any:
    """[N, outputs]: the sum of the leaf values every row reaches, by walking all trees level by level.
    `base`: the trees' input columns [N, C], one tensor per part. `lookup` (a CategoryLookup, or None)
    decides the set-membership nodes."""
    feature, thr, nan_left, left, right, value, roots = [], [], [], [], [], [], []
    offset = 0
    for tree, t_thr, t_nan in folded:
        n = len(tree.feature)
        leaf = tree.feature < 0
        idx = np.arange(n) + offset
        roots.append(offset)
        feature.append(np.where(leaf, 0, tree.feature))
        thr.append(t_thr)
        nan_left.append(t_nan)
        left.append(np.where(leaf, idx, tree.left + offset))  # leaves point at themselves
        right.append(np.where(leaf, idx, tree.right + offset))
        value.append(tree.dense(n_out))
        offset += n
    depth = max(t.depth for t, _, _ in folded)
    # One constant each, shared by every level (numpy arrays would become a new constant per use).
    feature_c = tf.constant(np.concatenate(feature).astype(np.int32))
    thresholds = np.concatenate(thr).astype(np.float32)
    thr_c = [tf.constant(np.ascontiguousarray(thresholds[:, k])) for k in range(thresholds.shape[1])]
    # NaN routing as 0/1 floats: the TF.js wasm backend corrupts memory gathering from bool tensors.
    nan_c = tf.constant(np.concatenate(nan_left).astype(np.float32))
    left_c = tf.constant(np.concatenate(left).astype(np.int32))
    right_c = tf.constant(np.concatenate(right).astype(np.int32))
    value_c = tf.constant(np.concatenate(value).astype(np.float32))
    n_cols = int(base[0].shape[1])
    rows = tf.shape(base[0])[0]
    flat = [tf.reshape(b, [-1]) for b in base]
    row_offset = tf.reshape(tf.range(rows, dtype=tf.int32) * n_cols, [-1, 1])
    node = tf.tile(tf.reshape(np.array(roots, np.int32), [1, -1]), tf.stack([rows, 1]))
    row_c = tf.constant(np.concatenate(lookup.row).astype(np.int32)) if lookup is not None else None
    for _ in range(depth):
        at = row_offset + tf.gather(feature_c, node)
        v = [tf.gather(f, at) for f in flat]
        went = decisions(tf, v, [tf.gather(t, node) for t in thr_c], tf.gather(nan_c, node))
        if lookup is not None:
            member = tf.where(is_nan(tf, v[0]), tf.gather(nan_c, node), _member(tf, v, node, lookup, row_c))
            went = tf.where(tf.gather(row_c, node) > 0, member, went)
        go_left = tf.math.greater(went, 0.5)
        node = tf.where(go_left, tf.gather(left_c, node), tf.gather(right_c, node))
    return tf.reduce_sum(tf.gather(value_c, node), axis=1)


def _gemm_arrays(tree: Tree, t_thr: np.ndarray, t_nan: np.ndarray, n_int: int, n_leaf: int, n_out: int
                 ) -> tuple[np.ndarray, ...]:
    internal = np.flatnonzero(tree.feature >= 0)
    leaves = np.flatnonzero(tree.feature < 0)
    pos = {int(node): i for i, node in enumerate(internal)}
    path = np.zeros((n_int, n_leaf), np.float32)  # +1: leaf under the left child; -1: under the right
    lefts = np.full(n_leaf, -1.0, np.float32)  # padding leaves can never match
    parent = {}
    for node in internal:
        parent[int(tree.left[node])] = (int(node), 1.0)
        parent[int(tree.right[node])] = (int(node), -1.0)
    for k, leaf in enumerate(leaves):
        count, child = 0, int(leaf)
        while child in parent:
            node, sign = parent[child]
            path[pos[node], k] = sign
            count += sign > 0
            child = node
        lefts[k] = count
    feat = np.zeros(n_int, np.int32)
    thr = np.zeros((n_int, t_thr.shape[1]), np.float32)  # padding nodes: their path rows are zero, any value will do
    nan = np.zeros(n_int, bool)
    feat[: len(internal)] = tree.feature[internal]
    thr[: len(internal)] = t_thr[internal]
    nan[: len(internal)] = t_nan[internal]
    values = np.zeros((n_leaf, n_out), np.float32)
    values[: len(leaves)] = tree.dense(n_out)[leaves]
    return feat, thr, nan, path, lefts, values


def gemm_sum(tf: Any, base: list[Any], folded: list[tuple[Tree, np.ndarray, np.ndarray]], n_out: int) -> Any:
    """[N, outputs]: the same sum as gather_sum, by matrix products over padded per-tree arrays."""
    n_int = max(1, max(int((t.feature >= 0).sum()) for t, _, _ in folded))
    n_leaf = max(int((t.feature < 0).sum()) for t, _, _ in folded)
    parts = [_gemm_arrays(t, thr, nan, n_int, n_leaf, n_out) for t, thr, nan in folded]
    feat, thr, nan, path, lefts, values = (np.stack(p) for p in zip(*parts))
    n_trees = len(folded)
    v = [tf.gather(b, feat.reshape(-1), axis=1) for b in base]  # [N, T*I] per part
    thr = thr.reshape(-1, thr.shape[-1])
    go_left = decisions(tf, v, [np.ascontiguousarray(thr[:, k]) for k in range(thr.shape[1])],
                        nan.reshape(-1).astype(np.float32))
    went = tf.transpose(tf.reshape(go_left, [-1, n_trees, n_int]), [1, 0, 2])  # [T, N, I]
    # A row reaches leaf k when its left turns on k's path (+1 entries) all hold and no right turn fails:
    # decisions @ path counts (left turns taken) - (right-turn nodes that went left) = lefts[k] exactly then.
    # "Equal" within 0.5, not exactly: the counts are integers, and weight-quantized variants (TF.js
    # uint8/uint16) dequantize the +-1 path entries and the counts only approximately.
    gap = tf.math.abs(tf.matmul(went, path) - lefts.reshape(n_trees, 1, n_leaf))
    reached = tf.cast(tf.math.less(gap, 0.5), tf.float32)
    return tf.reduce_sum(tf.matmul(reached, values), axis=0)  # [N, outputs]


def ensemble_output(tf: Any, raw: Any, base: np.ndarray, link: str) -> Any:
    raw = raw + base.astype(np.float32)
    if link == "sigmoid":
        p = tf.math.sigmoid(raw)
        return tf.concat([1.0 - p, p], axis=1)
    if link == "softmax":
        return tf.nn.softmax(raw, axis=1)
    if link == "exp":
        return tf.math.exp(raw)
    return raw
