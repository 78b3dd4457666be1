"""``loopml runs``: list, show, compare and delete runs."""

from __future__ import annotations

import math
from dataclasses import asdict
from typing import Annotated, Any

import typer
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, fmt_time, print_json
from loopml.cli.experiments import resolve_experiment
from loopml.client import Client
from loopml.errors import InvalidInput
from loopml.tracking import DEFAULT_EXPERIMENT_ID, Run

__all__ = ["runs_app"]

runs_app = new_app("List, inspect, compare and delete runs.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
_SYSTEM_PREFIXES = ("mlflow.", "loopml.")


def _run_json(run: Run) -> dict[str, Any]:
    info = asdict(run.info)
    info["status"] = run.info.status.value
    return {"info": info, "data": asdict(run.data)}


def _fmt(value: float) -> str:
    if math.isnan(value) or math.isinf(value):
        return str(value)
    return f"{value:.6g}"


def _duration(run: Run) -> str:
    if run.info.end_time is None:
        return "running"
    return f"{(run.info.end_time - run.info.start_time) / 1000:.1f}s"


@runs_app.command("list")
def list_cmd(
    experiment: Annotated[
        str | None,
        typer.Option("--experiment", "-e", help="Experiment name or id (default: Default)."),
    ] = None,
    filter_string: Annotated[
        str,
        typer.Option(
            "--filter", "-f", help="Filter, e.g. \"metrics.acc > 0.9 and params.model = 'rf'\"."
        ),
    ] = "",
    order_by: Annotated[
        list[str] | None,
        typer.Option("--order-by", "-o", help="e.g. 'metrics.acc DESC'; repeatable."),
    ] = None,
    max_results: Annotated[int, typer.Option(help="At most this many runs.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """List runs of an experiment, filtered and ordered with the search grammar.

    Example: [bold]loopml runs list -e churn -f "metrics.auc > 0.8 or params.model = 'rf'"
    -o "metrics.auc DESC"[/]
    """
    client = Client()
    experiment_id = (
        resolve_experiment(client, experiment).experiment_id
        if experiment
        else DEFAULT_EXPERIMENT_ID
    )
    page = client.search_runs(
        [experiment_id], filter_string, max_results=max_results, order_by=order_by
    )
    if as_json:
        print_json(
            {"runs": [_run_json(r) for r in page.runs], "next_page_token": page.next_page_token}
        )
        return
    # As many metric columns as the terminal has room for; `runs show` has them all.
    room = max(1, (console.width - 62) // 11)
    metric_keys = sorted({k for r in page.runs for k in r.data.metrics})[:room]
    table = Table(
        "run id",
        "name",
        "status",
        "started",
        "duration",
        *metric_keys,
        title=f"Runs ({len(page.runs)})",
    )
    for r in page.runs:
        table.add_row(
            r.info.run_id[:8],
            r.info.run_name,
            r.info.status.value,
            fmt_time(r.info.start_time),
            _duration(r),
            *(_fmt(r.data.metrics[k]) if k in r.data.metrics else "" for k in metric_keys),
        )
    console.print(table)


@runs_app.command("show")
def show_cmd(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a run: attributes, params, latest metrics, tags and artifacts.

    Example: [bold]loopml runs show 3f2a9c...[/]
    """
    client = Client()
    run = client.get_run(run_id)
    artifacts = client.service.artifacts.list(run_id, "")
    if as_json:
        print_json({**_run_json(run), "artifacts": [asdict(a) for a in artifacts]})
        return
    info = run.info
    head = Table.grid(padding=(0, 2))
    for label, value in (
        ("run", f"{info.run_name} ({info.run_id})"),
        ("experiment", info.experiment_id),
        ("status", info.status.value),
        ("started", fmt_time(info.start_time)),
        ("duration", _duration(run)),
        ("parent", info.parent_run_id or ""),
        ("git commit", run.data.tags.get("loopml.git.commit", "")),
        ("seed", run.data.tags.get("loopml.seed", "")),
    ):
        if value:
            head.add_row(f"[bold]{label}[/]", value)
    console.print(head)
    for title, items in (
        ("Params", run.data.params),
        ("Metrics (latest)", {k: _fmt(v) for k, v in run.data.metrics.items()}),
        ("Tags", {k: v for k, v in run.data.tags.items() if not k.startswith(_SYSTEM_PREFIXES)}),
    ):
        if items:
            table = Table("key", "value", title=title, title_justify="left")
            for key in sorted(items):
                table.add_row(key, str(items[key]))
            console.print(table)
    if artifacts:
        table = Table("path", "size", title="Artifacts", title_justify="left")
        for a in artifacts:
            table.add_row(a.path + ("/" if a.is_dir else ""), "" if a.is_dir else str(a.file_size))
        console.print(table)


@runs_app.command("compare")
def compare_cmd(
    run_ids: Annotated[
        list[str], typer.Argument(help="Two or more run ids; the first is the baseline.")
    ],
    as_json: JsonOption = False,
) -> None:
    """Compare runs: params side by side, metrics with their delta to the first run.

    Example: [bold]loopml runs compare 3f2a9c... 81be07...[/]
    """
    if len(run_ids) < 2:
        raise InvalidInput("give at least two run ids to compare")
    client = Client()
    runs = [client.get_run(r) for r in run_ids]
    base = runs[0]
    param_keys = sorted({k for r in runs for k in r.data.params})
    metric_keys = sorted({k for r in runs for k in r.data.metrics})
    deltas: dict[str, list[float | None]] = {}
    for key in metric_keys:
        b = base.data.metrics.get(key)
        deltas[key] = [
            None if b is None or key not in r.data.metrics else r.data.metrics[key] - b
            for r in runs
        ]
    if as_json:
        print_json(
            {
                "runs": [r.info.run_id for r in runs],
                "params": {k: [r.data.params.get(k) for r in runs] for k in param_keys},
                "metrics": {k: [r.data.metrics.get(k) for r in runs] for k in metric_keys},
                "metric_deltas": deltas,
                "params_differ": [
                    k for k in param_keys if len({r.data.params.get(k) for r in runs}) > 1
                ],
            }
        )
        return
    names = [f"{r.info.run_name}\n{r.info.run_id[:8]}" for r in runs]
    params = Table("param", *names, title="Params", title_justify="left")
    for key in param_keys:
        values = [r.data.params.get(key, "") for r in runs]
        style = "bold yellow" if len(set(values)) > 1 else None
        params.add_row(key, *values, style=style)
    console.print(params)
    metrics = Table("metric", *names, title="Metrics (Δ vs first run)", title_justify="left")
    for key in metric_keys:
        cells = []
        for r, delta in zip(runs, deltas[key], strict=True):
            value = r.data.metrics.get(key)
            if value is None:
                cells.append("")
            elif r is base or delta is None or delta == 0:
                cells.append(_fmt(value))
            else:
                color = "green" if delta > 0 else "red"
                cells.append(f"{_fmt(value)} [{color}]({delta:+.4g})[/]")
        metrics.add_row(key, *cells)
    console.print(metrics)


@runs_app.command("delete")
def delete_cmd(
    run_id: Annotated[str, typer.Argument(help="The run's id.")],
    as_json: JsonOption = False,
) -> None:
    """Delete a run (soft: `runs list` hides it; its data stays until garbage-collected).

    Example: [bold]loopml runs delete 3f2a9c...[/]
    """
    Client().delete_run(run_id)
    if as_json:
        print_json({"run_id": run_id, "deleted": True})
    else:
        console.print(f"deleted run {run_id}")
