"""Runs as a pandas DataFrame with MLflow's columns."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.tracking import Run

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["runs_to_frame"]


def runs_to_frame(runs: Sequence[Run]) -> pd.DataFrame:
    """Runs as a DataFrame with MLflow's columns (``metrics.*``, ``params.*``, ``tags.*``)."""
    import numpy as np
    import pandas as pd

    n = len(runs)
    infos = [r.info for r in runs]
    columns: dict[str, Any] = {
        "run_id": np.array([i.run_id for i in infos], dtype=object),
        "experiment_id": np.array([i.experiment_id for i in infos], dtype=object),
        "status": np.array([i.status.value for i in infos], dtype=object),
        "artifact_uri": np.array([i.artifact_uri for i in infos], dtype=object),
        "start_time": pd.to_datetime(
            np.array([i.start_time for i in infos], dtype="int64"), unit="ms", utc=True
        ),
        "end_time": pd.to_datetime(
            np.array([np.nan if i.end_time is None else i.end_time for i in infos]),
            unit="ms",
            utc=True,
        ),
    }
    # Column by column into typed arrays: metrics float64 (NaN where a run lacks the
    # key), params and tags strings (None where absent), as MLflow returns them.
    for prefix in ("metrics", "params", "tags"):
        extra: dict[str, list[Any]] = {}
        for i, run in enumerate(runs):
            for key, value in getattr(run.data, prefix).items():
                column = extra.get(key)
                if column is None:
                    column = extra[key] = [None] * n
                column[i] = value
        for key in sorted(extra):
            values = extra[key]
            columns[f"{prefix}.{key}"] = (
                np.array(values, dtype=float)  # None becomes NaN
                if prefix == "metrics"
                else np.array(values, dtype=object)
            )
    frame = pd.DataFrame(columns, copy=False)
    return frame
