"""The serving protocols over HTTP: Open Inference Protocol V2 (``/v2``), MLflow scoring
(``/invocations``) and Prometheus (``/metrics``), on one :class:`~loopml.serving.ModelPool`.
"""

from loopml.server.serving._app import create_serving_app

__all__ = ["create_serving_app"]
