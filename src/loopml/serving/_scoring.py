"""MLflow's scoring inputs (``/invocations``) as :class:`ModelInput`: JSON, CSV, Parquet.

JSON is an object with exactly one of ``dataframe_split`` (``{"columns", "data"}``, pandas'
split orient), ``dataframe_records`` (``[{column: value}]``), ``instances`` (rows: objects
or lists) or ``inputs`` (``{column: [values]}``, or rows/a tensor); ``params`` is accepted
and, as MLflow does for models without a params schema, ignored. Other keys are ignored.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np

from loopml.errors import InvalidInput
from loopml.serving._input import ModelInput
from loopml.serving._schema import InputSchema

__all__ = ["SCORING_FORMATS", "scoring_csv", "scoring_json", "scoring_parquet"]

SCORING_FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def scoring_json(body: Any, schema: InputSchema) -> ModelInput:
    """The rows of a parsed MLflow scoring JSON body.

    Raises:
        InvalidInput: not exactly one format key, or a malformed or mismatched payload.
    """
    if not isinstance(body, dict):
        raise InvalidInput(
            f"the body must be a JSON object with exactly one of {', '.join(SCORING_FORMATS)}; "
            f"got a JSON {type(body).__name__}"
        )
    keys = [k for k in SCORING_FORMATS if k in body]
    if len(keys) != 1:
        raise InvalidInput(
            f"the body must have exactly one of {', '.join(SCORING_FORMATS)}; it has "
            f"{', '.join(keys) if keys else 'none'} (keys: {', '.join(map(str, body))})",
            details={"formats": keys},
        )
    key = keys[0]
    value = body[key]
    if key == "dataframe_split":
        return _split(value, schema)
    if key == "dataframe_records":
        if not isinstance(value, list):
            raise InvalidInput("dataframe_records must be a list of {column: value} objects")
        return schema.from_records(value)
    if key == "instances":
        if not isinstance(value, list):
            raise InvalidInput("instances must be a list of rows")
        if value and all(isinstance(v, dict) for v in value):
            return schema.from_records(value)
        return schema.from_rows(value)
    if isinstance(value, dict):  # inputs: columns
        if value and all(np.ndim(v) == 0 for v in value.values()):
            value = {k: [v] for k, v in value.items()}  # one row given as scalars
        return schema.from_columns(value)
    if isinstance(value, list):
        return schema.from_rows(value)
    raise InvalidInput("inputs must be an object of columns or a list of rows")


def _split(value: Any, schema: InputSchema) -> ModelInput:
    if not isinstance(value, dict) or not isinstance(value.get("data"), list):
        raise InvalidInput(
            'dataframe_split must be {"columns": [...], "data": [[...], ...]} (pandas\' '
            "split orient)"
        )
    data = value["data"]
    columns = value.get("columns")
    if columns is None or (schema.names is not None and tuple(columns) == schema.names):
        return schema.from_rows(data)  # already in the signature's order: no transposing
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidInput("dataframe_split.columns must be a list of column names")
    if len(set(columns)) != len(columns):
        raise InvalidInput("dataframe_split.columns names a column twice")
    width = len(columns)
    if not all(isinstance(row, list) and len(row) == width for row in data):
        raise InvalidInput(f"every row of dataframe_split.data must hold {width} values")
    transposed = list(zip(*data, strict=True)) if data else [() for _ in columns]
    return schema.from_columns({c: list(v) for c, v in zip(columns, transposed, strict=True)})


def scoring_csv(body: bytes, schema: InputSchema) -> ModelInput:
    """The rows of a CSV body with a header line (as ``DataFrame.to_csv(index=False)``).

    Raises:
        InvalidInput: not UTF-8, not CSV, or values that do not match the signature.
    """
    import pandas as pd

    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InvalidInput(f"the CSV body is not UTF-8: {exc}") from None
    try:
        frame = pd.read_csv(io.StringIO(text))
    except (ValueError, pd.errors.ParserError) as exc:
        raise InvalidInput(f"the body is not CSV with a header line: {exc}") from None
    for name, dtype in zip(schema.names or (), schema.dtypes, strict=False):
        if dtype is not None and name in frame.columns and frame[name].dtype.kind not in "biuf":
            # In CSV every value is text: name the first one that is not a number.
            column = frame[name]
            parsed = pd.to_numeric(column, errors="coerce")
            bad = column[parsed.isna() & column.notna()]
            if len(bad):
                raise InvalidInput(
                    f"column {name!r} expects {dtype} but row {bad.index[0]} holds "
                    f"{str(bad.iloc[0])[:40]!r}",
                    details={"column": name, "row": int(bad.index[0])},
                )
    return _frame(frame, schema)


def scoring_parquet(body: bytes, schema: InputSchema) -> ModelInput:
    """The rows of a Parquet body.

    Raises:
        InvalidInput: not Parquet, or values that do not match the signature.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        frame = pq.read_table(pa.BufferReader(body)).to_pandas()
    except (pa.ArrowException, OSError) as exc:
        raise InvalidInput(f"the body is not Parquet: {exc}") from None
    return _frame(frame, schema)


def _frame(frame: Any, schema: InputSchema) -> ModelInput:
    names = [str(c) for c in frame.columns]
    columns = {}
    for name, column in zip(names, frame.columns, strict=True):
        values = frame[column].to_numpy()
        if values.dtype.kind == "O":
            # pandas' missing values become None, as JSON's null would be
            values = np.array([None if _missing(v) else v for v in values], dtype=object)
        columns[name] = values
    return schema.from_columns(columns)


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)
