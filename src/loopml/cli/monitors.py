"""``loopml monitors``: drift, performance and operations of an endpoint, on a schedule."""

from __future__ import annotations

import contextlib
import signal
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, err_console, fmt_time, print_json
from loopml.config import load_settings
from loopml.errors import InvalidInput
from loopml.monitoring import (
    Monitor,
    MonitorRun,
    MonitorScheduler,
    MonitorService,
    StoredMonitor,
    load_monitor_spec,
)

__all__ = ["monitors_app"]

monitors_app = new_app(
    "Monitors: drift against the reference dataset, performance from labelled feedback and "
    "operational figures of an endpoint, on a schedule, with alerts and a retrain hook."
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
NameArgument = Annotated[str, typer.Argument(help="Monitor name.")]
FileOption = Annotated[Path | None, typer.Option("--file", "-f", help="A monitor YAML file.")]
_BLOCKS = "▁▂▃▄▅▆▇█"


def _handler() -> Any:
    # The retrain block's pipeline is run by loopml's own handler unless the process
    # installed another (loopml.monitoring.set_retrain_handler).
    from loopml.client import pipeline_retrain_handler
    from loopml.monitoring import get_retrain_handler

    return get_retrain_handler() or pipeline_retrain_handler


def _service() -> MonitorService:
    return MonitorService.from_settings(load_settings(), retrain_handler=_handler())


def _split(values: list[str] | None) -> list[str] | None:
    if not values:
        return None
    return [v.strip() for value in values for v in value.split(",") if v.strip()]


def _overrides(raw: dict[str, Any], options: dict[str, Any]) -> dict[str, Any]:
    """Apply the command line's options (None: not given) onto a spec's dict."""
    top = ("reference", "reference_prediction", "task", "window", "every", "enabled")
    for key in top:
        if options.get(key) is not None:
            raw[key] = options[key]
    if options.get("features"):
        raw["features"] = options["features"]
    drift = dict(raw.get("drift") or {})
    for key, option in (("share", "drift_threshold"), ("method", "drift_method")):
        if options.get(option) is not None:
            drift[key] = options[option]
    raw["drift"] = drift
    perf_keys = {"metric": "metric", "min": "min", "max": "max", "min_labelled": "min_labelled",
                 "label_delay": "label_delay"}  # fmt: skip
    if any(options.get(o) is not None for o in perf_keys.values()):
        perf = dict(raw.get("performance") or {})
        perf.update({k: options[o] for k, o in perf_keys.items() if options.get(o) is not None})
        raw["performance"] = perf
    ops = dict(raw.get("operational") or {})
    for key in ("max_error_rate", "max_latency_p95_ms", "max_latency_p99_ms"):
        if options.get(key) is not None:
            ops[key] = options[key]
    raw["operational"] = ops
    if options.get("alert"):
        raw["alerts"] = options["alert"]
    retrain_keys = {"pipeline": "retrain", "policy": "retrain_policy",
                    "cooldown": "retrain_cooldown"}  # fmt: skip
    if any(options.get(o) is not None for o in retrain_keys.values()):
        block = dict(raw.get("retrain") or {})
        block.update({k: options[o] for k, o in retrain_keys.items() if options.get(o) is not None})
        raw["retrain"] = block
    return raw


def _options(**kwargs: Any) -> dict[str, Any]:
    kwargs["features"] = _split(kwargs.get("features"))
    return kwargs


# The options of create and update, declared once.
Reference = Annotated[
    str | None, typer.Option("--reference", "-r", help="Reference dataset version (name@3).")
]
Features = Annotated[
    list[str] | None,
    typer.Option("--features", help="Features to compare (comma-separated or repeated)."),
]
RefPrediction = Annotated[
    str | None, typer.Option(help="The reference's column of model predictions.")
]
Task = Annotated[str | None, typer.Option(help="classification or regression (default: infer).")]
DriftThreshold = Annotated[
    float | None, typer.Option(help="Alert when this share of features drifted (0.5).")
]
DriftMethod = Annotated[str | None, typer.Option(help="auto, ks, chisquare, psi, wasserstein...")]
Metric = Annotated[str | None, typer.Option(help="f1, accuracy, roc_auc, rmse, mae, r2...")]
Min = Annotated[float | None, typer.Option("--min", help="Alert when the metric falls below.")]
Max = Annotated[float | None, typer.Option("--max", help="Alert when an error rises above.")]
MinLabelled = Annotated[int | None, typer.Option(help="Labelled rows needed to judge (30).")]
LabelDelay = Annotated[str | None, typer.Option(help="Judge the window this long ago (1d).")]
MaxErrorRate = Annotated[float | None, typer.Option(help="Alert above this error rate.")]
MaxP95 = Annotated[float | None, typer.Option("--max-latency-p95", help="Alert above (ms).")]
MaxP99 = Annotated[float | None, typer.Option("--max-latency-p99", help="Alert above (ms).")]
Window = Annotated[str | None, typer.Option(help="The judged window (1h).")]
Every = Annotated[str | None, typer.Option(help="How often it runs on schedule (5m).")]
Alert = Annotated[
    list[str] | None, typer.Option("--alert", help="log or webhook:URL (repeatable).")
]
Retrain = Annotated[
    str | None, typer.Option("--retrain", help="Pipeline to retrain with (module:attr or path).")
]
RetrainPolicy = Annotated[str | None, typer.Option(help="gates, canary or approval.")]
RetrainCooldown = Annotated[str | None, typer.Option(help="No second trigger sooner (1h).")]


@monitors_app.command("create")
def create_cmd(
    endpoint: Annotated[str | None, typer.Argument(help="The endpoint to watch.")] = None,
    name: Annotated[str | None, typer.Option("--name", "-n", help="Default: the endpoint.")] = None,
    file: FileOption = None, reference: Reference = None, features: Features = None,
    reference_prediction: RefPrediction = None, task: Task = None,
    drift_threshold: DriftThreshold = None, drift_method: DriftMethod = None, metric: Metric = None,
    min: Min = None, max: Max = None, min_labelled: MinLabelled = None,
    label_delay: LabelDelay = None, max_error_rate: MaxErrorRate = None,
    max_latency_p95_ms: MaxP95 = None, max_latency_p99_ms: MaxP99 = None, window: Window = None,
    every: Every = None, alert: Alert = None, retrain: Retrain = None,
    retrain_policy: RetrainPolicy = None, retrain_cooldown: RetrainCooldown = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Create a monitor (from options, or a YAML file that options override).

    Example: [bold]loopml monitors create fraud --reference fraud-train@3 --metric f1 --min 0.85
    --window 1h --every 5m --alert webhook:https://hooks.example.com/x --retrain flows:fraud[/]
    or [bold]loopml monitors create -f monitor.yaml[/]
    """
    raw: dict[str, Any] = load_monitor_spec(file).to_dict() if file is not None else {}
    if endpoint is not None:
        raw["endpoint"] = endpoint
    if name is not None or "name" not in raw:
        raw["name"] = name or raw.get("endpoint")
    options = _options(**{k: v for k, v in locals().items() if k not in ("raw", "file")})
    spec = Monitor.parse(_overrides(raw, options))
    _show(_service().create(spec), [], as_json)


@monitors_app.command("update")
def update_cmd(
    name: NameArgument, file: FileOption = None, reference: Reference = None,
    features: Features = None, reference_prediction: RefPrediction = None, task: Task = None,
    drift_threshold: DriftThreshold = None, drift_method: DriftMethod = None, metric: Metric = None,
    min: Min = None, max: Max = None, min_labelled: MinLabelled = None,
    label_delay: LabelDelay = None, max_error_rate: MaxErrorRate = None,
    max_latency_p95_ms: MaxP95 = None, max_latency_p99_ms: MaxP99 = None, window: Window = None,
    every: Every = None, alert: Alert = None, retrain: Retrain = None,
    retrain_policy: RetrainPolicy = None, retrain_cooldown: RetrainCooldown = None,
    enabled: Annotated[bool | None, typer.Option("--enable/--disable",
                                                 help="Run on schedule or not.")] = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Change a monitor: a YAML file replaces its spec; options change single fields.

    Example: [bold]loopml monitors update fraud --min 0.8 --every 10m[/]
    """
    service = _service()
    current = service.get(name)
    raw = load_monitor_spec(file, name=name).to_dict() if file else current.spec.to_dict()
    options = _options(**{k: v for k, v in locals().items()
                          if k not in ("raw", "file", "service", "current")})  # fmt: skip
    _show(service.update(Monitor.parse(_overrides(raw, options))), [], as_json)


def _spark(values: list[float | None]) -> str:
    known = [v for v in values if v is not None]
    if not known:
        return ""
    low, high = min(known), max(known)
    span = (high - low) or 1.0
    return "".join(" " if v is None else _BLOCKS[round((v - low) / span * 7)] for v in values)


def _figure(run: MonitorRun, *path: str) -> float | None:
    value: Any = run.figures
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None, pattern: str = "{:.3g}") -> str:
    return "-" if value is None else pattern.format(value)


def _metric_name(spec: Monitor, runs: list[MonitorRun]) -> str:
    if spec.performance is not None:
        return spec.performance.metric
    tasks = {(r.figures.get("performance") or {}).get("task") for r in runs}
    return "rmse" if "regression" in tasks else "f1"


def _show(stored: StoredMonitor, runs: list[MonitorRun], as_json: bool) -> None:
    if as_json:
        print_json({**stored.to_dict(), "runs": [r.to_dict() for r in runs]})
        return
    spec = stored.spec
    perf = spec.performance
    bound = ""
    if perf is not None:
        bound = f", {perf.metric} " + (f">= {perf.min:g}" if perf.min is not None else "")
        bound += f"<= {perf.max:g}" if perf.max is not None else ""
    console.print(
        f"[bold]{spec.name}[/] on endpoint [bold]{spec.endpoint}[/] vs {spec.reference}: window "
        f"{spec.window} every {spec.every}{'' if spec.enabled else ' (disabled)'}; drift at "
        f"{spec.drift.share:.0%} of features{bound}; alerts "
        f"{', '.join(a.label for a in spec.alerts) or 'none'}"
        + (f"; retrain {spec.retrain.pipeline} ({spec.retrain.policy})" if spec.retrain else ""),
        highlight=False,
    )
    if not runs:
        console.print(f"next run {fmt_time(stored.next_run_at)}; no runs yet")
        return
    metric = _metric_name(spec, runs)
    oldest_first = list(reversed(runs))
    trends = Table("trend (oldest → newest)", "", "latest", title=f"{len(runs)} recent runs")
    for label, path, pattern in (
        (metric, ("performance", "metrics", metric), "{:.3g}"),
        ("drift share", ("drift", "share_drifted"), "{:.0%}"),
        ("latency p95 ms", ("operational", "latency_p95_ms"), "{:.1f}"),
        ("error rate", ("operational", "error_rate"), "{:.1%}"),
        ("requests/s", ("operational", "throughput_rps"), "{:.3g}"),
    ):
        values = [_figure(r, *path) for r in oldest_first]
        trends.add_row(label, _spark(values), _fmt(values[-1], pattern))
    console.print(trends)
    table = Table("window end", "status", "verdict", "drift", "performance", "operational",
                  "rows", "labelled")  # fmt: skip
    for r in runs:
        checks = [r.checks.get(k, {}).get("status", "-") for k in
                  ("drift", "performance", "operational")]  # fmt: skip
        colours = [{"fail": "red", "pass": "green"}.get(c, "dim") for c in checks]
        table.add_row(fmt_time(r.window_end), r.status, r.verdict,
                      *(f"[{c}]{s}[/]" for c, s in zip(colours, checks, strict=True)),
                      f"{r.rows:,}", f"{r.labelled:,}")  # fmt: skip
    console.print(table)


@monitors_app.command("show")
def show_cmd(
    name: NameArgument,
    runs: Annotated[int, typer.Option(min=1, max=1000, help="Recent runs shown.")] = 20,
    html: Annotated[
        Path | None, typer.Option(help="Write the latest run's HTML report here.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Show a monitor and the trend over its recent runs.

    Example: [bold]loopml monitors show fraud --runs 50[/]  or
    [bold]loopml monitors show fraud --html report.html --json[/]
    """
    service = _service()
    stored, recent = service.get(name), service.runs(name, limit=runs)
    if html is not None:
        if not recent:
            raise InvalidInput(f"monitor {name!r} has no run yet: nothing to write")
        html.write_text(service.report_html(recent[0].run_id), encoding="utf-8")
        err_console.print(f"wrote {html}")
    _show(stored, recent, as_json)


@monitors_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """List monitors with their latest run.

    Example: [bold]loopml monitors list --json[/]
    """
    service = _service()
    monitors = service.list()
    latest = {r.monitor: r for r in service.latest_runs()}
    if as_json:
        print_json([{**m.to_dict(), "latest_run": latest[m.name].to_dict() if m.name in latest
                     else None} for m in monitors])  # fmt: skip
        return
    table = Table("monitor", "endpoint", "reference", "every", "latest window", "verdict",
                  "next run", title="Monitors")  # fmt: skip
    for m in monitors:
        run = latest.get(m.name)
        table.add_row(m.name, m.spec.endpoint, m.spec.reference, m.spec.every,
                      fmt_time(run.window_end) if run else "-", run.verdict if run else "-",
                      fmt_time(m.next_run_at) if m.spec.enabled else "disabled")  # fmt: skip
    console.print(table)


@monitors_app.command("delete")
def delete_cmd(name: NameArgument, as_json: JsonOption = False) -> None:
    """Delete a monitor with its runs and alerts.

    Example: [bold]loopml monitors delete fraud[/]
    """
    _service().delete(name)
    if as_json:
        print_json({"deleted": name})
    else:
        console.print(f"deleted monitor {name}")


def _print_run(run: MonitorRun) -> None:
    colour = {"fail": "red", "pass": "green", "error": "red"}.get(run.verdict, "yellow")
    start, end = run.window
    console.print(f"[bold]{run.monitor}[/] run {run.run_id[:12]}: [{colour}]{run.verdict}[/] "
                  f"({run.status}), window {start:%Y-%m-%d %H:%M} to {end:%H:%M} UTC, "
                  f"{run.rows:,} rows, {run.labelled:,} labelled")  # fmt: skip
    if run.error:
        console.print(f"[red]error[/]: {run.error}", highlight=False)
    table = Table("check", "status", "why")
    for check, c in run.checks.items():
        table.add_row(check, c["status"], c["message"])
    if run.checks:
        console.print(table)
    perf = run.figures.get("performance") or {}
    shown = {k: v for k, v in (perf.get("metrics") or {}).items() if v is not None}
    if shown:
        console.print("performance: " + ", ".join(f"{k} {v:.4g}" for k, v in shown.items()))
    ops = run.figures.get("operational") or {}
    if ops.get("requests"):
        console.print(f"operations: {ops['requests']:,} requests, {ops['throughput_rps']:.3g}/s, "
                      f"error rate {ops['error_rate']:.1%}, latency p50/p95/p99 "
                      f"{ops['latency_p50_ms']:.1f}/{ops['latency_p95_ms']:.1f}/"
                      f"{ops['latency_p99_ms']:.1f} ms")  # fmt: skip
    for problem in run.problems:
        console.print(f"[yellow]problem[/]: {problem}", highlight=False)
    for alert in run.alerts:
        sinks = ", ".join(f"{s} {d['status']}" for s, d in alert.deliveries.items())
        console.print(f"[red]alert[/] {alert.kind}: {alert.message} ({sinks})", highlight=False)
    console.print(f"report: {run.report_path or run.report_sha256}", highlight=False)


@monitors_app.command("run")
def run_cmd(
    name: NameArgument,
    now: Annotated[
        datetime | None, typer.Option(help="End of the window (UTC), to judge the past.")
    ] = None,
    wait: Annotated[
        float, typer.Option(min=0, help="Seconds to wait for a run of it in progress.")
    ] = 30.0,
    as_json: JsonOption = False,
) -> None:
    """Run a monitor once now: its verdict, figures, alerts and the HTML report's path.

    Exits 1 when the run itself failed (status error), 0 otherwise (whatever the verdict).

    Example: [bold]loopml monitors run fraud[/]  or  [bold]loopml monitors run fraud --json[/]
    """
    service = _service()
    when = None if now is None else now if now.tzinfo else now.replace(tzinfo=UTC)
    try:
        spinner = err_console.status(f"running monitor {name}")
        with contextlib.nullcontext() if as_json else spinner:
            run = service.run(name, now=when, wait_s=wait)
    finally:
        service.close()  # webhook deliveries finish (or give up) before the process exits
    if as_json:
        print_json(run.to_dict())
    else:
        _print_run(run)
    if run.status == "error":
        raise typer.Exit(1)


@monitors_app.command("serve")
def serve_cmd(
    poll: Annotated[float | None, typer.Option(help="Seconds between looks for due runs.")] = None,
    once: Annotated[bool, typer.Option(help="Run what is due now, then exit.")] = False,
    metrics_port: Annotated[
        int | None, typer.Option(help="Serve the monitors' Prometheus /metrics on this port.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Run due monitors on their schedule until stopped (Ctrl-C or SIGTERM).

    Any number of these (and of ``loopml server``) may share a store: each due run is made
    by exactly one.

    Example: [bold]loopml monitors serve --poll 15 --metrics-port 9108[/]
    """
    from loopml.monitoring import MonitorMetrics

    settings = load_settings()
    metrics = MonitorMetrics()
    service = MonitorService.from_settings(settings, metrics=metrics, retrain_handler=_handler())

    def show(run: MonitorRun) -> None:
        print_json(run.to_dict()) if as_json else _print_run(run)

    scheduler = MonitorScheduler(service, poll_s=poll or settings.monitors_poll_s, on_run=show)
    if metrics_port is not None:
        from prometheus_client import start_http_server

        start_http_server(metrics_port, addr="127.0.0.1", registry=metrics.registry)
    try:
        if once:
            scheduler.run_due()
            return
        signal.signal(signal.SIGTERM, lambda *_: scheduler.stop(timeout=0))
        err_console.print(f"running due monitors every {scheduler.poll_s:g} s (Ctrl-C stops)")
        scheduler.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        service.close()
