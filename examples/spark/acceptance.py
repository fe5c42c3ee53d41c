"""The Spark acceptance check, end to end, on a pipeline of its own (not one from the tests).

1. fit and save a Spark pipeline: string label indexed in the pipeline, a 6-value category through
   StringIndexer(keep) + OneHotEncoder, a 3-value category as categorical tree splits, three numeric
   columns, into a GBTClassifier (30 trees, depth 5), trained on 20,000 rows;
2. `edgepack build` it from a 2,000-row sample;
3. compare the package's ONNX with Spark's own probabilities on 5,000 held-out rows (<= 1e-5, labels equal);
4. parity on Spark over a Parquet directory of --rows generated rows: must pass;
5. the same with one leaf weight of the ONNX multiplied by 1.001: must fail (exit 1).

    python examples/spark/acceptance.py --rows 1000000 --out build/spark-acceptance
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd


def generate(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age, income, visits = rng.uniform(18, 80, n), rng.lognormal(10, 0.6, n), rng.poisson(4, n)
    device = rng.choice(["ios", "android", "web"], n, p=[0.4, 0.4, 0.2])
    country = rng.choice(list("ABCDEF"), n)
    logit = (-1 + 0.03 * (age - 40) + 0.3 * np.log(income / 20000) + 0.2 * visits - 0.6 * (device == "web")
             + 0.4 * (country == "C"))
    converted = np.where(rng.random(n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    return pd.DataFrame({"age": age, "income": income, "visits": visits, "device": device, "country": country,
                         "converted": converted})


def perturb(package: Path, out: Path, factor: float = 1.001, leaves: slice = slice(5, 6)) -> Path:
    """A copy of the package whose ONNX has the tree leaf weights `leaves` multiplied by `factor` (checksums
    updated, so only parity can tell). Default: one leaf weight times 1.001."""
    import onnx
    from onnx import numpy_helper

    shutil.copytree(package, out)
    model = onnx.load(out / "model.onnx")
    for node in model.graph.node:
        for attr in node.attribute:
            if node.op_type == "TreeEnsemble" and attr.name == "leaf_weights":
                weights = numpy_helper.to_array(attr.t).copy()
                weights[leaves] *= factor
                attr.t.CopyFrom(numpy_helper.from_array(weights))
    data = model.SerializeToString()
    (out / "model.onnx").write_bytes(data)
    manifest = json.loads((out / "manifest.json").read_text())
    manifest["artifacts"][0].update(sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    (out / "manifest.json").write_text(json.dumps(manifest))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("build/spark-acceptance"))
    args = parser.parse_args()
    work = args.out
    shutil.rmtree(work, ignore_errors=True)
    (work / "data").mkdir(parents=True)
    per = 100_000
    for i, start in enumerate(range(0, args.rows, per)):
        generate(min(per, args.rows - start), 100 + i).to_parquet(work / "data" / f"part-{i:03d}.parquet")

    from edgepack.converters.sources import spark_session
    from pyspark.ml import Pipeline, PipelineModel
    from pyspark.ml.classification import GBTClassifier
    from pyspark.ml.feature import OneHotEncoder, StringIndexer, VectorAssembler
    from pyspark.ml.functions import vector_to_array

    spark = spark_session.acquire()
    train = generate(20_000, 1)
    stages = [StringIndexer(inputCol="converted", outputCol="label"),
              StringIndexer(inputCols=["device", "country"], outputCols=["device_i", "country_i"], handleInvalid="keep"),
              OneHotEncoder(inputCols=["country_i"], outputCols=["country_oh"]),
              VectorAssembler(inputCols=["age", "income", "visits", "device_i", "country_oh"], outputCol="features"),
              GBTClassifier(maxIter=30, maxDepth=5, seed=3)]
    Pipeline(stages=stages).fit(spark.createDataFrame(train)).write().overwrite().save(str(work / "model"))
    train.head(2000).to_csv(work / "sample.csv", index=False)

    edgepack = str(Path(sys.executable).with_name("edgepack"))
    subprocess.run([edgepack, "build", str(work / "model"), "--sample", str(work / "sample.csv"),
                    "--label-column", "converted", "-o", str(work / "package"), "-q"], check=True)

    import onnxruntime as ort

    holdout = generate(5000, 999).drop(columns=["converted"])
    out = PipelineModel.load(str(work / "model")).transform(spark.createDataFrame(holdout))
    want = out.select(vector_to_array("probability").alias("p"), "prediction").toPandas()
    spark_session.release()
    manifest = json.loads((work / "package" / "manifest.json").read_text())
    feeds = {}
    for tensor in manifest["artifacts"][0]["inputs"]:
        col = holdout[tensor["features"][0]]
        feeds[tensor["name"]] = (col.astype(str).to_numpy(dtype=object) if tensor["dtype"] == "string"
                                 else col.to_numpy(np.float64)).reshape(-1, 1)
    session = ort.InferenceSession(str(work / "package" / "model.onnx"), providers=["CPUExecutionProvider"])
    got = session.run(["probabilities"], feeds)[0]
    error = float(np.abs(got - np.array(want["p"].tolist())).max())
    labels_equal = bool((np.argmax(got, 1) == want["prediction"].to_numpy()).all())
    print(f"held-out rows: max probability error {error:.3g}, every label equal: {labels_equal}")

    parity = [sys.executable, "-m", "edgepack.parity.engines.spark", "--data", str(work / "data"),
              "--reference", str(work / "model")]
    start = time.perf_counter()
    good = subprocess.run([*parity[:3], str(work / "package"), *parity[3:]])
    print(f"faithful package: exit {good.returncode} ({time.perf_counter() - start:.0f} s)")
    bad = subprocess.run([*parity[:3], str(perturb(work / "package", work / "perturbed")), *parity[3:]])
    print(f"perturbed package: exit {bad.returncode}")
    ok = error <= 1e-5 and labels_equal and good.returncode == 0 and bad.returncode == 1
    print("acceptance:", "PASS" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
