"""Train the churn example: a ColumnTransformer (impute + scale numbers, one-hot categories) into gradient
boosting, saved with joblib, plus the sample CSV that `edgepack build` needs.

Example:
    python examples/churn/train.py --data build/churn/churn.csv --out build/churn
"""

from __future__ import annotations

import argparse
from pathlib import Path

import joblib
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

NUMERIC = ["tenure_months", "senior_citizen", "monthly_charges", "total_charges", "support_calls", "data_gb"]
CATEGORICAL = ["contract", "internet_service", "payment_method"]
LABEL = "churn"


def build_pipeline() -> Pipeline:
    numeric = Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())])
    categorical = OneHotEncoder(handle_unknown="ignore")
    prepare = ColumnTransformer([("num", numeric, NUMERIC), ("cat", categorical, CATEGORICAL)])
    model = GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0)
    return Pipeline([("prepare", prepare), ("model", model)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    frame = pd.read_csv(args.data)
    train, holdout = train_test_split(frame, test_size=0.2, random_state=0, stratify=frame[LABEL])
    pipeline = build_pipeline().fit(train[NUMERIC + CATEGORICAL], train[LABEL])
    accuracy = pipeline.score(holdout[NUMERIC + CATEGORICAL], holdout[LABEL])
    args.out.mkdir(parents=True, exist_ok=True)
    joblib.dump(pipeline, args.out / "churn.joblib")
    train.sample(n=min(500, len(train)), random_state=1).to_csv(args.out / "sample.csv", index=False)
    holdout.to_csv(args.out / "holdout.csv", index=False)
    print(f"trained churn model: holdout accuracy {accuracy:.3f}; wrote {args.out / 'churn.joblib'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
