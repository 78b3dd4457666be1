"""Registry search: MLflow's model and version filters (plus OR and parentheses) in SQL.

The grammar is the tracking layer's (:func:`loopml.tracking.parse_filter`); only the
mapping of identifiers to columns is the registry's. One difference from run search is on
purpose: ``tags.k != 'v'`` (and ``NOT IN``) also match models that lack the tag, because the
MLflow client appends ``tag.`mlflow.prompt.is_prompt` != 'true'`` to every model search.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, exists, not_, or_

from loopml.errors import InvalidInput
from loopml.store import (
    ModelVersionRow,
    ModelVersionTagRow,
    RegisteredModelRow,
    RegisteredModelTagRow,
)
from loopml.tracking import parse_filter, parse_order_by
from loopml.tracking._filter import BoolOp, Clause

# The comparison builder is the run search's, so both searches mean the same by each
# operator (LIKE case-sensitive, ILIKE not, IN over a tuple).
from loopml.tracking._search import _compare, decode_page_token, encode_page_token

__all__ = ["fetch_page", "model_filter", "model_order", "version_filter", "version_order"]

_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">=", "IN", "NOT IN"}

_MODEL_STRINGS: dict[str, Any] = {"name": RegisteredModelRow.name}
_MODEL_NUMBERS: dict[str, Any] = {
    "creation_timestamp": RegisteredModelRow.creation_timestamp,
    "timestamp": RegisteredModelRow.creation_timestamp,
    "last_updated_timestamp": RegisteredModelRow.last_updated_timestamp,
}
_VERSION_STRINGS: dict[str, Any] = {
    "name": RegisteredModelRow.name,
    "run_id": ModelVersionRow.run_id,
    "source_path": ModelVersionRow.source,
    "source": ModelVersionRow.source,
    "current_stage": ModelVersionRow.current_stage,
}
_VERSION_NUMBERS: dict[str, Any] = {
    "version_number": ModelVersionRow.version,
    "version": ModelVersionRow.version,
    "creation_timestamp": ModelVersionRow.creation_timestamp,
    "timestamp": ModelVersionRow.creation_timestamp,
    "last_updated_timestamp": ModelVersionRow.last_updated_timestamp,
}


def _tag_clause(c: Clause, table: Any, owned: ColumnElement[bool]) -> ColumnElement[bool]:
    def having(op: str) -> ColumnElement[bool]:
        return exists().where(owned, table.key == c.key, _compare(table.value, op, c.value))

    if c.op == "IS NULL":
        return not_(exists().where(owned, table.key == c.key))
    if c.op == "IS NOT NULL":
        return exists().where(owned, table.key == c.key)
    if c.op not in _STRING_OPS or isinstance(c.value, float):
        raise InvalidInput(
            f"tags.{c.key}: tags compare as quoted strings with = != LIKE ILIKE IN NOT IN "
            f"IS NULL, not {c.op} {c.value!r}"
        )
    # "!= v" is "has no tag equal to v": a model without the tag matches, as in MLflow.
    if c.op == "!=":
        return not_(having("="))
    if c.op == "NOT IN":
        return not_(having("IN"))
    return having(c.op)


def _as_int(value: object) -> int:
    # Version numbers arrive as 3 or '3' (MLflow sends both); 3.5 is not a version.
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    raise ValueError(value)


def _attribute(c: Clause, strings: dict[str, Any], numbers: dict[str, Any]) -> ColumnElement[bool]:
    key = c.key.lower()
    if key in strings:
        if c.op not in _STRING_OPS or isinstance(c.value, float):
            raise InvalidInput(f"{key} compares with = != LIKE ILIKE IN NOT IN to quoted strings")
        return _compare(strings[key], c.op, c.value)
    if key in numbers:
        try:
            value = (
                tuple(_as_int(v) for v in c.value)
                if isinstance(c.value, tuple)
                else _as_int(c.value)
            )
        except ValueError:
            raise InvalidInput(f"{key} compares with = != < <= > >= IN to numbers") from None
        if c.op not in _NUMERIC_OPS:
            raise InvalidInput(f"{key} compares with = != < <= > >= IN to numbers")
        return _compare(numbers[key], c.op, value)
    known = ", ".join(sorted({*strings, *numbers}))
    raise InvalidInput(f"unknown attribute {c.key!r} in filter: use tags.<key> or one of {known}")


def _compile(
    node: Clause | BoolOp, strings: dict[str, Any], numbers: dict[str, Any], tags: Any, owned: Any
) -> ColumnElement[bool]:
    if isinstance(node, BoolOp):
        parts = [_compile(item, strings, numbers, tags, owned) for item in node.items]
        return and_(*parts) if node.op == "AND" else or_(*parts)
    if node.entity == "tag":
        return _tag_clause(node, tags, owned)
    if node.entity != "attribute":
        raise InvalidInput(f"the registry has no {node.entity}s to filter on: use tags.<key>")
    return _attribute(node, strings, numbers)


def _parse(text: str | None) -> Clause | BoolOp | None:
    if text is not None and "\x00" in text:  # PostgreSQL refuses NUL in a query
        raise InvalidInput("the filter contains a NUL character")
    return parse_filter(text)


def model_filter(text: str | None) -> ColumnElement[bool] | None:
    """The WHERE clause over ``registered_models`` for a model filter string."""
    node = _parse(text)
    if node is None:
        return None
    owned = RegisteredModelTagRow.model_id == RegisteredModelRow.model_id
    return _compile(node, _MODEL_STRINGS, _MODEL_NUMBERS, RegisteredModelTagRow, owned)


def version_filter(text: str | None) -> ColumnElement[bool] | None:
    """The WHERE clause over ``model_versions`` joined to ``registered_models``."""
    node = _parse(text)
    if node is None:
        return None
    owned = and_(
        ModelVersionTagRow.model_id == ModelVersionRow.model_id,
        ModelVersionTagRow.version == ModelVersionRow.version,
    )
    return _compile(node, _VERSION_STRINGS, _VERSION_NUMBERS, ModelVersionTagRow, owned)


def _order(
    entries: list[str] | None, columns: dict[str, Any], default: list[Any], what: str
) -> list[Any]:
    out: list[Any] = []
    for key in parse_order_by(entries):
        column = columns.get(key.key.lower())
        if key.entity != "attribute" or column is None:
            raise InvalidInput(
                f"{what} order by {', '.join(sorted(columns))}, not {key.key!r}",
                details={"order_by": key.key},
            )
        out.append(column.asc() if key.ascending else column.desc())
    return out + default


def model_order(entries: list[str] | None) -> list[Any]:
    """ORDER BY for a model search; ``name`` ascending by default and as the tie-break."""
    return _order(
        entries, {**_MODEL_STRINGS, **_MODEL_NUMBERS}, [RegisteredModelRow.name.asc()], "models"
    )


def version_order(entries: list[str] | None) -> list[Any]:
    """ORDER BY for a version search; by default newest change first, as MLflow."""
    columns = {**_VERSION_STRINGS, **_VERSION_NUMBERS}
    default = [RegisteredModelRow.name.asc(), ModelVersionRow.version.desc()]
    if not entries:
        default.insert(0, ModelVersionRow.last_updated_timestamp.desc())
    return _order(entries, columns, default, "versions")


def fetch_page(
    conn: Connection, query: Select[Any], max_results: int, cap: int, page_token: str | None
) -> tuple[list[Row[Any]], str | None]:
    """One page of an ordered query and the token of the next page (None after the last).

    Raises:
        InvalidInput: ``max_results`` outside 1..``cap`` or a token this server did not issue.
    """
    if isinstance(max_results, bool) or not isinstance(max_results, int):
        raise InvalidInput(f"max_results must be an integer, got {max_results!r}")
    if not 1 <= max_results <= cap:
        raise InvalidInput(f"max_results must be between 1 and {cap}, got {max_results}")
    offset = decode_page_token(page_token)
    # One row more than asked tells whether another page exists without a COUNT.
    rows = list(conn.execute(query.offset(offset).limit(max_results + 1)).all())
    more = len(rows) > max_results
    return rows[:max_results], encode_page_token(offset + max_results) if more else None
