"""Bit-for-bit comparison of Arrow tables (results of runs, sweeps and resumes)."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def tables_identical(a: pa.Table, b: pa.Table) -> bool:
    """Bit-for-bit equality of two tables (``Table.equals`` treats NaN != NaN)."""
    if a.schema != b.schema or a.num_rows != b.num_rows:
        return False
    for name in a.column_names:
        x, y = a.column(name).combine_chunks(), b.column(name).combine_chunks()
        if pa.types.is_floating(x.type):
            xv, yv = x.to_numpy(zero_copy_only=False), y.to_numpy(zero_copy_only=False)
            if not np.array_equal(xv.view(np.uint64), yv.view(np.uint64)):
                return False
        elif not x.equals(y):
            return False
    return True
