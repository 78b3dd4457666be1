"""Validate a frame against a pandera schema, lazily, and quarantine the failing rows.

pandera stays the schema and the judge of every check. Around it this module adds what a
row-level quarantine needs and pandera does not give:

1. **Coercion first, row by row.** When one value of a column cannot be coerced ("abc" in an
   int column), pandera leaves the *whole* column uncoerced, so every other check on it
   crashes and is reported without rows. We therefore find the uncoercible values ourselves
   (vectorised for numbers and datetimes, pandera's element-wise test otherwise), set those
   rows aside, and let pandera validate the rest, where every column coerces.
2. **The set-aside rows** are validated by pandera too, without the columns that blocked
   them, so that their ``_reasons`` are complete.
3. **Failure cases become rows:** the frame is validated with positions as its index, so
   pandera's ``index`` in each failure case is the input row; failures without an index
   (a missing column, a strict schema's extra column, a check that could not run) are
   table-level and go to ``schema_errors``.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandera.api.pandas.container import DataFrameSchema

from loopml.errors import InvalidInput

__all__ = ["ValidationResult", "validate"]

_RESERVED = ("_row", "_reasons")
_RECORD_COLUMNS = ["row", "column", "check", "value"]
_MAX_VALUE_CHARS = 80


@dataclass
class ValidationResult:
    """The outcome of :func:`validate`.

    Attributes:
        num_rows: rows in the input.
        valid: the rows that pass, coerced to the schema's dtypes, index reset. Empty when
            there are ``schema_errors``: a table-level problem condemns the whole frame, and
            no row split is pretended.
        invalid: the failing rows with their original values, plus ``_row`` (position in the
            input) and ``_reasons`` (``"; "``-joined, e.g. ``"age: greater_than_or_equal_to(0)
            failed (value -3)"``). Empty when there are ``schema_errors`` (see ``valid``);
            the row-level failures found are still counted in ``checks``.
        checks: one dict per (column, check) that failed at least once: ``column`` (None for
            a frame-wide check), ``check``, ``failed`` (count) and ``samples`` (up to
            ``sample`` of ``{"row", "value"}``, JSON-safe), most failures first.
        schema_errors: table-level problems that cannot be blamed on rows.
    """

    num_rows: int
    valid: pd.DataFrame
    invalid: pd.DataFrame
    checks: list[dict[str, Any]] = field(default_factory=list)
    schema_errors: list[str] = field(default_factory=list)
    # Set when ``valid`` was not kept (a streamed validation wrote its valid rows away).
    num_valid_rows: int | None = None

    @property
    def num_valid(self) -> int:
        """Number of rows that pass."""
        return len(self.valid) if self.num_valid_rows is None else self.num_valid_rows

    @property
    def ok(self) -> bool:
        """True when nothing failed: no schema error and no failing row."""
        return not self.schema_errors and not self.checks

    @property
    def num_invalid(self) -> int:
        """Number of quarantined rows (0 when there are schema errors; see ``invalid``)."""
        return len(self.invalid)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-serialisable summary (no frames, no NaN): counts, samples, schema errors."""
        return {
            "ok": self.ok,
            "num_rows": self.num_rows,
            "num_valid": self.num_valid,
            "num_invalid": self.num_invalid,
            "schema_errors": list(self.schema_errors),
            "checks": [{**c, "samples": [dict(s) for s in c["samples"]]} for c in self.checks],
        }


def validate(df: pd.DataFrame, schema: DataFrameSchema, *, sample: int = 10) -> ValidationResult:
    """Validate ``df`` against ``schema``, collecting every failure (pandera ``lazy=True``).

    Row-level problems (a null in a non-nullable column, a value failing a check, a value that
    cannot be coerced to the column's dtype) quarantine that row; the others stay valid.
    Table-level problems (a missing column, an extra column under ``strict``, a column none
    of whose values can be coerced, a check that cannot run) go to ``schema_errors``, and
    then neither ``valid`` nor ``invalid`` holds rows.

    The input's index is not data: rows are addressed by position, and the schema's index
    component, if any, is not checked.

    Args:
        df: the frame to validate; not modified.
        schema: a pandas ``DataFrameSchema`` (e.g. from ``infer_schema``/``schema_from_yaml``).
        sample: how many failing values to keep per check.

    Returns:
        A :class:`ValidationResult`.

    Raises:
        InvalidInput: wrong argument types, negative ``sample``, or ``df`` has a column named
            ``_row`` or ``_reasons`` (reserved for the quarantine frame).
    """
    if not isinstance(df, pd.DataFrame):
        raise InvalidInput(f"validate needs a pandas DataFrame, got {type(df).__name__}")
    if not isinstance(schema, DataFrameSchema):
        raise InvalidInput(f"validate needs a DataFrameSchema, got {type(schema).__name__}")
    if sample < 0:
        raise InvalidInput(f"sample must be >= 0, got {sample}")
    clash = [c for c in _RESERVED if c in df.columns]
    if clash:
        raise InvalidInput(f"column names {clash} are reserved for the quarantine frame")

    # Positions as the index: pandera's failure-case index is then the input row.
    frame = df.reset_index(drop=True)
    if schema.index is not None:
        schema = schema.reset_index(drop=True)

    records: list[pd.DataFrame] = []
    schema_errors: list[str] = []
    blocked = np.zeros(len(frame), dtype=bool)
    blocked_cols: list[Any] = []  # columns with some uncoercible rows
    broken_cols: list[Any] = []  # columns with no coercible value at all
    for name, column in schema.columns.items():
        if column.regex or name not in frame.columns or column.dtype is None:
            continue
        if not (schema.coerce or column.coerce):
            continue  # pandera reports a dtype mismatch of an uncoerced column itself
        series = frame[name]
        bad = _uncoercible(series, column.dtype)
        if bad is None:
            continue
        notna = series.notna().to_numpy()
        if notna.any() and not (notna & ~bad).any():
            example = _fmt(series[notna].iloc[0])
            schema_errors.append(
                f"column {name!r} ({series.dtype}) cannot be coerced to {column.dtype}: "
                f"no value converts (e.g. {example})"
            )
            broken_cols.append(name)
            continue
        rows = np.flatnonzero(bad)
        values = series.iloc[rows]
        is_null = values.isna().to_numpy()
        coerce_name = f"coerce_dtype('{column.dtype}')"
        kinds = np.where(is_null & (not column.nullable), "not_nullable", coerce_name)
        records.append(_records(rows, name, kinds, values.to_numpy(dtype=object)))
        blocked |= bad
        blocked_cols.append(name)

    main_schema = schema.remove_columns(broken_cols) if broken_cols else schema
    main = frame.loc[~blocked].drop(columns=broken_cols)
    out, failures = _run(main_schema, main)
    row_failures, table_failures = _split(failures)
    records.append(row_failures)
    schema_errors.extend(table_failures)

    if blocked.any():
        # The set-aside rows, without the columns that blocked them, for complete reasons;
        # table-level findings were already reported by the main pass.
        drop = blocked_cols + broken_cols
        _, side = _run(schema.remove_columns(drop), frame.loc[blocked].drop(columns=drop))
        records.append(_split(side)[0])

    rec = pd.concat([r for r in records if len(r)] or [_no_records()], ignore_index=True)
    rec = rec.sort_values("row", kind="stable")
    checks = _summarise(rec, sample)

    if schema_errors:
        return ValidationResult(
            num_rows=len(df),
            valid=out.iloc[0:0].reset_index(drop=True),
            invalid=_invalid_frame(frame.iloc[0:0], rec.iloc[0:0]),
            checks=checks,
            schema_errors=schema_errors,
        )
    bad_rows = rec["row"].unique()
    valid = out.loc[~out.index.isin(bad_rows)].reset_index(drop=True)
    return ValidationResult(
        num_rows=len(df),
        valid=valid,
        invalid=_invalid_frame(frame, rec),
        checks=checks,
        schema_errors=schema_errors,
    )


def _uncoercible(series: pd.Series, dtype: Any) -> np.ndarray | None:
    """A mask of the values that stop ``series`` from coercing to ``dtype``, or None if it does.

    A null counts when the dtype cannot hold one (NaN in int64).
    """
    if _coerces(series, dtype):  # the common case: one astype per column
        return None
    target = getattr(dtype, "type", None)
    bad: np.ndarray | None = None
    try:
        bad = _fast_mask(series, target)
    except (TypeError, ValueError):
        bad = None
    if bad is None or not _coerces(series[~bad], dtype):
        # pandera's own element-wise test: slow (a Python call per value) but general.
        from pandera.engines.utils import numpy_pandas_coercible

        bad = ~numpy_pandas_coercible(series, dtype).to_numpy(dtype=bool)
    if not _coerces(series[~bad], dtype):
        bad = np.ones(len(series), dtype=bool)  # nothing we can isolate: blame the column
    return bad


def _fast_mask(series: pd.Series, target: Any) -> np.ndarray | None:
    """Vectorised uncoercible-value mask for numeric and datetime targets; None otherwise."""
    if target is None or pd.api.types.is_bool_dtype(target):
        return None
    if pd.api.types.is_numeric_dtype(target):
        converted = pd.to_numeric(series, errors="coerce")
    elif pd.api.types.is_datetime64_any_dtype(target):
        with warnings.catch_warnings():
            # "could not infer format" is advice about speed; the result is what we need.
            warnings.simplefilter("ignore", UserWarning)
            converted = pd.to_datetime(series, errors="coerce")
    else:
        return None
    original_na = series.isna().to_numpy()
    bad = ~original_na & converted.isna().to_numpy()
    if pd.api.types.is_integer_dtype(target):
        num = converted.to_numpy(dtype=float, na_value=np.nan)
        with np.errstate(invalid="ignore"):
            bad |= ~np.isnan(num) & (np.mod(num, 1) != 0)
        if isinstance(target, np.dtype):  # numpy ints cannot hold a null
            bad |= original_na
    return np.asarray(bad, dtype=bool)


def _coerces(series: pd.Series, dtype: Any) -> bool:
    try:
        with warnings.catch_warnings():
            # A probe: a cast warning here is answered by the mask, not worth surfacing.
            warnings.simplefilter("ignore")
            dtype.coerce(series)
    except Exception:  # pandas raises ValueError, TypeError, OverflowError, ...
        return False
    return True


def _run(schema: DataFrameSchema, frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """pandera's lazy validation: the validated frame and the failure cases (None if none)."""
    from pandera.errors import SchemaErrors

    try:
        return schema.validate(frame, lazy=True), None
    except SchemaErrors as exc:
        data = exc.data if isinstance(exc.data, pd.DataFrame) else frame
        return data, exc.failure_cases


def _split(failures: pd.DataFrame | None) -> tuple[pd.DataFrame, list[str]]:
    """pandera failure cases -> (row-level records, table-level messages)."""
    if failures is None or failures.empty:
        return _no_records(), []
    has_row = failures["index"].notna().to_numpy()
    rows_fc = failures.loc[has_row]
    column = rows_fc["column"].astype(object).where(rows_fc["column"].notna(), None)
    rows = _records(
        rows_fc["index"].to_numpy(dtype=np.int64),
        column.to_numpy(dtype=object),
        rows_fc["check"].astype(str).to_numpy(dtype=object),
        rows_fc["failure_case"].to_numpy(dtype=object),
    )
    messages: list[str] = []
    for item in failures.loc[~has_row].itertuples(index=False):
        msg = _table_message(item.column, str(item.check), item.failure_case)
        if msg not in messages:
            messages.append(msg)
    return rows, messages


def _table_message(column: Any, check: str, case: Any) -> str:
    if check == "column_in_dataframe":
        return f"missing column {case!r}"
    if check == "column_in_schema":
        return f"unexpected column {case!r} (the schema is strict)"
    where = "table" if _is_null(column) else f"column {column!r}"
    text = str(case)
    if len(text) > 200:
        text = text[:200] + "..."
    return f"{where}: {check} failed ({text})"


def _records(rows: Any, column: Any, checks: Any, values: Any) -> pd.DataFrame:
    """Failure records; ``column`` is one label for all rows or an array of labels."""
    n = len(rows)
    if isinstance(column, np.ndarray):
        columns = column
    else:
        columns = np.empty(n, dtype=object)
        columns.fill(column)  # fill, not broadcast: a tuple label must stay one value
    return pd.DataFrame(
        {
            "row": np.asarray(rows, dtype=np.int64),
            "column": columns,
            "check": np.asarray(checks, dtype=object),
            "value": np.asarray(values, dtype=object),
        },
        columns=_RECORD_COLUMNS,
    )


def _no_records() -> pd.DataFrame:
    return _records([], None, [], [])


def _summarise(rec: pd.DataFrame, sample: int) -> list[dict[str, Any]]:
    """One entry per (column, check), most failures first, with JSON-safe samples."""
    out: list[dict[str, Any]] = []
    if rec.empty:
        return out
    keys = rec["column"].map(_label) + "\x00" + rec["check"].astype(str)
    for _, group in rec.groupby(keys.to_numpy(), sort=False):
        head = group.head(sample)
        column = group["column"].iloc[0]
        out.append(
            {
                "column": None if column is None else _label(column),
                "check": str(group["check"].iloc[0]),
                "failed": len(group),
                "samples": [
                    {"row": int(r), "value": _jsonable(v)}
                    for r, v in zip(head["row"], head["value"], strict=True)
                ],
            }
        )
    out.sort(key=lambda c: -c["failed"])  # stable: ties keep first-failure order
    return out


def _invalid_frame(frame: pd.DataFrame, rec: pd.DataFrame) -> pd.DataFrame:
    """The failing rows, original values, with ``_row`` and the joined ``_reasons``."""
    reasons: dict[int, list[str]] = {}
    for row, column, check, value in zip(
        rec["row"].tolist(), rec["column"], rec["check"], rec["value"], strict=True
    ):
        prefix = "" if column is None else f"{_label(column)}: "
        reasons.setdefault(row, []).append(f"{prefix}{check} failed (value {_fmt(value)})")
    rows = sorted(reasons)
    invalid = frame.iloc[rows].reset_index(drop=True)
    invalid["_row"] = np.asarray(rows, dtype=np.int64)
    invalid["_reasons"] = pd.Series(["; ".join(reasons[r]) for r in rows], dtype=object)
    return invalid


def _label(column: Any) -> str:
    return "" if column is None else str(column)


def _is_null(value: Any) -> bool:
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # list-likes answer element-wise: not a null scalar
        return False


def _fmt(value: Any) -> str:
    """A value as it reads in a reason: null, quoted strings, plain numbers, truncated."""
    if _is_null(value):
        return "null"
    if isinstance(value, np.generic):
        value = value.item()
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= _MAX_VALUE_CHARS else text[: _MAX_VALUE_CHARS - 3] + "..."


def _jsonable(value: Any) -> Any:
    """A value json.dumps(allow_nan=False) accepts: None for nulls, strings for the exotic."""
    if _is_null(value):
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, pd.Timestamp):
        return value.isoformat()
    return _fmt(value)
