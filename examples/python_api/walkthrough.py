"""The Python API walk-through of docs/python-api.md, run by tests/toolchain/test_python_api.py.

A model and frames made here (never saved by hand): build a package from the fitted pipeline and a
DataFrame, gate it with parity, inspect it and score a frame, an array, a dict and records.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from edgepack.toolchain.api import Scorer, build, inspect, parity
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def main(out: Path) -> None:
    rng = np.random.default_rng(3)
    frame = pd.DataFrame({"temperature": rng.normal(60, 10, 400).round(1),
                          "vibration": rng.gamma(2.0, 1.5, 400).round(3),
                          "line": rng.choice(["a", "b", "c"], 400)})
    frame["fault"] = ((frame.temperature > 65) & (frame.vibration > 2.5) | (frame.line == "c")).astype(int)
    features = ["temperature", "vibration", "line"]
    model = Pipeline([("prep", ColumnTransformer([("num", StandardScaler(), ["temperature", "vibration"]),
                                                  ("line", OneHotEncoder(handle_unknown="ignore"), ["line"])])),
                      ("forest", RandomForestClassifier(n_estimators=20, max_depth=5, random_state=0))])
    model.fit(frame[features].iloc[:300], frame.fault.iloc[:300])

    # build: a fitted model and a DataFrame in memory (the label column is left out of the inputs)
    result = build(model, frame.iloc[:300], out / "fault", label_column="fault", name="fault", targets=["onnx"])
    print("build passed:", result.passed, "->", result.path.name)

    # parity: the same report object `edgepack parity` renders, with its HTML report
    report = parity(result.path, reference=model, data=frame.iloc[300:], label_column="fault",
                    html=out / "fault-parity.html")
    print("parity passed:", report.passed)

    # inspect: verified like a device does; str() is the summary `edgepack inspect` prints
    info = inspect(result.path)
    print("artifacts:", ", ".join(a["id"] for a in info.manifest["artifacts"]))

    # score: DataFrame, array in schema order, one dict, records; numpy out, like scikit-learn
    scorer = Scorer.load(result.path)
    holdout = frame[features].iloc[300:305]
    print("labels:", scorer.predict(holdout).tolist())
    print("same as scikit-learn:", scorer.predict(holdout).tolist() == model.predict(holdout).tolist())
    proba = scorer.predict_proba(holdout.to_numpy(dtype=object))
    print("max |P - P_sklearn|:", float(np.abs(proba - model.predict_proba(holdout)).max()) < 1e-5)
    record = scorer.predict_records({"temperature": 70.0, "vibration": 3.1, "line": "a"})[0]
    print("one record:", record["label"], {k: round(p, 3) for k, p in record["probabilities"].items()})


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="edgepack-api-demo-")))
