"""The ``loopml`` command line (Typer + rich); every command has ``--help`` and ``--json``."""

from __future__ import annotations

from loopml.cli._app import app
from loopml.cli.data import data_app
from loopml.cli.db import db_app
from loopml.cli.demo import demo_cmd
from loopml.cli.endpoints import endpoints_app
from loopml.cli.experiments import experiments_app
from loopml.cli.feedback import feedback_app
from loopml.cli.models import models_app
from loopml.cli.monitors import monitors_app
from loopml.cli.pipeline import pipeline_app
from loopml.cli.runs import runs_app
from loopml.cli.serve import serve_cmd
from loopml.cli.server import server_cmd

__all__ = ["app", "main"]

app.command("demo")(demo_cmd)
app.command("server")(server_cmd)
app.command("serve")(serve_cmd)
app.add_typer(experiments_app, name="experiments")
app.add_typer(runs_app, name="runs")
app.add_typer(db_app, name="db")
app.add_typer(data_app, name="data")
app.add_typer(pipeline_app, name="pipeline")
app.add_typer(models_app, name="models")
app.add_typer(endpoints_app, name="endpoints")
app.add_typer(monitors_app, name="monitors")
app.add_typer(feedback_app, name="feedback")


def main() -> None:
    """Entry point of the ``loopml`` console script."""
    app()
