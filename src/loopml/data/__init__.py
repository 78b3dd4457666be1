"""Datasets: versioned by content, validated with pandera, profiled, quarantined.

Example::

    import loopml

    v = loopml.data.register("churn", "data/churn.csv", on_invalid="quarantine")
    frame = loopml.data.get("churn@latest")
"""

from loopml.data._api import get, list_datasets, register, set_context, version, versions
from loopml.data._catalog import DatasetCatalog
from loopml.data._entities import DatasetVersion
from loopml.data._profile import ColumnProfile, TableProfile, profile_batches, profile_table
from loopml.data._registry import DataService, ValidationFailed
from loopml.data._schema import infer_schema, schema_from_yaml, schema_to_yaml
from loopml.data._validate import ValidationResult, validate

__all__ = [
    "ColumnProfile",
    "DataService",
    "DatasetCatalog",
    "DatasetVersion",
    "TableProfile",
    "ValidationFailed",
    "ValidationResult",
    "get",
    "infer_schema",
    "list_datasets",
    "profile_batches",
    "profile_table",
    "register",
    "schema_from_yaml",
    "schema_to_yaml",
    "set_context",
    "validate",
    "version",
    "versions",
]
