"""Identifiers and clocks: one place that decides what an id and a timestamp look like."""

from __future__ import annotations

import time
import uuid

__all__ = ["new_run_id", "now_ms"]


def new_run_id() -> str:
    """A run id: 32 lowercase hex characters, as MLflow clients expect."""
    return uuid.uuid4().hex


def now_ms() -> int:
    """Milliseconds since the epoch (the unit of every stored timestamp)."""
    return time.time_ns() // 1_000_000
