"""Run search: the filter tree compiled to SQLAlchemy expressions, ordering and paging."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Integer,
    Select,
    and_,
    bindparam,
    case,
    exists,
    false,
    func,
    not_,
    or_,
    select,
)
from sqlalchemy.orm import aliased

from loopml.errors import InvalidInput
from loopml.store import LatestMetricRow, ParamRow, RunRow, TagRow
from loopml.tracking._entities import ViewType
from loopml.tracking._filter import BoolOp, Clause, OrderKey, parse_filter, parse_order_by

__all__ = ["MAX_RESULTS", "decode_page_token", "encode_page_token", "search_runs_query"]

MAX_RESULTS = 50_000

_STRING_ATTRS: dict[str, Any] = {
    "run_id": RunRow.run_id,
    "run_name": RunRow.run_name,
    "run name": RunRow.run_name,
    "status": RunRow.status,
    "user_id": RunRow.user_id,
    "artifact_uri": RunRow.artifact_uri,
    "parent_run_id": RunRow.parent_run_id,
}
_NUMERIC_ATTRS: dict[str, Any] = {
    "start_time": RunRow.start_time,
    "end_time": RunRow.end_time,
    "created": RunRow.start_time,
}
_STRING_OPS = {"=", "!=", "LIKE", "ILIKE", "IN", "NOT IN"}
_NUMERIC_OPS = {"=", "!=", "<", "<=", ">", ">="}


def _compare(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value
    if op == "!=":
        return column != value
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    if op == "LIKE":
        return column.like(value)
    if op == "ILIKE":
        return column.ilike(value)
    if op == "IN":
        return column.in_(value)
    if op == "NOT IN":
        return column.not_in(value)
    raise InvalidInput(f"unsupported comparator {op!r}")


def key_value_clause(
    c: Clause, prefix: str, table: Any, owned: ColumnElement[bool]
) -> ColumnElement[bool]:
    """A filter on a key-value table (params, tags): ``owned`` ties its rows to the owner."""
    present = exists().where(owned, table.key == c.key)
    if c.op == "IS NULL":
        return not_(present)
    if c.op == "IS NOT NULL":
        return present
    if c.op not in _STRING_OPS or isinstance(c.value, float):
        raise InvalidInput(
            f"{prefix}.{c.key}: {prefix} compare as quoted strings with = != LIKE ILIKE "
            f"IN NOT IN IS NULL, not {c.op} {c.value!r}"
        )
    return exists().where(owned, table.key == c.key, _compare(table.value, c.op, c.value))


def _clause(c: Clause) -> ColumnElement[bool]:
    if c.entity == "metric":
        if c.op not in _NUMERIC_OPS or not isinstance(c.value, float):
            raise InvalidInput(
                f"metrics.{c.key}: metrics compare with = != < <= > >= against a number, "
                f"not {c.op} {c.value!r}"
            )
        return exists().where(
            LatestMetricRow.run_id == RunRow.run_id,
            LatestMetricRow.key == c.key,
            LatestMetricRow.is_nan == false(),
            _compare(LatestMetricRow.value, c.op, c.value),
        )
    if c.entity in ("param", "tag"):
        table: Any = ParamRow if c.entity == "param" else TagRow
        prefix = "params" if c.entity == "param" else "tags"
        return key_value_clause(c, prefix, table, table.run_id == RunRow.run_id)
    key = c.key.lower()
    if key in _NUMERIC_ATTRS:
        if c.op not in _NUMERIC_OPS or not isinstance(c.value, float):
            raise InvalidInput(f"attributes.{c.key} compares with = != < <= > >= against a number")
        return _compare(_NUMERIC_ATTRS[key], c.op, int(c.value))
    if key in _STRING_ATTRS:
        if c.op not in _STRING_OPS or isinstance(c.value, float):
            raise InvalidInput(
                f"attributes.{c.key} compares as a quoted string with = != LIKE ILIKE IN NOT IN"
            )
        return _compare(_STRING_ATTRS[key], c.op, c.value)
    known = ", ".join(sorted({*_STRING_ATTRS, *_NUMERIC_ATTRS} - {"run name"}))
    raise InvalidInput(
        f"unknown attribute {c.key!r} in filter: use metrics.<key>, params.<key>, tags.<key> "
        f"or one of the attributes {known}"
    )


def compile_filter(node: Clause | BoolOp | None) -> ColumnElement[bool] | None:
    """Turn a parsed filter into one SQLAlchemy boolean expression over ``runs``."""
    if node is None:
        return None
    if isinstance(node, Clause):
        return _clause(node)
    parts = [compile_filter(item) for item in node.items]
    return (and_ if node.op == "AND" else or_)(*[p for p in parts if p is not None])


def _order_columns(keys: list[OrderKey], stmt: Select[Any]) -> tuple[Select[Any], list[Any]]:
    columns: list[Any] = []
    for i, k in enumerate(keys):
        if k.entity == "metric":
            lm = aliased(LatestMetricRow, name=f"order_m{i}")
            stmt = stmt.outerjoin(lm, and_(lm.run_id == RunRow.run_id, lm.key == k.key))
            value: Any = case((lm.is_nan == false(), lm.value), else_=None)
        elif k.entity in ("param", "tag"):
            row: Any = aliased(ParamRow if k.entity == "param" else TagRow, name=f"order_p{i}")
            stmt = stmt.outerjoin(row, and_(row.run_id == RunRow.run_id, row.key == k.key))
            value = row.value
        else:
            name = k.key.lower()
            value = _NUMERIC_ATTRS.get(name, _STRING_ATTRS.get(name))
            if value is None:
                raise InvalidInput(f"cannot order by unknown attribute {k.key!r}")
        # Runs that lack the key go last whichever the direction, as in MLflow.
        columns.append(case((value.is_(None), 1), else_=0))
        columns.append(value.asc() if k.ascending else value.desc())
    columns += [RunRow.start_time.desc(), RunRow.run_id.asc()]
    return stmt, columns


def search_runs_query(
    *,
    experiment_ids: list[int],
    filter_string: str | None,
    view_type: ViewType,
    order_by: list[str] | None,
    columns: Sequence[Any] = (RunRow.run_id,),
) -> Select[Any]:
    """The query that selects ``columns`` of one page of matching runs, in order.

    The page is given at execution: bind ``offset`` and ``limit``. The statement is cached
    per search, so paging or repeating a search skips building it again.

    Filtering and sorting happen on narrow rows (run id and sort keys); the page's wide
    columns are joined afterwards by primary key, so the sorter never moves the runs'
    data. ``row_number()`` carries the order across the join.
    """
    return _search_query(
        tuple(experiment_ids),
        filter_string or "",
        view_type,
        tuple(order_by or ()),
        tuple(columns),
    )


@lru_cache(maxsize=256)
def _search_query(
    experiment_ids: tuple[int, ...],
    filter_string: str,
    view_type: ViewType,
    order_by: tuple[str, ...],
    columns: tuple[Any, ...],
) -> Select[Any]:
    where = compile_filter(parse_filter(filter_string))
    stmt = select(RunRow.run_id.label("rid")).where(RunRow.experiment_id.in_(experiment_ids))
    if view_type == ViewType.ACTIVE_ONLY:
        stmt = stmt.where(RunRow.lifecycle_stage == "active")
    elif view_type == ViewType.DELETED_ONLY:
        stmt = stmt.where(RunRow.lifecycle_stage == "deleted")
    if where is not None:
        stmt = stmt.where(where)
    stmt, order = _order_columns(parse_order_by(list(order_by)), stmt)
    page = (
        stmt.add_columns(func.row_number().over(order_by=order).label("pos"))
        .order_by(*order)
        .offset(bindparam("offset", type_=Integer))
        .limit(bindparam("limit", type_=Integer))
        .subquery("page")
    )
    return (
        select(*columns)
        .select_from(RunRow)
        .join(page, RunRow.run_id == page.c.rid)
        .order_by(page.c.pos)
    )


def encode_page_token(offset: int) -> str:
    """An opaque token for the page that starts at ``offset``."""
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token: str | None) -> int:
    """The offset inside a token from :func:`encode_page_token`."""
    if not token:
        return 0
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise InvalidInput(f"page_token {token[:40]!r} is not a token this server issued") from None
    if not isinstance(offset, int) or offset < 0:
        raise InvalidInput(f"page_token {token[:40]!r} is not a token this server issued")
    return offset
