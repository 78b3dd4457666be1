"""Experiment search: MLflow's experiment filter grammar (plus OR and parentheses) in SQL.

Filters name ``name`` / ``attributes.name``, ``creation_time``, ``last_update_time``,
``experiment_id`` and ``tags.<key>``; order keys are the same attributes.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, and_, or_

from loopml.errors import InvalidInput
from loopml.store import ExperimentRow, ExperimentTagRow
from loopml.tracking._filter import BoolOp, Clause, OrderKey, parse_filter, parse_order_by
from loopml.tracking._search import _NUMERIC_OPS, _STRING_OPS, _compare, key_value_clause

__all__ = ["experiment_filter", "experiment_order"]

_STRING_ATTRS: dict[str, Any] = {"name": ExperimentRow.name}
_NUMERIC_ATTRS: dict[str, Any] = {
    "creation_time": ExperimentRow.creation_time,
    "last_update_time": ExperimentRow.last_update_time,
    "experiment_id": ExperimentRow.experiment_id,
}


def _clause(c: Clause) -> ColumnElement[bool]:
    if c.entity == "tag":
        owned = ExperimentTagRow.experiment_id == ExperimentRow.experiment_id
        return key_value_clause(c, "tags", ExperimentTagRow, owned)
    if c.entity != "attribute":
        raise InvalidInput(
            f"experiments have no {c.entity}s to filter on: use name, creation_time, "
            "last_update_time or tags.<key>"
        )
    key = c.key.lower()
    if key in _STRING_ATTRS:
        if c.op not in _STRING_OPS or isinstance(c.value, float):
            raise InvalidInput(f"{key} compares with = != LIKE ILIKE IN NOT IN to a quoted string")
        return _compare(_STRING_ATTRS[key], c.op, c.value)
    if key in _NUMERIC_ATTRS:
        value = c.value
        if key == "experiment_id" and isinstance(value, str) and value.isdigit():
            value = float(value)
        if c.op not in _NUMERIC_OPS or not isinstance(value, float):
            raise InvalidInput(f"{key} compares with = != < <= > >= to a number")
        return _compare(_NUMERIC_ATTRS[key], c.op, value)
    raise InvalidInput(
        f"unknown experiment attribute {c.key!r}: use name, creation_time, last_update_time, "
        "experiment_id or tags.<key>"
    )


def _node(node: Clause | BoolOp) -> ColumnElement[bool]:
    if isinstance(node, Clause):
        return _clause(node)
    parts = [_node(item) for item in node.items]
    return and_(*parts) if node.op == "AND" else or_(*parts)


def experiment_filter(text: str | None) -> ColumnElement[bool] | None:
    """The WHERE clause for an experiment filter string (None for no filter)."""
    node = parse_filter(text)
    return None if node is None else _node(node)


def experiment_order(entries: list[str] | None) -> list[Any]:
    """ORDER BY columns for ``order_by`` entries; experiment id breaks ties."""
    columns: list[Any] = []
    for key in parse_order_by(entries):
        columns.append(_order_column(key))
    return [*columns, ExperimentRow.experiment_id]


def _order_column(key: OrderKey) -> Any:
    name = key.key.lower()
    column = _STRING_ATTRS.get(name, _NUMERIC_ATTRS.get(name))
    if key.entity != "attribute" or column is None:
        raise InvalidInput(
            f"experiments order by name, creation_time, last_update_time or experiment_id, "
            f"not {key.key!r}"
        )
    return column.asc() if key.ascending else column.desc()
