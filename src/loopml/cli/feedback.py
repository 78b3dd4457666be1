"""``loopml feedback``: ground-truth labels for served predictions, from files."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from loopml.cli._app import new_app
from loopml.cli._output import console, err_console, print_json
from loopml.config import load_settings
from loopml.serving import import_feedback

__all__ = ["feedback_app"]

feedback_app = new_app(
    "Ground truth for served predictions, joined to them by request id (and row) by "
    "monitoring. Servers take labels at POST /feedback; files go through here."
)


FileArgument = Annotated[
    Path, typer.Argument(help="A .csv or .parquet file: request_id, label[, row].")
]
EndpointOption = Annotated[
    str, typer.Option("--endpoint", "-e", help="The endpoint the labels are for.")
]


@feedback_app.command("import")
def import_cmd(
    file: FileArgument,
    endpoint: EndpointOption,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Record the labels of a file in the feedback log of the store's artifacts (where
    loopml serve writes predictions). Every row is checked before any is written.

    Example: [bold]loopml feedback import labels.parquet --endpoint fraud[/]
    """
    settings = load_settings()
    columns = (SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
               TextColumn("{task.completed:,} rows"), TimeElapsedColumn())  # fmt: skip
    with Progress(*columns, console=err_console, transient=True, disable=as_json) as bar:
        task = bar.add_task("checking", total=None)

        def progress(done: int, total: int | None, phase: str) -> None:
            bar.update(task, completed=done, total=total, description=phase)

        summary = import_feedback(file, endpoint=endpoint, settings=settings, progress=progress)
    if as_json:
        print_json(summary.to_dict())
    else:
        console.print(f"recorded {summary.rows:,} labels for [bold]{summary.endpoint}[/] "
                      f"under {summary.log}")  # fmt: skip
