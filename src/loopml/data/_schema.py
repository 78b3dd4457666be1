"""Infer a dataset schema with pandera, made robust to new data, and round-trip it through YAML."""

from __future__ import annotations

from typing import Any

import pandas as pd
import yaml
from pandera.api.pandas.container import DataFrameSchema

from loopml.errors import InvalidInput

__all__ = ["infer_schema", "schema_from_yaml", "schema_to_yaml"]

# A categorical column keeps its inferred ``isin`` check only up to this many categories.
_MAX_ISIN_CATEGORIES = 50

# The range checks pandera infers from the observed min/max. They describe the sample, not the
# domain: the next batch with one larger value would be quarantined row by row.
_RANGE_CHECKS = frozenset(
    {
        "greater_than",
        "greater_than_or_equal_to",
        "less_than",
        "less_than_or_equal_to",
        "in_range",
    }
)


def infer_schema(df: pd.DataFrame, *, name: str = "") -> DataFrameSchema:
    """Infer a pandera schema from a frame, keeping only what should hold for future batches.

    Starts from ``pandera.infer_schema`` and then:

    * keeps each column's dtype and nullability (a column with no nulls is non-nullable);
    * sets ``coerce=True`` so that a batch read back as strings or object still validates;
    * **drops** the min/max range checks pandera infers: they encode the sample, not the
      domain. Domain bounds (``age >= 0``) are knowledge a user adds to the YAML by hand;
    * keeps ``isin`` only for pandas ``category`` columns with at most
      ``_MAX_ISIN_CATEGORIES`` (50) categories, whose vocabulary the producer declared closed.
      Plain string columns get no ``isin``: a value not seen in the sample is drift, which
      monitoring reports separately, not a broken row to quarantine;
    * drops the index component: a dataset's index is not data (it is rebuilt on every read),
      and :func:`loopml.data.validate` addresses rows by position;
    * is not ``strict``: a new extra column is additive; set ``strict: true`` in the YAML to
      refuse them.

    Args:
        df: the frame to infer from (a representative sample is enough).
        name: stored as the schema's name.

    Returns:
        A pandas ``DataFrameSchema``.

    Raises:
        InvalidInput: ``df`` is not a pandas DataFrame or pandera cannot infer from it.
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"infer_schema needs a pandas DataFrame, got {type(df).__name__}")
    if len(df.columns) == 0:
        # pandera's inference crashes on a frame without columns; the answer is obvious.
        return DataFrameSchema({}, coerce=True, name=name or None)
    import pandera.pandas as pa  # deferred: pandera's import is slow and only needed here

    try:
        inferred = pa.infer_schema(df)
    except Exception as exc:  # pandera raises assorted types; the caller needs one
        raise InvalidInput(f"cannot infer a schema from this frame: {exc}") from exc
    if not isinstance(inferred, DataFrameSchema):  # a Series would give a SeriesSchema
        raise InvalidInput("infer_schema needs a DataFrame")

    columns = {}
    for col_name, column in inferred.columns.items():
        keep = [c for c in column.checks if _keep_check(c, df[col_name])]
        columns[col_name] = column.update_checks(keep)  # a new Column; inferred left as is
    return DataFrameSchema(columns, coerce=True, strict=False, name=name or None)


def _keep_check(check: Any, series: pd.Series) -> bool:
    """Whether an inferred check should survive into the stored schema (see infer_schema)."""
    if check.name in _RANGE_CHECKS:
        return False
    if check.name == "isin":
        return (
            isinstance(series.dtype, pd.CategoricalDtype)
            and len(series.dtype.categories) <= _MAX_ISIN_CATEGORIES
        )
    return True


def schema_to_yaml(schema: DataFrameSchema) -> str:
    """Serialize a schema to pandera's YAML (checks written as ``check_name: value`` keys).

    Args:
        schema: a pandas ``DataFrameSchema``.

    Returns:
        The YAML text.

    Raises:
        InvalidInput: the schema holds something pandera cannot serialize (a lambda check).
    """
    if not isinstance(schema, DataFrameSchema):
        raise InvalidInput(f"schema_to_yaml needs a DataFrameSchema, got {type(schema).__name__}")
    try:
        text = schema.to_yaml()
    except Exception as exc:  # custom, unregistered checks cannot be written
        raise InvalidInput(f"cannot serialize this schema to YAML: {exc}") from exc
    assert isinstance(text, str)  # to_yaml returns the text when no stream is given
    return text


def schema_from_yaml(text: str) -> DataFrameSchema:
    """Load a schema from YAML written by :func:`schema_to_yaml` or edited by hand.

    Checks may be given flat (``greater_than_or_equal_to: 0`` under the column) or nested
    (``checks: {greater_than_or_equal_to: 0}``); both are enforced.

    Args:
        text: the YAML text.

    Returns:
        The pandas ``DataFrameSchema``.

    Raises:
        InvalidInput: the text is not YAML (the message carries the parser's line and column),
            is not a mapping, or names an unknown dtype or check.
    """
    try:
        # Parse once ourselves so that a syntax error reports the YAML position, not a
        # pandera traceback.
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InvalidInput(f"schema YAML does not parse: {exc}") from exc
    if not isinstance(doc, dict):
        raise InvalidInput(f"schema YAML must be a mapping, got {type(doc).__name__}")
    columns = doc.get("columns")
    if columns is not None and not isinstance(columns, dict):
        raise InvalidInput("schema YAML: 'columns' must map column names to their settings")
    try:
        schema = DataFrameSchema.from_yaml(text)
    except Exception as exc:  # unknown dtype -> TypeError, unknown check -> AttributeError, ...
        raise InvalidInput(f"schema YAML is not a valid pandera schema: {exc}") from exc
    if not isinstance(schema, DataFrameSchema):
        raise InvalidInput("schema YAML does not describe a pandas DataFrameSchema")
    return schema
