"""Logged-model search: the run filter grammar evaluated over loaded models, and ordering.

Models are few per experiment next to runs (one per training run at most, usually), so the
filter is evaluated in Python over an experiment's models rather than compiled to SQL.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from loopml.errors import InvalidInput
from loopml.tracking._filter import BoolOp, Clause
from loopml.tracking._model_entities import LoggedModel, ModelMetric, ModelOrder

__all__ = ["matches", "sort_models"]

_STRING_ATTRS = ("name", "model_id", "model_type", "status", "source_run_id")
_NUMERIC_ATTRS = {
    "creation_timestamp": "creation_timestamp",
    "creation_time": "creation_timestamp",
    "creation_timestamp_ms": "creation_timestamp",
    "last_updated_timestamp": "last_updated_timestamp",
    "last_updated_time": "last_updated_timestamp",
    "last_updated_timestamp_ms": "last_updated_timestamp",
}
_STATUS_ALIASES = {
    "LOGGED_MODEL_PENDING": "PENDING",
    "LOGGED_MODEL_READY": "READY",
    "LOGGED_MODEL_UPLOAD_FAILED": "FAILED",
    "UPLOAD_FAILED": "FAILED",
}


def _like(pattern: str, *, ignore_case: bool) -> re.Pattern[str]:
    parts = []
    for char in pattern:
        parts.append(".*" if char == "%" else "." if char == "_" else re.escape(char))
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _latest(metrics: Sequence[ModelMetric]) -> ModelMetric | None:
    """The latest point: newest timestamp, then highest step."""
    return max(metrics, key=lambda m: (m.timestamp, m.step), default=None)


def _on_datasets(m: ModelMetric, datasets: Sequence[Mapping[str, str]]) -> bool:
    for d in datasets:
        if m.dataset_name == d.get("dataset_name") and (
            not d.get("dataset_digest") or m.dataset_digest == d.get("dataset_digest")
        ):
            return True
    return False


def _metric(
    model: LoggedModel, key: str, datasets: Sequence[Mapping[str, str]] = (), **dataset: Any
) -> float | None:
    points = [m for m in model.metrics if m.key == key]
    if datasets:
        points = [m for m in points if _on_datasets(m, datasets)]
    if dataset.get("dataset_name"):
        points = [m for m in points if _on_datasets(m, [dataset])]
    latest = _latest(points)
    return None if latest is None else latest.value


def _string_compare(lhs: str | None, op: str, value: Any, what: str) -> bool:
    if op in ("IS NULL", "IS NOT NULL"):
        return (lhs is None) == (op == "IS NULL")
    if op in ("IN", "NOT IN"):
        return lhs is not None and (lhs in value) == (op == "IN")
    if not isinstance(value, str):
        raise InvalidInput(f"{what} is compared with a string; quote the value: '{value}'")
    if lhs is None:
        return False
    if op == "=":
        return lhs == value
    if op == "!=":
        return lhs != value
    if op in ("LIKE", "ILIKE"):
        return _like(value, ignore_case=op == "ILIKE").fullmatch(lhs) is not None
    raise InvalidInput(f"{what} supports =, !=, LIKE, ILIKE, IN and IS NULL, not {op}")


def _numeric_compare(lhs: float | None, op: str, value: Any, what: str) -> bool:
    if op in ("IS NULL", "IS NOT NULL"):
        return (lhs is None) == (op == "IS NULL")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise InvalidInput(f"{what} is compared with a number, got {value!r}") from None
    if lhs is None or math.isnan(lhs):
        return False
    ops: dict[str, Callable[[float, float], bool]] = {
        "=": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
    }
    if op not in ops:
        raise InvalidInput(f"{what} supports = != < <= > >= and IS NULL, not {op}")
    return ops[op](lhs, number)


def _clause(model: LoggedModel, c: Clause, datasets: Sequence[Mapping[str, str]]) -> bool:
    if c.entity == "metric":
        return _numeric_compare(_metric(model, c.key, datasets), c.op, c.value, f"metric {c.key}")
    if c.entity in ("param", "tag"):
        values = model.params if c.entity == "param" else model.tags
        return _string_compare(values.get(c.key), c.op, c.value, f"{c.entity} {c.key}")
    key = c.key.lower()
    if key in _NUMERIC_ATTRS:
        lhs = float(getattr(model, _NUMERIC_ATTRS[key]))
        return _numeric_compare(lhs, c.op, c.value, key)
    if key in _STRING_ATTRS:
        value: Any = c.value
        if key == "status":
            if isinstance(value, str):
                value = _STATUS_ALIASES.get(value.upper(), value.upper())
            elif isinstance(value, tuple):
                value = tuple(_STATUS_ALIASES.get(v.upper(), v.upper()) for v in value)
        lhs_text = getattr(model, key)
        return _string_compare(None if lhs_text is None else str(lhs_text), c.op, value, key)
    raise InvalidInput(
        f"unknown model attribute {c.key!r}: use name, model_id, model_type, status, "
        "source_run_id, creation_timestamp, last_updated_timestamp, or metrics./params./tags."
    )


def matches(
    model: LoggedModel, tree: Clause | BoolOp, datasets: Sequence[Mapping[str, str]] = ()
) -> bool:
    """True when ``model`` satisfies the parsed filter ``tree``."""
    if isinstance(tree, Clause):
        return _clause(model, tree, datasets)
    results = (matches(model, item, datasets) for item in tree.items)
    return all(results) if tree.op == "AND" else any(results)


def _order_value(model: LoggedModel, order: ModelOrder) -> Any:
    name = order.field_name
    if name.startswith("metrics."):
        value = _metric(
            model,
            name[len("metrics.") :],
            dataset_name=order.dataset_name,
            dataset_digest=order.dataset_digest,
        )
        return None if value is None or math.isnan(value) else value
    key = name.lower()
    if key in _NUMERIC_ATTRS:
        return getattr(model, _NUMERIC_ATTRS[key])
    if key in _STRING_ATTRS:
        return getattr(model, key)
    raise InvalidInput(
        f"invalid order_by field {name!r}: an attribute (name, creation_timestamp, ...) "
        "or metrics.<key>"
    )


def sort_models(models: list[LoggedModel], order_by: list[ModelOrder]) -> list[LoggedModel]:
    """Order by each key in turn (missing values last), then newest first, then model id."""
    keys = list(order_by)
    names = {o.field_name.lower() for o in keys}
    if not names & {"creation_timestamp", "creation_time", "creation_timestamp_ms"}:
        keys.append(ModelOrder("creation_timestamp", ascending=False))
    if "model_id" not in names:
        keys.append(ModelOrder("model_id"))
    out = list(models)
    # Stable sorts from the least to the most significant key give the combined order.
    for order in reversed(keys):
        values = {m.model_id: _order_value(m, order) for m in out}
        present = [m for m in out if values[m.model_id] is not None]
        missing = [m for m in out if values[m.model_id] is None]
        present.sort(key=lambda m: values[m.model_id], reverse=not order.ascending)
        out = present + missing
    return out
