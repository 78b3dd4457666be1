"""``loopml server``: serve the tracking store over HTTP (MLflow REST API 2.0)."""

from __future__ import annotations

import os
from typing import Annotated

import typer

from loopml.config import load_settings

__all__ = ["server_cmd"]


def server_cmd(
    host: Annotated[
        str, typer.Option(help="Address to bind; keep 127.0.0.1 unless you add auth.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 5000,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes.")] = 1,
    db_url: Annotated[str | None, typer.Option(help="Metadata store URL (LOOPML_DB_URL).")] = None,
    artifacts: Annotated[
        str | None, typer.Option(help="Artifact store (LOOPML_ARTIFACTS).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
) -> None:
    """Serve experiments and runs over HTTP; MLflow clients work with it unchanged.

    Migrations run at start-up; SIGTERM or Ctrl-C shuts down gracefully (requests in flight
    finish).

    Example: [bold]loopml server --port 5000[/] then
    [bold]MLFLOW_TRACKING_URI=http://127.0.0.1:5000 python train.py[/]
    """
    import uvicorn

    overrides = {k: v for k, v in {"db_url": db_url, "artifacts": artifacts}.items() if v}
    if workers == 1:
        from loopml.server import create_app

        app = create_app(load_settings(**overrides))
        uvicorn.run(app, host=host, port=port, log_level=log_level)
        return
    # Worker processes build their own app: the options reach them as the same LOOPML_*
    # settings a user would export (there is no other channel).
    for key, value in overrides.items():
        os.environ[f"LOOPML_{key.upper()}"] = value
    load_settings()  # fail here, not in every worker, on a bad setting
    uvicorn.run(
        "loopml.server:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
    )
