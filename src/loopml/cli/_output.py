"""How the CLI shows things: rich tables for people, ``--json`` for scripts, one error format."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import Any

from rich.console import Console

from loopml.errors import LoopMLError

__all__ = ["console", "err_console", "fmt_time", "print_json", "render_error"]

console = Console()
err_console = Console(stderr=True)


def print_json(data: Any) -> None:
    """Write ``data`` as JSON on stdout (no colours, no wrapping: for scripts)."""
    sys.stdout.write(json.dumps(data, indent=2, default=str, allow_nan=True) + "\n")


def fmt_time(ms: int | None) -> str:
    """A millisecond timestamp as local ``YYYY-MM-DD HH:MM:SS`` ('' for None)."""
    if ms is None:
        return ""
    return datetime.fromtimestamp(ms / 1000, tz=UTC).astimezone().strftime("%Y-%m-%d %H:%M:%S")


def render_error(error: LoopMLError) -> None:
    """The CLI's one error formatter: the message, and the code scripts can branch on."""
    err_console.print(
        f"[bold red]error[/] [dim]({error.code})[/]: {error.message}", highlight=False
    )
