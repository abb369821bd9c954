"""Reading a run's ``metrics.parquet`` back as numpy arrays, fast at millions of rows."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq


@dataclass(frozen=True)
class Metrics:
    """The long-format table as columns: one row per (generation, replicate, metric)."""

    generation: np.ndarray
    replicate: np.ndarray
    metric: np.ndarray  # str
    value: np.ndarray

    @classmethod
    def from_table(cls, table: pa.Table) -> Metrics:
        # Dictionary-encode the metric names: a handful of distinct strings over millions of
        # rows, so one Python string per name instead of one per row.
        enc = table.column("metric").combine_chunks().dictionary_encode()
        names = np.asarray(enc.dictionary.to_pylist(), dtype=object)
        return cls(
            generation=table.column("generation").to_numpy(),
            replicate=table.column("replicate").to_numpy(),
            metric=names[enc.indices.to_numpy(zero_copy_only=False)],
            value=table.column("value").to_numpy(),
        )

    @classmethod
    def read(cls, run_dir: str | Path) -> Metrics:
        return cls.from_table(pq.read_table(Path(run_dir) / "metrics.parquet"))

    @property
    def names(self) -> list[str]:
        """Metric names in first-seen order."""
        return list(dict.fromkeys(self.metric.tolist()))

    @property
    def last_generation(self) -> int:
        return int(self.generation.max())

    def select(self, mask: np.ndarray) -> Metrics:
        """The rows where ``mask`` is true."""
        return Metrics(
            self.generation[mask], self.replicate[mask], self.metric[mask], self.value[mask]
        )

    def values(self, metric: str, generation: int) -> np.ndarray:
        """One metric at one generation, a value per replicate (in replicate order)."""
        return self.value[(self.metric == metric) & (self.generation == generation)]
