"""``loopml data``: register, list, show, diff, validate and profile datasets."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn
from rich.table import Table

from loopml.cli._app import new_app
from loopml.cli._output import console, err_console, fmt_time, print_json
from loopml.client import get_client
from loopml.data import _api as data_api
from loopml.data._diff import diff_versions
from loopml.data._entities import DatasetVersion
from loopml.data._registry import ValidationFailed

__all__ = ["data_app"]

data_app = new_app("Register, inspect and compare versioned datasets.")
JsonOption = Annotated[bool, typer.Option("--json", help="Print the result as JSON.")]
SchemaOption = Annotated[
    Path | None, typer.Option("--schema", help="A pandera schema YAML to check against.")
]
StreamOption = Annotated[
    bool | None,
    typer.Option(
        "--stream/--no-stream",
        help="Read a Parquet file chunk by chunk in bounded memory "
        "(default: for files of 64 MiB and more).",
    ),
]


def _service() -> Any:
    get_client()  # the client layer's settings apply to datasets too
    return data_api.service()


def _version_json(v: DatasetVersion) -> dict[str, Any]:
    out = asdict(v)
    out["ref"] = v.ref
    return out


@data_app.command("add")
def add_cmd(
    name: Annotated[str, typer.Argument(help="Dataset name.")],
    source: Annotated[str, typer.Argument(help="A CSV / Parquet / JSON-lines path, URL or SQL.")],
    on_invalid: Annotated[
        str, typer.Option(help="fail | quarantine | warn: rows that break the schema.")
    ] = "fail",
    schema: SchemaOption = None,
    sql_url: Annotated[
        str | None, typer.Option(help="SQLAlchemy URL: SOURCE is then a SQL query.")
    ] = None,
    encoding: Annotated[str, typer.Option(help="Text encoding of CSV / JSON files.")] = "utf-8",
    stream: StreamOption = None,
    as_json: JsonOption = False,
) -> None:
    """Register a source as a new version of a dataset (the same content: the same version).

    Example: [bold]loopml data add churn data/churn.csv --on-invalid quarantine[/]
    """
    with Progress(
        SpinnerColumn(), *Progress.get_default_columns(), console=err_console, transient=True
    ) as bar:
        task = bar.add_task(f"reading {source}", total=None)

        def progress(phase: str, done: int, total: int) -> None:
            bar.update(task, description=f"{phase} {source}", completed=done, total=total)

        version = _service().register(
            name,
            source,
            on_invalid=on_invalid,
            schema=schema,
            sql_url=sql_url,
            encoding=encoding,
            stream=stream,
            progress=progress,
        )
    if as_json:
        print_json(_version_json(version))
        return
    console.print(f"registered [bold]{version.ref}[/] {version.num_rows:,} rows x "
                  f"{version.num_columns} columns, hash {version.hash[:12]}")  # fmt: skip
    if version.quarantine:
        console.print(
            f"[yellow]{version.quarantine_rows:,} rows quarantined[/] in {version.quarantine}"
        )


@data_app.command("list")
def list_cmd(as_json: JsonOption = False) -> None:
    """List datasets with their latest version.

    Example: [bold]loopml data list --json[/]
    """
    found = _service().list()
    if as_json:
        print_json([_version_json(v) for v in found])
        return
    table = Table("dataset", "latest", "rows", "columns", "hash", "created", title="Datasets")
    for v in found:
        table.add_row(v.name, str(v.version), f"{v.num_rows:,}", str(v.num_columns),
                      v.hash[:12], fmt_time(v.created))  # fmt: skip
    console.print(table)


@data_app.command("show")
def show_cmd(
    ref: Annotated[str, typer.Argument(help="name, name@3, name@latest or name@<hash prefix>.")],
    schema: Annotated[bool, typer.Option("--schema", help="Print the schema YAML only.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Show a dataset version: source, validation, and per-column profile.

    Example: [bold]loopml data show churn@latest[/]
    """
    v = _service().version(ref)
    if schema:
        typer.echo(v.schema)
        return
    if as_json:
        print_json(_version_json(v))
        return
    console.print(f"[bold]{v.ref}[/]  {v.num_rows:,} rows x {v.num_columns} columns  "
                  f"hash {v.hash}  created {fmt_time(v.created)}")  # fmt: skip
    console.print(f"source: {v.source}")
    if v.quarantine:
        console.print(f"[yellow]{v.quarantine_rows:,} rows quarantined[/] in {v.quarantine}")
    table = Table("column", "dtype", "nulls", "distinct", "mean", "min", "max", title="Profile")
    for name, col in v.profile.get("columns", {}).items():
        table.add_row(name, str(col.get("dtype")), str(col.get("nulls")),
                      str(col.get("distinct")), _num(col.get("mean")), _num(col.get("min")),
                      _num(col.get("max")))  # fmt: skip
    console.print(table)


