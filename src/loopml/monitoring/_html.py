"""Render a drift report as one self-contained HTML page (inline CSS and SVG, no script).

Like the data package's validation report, it embeds no rows (reports that embed data grow
without bound, Evidently #15): per feature only the binned shares its chart draws.
"""

from __future__ import annotations

import html
import math
from typing import Any

from loopml.monitoring._report import Chart, DriftReport, FeatureDrift

__all__ = ["render_html"]

_WIDTH, _HEIGHT = 760, 210
_LEFT, _TOP, _BOTTOM = 44, 24, 62  # room for the y axis, the legend and the bin labels
_REF, _CUR, _CUR_DRIFT = "#8c959f", "#0969da", "#cf222e"
_MAX_LABEL = 14

_CSS = """
body { font-family: system-ui, sans-serif; margin: 2rem; color: #1f2328; }
h1 { font-size: 1.4rem; } h2 { font-size: 1.15rem; margin-top: 2rem; }
h3 { font-size: 1rem; margin: 1.6rem 0 .3rem; }
.summary { display: flex; gap: 1rem; flex-wrap: wrap; }
.card { border: 1px solid #d0d7de; border-radius: 6px; padding: .6rem 1rem; min-width: 8rem; }
.card .n { font-size: 1.3rem; font-weight: 600; }
.drift { color: #cf222e; font-weight: 600; } .stable { color: #1a7f37; }
table { border-collapse: collapse; margin-top: .5rem; font-size: .9rem; }
th, td { border: 1px solid #d0d7de; padding: .25rem .5rem; text-align: left; vertical-align: top; }
th { background: #f6f8fa; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
.notes { color: #57606a; font-size: .85rem; }
"""


def _e(value: Any) -> str:
    """Escape user-supplied text (column names and categories may hold markup)."""
    return html.escape(str(value), quote=True)


def _num(value: float | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.{digits}g}"


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _short(text: str) -> str:
    return text if len(text) <= _MAX_LABEL else text[: _MAX_LABEL - 1] + "…"


def _verdict(drifted: bool) -> str:
    return '<span class="drift">drift</span>' if drifted else '<span class="stable">no drift</span>'


def chart_svg(chart: Chart, *, drifted: bool, name: str) -> str:
    """Grouped bars: the reference's and the current window's share in each bin."""
    bins = len(chart.labels)
    plot_w, plot_h = _WIDTH - _LEFT - 8, _HEIGHT - _TOP - _BOTTOM
    top = max([*chart.reference, *chart.current, 1e-12])
    group = plot_w / bins
    bar = min(30.0, max(1.0, group * 0.4))
    cur_colour = _CUR_DRIFT if drifted else _CUR
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_WIDTH}" height="{_HEIGHT}" '
        f'role="img" aria-label="{_e(name)}: reference and current shares per bin">',
        f'<line x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{_WIDTH - 8}" y2="{_TOP + plot_h}" '
        'stroke="#57606a"/>',
        f'<text x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end" font-size="10">{top:.0%}</text>',
        f'<text x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end" font-size="10">0</text>',
        f'<rect x="{_WIDTH - 190}" y="4" width="10" height="10" fill="{_REF}"/>'
        f'<text x="{_WIDTH - 176}" y="13" font-size="11">reference</text>'
        f'<rect x="{_WIDTH - 110}" y="4" width="10" height="10" fill="{cur_colour}"/>'
        f'<text x="{_WIDTH - 96}" y="13" font-size="11">current</text>',
    ]
    step = max(1, math.ceil(bins / 24))  # label at most ~24 bins so that labels do not collide
    for i, (label, a, b) in enumerate(zip(chart.labels, chart.reference, chart.current,
                                          strict=True)):  # fmt: skip
        x = _LEFT + i * group + group / 2
        for offset, share, colour, who in ((-bar, a, _REF, "reference"),
                                           (0.0, b, cur_colour, "current")):  # fmt: skip
            h = plot_h * share / top
            parts.append(
                f'<rect x="{x + offset:.1f}" y="{_TOP + plot_h - h:.1f}" width="{bar:.1f}" '
                f'height="{h:.1f}" fill="{colour}"><title>{_e(label)}: {who} {share:.2%}'
                "</title></rect>"
            )
        if i % step == 0:
            y = _TOP + plot_h + 12
            parts.append(
                f'<text x="{x:.1f}" y="{y}" font-size="10" text-anchor="end" '
                f'transform="rotate(-35 {x:.1f} {y})">{_e(_short(label))}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)


def _row(row: FeatureDrift) -> str:
    cells = [
        f"<td>{_e(row.feature)}</td>",
        f"<td>{_e(row.kind)}</td>",
        f"<td>{_e(row.method)}</td>",
        f'<td class="num">{_num(row.score)}</td>',
        f'<td class="num">{_num(row.threshold)}</td>',
        f"<td>{_verdict(row.drifted) if row.tested else 'not tested'}</td>",
        f'<td class="num">{row.n_reference:,} / {row.n_current:,}</td>',
        f'<td class="num">{_pct(row.missing_reference)} → {_pct(row.missing_current)}</td>',
        f'<td class="num">{_pct(row.unseen)}</td>',
        f'<td class="notes">{_e("; ".join(row.notes))}</td>',
    ]
    return "<tr>" + "".join(cells) + "</tr>"


def _table(rows: tuple[FeatureDrift, ...]) -> str:
    head = ("column", "kind", "method", "score", "threshold", "verdict", "values ref / cur",
            "missing", "unseen", "notes")  # fmt: skip
    return (
        "<table><thead><tr>" + "".join(f"<th>{h}</th>" for h in head) + "</tr></thead><tbody>"
        + "".join(_row(r) for r in rows) + "</tbody></table>"
    )  # fmt: skip


def _charts(rows: tuple[FeatureDrift, ...]) -> str:
    out = []
    for row in rows:
        out.append(f'<h3 id="{_e(row.feature)}">{_e(row.feature)} — {_verdict(row.drifted)} '
                   f'<span class="notes">({_e(row.method)}, score {_num(row.score)}, threshold '
                   f"{_num(row.threshold)})</span></h3>")  # fmt: skip
        if row.chart is None:
            out.append(f'<p class="notes">No chart: {_e("; ".join(row.notes))}</p>')
        else:
            out.append(chart_svg(row.chart, drifted=row.drifted, name=row.feature))
    return "".join(out)


def render_html(report: DriftReport, *, title: str) -> str:
    """A self-contained HTML page: verdict, summary, a table of columns, a chart per column.

    Every user-supplied string is escaped; the page loads nothing from the network.
    """
    cards = [
        ("features tested", f"{report.num_tested:,}"),
        ("drifted", f"{report.num_drifted:,}"),
        ("share drifted", f"{report.share_drifted:.0%} (rule ≥ {report.drift_share:.0%})"),
        ("rows reference", f"{report.rows_reference:,}"),
        ("rows current", f"{report.rows_current:,}"),
        ("alpha", f"{report.alpha:g}{' size-aware' if report.size_aware else ''}"),
    ]
    summary = "".join(f'<div class="card"><div>{k}</div><div class="n">{v}</div></div>'
                      for k, v in cards)  # fmt: skip
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Dataset: {_verdict(report.dataset_drift)}</p>",
        f'<div class="summary">{summary}</div>',
        f"<h2>Features</h2>{_table(report.features)}",
    ]
    if report.predictions:
        body.append(f"<h2>Model outputs</h2>{_table(report.predictions)}")
    body.append(f"<h2>Distributions</h2>{_charts(report.features + report.predictions)}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
