"""``loopml endpoints``: stored serving configurations, their history and rollback."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, fmt_time, print_json
from loopml.client import RemoteService, get_client
from loopml.errors import InvalidInput
from loopml.serving import (
    EndpointSpec,
    EndpointStore,
    StoredEndpoint,
    k8s_manifests,
    load_endpoint_spec,
)

__all__ = ["endpoints_app"]

endpoints_app = new_app(
    "Serving endpoints: routes (model URI + weight), shadows, batching, log sampling, limits. "
    "Every change is a new generation; replicas swap to it while serving."
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
NameArgument = Annotated[str, typer.Argument(help="Endpoint name.")]
FileOption = Annotated[
    Path | None, typer.Option("--file", "-f", help="A YAML file with the endpoint's fields.")
]
ModelOption = Annotated[
    list[str] | None,
    typer.Option("--model", "-m", help="A route's model URI (repeat for several routes)."),
]
WeightOption = Annotated[
    list[float] | None,
    typer.Option("--weight", "-w", help="Each --model's weight, in the same order."),
]
ShadowOption = Annotated[
    list[str] | None, typer.Option("--shadow", help="A model URI that gets mirrored traffic.")
]
ReasonOption = Annotated[str | None, typer.Option(help="Why (kept with the generation).")]


def _endpoints() -> EndpointStore:
    service = get_client().service
    if isinstance(service, RemoteService):
        raise InvalidInput(
            "endpoints are read from the store by every replica: point LOOPML_DB_URL (and "
            "LOOPML_ARTIFACTS) at the shared store instead of LOOPML_TRACKING_URI"
        )
    return EndpointStore(service.store)


def _spec(
    name: str, file: Path | None, models: list[str] | None, weights: list[float] | None,
    shadows: list[str] | None,
) -> EndpointSpec:  # fmt: skip
    if file is not None:
        raw: dict[str, Any] = load_endpoint_spec(file, name=name).to_dict()
    elif models:
        raw = {"name": name}
    else:
        raise InvalidInput("give the routes: --model URI (and --weight), or --file endpoint.yaml")
    if models:
        weights = weights or [1.0] * len(models)
        if len(weights) != len(models):
            raise InvalidInput(f"{len(models)} --model but {len(weights)} --weight: give one each")
        raw["routes"] = [{"model": m, "weight": w} for m, w in zip(models, weights, strict=True)]
    if shadows:
        raw["shadows"] = [{"model": s} for s in shadows]
    return EndpointSpec.parse(raw)


def _show(stored: StoredEndpoint, as_json: bool) -> None:
    if as_json:
        print_json(stored.to_dict())
        return
    spec = stored.spec
    console.print(f"[bold]{spec.name}[/] generation {stored.generation} "
                  f"({fmt_time(stored.timestamp)} by {stored.user})")  # fmt: skip
    total = sum(r.weight for r in spec.routes)
    table = Table("route", "model", "traffic")
    for i, route in enumerate(spec.routes, 1):
        table.add_row(str(i), route.model, f"{route.weight / total:.0%}")
    for shadow in spec.shadows:
        table.add_row("shadow", shadow.model, f"{shadow.share:.0%} mirrored")
    console.print(table)
    b = spec.batching
    batching = f"on (max {b.max_batch_size} rows, {b.max_wait_ms:g} ms)" if b.enabled else "off"
    console.print(f"batching {batching}, logging {spec.logging.sample:.0%} of requests")
    if spec.sticky is not None:
        where = (
            f"header {spec.sticky.header}" if spec.sticky.header else f"field {spec.sticky.field}"
        )
        console.print(f"sticky by {where}")
    limits = spec.limits
    if limits.max_rows is not None or limits.max_body_mb is not None:
        console.print(f"limits: {limits.max_rows or 'default'} rows, "
                      f"{limits.max_body_mb or 'default'} MB per request")  # fmt: skip


@endpoints_app.command("create")
def create_cmd(
    name: NameArgument, file: FileOption = None, model: ModelOption = None,
    weight: WeightOption = None, shadow: ShadowOption = None, reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Create an endpoint (generation 1).

    Example: [bold]loopml endpoints create fraud -m models:/fraud@champion -w 90
    -m models:/fraud@challenger -w 10[/]  or  [bold]loopml endpoints create fraud -f fraud.yaml[/]
    """
    stored = _endpoints().create(_spec(name, file, model, weight, shadow), reason=reason)
    _show(stored, as_json)


