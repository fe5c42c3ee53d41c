"""Booster model files (XGBoost .json/.ubj, LightGBM .txt, CatBoost .cbm) as Core ML: one Double input per
feature -> FeatureVectorizer -> TreeEnsembleClassifier/Regressor, from the one tree reader's Ensemble
(sources/trees.py: from_boosted), with the thresholds made exact for the library's comparison
(sklearn_4_trees.py: for_coreml). A booster last in a scikit-learn Pipeline goes through the scikit-learn
builder (sklearn_3_final_model.py) behind its preprocessing instead. Only the float32 artifact: tree
parameters are doubles by specification and have no reduced form.
"""

from __future__ import annotations

from typing import Any

from ...sources.trees import from_boosted
from ..base import Artifact
from .sklearn_1_artifacts import entry_for
from .sklearn_2_pipeline import SpecPipeline, finish
from .sklearn_4_trees import ensemble_model


def convert(source: Any, schema: Any) -> Any:
    pipe = SpecPipeline(defer_scalers=True)
    features = pipe.vectorize([(f.name, "double", 1) for f in schema.features])
    last, outputs = ensemble_model(from_boosted(source.ensemble), features, source, source.estimator)
    return finish(pipe, last, outputs, source, schema)


def artifacts(source: Any, schema: Any, variants: list[str]) -> list[Artifact]:
    spec = convert(source, schema)
    return [Artifact("coreml", "coreml", {"model.mlmodel": spec.SerializeToString()},
                     entry_for("coreml", "model.mlmodel", "float32", spec, schema, source))]
