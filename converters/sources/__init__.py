"""The sources table: one row per training framework, matched by the model path.

Adding a framework is one module with a Source class plus one row here.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from ...runtime.errors import UsageError
from . import keras_tensor
from .catboost import CatBoostSource
from .lightgbm import LightGBMSource, looks_like_model
from .onnx_graph import OnnxSource
from .sklearn import SklearnSource
from .spark import SparkSource
from .xgboost import XGBoostSource


def _is_spark_pipeline(path: Path) -> bool:
    return path.is_dir() and (path / "metadata").is_dir() and (path / "stages").is_dir()


# (name, does this path look like the framework's model?, loader)
SOURCES: list[tuple[str, Callable[[Path], bool], Callable[[Path], Any]]] = [
    ("scikit-learn", lambda p: p.is_file() and p.suffix.lower() in (".joblib", ".pkl", ".pickle"), SklearnSource.load),
    # flat [N, F] models -> sources/keras.py; image, sequence and multi-input models -> keras_tensor.py
    ("keras", lambda p: p.is_file() and p.suffix.lower() == ".keras", keras_tensor.load),
    ("onnx", lambda p: p.is_file() and p.suffix.lower() == ".onnx", OnnxSource.load),
    ("spark", _is_spark_pipeline, SparkSource.load),
    ("xgboost", lambda p: p.is_file() and p.suffix.lower() in (".json", ".ubj"), XGBoostSource.load),
    ("lightgbm", lambda p: p.is_file() and p.suffix.lower() == ".txt" and looks_like_model(p), LightGBMSource.load),
    ("catboost", lambda p: p.is_file() and p.suffix.lower() == ".cbm", CatBoostSource.load),
]


def load_source(path: Path) -> Any:
    """Load a model with the first source that claims its path. Raises UsageError when none does."""
    if not path.exists():
        raise UsageError(f"no model file at {path}", fix="check the path to the trained model")
    for _name, matches, loader in SOURCES:
        if matches(path):
            return loader(path)
    known = "; ".join(name for name, _, _ in SOURCES)
    raise UsageError(f"cannot tell which framework saved {path.name}", where=str(path),
                     fix=f"supported sources: {known} (scikit-learn: .joblib, .pkl, .pickle; keras: .keras; onnx: .onnx; "
                         "spark: a directory written by PipelineModel.save; xgboost: .json, .ubj; lightgbm: .txt; "
                         "catboost: .cbm)")
