"""The ``loopml`` command: a Typer app whose group turns loopml errors into exit codes."""

from __future__ import annotations

from typing import Any

import typer
from typer.core import TyperGroup

from loopml.cli._output import render_error
from loopml.errors import LoopMLError

__all__ = ["app", "new_app"]


class _Group(TyperGroup):
    """Catches every :class:`LoopMLError` of every subcommand in one place."""

    def invoke(self, ctx: Any) -> Any:  # typer vendors click; its Context is private
        try:
            return super().invoke(ctx)
        except LoopMLError as error:
            render_error(error)
            ctx.exit(error.exit_code)


def new_app(help_text: str) -> typer.Typer:
    """A Typer (sub)app with loopml's defaults."""
    return typer.Typer(
        help=help_text,
        cls=_Group,
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        rich_markup_mode="rich",
        context_settings={"help_option_names": ["-h", "--help"]},
    )


app = new_app(
    "loopml: data, experiments, registry, serving and monitoring, closed as a loop.\n\n"
    "Settings come from LOOPML_* environment variables (LOOPML_HOME, LOOPML_DB_URL, "
    "LOOPML_ARTIFACTS, LOOPML_TRACKING_URI).\n\n"
    "Example: [bold]loopml demo[/] then [bold]loopml runs list --experiment loopml-demo[/]"
)
