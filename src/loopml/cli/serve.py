"""``loopml serve``: answer predictions over HTTP (Open Inference Protocol V2, MLflow scoring)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError

from loopml.cli._output import console, print_json
from loopml.config import load_settings
from loopml.errors import InvalidInput

__all__ = ["serve_cmd"]


def _absolute(target: str) -> str:
    # Worker processes may start elsewhere: a local directory is passed on as an absolute path.
    if ":/" not in target and Path(target).exists():
        return str(Path(target).resolve())
    return target


def _overrides(targets: list[str], options: dict[str, Any]) -> dict[str, Any]:
    chosen = {k: v for k, v in options.items() if v is not None}
    return {"serve_targets": [_absolute(t) for t in targets], **chosen}


def _export(overrides: dict[str, Any]) -> None:
    # Worker processes build their own app from LOOPML_* settings, the same a user would
    # export for `uvicorn --factory loopml.server.serving:create_serving_app` (uvicorn gives
    # its workers no other channel).
    for key, value in overrides.items():
        if isinstance(value, list):
            text = json.dumps(value)
        elif isinstance(value, bool):
            text = "true" if value else "false"
        else:
            text = str(value)
        os.environ[f"LOOPML_{key.upper()}"] = text


def _describe(pool: Any, url: str, workers: int, as_json: bool) -> None:
    models = [
        {"name": m.name, "version": m.version, "flavor": m.platform, "source": m.source}
        for endpoint in pool.endpoints
        for m in endpoint.models
    ]
    if as_json:
        print_json({"url": url, "workers": workers, "models": models, "endpoints": pool.status()})
        return
    for endpoint in pool.endpoints:
        status = endpoint.status()
        generation = status["generation"]
        head = f"[green]serving[/] [bold]{endpoint.name}[/]"
        console.print(head + (f" (stored endpoint, generation {generation})" if generation else ""))
        for route, r in zip(endpoint.routes, status["routes"], strict=True):
            share = f"{r['share']:.0%}" if r["share"] else "by version"
            console.print(f"  {route.model.label} ({route.model.platform}) from "
                          f"{route.target or route.model.source}: {share}")  # fmt: skip
        for shadow in status["shadows"]:
            console.print(f"  shadow {shadow['model']}/{shadow['version']} from "
                          f"{shadow['target']}: {shadow['share']:.0%} mirrored")  # fmt: skip
    console.print(
        f"  V2: {url}/v2/models/<name>/infer   MLflow scoring: {url}/invocations   "
        f"feedback: {url}/feedback   metrics: {url}/metrics"
    )


def serve_cmd(
    targets: Annotated[
        list[str],
        typer.Argument(
            help="Endpoint names (loopml endpoints create), model URIs (models:/name@alias, "
            "models:/name/3, runs:/<run_id>/model) or model directories.",
            show_default=False,
        ),
    ],
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port.")] = 8080,
    workers: Annotated[
        int, typer.Option(min=1, help="Worker processes sharing the port; each loads the models.")
    ] = 1,
    allow_pickle: Annotated[
        bool | None,
        typer.Option(
            "--allow-pickle",
            help="Load pickled (pyfunc) weights; they run code: only for models you trust.",
            show_default=False,
        ),
    ] = None,
    backend: Annotated[
        str | None,
        typer.Option(
            help="auto (the default): a scikit-learn model's ONNX export (saved with "
            "onnx=True, checked for agreement) on onnxruntime when it has one, else its own "
            "library; native: always its own library; onnx: the export or an error.",
            show_default=False,
        ),
    ] = None,
    batching: Annotated[
        bool | None,
        typer.Option(
            "--batching/--no-batching",
            help="Coalesce concurrent requests into one predict call (default on).",
            show_default=False,
        ),
    ] = None,
    max_batch_size: Annotated[
        int | None, typer.Option(min=1, help="Most rows per predict call (default 256).")
    ] = None,
    max_wait_ms: Annotated[
        float | None,
        typer.Option(min=0, help="Longest wait for companions, with --threads > 1 (default 2)."),
    ] = None,
    threads: Annotated[
        int | None, typer.Option(min=1, help="Predict threads per model (default 1).")
    ] = None,
    max_body_mb: Annotated[
        float | None, typer.Option(help="Largest request body, 413 above (default 32).")
    ] = None,
    max_rows: Annotated[
        int | None, typer.Option(min=1, help="Most rows per request, 413 above (default 100000).")
    ] = None,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "info",
    access_log: Annotated[bool, typer.Option(help="Log every request (costs throughput).")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what is served as JSON, then serve.")
    ] = False,
) -> None:
    """Serve models over HTTP: Open Inference Protocol V2 at /v2 (KServe, Triton and
    MLServer clients), MLflow's scoring protocol at /invocations, labels at /feedback,
    Prometheus at /metrics.

    A stored endpoint brings its routes, shadows, batching, log sampling and limits; it
    and every models:/ alias are watched, and a change is hot-swapped (LOOPML_SERVE_POLL_S).
    Options override the LOOPML_SERVE_* settings. SIGTERM or Ctrl-C shuts down gracefully,
    flushing the prediction log.

    Example: [bold]loopml serve fraud --port 8080 --workers 2[/] (a stored endpoint) or
    [bold]loopml serve models:/fraud@production[/], then [bold]curl -d '{"dataframe_records":
    [{"amount": 12.5}]}' -H 'Content-Type: application/json' localhost:8080/invocations[/]
    """
    import uvicorn

    if backend not in (None, "native", "onnx", "auto"):
        raise InvalidInput(f"--backend is auto, native or onnx, not {backend!r}")
    options = {
        "serve_allow_pickle": allow_pickle,
        "serve_backend": backend,
        "serve_batching": batching,
        "serve_max_batch_size": max_batch_size,
        "serve_max_wait_ms": max_wait_ms,
        "serve_threads": threads,
        "serve_max_body_mb": max_body_mb,
        "serve_max_rows": max_rows,
    }
    overrides = _overrides(targets, options)
    try:
        settings = load_settings(**overrides)
    except ValidationError as exc:  # a bad option, or a bad LOOPML_* variable
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidInput(f"invalid serving settings: {problems}") from None
    url = f"http://{host}:{port}"
    common: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": log_level,
        "access_log": access_log,
        "ws": "none",  # no websockets: nothing to import, nothing to upgrade to
    }
    if workers == 1:
        from loopml.server.serving import create_serving_app

        app = create_serving_app(settings=settings)
        _describe(app.state.pool, url, workers, as_json)
        uvicorn.run(app, **common)
        return
    from loopml.serving import MULTIPROC_ENV, ModelPool

    # Load every target once here, so that a bad one fails now with its message, not in a
    # crash loop of workers; then the workers load their own copies.
    pool = ModelPool.load(settings.serve_targets, settings=settings, logs=False)
    try:
        _describe(pool, url, workers, as_json)
    finally:
        pool.close()
    _export(overrides)
    # Each worker keeps its metrics in files here, so that /metrics (whichever worker
    # answers) sums them all; prometheus-client reads the variable when the worker imports
    # it, so it is set before the workers start.
    own = MULTIPROC_ENV not in os.environ
    if own:
        os.environ[MULTIPROC_ENV] = tempfile.mkdtemp(prefix="loopml-metrics-")
    try:
        uvicorn.run(
            "loopml.server.serving:create_serving_app", factory=True, workers=workers, **common
        )
    finally:
        if own:
            shutil.rmtree(os.environ.pop(MULTIPROC_ENV), ignore_errors=True)
