"""The local batch-scoring engine: pyarrow batches streamed through onnxruntime, written as they come
(memory stays bounded by one batch whatever the input's size)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from ...runtime.errors import DataError
from ...runtime.scorer import Scorer
from ...runtime.stats import StatsCollector
from .frames import check_columns, input_columns, layout_for, score_frame


def open_dataset(path: str | Path) -> Any:
    """A Parquet file or directory as a pyarrow dataset. Raises DataError when it cannot be read."""
    import pyarrow.dataset as ds

    if not Path(path).exists():
        raise DataError(f"no input at {path}", fix="pass a Parquet file or a directory of Parquet files")
    try:
        return ds.dataset(str(path), format="parquet")
    except Exception as exc:  # pyarrow raises ArrowInvalid and OSError variants
        raise DataError(f"cannot read {path} as Parquet: {exc}", where=str(path)) from exc


def score_parquet(package: str | Path, input_path: str | Path, output: str | Path, id_column: str | None = None,
                  artifact: str | None = None, batch_rows: int = 65536, keep: tuple[str, ...] = (),
                  strict: bool = False, stats: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score every record of `input_path` into the Parquet file `output` (the input contract of
    frames.check_columns; `keep`: input columns copied beside the id). Returns {"rows", "rejected", "output"}
    (and "stats": the window files written, with `stats` = {"dir", "every", "device"}: runtime/stats.py)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    scorer = Scorer.load(package, artifact=artifact)
    dataset = open_dataset(input_path)
    check_columns(scorer.schema, dataset.schema.names, str(input_path), id_column, keep, strict)
    layout = layout_for(scorer, id_column, keep)
    id_type = dataset.schema.field(id_column).type if id_column else pa.int64()
    schema = layout.arrow_schema(id_type, {k: dataset.schema.field(k).type for k in layout.keep})
    wanted = input_columns(scorer.schema, dataset.schema.names, id_column, layout.keep)
    out_path = Path(output)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    rows = rejected = 0
    collector = StatsCollector(scorer.package, stats["dir"], stats.get("every") or "1h", stats.get("device")) if stats else None
    with pq.ParquetWriter(str(out_path), schema) as writer:
        for batch in dataset.to_batches(columns=wanted, batch_size=batch_rows):
            frame = batch.to_pandas()
            ids = frame[id_column].to_numpy() if id_column else np.arange(rows, rows + len(frame), dtype=np.int64)
            scored = score_frame(scorer, frame, layout, ids, collector)
            rejected += int(scored["error"].notna().sum())
            rows += len(frame)
            writer.write_table(pa.Table.from_pandas(scored, schema=schema, preserve_index=False))
    if collector is None:
        return {"rows": rows, "rejected": rejected, "output": str(out_path)}
    collector.close()
    return {"rows": rows, "rejected": rejected, "output": str(out_path), "stats": collector.written}
