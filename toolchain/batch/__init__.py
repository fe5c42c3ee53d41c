"""`edgepack batch-score`: tabular data scored with a package, locally (pyarrow) or on Spark."""