@endpoints_app.command("update")
def update_cmd(
    name: NameArgument, file: FileOption = None, model: ModelOption = None,
    weight: WeightOption = None, shadow: ShadowOption = None, reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:  # fmt: skip
    """Store a new generation of an endpoint; serving replicas swap to it.

    Example: [bold]loopml endpoints update fraud -m models:/fraud@champion --reason "end canary"[/]
    """
    stored = _endpoints().update(_spec(name, file, model, weight, shadow), reason=reason)
    _show(stored, as_json)


@endpoints_app.command("rollback")
def rollback_cmd(
    name: NameArgument,
    to: Annotated[int | None, typer.Option(help="The generation to go back to.")] = None,
    reason: ReasonOption = None,
    as_json: JsonOption = False,
) -> None:
    """Make an earlier generation current again (as a new generation).

    Example: [bold]loopml endpoints rollback fraud[/]  (to the generation before the current)
    """
    _show(_endpoints().rollback(name, to=to, reason=reason), as_json)


@endpoints_app.command("show")
def show_cmd(
    name: NameArgument,
    history: Annotated[bool, typer.Option(help="Every generation, newest first.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show an endpoint's configuration (or its history).

    Example: [bold]loopml endpoints show fraud --history --json[/]
    """
    endpoints = _endpoints()
    if not history:
        _show(endpoints.get(name), as_json)
        return
    past = endpoints.history(name)
    if as_json:
        print_json([s.to_dict() for s in past])
        return
    table = Table("generation", "when", "by", "routes", "reason", title=f"{name}: history")
    for s in past:
        routes = ", ".join(f"{r.model} ({r.weight:g})" for r in s.spec.routes)
        table.add_row(str(s.generation), fmt_time(s.timestamp), s.user, routes, s.reason or "")
    console.print(table)


@endpoints_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """List endpoints with their current routes.

    Example: [bold]loopml endpoints list --json[/]
    """
    found = _endpoints().list()
    if as_json:
        print_json([s.to_dict() for s in found])
        return
    table = Table("endpoint", "generation", "routes", "shadows", "updated", title="Endpoints")
    for s in found:
        routes = ", ".join(f"{r.model} ({r.weight:g})" for r in s.spec.routes)
        shadows = ", ".join(x.model for x in s.spec.shadows)
        table.add_row(s.name, str(s.generation), routes, shadows, fmt_time(s.timestamp))
    console.print(table)


@endpoints_app.command("delete")
def delete_cmd(name: NameArgument, as_json: JsonOption = False) -> None:
    """Delete an endpoint and its history.

    Example: [bold]loopml endpoints delete fraud[/]
    """
    _endpoints().delete(name)
    if as_json:
        print_json({"deleted": name})
    else:
        console.print(f"deleted endpoint {name}")


@endpoints_app.command("export")
def export_cmd(
    name: NameArgument,
    format: Annotated[str, typer.Option("--format", help="Only k8s for now.")] = "k8s",
    image: Annotated[str, typer.Option(help="Container image with loopml.")] = "loopml:latest",
    replicas: Annotated[int, typer.Option(min=1)] = 2,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes per pod.")] = 1,
    secret: Annotated[str, typer.Option(help="Secret with LOOPML_DB_URL etc.")] = "loopml-store",
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Write a Kubernetes Deployment + Service for an endpoint.

    Example: [bold]loopml endpoints export fraud --format k8s --replicas 3 -o fraud.yaml[/]
    """
    if format != "k8s":
        raise InvalidInput(f"--format {format!r} is not supported; use k8s")
    text = k8s_manifests(_endpoints().get(name), image=image, replicas=replicas,
                         workers=workers, secret=secret)  # fmt: skip
    if output is None:
        typer.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        console.print(f"wrote {output}")
