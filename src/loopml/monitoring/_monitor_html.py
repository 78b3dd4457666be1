"""A monitor run's HTML report: verdicts, performance and operations of the window, trends
over recent runs (line charts), and the drift table with a histogram per feature.

Self-contained like the drift report (inline CSS and SVG, no script, no data rows); the
drift part reuses :mod:`loopml.monitoring._html`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from loopml.monitoring._durations import from_ms
from loopml.monitoring._entities import MonitorRun
from loopml.monitoring._html import _CSS, _charts, _e, _num, _table
from loopml.monitoring._metrics import CLASSIFICATION_METRICS, REGRESSION_METRICS
from loopml.monitoring._report import DriftReport
from loopml.monitoring._spec import Monitor

__all__ = ["line_chart_svg", "render_run_html"]

_W, _H, _L, _T, _B = 760, 200, 56, 26, 34
_COLOURS = ("#0969da", "#bf8700", "#cf222e", "#1a7f37", "#8250df")
_EXTRA_CSS = """
.fail { color: #cf222e; font-weight: 600; } .pass { color: #1a7f37; font-weight: 600; }
.skipped { color: #57606a; } .problems li { color: #9a6700; }
"""

Series = tuple[str, Sequence[tuple[int, float | None]]]


def _when(ms: int) -> str:
    return from_ms(ms).strftime("%Y-%m-%d %H:%M")


def line_chart_svg(
    series: Sequence[Series], *, title: str, unit: str = "", bound: float | None = None
) -> str:
    """Lines over time (x: ms timestamps), gaps where a value is None, and an optional
    dashed horizontal ``bound`` (a threshold)."""
    points = [(t, v) for _, s in series for t, v in s if v is not None]
    if not points:
        return f'<p class="notes">{_e(title)}: no values yet.</p>'
    xs = [t for t, _ in points]
    ys = [v for _, v in points] + ([bound] if bound is not None else [])
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if y1 == y0:
        y0, y1 = y0 - 1 if y0 else -1.0, y1 + 1 if y1 else 1.0
    pw, ph = _W - _L - 10, _H - _T - _B

    def x(t: int) -> float:
        return _L + (pw * (t - x0) / (x1 - x0) if x1 > x0 else pw / 2)

    def y(v: float) -> float:
        return _T + ph - ph * (v - y0) / (y1 - y0)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{_W}" height="{_H}" role="img" '
        f'aria-label="{_e(title)}"><text x="{_L}" y="14" font-size="12" font-weight="600">'
        f"{_e(title)}</text>",
        f'<line x1="{_L}" y1="{_T + ph}" x2="{_W - 10}" y2="{_T + ph}" stroke="#57606a"/>',
        f'<text x="{_L - 4}" y="{_T + 4}" text-anchor="end" font-size="10">{_num(y1, 3)}{unit}'
        f'</text><text x="{_L - 4}" y="{_T + ph}" text-anchor="end" font-size="10">'
        f"{_num(y0, 3)}{unit}</text>",
        f'<text x="{_L}" y="{_H - 8}" font-size="10">{_when(x0)}</text>',
        f'<text x="{_W - 10}" y="{_H - 8}" font-size="10" text-anchor="end">{_when(x1)}</text>',
    ]
    if bound is not None:
        parts.append(
            f'<line x1="{_L}" y1="{y(bound):.1f}" x2="{_W - 10}" y2="{y(bound):.1f}" '
            f'stroke="#cf222e" stroke-dasharray="4 3"><title>threshold {bound:g}'
            "</title></line>"
        )
    for i, (name, values) in enumerate(series):
        colour = _COLOURS[i % len(_COLOURS)]
        runs: list[list[str]] = [[]]
        for t, v in values:
            if v is None:
                runs.append([])
                continue
            runs[-1].append(f"{x(t):.1f},{y(v):.1f}")
            parts.append(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}">'
                f"<title>{_e(name)} {_when(t)}: {v:.4g}{unit}</title></circle>"
            )
        for run in runs:
            if len(run) > 1:
                parts.append(
                    f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" '
                    f'points="{" ".join(run)}"/>'
                )
        lx = _W - 10 - 130 * (len(series) - i)
        parts.append(
            f'<rect x="{lx}" y="5" width="10" height="10" fill="{colour}"/>'
            f'<text x="{lx + 14}" y="14" font-size="11">{_e(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _metric_of(spec: Monitor, runs: Sequence[MonitorRun]) -> str:
    if spec.performance is not None:
        return spec.performance.metric
    task = next(
        (
            r.figures.get("performance", {}).get("task")
            for r in runs
            if r.figures.get("performance", {}).get("task")
        ),
        None,
    )
    return "rmse" if task == "regression" else "f1"


def _trends(spec: Monitor, runs: Sequence[MonitorRun]) -> str:
    ordered = sorted(runs, key=lambda r: r.window_end)

    def series(path: tuple[str, ...]) -> list[tuple[int, float | None]]:
        out = []
        for r in ordered:
            value: Any = r.figures
            for key in path:
                value = value.get(key) if isinstance(value, dict) else None
            out.append((r.window_end, value if isinstance(value, int | float) else None))
        return out

    metric = _metric_of(spec, ordered)
    perf = spec.performance
    bound = None if perf is None else (perf.min if perf.min is not None else perf.max)
    latency = [(f"p{q}", series(("operational", f"latency_p{q}_ms"))) for q in (50, 95, 99)]
    return "".join(
        [
            line_chart_svg(
                [(metric, series(("performance", "metrics", metric)))],
                title=f"{metric} over time",
                bound=bound,
            ),
            line_chart_svg(
                latency,
                title="latency over time",
                unit=" ms",
                bound=spec.operational.max_latency_p95_ms,
            ),
            line_chart_svg(
                [("share drifted", series(("drift", "share_drifted")))],
                title="share of drifted features",
                bound=spec.drift.share,
            ),
            line_chart_svg(
                [("requests/s", series(("operational", "throughput_rps")))], title="throughput"
            ),
        ]
    )


def _rows(pairs: Sequence[tuple[str, str]]) -> str:
    return "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in pairs)


def _performance(figures: dict[str, Any]) -> str:
    perf = figures.get("performance")
    if not perf:
        return '<p class="notes">Not computed.</p>'
    names = REGRESSION_METRICS if perf.get("task") == "regression" else CLASSIFICATION_METRICS
    undefined = perf.get("undefined", {})
    rows = [
        (
            n,
            _num(perf["metrics"].get(n))
            if perf["metrics"].get(n) is not None
            else f'<span class="notes">{_e(undefined.get(n, "-"))}</span>',
        )
        for n in names
    ]
    head = (
        f"<p>{perf.get('n_labelled', 0):,} labelled of {perf.get('n_predictions', 0):,} "
        f"predictions ({_e(perf.get('task') or 'task unknown')}); "
        f"{perf.get('unmatched_labels', 0):,} unmatched labels, "
        f"{perf.get('duplicate_labels', 0):,} replaced by a later one.</p>"
    )
    return head + f"<table>{_rows(rows)}</table>"


def _operations(figures: dict[str, Any]) -> str:
    ops = figures.get("operational") or {}
    shown = [(k, _num(v) if isinstance(v, float) else _e(v)) for k, v in ops.items()]
    return f"<table>{_rows(shown)}</table>"


def render_run_html(
    run: MonitorRun, spec: Monitor, report: DriftReport | None, history: Sequence[MonitorRun]
) -> str:
    """The page for ``run`` (``history``: recent runs, for the trends; ``run`` is added)."""
    title = f"Monitor {spec.name}: run {run.run_id[:12]}"
    start, end = run.window
    checks = "".join(
        f'<tr><th>{_e(name)}</th><td class="{_e(c.get("status"))}">{_e(c.get("status"))}</td>'
        f"<td>{_e(c.get('message'))}</td></tr>"
        for name, c in run.checks.items()
    )
    body = [
        f"<h1>{_e(title)}</h1>",
        f"<p>Endpoint <b>{_e(spec.endpoint)}</b>, reference <b>{_e(spec.reference)}</b>, window "
        f"{start:%Y-%m-%d %H:%M:%S} to {end:%Y-%m-%d %H:%M:%S} UTC. Status <b>{_e(run.status)}"
        f'</b>, verdict <span class="{_e(run.verdict)}">{_e(run.verdict)}</span>.</p>',
        f"<table><thead><tr><th>check</th><th>status</th><th>why</th></tr></thead>{checks}</table>",
    ]
    if run.error:
        body.append(f'<p class="fail">Error: {_e(run.error)}</p>')
    if run.problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in run.problems)
        body.append(f'<h2>Problems</h2><ul class="problems">{items}</ul>')
    body += [
        f"<h2>Performance</h2>{_performance(run.figures)}",
        f"<h2>Operations</h2>{_operations(run.figures)}",
        f"<h2>Over time</h2>{_trends(spec, [*history, run])}",
    ]
    if report is not None:
        body.append(
            f"<h2>Drift</h2><p>{report.num_drifted} of {report.num_tested} features "
            f"drifted ({report.share_drifted:.0%}; the alert fires at "
            f"{spec.drift.share:.0%}).</p>{_table(report.features)}"
        )
        if report.predictions:
            body.append(f"<h3>Predictions</h3>{_table(report.predictions)}")
        body.append(f"<h2>Distributions</h2>{_charts(report.features + report.predictions)}")
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="en"><head><meta charset="utf-8"><title>{_e(title)}</title>'
        f"<style>{_CSS}{_EXTRA_CSS}</style></head><body>" + "".join(body) + "</body></html>\n"
    )
