"""Small Spark ML pipelines for the tests, fitted in the test session's one SparkSession.

Two feature preparations cover every supported stage: `full` (StringIndexer keep, OneHotEncoder, Imputer,
Bucketizer, VectorAssembler, MinMaxScaler, StandardScaler) for linear models and one forest, and `tree`
(StringIndexer error, Imputer, VectorAssembler: indexed categories reach the trees as categorical
features, so they split on category sets). Data are continuous on purpose (a tree threshold is then a
double that float32 cannot hold), with missing values and a string label indexed inside the pipeline.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

FEATURES = ["usage", "calls", "plan", "region", "spend"]


@dataclass(frozen=True)
class SparkZooModel:
    name: str
    path: Path  # the saved PipelineModel directory
    sample: Path  # CSV of the training rows (features + label)
    holdout: Any  # pandas frame of held-out features
    label: str
    task: str
    fitted: Any = None  # the fitted PipelineModel itself: expected values come from it, without a reload


def frame(rows: int, seed: int) -> Any:
    import pandas as pd

    rng = np.random.default_rng(seed)
    usage = rng.normal(50, 15, rows)
    calls = rng.poisson(2, rows).astype(float)
    plan = rng.choice(["basic", "plus", "pro", "max"], rows, p=[0.4, 0.3, 0.2, 0.1])
    region = rng.choice(["north", "south", "east"], rows)
    spend = rng.lognormal(3, 0.5, rows)
    logit = 0.06 * (usage - 50) + 0.4 * calls - 0.8 + 0.9 * (plan == "basic") - 0.5 * (region == "east")
    churn = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(int)
    tier = np.where(spend > 30, "high", np.where(spend > 15, "mid", "low"))
    tier = np.where(rng.random(rows) < 0.15, rng.choice(["high", "mid", "low"], rows), tier)
    value = 2.0 * usage + 15 * calls + 30 * (plan == "pro") + rng.normal(0, 5, rows)
    out = pd.DataFrame({"usage": usage, "calls": calls, "plan": plan, "region": region, "spend": spend,
                        "churn": churn, "tier": tier, "value": value})
    out.loc[rng.random(rows) < 0.05, "usage"] = np.nan
    return out


def _full_prep() -> list[Any]:
    from pyspark.ml.feature import (
        Bucketizer,
        Imputer,
        MinMaxScaler,
        OneHotEncoder,
        StandardScaler,
        StringIndexer,
        VectorAssembler,
    )

    return [
        StringIndexer(inputCols=["plan", "region"], outputCols=["plan_i", "region_i"], handleInvalid="keep"),
        OneHotEncoder(inputCols=["plan_i", "region_i"], outputCols=["plan_oh", "region_oh"]),
        Imputer(inputCols=["usage"], outputCols=["usage_f"], strategy="median"),
        Bucketizer(splits=[-float("inf"), 1, 3, float("inf")], inputCol="calls", outputCol="calls_b"),
        VectorAssembler(inputCols=["usage_f", "calls", "calls_b", "plan_oh", "region_oh", "spend"], outputCol="raw"),
        MinMaxScaler(inputCol="raw", outputCol="scaled"),
        StandardScaler(inputCol="scaled", outputCol="features", withMean=True),
    ]


def _scaled_prep() -> list[Any]:
    """`full` without the Bucketizer (which the TensorFlow lowering refuses): every stage TFLite/TF.js take."""
    stages = [s for s in _full_prep() if type(s).__name__ != "Bucketizer"]
    assembler = next(s for s in stages if type(s).__name__ == "VectorAssembler")
    assembler.setInputCols([c for c in assembler.getInputCols() if c != "calls_b"])
    return stages


def _tree_prep() -> list[Any]:
    from pyspark.ml.feature import Imputer, StringIndexer, VectorAssembler

    return [
        StringIndexer(inputCols=["plan", "region"], outputCols=["plan_i", "region_i"]),
        Imputer(inputCols=["usage"], outputCols=["usage_f"]),
        VectorAssembler(inputCols=["usage_f", "calls", "plan_i", "region_i", "spend"], outputCol="features"),
    ]


def _label_indexer() -> Any:
    from pyspark.ml.feature import StringIndexer

    return StringIndexer(inputCol="tier", outputCol="tier_i")


def _builders() -> dict[str, Callable[[], tuple[list[Any], str, str]]]:
    """name -> () -> (stages, label column of the sample, task)."""
    from pyspark.ml import classification as c
    from pyspark.ml import regression as r

    return {
        "logreg_binary": lambda: ([*_full_prep(), c.LogisticRegression(labelCol="churn", maxIter=50)], "churn", "classification"),
        "logreg_multiclass": lambda: ([_label_indexer(), *_full_prep(),
                                       c.LogisticRegression(labelCol="tier_i", maxIter=50)], "tier", "classification"),
        "decision_tree_clf": lambda: ([*_tree_prep(), c.DecisionTreeClassifier(labelCol="churn", maxDepth=5)],
                                      "churn", "classification"),
        "random_forest_clf": lambda: ([_label_indexer(), *_tree_prep(),
                                       c.RandomForestClassifier(labelCol="tier_i", numTrees=8, maxDepth=4, seed=1)],
                                      "tier", "classification"),
        "gbt_clf": lambda: ([*_tree_prep(), c.GBTClassifier(labelCol="churn", maxIter=10, maxDepth=3, seed=1)],
                            "churn", "classification"),
        "linear_regression": lambda: ([*_full_prep(), r.LinearRegression(labelCol="value")], "value", "regression"),
        "decision_tree_reg": lambda: ([*_tree_prep(), r.DecisionTreeRegressor(labelCol="value", maxDepth=5)],
                                      "value", "regression"),
        "random_forest_reg": lambda: ([*_tree_prep(), r.RandomForestRegressor(labelCol="value", numTrees=8, maxDepth=4,
                                                                              seed=1)], "value", "regression"),
        "logreg_scaled_multiclass": lambda: ([_label_indexer(), *_scaled_prep(),
                                              c.LogisticRegression(labelCol="tier_i", maxIter=50)], "tier", "classification"),
        "gbt_reg": lambda: ([*_full_prep(), r.GBTRegressor(labelCol="value", maxIter=8, maxDepth=3, seed=1)],
                            "value", "regression"),
    }


FAMILIES = ["logreg_binary", "logreg_multiclass", "decision_tree_clf", "random_forest_clf", "gbt_clf",
            "linear_regression", "decision_tree_reg", "random_forest_reg", "gbt_reg"]


def fit(spark: Any, name: str, root: Path, rows: int = 400) -> SparkZooModel:
    """Fit the pipeline `name` on `rows` generated rows, save it under root/name; the sample CSV holds the
    features and the label column, the holdout frame 200 other rows."""
    from pyspark.ml import Pipeline

    stages, label, task = _builders()[name]()
    train = frame(rows, seed=11)
    holdout = frame(200, seed=12)[FEATURES]
    model = Pipeline(stages=stages).fit(spark.createDataFrame(train))
    directory = root / name
    directory.mkdir(parents=True, exist_ok=True)
    model.write().overwrite().save(str(directory / "model"))
    sample = directory / "sample.csv"
    train[[*FEATURES, label]].to_csv(sample, index=False)
    return SparkZooModel(name, directory / "model", sample, holdout, label, task, model)
