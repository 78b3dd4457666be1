"""``loopml models``: registered models, their versions, aliases, approvals, promotion,
archiving, audit log and lineage."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any, cast

import typer
from rich.table import Table
from rich.tree import Tree

from loopml.cli._app import new_app
from loopml.cli._output import console, fmt_time, print_json
from loopml.client import RemoteService, get_client, model_registry
from loopml.data import DatasetCatalog
from loopml.registry import GateFailed, lineage, model_uri, promote
from loopml.tracking import TrackingService

__all__ = ["models_app"]

models_app = new_app("Registered models: versions, aliases, audit log and lineage.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
RefArgument = Annotated[
    str, typer.Argument(help="name@alias, name/3, name (latest) or a models:/ URI.")
]
NameArgument = Annotated[str, typer.Argument(help="Registered model name.")]
VersionOption = Annotated[int, typer.Option("--version", help="The version number.")]
ReasonOption = Annotated[str, typer.Option(help="Why (kept in the audit log).")]
_KEY_METRICS = 4  # metric columns shown by default: the table stays readable


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(asdict(value), default=str))


@models_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """List registered models with their aliases.

    Example: [bold]loopml models list --json[/]
    """
    models = model_registry().search_models(max_results=1000).models
    if as_json:
        print_json([_jsonable(m) for m in models])
        return
    table = Table("model", "aliases", "description", "updated", title="Registered models")
    for m in models:
        aliases = ", ".join(f"{a}→v{v}" for a, v in sorted(m.aliases.items()))
        table.add_row(m.name, aliases, m.description, fmt_time(m.last_updated_timestamp))
    console.print(table)


@models_app.command("show")
def show_cmd(ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show one model version: source, run, stage, aliases, metrics and datasets.

    Example: [bold]loopml models show churn@production[/]
    """
    version = model_registry().resolve(model_uri(ref))
    if as_json:
        print_json(_jsonable(version))
        return
    aliases = ", ".join(version.aliases) or "-"
    console.print(f"[bold]{version.name}[/] version {version.version} ({version.status}, "
                  f"stage {version.current_stage.value}, aliases {aliases})")  # fmt: skip
    console.print(f"source {version.source}  run {version.run_id or '-'}")
    for key, value in sorted(version.metrics.items()):
        console.print(f"  {key} = {value:g}")
    for dataset in version.datasets:
        console.print(f"  trained on {dataset}")


