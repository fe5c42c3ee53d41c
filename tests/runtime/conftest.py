"""Packages for the runtime tests, built once per session and worker with the real toolchain.

`strict_package`: a logistic regression behind StandardScaler (no imputer: NaN is refused) and
OneHotEncoder(handle_unknown="error") (an unseen category is refused), so the scorer's validation
has something to refuse in every way the issue names. Its scikit-learn model is kept for expectations.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

STRICT_NUMERIC = ["tenure_months", "monthly_charges", "support_calls"]
STRICT_CATEGORICAL = ["contract", "internet_service"]


@dataclass(frozen=True)
class BuiltPackage:
    path: Path
    model: Any
    frame: Any  # holdout rows, feature columns and the label
    features: list[str]

    def records(self, rows: int) -> list[dict[str, Any]]:
        """Holdout rows as JSON-ready records (numbers as numbers, categories as strings)."""
        out = []
        for rec in self.frame[self.features].head(rows).to_dict(orient="records"):
            out.append({k: (v.item() if hasattr(v, "item") else v) for k, v in rec.items()})
        return out


@pytest.fixture(scope="session")
def strict_package(tmp_path_factory: pytest.TempPathFactory) -> BuiltPackage:
    import zoo
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.compose import ColumnTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    frame = zoo.churn_frame(400, seed=5)
    features = STRICT_NUMERIC + STRICT_CATEGORICAL
    model = Pipeline([
        ("prepare", ColumnTransformer([("num", StandardScaler(), STRICT_NUMERIC),
                                       ("cat", OneHotEncoder(handle_unknown="error"), STRICT_CATEGORICAL)])),
        ("model", LogisticRegression(max_iter=300)),
    ])
    train, holdout = frame.iloc[:300], frame.iloc[300:].reset_index(drop=True)
    model.fit(train[features], train["churn"])
    root = tmp_path_factory.mktemp("strict")
    model_path, sample_path = root / "strict.joblib", root / "sample.csv"
    import joblib

    joblib.dump(model, model_path)
    train[features + ["churn"]].to_csv(sample_path, index=False)
    result = build(BuildOptions(model=model_path, sample=sample_path, out=root / "package", label_column="churn",
                                name="strict", version="2", quiet=True))
    manifest = json.loads((result.path / "manifest.json").read_text())
    feats = {f["name"]: f for f in manifest["inputs"]["features"]}
    # The fixture is only useful if the build saw what we built: NaN and unknown categories refused.
    assert not feats["tenure_months"]["nullable"] and feats["contract"]["unknown"] == "error"
    return BuiltPackage(result.path, model, holdout, features)


@pytest.fixture(scope="session")
def numeric_package(tmp_path_factory: pytest.TempPathFactory) -> BuiltPackage:
    """Numbers only (StandardScaler -> LogisticRegression, NaN refused): CSV input takes numpy's reader."""
    import joblib
    import zoo
    from edgepack.toolchain.build import BuildOptions, build
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    frame = zoo.churn_frame(400, seed=6)
    model = Pipeline([("scale", StandardScaler()), ("model", LogisticRegression(max_iter=300))])
    train, holdout = frame.iloc[:300], frame.iloc[300:].reset_index(drop=True)
    model.fit(train[STRICT_NUMERIC], train["churn"])
    root = tmp_path_factory.mktemp("numeric")
    joblib.dump(model, root / "numeric.joblib")
    train[STRICT_NUMERIC + ["churn"]].to_csv(root / "sample.csv", index=False)
    result = build(BuildOptions(model=root / "numeric.joblib", sample=root / "sample.csv", out=root / "package",
                                label_column="churn", name="numeric", version="1", quiet=True))
    return BuiltPackage(result.path, model, holdout, list(STRICT_NUMERIC))
