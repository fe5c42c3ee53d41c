"""The original Spark ML pipeline as a parity reference: its own `transform`, in a local Spark session
(or the active one), on the same inputs every artifact gets. Runs no artifact.

    SparkRunner(package, None, model="path/to/pipeline_model_dir", master=None)
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...converters.sources.spark import SparkSource, looks_like_pipeline
from ...converters.sources.spark_session import availability
from ...runtime.errors import UsageError
from .base import InputBatch, Runner


class SparkRunner(Runner):
    name = "spark"
    formats = ()

    @classmethod
    def availability(cls) -> str | None:
        return availability()

    def prepare(self) -> None:
        from pathlib import Path


        model = self.options.get("model")
        if model is None or not looks_like_pipeline(Path(model)):
            raise UsageError(f"the spark runner needs the saved pipeline directory, got {model!r}",
                             fix="pass the directory written by PipelineModel.save(path)")
        self._source = SparkSource.load(Path(model), self.options.get("master"))

    def _predict(self, batch: InputBatch) -> dict[str, np.ndarray]:
        import pandas as pd

        names = self._source.feature_names(list(batch.columns))
        outputs = self._source.predict(pd.DataFrame({n: batch.columns[n] for n in names}))
        return {k: v for k, v in outputs.items() if k != "label"}

    def close(self) -> None:
        source: Any = getattr(self, "_source", None)
        if source is not None:
            source.close()
            self._source = None

    def describe(self) -> dict[str, str]:
        import pyspark

        return {"name": self.name, "runtime": "Apache Spark ML (PipelineModel.transform)", "version": pyspark.__version__}
