"""``loopml pipeline``: run a pipeline with a live progress view, list and show pipeline runs,
expire old cache entries."""

from __future__ import annotations

import importlib
import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.live import Live
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, fmt_time, print_json
from loopml.errors import InvalidInput

__all__ = ["pipeline_app"]

pipeline_app = new_app(
    "Run cached step pipelines locally or on Dask; list and show their runs; expire the cache."
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]

_STYLE = {
    "pending": "dim",
    "running": "cyan",
    "retrying": "yellow",
    "ran": "green",
    "cached": "blue",
    "failed": "bold red",
    "skipped": "dim",
}


def _load_pipeline(target: str) -> Any:
    from loopml.pipeline import Pipeline

    module_name, _, attr = target.partition(":")
    if not module_name or not attr:
        raise InvalidInput(f"{target!r} is not module:attribute (e.g. flows.churn:pipeline)")
    # Like ``python -m``: modules in the current directory are importable.
    if str(Path.cwd()) not in sys.path:
        sys.path.insert(0, str(Path.cwd()))
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise InvalidInput(f"cannot import {module_name!r}: {exc}") from exc
    pipe = getattr(module, attr, None)
    if not isinstance(pipe, Pipeline):
        raise InvalidInput(f"{target} is {type(pipe).__name__}, not a loopml Pipeline")
    return pipe


def _parse_params(items: list[str]) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--param {item!r} is not key=value")
        # JSON where it parses (numbers, booleans, lists), so that n=1000 is the int 1000 the
        # Python API would pass and hits the same cache entries; a plain string otherwise.
        try:
            params[key] = json.loads(raw)
        except ValueError:
            params[key] = raw
    return params


def _steps_table(title: str, states: dict[str, tuple[str, str]]) -> Table:
    table = Table("step", "status", "detail", title=title)
    for name, (status, detail) in states.items():
        table.add_row(name, f"[{_STYLE.get(status, '')}]{status}[/]", detail)
    return table


@pipeline_app.command("run")
def run_cmd(
    target: Annotated[str, typer.Argument(help="The pipeline as module:attribute.")],
    param: Annotated[
        list[str] | None, typer.Option("--param", "-p", help="Override a param: key=value.")
    ] = None,
    executor: Annotated[
        str, typer.Option(help="local | process | dask-local | dask://host:port")
    ] = "local",
    as_json: JsonOption = False,
) -> None:
    """Run a pipeline: cached steps are skipped, the others run on the executor.

    Example: [bold]loopml pipeline run flows.churn:pipeline --param lr=0.2 --executor process[/]
    """
    from loopml.config import load_settings
    from loopml.pipeline import StepEvent

    pipe = _load_pipeline(target)
    params = _parse_params(param or [])
    settings = load_settings()
    if as_json:
        result = pipe.run(params, executor=executor, settings=settings)
        print_json(result.to_dict())
        return
    states: dict[str, tuple[str, str]] = {n: ("pending", "") for n in pipe.order}
    title = f"pipeline {pipe.name} on {executor}"
    with Live(_steps_table(title, states), console=console, transient=False) as live:

        def on_event(event: StepEvent) -> None:
            detail = f"attempt {event.attempt}" if event.attempt > 1 else ""
            states[event.step] = (event.status, event.message or detail)
            live.update(_steps_table(title, states))

        result = pipe.run(params, executor=executor, settings=settings, on_event=on_event)
        for name, step in result.steps.items():
            states[name] = (step.status, f"{step.seconds:.2f}s  {(step.output_hash or '')[:12]}")
        live.update(_steps_table(title, states))
    console.print(f"run [bold]{result.run_id}[/] {result.status} in {result.seconds:.2f}s")


