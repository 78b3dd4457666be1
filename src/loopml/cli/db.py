"""``loopml db``: the metadata store's schema."""

from __future__ import annotations

from typing import Annotated

import typer

from loopml.cli._app import new_app
from loopml.cli._output import console, print_json
from loopml.config import load_settings
from loopml.errors import InvalidInput
from loopml.store import Store, head_revision, upgrade

__all__ = ["db_app"]

db_app = new_app("Manage the metadata store's schema.")


@db_app.command("upgrade")
def upgrade_cmd(
    db_url: Annotated[
        str | None, typer.Option(help="Database URL; default LOOPML_DB_URL or the embedded store.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Apply every pending migration (the server and client also do this on start).

    Example: [bold]LOOPML_DB_URL=postgresql+psycopg://ml@db/loopml loopml db upgrade[/]
    """
    settings = load_settings()
    if settings.is_remote and not db_url:
        raise InvalidInput(
            f"LOOPML_TRACKING_URI={settings.tracking_uri} names a server, which migrates its "
            "own store when it starts; to upgrade a store directly, give --db-url"
        )
    url = db_url or settings.resolved_db_url()
    store = Store(url, sqlite_synchronous=settings.sqlite_synchronous)
    try:
        before, after = upgrade(store)
    finally:
        store.dispose()
    if as_json:
        print_json({"db_url": _safe(url), "from": before, "to": after, "head": head_revision()})
    elif before == after:
        console.print(f"[green]up to date[/] at revision {after} ({_safe(url)})")
    else:
        console.print(f"[green]upgraded[/] {before or 'empty'} → {after} ({_safe(url)})")


def _safe(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