def _num(x: Any) -> str:
    return f"{x:.4g}" if isinstance(x, int | float) else ("" if x is None else str(x))


@data_app.command("diff")
def diff_cmd(
    a: Annotated[str, typer.Argument(help="The older version, e.g. churn@1.")],
    b: Annotated[str, typer.Argument(help="The newer version, e.g. churn@latest.")],
    as_json: JsonOption = False,
) -> None:
    """Compare two versions' schemas and profiles.

    Example: [bold]loopml data diff churn@1 churn@latest[/]
    """
    service = _service()
    diff = diff_versions(service.version(a), service.version(b))
    if as_json:
        print_json(diff)
        return
    console.print(f"{diff['from']} → {diff['to']}: rows {diff['rows']['delta']:+,}"
                  + ("  (same content)" if diff["same_content"] else ""))  # fmt: skip
    for label, key in (("added", "columns_added"), ("removed", "columns_removed")):
        if diff[key]:
            console.print(f"columns {label}: {', '.join(diff[key])}")
    for col, (x, y) in diff["type_changed"].items():
        console.print(f"[yellow]type changed[/] {col}: {x} → {y}")
    table = Table("column", "statistic", "from", "to", title="Statistics that changed")
    for col, stats in diff["column_stats"].items():
        for stat, change in stats.items():
            table.add_row(col, stat, _num(change["from"]), _num(change["to"]))
    console.print(table)


@data_app.command("validate")
def validate_cmd(
    name: Annotated[str, typer.Argument(help="The dataset whose schema applies.")],
    source: Annotated[str, typer.Argument(help="A CSV / Parquet / JSON-lines path or URL.")],
    schema: SchemaOption = None,
    report: Annotated[Path | None, typer.Option(help="Write the HTML report here.")] = None,
    stream: StreamOption = None,
    as_json: JsonOption = False,
) -> None:
    """Check a source against a dataset's schema without registering it (exit 2 if it fails).

    Example: [bold]loopml data validate churn new.csv --report report.html[/]
    """
    from loopml.data._report import render_html

    result, _ = _service().check(name, source, schema=schema, stream=stream)
    if report is not None:
        report.write_text(render_html(result, title=f"Validation of {source} as {name}"))
    summary = result.to_dict()
    if as_json:
        print_json(summary)
    else:
        state = "[green]ok[/]" if result.ok else "[red]failed[/]"
        console.print(f"{state}: {result.num_invalid:,} of {result.num_rows:,} rows invalid")
        for check in summary.get("checks", []):
            console.print(f"  {check.get('column')}: {check.get('check')} x{check.get('failed')}")
        for error in summary.get("schema_errors", []):
            console.print(f"  [red]{error}[/]")
    if not result.ok:
        raise ValidationFailed(f"{source} does not match the schema of {name}", details=summary)


@data_app.command("profile")
def profile_cmd(
    ref: Annotated[str, typer.Argument(help="A dataset version (name@3) or a data file.")],
    as_json: JsonOption = False,
) -> None:
    """Print the per-column profile of a dataset version or of a file.

    Example: [bold]loopml data profile churn@latest --json[/]
    """
    from loopml.data._profile import profile_table
    from loopml.data._sources import read_source

    if Path(ref).exists() or "://" in ref:
        table, _ = read_source(ref, what=f"file {ref!r}")
        profile = profile_table(table).to_dict()
    else:
        profile = _service().version(ref).profile
    if as_json:
        print_json(profile)
        return
    table_view = Table("column", "kind", "count", "nulls", "distinct", "mean", "std", title=ref)
    for name, col in profile.get("columns", {}).items():
        table_view.add_row(name, str(col.get("kind")), str(col.get("count")),
                           str(col.get("nulls")), str(col.get("distinct")),
                           _num(col.get("mean")), _num(col.get("std")))  # fmt: skip
    console.print(table_view)
