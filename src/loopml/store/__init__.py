"""The metadata store: SQLAlchemy models, engines (SQLite WAL / PostgreSQL) and migrations."""

from loopml.store._engine import Store, open_store, reset_stores
from loopml.store._migrate import current_revision, head_revision, upgrade
from loopml.store._models import (
    Base,
    ExperimentRow,
    ExperimentTagRow,
    LatestMetricRow,
    LoggedModelArtifactRow,
    LoggedModelMetricRow,
    LoggedModelParamRow,
    LoggedModelRow,
    LoggedModelTagRow,
    MetricChunkRow,
    ParamRow,
    RunArtifactRow,
    RunInputRow,
    RunModelLinkRow,
    RunRow,
    TagRow,
)
from loopml.store._upsert import insert_ignore, insert_rows, upsert

__all__ = [
    "Base",
    "ExperimentRow",
    "ExperimentTagRow",
    "LatestMetricRow",
    "LoggedModelArtifactRow",
    "LoggedModelMetricRow",
    "LoggedModelParamRow",
    "LoggedModelRow",
    "LoggedModelTagRow",
    "MetricChunkRow",
    "ParamRow",
    "RunArtifactRow",
    "RunInputRow",
    "RunModelLinkRow",
    "RunRow",
    "Store",
    "TagRow",
    "current_revision",
    "head_revision",
    "insert_ignore",
    "insert_rows",
    "open_store",
    "reset_stores",
    "upgrade",
    "upsert",
]
