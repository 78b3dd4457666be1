"""Durations as people write them in monitor specs and on the command line: ``30s``, ``5m``,
``1h``, ``1h30m``, ``7d``, ``2w`` (or a number of seconds)."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from loopml.errors import InvalidInput

__all__ = ["format_duration", "from_ms", "parse_duration", "to_ms"]

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, "w": 604800.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w)")


def parse_duration(value: Any, *, what: str = "duration", allow_zero: bool = False) -> timedelta:
    """``value`` as a :class:`~datetime.timedelta`.

    Args:
        value: ``"1h"``, ``"1h30m"``, ``"90s"``, a number of seconds, or a timedelta.
        what: names the field in the error.
        allow_zero: accept a zero duration (a label delay may be none).

    Raises:
        InvalidInput: not a duration, or not positive.
    """
    if isinstance(value, timedelta):
        seconds = value.total_seconds()
    elif isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        parts = _PART.findall(text)
        if not text or "".join(n + u for n, u in parts) != text:
            raise InvalidInput(
                f"{what}: {value[:40]!r} is not a duration such as 30s, 5m, 1h, 1h30m, 7d",
                details={"field": what},
            )
        seconds = sum(float(n) * _UNITS[u] for n, u in parts)
    else:
        raise InvalidInput(f"{what}: expected a duration such as '1h', not {value!r}")
    if not math.isfinite(seconds) or seconds < 0 or (seconds == 0 and not allow_zero):
        raise InvalidInput(f"{what}: a duration must be positive, not {value!r}")
    return timedelta(seconds=seconds)


def format_duration(delta: timedelta) -> str:
    """The shortest spelling of ``delta`` in whole units (``3600 s`` -> ``1h``)."""
    seconds = delta.total_seconds()
    for unit in ("w", "d", "h", "m", "s"):
        size = _UNITS[unit]
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def to_ms(moment: datetime) -> int:
    """Milliseconds since the epoch (a naive datetime is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return round(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    """A UTC datetime from milliseconds since the epoch."""
    return datetime.fromtimestamp(ms / 1000, UTC)
