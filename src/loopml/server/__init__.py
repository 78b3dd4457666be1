"""``loopml server``: the tracking store over HTTP, speaking the MLflow REST API."""

from loopml.server._app import create_app

__all__ = ["create_app"]