@pipeline_app.command("list")
def list_cmd(
    pipeline: Annotated[str | None, typer.Option(help="Only runs of this pipeline.")] = None,
    max_results: Annotated[int, typer.Option(help="At most this many runs.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """List pipeline runs, newest first.

    Example: [bold]loopml pipeline list --pipeline churn --json[/]
    """
    from loopml.pipeline import list_pipeline_runs

    runs = list_pipeline_runs(pipeline=pipeline, max_results=max_results)
    if as_json:
        print_json([r.to_dict() for r in runs])
        return
    table = Table("run id", "pipeline", "status", "executor", "ran", "cached", "started",
                  title="Pipeline runs")  # fmt: skip
    for r in runs:
        ran, cached = (str(int(r.metrics.get(f"steps_{k}", 0))) for k in ("ran", "cached"))
        table.add_row(r.run_id, r.pipeline, r.status, r.executor, ran, cached,
                      fmt_time(r.start_time))  # fmt: skip
    console.print(table)


@pipeline_app.command("show")
def show_cmd(
    run_id: Annotated[str, typer.Argument(help="A pipeline (parent) run id.")],
    as_json: JsonOption = False,
) -> None:
    """Show a pipeline run: its code version and params, and each step's status, code
    fingerprint, cache key and output hash.

    Example: [bold]loopml pipeline show 3f2a9c0d1e6b4a7f8c9d0e1f2a3b4c5d[/]
    """
    from loopml.pipeline import get_pipeline_run

    run = get_pipeline_run(run_id)
    if as_json:
        print_json(run.to_dict())
        return
    console.print(f"[bold]{run.pipeline}[/] run {run.run_id} {run.status} on {run.executor}, "
                  f"started {fmt_time(run.start_time)}")  # fmt: skip
    console.print(f"pipeline: {run.target or '(not a module attribute)'}")
    if run.git_commit:
        dirty = " [yellow]dirty[/] (diff: artifact _loopml/git.diff)" if run.git_dirty else ""
        console.print(f"code: git {run.git_commit}{dirty}")
    else:
        console.print("code: no git repository")
    if run.params:
        console.print("params: " + ", ".join(f"{k}={v}" for k, v in sorted(run.params.items())))
    table = Table("step", "status", "attempts", "seconds", "code", "cache key", "output",
                  "error")  # fmt: skip
    for s in run.steps:
        seconds = s.get("seconds")
        table.add_row(s["name"], f"[{_STYLE.get(s['status'], '')}]{s['status']}[/]",
                      str(s["attempts"]), "" if seconds is None else f"{seconds:.2f}",
                      (s["code"] or "")[:12], (s["cache_key"] or "")[:12],
                      (s["output_hash"] or "")[:12], s["error"] or "")  # fmt: skip
    console.print(table)


@pipeline_app.command("gc")
def gc_cmd(
    older_than: Annotated[
        str,
        typer.Option(
            "--older-than",
            help="Remove entries no run has stored or reused for this long: a number and "
            "s, m, h, d or w.",
        ),
    ] = "30d",
    pipeline: Annotated[
        str | None, typer.Option(help="Only entries stored by runs of this pipeline.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only report what would be removed.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Expire step cache entries that no run has used since a cutoff.

    Removes cache index entries only: a step whose entry is gone runs again next time.
    Output blobs stay in the artifact store, because a dataset version, a run artifact or
    another cache entry may hold the same bytes; the command reports the bytes that nothing
    known points at any more as reclaimable.

    Example: [bold]loopml pipeline gc --older-than 30d --pipeline churn --dry-run[/]
    """
    from loopml.pipeline import delete_cache_entries

    result = delete_cache_entries(older_than=older_than, pipeline=pipeline, dry_run=dry_run)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("step", "pipeline", "last used", "cache key", "output blob", "bytes",
                  title="Cache entries " + ("to remove" if dry_run else "removed"))  # fmt: skip
    for e in result.entries:
        table.add_row(e.step, e.pipeline or "", fmt_time(e.last_used), e.cache_key[:12],
                      e.blob[:12], str(e.size))  # fmt: skip
    if result.entries:
        console.print(table)
    verb = "would remove" if dry_run else "removed"
    console.print(
        f"{verb} {len(result.entries)} cache entries not used since {fmt_time(result.cutoff)}; "
        f"{result.reclaimable_bytes} bytes in {result.reclaimable_blobs} blobs are reclaimable "
        "(blobs are kept in the artifact store)"
    )
