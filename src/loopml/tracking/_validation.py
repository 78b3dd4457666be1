"""Checks on everything a user logs, each failure an InvalidInput that names the problem."""

from __future__ import annotations

import numbers
import re
from typing import Any

from loopml.errors import InvalidInput, PayloadTooLarge

__all__ = [
    "MAX_EXPERIMENT_NAME",
    "MAX_KEY",
    "MAX_PARAM_VALUE",
    "MAX_TAG_VALUE",
    "check_experiment_name",
    "check_key",
    "check_param_value",
    "check_step",
    "check_tag_value",
    "check_timestamp",
    "metric_value",
]

MAX_KEY = 250
MAX_PARAM_VALUE = 6000
MAX_TAG_VALUE = 8000
MAX_EXPERIMENT_NAME = 500
_KEY = re.compile(r"^[\w\-. /:]+$")
_valid_keys: set[str] = set()


def check_key(key: Any, kind: str) -> str:
    """Validate a metric/param/tag key: 1-250 characters of ``[A-Za-z0-9_-. /:]``, no ``..``."""
    if key in _valid_keys:  # hot path: the same keys are logged over and over
        return key
    if not isinstance(key, str):
        raise InvalidInput(f"{kind} key must be a string, got {type(key).__name__} {key!r}")
    if not key or not key.strip():
        raise InvalidInput(f"{kind} key is empty")
    if len(key) > MAX_KEY:
        raise InvalidInput(
            f"{kind} key {key[:40]!r}… is {len(key)} characters; the limit is {MAX_KEY}"
        )
    if not _KEY.match(key):
        raise InvalidInput(
            f"{kind} key {key!r} has characters other than letters, digits, "
            "'_', '-', '.', ' ', ':' and '/'"
        )
    parts = key.split("/")
    if key.startswith("/") or ".." in parts or "." in parts:
        raise InvalidInput(
            f"{kind} key {key!r} may not be absolute or contain '.' or '..' segments"
        )
    if len(_valid_keys) < 100_000:
        _valid_keys.add(key)
    return key


def metric_value(key: str, value: Any) -> float:
    """The metric value as a float; NaN and ±inf are kept, non-numbers are refused."""
    if type(value) is float:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(
            f"metric {key!r} value must be a number, got {type(value).__name__} {value!r}"
        )
    try:
        out = float(value)
    except (TypeError, ValueError, OverflowError) as exc:
        raise InvalidInput(f"metric {key!r} value {value!r} is not a number: {exc}") from exc
    return out


def _string_value(value: Any, *, what: str, limit: int) -> str:
    text = value if isinstance(value, str) else str(value)
    if len(text) > limit:
        raise PayloadTooLarge(
            f"{what} is {len(text)} characters; the limit is {limit}. Log long text with "
            "log_text() as an artifact instead."
        )
    if "\x00" in text:
        raise InvalidInput(f"{what} contains a NUL character")
    return text


def check_param_value(key: str, value: Any) -> str:
    """A param value as a string of at most 6,000 characters."""
    return _string_value(value, what=f"param {key!r} value", limit=MAX_PARAM_VALUE)


def check_tag_value(key: str, value: Any) -> str:
    """A tag value as a string of at most 8,000 characters."""
    return _string_value(value, what=f"tag {key!r} value", limit=MAX_TAG_VALUE)


def check_experiment_name(name: Any) -> str:
    """An experiment name: a non-empty string of at most 500 characters."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"experiment name must be a non-empty string, got {name!r}")
    if len(name) > MAX_EXPERIMENT_NAME:
        raise InvalidInput(
            f"experiment name is {len(name)} characters; the limit is {MAX_EXPERIMENT_NAME}"
        )
    if "\x00" in name:
        raise InvalidInput("experiment name contains a NUL character")
    return name


def check_step(step: Any) -> int:
    """A step as an int64."""
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        raise InvalidInput(f"step must be an integer, got {type(step).__name__} {step!r}")
    step = int(step)
    if not -(2**63) <= step < 2**63:
        raise InvalidInput(f"step {step} does not fit in 64 bits")
    return step


def check_timestamp(timestamp: Any) -> int:
    """A timestamp in milliseconds as an int64."""
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Integral):
        raise InvalidInput(
            f"timestamp must be integer milliseconds, got {type(timestamp).__name__} {timestamp!r}"
        )
    timestamp = int(timestamp)
    if not 0 <= timestamp < 2**63:
        raise InvalidInput(f"timestamp {timestamp} is out of range")
    return timestamp
