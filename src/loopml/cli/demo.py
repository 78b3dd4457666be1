"""``loopml demo``: the whole loop on the embedded store, with progress and a summary."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from loopml.cli._output import console, print_json
from loopml.config import load_settings
from loopml.errors import InvalidInput

__all__ = ["demo_cmd"]

_STEPS = 7


def demo_cmd(
    seed: Annotated[int, typer.Option(help="Seed for the data, the split and the models.")] = 42,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Run the whole loop on the embedded store (LOOPML_HOME), in about a minute:

    register and validate a dataset (bad rows quarantined), train and register a model,
    promote it through gates, serve it over HTTP on 127.0.0.1, replay production traffic
    in which the world drifts and labels arrive late, detect the drift and the performance
    drop, retrain, evaluate challenger against champion on the same labelled data, promote
    the winner, hot-swap it into the running server, and summarise (before / after metrics,
    drift scores, versions, timings, the HTML report).

    Example: [bold]LOOPML_HOME=/tmp/ml loopml demo --seed 7[/] then
    [bold]loopml models lineage demo-fraud@production[/]
    """
    from loopml.cli._demo_loop import run_demo

    settings = load_settings()
    if settings.is_remote:
        raise InvalidInput(
            "loopml demo runs the loop on the embedded store: unset LOOPML_TRACKING_URI "
            "(and LOOPML_DB_URL), or point LOOPML_HOME at a scratch directory"
        )
    # Fast polls and flushes, so the loop is seen closing within the demo's minute.
    settings = settings.model_copy(update={"serve_poll_s": 0.5, "serve_log_flush_s": 0.5})
    started = time.perf_counter()
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                  TimeElapsedColumn(), console=console, transient=True,
                  disable=as_json) as progress:  # fmt: skip
        task = progress.add_task("starting", total=_STEPS)

        def step(name: str) -> None:
            if progress.tasks[0].description != "starting":
                progress.advance(task)
            progress.update(task, description=name)

        result = run_demo(settings, seed=seed, step=step)
        progress.advance(task)
    result.timings["total"] = round(time.perf_counter() - started, 2)
    if as_json:
        print_json(result.to_dict())
        return
    table = Table("phase", "rows", "answered by", "F1", "fraud rate",
                  title="loopml demo: the loop closed")  # fmt: skip
    for phase in result.phases:
        answered = ", ".join(f"{v} ({n} req)" for v, n in phase["versions"].items())
        table.add_row(phase["phase"], f"{phase['rows']:,}", answered, f"{phase['f1']:.3f}",
                      f"{phase['fraud_rate']:.1%}")  # fmt: skip
    console.print(table)
    retrain = result.retrain
    figures = retrain.get("figures", {})
    new, old = (figures.get(k, float("nan")) for k in ("challenger", "champion"))
    console.print(
        f"drift: {result.drift.get('verdict')} — drifted features "
        f"{', '.join(result.drift.get('drifted', [])) or 'none'} "
        f"(share {result.drift.get('share') or 0:.0%}); {result.quarantined} bad rows quarantined"
    )
    console.print(
        f"retrain: v{retrain.get('version')} {retrain.get('status')} over "
        f"v{retrain.get('champion_version')}: macro F1 on the same held-out labelled rows "
        f"{new:.3f} vs {old:.3f}"
    )
    console.print("timings (s): " + ", ".join(f"{k} {v}" for k, v in result.timings.items()))
    console.print(f"report: [bold]{result.report}[/]")
    console.print("Next: [bold]loopml models lineage demo-fraud@production[/], "
                  "[bold]loopml monitors show demo-fraud[/]")  # fmt: skip