@models_app.command("versions")
def versions_cmd(
    name: NameArgument,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            "-m",
            help="A metric to show as a column (repeatable); default: the "
            f"first {_KEY_METRICS} by name.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List a model's versions, oldest first: status, stage, aliases, source run, when it
    was created and its key metrics.

    Example: [bold]loopml models versions churn --metric auc --metric f1[/]
    """
    versions = model_registry().list_versions(name)
    if as_json:
        print_json([_jsonable(v) for v in versions])
        return
    keys = metric or sorted({k for v in versions for k in v.metrics})[:_KEY_METRICS]
    table = Table("version", "status", "stage", "aliases", "run", "created", *keys,
                  title=f"Versions of {name}")  # fmt: skip
    for v in versions:
        figures = (f"{v.metrics[k]:.4g}" if k in v.metrics else "-" for k in keys)
        table.add_row(str(v.version), v.status, v.current_stage.value, ", ".join(v.aliases),
                      (v.run_id or "-")[:12], fmt_time(v.creation_timestamp), *figures)  # fmt: skip
    console.print(table)
    if not versions:
        console.print(f"{name} has no versions yet")


@models_app.command("alias")
def alias_cmd(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    alias: Annotated[str, typer.Argument(help="Alias to set or move, e.g. champion.")],
    version: Annotated[int, typer.Argument(help="Version the alias points at.")],
    reason: Annotated[str, typer.Option(help="Why (kept in the audit log).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Point NAME@ALIAS at VERSION (moving it if it pointed elsewhere); audited.

    Example: [bold]loopml models alias churn champion 4 --reason "beats v3 on May data"[/]
    """
    registry = model_registry()
    registry.set_alias(name, alias, version, reason=reason or None)
    moved = registry.get_version_by_alias(name, alias)
    if as_json:
        print_json({"name": name, "alias": alias, "version": moved.version})
        return
    console.print(f"{name}@{alias} → version {moved.version}")


@models_app.command("archive")
def archive_cmd(
    name: NameArgument,
    version: VersionOption,
    reason: ReasonOption = "",
    force: Annotated[
        bool, typer.Option(help="Archive even if aliases point at it (they stay in place).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Retire a version: move it to the legacy stage Archived (audited). It stays loadable
    by number.

    A version an alias points at is refused (exit 5), naming the aliases: move them first
    with [bold]loopml models alias[/], or pass --force to archive it anyway; archiving
    never moves an alias, so they keep serving it.

    Example: [bold]loopml models archive churn --version 3 --reason "superseded by v4"[/]
    """
    archived = model_registry().archive_version(name, version, force=force, reason=reason or None)
    if as_json:
        print_json(_jsonable(archived))
        return
    console.print(f"{archived.name} v{archived.version} → {archived.current_stage.value}")
    if archived.aliases:
        served = ", ".join(f"{archived.name}@{a}" for a in archived.aliases)
        console.print(f"[yellow]still served by {served}[/]")


@models_app.command("approve")
def approve_cmd(
    name: NameArgument,
    version: VersionOption,
    reason: Annotated[str, typer.Option(help="What you checked (kept with the approval).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Approve a version as the current user (audited). A promotion policy's
    [bold]approvals: {min: 2}[/] rule counts the distinct users who approved it; approving
    twice counts once.

    Example: [bold]loopml models approve churn --version 4 --reason "read the eval report"[/]
    """
    registry = model_registry()
    approval = registry.approve_version(name, version, reason=reason or None)
    users = [a.user for a in registry.list_approvals(name, version)]
    if as_json:
        print_json({**_jsonable(approval), "approved_by": users})
        return
    console.print(f"{approval.user} approved {approval.name} v{approval.version}; "
                  f"approved by {len(users)}: {', '.join(users)}")  # fmt: skip


@models_app.command("promote")
def promote_cmd(
    name: Annotated[str, typer.Argument(help="Registered model name.")],
    version: Annotated[int, typer.Option("--version", help="The version to promote.")],
    alias: Annotated[str, typer.Option(help="The alias to move, e.g. production.")],
    policy: Annotated[
        Path | None,
        typer.Option(
            help="Promotion policy YAML (metrics, beats_champion, required_tags, approvals...)."
        ),
    ] = None,
    force: Annotated[bool, typer.Option(help="Move the alias even if a gate fails.")] = False,
    reason: Annotated[str, typer.Option(help="Why (required with --force; audited).")] = "",
    as_json: JsonOption = False,
) -> None:
    """Run the promotion gates and, when every rule passes, move NAME@ALIAS to the version.

    A failed gate refuses with a report of each rule's figures (exit 2); --force with a
    --reason overrides, and both are in the audit log.

    Example: [bold]loopml models promote churn --version 4 --alias production --policy gates.yaml[/]
    """
    import loopml

    try:
        report = promote(
            model_registry(), name, version, alias, policy=policy, force=force, reason=reason,
            load_model=loopml.load_model, load_frame=loopml.data.get,
        )  # fmt: skip
    except GateFailed as exc:
        _print_report(exc.details, as_json)
        raise
    _print_report(report.to_dict(), as_json)


def _print_report(report: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(report)
        return
    table = Table("rule", "result", "detail", title=f"Gates for {report['name']} "
                  f"v{report['version']} → @{report['alias']}")  # fmt: skip
    for rule in report["rules"]:
        mark = "[green]pass[/]" if rule["passed"] else "[red]FAIL[/]"
        table.add_row(rule["rule"], mark, rule["detail"])
    console.print(table)
    if report["promoted"]:
        forced = " [yellow](forced)[/]" if report.get("forced") else ""
        console.print(f"{report['name']}@{report['alias']} → v{report['version']}{forced}")


@models_app.command("audit")
def audit_cmd(
    name: Annotated[str | None, typer.Argument(help="Model name; all models if omitted.")] = None,
    limit: Annotated[int, typer.Option(help="Most recent entries to show.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """Show the audit log: who changed what, when, from what to what, and why.

    Example: [bold]loopml models audit churn --limit 20[/]
    """
    entries = model_registry().audit(name, limit=limit)
    if as_json:
        print_json([_jsonable(e) for e in entries])
        return
    table = Table("when", "who", "action", "model", "from", "to", "reason", title="Audit log")
    for e in entries:
        row = _jsonable(e)
        table.add_row(fmt_time(row.get("timestamp", 0)), str(row.get("user", "")),
                      str(row.get("action", "")), str(row.get("name", "")),
                      json.dumps(row.get("before")), json.dumps(row.get("after")),
                      str(row.get("reason") or ""))  # fmt: skip
    console.print(table)


@models_app.command("lineage")
def lineage_cmd(ref: RefArgument, as_json: JsonOption = False) -> None:
    """Show where a model version came from: run, dataset versions, the steps and runs
    that produced them, and the code commits.

    Example: [bold]loopml models lineage churn@production --json[/]
    """
    service = get_client().service
    # Through a server, runs and dataset versions are read from it, as the registry is.
    datasets = (
        service.datasets if isinstance(service, RemoteService) else DatasetCatalog(service.store)
    )
    tree = lineage(model_registry(), cast(TrackingService, service), datasets, ref)
    if as_json:
        print_json(tree)
        return
    root = Tree(f"[bold]{tree['model']}[/] v{tree['version']} "
                f"({', '.join(tree['aliases']) or tree['stage']})  {tree['source']}")  # fmt: skip
    _add_run(root, tree["run"], "trained by")
    for dataset in tree["datasets"]:
        if "missing" in dataset:
            root.add(f"[red]{dataset['ref']}: {dataset['missing']}[/]")
            continue
        node = root.add(f"dataset [bold]{dataset['ref']}[/] {dataset['rows']:,} rows, "
                        f"hash {dataset['hash'][:12]}")  # fmt: skip
        _add_run(node, dataset["produced_by"], f"produced by step {dataset['step']}"
                 if dataset["step"] else "produced by")  # fmt: skip
    console.print(root)


def _add_run(parent: Tree, run: dict[str, Any] | None, label: str) -> None:
    if run is None:
        parent.add(f"[dim]{label}: no run recorded[/]")
        return
    if "missing" in run:
        parent.add(f"[red]{label} run {run['run_id']}: {run['missing']}[/]")
        return
    commit = run.get("git_commit") or "no git commit"
    dirty = " (dirty)" if run.get("git_dirty") else ""
    node = parent.add(f"{label} run [bold]{run['name']}[/] {run['run_id'][:12]} "
                      f"{run['status']}, commit {commit[:12]}{dirty}")  # fmt: skip
    if run.get("pipeline_run"):
        _add_run(node, run["pipeline_run"], "in pipeline run")
