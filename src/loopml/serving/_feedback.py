"""Feedback: ground-truth labels for earlier requests, checked before they are recorded.

``POST /feedback`` takes one label ``{"request_id": "...", "label": 1, "row": 0}`` or a
batch ``{"feedback": [{...}, ...]}``, with ``"endpoint"`` when the server serves several.
A label for a request id that this server never saw is recorded too: the request may have
been answered by another replica, and monitoring joins labels to predictions across all of
them (an id it cannot match is reported there as unmatched).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from loopml.errors import InvalidInput, NotFound
from loopml.serving._call import check_request_id

__all__ = ["Labels", "parse_feedback"]

_ITEM_KEYS = frozenset({"request_id", "label", "row"})


@dataclass(frozen=True)
class Labels:
    """Checked labels for one endpoint, as columns."""

    endpoint: str
    request_ids: list[str]
    labels: list[Any]
    rows: list[int]


def parse_feedback(body: Any, endpoints: Sequence[str]) -> Labels:
    """Check a parsed ``POST /feedback`` body against the endpoints served.

    Raises:
        InvalidInput: naming the first bad item and field.  NotFound: an endpoint that is
        not served here.
    """
    if not isinstance(body, dict):
        raise InvalidInput('the body must be a JSON object: {"request_id", "label"} or '
                           '{"feedback": [...]}')  # fmt: skip
    endpoint = _endpoint(body.get("endpoint"), endpoints)
    if "feedback" in body:
        extra = set(body) - {"feedback", "endpoint"}
        if extra:
            raise InvalidInput(f"unexpected key(s) {', '.join(map(repr, sorted(extra)))} "
                               "beside 'feedback'")  # fmt: skip
        items = body["feedback"]
        if not isinstance(items, list) or not items:
            raise InvalidInput("'feedback' must be a non-empty list of {request_id, label, row}")
        where = "feedback[{}]"
    else:
        items = [{k: v for k, v in body.items() if k != "endpoint"}]
        where = "the label"
    labels = Labels(endpoint, [], [], [])
    for i, item in enumerate(items):
        at = where.format(i)
        if not isinstance(item, dict):
            raise InvalidInput(f"{at} must be an object with request_id and label")
        extra = set(item) - _ITEM_KEYS
        if extra:
            raise InvalidInput(f"{at}: unexpected key(s) {', '.join(map(repr, sorted(extra)))};"
                               " give request_id, label and optionally row")  # fmt: skip
        request_id = item.get("request_id")
        if not isinstance(request_id, str):
            raise InvalidInput(f"{at}.request_id: a string is required")
        try:
            check_request_id(request_id)
        except InvalidInput as exc:
            raise InvalidInput(f"{at}.request_id: {exc.message}") from None
        label = item.get("label")
        if not _is_label(label):
            raise InvalidInput(f"{at}.label: a finite number, a non-empty string or a boolean "
                               f"is required (got {str(label)[:40]!r})")  # fmt: skip
        row = item.get("row", 0)
        if not isinstance(row, int) or isinstance(row, bool) or not 0 <= row < 2**62:
            raise InvalidInput(f"{at}.row: a non-negative integer is required")
        labels.request_ids.append(request_id)
        labels.labels.append(label)
        labels.rows.append(row)
    return labels


def _endpoint(value: Any, endpoints: Sequence[str]) -> str:
    if value is None:
        if len(endpoints) == 1:
            return endpoints[0]
        raise InvalidInput(f"name the endpoint the labels are for: one of {', '.join(endpoints)}")
    if not isinstance(value, str):
        raise InvalidInput("'endpoint' must be a string")
    if value not in endpoints:
        # Only served names: an endpoint's name becomes a directory of the log.
        raise NotFound(f"endpoint {value[:80]!r} is not served here; it serves "
                       f"{', '.join(endpoints)}", details={"endpoint": value[:80]})  # fmt: skip
    return value


def _is_label(value: Any) -> bool:
    if isinstance(value, bool):
        return True
    if isinstance(value, str):
        return bool(value)
    if isinstance(value, int):
        return -(2**63) <= value < 2**63  # what a Parquet column holds
    return isinstance(value, float) and math.isfinite(value)
