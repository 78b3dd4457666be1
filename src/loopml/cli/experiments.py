"""``loopml experiments``: list, create and delete experiments."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, fmt_time, print_json
from loopml.client import Client
from loopml.errors import InvalidInput, NotFound
from loopml.tracking import Experiment, ViewType

__all__ = ["experiments_app", "resolve_experiment"]

experiments_app = new_app("Create, list and delete experiments.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]


def resolve_experiment(client: Client, name_or_id: str) -> Experiment:
    """An experiment by name, or by id when no experiment has that name."""
    found = client.get_experiment_by_name(name_or_id)
    if found is not None:
        return found
    if name_or_id.isdigit():
        return client.get_experiment(name_or_id)
    raise NotFound(f"no experiment is named {name_or_id!r}; see `loopml experiments list`")


@experiments_app.command("list")
def list_cmd(
    all_: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List experiments with their run counts.

    Example: [bold]loopml experiments list --json[/]
    """
    client = Client()
    view = ViewType.ALL if all_ else ViewType.ACTIVE_ONLY
    experiments = client.search_experiments(view_type=view, max_results=50_000)
    counts = {
        e.experiment_id: client.service.experiments.count_runs(e.experiment_id) for e in experiments
    }
    if as_json:
        print_json([{**asdict(e), "run_count": counts[e.experiment_id]} for e in experiments])
        return
    table = Table("id", "name", "runs", "created", "stage", title="Experiments")
    for e in experiments:
        stage = "[red]deleted[/]" if e.lifecycle_stage == "deleted" else e.lifecycle_stage
        table.add_row(
            e.experiment_id, e.name, str(counts[e.experiment_id]), fmt_time(e.creation_time), stage
        )
    console.print(table)


@experiments_app.command("create")
def create_cmd(
    name: Annotated[str, typer.Argument(help="A unique experiment name.")],
    tag: Annotated[list[str] | None, typer.Option(help="A tag as key=value; repeatable.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Create an experiment.

    Example: [bold]loopml experiments create churn --tag team=growth[/]
    """
    tags = {}
    for item in tag or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidInput(f"--tag {item!r} is not key=value")
        tags[key] = value
    experiment_id = Client().create_experiment(name, tags=tags)
    if as_json:
        print_json({"experiment_id": experiment_id, "name": name})
    else:
        console.print(f"created experiment [bold]{name}[/] (id {experiment_id})")


@experiments_app.command("delete")
def delete_cmd(
    experiment: Annotated[str, typer.Argument(help="Experiment name or id.")],
    as_json: JsonOption = False,
) -> None:
    """Delete an experiment (soft: its name stays taken until it is restored or renamed).

    Example: [bold]loopml experiments delete churn[/]
    """
    client = Client()
    found = resolve_experiment(client, experiment)
    client.delete_experiment(found.experiment_id)
    if as_json:
        print_json({"experiment_id": found.experiment_id, "name": found.name, "deleted": True})
    else:
        console.print(f"deleted experiment [bold]{found.name}[/] (id {found.experiment_id})")
