"""Spark ML tree models (DecisionTree, RandomForest, GBT; classifier and regressor) as node lists from their
saved data/ parquet, and as the one tree reader's `Ensemble` (sources/trees.py) for the TensorFlow lowering.

Spark compares double features with double thresholds (`x <= threshold` goes left; NaN fails the test and
goes right) and, at a categorical split, sends the category indices of `leftCategoriesOrThreshold` left.
What a leaf adds: a forest classifier's trees vote with their leaf's class counts normalised to 1 (the
probability is the mean vote); a regression forest averages its trees; GBT sums weight x prediction (the
classifier's probability is sigmoid(2 x margin)).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import ModelError
from .trees import Ensemble, Tree

# The Spark tree predictors this reader takes (every target's table of Spark predictors lists these)
TREE_MODELS = ("DecisionTreeClassificationModel", "RandomForestClassificationModel", "GBTClassificationModel",
               "DecisionTreeRegressionModel", "RandomForestRegressionModel", "GBTRegressionModel")


def tree_nodes(directory: Path | None, stage: Any) -> dict[int, list[dict[str, Any]]]:
    """Each tree's nodes as saved by Spark (data/ parquet in the stage's directory), keyed by tree id."""
    import pyarrow.parquet as pq

    if directory is None or not (directory / "data").is_dir():
        raise ModelError(f"cannot find the saved tree data of {type(stage).__name__} {stage.uid}",
                         fix="build from the directory written by PipelineModel.save(path)")
    rows = pq.read_table(directory / "data").to_pylist()
    trees: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if "nodeData" in row:
            trees.setdefault(int(row["treeID"]), []).append(row["nodeData"])
        else:
            trees.setdefault(0, []).append(row)
    return {t: sorted(nodes, key=lambda n: n["id"]) for t, nodes in sorted(trees.items())}


def normalised(stats: list[float]) -> np.ndarray:
    counts = np.asarray(stats, dtype=np.float64)
    total = counts.sum()
    return counts / total if total != 0 else counts


def _tree(nodes: list[dict[str, Any]], leaf: Any) -> Tree:
    """One Spark tree in breadth-first order (children after their parent), leaf values from leaf(node)."""
    by_id = {n["id"]: n for n in nodes}
    order = [nodes[0]["id"]]
    for node_id in order:
        n = by_id[node_id]
        if n["leftChild"] >= 0:
            order += [n["leftChild"], n["rightChild"]]
    pos = {node_id: i for i, node_id in enumerate(order)}
    width = len(leaf(by_id[order[0]]))
    feature, threshold = np.full(len(order), -1, np.int64), np.zeros(len(order))
    left, right = np.full(len(order), -1, np.int64), np.full(len(order), -1, np.int64)
    value = np.zeros((len(order), width))
    categories: dict[int, np.ndarray] = {}
    for i, node_id in enumerate(order):
        n = by_id[node_id]
        if n["leftChild"] < 0:
            value[i] = leaf(n)
            continue
        split = n["split"]
        feature[i] = int(split["featureIndex"])
        left[i], right[i] = pos[n["leftChild"]], pos[n["rightChild"]]
        if split["numCategories"] >= 0:
            categories[i] = np.asarray(split["leftCategoriesOrThreshold"], dtype=np.float64)
        else:
            threshold[i] = float(split["leftCategoriesOrThreshold"][0])
    return Tree(feature, threshold, np.zeros(len(order), bool), left, right, value, 0, categories or None)


def read(stage: Any, directory: Path | None) -> Ensemble:
    """The Spark tree model as an Ensemble: outputs are the probabilities (identity or sigmoid link) or the value."""
    name = type(stage).__name__
    trees = list(tree_nodes(directory, stage).values())
    n = len(trees)
    if name.startswith("GBT"):
        weights = [float(w) for w in stage.treeWeights]
        factor = 2.0 if name == "GBTClassificationModel" else 1.0  # p1 = sigmoid(2 * margin)
        read_trees = [_tree(nodes, lambda node, w=w: [factor * w * float(node["prediction"])])
                      for nodes, w in zip(trees, weights)]
        return Ensemble(read_trees, np.zeros(1), "sigmoid" if factor == 2.0 else "identity", False)
    if name.endswith("ClassificationModel"):
        read_trees = [_tree(nodes, lambda node: normalised(node["impurityStats"]) / n) for nodes in trees]
        return Ensemble(read_trees, np.zeros(int(stage.numClasses)), "identity", False)
    read_trees = [_tree(nodes, lambda node: [float(node["prediction"]) / n]) for nodes in trees]
    return Ensemble(read_trees, np.zeros(1), "identity", False)
