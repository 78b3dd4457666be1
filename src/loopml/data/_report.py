"""Render a validation result as one self-contained HTML page (inline CSS and SVG, no JS)."""

from __future__ import annotations

import html
import json
from typing import Any

from loopml.data._validate import ValidationResult

__all__ = ["render_html"]

# Only the per-check samples are embedded, never the frames: reports that embed data grow
# without bound (Evidently #15).
_BAR_HEIGHT = 20
_BAR_GAP = 6
_LABEL_WIDTH = 280
_CHART_WIDTH = 760
_MAX_LABEL_CHARS = 42

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
.card .n { font-size: 1.4rem; font-weight: 600; }
.ok { color: #1a7f37; } .failed { color: #cf222e; }
table { border-collapse: collapse; margin-top: .5rem; }
th, td { border: 1px solid #d0d7de; padding: .3rem .6rem; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; }
code { font-family: ui-monospace, monospace; }
"""


def _e(value: Any) -> str:
    """Escape any user-supplied value (column names and cell values may hold markup)."""
    return html.escape(str(value), quote=True)


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL_CHARS else text[: _MAX_LABEL_CHARS - 1] + "…"


def _check_label(check: dict[str, Any]) -> str:
    column = check.get("column")
    return str(check["check"]) if column is None else f"{column}: {check['check']}"


def _chart(checks: list[dict[str, Any]]) -> str:
    """Horizontal bars, one per failing check, as inline SVG."""
    if not checks:
        return (
            '<svg xmlns="http://www.w3.org/2000/svg" width="360" height="30" role="img" '
            'aria-label="no failing checks"><text x="0" y="20">No failing checks.</text></svg>'
        )
    top = max(int(c["failed"]) for c in checks) or 1
    bar_space = _CHART_WIDTH - _LABEL_WIDTH - 70  # room on the right for the count
    height = len(checks) * (_BAR_HEIGHT + _BAR_GAP) + _BAR_GAP
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_CHART_WIDTH}" height="{height}" '
        'role="img" aria-label="failures per check">'
    ]
    for i, check in enumerate(checks):
        y = _BAR_GAP + i * (_BAR_HEIGHT + _BAR_GAP)
        label = _check_label(check)
        width = max(1, round(bar_space * int(check["failed"]) / top))
        parts.append(
            f"<g><title>{_e(label)}: {int(check['failed'])}</title>"
            f'<text x="{_LABEL_WIDTH - 6}" y="{y + 14}" text-anchor="end" font-size="12">'
            f"{_e(_short(label))}</text>"
            f'<rect x="{_LABEL_WIDTH}" y="{y}" width="{width}" height="{_BAR_HEIGHT}" '
            'fill="#cf222e" opacity="0.8"/>'
            f'<text x="{_LABEL_WIDTH + width + 6}" y="{y + 14}" font-size="12">'
            f"{int(check['failed'])}</text></g>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _checks_table(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return "<p>No row failed a check.</p>"
    rows = []
    for check in checks:
        samples = ", ".join(
            f"row {int(s['row'])}: <code>{_e(json.dumps(s['value'], ensure_ascii=False))}</code>"
            for s in check["samples"]
        )
        column = "" if check.get("column") is None else check["column"]
        rows.append(
            f"<tr><td>{_e(column)}</td><td><code>{_e(check['check'])}</code></td>"
            f"<td>{int(check['failed'])}</td><td>{samples}</td></tr>"
        )
    return (
        "<table><thead><tr><th>column</th><th>check</th><th>failed</th>"
        "<th>sample failing rows</th></tr></thead><tbody>" + "".join(rows) + "</tbody></table>"
    )


def _schema_errors(errors: list[str]) -> str:
    if not errors:
        return "<p>None.</p>"
    items = "".join(f"<li>{_e(e)}</li>" for e in errors)
    return (
        "<p>These concern the table as a whole, so no rows were split into valid and "
        f"quarantined.</p><ul>{items}</ul>"
    )


def render_html(result: ValidationResult, *, title: str) -> str:
    """A self-contained HTML page for one validation: summary, chart, checks, schema errors.

    Every user-supplied string (title, column names, check names, values) is escaped; the page
    loads nothing from the network.

    Args:
        result: what :func:`loopml.data.validate` returned.
        title: the page heading (escaped).

    Returns:
        The HTML document as a string.
    """
    status = "ok" if result.ok else "failed"
    cards = [
        ("rows", result.num_rows),
        ("valid", result.num_valid),
        ("quarantined", result.num_invalid),
        ("schema errors", len(result.schema_errors)),
    ]
    summary = "".join(
        f'<div class="card"><div>{label}</div><div class="n">{int(n)}</div></div>'
        for label, n in cards
    )
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f"<title>{_e(title)}</title><style>{_CSS}</style></head><body>"
        f"<h1>{_e(title)}</h1>"
        f'<p>Status: <strong class="{status}">{status}</strong></p>'
        f'<div class="summary">{summary}</div>'
        f"<h2>Failures per check</h2>{_chart(result.checks)}"
        f"<h2>Checks</h2>{_checks_table(result.checks)}"
        f"<h2>Schema errors</h2>{_schema_errors(result.schema_errors)}"
        "</body></html>\n"
    )
